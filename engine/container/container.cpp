#include "engine/container/container.hpp"

namespace ctl::container {

namespace {

Json state_json(const State& s) {
    return {{"status", s.status},       {"running", s.running},       {"paused", s.paused},
            {"restarting", s.restarting}, {"oom_killed", s.oom_killed}, {"dead", s.dead},
            {"pid", s.pid},             {"exit_code", s.exit_code},   {"error", s.error},
            {"started_at", s.started_at}, {"finished_at", s.finished_at}, {"shim_pid", s.shim_pid},
            {"health", s.health}};
}

State state_from(const Json& j) {
    State s;
    s.status = string_or(j, "status", "created");
    s.running = bool_or(j, "running", false);
    s.paused = bool_or(j, "paused", false);
    s.restarting = bool_or(j, "restarting", false);
    s.oom_killed = bool_or(j, "oom_killed", false);
    s.dead = bool_or(j, "dead", false);
    s.pid = static_cast<int>(int_or(j, "pid", 0));
    s.exit_code = static_cast<int>(int_or(j, "exit_code", 0));
    s.error = string_or(j, "error", "");
    s.started_at = string_or(j, "started_at", std::string(kZeroTime));
    s.finished_at = string_or(j, "finished_at", std::string(kZeroTime));
    s.shim_pid = static_cast<int>(int_or(j, "shim_pid", 0));
    if (j.contains("health")) s.health = j["health"];
    return s;
}

}  // namespace

Json Container::to_record() const {
    return {{"id", id},
            {"name", name},
            {"created", created},
            {"image_id", image_id},
            {"config", config},
            {"host_config", host_config},
            {"networking", networking},
            {"path", path},
            {"args", args},
            {"driver", driver},
            {"runtime", runtime},
            {"rw_layer", rw_layer},
            {"image_top_layer", image_top_layer},
            {"log_path", log_path},
            {"hostname_path", hostname_path},
            {"hosts_path", hosts_path},
            {"resolv_conf_path", resolv_conf_path},
            {"mounts", mounts},
            {"mount_plan", mount_plan},
            {"state", state_json(state)},
            {"restart_count", restart_count},
            {"has_been_started", has_been_started},
            {"manually_stopped", manually_stopped}};
}

Result<Container> Container::from_record(const Json& r) {
    if (!r.is_object() || !r.contains("id")) return make_error(Errc::Internal, "corrupt container record");
    Container c;
    c.id = string_or(r, "id", "");
    c.name = string_or(r, "name", "");
    c.created = string_or(r, "created", "");
    c.image_id = string_or(r, "image_id", "");
    if (r.contains("config")) c.config = r["config"];
    if (r.contains("host_config")) c.host_config = r["host_config"];
    if (r.contains("networking")) c.networking = r["networking"];
    c.path = string_or(r, "path", "");
    if (r.contains("args") && r["args"].is_array()) c.args = r["args"].get<std::vector<std::string>>();
    c.driver = string_or(r, "driver", "");
    c.runtime = string_or(r, "runtime", "");
    c.rw_layer = string_or(r, "rw_layer", "");
    c.image_top_layer = string_or(r, "image_top_layer", "");
    c.log_path = string_or(r, "log_path", "");
    c.hostname_path = string_or(r, "hostname_path", "");
    c.hosts_path = string_or(r, "hosts_path", "");
    c.resolv_conf_path = string_or(r, "resolv_conf_path", "");
    if (r.contains("mounts")) c.mounts = r["mounts"];
    if (r.contains("mount_plan")) c.mount_plan = r["mount_plan"];
    if (r.contains("state")) c.state = state_from(r["state"]);
    c.restart_count = static_cast<int>(int_or(r, "restart_count", 0));
    c.has_been_started = bool_or(r, "has_been_started", false);
    c.manually_stopped = bool_or(r, "manually_stopped", false);
    return c;
}

std::string Container::status_text(int64_t now_unix) const {
    auto since = [&](const std::string& t) {
        int64_t ns = parse_timestamp(t);
        return ns < 0 ? 0 : std::max<int64_t>(0, now_unix - ns / 1000000000);
    };
    if (state.status == "removing") return "Removal In Progress";
    if (state.dead) return "Dead";
    if (state.restarting) {
        return "Restarting (" + std::to_string(state.exit_code) + ") " + human_duration(since(state.finished_at)) + " ago";
    }
    if (state.running) {
        std::string out = "Up " + human_duration(since(state.started_at));
        if (state.paused) out += " (Paused)";
        if (state.health.is_object()) {
            std::string h = string_or(state.health, "Status", "");
            if (h == "starting") out += " (health: starting)";
            else if (!h.empty()) out += " (" + h + ")";
        }
        return out;
    }
    if (state.started_at == kZeroTime) return "Created";
    return "Exited (" + std::to_string(state.exit_code) + ") " + human_duration(since(state.finished_at)) + " ago";
}

std::string Container::command_text() const {
    std::string out = path;
    for (const auto& a : args) {
        out += " ";
        // Docker quotes nothing here; it joins path and args with spaces.
        out += a;
    }
    return out;
}

}  // namespace ctl::container
