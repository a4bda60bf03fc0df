// The container lifecycle: records in the store, rootfs from the graph driver, OCI bundles from
// the spec builder, one ctl-shim per running container (and per exec) that owns its stdio and
// outlives ctld, exits observed through pidfds, restart policies, logs, attach and exec.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/routers/container_routes.hpp"
#include "engine/container/container.hpp"
#include "engine/container/runtime/runtime.hpp"
#include "engine/container/stats.hpp"
#include "engine/events/event_bus.hpp"
#include "engine/image/image_service.hpp"
#include "engine/store/store.hpp"
#include "graphdriver/graph_driver.hpp"
#include "netdriver/network_service.hpp"
#include "volumes/volume_service.hpp"

namespace ctl::container {

// A blocking connection to one of a shim's sockets (attach.sock, control.sock), or -1. Handles
// paths longer than sun_path, which exec state dirs under a deep exec root reach.
int connect_shim_socket(const std::string& path);

struct ServiceOptions {
    std::string data_root;       // containers/<id>/ (logs, hostname, hosts, resolv.conf)
    std::string exec_root;       // containers/<id>/ (bundle, shim state, sockets)
    std::string shim_binary;     // ctl-shim
    std::vector<runtime::RuntimeInfo> runtimes;  // working runtimes, preferred first
    std::string default_runtime;                 // empty = the first of `runtimes`
    uint64_t nofile_hard_limit = 1048576;
};

class ContainerService : public api::ContainerBackend {
public:
    ContainerService(store::Store& store, graph::GraphDriver& driver, image::ImageService& images,
                     volumes::VolumeService& volumes, net::NetworkService& networks, events::EventBus& bus,
                     ServiceOptions options);
    ~ContainerService() override;
    // For network connect/disconnect: who the container is and how to record its networks.
    Result<net::ContainerRef> network_ref(const std::string& name_or_id);
    // Containers the store records as running (before init(): the network service keeps their
    // endpoints when it reconciles).
    std::set<std::string> recorded_running();

    // Loads the records and reconciles them with what still runs (live restore): running
    // containers whose shim is alive are watched again, the others get their recorded exit.
    Status init();
    // Stops watching (containers keep running under their shims).
    void shutdown();
    // The writable layers of containers that outlive this ctld (running or paused): the
    // storage driver keeps them mounted at shutdown.
    std::vector<std::string> mounted_layers();

    std::vector<std::string> containers_using_image(const std::string& image_id);
    void contribute_info(Json& info);
    void contribute_df(Json& df);

    // api::ContainerBackend
    Result<Json> create_container(const std::string& name, const Json& body) override;
    Status start_container(const std::string& name) override;
    Status stop_container(const std::string& name, std::optional<int64_t> timeout, const std::string& signal) override;
    Status restart_container(const std::string& name, std::optional<int64_t> timeout) override;
    Status kill_container(const std::string& name, const std::string& signal) override;
    Status pause_container(const std::string& name) override;
    Status unpause_container(const std::string& name) override;
    Result<std::function<Json(const std::function<bool()>& gone)>> wait_container(const std::string& name,
                                                                                  const std::string& condition) override;
    Status remove_container(const std::string& name, bool force, bool remove_volumes) override;
    Status rename_container(const std::string& name, const std::string& new_name) override;
    Result<Json> list_containers(bool all, int64_t limit, bool size, const Filters& filters) override;
    Result<Json> inspect_container(const std::string& name, bool size) override;
    Result<Json> prune_containers(const Filters& filters) override;
    Status resize_container(const std::string& name, int height, int width) override;
    Result<Json> top_container(const std::string& name, const std::string& ps_args) override;
    Result<bool> logs_tty(const std::string& name) override;
    Status logs(const std::string& name, const api::LogsOptions& options,
                const std::function<bool(const std::string&)>& sink, const std::function<bool()>& gone) override;
    Result<bool> attach_check(const std::string& name) override;
    void attach(const std::string& name, const api::AttachOptions& options, api::HijackedConnection conn) override;
    Result<Json> create_exec(const std::string& name, const Json& body) override;
    Status start_exec_detached(const std::string& exec_id, const Json& body) override;
    Result<bool> exec_check(const std::string& exec_id, const Json& body) override;
    void start_exec_attached(const std::string& exec_id, const Json& body, api::HijackedConnection conn) override;
    Result<Json> inspect_exec(const std::string& exec_id) override;
    Status resize_exec(const std::string& exec_id, int height, int width) override;
    // Stats, archive, export, changes, commit (data.cpp).
    Result<Json> stats_once(const std::string& name, bool one_shot) override;
    Result<std::function<void(api::StatsWriter)>> stats_stream(const std::string& name) override;
    Result<std::string> archive_stat(const std::string& name, const std::string& path) override;
    Status archive_get(const std::string& name, const std::string& path,
                       const std::function<Status(const char*, size_t)>& sink) override;
    Status archive_put(const std::string& name, const std::string& path, bool no_overwrite_dir_non_dir,
                       api::ReadFn body) override;
    Status export_check(const std::string& name) override;
    Status export_container(const std::string& name, const std::function<Status(const char*, size_t)>& sink) override;
    Result<Json> container_changes(const std::string& name) override;
    Result<Json> commit_container(const api::CommitOptions& options) override;

private:
    // One container: its record plus what only lives in memory. `mu` guards `c` and the rest;
    // `cv` is notified on every state change (waiters, stop).
    struct Entry {
        std::mutex mu;
        std::condition_variable cv;
        Container c;
        uint64_t exits = 0;       // bumped when an exit has been fully handled
        uint64_t starts = 0;      // bumped when a start succeeded
        bool removed = false;
        bool busy = false;        // a start/stop/remove is in progress (others wait)
        int restart_attempts = 0; // since the last successful run of 10 s
        int exit_wd = -1;         // inotify watch on the running state dir (exit.json = the exit)
        int draining_shim = 0;    // the last run's shim, maybe still deleting the runtime's state
        std::vector<std::string> exec_ids;
    };
    struct Exec {
        std::string id, container_id;
        Json config;              // the exec create body
        Json process;             // the OCI process built at start
        bool running = false;
        bool started = false;
        int exit_code = -1;       // -1 = not yet (null in inspect)
        int pid = 0;
        int shim_pid = 0;
        std::string state_dir;
        std::mutex mu;
        std::condition_variable cv;
    };

