// Logs (json-file), attach, exec, top and resize.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/base/log.hpp"
#include "engine/container/internal/process.hpp"
#include "engine/container/shim/unix_socket.hpp"
#include "engine/base/sys.hpp"
#include "engine/container/container_service.hpp"
#include "engine/container/internal/config_merge.hpp"
#include "engine/container/spec/oci_spec.hpp"

namespace ctl::container {

int connect_shim_socket(const std::string& path) {
    auto fd = shim::connect_unix(path);
    return fd ? fd->release() : -1;
}

namespace {

// Docker's stream framing: [stream, 0, 0, 0, size (uint32 big endian)] + payload.
std::string frame(int stream, const std::string& payload) {
    std::string out(8, '\0');
    out[0] = static_cast<char>(stream);
    uint32_t n = static_cast<uint32_t>(payload.size());
    out[4] = static_cast<char>((n >> 24) & 0xff);
    out[5] = static_cast<char>((n >> 16) & 0xff);
    out[6] = static_cast<char>((n >> 8) & 0xff);
    out[7] = static_cast<char>(n & 0xff);
    return out + payload;
}

struct LogEntry {
    std::string log, stream, time;
    int64_t time_ns = 0;
};

bool parse_log_line(const std::string& line, LogEntry& out) {
    auto j = parse_json(line);
    if (!j || !j->is_object()) return false;
    out.log = string_or(*j, "log", "");
    out.stream = string_or(*j, "stream", "stdout");
    out.time = string_or(*j, "time", "");
    out.time_ns = parse_timestamp(out.time);
    return true;
}


bool write_fd(int fd, const std::string& data) { return static_cast<bool>(sys::write_all(fd, data)); }

// Copies fd `from` to fd `to` until EOF or error; then half-closes `to` for writing.
void copy_until_eof(int from, int to) {
    char buf[32 * 1024];
    for (;;) {
        ssize_t n = ::read(from, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (!sys::write_all(to, std::string_view(buf, static_cast<size_t>(n)))) break;
    }
    ::shutdown(to, SHUT_WR);
}

// Runs argv and returns its stdout (no shell: arguments are data).
Result<std::string> run_capture(const std::vector<std::string>& argv) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return make_error(Errc::Internal, "pipe failed");
    pid_t pid = ::fork();
    if (pid < 0) return make_error(Errc::Internal, "fork failed");
    if (pid == 0) {
        ::dup2(pipefd[1], 1);
        int devnull = ::open("/dev/null", O_RDWR);
        if (devnull >= 0) ::dup2(devnull, 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        _exit(127);
    }
    ::close(pipefd[1]);
    std::string out;
    char buf[8192];
    ssize_t n;
    while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
        if (n > 0) out.append(buf, static_cast<size_t>(n));
    }
    ::close(pipefd[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return make_error(Errc::InvalidArgument, "ps failed (exit " + std::to_string(WEXITSTATUS(status)) + ")");
    }
    return out;
}

}  // namespace

// ---- logs -------------------------------------------------------------------------------------

Result<bool> ContainerService::logs_tty(const std::string& name) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    std::lock_guard lock(e->mu);
    std::string type = string_or(e->c.host_config["LogConfig"], "Type", "json-file");
    if (type != "json-file" && type != "local") {
        return make_error(Errc::NotImplemented,
                          "configured logging driver does not support reading: " + type);
    }
    return bool_or(e->c.config, "Tty", false);
}

Status ContainerService::logs(const std::string& name, const api::LogsOptions& o,
                              const std::function<bool(const std::string&)>& sink, const std::function<bool()>& gone) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    std::string path;
    bool tty;
    {
        std::lock_guard lock(e->mu);
        path = e->c.log_path;
        tty = bool_or(e->c.config, "Tty", false);
    }
    auto emit_entry = [&](const LogEntry& entry) -> bool {
        if (entry.stream == "stdout" && !o.stdout_stream) return true;
        if (entry.stream == "stderr" && !o.stderr_stream) return true;
        if (o.since_ns > 0 && entry.time_ns < o.since_ns) return true;
        if (o.until_ns > 0 && entry.time_ns > o.until_ns) return true;
        std::string payload = (o.timestamps ? entry.time + " " : "") + entry.log;
        return sink(tty ? payload : frame(entry.stream == "stderr" ? 2 : 1, payload));
    };

