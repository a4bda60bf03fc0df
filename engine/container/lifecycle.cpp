// Start, stop, kill, pause, wait; exits observed through exit.json (inotify) and the shims'
// pidfds; restart policies; live restore at init.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <set>

#include "engine/base/log.hpp"
#include "engine/base/sys.hpp"
#include "engine/container/container_service.hpp"
#include "engine/container/internal/process.hpp"
#include "engine/container/internal/config_merge.hpp"
#include "engine/container/internal/etc_files.hpp"
#include "engine/container/spec/oci_spec.hpp"

namespace ctl::container {

namespace {

int pidfd_open(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

uint64_t nofile_hard_limit() {
    struct rlimit rl {};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max == RLIM_INFINITY) return 1048576;
    return rl.rlim_max;
}

// Runs argv, waits for it; returns its exit status (or -1 when it could not run).

int read_pid_file(const std::string& path) {
    auto text = sys::read_file(path);
    if (!text) return 0;
    try {
        return std::stoi(trim(*text));
    } catch (...) {
        return 0;
    }
}

bool shim_alive(int pid, const std::string& id) {
    if (pid <= 0) return false;
    auto cmdline = sys::read_file("/proc/" + std::to_string(pid) + "/cmdline");
    return cmdline && cmdline->find("ctl-shim") != std::string::npos && cmdline->find(id) != std::string::npos;
}

// Docker's start errors carry the runtime's words; the CLI maps them to exit codes 126/127.
// crun words errno as C's strerror ("No such file or directory"); Docker's clients match Go's
// lower-case spelling to pick those codes, so the runtime's words are given in Go's spelling.
std::string start_error_message(const std::string& raw) {
    std::string msg = trim(raw);
    if (msg.empty()) msg = "container start failed";
    for (auto [c_words, go_words] : {std::pair{"No such file or directory", "no such file or directory"},
                                     std::pair{"Permission denied", "permission denied"},
                                     std::pair{"Is a directory", "is a directory"}}) {
        for (size_t at; (at = msg.find(c_words)) != std::string::npos;) msg.replace(at, std::strlen(c_words), go_words);
    }
    return "failed to create task for container: failed to create shim task: OCI runtime create failed: " + msg +
           ": unknown";
}

}  // namespace

// ---- init / monitor ---------------------------------------------------------------------------

Status ContainerService::init() {
    CTL_TRY(sys::mkdir_all(options_.data_root + "/containers", 0710));
    CTL_TRY(sys::mkdir_all(options_.exec_root + "/containers", 0700));
    if (options_.nofile_hard_limit == 1048576) options_.nofile_hard_limit = nofile_hard_limit();
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epoll_fd_ < 0 || wake_fd_ < 0) return make_error(Errc::Internal, "epoll/eventfd failed");
    struct epoll_event ev {};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    // Without inotify exits are still seen, later: when the shim is done deleting.
    inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ >= 0) {
        ev.data.fd = inotify_fd_;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, inotify_fd_, &ev);
    } else {
        log::warn("inotify: {}; container exits are noticed only when their monitor exits", std::strerror(errno));
    }
    monitor_ = std::thread([this] { monitor_loop(); });

    CTL_ASSIGN_OR_RETURN(auto rows, store_.query("SELECT record FROM containers"));
    std::vector<std::string> to_restart;
    for (auto& row : rows) {
        auto parsed = parse_json(store::as_string(row[0]));
        if (!parsed) continue;
        auto c = Container::from_record(*parsed);
        if (!c) continue;
        auto e = std::make_shared<Entry>();
        e->c = std::move(*c);
        {
            std::lock_guard lock(mu_);
            names_[e->c.name] = e->c.id;
            entries_[e->c.id] = e;
        }
        std::unique_lock lock(e->mu);
        if (e->c.state.running) {
            // Adopt the rootfs mount the last ctld left in place (unmounted again at the exit).
            if (auto st = driver_.mount(e->c.rw_layer); !st) {
                log::warn("container {}: rootfs: {}", e->c.short_id(), st.error().message);
            }
            if (shim_alive(e->c.state.shim_pid, e->c.id)) {
                log::info("container {}: still running (pid {}), watching it again", e->c.short_id(), e->c.state.pid);
                e->exit_wd = watch_exit_file(e->c.id, state_dir(e->c.id));
                watch("c:" + e->c.id + ":" + std::to_string(e->c.state.shim_pid), e->c.state.shim_pid);
                // Exited between our last look and the watch: exit.json is there already.
                if (sys::exists(state_dir(e->c.id) + "/exit.json")) {
                    const int wd = e->exit_wd;
                    std::thread([this, wd] { on_exit_file(wd); }).detach();
                }
            } else {
                log::info("container {}: exited while ctld was away", e->c.short_id());
                finish_exit(*e, false);
                std::string policy = string_or(e->c.host_config["RestartPolicy"], "Name", "no");
                if (policy == "always" || policy == "unless-stopped" ||
                    (policy == "on-failure" && e->c.state.exit_code != 0)) {
                    to_restart.push_back(e->c.id);
                }
            }
        } else if (e->c.state.restarting) {
            e->c.state.restarting = false;
            to_restart.push_back(e->c.id);
        } else {
            // A stopped container whose policy says it should run after a daemon restart.
            std::string policy = string_or(e->c.host_config["RestartPolicy"], "Name", "no");
            if (policy == "always" && e->c.has_been_started && !e->c.manually_stopped) to_restart.push_back(e->c.id);
        }
    }
    {
        // Volume references of containers that no longer exist (removed while ctld was down).
        std::set<std::string> live;
        std::lock_guard lock(mu_);
        for (const auto& [id, e] : entries_) live.insert(id);
        (void)volumes_.drop_refs_except(live);
    }
    for (const auto& id : to_restart) schedule_restart(id, 0);
    return ok();
}

