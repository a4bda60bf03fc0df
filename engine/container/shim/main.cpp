// ctl-shim: the monitor ctld starts for each container (and each exec). It is the container's
// parent-of-record (a child subreaper), owns its stdio, writes its log and records its exit, and
// outlives ctld, which finds it again through <state-dir>/shim.pid.
//
//   ctl-shim run  --id ID --bundle DIR --state-dir DIR --runtime PATH [--runtime-root DIR] [--runtime-fd N]
//                 [--private-cgroup-mount] --log-path FILE [--log-max-size BYTES] [--log-max-file N]
//                 [--tty] [--stdin]
//   ctl-shim exec --id CONTAINER --exec-id EID --process FILE --state-dir DIR --runtime PATH
//                 [--runtime-root DIR] [--runtime-fd N] [--private-cgroup-mount] [--tty] [--stdin] [--detach]
//
// The command returns once the process runs (exit 0: shim.pid and init.pid are written) or could
// not start (exit 1: start-error holds the runtime's message; 2: bad usage). The monitor itself
// runs on, detached (setsid + double fork), and exits after the process did, having written
// exit.json. State dir files and socket protocols: see the README section in this directory's
// report and monitor.hpp; in short:
//   shim.pid     the monitor's pid (watch it with pidfd_open; gone = done)
//   init.pid     the process's host pid
//   exit.json    {"exit_code":N,"signal":S,"oom_killed":B,"finished_at":"RFC3339Nano","pid":P}
//   start-error  why the start failed (the runtime's own message)
//   attach.sock  hello line {"stdin":B,"stdout":B,"stderr":B,"tty":B,"stdin_once":B}, then output
//                (8-byte frames, raw with a tty) one way and stdin bytes the other
//   control.sock JSON lines {"resize":{"height":H,"width":W}} / {"close_stdin":true},
//                each answered {"ok":true} or {"error":"..."}
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "engine/base/sys.hpp"
#include "engine/container/runtime/runtime.hpp"
#include "engine/container/shim/monitor.hpp"