    // What is already there: rotated files oldest first, then the live one.
    std::vector<std::string> files;
    for (int i = 20; i >= 1; --i) {
        std::string rotated = path + "." + std::to_string(i);
        if (sys::exists(rotated)) files.push_back(rotated);
    }
    files.push_back(path);
    std::deque<LogEntry> tail;
    bool tail_mode = o.tail >= 0;
    std::streamoff live_offset = 0;
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        std::string line;
        while (std::getline(in, line)) {
            LogEntry entry;
            if (!parse_log_line(line, entry)) continue;
            if (tail_mode) {
                if (o.tail == 0) continue;
                tail.push_back(std::move(entry));
                if (static_cast<int64_t>(tail.size()) > o.tail) tail.pop_front();
            } else if (!emit_entry(entry)) {
                return ok();
            }
        }
        if (f == path) {
            in.clear();
            live_offset = in.tellg();
            if (live_offset < 0) live_offset = 0;
        }
    }
    for (const auto& entry : tail) {
        if (!emit_entry(entry)) return ok();
    }
    if (!o.follow) return ok();

    // Follow: read what the shim appends until the container is stopped and the file drained.
    std::ifstream in(path, std::ios::binary);
    in.seekg(live_offset);
    struct stat st0 {};
    ::stat(path.c_str(), &st0);
    std::string partial;
    for (;;) {
        if (gone() || stopping_) return ok();
        bool running;
        {
            std::lock_guard lock(e->mu);
            running = (e->c.state.running || e->c.state.restarting) && !e->removed;
        }
        std::string line;
        bool any = false;
        while (std::getline(in, line)) {
            if (in.eof()) {  // no newline yet: the shim is mid-write
                partial += line;
                break;
            }
            any = true;
            LogEntry entry;
            if (parse_log_line(partial + line, entry) && !emit_entry(entry)) return ok();
            partial.clear();
        }
        in.clear();
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && (st.st_ino != st0.st_ino || st.st_size < in.tellg())) {
            // Rotated: the rest is in the new file from its start.
            in.close();
            in.open(path, std::ios::binary);
            st0 = st;
            partial.clear();
            continue;
        }
        if (!running && !any) return ok();
        if (o.until_ns > 0 && now_unix_nanos() > o.until_ns) return ok();
        std::this_thread::sleep_for(std::chrono::milliseconds(any ? 0 : 25));
    }
}

// ---- attach -----------------------------------------------------------------------------------

Result<bool> ContainerService::attach_check(const std::string& name) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    std::lock_guard lock(e->mu);
    if (e->c.state.paused) return make_error(Errc::Conflict, "You cannot attach to a paused container, unpause it first");
    return bool_or(e->c.config, "Tty", false);
}

void ContainerService::attach(const std::string& name, const api::AttachOptions& o, api::HijackedConnection conn) {
    auto found = find(name);
    if (!found) {
        ::close(conn.fd);
        return;
    }
    auto e = *found;
    // Output comes from the container's log (complete from the first byte even when the client
    // attached before start); stdin goes to the shim's attach socket.
    api::LogsOptions lo;
    lo.stdout_stream = o.stdout_stream;
    lo.stderr_stream = o.stderr_stream;
    lo.follow = o.stream;
    std::string path;
    bool open_stdin;
    bool stdin_once;
    uint64_t starts;
    {
        std::lock_guard lock(e->mu);
        path = e->c.log_path;
        open_stdin = bool_or(e->c.config, "OpenStdin", false);
        stdin_once = bool_or(e->c.config, "StdinOnce", false);
        starts = e->starts;
    }
    // Only what is written from now on, unless logs=1.
    int64_t since = o.logs ? 0 : now_unix_nanos();
    lo.since_ns = since;

    int client = conn.fd;
    std::thread input;
    if (o.stdin_stream && open_stdin) {
        std::string pre = conn.prebuffered;
        input = std::thread([this, e, client, pre, stdin_once, starts] {
            // Wait for the container to be running (attach may come before start).
            std::string sock;
            {
                std::unique_lock lock(e->mu);
                e->cv.wait_for(lock, std::chrono::seconds(60),
                               [&] { return e->c.state.running || e->removed || e->starts != starts || stopping_; });
                if (!e->c.state.running) return;
                sock = state_dir(e->c.id) + "/attach.sock";
            }
            int fd = connect_shim_socket(sock);
            if (fd < 0) return;
            Json hello = {{"stdin", true}, {"stdout", false}, {"stderr", false}, {"stdin_once", stdin_once}};
            if (write_fd(fd, hello.dump() + "\n") && (pre.empty() || write_fd(fd, pre))) copy_until_eof(client, fd);
            ::close(fd);
        });
    }
    if (o.stdout_stream || o.stderr_stream) {
        if (o.stream) {
            // Not started yet: wait for the start, so the follow does not end at once.
            std::unique_lock lock(e->mu);
            e->cv.wait_for(lock, std::chrono::seconds(60), [&] {
                return e->c.state.running || e->c.state.restarting || e->removed || e->starts != starts || stopping_;
            });
        }
        lo.since_ns = since;
        (void)logs(e->c.id, lo, [client](const std::string& bytes) { return write_fd(client, bytes); },
                   [] { return false; });
    } else if (o.stream) {
        std::unique_lock lock(e->mu);
        e->cv.wait(lock, [&] { return (!e->c.state.running && e->starts != starts) || e->removed || stopping_; });
    }
    ::shutdown(client, SHUT_RDWR);
    if (input.joinable()) input.join();
    ::close(client);
}

