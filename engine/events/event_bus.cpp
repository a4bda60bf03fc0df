#include "engine/events/event_bus.hpp"

#include "engine/base/util.hpp"

namespace ctl::events {

Json to_json(const Event& e) {
    Json attrs = Json::object();
    for (auto& [k, v] : e.attributes) attrs[k] = v;
    Json out = {{"Type", e.type},
                {"Action", e.action},
                {"Actor", {{"ID", e.actor_id}, {"Attributes", attrs}}},
                {"scope", e.scope},
                {"time", e.time_nano / 1000000000},
                {"timeNano", e.time_nano}};
    if (e.type == "container" || e.type == "image") {
        out["status"] = e.action;
        out["id"] = e.actor_id;
        auto image = e.attributes.find("image");
        if (image != e.attributes.end()) out["from"] = image->second;
    }
    return out;
}

const std::set<std::string>& filter_keys() {
    static const std::set<std::string> keys = {"type",  "container", "image",  "event", "label", "network",
                                               "volume", "daemon",   "scope", "plugin", "node", "service",
                                               "secret", "config"};
    return keys;
}

static bool actor_matches(const Event& e, const std::vector<std::string>& wanted) {
    auto name = e.attributes.find("name");
    for (const auto& w : wanted) {
        if (w == e.actor_id || (!w.empty() && starts_with(e.actor_id, w))) return true;
        if (name != e.attributes.end() && name->second == w) return true;
    }
    return false;
}

bool matches(const Event& e, const Filters& f) {
    if (!f.match_any("type", e.type)) return false;
    if (!f.match_any("scope", e.scope)) return false;
    if (f.has("event")) {
        bool any = false;
        for (const auto& w : f.get("event")) {
            // "health_status" matches "health_status: healthy" like Docker.
            if (w == e.action || starts_with(e.action, w + ":")) any = true;
        }
        if (!any) return false;
    }
    for (const char* key : {"container", "network", "volume", "daemon"}) {
        if (f.has(key) && (e.type != key || !actor_matches(e, f.get(key)))) return false;
    }
    if (f.has("image")) {
        bool any = false;
        auto image = e.attributes.find("image");
        for (const auto& w : f.get("image")) {
            if (e.type == "image" && actor_matches(e, {w})) any = true;
            if (image != e.attributes.end() && (image->second == w || image->second == w + ":latest")) any = true;
        }
        if (!any) return false;
    }
    return f.match_labels(e.attributes);
}

void EventBus::publish(Event e) {
    if (e.time_nano == 0) e.time_nano = now_unix_nanos();
    std::vector<std::pair<uint64_t, Callback>> targets;
    {
        std::lock_guard lock(mutex_);
        backlog_.push_back(e);
        if (backlog_.size() > backlog_limit_) backlog_.pop_front();
        targets.assign(subscribers_.begin(), subscribers_.end());
    }
    for (auto& [id, cb] : targets) {
        if (!cb(e)) unsubscribe(id);
    }
}

uint64_t EventBus::subscribe(int64_t since_nano, int64_t until_nano, Callback cb) {
    std::lock_guard lock(mutex_);
    if (since_nano >= 0) {
        for (const auto& e : backlog_) {
            if (e.time_nano >= since_nano && (until_nano < 0 || e.time_nano <= until_nano)) {
                if (!cb(e)) return 0;
            }
        }
    }
    uint64_t id = next_id_++;
    subscribers_.emplace(id, std::move(cb));
    return id;
}

void EventBus::unsubscribe(uint64_t id) {
    std::lock_guard lock(mutex_);
    subscribers_.erase(id);
}

std::vector<Event> EventBus::history(int64_t since_nano, int64_t until_nano) const {
    std::lock_guard lock(mutex_);
    std::vector<Event> out;
    for (const auto& e : backlog_) {
        if (e.time_nano >= since_nano && (until_nano < 0 || e.time_nano <= until_nano)) out.push_back(e);
    }
    return out;
}

size_t EventBus::listeners() const {
    std::lock_guard lock(mutex_);
    return subscribers_.size();
}

}  // namespace ctl::events
