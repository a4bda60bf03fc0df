#include "engine/container/shim/monitor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <list>
#include <map>
#include <optional>
#include <vector>

#include "engine/base/json.hpp"
#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"
#include "engine/container/runtime/runtime.hpp"
#include "engine/container/shim/json_log.hpp"
#include "engine/container/shim/unix_socket.hpp"

namespace ctl::container::shim {

namespace {

using sys::UniqueFd;

constexpr size_t kClientCap = 1 << 20;   // queued output per client before we stop reading the container
constexpr size_t kPendingCap = 4 << 20;  // exec output kept for the first client
constexpr size_t kStdinCap = 1 << 20;    // queued input before we stop reading clients
constexpr int kDrainMs = 2000;           // after the exit: how long to wait for the pipes' EOF
constexpr int kFlushMs = 5000;           // after the exit: how long clients get to take their output
constexpr int kLingerMs = 5000;          // exec: how long output waits for its first client
constexpr int kStartTimeoutMs = 120000;  // the runtime's run/exec (hooks can be slow)

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Everything readable now, without blocking (fd must be non-blocking).
std::string read_available(int fd) {
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    return out;
}

// The 8-byte header of Docker's multiplexed stream: stream id, three zeros, big-endian length.
std::string frame_header(int stream, size_t length) {
    std::string h(8, '\0');
    h[0] = static_cast<char>(stream);
    h[4] = static_cast<char>((length >> 24) & 0xff);
    h[5] = static_cast<char>((length >> 16) & 0xff);
    h[6] = static_cast<char>((length >> 8) & 0xff);
    h[7] = static_cast<char>(length & 0xff);
    return h;
}

// The memory cgroup directory of a live process (v1 "memory" line, else the v2 "0::" line).
std::string memory_cgroup_dir(pid_t pid) {
    auto text = sys::read_file("/proc/" + std::to_string(pid) + "/cgroup");
    if (!text) return "";
    std::string v2;
    for (const auto& line : split(*text, '\n')) {
        auto first = line.find(':');
        auto second = line.find(':', first + 1);
        if (first == std::string::npos || second == std::string::npos) continue;
        std::string controllers = line.substr(first + 1, second - first - 1);
        std::string path = line.substr(second + 1);
        for (const auto& c : split(controllers, ',')) {
            if (c == "memory") return "/sys/fs/cgroup/memory" + path;
        }
        if (line.compare(0, 3, "0::") == 0) v2 = path;
    }
    if (!v2.empty() && sys::exists("/sys/fs/cgroup/cgroup.controllers")) return "/sys/fs/cgroup" + v2;
    return "";
}

// The kernel's OOM-kill counter of the cgroup: memory.oom_control (v1) or memory.events (v2).
bool oom_killed_in(const std::string& dir) {
    if (dir.empty()) return false;
    for (const char* file : {"/memory.oom_control", "/memory.events"}) {
        auto text = sys::read_file(dir + file);
        if (!text) continue;
        for (const auto& line : split(*text, '\n')) {
            if (starts_with(line, "oom_kill ")) return std::atoll(line.c_str() + 9) > 0;
        }
    }
    return false;
}

struct Source {
    int fd;      // the stdout/stderr pipe or the pty master (owned by the Monitor)
    int stream;  // 1 stdout, 2 stderr (Docker's stream ids)
    LineSplitter split;
    bool eof = false;
};

struct Client {
    UniqueFd fd;
    bool hello = false;  // the JSON line has been read
    std::string in;      // bytes before the end of the hello line
    bool want_stdin = false, want_stdout = false, want_stderr = false, raw = false, stdin_once = false;
    bool read_closed = false;
    std::string out;  // frames or raw bytes not yet sent
    bool dead = false;
};

struct Control {
    UniqueFd fd;
    std::string in;
    bool dead = false;
};

class Monitor {
public:
    Monitor(const Options& o, int ready_fd) : o_(o), ready_fd_(ready_fd) {}
    int run();

private:
    std::string path(const char* name) const { return o_.state_dir + "/" + name; }
    bool is_exec() const { return o_.mode == "exec"; }
    void report_ready(char status);
    Status setup();
    Status launch();
    void cleanup_failed_start();
    void reap();
    void poll_once(int timeout_ms, bool final_phase);
    void on_output(Source& s, std::string_view data);
    void deliver(int stream, std::string_view data);
    void add_to(Client& c, int stream, std::string_view data);
    void on_client_readable(Client& c);
    void on_control_readable(Control& c);
    std::string handle_control(const std::string& line);
    void queue_stdin(std::string_view data);
    void close_stdin();
    void flush_stdin();
    bool output_blocked() const;
    void finish();