// ---- exec -------------------------------------------------------------------------------------

Result<std::shared_ptr<ContainerService::Exec>> ContainerService::find_exec(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = execs_.find(id);
    if (it == execs_.end()) return make_error(Errc::NotFound, "No such exec instance: " + id);
    return it->second;
}

Result<Json> ContainerService::create_exec(const std::string& name, const Json& body) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    const Json* cmd = find_ci(body, "Cmd");
    if (!cmd || !cmd->is_array() || cmd->empty()) return make_error(Errc::InvalidArgument, "No exec command specified");
    std::lock_guard lock(e->mu);
    if (!e->c.state.running) return make_error(Errc::Conflict, "Container " + e->c.id + " is not running");
    if (e->c.state.paused) return make_error(Errc::Conflict, "Container " + e->c.id + " is paused, unpause the container before exec");
    auto x = std::make_shared<Exec>();
    x->id = random_hex_id();
    x->container_id = e->c.id;
    x->config = body;
    x->state_dir = options_.exec_root + "/execs/" + x->id;
    e->exec_ids.push_back(x->id);
    {
        std::lock_guard l(mu_);
        execs_[x->id] = x;
    }
    emit(e->c, "exec_create: " + cmd->dump(), {{"execID", x->id}});
    return Json{{"Id", x->id}};
}

Result<bool> ContainerService::exec_check(const std::string& exec_id, const Json& body) {
    CTL_ASSIGN_OR_RETURN(auto x, find_exec(exec_id));
    std::lock_guard lock(x->mu);
    if (x->started) return make_error(Errc::Conflict, "Error: Exec command " + exec_id + " has already run");
    bool tty = bool_or(x->config, "Tty", false);
    if (body.contains("Tty")) tty = bool_or(body, "Tty", tty);
    return tty;
}

