#include "engine/container/runtime/runtime.hpp"

#include <elf.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "engine/base/log.hpp"
#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace ctl::container::runtime {

namespace fs = std::filesystem;
using sys::UniqueFd;

namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

int wait_status_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

// ---- host facts and process helpers --------------------------------------------------------------

namespace {
constexpr int kExecSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
}

Result<int> make_sealed_copy(const std::string& path) {
    UniqueFd src(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!src.valid()) return sys_error("open " + path);
    struct stat st {};
    if (::fstat(src.get(), &st) != 0) return sys_error("stat " + path);
    const std::string name = "ctld:" + fs::path(path).filename().string();
    UniqueFd copy(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!copy.valid()) return sys_error("memfd_create");
    for (off_t done = 0; done < st.st_size;) {
        ssize_t n = ::sendfile(copy.get(), src.get(), nullptr, static_cast<size_t>(st.st_size - done));
        if (n <= 0) return sys_error("copying " + path);
        done += n;
    }
    if (::fchmod(copy.get(), 0555) != 0 || ::fcntl(copy.get(), F_ADD_SEALS, kExecSeals) != 0) {
        return sys_error("sealing the copy of " + path);
    }
    return copy.release();
}

bool is_sealed_copy(int fd) { return fd >= 0 && ::fcntl(fd, F_GET_SEALS) == kExecSeals; }

bool host_cgroup_is_hybrid() {
    struct statfs root {}, unified {};
    if (::statfs("/sys/fs/cgroup", &root) != 0 || root.f_type != TMPFS_MAGIC) return false;
    return ::statfs("/sys/fs/cgroup/unified", &unified) == 0 && unified.f_type == CGROUP2_SUPER_MAGIC;
}

bool enter_private_cgroup_mount() noexcept {
    if (::unshare(CLONE_NEWNS) != 0) return false;
    // Slave, not private: mounts the host makes later still reach us; nothing of ours leaks out.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) return false;
    if (::umount2("/sys/fs/cgroup/unified", MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) return false;
    return true;
}

Result<pid_t> spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
    if (argv.empty() || argv[0].empty() || argv[0][0] != '/') {
        return make_error(Errc::InvalidArgument, "spawn needs an absolute program path");
    }
    // Everything the child needs is prepared here: after fork it may only make syscalls.
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!devnull.valid()) return sys_error("open /dev/null");
    int err_pipe[2];  // the child reports a failed setup/exec here; closes on a successful exec
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) return sys_error("pipe");
    UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);
    const int exec_fd = options.exec_fd, keep_fd = options.keep_fd;
    int src[3] = {options.stdin_fd >= 0 ? options.stdin_fd : devnull.get(),
                  options.stdout_fd >= 0 ? options.stdout_fd : devnull.get(),
                  options.stderr_fd >= 0 ? options.stderr_fd : devnull.get()};

    pid_t pid = ::fork();
    if (pid < 0) return sys_error("fork");
    if (pid == 0) {
        int step = 0;
        auto fail = [&](int what) {
            int report[2] = {what, errno};
            (void)!::write(err_write.get(), report, sizeof report);
            ::_exit(127);
        };
        if (options.new_process_group && ::setpgid(0, 0) != 0) fail(step);
        step = 1;
        if (options.private_cgroup_mount && !enter_private_cgroup_mount()) fail(step);
        step = 2;
        // Lift the sources above 2 first, so dup2 into 0-2 cannot overwrite one still needed.
        int high[3];
        for (int i = 0; i < 3; ++i) {
            high[i] = ::fcntl(src[i], F_DUPFD_CLOEXEC, 3);
            if (high[i] < 0) fail(step);
        }
        for (int i = 0; i < 3; ++i) {
            if (::dup2(high[i], i) < 0) fail(step);
        }
        // Everything else goes: a leaked fd is a way out of the container (CVE-2024-21626).
        int keep[3] = {err_write.get(), exec_fd, keep_fd};
        std::sort(keep, keep + 3);
        unsigned next = 3;
        for (int fd : keep) {
            if (fd < static_cast<int>(next)) continue;
            if (fd > static_cast<int>(next)) ::syscall(SYS_close_range, next, fd - 1, 0);
            next = fd + 1;
        }
        ::syscall(SYS_close_range, next, ~0U, 0);
        if (keep_fd >= 0 && ::fcntl(keep_fd, F_SETFD, 0) != 0) fail(step);
        step = 3;
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);  // EINVAL for KILL/STOP: fine
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        step = 4;
        if (exec_fd >= 0) {
            ::syscall(SYS_execveat, exec_fd, "", args.data(), environ, AT_EMPTY_PATH);
        } else {
            ::execv(args[0], args.data());
        }
        fail(step);
    }
    if (options.new_process_group) ::setpgid(pid, pid);  // either side may win the race; both agree
    err_write.reset();
    int report[2] = {0, 0};
    ssize_t n;
    do {
        n = ::read(err_read.get(), report, sizeof report);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof report)) {
        int status;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        static const char* const steps[] = {"setpgid", "entering a private mount namespace without the cgroup2 mount",
                                            "setting up stdio", "resetting signals", "exec"};
        std::string what = steps[report[0] >= 0 && report[0] <= 4 ? report[0] : 4];
        return sys_error(what + " for " + argv[0], report[1]);
    }
    return pid;
}