void ContainerService::shutdown() {
    if (stopping_.exchange(true)) return;
    stats_ticker_.stop();  // ends /stats streams
    if (wake_fd_ >= 0) {
        uint64_t one = 1;
        (void)::write(wake_fd_, &one, sizeof one);
    }
    if (monitor_.joinable()) monitor_.join();
    {
        std::lock_guard lock(timers_mu_);
        for (auto& t : timers_) {
            if (t.joinable()) t.join();
        }
        timers_.clear();
    }
    // Waiters blocked on a container wake up and see the daemon stopping.
    std::lock_guard lock(mu_);
    for (auto& [id, e] : entries_) e->cv.notify_all();
    for (auto& [fd, key] : watched_) ::close(fd);
    watched_.clear();
    exit_watches_.clear();
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    if (inotify_fd_ >= 0) ::close(inotify_fd_);
    epoll_fd_ = wake_fd_ = inotify_fd_ = -1;
}

Result<net::ContainerRef> ContainerService::network_ref(const std::string& name_or_id) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name_or_id));
    net::ContainerRef ref;
    {
        std::lock_guard lock(e->mu);
        ref.id = e->c.id;
        ref.name = e->c.name.substr(1);
        ref.network_mode = string_or(e->c.host_config, "NetworkMode", "default");
        ref.running = e->c.state.running;
        ref.resolv_conf_path = e->c.resolv_conf_path;
        if (e->c.networking.is_object()) {
            for (auto it = e->c.networking.begin(); it != e->c.networking.end(); ++it) ref.configured.insert(it.key());
        }
    }
    ref.remember = [this, e](const std::string& network, const Json& endpoint_config) -> Status {
        std::lock_guard lock(e->mu);
        if (!e->c.networking.is_object()) e->c.networking = Json::object();
        e->c.networking[network] = endpoint_config;
        return persist(e->c);
    };
    ref.forget = [this, e](const std::string& network) -> Status {
        std::lock_guard lock(e->mu);
        if (e->c.networking.is_object()) e->c.networking.erase(network);
        return persist(e->c);
    };
    return ref;
}

Result<std::string> ContainerService::container_netns(const std::string& name_or_id) {
    CTL_ASSIGN_OR_RETURN(auto other, find(name_or_id));
    std::lock_guard lock(other->mu);
    if (!other->c.state.running) {
        return make_error(Errc::Conflict, "cannot join network of a non running container: " + other->c.id);
    }
    std::string path = networks_.netns_path(other->c.id);
    if (path.empty()) path = "/proc/" + std::to_string(other->c.state.pid) + "/ns/net";
    return path;
}

