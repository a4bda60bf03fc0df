// A container's record: what was asked at create (Config, HostConfig), what the engine decided
// (paths, runtime, rootfs layer) and its state. Persisted as one JSON document per container.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/base/json.hpp"
#include "engine/base/result.hpp"
#include "engine/base/util.hpp"

namespace ctl::container {

struct State {
    std::string status = "created";  // created|running|paused|restarting|removing|exited|dead
    bool running = false;
    bool paused = false;
    bool restarting = false;
    bool oom_killed = false;
    bool dead = false;
    int pid = 0;
    int exit_code = 0;
    std::string error;
    std::string started_at = std::string(kZeroTime);
    std::string finished_at = std::string(kZeroTime);
    int shim_pid = 0;
    Json health;  // null without a healthcheck; {Status, FailingStreak, Log}
};

struct Container {
    std::string id;
    std::string name;  // with the leading "/"
    std::string created;  // RFC3339 with a fixed 9-digit fraction (compose sorts the string)
    std::string image_id;
    Json config = Json::object();       // container Config, image defaults merged in
    Json host_config = Json::object();  // HostConfig as sent, defaults filled where absent
    Json networking = Json::object();   // NetworkingConfig.EndpointsConfig as sent
    std::string path;
    std::vector<std::string> args;
    std::string driver;
    std::string runtime;
    std::string rw_layer;  // graph driver id of the writable layer
    std::string image_top_layer;  // graph driver id the writable layer stands on ("" for none)
    std::string log_path, hostname_path, hosts_path, resolv_conf_path;
    Json mounts = Json::array();  // inspect's Mounts
    // What to mount at start: [{Type, Source (host path), Destination, Name, ReadOnly,
    // Propagation, NoCopy, Options (tmpfs)}], resolved at create.
    Json mount_plan = Json::array();
    State state;
    int restart_count = 0;
    bool has_been_started = false;
    bool manually_stopped = false;  // unless-stopped and the restart manager honor it

    Json to_record() const;
    static Result<Container> from_record(const Json& record);

    std::string short_id() const { return id.substr(0, 12); }
    std::string bare_name() const { return name.empty() ? name : name.substr(1); }
    // "Up 2 minutes", "Exited (0) 3 seconds ago", "Created", with "(Paused)"/"(healthy)".
    std::string status_text(int64_t now_unix) const;
    std::string command_text() const;
};

}  // namespace ctl::container