Result<CommandResult> run_command(const std::vector<std::string>& argv, const std::string& input, int timeout_ms,
                                  bool private_cgroup_mount, int exec_fd, int keep_fd) {
    int in_p[2] = {-1, -1}, out_p[2], err_p[2];
    if (!input.empty() && ::pipe2(in_p, O_CLOEXEC) != 0) return sys_error("pipe");
    UniqueFd in_r(in_p[0]), in_w(in_p[1]);
    if (::pipe2(out_p, O_CLOEXEC) != 0) return sys_error("pipe");
    UniqueFd out_r(out_p[0]), out_w(out_p[1]);
    if (::pipe2(err_p, O_CLOEXEC) != 0) return sys_error("pipe");
    UniqueFd err_r(err_p[0]), err_w(err_p[1]);

    SpawnOptions so;
    so.stdin_fd = in_r.get();
    so.stdout_fd = out_w.get();
    so.stderr_fd = err_w.get();
    so.private_cgroup_mount = private_cgroup_mount;
    so.new_process_group = true;
    so.exec_fd = exec_fd;
    so.keep_fd = keep_fd;
    CTL_ASSIGN_OR_RETURN(pid_t pid, spawn(argv, so));
    in_r.reset();
    out_w.reset();
    err_w.reset();
    for (int fd : {in_w.get(), out_r.get(), err_r.get()}) {
        if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    // The pidfd ends the wait when the runtime exits even if something it forked keeps our
    // pipes open (a detached container, a stuck hook).
    UniqueFd pidfd(pidfd_open(pid));

    CommandResult r;
    size_t written = 0;
    bool exited = false;
    const int64_t deadline = now_ms() + timeout_ms;
    while (out_r.valid() || err_r.valid() || in_w.valid()) {
        std::vector<pollfd> fds;
        if (in_w.valid()) fds.push_back({in_w.get(), POLLOUT, 0});
        if (out_r.valid()) fds.push_back({out_r.get(), POLLIN, 0});
        if (err_r.valid()) fds.push_back({err_r.get(), POLLIN, 0});
        if (pidfd.valid() && !exited) fds.push_back({pidfd.get(), POLLIN, 0});
        int64_t left = deadline - now_ms();
        if (left <= 0) break;
        int rc = ::poll(fds.data(), fds.size(), exited ? 0 : static_cast<int>(left));
        if (rc < 0 && errno != EINTR) break;
        bool progressed = false;
        for (const auto& p : fds) {
            if (!p.revents) continue;
            if (p.fd == pidfd.get()) {
                exited = true;
                continue;
            }
            if (p.fd == in_w.get()) {
                ssize_t n = ::write(in_w.get(), input.data() + written, input.size() - written);
                if (n > 0) written += static_cast<size_t>(n);
                if (n < 0 && errno != EAGAIN && errno != EINTR) written = input.size();
                if (written == input.size()) in_w.reset();
                progressed = true;
                continue;
            }
            char buf[16384];
            ssize_t n = ::read(p.fd, buf, sizeof buf);
            if (n > 0) {
                (p.fd == out_r.get() ? r.out : r.err).append(buf, static_cast<size_t>(n));
                progressed = true;
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                (p.fd == out_r.get() ? out_r : err_r).reset();
                progressed = true;
            }
        }
        // Exited and nothing more to read right now: whatever still holds the pipes is not ours.
        if (exited && !progressed) break;
    }
    int status = 0;
    pid_t w;
    if (now_ms() >= deadline && !exited) {
        ::kill(-pid, SIGKILL);
        do {
            w = ::waitpid(pid, &status, 0);
        } while (w < 0 && errno == EINTR);
        return make_error(Errc::DeadlineExceeded, "timed out after " + std::to_string(timeout_ms / 1000) + " s");
    }
    do {
        w = ::waitpid(pid, &status, 0);
    } while (w < 0 && errno == EINTR);
    if (w < 0) return sys_error("waitpid");
    r.exit_code = wait_status_code(status);
    return r;
}

std::string runtime_message(const std::string& output) {
    std::string json_msg, text_msg;
    for (const auto& raw : split(output, '\n')) {
        std::string line = trim(raw);
        if (line.empty()) continue;
        if (line.front() == '{') {
            try {
                Json j = Json::parse(line);
                std::string level = j.value("level", "");
                if (j.contains("msg") && j["msg"].is_string() && (level == "error" || level == "fatal")) {
                    json_msg = j["msg"].get<std::string>();
                }
                continue;
            } catch (const Json::exception&) {
            }
        }
        text_msg = line;
    }
    return json_msg.empty() ? text_msg : json_msg;
}

// ---- probe ---------------------------------------------------------------------------------------

namespace {

std::string find_program(const std::string& name) {
    for (const char* dir : {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
        std::string path = std::string(dir) + "/" + name;
        if (::access(path.c_str(), X_OK) == 0) return path;
    }
    return "";
}

// A static ELF has no PT_INTERP program header; a dynamic busybox cannot run in an empty rootfs.
bool is_static_elf(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return false;
    Elf64_Ehdr eh{};
    if (::pread(fd.get(), &eh, sizeof eh, 0) != static_cast<ssize_t>(sizeof eh)) return false;
    if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) return false;
    for (int i = 0; i < eh.e_phnum; ++i) {
        Elf64_Phdr ph{};
        off_t off = static_cast<off_t>(eh.e_phoff + static_cast<uint64_t>(i) * eh.e_phentsize);
        if (::pread(fd.get(), &ph, sizeof ph, off) != static_cast<ssize_t>(sizeof ph)) return false;
        if (ph.p_type == PT_INTERP) return false;
    }
    return true;
}

std::string find_static_busybox() {
    for (const char* p : {"/bin/busybox", "/usr/bin/busybox", "/usr/local/bin/busybox"}) {
        if (::access(p, X_OK) == 0 && is_static_elf(p)) return p;
    }
    return "";
}

void remove_cgroup_dirs(const std::string& relative) {
    std::error_code ec;
    for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ec)) {
        ::rmdir((hierarchy.path().string() + relative).c_str());
    }
    ::rmdir(("/sys/fs/cgroup" + relative).c_str());  // pure v2
}