    Options o_;
    int ready_fd_;
    runtime::Runtime rt_{runtime::RuntimeInfo{std::filesystem::path(o_.runtime).filename().string(), o_.runtime,
                                              o_.private_cgroup_mount, o_.runtime_fd},
                         o_.runtime_root};

    UniqueFd sigfd_, attach_l_, control_l_;
    std::string console_dir_;  // a short temp dir when the state dir is too long for a socket path
    std::optional<JsonFileLog> log_;
    bool log_failed_ = false;

    UniqueFd out_r_, out_w_, err_r_, err_w_, in_r_, in_w_, master_;
    std::vector<Source> sources_;
    int stdin_fd_ = -1;  // in_w_ or master_
    std::string stdin_buf_;
    bool stdin_closed_ = false;  // no more input is accepted
    bool stdin_close_pending_ = false;

    std::list<Client> clients_;
    std::list<Control> controls_;
    bool any_client_ = false;
    std::vector<std::pair<int, std::string>> pending_;
    size_t pending_size_ = 0;

    pid_t init_pid_ = 0;
    bool exited_ = false;
    int status_ = 0;
    std::map<pid_t, int> reaped_;  // children reaped before we knew which one is the init
    std::string memory_cgroup_;
};

void Monitor::report_ready(char status) {
    if (ready_fd_ < 0) return;
    (void)!::write(ready_fd_, &status, 1);
    ::close(ready_fd_);
    ready_fd_ = -1;
}

int Monitor::run() {
    if (auto st = setup(); !st) {
        (void)sys::write_file_replace(path(kStartErrorFile), "ctl-shim: " + st.error().message + "\n");
        cleanup_failed_start();
        report_ready(1);
        return 1;
    }
    if (auto st = launch(); !st) {
        (void)sys::write_file_replace(path(kStartErrorFile), st.error().message + "\n");
        cleanup_failed_start();
        report_ready(1);
        return 1;
    }
    report_ready(0);

    // Running: until the init exits.
    while (!exited_) poll_once(-1, false);
    // Draining: what the container wrote before it died is still in the pipes; the kernel has
    // killed the rest of its pid namespace before the init became reapable, so EOF is near.
    const int64_t drain_end = now_ms() + kDrainMs;
    auto all_eof = [&] {
        for (const auto& s : sources_) {
            if (!s.eof) return false;
        }
        return true;
    };
    while (!all_eof() && now_ms() < drain_end) poll_once(static_cast<int>(drain_end - now_ms()), false);
    finish();
    return 0;
}

Status Monitor::setup() {
    // SIGCHLD through a signalfd so the single poll loop sees exits; SIGPIPE off so a client going
    // away is an EPIPE, not our death.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return sys_error("sigprocmask");
    sigfd_.reset(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!sigfd_.valid()) return sys_error("signalfd");
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);

    if (!is_exec()) {
        auto log = JsonFileLog::open(o_.log_path, o_.log_max_size, o_.log_max_file);
        if (!log) return std::move(log).error();
        log_.emplace(std::move(*log));
    }
    CTL_ASSIGN_OR_RETURN(attach_l_, listen_unix(path(kAttachSocket)));
    CTL_ASSIGN_OR_RETURN(control_l_, listen_unix(path(kControlSocket)));