std::vector<std::string> ContainerService::mounted_layers() {
    std::vector<std::shared_ptr<Entry>> entries;
    {
        std::lock_guard lock(mu_);
        for (const auto& [id, e] : entries_) entries.push_back(e);
    }
    std::vector<std::string> layers;
    for (const auto& e : entries) {  // never mu_ and an entry's lock together in this order
        std::lock_guard entry_lock(e->mu);
        if (e->c.state.running) layers.push_back(e->c.rw_layer);
    }
    return layers;
}

namespace {

// "c:<id>:<shim pid>" -> {id, pid}
std::pair<std::string, int> parse_container_key(const std::string& key) {
    const auto colon = key.rfind(':');
    return {key.substr(2, colon - 2), std::atoi(key.c_str() + colon + 1)};
}

}  // namespace

int ContainerService::watch_exit_file(const std::string& id, const std::string& dir) {
    if (inotify_fd_ < 0) return -1;
    // The shim writes exit.json.tmp and renames it: IN_MOVED_TO is the finished file.
    int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(), IN_MOVED_TO | IN_ONLYDIR);
    if (wd < 0) return -1;
    std::lock_guard lock(watch_mu_);
    exit_watches_[wd] = id;
    return wd;
}

void ContainerService::on_exit_file(int wd) {
    std::string id;
    {
        std::lock_guard lock(watch_mu_);
        auto it = exit_watches_.find(wd);
        if (it == exit_watches_.end()) return;
        id = it->second;
    }
    handle_exit(id, [wd](const Entry& e) { return e.exit_wd == wd; });
}

void ContainerService::drain_inotify() {
    alignas(inotify_event) char buf[4096];
    for (;;) {
        ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
        if (n <= 0) return;
        for (char* p = buf; p < buf + n;) {
            auto* ev = reinterpret_cast<inotify_event*>(p);
            p += sizeof(inotify_event) + ev->len;
            if (ev->mask & IN_IGNORED) {  // the state dir is gone
                std::lock_guard lock(watch_mu_);
                exit_watches_.erase(ev->wd);
            } else if (ev->len > 0 && std::strcmp(ev->name, "exit.json") == 0) {
                on_exit_file(ev->wd);
            }
        }
    }
}

void ContainerService::wait_for_draining_shim(Entry& e) {
    const int pid = std::exchange(e.draining_shim, 0);
    if (pid <= 0 || !shim_alive(pid, e.c.id)) return;
    int fd = pidfd_open(pid);
    if (fd < 0) return;
    pollfd p{fd, POLLIN, 0};
    // `runtime delete` takes milliseconds; a shim stuck far longer is reported by the start.
    if (::poll(&p, 1, runtime::Runtime::kTimeoutMs) == 0) log::warn("container {}: its last monitor is still running", e.c.short_id());
    ::close(fd);
}

void ContainerService::watch(const std::string& key, int shim_pid) {
    int fd = pidfd_open(shim_pid);
    if (fd < 0) {
        // Already gone: handle it as an exit right away (on the monitor's terms: a thread).
        std::thread([this, key] {
            if (starts_with(key, "c:")) {
                auto [id, pid] = parse_container_key(key);
                on_shim_exit(id, pid);
            }
        }).detach();
        return;
    }
    std::lock_guard lock(watch_mu_);
    watched_[fd] = key;
    struct epoll_event ev {};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
}

void ContainerService::monitor_loop() {
    struct epoll_event events[16];
    while (!stopping_) {
        int n = ::epoll_wait(epoll_fd_, events, 16, 1000);
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == wake_fd_) continue;
            if (fd == inotify_fd_) {
                drain_inotify();
                continue;
            }
            std::string key;
            {
                std::lock_guard lock(watch_mu_);
                auto it = watched_.find(fd);
                if (it == watched_.end()) continue;
                key = it->second;
                watched_.erase(it);
            }
            ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
            ::close(fd);
            if (stopping_) break;
            if (starts_with(key, "c:")) {
                auto [id, pid] = parse_container_key(key);
                on_shim_exit(id, pid);
            } else if (starts_with(key, "e:")) {
                std::shared_ptr<Exec> x;
                {
                    std::lock_guard lock(mu_);
                    if (auto it = execs_.find(key.substr(2)); it != execs_.end()) x = it->second;
                }
                if (x) {
                    std::lock_guard lock(x->mu);
                    auto exit = parse_json(sys::read_file(x->state_dir + "/exit.json").value_or("{}"));
                    x->exit_code = exit ? static_cast<int>(int_or(*exit, "exit_code", 126)) : 126;
                    x->running = false;
                    x->pid = 0;
                    (void)sys::remove_all(x->state_dir);
                    x->cv.notify_all();
                }
            }
        }
    }
}