// The smallest bundle a runtime accepts: `busybox true` in fresh namespaces with only /proc.
Status write_probe_bundle(const std::string& dir, const std::string& busybox, const std::string& cgroup) {
    std::string rootfs = dir + "/rootfs";
    CTL_TRY(sys::mkdir_all(rootfs + "/bin"));
    CTL_TRY(sys::mkdir_all(rootfs + "/proc"));
    CTL_TRY(sys::mkdir_all(rootfs + "/dev"));
    std::error_code ec;
    if (::link(busybox.c_str(), (rootfs + "/bin/busybox").c_str()) != 0) {
        fs::copy_file(busybox, rootfs + "/bin/busybox", ec);
        if (ec) return make_error(Errc::Internal, "copying " + busybox + ": " + ec.message());
    }
    Json config = {
        {"ociVersion", "1.0.2"},
        {"process",
         {{"terminal", false},
          {"user", {{"uid", 0}, {"gid", 0}}},
          {"args", {"/bin/busybox", "true"}},
          {"env", {"PATH=/bin"}},
          {"cwd", "/"}}},
        {"root", {{"path", "rootfs"}, {"readonly", false}}},
        {"hostname", "probe"},
        // runc needs /proc inside to close its inherited fds.
        {"mounts", {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}}}},
        {"linux",
         {{"namespaces", {{{"type", "pid"}}, {{"type", "mount"}}, {{"type", "ipc"}}, {{"type", "uts"}}}},
          {"cgroupsPath", cgroup}}},
    };
    return sys::write_file_replace(dir + "/config.json", config.dump());
}

}  // namespace