Status ContainerService::start_exec_detached(const std::string& exec_id, const Json& body) {
    CTL_ASSIGN_OR_RETURN(auto x, find_exec(exec_id));
    (void)body;
    std::unique_lock lock(x->mu);
    if (x->started) return make_error(Errc::Conflict, "Error: Exec command " + exec_id + " has already run");
    x->started = true;
    auto e = find(x->container_id);
    if (!e) return e.error();
    Container c;
    {
        std::lock_guard el((*e)->mu);
        if (!(*e)->c.state.running) return make_error(Errc::Conflict, "Container " + x->container_id + " is not running");
        c = (*e)->c;
    }
    auto rootfs = driver_.mount(c.rw_layer);
    if (!rootfs) return rootfs.error();
    spec::SpecInputs in;
    in.config = c.config;
    in.host_config = c.host_config;
    in.rootfs = *rootfs;
    in.nofile_hard_limit = options_.nofile_hard_limit;
    auto process = spec::build_exec_process(in, x->config);
    (void)driver_.unmount(c.rw_layer);
    if (!process) return process.error();
    x->process = *process;
    CTL_TRY(sys::mkdir_all(x->state_dir, 0700));
    CTL_TRY(sys::write_file_replace(x->state_dir + "/process.json", process->dump()));
    const auto* info = runtime_info(c.runtime);
    if (!info) return make_error(Errc::Internal, "no runtime for container");
    std::vector<std::string> argv = {options_.shim_binary, "exec", "--id", c.id, "--exec-id", x->id,
                                     "--process", x->state_dir + "/process.json", "--state-dir", x->state_dir};
    add_shim_runtime_args(argv, *info);
    if (bool_or(x->config, "Tty", false)) argv.push_back("--tty");
    if (bool_or(x->config, "AttachStdin", false)) argv.push_back("--stdin");
    const int rc = internal::run_and_wait(argv, info->exec_fd);
    if (rc != 0) {
        std::string why = sys::read_file(x->state_dir + "/start-error").value_or("exec failed");
        x->exit_code = why.find("not found") != std::string::npos || why.find("no such file") != std::string::npos ? 127 : 126;
        (void)sys::remove_all(x->state_dir);
        x->cv.notify_all();
        return make_error(Errc::Internal, "OCI runtime exec failed: " + trim(why) + ": unknown");
    }
    auto pid_text = sys::read_file(x->state_dir + "/init.pid");
    auto shim_text = sys::read_file(x->state_dir + "/shim.pid");
    x->pid = pid_text ? std::atoi(pid_text->c_str()) : 0;
    x->shim_pid = shim_text ? std::atoi(shim_text->c_str()) : 0;
    x->running = true;
    lock.unlock();
    watch("e:" + x->id, x->shim_pid);
    emit(c, "exec_start: " + (x->config.contains("Cmd") ? x->config["Cmd"].dump() : std::string()), {{"execID", x->id}});
    return ok();
}

void ContainerService::start_exec_attached(const std::string& exec_id, const Json& body, api::HijackedConnection conn) {
    int client = conn.fd;
    auto st = start_exec_detached(exec_id, body);
    auto x = find_exec(exec_id);
    if (!st || !x) {
        std::string msg = !st ? st.error().message : "no such exec";
        write_fd(client, frame(2, msg + "\r\n"));
        ::close(client);
        return;
    }
    int fd = connect_shim_socket((*x)->state_dir + "/attach.sock");
    if (fd >= 0) {
        bool tty = bool_or((*x)->config, "Tty", false);
        bool in = bool_or((*x)->config, "AttachStdin", false);
        Json hello = {{"stdin", in},
                      {"stdout", bool_or((*x)->config, "AttachStdout", true)},
                      {"stderr", bool_or((*x)->config, "AttachStderr", true)},
                      {"tty", tty},
                      {"stdin_once", true}};
        write_fd(fd, hello.dump() + "\n");
        std::thread input;
        if (in) {
            std::string pre = conn.prebuffered;
            input = std::thread([client, fd, pre] {
                if (pre.empty() || write_fd(fd, pre)) copy_until_eof(client, fd);
            });
        }
        char buf[32 * 1024];
        for (;;) {
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            if (!sys::write_all(client, std::string_view(buf, static_cast<size_t>(n)))) break;
        }
        // The exit code must be visible to the inspect the client sends next.
        {
            std::unique_lock lock((*x)->mu);
            (*x)->cv.wait_for(lock, std::chrono::seconds(10), [&] { return !(*x)->running; });
        }
        ::shutdown(client, SHUT_RDWR);
        ::shutdown(fd, SHUT_RDWR);
        if (input.joinable()) input.join();
        ::close(fd);
    }
    ::close(client);
}

Result<Json> ContainerService::inspect_exec(const std::string& exec_id) {
    CTL_ASSIGN_OR_RETURN(auto x, find_exec(exec_id));
    std::lock_guard lock(x->mu);
    const Json& cfg = x->config;
    std::vector<std::string> cmd;
    if (cfg.contains("Cmd") && cfg["Cmd"].is_array()) {
        for (const auto& v : cfg["Cmd"]) {
            if (v.is_string()) cmd.push_back(v.get<std::string>());
        }
    }
    Json args = Json::array();
    for (size_t i = 1; i < cmd.size(); ++i) args.push_back(cmd[i]);
    return Json{{"ID", x->id},
                {"Running", x->running},
                {"ExitCode", x->exit_code < 0 ? Json(nullptr) : Json(x->exit_code)},
                {"ProcessConfig",
                 {{"tty", bool_or(cfg, "Tty", false)},
                  {"entrypoint", cmd.empty() ? "" : cmd[0]},
                  {"arguments", args},
                  {"privileged", bool_or(cfg, "Privileged", false)},
                  {"user", string_or(cfg, "User", "")}}},
                {"OpenStdin", bool_or(cfg, "AttachStdin", false)},
                {"OpenStderr", bool_or(cfg, "AttachStderr", false)},
                {"OpenStdout", bool_or(cfg, "AttachStdout", false)},
                {"CanRemove", false},
                {"ContainerID", x->container_id},
                {"DetachKeys", string_or(cfg, "DetachKeys", "")},
                {"Pid", x->pid}};
}