// ---- start ------------------------------------------------------------------------------------

Status ContainerService::start_container(const std::string& name) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    std::unique_lock lock(e->mu);
    e->cv.wait(lock, [&] { return !e->busy; });
    if (e->removed) return make_error(Errc::NotFound, "No such container: " + name);
    if (e->c.state.paused) {
        return make_error(Errc::Conflict, "cannot start a paused container, try unpause instead");
    }
    if (e->c.state.running) return make_error(Errc::NotModified, "container already started");
    e->c.manually_stopped = false;
    e->restart_attempts = 0;
    auto started = start_locked(*e);
    // Like Docker, a container run with --rm that cannot start is removed (the CLI's wait for
    // condition=removed returns then).
    if (!started && bool_or(e->c.host_config, "AutoRemove", false)) (void)remove_locked(lock, e, true, true);
    return started;
}

Status ContainerService::start_locked(Entry& e) {
    Container& c = e.c;
    wait_for_draining_shim(e);
    auto rt = runtime_for(c);
    const runtime::RuntimeInfo* info = runtime_info(c.runtime);
    if (!rt || !info) return make_error(Errc::InvalidArgument, "unknown or invalid runtime name: " + c.runtime);
    e.busy = true;
    std::string sdir = state_dir(c.id);
    bool mounted = false;
    auto fail = [&](Error err) -> Status {
        networks_.detach(c.id);
        if (mounted) (void)driver_.unmount(c.rw_layer);
        (void)rt->remove(c.id, true);
        (void)sys::remove_all(sdir);
        c.state.error = err.message;
        // Docker's codes: 127 command not found, 126 not executable, 128 anything else. crun
        // and runc word these differently ("executable file `x` not found", "No such file").
        const std::string words = to_lower(err.message);
        const bool not_found = words.find("not found") != std::string::npos ||
                               words.find("no such file or directory") != std::string::npos;
        c.state.exit_code = not_found ? 127 : (words.find("permission denied") != std::string::npos ? 126 : 128);
        (void)persist(c);
        e.busy = false;
        e.cv.notify_all();
        return err;
    };

    auto rootfs = driver_.mount(c.rw_layer);
    if (!rootfs) return fail(with_context(rootfs.error(), "mounting the container's root file system"));
    mounted = true;
    std::string net_mode = string_or(c.host_config, "NetworkMode", "default");
    const Json* exposed = find_ci(c.config, "ExposedPorts");
    // Config.MacAddress (--mac-address) belongs to the endpoint on the container's own network.
    Json endpoints = c.networking.is_object() ? c.networking : Json::object();
    if (std::string mac = string_or(c.config, "MacAddress"); !mac.empty()) {
        std::string primary = net_mode == "default" ? "bridge" : net_mode;
        if (!endpoints[primary].is_object()) endpoints[primary] = Json::object();
        endpoints[primary]["MacAddress"] = mac;
    }
    auto attached = networks_.attach(
        c.id, c.name.substr(1), c.host_config, endpoints, exposed ? *exposed : Json(),
        [this](const std::string& other) { return container_netns(other); });
    if (!attached) return fail(attached.error());
    if (auto st = internal::write_etc_files(c, net_mode == "host", networks_.host_gateway()); !st) return fail(st.error());
    const Json* dns = find_ci(c.host_config, "Dns");
    if (attached->embedded_dns && !(dns && dns->is_array() && !dns->empty())) {
        // User-defined networks resolve names through the embedded server (netdriver/dns_server).
        std::string resolv = "nameserver 127.0.0.11\n";
        if (const Json* search = find_ci(c.host_config, "DnsSearch"); search && search->is_array() && !search->empty()) {
            resolv += "search";
            for (const auto& d : *search) resolv += " " + (d.is_string() ? d.get<std::string>() : "");
            resolv += "\n";
        }
        resolv += "options ndots:0\n";
        if (auto st = sys::write_file_replace(c.resolv_conf_path, resolv); !st) return fail(st.error());
    }
    if (!attached->primary_ip.empty()) {
        // Docker's own line for the container: its address with its hostname.
        auto hosts = sys::read_file(c.hosts_path).value_or("");
        hosts += attached->primary_ip + "\t" + string_or(c.config, "Hostname", c.short_id()) + "\n";
        if (auto st = sys::write_file_replace(c.hosts_path, hosts); !st) return fail(st.error());
    }
    if (auto st = sys::mkdir_all(sdir, 0700); !st) return fail(st.error());
    // Before the launch: a process quicker than the next lines must not exit unseen.
    e.exit_wd = watch_exit_file(c.id, sdir);

    // Volumes get the image's content at their path on first use (Docker's copy-up).
    for (const auto& step : c.mount_plan) {
        if (string_or(step, "Type", "") != "volume" || bool_or(step, "NoCopy", false)) continue;
        if (auto st = volumes_.copy_up(string_or(step, "Name", ""), *rootfs, string_or(step, "Destination", "")); !st) {
            return fail(with_context(st.error(), "copying image content into volume " + string_or(step, "Name", "")));
        }
    }

    spec::SpecInputs in;
    for (const auto& step : c.mount_plan) {
        spec::MountSpec m;
        m.destination = string_or(step, "Destination", "");
        if (string_or(step, "Type", "") == "tmpfs") {
            m.type = "tmpfs";
            m.source = "tmpfs";
            m.options = {"nosuid", "nodev", "noexec"};
            bool has_mode = false;
            if (step.contains("Options") && step["Options"].is_array()) {
                for (const auto& o : step["Options"]) {
                    std::string opt = o.get<std::string>();
                    if (opt == "exec") {
                        std::erase(m.options, std::string("noexec"));
                        continue;
                    }
                    has_mode = has_mode || starts_with(opt, "mode=");
                    m.options.push_back(opt);
                }
            }
            if (!has_mode) m.options.push_back("mode=1777");
        } else {
            m.type = "bind";
            m.source = string_or(step, "Source", "");
            m.options = {"rbind", string_or(step, "Propagation", "").empty() ? "rprivate" : string_or(step, "Propagation", "")};
        }
        if (bool_or(step, "ReadOnly", false)) m.options.push_back("ro");
        in.mounts.push_back(std::move(m));
    }
    in.image_config = Json::object();  // c.config already has the image's defaults merged in
    in.config = c.config;
    in.host_config = c.host_config;
    in.rootfs = *rootfs;
    in.hostname_path = c.hostname_path;
    in.hosts_path = c.hosts_path;
    in.resolv_conf_path = c.resolv_conf_path;
    in.netns = attached->netns;
    in.ipc_ns = string_or(c.host_config, "IpcMode", "") == "host" ? "host" : "";
    in.pid_ns = string_or(c.host_config, "PidMode", "") == "host" ? "host" : "";
    in.cgroups_path = "/ctld/" + c.id;
    in.nofile_hard_limit = options_.nofile_hard_limit;
    if (sys::exists("/usr/bin/tini-static")) in.init_path = "/usr/bin/tini-static";  // --init
    auto spec = spec::build_spec(in);
    if (!spec) return fail(spec.error());
    if (auto st = sys::write_file_replace(sdir + "/config.json", spec->dump()); !st) return fail(st.error());

    // The log options Docker accepts for json-file.
    std::string max_size = "-1", max_file = "1";
    const Json& log_opts = c.host_config["LogConfig"]["Config"];
    if (log_opts.is_object()) {
        max_size = string_or(log_opts, "max-size", max_size);
        max_file = string_or(log_opts, "max-file", max_file);
    }
    std::vector<std::string> argv = {options_.shim_binary, "run", "--id", c.id, "--bundle", sdir, "--state-dir", sdir,
                                     "--log-path", c.log_path};
    add_shim_runtime_args(argv, *info);
    if (max_size != "-1") {
        auto bytes = internal::parse_size(max_size);
        if (!bytes) return fail(bytes.error());
        argv.insert(argv.end(), {"--log-max-size", std::to_string(*bytes), "--log-max-file", max_file});
    }
    if (bool_or(c.config, "Tty", false)) argv.push_back("--tty");
    if (bool_or(c.config, "OpenStdin", false)) argv.push_back("--stdin");
    // Taken before the launch: a process quicker than our bookkeeping must not finish before it started.
    const int64_t launched_ns = now_unix_nanos();
    int rc = internal::run_and_wait(argv, info->exec_fd);
    if (rc != 0) {
        std::string why = sys::read_file(sdir + "/start-error").value_or("ctl-shim exited with " + std::to_string(rc));
        return fail(make_error(Errc::Internal, start_error_message(why)));
    }
    c.state.shim_pid = read_pid_file(sdir + "/shim.pid");
    c.state.pid = read_pid_file(sdir + "/init.pid");
    c.state.running = true;
    c.state.paused = false;
    c.state.restarting = false;
    c.state.oom_killed = false;
    c.state.dead = false;
    c.state.status = "running";
    c.state.error.clear();
    c.state.exit_code = 0;
    c.state.started_at = internal::rfc3339_fixed(launched_ns);
    c.has_been_started = true;
    start_health_monitor(e);
    (void)persist(c);
    watch("c:" + c.id + ":" + std::to_string(c.state.shim_pid), c.state.shim_pid);
    e.starts++;
    e.busy = false;
    e.cv.notify_all();
    emit(c, "start");
    return ok();
}