std::vector<RuntimeInfo> probe_runtimes(const std::string& scratch_dir) {
    std::vector<RuntimeInfo> found;
    const bool hybrid = host_cgroup_is_hybrid();
    const std::string busybox = find_static_busybox();
    std::string tmp;
    if (!busybox.empty() && sys::mkdir_all(scratch_dir, 0700)) {
        std::string tmpl = scratch_dir + "/runtime-probe-XXXXXX";
        if (::mkdtemp(tmpl.data()) != nullptr) tmp = tmpl;
    }
    if (tmp.empty()) {
        log::warn("runtime probe: no static busybox or no scratch dir {}: checking `--version` only", scratch_dir);
    }
    const std::string tag = std::to_string(::getpid()) + "-" + short_id(random_hex_id()).substr(0, 8);

    for (const std::string name : {"crun", "runc"}) {
        RuntimeInfo info{name, find_program(name), false};
        if (info.path.empty()) {
            log::info("runtime {}: not installed", name);
            continue;
        }
        // runc copes with a hybrid layout; crun 1.8 refuses it unless the v2 mount is out of sight.
        info.needs_private_cgroup_mount = hybrid && name == "crun";
        if (auto fd = make_sealed_copy(info.path)) {
            info.exec_fd = *fd;
        } else {
            log::info("runtime {}: no sealed copy ({}); it clones itself at every launch", name, fd.error().message);
        }
        const int64_t started = now_ms();
        std::string why;
        if (!tmp.empty()) {
            std::string bundle = tmp + "/" + name;
            std::string cgroup = "/ctld-probe-" + tag + "-" + name;
            std::string id = "ctld-probe-" + tag + "-" + name;
            if (auto st = write_probe_bundle(bundle, busybox, cgroup); !st) {
                why = st.error().message;
            } else {
                auto r = run_command({info.path, "--root", tmp + "/state-" + name, "--log-format", "json", "run",
                                      "--bundle", bundle, id},
                                     "", 10000, info.needs_private_cgroup_mount, info.exec_fd);
                if (!r) {
                    why = r.error().message;
                } else if (r->exit_code != 0) {
                    std::string msg = runtime_message(r->err + "\n" + r->out);
                    why = msg.empty() ? "exit status " + std::to_string(r->exit_code) : msg;
                }
                // A foreground `run` deletes its container; a failed one may leave state behind.
                if (!why.empty()) {
                    (void)run_command({info.path, "--root", tmp + "/state-" + name, "delete", "--force", id}, "",
                                      10000, info.needs_private_cgroup_mount, info.exec_fd);
                }
                remove_cgroup_dirs(cgroup);
            }
        } else {
            auto r = run_command({info.path, "--version"}, "", 5000, info.needs_private_cgroup_mount, info.exec_fd);
            if (!r) {
                why = r.error().message;
            } else if (r->exit_code != 0) {
                why = "`--version` exited with " + std::to_string(r->exit_code);
            }
        }
        if (!why.empty()) {
            log::warn("runtime {} ({}): not usable on this host: {}", name, info.path, why);
            if (info.exec_fd >= 0) ::close(info.exec_fd);
            continue;
        }
        log::info("runtime {} ({}): works ({} ms{}){}", name, info.path, now_ms() - started,
                  info.needs_private_cgroup_mount ? ", hybrid cgroup host: runs without the cgroup2 mount" : "",
                  found.empty() ? ", preferred" : ", available");
        found.push_back(std::move(info));
    }
    if (!found.empty() && found.front().name != "crun") {
        log::info("runtime {} chosen: crun is missing or does not work here", found.front().name);
    }
    if (found.empty()) log::error("no working OCI runtime (crun or runc) found: containers cannot start");
    if (!tmp.empty()) (void)sys::remove_all(tmp);
    return found;
}

// ---- Runtime -------------------------------------------------------------------------------------

Runtime::Runtime(RuntimeInfo info, std::string state_root) : info_(std::move(info)), state_root_(std::move(state_root)) {}

std::vector<std::string> Runtime::argv_prefix() const {
    if (state_root_.empty()) return {info_.path, "--log-format", "json"};  // the runtime's default root
    return {info_.path, "--root", state_root_, "--log-format", "json"};
}