namespace {

using ctl::container::shim::Options;

int usage(const std::string& why) {
    std::fprintf(stderr,
                 "ctl-shim: %s\n"
                 "usage: ctl-shim run --id ID --bundle DIR --state-dir DIR --runtime PATH [--runtime-root DIR]\n"
                 "                    [--runtime-fd N] [--private-cgroup-mount] --log-path FILE [--log-max-size BYTES]\n"
                 "                    [--log-max-file N] [--tty] [--stdin]\n"
                 "       ctl-shim exec --id ID --exec-id EID --process FILE --state-dir DIR --runtime PATH\n"
                 "                    [--runtime-root DIR] [--runtime-fd N] [--private-cgroup-mount] [--tty] [--stdin] [--detach]\n",
                 why.c_str());
    return 2;
}

bool parse(int argc, char** argv, Options& o, std::string& why) {
    if (argc < 2) {
        why = "missing command";
        return false;
    }
    o.mode = argv[1];
    if (o.mode != "run" && o.mode != "exec") {
        why = "unknown command " + o.mode;
        return false;
    }
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&](std::string& out) {
            if (i + 1 >= argc) {
                why = a + " needs a value";
                return false;
            }
            out = argv[++i];
            return true;
        };
        std::string num;
        if (a == "--id") {
            if (!value(o.id)) return false;
        } else if (a == "--exec-id") {
            if (!value(o.exec_id)) return false;
        } else if (a == "--bundle") {
            if (!value(o.bundle)) return false;
        } else if (a == "--process") {
            if (!value(o.process)) return false;
        } else if (a == "--state-dir") {
            if (!value(o.state_dir)) return false;
        } else if (a == "--runtime") {
            if (!value(o.runtime)) return false;
        } else if (a == "--runtime-root") {
            if (!value(o.runtime_root)) return false;
        } else if (a == "--log-path") {
            if (!value(o.log_path)) return false;
        } else if (a == "--log-max-size" || a == "--log-max-file") {
            if (!value(num)) return false;
            char* end = nullptr;
            long long n = std::strtoll(num.c_str(), &end, 10);
            if (num.empty() || *end != '\0') {
                why = a + ": not a number: " + num;
                return false;
            }
            if (a == "--log-max-size") {
                o.log_max_size = n;
            } else {
                o.log_max_file = static_cast<int>(n);
            }
        } else if (a == "--runtime-fd") {
            if (!value(num)) return false;
            o.runtime_fd = std::atoi(num.c_str());
        } else if (a == "--private-cgroup-mount") {
            o.private_cgroup_mount = true;
        } else if (a == "--tty") {
            o.tty = true;
        } else if (a == "--stdin") {
            o.open_stdin = true;
        } else if (a == "--detach") {
            o.detach = true;
        } else {
            why = "unknown option " + a;
            return false;
        }
    }
    auto need = [&](const std::string& v, const char* flag) {
        if (v.empty() && why.empty()) why = std::string(flag) + " is required";
    };
    need(o.id, "--id");
    need(o.state_dir, "--state-dir");
    need(o.runtime, "--runtime");
    if (o.mode == "run") {
        need(o.bundle, "--bundle");
        need(o.log_path, "--log-path");
    } else {
        need(o.exec_id, "--exec-id");
        need(o.process, "--process");
    }
    if (!why.empty()) return false;
    // The monitor runs with / as its cwd: every path becomes absolute now.
    for (std::string* p : {&o.bundle, &o.process, &o.state_dir, &o.runtime, &o.runtime_root, &o.log_path}) {
        if (!p->empty()) *p = std::filesystem::absolute(*p).lexically_normal().string();
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    // Keep 0-2 occupied (so nothing we open lands there) and drop whatever the caller leaked,
    // except the runtime's sealed copy when it really is one (never passed on but to the runtime).
    for (int fd = 0; fd < 3; ++fd) {
        if (::fcntl(fd, F_GETFD) < 0) ::open("/dev/null", O_RDWR);
    }
    Options o;
    std::string why;
    const bool parsed = parse(argc, argv, o, why);
    if (o.runtime_fd < 3 || !ctl::container::runtime::is_sealed_copy(o.runtime_fd)) o.runtime_fd = -1;
    if (o.runtime_fd >= 0) {
        ::fcntl(o.runtime_fd, F_SETFD, FD_CLOEXEC);
        if (o.runtime_fd > 3) ::syscall(SYS_close_range, 3, o.runtime_fd - 1, 0);
        ::syscall(SYS_close_range, o.runtime_fd + 1, ~0U, 0);
    } else {
        ::syscall(SYS_close_range, 3, ~0U, 0);
    }
    if (!parsed) return usage(why);
    std::string sdir = o.state_dir;
    if (auto st = ctl::sys::mkdir_all(sdir, 0700); !st) {
        std::fprintf(stderr, "ctl-shim: %s\n", st.error().message.c_str());
        return 1;
    }
    ::chmod(sdir.c_str(), 0700);
    // A restarted container reuses its state dir: nothing from the last run may be mistaken for this one's.
    for (const char* f : {"exit.json", "start-error", "init.pid", "shim.pid"}) ::unlink((sdir + "/" + f).c_str());

    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) {
        std::perror("ctl-shim: pipe");
        return 1;
    }
    pid_t child = ::fork();
    if (child < 0) {
        std::perror("ctl-shim: fork");
        return 1;
    }
    if (child > 0) {
        // The caller's process: wait for the monitor's verdict.
        ::close(ready[1]);
        int st;
        while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
        }
        char status = 1;
        ssize_t n;
        do {
            n = ::read(ready[0], &status, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) {
            status = 1;
            if (!ctl::sys::exists(sdir + "/start-error")) {
                (void)ctl::sys::write_file_replace(sdir + "/start-error", "ctl-shim: the monitor died during the start\n");
            }
        }
        return status == 0 ? 0 : 1;
    }
    // New session (no controlling terminal, out of ctld's process group), then fork again so the
    // monitor is no session leader and gets reparented to init when this middle process exits.
    ::close(ready[0]);
    ::setsid();
    pid_t monitor = ::fork();
    if (monitor < 0) _exit(1);
    if (monitor > 0) _exit(0);

    if (::chdir("/") != 0) _exit(1);
    ::umask(022);
    int devnull = ::open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; ++fd) ::dup2(devnull, fd);
    if (devnull > 2) ::close(devnull);
    // Orphans below us (the container's init once the runtime exits) become our children.
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        (void)ctl::sys::write_file_replace(sdir + "/start-error", "ctl-shim: cannot become a subreaper\n");
        _exit(1);
    }
    if (auto st = ctl::sys::write_file_replace(sdir + "/shim.pid", std::to_string(::getpid())); !st) {
        (void)ctl::sys::write_file_replace(sdir + "/start-error", "ctl-shim: " + st.error().message + "\n");
        _exit(1);
    }
    int rc = ctl::container::shim::run_monitor(o, ready[1]);
    _exit(rc);
}