// ---- exits and restarts -----------------------------------------------------------------------

void ContainerService::on_shim_exit(const std::string& id, int shim_pid) {
    handle_exit(id, [shim_pid](const Entry& e) { return e.c.state.shim_pid == shim_pid; });
}

void ContainerService::handle_exit(const std::string& id, const std::function<bool(const Entry&)>& is_current) {
    std::shared_ptr<Entry> e;
    {
        std::lock_guard lock(mu_);
        auto it = entries_.find(id);
        if (it == entries_.end()) return;
        e = it->second;
    }
    bool auto_remove = false;
    int64_t restart_delay = -1;
    {
        std::unique_lock lock(e->mu);
        if (!e->c.state.running || !is_current(*e)) return;
        finish_exit(*e, false);
        const Json& policy = e->c.host_config["RestartPolicy"];
        std::string name = string_or(policy, "Name", "no");
        int64_t max = int_or(policy, "MaximumRetryCount", 0);
        bool restart = !e->c.manually_stopped && !stopping_ &&
                       (name == "always" || name == "unless-stopped" ||
                        (name == "on-failure" && e->c.state.exit_code != 0 && (max == 0 || e->c.restart_count < max)));
        if (restart) {
            // Docker's back-off: 100 ms doubling per quick failure, reset after 10 s of running.
            int64_t ran_ms = (parse_timestamp(e->c.state.finished_at) - parse_timestamp(e->c.state.started_at)) / 1000000;
            if (ran_ms >= 10000) e->restart_attempts = 0;
            restart_delay = std::min<int64_t>(100LL << std::min(e->restart_attempts, 10), 60000);
            e->restart_attempts++;
            e->c.state.restarting = true;
            e->c.state.status = "restarting";
            (void)persist(e->c);
        } else {
            auto_remove = bool_or(e->c.host_config, "AutoRemove", false);
        }
    }
    if (restart_delay >= 0) {
        schedule_restart(id, restart_delay);
    } else if (auto_remove) {
        std::unique_lock lock(e->mu);
        (void)remove_locked(lock, e, true, true);
    }
}