Result<CommandResult> Runtime::run(std::vector<std::string> args, const std::string& input, bool needs_cgroups) {
    if (!state_root_.empty() && !sys::exists(state_root_)) CTL_TRY(sys::mkdir_all(state_root_, 0700));
    std::vector<std::string> argv = argv_prefix();
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_command(argv, input, kTimeoutMs, needs_cgroups && info_.needs_private_cgroup_mount, info_.exec_fd);
    if (!r) return with_context(std::move(r).error(), "runtime " + info_.name + " " + args.front());
    return r;
}

Error Runtime::command_error(const CommandResult& r, const std::string& what) const {
    std::string msg = runtime_message(r.err + "\n" + r.out);
    if (msg.empty()) msg = what + " exited with status " + std::to_string(r.exit_code);
    Errc code = Errc::Internal;
    // runc: "container does not exist"; crun: "error opening file `<root>/<id>/status`: No such
    // file or directory" / "cannot open directory '<root>/<id>'".
    if (contains(msg, "does not exist") || contains(msg, "No such file or directory")) {
        code = Errc::NotFound;
    } else if (contains(msg, "not running") || contains(msg, "not paused") || contains(msg, "is paused") ||
               contains(msg, "already")) {
        code = Errc::Conflict;
    }
    return make_error(code, "runtime " + info_.name + ": " + msg);
}

Result<Json> Runtime::state(const std::string& id) {
    CTL_ASSIGN_OR_RETURN(auto r, run({"state", id}, {}, false));
    if (r.exit_code != 0) return command_error(r, "state");
    try {
        return Json::parse(r.out);
    } catch (const Json::exception& e) {
        return make_error(Errc::Internal, "runtime " + info_.name + ": unreadable state: " + e.what());
    }
}

Result<Json> Runtime::list() {
    CTL_ASSIGN_OR_RETURN(auto r, run({"list", "--format", "json"}, {}, false));
    if (r.exit_code != 0) return command_error(r, "list");
    try {
        Json j = Json::parse(r.out);
        return j.is_array() ? j : Json::array();  // runc prints null for none
    } catch (const Json::exception& e) {
        return make_error(Errc::Internal, "runtime " + info_.name + ": unreadable list: " + e.what());
    }
}

Status Runtime::kill(const std::string& id, int signal, bool all) {
    std::vector<std::string> args = {"kill"};
    if (all) args.push_back("--all");
    args.insert(args.end(), {id, std::to_string(signal)});
    CTL_ASSIGN_OR_RETURN(auto r, run(std::move(args)));
    if (r.exit_code != 0) return command_error(r, "kill");
    return ok();
}

Status Runtime::pause(const std::string& id) {
    CTL_ASSIGN_OR_RETURN(auto r, run({"pause", id}));
    if (r.exit_code != 0) return command_error(r, "pause");
    return ok();
}

Status Runtime::resume(const std::string& id) {
    CTL_ASSIGN_OR_RETURN(auto r, run({"resume", id}));
    if (r.exit_code != 0) return command_error(r, "resume");
    return ok();
}

Status Runtime::remove(const std::string& id, bool force) {
    std::vector<std::string> args = {"delete"};
    if (force) args.push_back("--force");
    args.push_back(id);
    CTL_ASSIGN_OR_RETURN(auto r, run(std::move(args)));
    if (r.exit_code != 0) {
        Error e = command_error(r, "delete");
        if (e.code != Errc::NotFound) return e;
    }
    return ok();
}

Result<std::string> Runtime::ps(const std::string& id) {
    CTL_ASSIGN_OR_RETURN(auto r, run({"ps", "--format", "json", id}));
    if (r.exit_code != 0) return command_error(r, "ps");
    return trim(r.out);
}

Status Runtime::update_resources(const std::string& id, const Json& linux_resources) {
    // Both runtimes read the resources from a file (runc also takes "-", crun 1.8 does not).
    std::string dir = state_root_.empty() ? "/tmp" : state_root_;
    if (!sys::exists(dir)) CTL_TRY(sys::mkdir_all(dir, 0700));
    std::string file = dir + "/update-" + random_hex_id().substr(0, 16) + ".json";
    CTL_TRY(sys::write_file_replace(file, linux_resources.dump(), 0600));
    auto r = run({"update", "--resources", file, id});
    ::unlink(file.c_str());
    if (!r) return std::move(r).error();
    if (r->exit_code != 0) return command_error(*r, "update");
    return ok();
}

}  // namespace ctl::container::runtime