    if (!o_.tty) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) return sys_error("pipe");
        out_r_.reset(p[0]);
        out_w_.reset(p[1]);
        if (::pipe2(p, O_CLOEXEC) != 0) return sys_error("pipe");
        err_r_.reset(p[0]);
        err_w_.reset(p[1]);
        set_nonblocking(out_r_.get());
        set_nonblocking(err_r_.get());
    }
    if (o_.open_stdin && !o_.tty) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) return sys_error("pipe");
        in_r_.reset(p[0]);
        in_w_.reset(p[1]);
        set_nonblocking(in_w_.get());
    }
    return ok();
}

Status Monitor::launch() {
    const std::string runtime_log = path(kRuntimeLogFile);
    ::unlink(runtime_log.c_str());
    // The runtime writes the host pid of the process straight into init.pid (write + rename).
    std::vector<std::string> argv = rt_.argv_prefix();
    argv.insert(argv.end(), {"--log", runtime_log});
    if (is_exec()) {
        argv.insert(argv.end(), {"exec", "--detach", "--pid-file", path(kInitPidFile), "--process", o_.process});
    } else {
        argv.insert(argv.end(), {"run", "--detach", "--bundle", o_.bundle, "--pid-file", path(kInitPidFile)});
    }

    UniqueFd console_l;
    std::string console_path;
    if (o_.tty) {
        // The runtime connects here and passes the pty master (SCM_RIGHTS). Unlike attach.sock the
        // runtime gets this path, so it must fit sun_path as is.
        console_path = path("console.sock");
        if (console_path.size() >= 100) {
            char tmpl[] = "/tmp/ctl-shim-XXXXXX";
            if (::mkdtemp(tmpl) == nullptr) return sys_error("mkdtemp");
            console_dir_ = tmpl;
            console_path = console_dir_ + "/console.sock";
        }
        CTL_ASSIGN_OR_RETURN(console_l, listen_unix(console_path));
        argv.insert(argv.end(), {"--console-socket", console_path});
    }
    argv.push_back(o_.id);

    // Without a tty the runtime's stdio are the container's (runc and crun pass them through), so
    // nothing is read from the pipes until the runtime succeeded: a failing runtime's own stderr
    // is its error message, not container output.
    runtime::SpawnOptions so;
    so.stdin_fd = in_r_.get();
    so.stdout_fd = out_w_.get();
    so.stderr_fd = err_w_.get();
    so.private_cgroup_mount = o_.private_cgroup_mount;
    so.new_process_group = true;
    so.exec_fd = rt_.info().exec_fd;
    auto spawned = runtime::spawn(argv, so);
    if (!spawned) return with_context(std::move(spawned).error(), "runtime " + rt_.info().name);
    const pid_t rt_pid = *spawned;
    in_r_.reset();
    out_w_.reset();
    err_w_.reset();

    UniqueFd console_conn;
    const int64_t deadline = now_ms() + kStartTimeoutMs;
    while (!reaped_.count(rt_pid)) {
        std::vector<pollfd> fds = {{sigfd_.get(), POLLIN, 0}};
        if (console_l.valid() && !console_conn.valid()) fds.push_back({console_l.get(), POLLIN, 0});
        if (console_conn.valid() && !master_.valid()) fds.push_back({console_conn.get(), POLLIN, 0});
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            ::kill(-rt_pid, SIGKILL);
            int st;
            while (::waitpid(rt_pid, &st, 0) < 0 && errno == EINTR) {
            }
            return make_error(Errc::DeadlineExceeded, "runtime " + rt_.info().name + ": timed out starting the process");
        }
        if (::poll(fds.data(), fds.size(), static_cast<int>(left)) < 0 && errno != EINTR) return sys_error("poll");
        for (const auto& p : fds) {
            if (!p.revents) continue;
            if (p.fd == sigfd_.get()) {
                reap();
            } else if (p.fd == console_l.get()) {
                console_conn.reset(::accept4(console_l.get(), nullptr, nullptr, SOCK_CLOEXEC));
            } else if (auto m = recv_fd(console_conn.get()); m) {
                master_ = std::move(*m);
            } else {
                console_conn.reset();  // the runtime went away without sending; it will fail
            }
        }
    }
    // The runtime may have exited before we took the master it queued on the socket.
    if (o_.tty && !master_.valid()) {
        if (!console_conn.valid()) console_conn.reset(::accept4(console_l.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (console_conn.valid()) {
            pollfd p{console_conn.get(), POLLIN, 0};
            if (::poll(&p, 1, 1000) > 0) {
                if (auto m = recv_fd(console_conn.get()); m) master_ = std::move(*m);
            }
        }
    }
    console_conn.reset();
    console_l.reset();
    if (o_.tty) ::unlink(console_path.c_str());
    if (!console_dir_.empty()) ::rmdir(console_dir_.c_str());

    const int rt_status = reaped_[rt_pid];
    reaped_.erase(rt_pid);
    if (!WIFEXITED(rt_status) || WEXITSTATUS(rt_status) != 0) {
        std::string msg = runtime::runtime_message(sys::read_file(runtime_log).value_or(""));
        if (msg.empty() && err_r_.valid()) msg = runtime::runtime_message(read_available(err_r_.get()));
        if (msg.empty()) {
            msg = rt_.info().name + (WIFEXITED(rt_status) ? " exited with status " + std::to_string(WEXITSTATUS(rt_status))
                                                          : " was killed by signal " + std::to_string(WTERMSIG(rt_status)));
        }
        return make_error(Errc::Internal, msg);
    }
    auto pid_text = sys::read_file(path(kInitPidFile));
    init_pid_ = pid_text ? std::atoi(trim(*pid_text).c_str()) : 0;
    if (init_pid_ <= 0) return make_error(Errc::Internal, "runtime " + rt_.info().name + " wrote no pid file");
    if (o_.tty && !master_.valid()) {
        return make_error(Errc::Internal, "runtime " + rt_.info().name + " did not pass the console");
    }

    if (!is_exec()) memory_cgroup_ = memory_cgroup_dir(init_pid_);
    if (auto it = reaped_.find(init_pid_); it != reaped_.end()) {  // it was quicker than us
        exited_ = true;
        status_ = it->second;
    }
    reaped_.clear();

    if (o_.tty) {
        set_nonblocking(master_.get());
        sources_.push_back(Source{master_.get(), 1, {}});
        if (o_.open_stdin) stdin_fd_ = master_.get();
    } else {
        sources_.push_back(Source{out_r_.get(), 1, {}});
        sources_.push_back(Source{err_r_.get(), 2, {}});
        stdin_fd_ = in_w_.get();
    }
    if (stdin_fd_ < 0) stdin_closed_ = true;
    return ok();
}

void Monitor::cleanup_failed_start() {
    // A failed `run` may still have left a created container in the runtime's state.
    if (!is_exec() && !o_.runtime.empty()) (void)rt_.remove(o_.id, true);
    ::unlink(path(kAttachSocket).c_str());
    ::unlink(path(kControlSocket).c_str());
}

void Monitor::reap() {
    signalfd_siginfo info;
    while (::read(sigfd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    }
    // As the subreaper we inherit every orphan below us: reap them all, remember the init.
    int st;
    for (pid_t pid; (pid = ::waitpid(-1, &st, WNOHANG)) > 0;) {
        if (init_pid_ > 0 && pid == init_pid_) {
            exited_ = true;
            status_ = st;
        } else if (init_pid_ == 0) {
            reaped_[pid] = st;
        }
    }
}

bool Monitor::output_blocked() const {
    if (pending_size_ >= kPendingCap) return true;
    for (const auto& c : clients_) {
        if (c.hello && c.out.size() >= kClientCap) return true;
    }
    return false;
}

void Monitor::poll_once(int timeout_ms, bool final_phase) {
    enum Kind { Signal, AttachListen, ControlListen, Output, Stdin, ClientFd, ControlFd };
    std::vector<pollfd> fds;
    std::vector<std::pair<Kind, void*>> what;
    auto add = [&](int fd, short events, Kind k, void* p = nullptr) {
        fds.push_back({fd, events, 0});
        what.emplace_back(k, p);
    };
    add(sigfd_.get(), POLLIN, Signal);
    if (attach_l_.valid()) add(attach_l_.get(), POLLIN, AttachListen);
    if (control_l_.valid()) add(control_l_.get(), POLLIN, ControlListen);
    if (!final_phase && !output_blocked()) {
        for (auto& s : sources_) {
            if (!s.eof) add(s.fd, POLLIN, Output, &s);
        }
    }
    if (stdin_fd_ >= 0 && !stdin_buf_.empty()) add(stdin_fd_, POLLOUT, Stdin);
    for (auto& c : clients_) {
        short ev = 0;
        if (!c.read_closed && (!c.hello || stdin_buf_.size() < kStdinCap)) ev |= POLLIN;
        if (!c.out.empty()) ev |= POLLOUT;
        if (ev) add(c.fd.get(), ev, ClientFd, &c);
    }
    for (auto& c : controls_) add(c.fd.get(), POLLIN, ControlFd, &c);

    int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n <= 0) return;
    for (size_t i = 0; i < fds.size(); ++i) {
        const short rev = fds[i].revents;
        if (!rev) continue;
        auto [kind, ptr] = what[i];
        switch (kind) {
            case Signal:
                reap();
                break;
            case AttachListen:
                for (int fd; (fd = ::accept4(attach_l_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0;) {
                    clients_.emplace_back().fd.reset(fd);
                }
                break;
            case ControlListen:
                for (int fd; (fd = ::accept4(control_l_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0;) {
                    controls_.emplace_back().fd.reset(fd);
                }
                break;
            case Output: {
                auto& s = *static_cast<Source*>(ptr);
                char buf[65536];
                ssize_t r = ::read(s.fd, buf, sizeof buf);
                if (r > 0) {
                    on_output(s, std::string_view(buf, static_cast<size_t>(r)));
                } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    s.eof = true;  // EOF on a pipe; EIO on a pty master once every slave fd is closed
                }
                break;
            }
            case Stdin:
                flush_stdin();
                break;
            case ClientFd: {
                auto& c = *static_cast<Client*>(ptr);
                if (rev & (POLLIN | POLLHUP | POLLERR)) on_client_readable(c);
                if (!c.dead && (rev & POLLOUT) && !c.out.empty()) {
                    ssize_t w = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
                    if (w > 0) {
                        c.out.erase(0, static_cast<size_t>(w));
                    } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                        c.dead = true;
                    }
                }
                break;
            }
            case ControlFd:
                on_control_readable(*static_cast<Control*>(ptr));
                break;
        }
    }
    clients_.remove_if([](const Client& c) { return c.dead; });
    controls_.remove_if([](const Control& c) { return c.dead; });
}

void Monitor::on_output(Source& s, std::string_view data) {
    if (log_) {
        const int64_t now = now_unix_nanos();
        const char* stream = s.stream == 2 ? "stderr" : "stdout";
        s.split.feed(data, [&](std::string_view line) {
            if (auto st = log_->write(stream, line, now); !st && !log_failed_) {
                log_failed_ = true;  // disk full or gone: keep the container and its clients going
                (void)sys::write_all(2, "ctl-shim: " + st.error().message + "\n");
            }
        });
    }
    deliver(s.stream, data);
}

void Monitor::deliver(int stream, std::string_view data) {
    if (is_exec() && !any_client_) {
        // Exec output exists only for attach clients: keep it for the first one.
        if (o_.detach) return;
        pending_.emplace_back(stream, std::string(data));
        pending_size_ += data.size();
        return;
    }
    for (auto& c : clients_) {
        if (c.hello && !c.dead) add_to(c, stream, data);
    }
}

void Monitor::add_to(Client& c, int stream, std::string_view data) {
    if ((stream == 1 && !c.want_stdout) || (stream == 2 && !c.want_stderr) || data.empty()) return;
    if (!c.raw) c.out += frame_header(stream, data.size());
    c.out.append(data);
}

void Monitor::on_client_readable(Client& c) {
    char buf[65536];
    ssize_t r = ::read(c.fd.get(), buf, sizeof buf);
    if (r < 0) {
        if (errno != EAGAIN && errno != EINTR) c.dead = true;
        return;
    }
    if (r == 0) {
        c.read_closed = true;
        if (!c.hello) {
            c.dead = true;
            return;
        }
        // StdinOnce: the client that asked for it finished its input, so the container's does too.
        if (c.want_stdin && c.stdin_once) close_stdin();
        if (!c.want_stdout && !c.want_stderr && c.out.empty()) c.dead = true;  // nothing left to give it
        return;
    }
    std::string_view data(buf, static_cast<size_t>(r));
    if (!c.hello) {
        c.in.append(data);
        auto nl = c.in.find('\n');
        if (nl == std::string::npos) {
            if (c.in.size() > 4096) c.dead = true;
            return;
        }
        try {
            Json h = Json::parse(c.in.substr(0, nl));
            auto flag = [&](const char* k) { return h.contains(k) && h[k].is_boolean() && h[k].get<bool>(); };
            c.want_stdin = flag("stdin");
            c.want_stdout = flag("stdout");
            c.want_stderr = flag("stderr");
            c.raw = o_.tty || flag("tty");
            c.stdin_once = flag("stdin_once");
        } catch (const Json::exception&) {
            c.dead = true;
            return;
        }
        c.hello = true;
        std::string rest = c.in.substr(nl + 1);
        c.in.clear();
        if (is_exec() && !any_client_) {
            for (const auto& [stream, bytes] : pending_) add_to(c, stream, bytes);
            pending_.clear();
            pending_size_ = 0;
        }
        any_client_ = true;
        if (c.want_stdin && !rest.empty()) queue_stdin(rest);
        return;
    }
    if (c.want_stdin) queue_stdin(data);
}

void Monitor::queue_stdin(std::string_view data) {
    if (stdin_closed_) return;  // no stdin (not --stdin), or closed: Docker drops such input too
    stdin_buf_.append(data);
    flush_stdin();
}

void Monitor::flush_stdin() {
    while (stdin_fd_ >= 0 && !stdin_buf_.empty()) {
        ssize_t w = ::write(stdin_fd_, stdin_buf_.data(), stdin_buf_.size());
        if (w > 0) {
            stdin_buf_.erase(0, static_cast<size_t>(w));
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        } else {
            stdin_buf_.clear();  // the reader is gone (EPIPE) or the pty hung up
            stdin_closed_ = true;
        }
    }
    if (stdin_buf_.empty() && stdin_close_pending_ && in_w_.valid()) {
        in_w_.reset();
        stdin_fd_ = -1;
    }
}

void Monitor::close_stdin() {
    if (stdin_closed_) return;
    stdin_closed_ = true;
    if (o_.tty) {
        // A pty has no half-close: the EOF character ends a canonical-mode read the same way.
        stdin_buf_ += '\x04';
        flush_stdin();
        return;
    }
    stdin_close_pending_ = true;  // after what is already queued
    flush_stdin();
}

void Monitor::on_control_readable(Control& c) {
    char buf[4096];
    ssize_t r = ::read(c.fd.get(), buf, sizeof buf);
    if (r <= 0) {
        if (r == 0 || (errno != EAGAIN && errno != EINTR)) c.dead = true;
        return;
    }
    c.in.append(buf, static_cast<size_t>(r));
    for (size_t nl; (nl = c.in.find('\n')) != std::string::npos;) {
        std::string reply = handle_control(c.in.substr(0, nl)) + "\n";
        c.in.erase(0, nl + 1);
        (void)::send(c.fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (c.in.size() > 65536) c.dead = true;
}

// {"resize":{"height":H,"width":W}} or {"close_stdin":true}; answers {"ok":true} or {"error":"..."}.
std::string Monitor::handle_control(const std::string& line) {
    auto fail = [](const std::string& msg) { return Json{{"error", msg}}.dump(); };
    Json req;
    try {
        req = Json::parse(line);
    } catch (const Json::exception& e) {
        return fail(std::string("bad request: ") + e.what());
    }
    if (!req.is_object()) return fail("bad request: not an object");
    if (req.contains("resize")) {
        const Json& r = req["resize"];
        if (!master_.valid()) return fail("not a tty");
        if (!r.is_object() || !r.value("height", Json()).is_number_unsigned() ||
            !r.value("width", Json()).is_number_unsigned()) {
            return fail("resize needs height and width");
        }
        struct winsize ws {};
        ws.ws_row = static_cast<unsigned short>(r["height"].get<unsigned>());
        ws.ws_col = static_cast<unsigned short>(r["width"].get<unsigned>());
        if (::ioctl(master_.get(), TIOCSWINSZ, &ws) != 0) return fail(sys_error("TIOCSWINSZ").message);
        return Json{{"ok", true}}.dump();
    }
    if (req.value("close_stdin", false)) {
        close_stdin();
        return Json{{"ok", true}}.dump();
    }
    return fail("unknown request");
}

void Monitor::finish() {
    // Unterminated last lines go out without "\n", as Docker writes them.
    for (auto& s : sources_) {
        if (log_) {
            const char* stream = s.stream == 2 ? "stderr" : "stdout";
            s.split.flush([&](std::string_view line) { (void)log_->write(stream, line, now_unix_nanos()); });
        }
        s.eof = true;
    }
    int code = 255, signal = 0;
    if (WIFEXITED(status_)) {
        code = WEXITSTATUS(status_);
    } else if (WIFSIGNALED(status_)) {
        signal = WTERMSIG(status_);
        code = 128 + signal;  // Docker's convention: 137 for SIGKILL
    }
    Json exit = {{"exit_code", code},
                 {"signal", signal},
                 {"oom_killed", oom_killed_in(memory_cgroup_)},
                 {"finished_at", rfc3339_nano(now_unix_nanos())},
                 {"pid", init_pid_}};
    // ctld acts on exit.json at once (inotify); the runtime's delete below is ours, after the
    // attached clients got their last output, and ctld waits for our exit before a new run.
    (void)sys::write_file_replace(path(kExitFile), exit.dump() + "\n");

    control_l_.reset();
    ::unlink(path(kControlSocket).c_str());
    controls_.clear();
    // Exec output nobody has fetched yet waits a little for the client ctld is about to connect.
    const bool linger = is_exec() && !o_.detach && !any_client_ && pending_size_ > 0;
    if (!linger) {
        attach_l_.reset();
        ::unlink(path(kAttachSocket).c_str());
    }
    const int64_t end = now_ms() + (linger ? kLingerMs : 0) + kFlushMs;
    while (now_ms() < end) {
        if (attach_l_.valid() && any_client_) {
            attach_l_.reset();
            ::unlink(path(kAttachSocket).c_str());
        }
        // Clients still waiting for output get it; those that never said hello are closed.
        bool busy = attach_l_.valid();
        for (auto& c : clients_) {
            if (!c.hello && !attach_l_.valid()) c.dead = true;
            if (!c.dead && (!c.out.empty() || !c.hello)) busy = true;
        }
        clients_.remove_if([](const Client& c) { return c.dead; });
        if (!busy) break;
        poll_once(static_cast<int>(std::min<int64_t>(end - now_ms(), 100)), true);
    }
    attach_l_.reset();
    ::unlink(path(kAttachSocket).c_str());
    clients_.clear();
    // No runtime state stays behind (ctld skips its own delete when exit.json exists).
    if (!is_exec()) (void)rt_.remove(o_.id, true);
}

}  // namespace

int run_monitor(const Options& options, int ready_fd) { return Monitor(options, ready_fd).run(); }

}  // namespace ctl::container::shim