void ContainerService::finish_exit(Entry& e, bool from_stop) {
    (void)from_stop;
    Container& c = e.c;
    std::string sdir = state_dir(c.id);
    auto exit = parse_json(sys::read_file(sdir + "/exit.json").value_or("null"));
    if (exit && exit->is_object()) {
        c.state.exit_code = static_cast<int>(int_or(*exit, "exit_code", 255));
        c.state.oom_killed = bool_or(*exit, "oom_killed", false);
        c.state.finished_at = string_or(*exit, "finished_at", internal::rfc3339_fixed(now_unix_nanos()));
    } else {
        c.state.exit_code = 255;
        c.state.error = "container monitor exited without an exit status";
        c.state.finished_at = internal::rfc3339_fixed(now_unix_nanos());
    }
    c.state.running = false;
    c.state.paused = false;
    c.state.pid = 0;
    e.draining_shim = c.state.shim_pid;
    e.exit_wd = -1;
    c.state.shim_pid = 0;
    c.state.status = "exited";
    // A shim that wrote exit.json has already deleted the runtime's state: skip one runtime launch.
    cleanup_runtime_artifacts(c, !(exit && exit->is_object()));
    (void)persist(c);
    e.exits++;
    e.cv.notify_all();
    emit(c, "die", {{"exitCode", std::to_string(c.state.exit_code)}});
}

