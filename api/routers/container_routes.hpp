// /containers/*, /exec/*: the container lifecycle, logs, attach and exec.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/router.hpp"
#include "api/streams.hpp"

namespace ctl::api {

struct LogsOptions {
    bool stdout_stream = false;
    bool stderr_stream = false;
    bool follow = false;
    bool timestamps = false;
    int64_t since_ns = 0;   // 0 = from the start
    int64_t until_ns = 0;   // 0 = no end
    int64_t tail = -1;      // -1 = all
};

struct AttachOptions {
    bool stream = true;
    bool logs = false;
    bool stdin_stream = false;
    bool stdout_stream = false;
    bool stderr_stream = false;
    std::string detach_keys;
};

// A stats stream's consumer. `send` queues one JSON line without blocking (a line is dropped when
// the client is slow) and returns false once the client is gone; `gone` says the same without
// sending; `end` closes the stream.
struct StatsWriter {
    std::function<bool(const std::string& line)> send;
    std::function<bool()> gone;
    std::function<void()> end;
};

struct CommitOptions {
    std::string container, repo, tag, comment, author;
    bool pause = true;
    std::vector<std::string> changes;  // Dockerfile instructions (CMD, ENV, ...)
    Json config;                       // the optional Config body; null when absent
};

// What the container routes need from the engine. Everything may block (it runs on workers).
class ContainerBackend {
public:
    virtual ~ContainerBackend() = default;
    // `body` is the create request (Config fields at the top level, HostConfig, NetworkingConfig).
    virtual Result<Json> create_container(const std::string& name, const Json& body) = 0;  // {"Id","Warnings"}
    virtual Status start_container(const std::string& name) = 0;                           // NotModified = 304
    virtual Status stop_container(const std::string& name, std::optional<int64_t> timeout,
                                  const std::string& signal) = 0;                           // NotModified = 304
    virtual Status restart_container(const std::string& name, std::optional<int64_t> timeout) = 0;
    virtual Status kill_container(const std::string& name, const std::string& signal) = 0;
    virtual Status pause_container(const std::string& name) = 0;
    virtual Status unpause_container(const std::string& name) = 0;
    // Checks the container and registers the waiter; the returned function blocks until the
    // condition is met (or `gone()` says the client left) and returns the wait body.
    virtual Result<std::function<Json(const std::function<bool()>& gone)>> wait_container(
        const std::string& name, const std::string& condition) = 0;
    virtual Status remove_container(const std::string& name, bool force, bool remove_volumes) = 0;
    virtual Status rename_container(const std::string& name, const std::string& new_name) = 0;
    virtual Result<Json> list_containers(bool all, int64_t limit, bool size, const Filters& filters) = 0;
    virtual Result<Json> inspect_container(const std::string& name, bool size) = 0;
    virtual Result<Json> prune_containers(const Filters& filters) = 0;
    virtual Status resize_container(const std::string& name, int height, int width) = 0;
    virtual Result<Json> top_container(const std::string& name, const std::string& ps_args) = 0;
    // Logs: checks the container, then `write` is called from the returned producer. The bool
    // says whether the container has a TTY (raw stream) or not (multiplexed frames).
    virtual Result<bool> logs_tty(const std::string& name) = 0;
    virtual Status logs(const std::string& name, const LogsOptions& options,
                        const std::function<bool(const std::string&)>& sink,
                        const std::function<bool()>& gone) = 0;
    // Attach: validated before the upgrade; then run on the hijacked connection.
    virtual Result<bool> attach_check(const std::string& name) = 0;  // returns Tty
    virtual void attach(const std::string& name, const AttachOptions& options, HijackedConnection conn) = 0;

    virtual Result<Json> create_exec(const std::string& name, const Json& body) = 0;  // {"Id"}
    // Detached: starts and returns. Otherwise validated here, then run on the hijacked connection.
    virtual Status start_exec_detached(const std::string& exec_id, const Json& body) = 0;
    virtual Result<bool> exec_check(const std::string& exec_id, const Json& body) = 0;  // returns Tty
    virtual void start_exec_attached(const std::string& exec_id, const Json& body, HijackedConnection conn) = 0;
    virtual Result<Json> inspect_exec(const std::string& exec_id) = 0;
    virtual Status resize_exec(const std::string& exec_id, int height, int width) = 0;

    // Stats. One StatsJSON document; unless `one_shot` it waits for a second reading (about half
    // a second) so precpu_stats is filled. A stopped container gives Docker's zeroed document.
    virtual Result<Json> stats_once(const std::string& name, bool one_shot) = 0;
    // Checks the container; the returned function hands the writer to the engine, which sends a
    // document about once a second from its own thread, and returns at once.
    virtual Result<std::function<void(StatsWriter)>> stats_stream(const std::string& name) = 0;

    // Archive (docker cp), on running and stopped containers. `path` is a container path.
    // The X-Docker-Container-Path-Stat value: base64 of {"name","size","mode","mtime","linkTarget"}.
    virtual Result<std::string> archive_stat(const std::string& name, const std::string& path) = 0;
    virtual Status archive_get(const std::string& name, const std::string& path,
                               const std::function<Status(const char*, size_t)>& sink) = 0;
    virtual Status archive_put(const std::string& name, const std::string& path, bool no_overwrite_dir_non_dir,
                               ReadFn body) = 0;
    // Checks the container before a stream starts (export: 404 as a normal error).
    virtual Status export_check(const std::string& name) = 0;
    virtual Status export_container(const std::string& name, const std::function<Status(const char*, size_t)>& sink) = 0;
    virtual Result<Json> container_changes(const std::string& name) = 0;  // [{"Path","Kind"}]
    virtual Result<Json> commit_container(const CommitOptions& options) = 0;  // {"Id"}
};

void register_container_routes(Router& router, ContainerBackend& backend);

}  // namespace ctl::api