    Result<std::shared_ptr<Entry>> find(const std::string& name_or_id);
    // The network namespace of a running container, for NetworkMode container:<name>.
    Result<std::string> container_netns(const std::string& name_or_id);
    Result<std::shared_ptr<Exec>> find_exec(const std::string& id);
    Status persist(const Container& c);
    void emit(const Container& c, const std::string& action, std::map<std::string, std::string> extra = {});

    std::string container_dir(const std::string& id) const;  // in data_root
    std::string state_dir(const std::string& id) const;      // in exec_root
    const runtime::RuntimeInfo* runtime_info(const std::string& name) const;
    std::unique_ptr<runtime::Runtime> runtime_for(const Container& c) const;
    // ctl-shim's runtime flags (--runtime, --runtime-root, --runtime-fd, --private-cgroup-mount);
    // a --runtime-fd must be kept open in the shim's launch (run_and_wait's keep_fd).
    void add_shim_runtime_args(std::vector<std::string>& argv, const runtime::RuntimeInfo& info) const;

    // Start with e.mu held (unlocked around slow parts is not needed: per-container lock).
    Status start_locked(Entry& e);
    Status stop_locked(std::unique_lock<std::mutex>& lock, Entry& e, int64_t timeout, int signal);
    Status kill_locked(Entry& e, int signal);
    // The monitor learns of an exit twice: first exit.json lands in the state dir (inotify; the
    // shim then still runs `runtime delete`, off the critical path), then the shim exits (pidfd,
    // the fallback when exit.json never comes). Each handles the exit only if it belongs to the
    // run in progress: the same shim pid, the same inotify watch.
    void on_shim_exit(const std::string& id, int shim_pid);
    void on_exit_file(int wd);
    void drain_inotify();  // reads the pending inotify events (monitor thread)
    void handle_exit(const std::string& id, const std::function<bool(const Entry&)>& is_current);
    // Adds the inotify watch for exit.json on a state dir; -1 when inotify refused.
    int watch_exit_file(const std::string& id, const std::string& state_dir);
    // A new run reuses the id in the runtime: the previous shim must have finished its delete.
    void wait_for_draining_shim(Entry& e);
    void finish_exit(Entry& e, bool from_stop);
    void schedule_restart(const std::string& id, int64_t delay_ms);
    Status remove_locked(std::unique_lock<std::mutex>& lock, std::shared_ptr<Entry> e, bool force, bool remove_volumes);
    // Unmounts, releases networking and removes the state dir; runtime_state_left: also
    // `runtime delete` (when the shim could not).
    void cleanup_runtime_artifacts(Container& c, bool runtime_state_left = true);

    // Resolves the request's mounts (and --volumes-from) into c.mount_plan and c.mounts,
    // creating volumes and missing -v host dirs. On error nothing is kept.
    Status plan_mounts(Container& c, const Json& host_config);
    // Healthchecks (health.cpp).
    struct ProbeResult {
        int exit_code = -1;
        std::string output;
    };
    static bool has_healthcheck(const Container& c);
    ProbeResult run_probe(const Container& c, const std::vector<std::string>& cmd, int64_t timeout_ns);
    void start_health_monitor(Entry& e);  // with e.mu held, during a start

    Json inspect_json(const Container& c, bool size);
    void add_sizes(Json& out, const Container& c);
    // NetworkSettings as inspect shows it (ports and networks from the network service).
    Json network_settings_of(const Container& c);
    Json summary_json(const Container& c, bool size);
    bool matches(const Container& c, const Filters& filters);

    // A container's file system held for one copy (data.cpp): the running container's own view
    // (volumes included) when `live` and it runs, else its rw layer mounted until released.
    struct RootfsLease;
    Result<std::shared_ptr<RootfsLease>> lease_rootfs(const std::string& name, bool live);

    // The exit monitor: one thread, epoll over shim pidfds.
    void watch(const std::string& key, int shim_pid);
    void monitor_loop();

    store::Store& store_;
    graph::GraphDriver& driver_;
    image::ImageService& images_;
    volumes::VolumeService& volumes_;
    net::NetworkService& networks_;
    events::EventBus& bus_;
    ServiceOptions options_;

    std::mutex mu_;  // guards the maps below
    std::map<std::string, std::shared_ptr<Entry>> entries_;  // by id
    std::map<std::string, std::string> names_;               // "/name" -> id
    std::map<std::string, std::shared_ptr<Exec>> execs_;

    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    std::mutex watch_mu_;
    std::map<int, std::string> watched_;  // pidfd -> "c:<id>:<shim pid>" or "e:<exec id>"
    int inotify_fd_ = -1;
    std::map<int, std::string> exit_watches_;  // inotify wd -> container id (under watch_mu_)
    std::thread monitor_;
    std::atomic<bool> stopping_{false};
    std::mutex timers_mu_;
    std::vector<std::thread> timers_;  // restart back-off sleepers
    stats::Ticker stats_ticker_;  // streaming /stats clients (last: stops before the rest goes)
};

}  // namespace ctl::container
