// The engine's event log: every module publishes lifecycle changes here; GET /events streams
// them. Keeps a bounded backlog so `since` can replay recent history.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/base/json.hpp"
#include "engine/base/query.hpp"

namespace ctl::events {

struct Event {
    std::string type;    // container, image, network, volume, daemon
    std::string action;  // create, start, die, pull, ...
    std::string actor_id;
    std::map<std::string, std::string> attributes;
    std::string scope = "local";
    int64_t time_nano = 0;  // filled by publish() when 0
};

// The API 1.41 shape, with the legacy status/id/from fields for containers and images.
Json to_json(const Event& e);
// Docker's event filters: type, container, image, event, label, network, volume, daemon, scope.
bool matches(const Event& e, const Filters& filters);
const std::set<std::string>& filter_keys();

class EventBus {
public:
    explicit EventBus(size_t backlog = 4096) : backlog_limit_(backlog) {}
    void publish(Event e);
    // The callback returns false to unsubscribe. It runs on the publisher's thread: keep it short.
    using Callback = std::function<bool(const Event&)>;
    // Subscribes and first replays backlog events with time in [since_nano, until_nano] (no gap,
    // no duplicate: both happen under one lock). since_nano < 0: no replay.
    uint64_t subscribe(int64_t since_nano, int64_t until_nano, Callback cb);
    void unsubscribe(uint64_t id);
    std::vector<Event> history(int64_t since_nano, int64_t until_nano) const;
    size_t listeners() const;

private:
    mutable std::mutex mutex_;
    std::deque<Event> backlog_;
    size_t backlog_limit_;
    std::map<uint64_t, Callback> subscribers_;
    uint64_t next_id_ = 1;
};

}  // namespace ctl::events