void ContainerService::cleanup_runtime_artifacts(Container& c, bool runtime_state_left) {
    if (runtime_state_left) {
        if (auto rt = runtime_for(c)) (void)rt->remove(c.id, true);
    }
    networks_.detach(c.id);
    (void)driver_.unmount(c.rw_layer);
    (void)sys::remove_all(state_dir(c.id));
}

void ContainerService::schedule_restart(const std::string& id, int64_t delay_ms) {
    std::lock_guard lock(timers_mu_);
    if (stopping_) return;
    timers_.emplace_back([this, id, delay_ms] {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms);
        while (!stopping_ && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (stopping_) return;
        auto e = find(id);
        if (!e) return;
        std::unique_lock lock((*e)->mu);
        (*e)->cv.wait(lock, [&] { return !(*e)->busy; });
        if ((*e)->removed || (*e)->c.state.running || (*e)->c.manually_stopped) {
            (*e)->c.state.restarting = false;
            return;
        }
        (*e)->c.restart_count++;
        if (auto st = start_locked(**e); !st) {
            log::warn("container {}: restart failed: {}", (*e)->c.short_id(), st.error().message);
            (*e)->c.state.restarting = false;
            (*e)->c.state.status = "exited";
            (void)persist((*e)->c);
        }
    });
}

// ---- stop / kill / pause ----------------------------------------------------------------------

Status ContainerService::kill_locked(Entry& e, int signal) {
    auto rt = runtime_for(e.c);
    if (!rt) return make_error(Errc::Internal, "no runtime for container");
    return rt->kill(e.c.id, signal, false);
}

Status ContainerService::stop_locked(std::unique_lock<std::mutex>& lock, Entry& e, int64_t timeout, int signal) {
    if (!e.c.state.running) return ok();
    uint64_t exits = e.exits;
    if (e.c.state.paused) {
        // A frozen process cannot act on a signal: SIGKILL it, then thaw so it dies.
        if (auto rt = runtime_for(e.c)) {
            (void)rt->kill(e.c.id, SIGKILL, true);
            (void)rt->resume(e.c.id);
        }
    } else if (timeout != 0 || signal == SIGKILL) {
        (void)kill_locked(e, signal);
    }
    if (timeout < 0) {
        e.cv.wait(lock, [&] { return e.exits != exits || stopping_; });
    } else if (!e.cv.wait_for(lock, std::chrono::seconds(timeout), [&] { return e.exits != exits; })) {
        log::info("container {}: did not stop within {}s of signal {}; killing it", e.c.short_id(), timeout, signal);
        (void)kill_locked(e, SIGKILL);
        if (!e.cv.wait_for(lock, std::chrono::seconds(30), [&] { return e.exits != exits; })) {
            return make_error(Errc::Internal, "container " + e.c.short_id() + " did not exit after SIGKILL");
        }
    }
    return ok();
}

Status ContainerService::stop_container(const std::string& name, std::optional<int64_t> timeout, const std::string& sig) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    std::unique_lock lock(e->mu);
    e->cv.wait(lock, [&] { return !e->busy; });
    if (e->c.state.restarting) {
        e->c.manually_stopped = true;
        e->c.state.restarting = false;
        e->c.state.status = "exited";
        (void)persist(e->c);
        return ok();
    }
    if (!e->c.state.running) return make_error(Errc::NotModified, "container already stopped");
    int signal = SIGTERM;
    std::string stop_signal = sig.empty() ? string_or(e->c.config, "StopSignal", "") : sig;
    if (!stop_signal.empty()) {
        CTL_ASSIGN_OR_RETURN(signal, internal::parse_signal(stop_signal));
    }
    int64_t t = timeout.value_or(int_or(e->c.config, "StopTimeout", 10));
    e->c.manually_stopped = true;
    (void)persist(e->c);
    CTL_TRY(stop_locked(lock, *e, t, signal));
    emit(e->c, "stop");
    return ok();
}