// ---- resize / top -----------------------------------------------------------------------------

namespace {
Status send_resize(const std::string& control_sock, int height, int width) {
    int fd = connect_shim_socket(control_sock);
    if (fd < 0) return make_error(Errc::Conflict, "cannot resize: the process is not running");
    Json msg = {{"resize", {{"height", height}, {"width", width}}}};
    bool okay = write_fd(fd, msg.dump() + "\n");
    ::close(fd);
    return okay ? ok() : make_error(Errc::Internal, "resize failed");
}
}  // namespace

Status ContainerService::resize_container(const std::string& name, int height, int width) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    std::string sock;
    {
        std::lock_guard lock(e->mu);
        if (!e->c.state.running) return make_error(Errc::Conflict, "Container " + e->c.id + " is not running");
        sock = state_dir(e->c.id) + "/control.sock";
    }
    return send_resize(sock, height, width);
}

Status ContainerService::resize_exec(const std::string& exec_id, int height, int width) {
    CTL_ASSIGN_OR_RETURN(auto x, find_exec(exec_id));
    std::string sock;
    {
        std::lock_guard lock(x->mu);
        sock = x->state_dir + "/control.sock";
    }
    return send_resize(sock, height, width);
}

Result<Json> ContainerService::top_container(const std::string& name, const std::string& ps_args) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    std::unique_ptr<runtime::Runtime> rt;
    std::string id;
    {
        std::lock_guard lock(e->mu);
        if (!e->c.state.running) return make_error(Errc::Conflict, "Container " + e->c.id + " is not running");
        rt = runtime_for(e->c);
        id = e->c.id;
    }
    CTL_ASSIGN_OR_RETURN(auto pids_text, rt->ps(id));
    std::set<std::string> pids;
    if (auto pids_json = parse_json(pids_text); pids_json && pids_json->is_array()) {
        for (const auto& p : *pids_json) pids.insert(p.is_number() ? std::to_string(p.get<int64_t>()) : p.dump());
    }
    std::vector<std::string> argv = {"ps"};
    for (const auto& a : split(ps_args, ' ')) {
        if (!a.empty()) argv.push_back(a);
    }
    CTL_ASSIGN_OR_RETURN(auto out, run_capture(argv));
    auto lines = split(out, '\n');
    if (lines.empty()) return make_error(Errc::Internal, "ps printed nothing");
    auto words = [](const std::string& line) {
        std::vector<std::string> w;
        std::istringstream in(line);
        std::string s;
        while (in >> s) w.push_back(s);
        return w;
    };
    auto titles = words(lines[0]);
    size_t pid_col = titles.size();
    for (size_t i = 0; i < titles.size(); ++i) {
        if (titles[i] == "PID") pid_col = i;
    }
    if (pid_col == titles.size()) return make_error(Errc::InvalidArgument, "Couldn't find PID field in ps output");
    Json processes = Json::array();
    for (size_t i = 1; i < lines.size(); ++i) {
        auto w = words(lines[i]);
        if (w.size() <= pid_col || !pids.count(w[pid_col])) continue;
        // The last column (the command) keeps its spaces.
        std::vector<std::string> row(w.begin(), w.begin() + std::min(w.size(), titles.size() - 1));
        std::string rest;
        for (size_t k = titles.size() - 1; k < w.size(); ++k) rest += (rest.empty() ? "" : " ") + w[k];
        row.push_back(rest);
        processes.push_back(row);
    }
    return Json{{"Titles", titles}, {"Processes", processes}};
}

}  // namespace ctl::container