Status ContainerService::restart_container(const std::string& name, std::optional<int64_t> timeout) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    std::unique_lock lock(e->mu);
    e->cv.wait(lock, [&] { return !e->busy; });
    if (e->c.state.running) {
        int signal = SIGTERM;
        if (std::string s = string_or(e->c.config, "StopSignal", ""); !s.empty()) {
            CTL_ASSIGN_OR_RETURN(signal, internal::parse_signal(s));
        }
        e->c.manually_stopped = true;  // no policy restart in between
        CTL_TRY(stop_locked(lock, *e, timeout.value_or(int_or(e->c.config, "StopTimeout", 10)), signal));
        e->cv.wait(lock, [&] { return !e->busy; });
    }
    e->c.manually_stopped = false;
    e->c.state.restarting = false;
    CTL_TRY(start_locked(*e));
    emit(e->c, "restart");
    return ok();
}

Status ContainerService::kill_container(const std::string& name, const std::string& sig) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    CTL_ASSIGN_OR_RETURN(int signal, internal::parse_signal(sig.empty() ? "SIGKILL" : sig));
    std::unique_lock lock(e->mu);
    if (!e->c.state.running) return make_error(Errc::Conflict, "Container " + e->c.id + " is not running");
    if (signal == SIGKILL) e->c.manually_stopped = true;
    CTL_TRY(kill_locked(*e, signal));
    emit(e->c, "kill", {{"signal", std::to_string(signal)}});
    if (signal == SIGKILL) {
        uint64_t exits = e->exits;
        e->cv.wait_for(lock, std::chrono::seconds(10), [&] { return e->exits != exits; });
    }
    return ok();
}

Status ContainerService::pause_container(const std::string& name) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    std::unique_lock lock(e->mu);
    if (!e->c.state.running) return make_error(Errc::Conflict, "Container " + e->c.id + " is not running");
    if (e->c.state.paused) return make_error(Errc::Conflict, "Container " + e->c.id + " is already paused");
    auto rt = runtime_for(e->c);
    CTL_TRY(rt->pause(e->c.id));
    e->c.state.paused = true;
    e->c.state.status = "paused";
    (void)persist(e->c);
    emit(e->c, "pause");
    return ok();
}

Status ContainerService::unpause_container(const std::string& name) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    std::unique_lock lock(e->mu);
    if (!e->c.state.paused) return make_error(Errc::Conflict, "Container " + e->c.id + " is not paused");
    auto rt = runtime_for(e->c);
    CTL_TRY(rt->resume(e->c.id));
    e->c.state.paused = false;
    e->c.state.status = "running";
    (void)persist(e->c);
    emit(e->c, "unpause");
    return ok();
}

// ---- wait -------------------------------------------------------------------------------------

Result<std::function<Json(const std::function<bool()>&)>> ContainerService::wait_container(const std::string& name,
                                                                                           const std::string& condition) {
    if (condition != "not-running" && condition != "next-exit" && condition != "removed") {
        return make_error(Errc::InvalidArgument, "invalid condition: \"" + condition + "\"");
    }
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    uint64_t exits;
    {
        std::lock_guard lock(e->mu);
        exits = e->exits;
    }
    return std::function<Json(const std::function<bool()>&)>(
        [this, e, exits, condition](const std::function<bool()>& gone) -> Json {
            std::unique_lock lock(e->mu);
            auto done = [&] {
                if (condition == "removed") return e->removed;
                if (condition == "next-exit") return e->exits != exits || e->removed;
                return (!e->c.state.running && !e->c.state.restarting) || e->removed;
            };
            while (!done()) {
                if (gone() || stopping_) return Json{{"StatusCode", -1}, {"Error", {{"Message", "wait cancelled"}}}};
                e->cv.wait_for(lock, std::chrono::milliseconds(200));
            }
            return Json{{"StatusCode", e->c.state.exit_code}, {"Error", nullptr}};
        });
}

}  // namespace ctl::container
