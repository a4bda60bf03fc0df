// The OCI runtime CLI (crun, runc) as the engine and ctl-shim call it: a probe that finds the
// runtimes that really work on this host, a class per runtime binary for the short commands
// (state, kill, pause, delete, ps, update), and the fork/exec helpers the shim uses to launch
// `run --detach` / `exec --detach` itself.
//
// Every command is a fork/exec of the binary (no shell) with a timeout; its stderr (or its
// --log-format json lines) becomes the error message "runtime <name>: <its message>".
// All calls block (fork, waitpid): from ctld, call them on a worker thread, never an io thread.
// The child side of every fork only makes async-signal-safe calls, so ctld's threads are safe.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "engine/base/json.hpp"
#include "engine/base/result.hpp"

namespace ctl::container::runtime {

struct RuntimeInfo {
    std::string name;  // "crun", "runc"
    std::string path;  // absolute path of the binary
    // crun 1.8 refuses a hybrid cgroup host (v1 controllers plus a v2 mount): every command that
    // touches cgroups runs in a private mount namespace where /sys/fs/cgroup/unified is detached.
    bool needs_private_cgroup_mount = false;
    // A sealed memfd copy of the binary (make_sealed_copy), or -1. crun and runc re-exec
    // themselves from such a copy at every launch (CVE-2019-5736); started from one, they skip
    // that: one exec and a few ms fewer per container start, exec and delete.
    int exec_fd = -1;
};

// Copies the binary at path into a memfd sealed against writes, growth, shrinking and new seals:
// exactly what crun/runc accept as "already cloned". The fd is O_CLOEXEC and meant to live as
// long as the process. Pass it on with SpawnOptions::keep_fd; run through it with exec_fd.
Result<int> make_sealed_copy(const std::string& path);
// True when fd is a memfd with exactly those seals (a shim checks what ctld handed it).
bool is_sealed_copy(int fd);

// Finds crun and runc and runs a trivial container with each (a static rootfs made from
// /bin/busybox in a temp dir under scratch_dir, removed afterwards); without busybox, checks
// `<runtime> --version` plus the cgroup layout instead. Returns the working ones, crun first.
// Logs which one is preferred and why the others are not. Caches nothing; ~50-100 ms.
std::vector<RuntimeInfo> probe_runtimes(const std::string& scratch_dir);

// True when /sys/fs/cgroup is the v1 layout with a cgroup2 mount at /sys/fs/cgroup/unified.
bool host_cgroup_is_hybrid();

// For a forked child before exec: unshare(CLONE_NEWNS), make / MS_REC|MS_SLAVE (host mounts still
// propagate in, ours never out) and detach /sys/fs/cgroup/unified. Async-signal-safe; returns
// false with errno set on failure (a missing unified mount is not a failure).
bool enter_private_cgroup_mount() noexcept;

struct SpawnOptions {
    int stdin_fd = -1;   // -1: /dev/null
    int stdout_fd = -1;  // -1: /dev/null
    int stderr_fd = -1;  // -1: /dev/null
    bool private_cgroup_mount = false;
    bool new_process_group = false;  // so a timeout can kill the runtime and whatever it forked
    int exec_fd = -1;  // exec this file (a sealed copy) rather than argv[0], which names it
    int keep_fd = -1;  // stays open in the child at the same number (a sealed copy for ctl-shim)
};

// fork + execv(argv[0]) (an absolute path, no PATH search). The child gets fds 0-2 as given, every
// other fd closed, an empty signal mask and default signal dispositions (ctld ignores SIGPIPE; a
// container must not inherit that). Returns the child's pid; the caller waits for it.
Result<pid_t> spawn(const std::vector<std::string>& argv, const SpawnOptions& options);

struct CommandResult {
    int exit_code = -1;  // 128 + signal when killed
    std::string out;     // stdout
    std::string err;     // stderr
};

// Runs argv to completion: `input` is written to its stdin, stdout and stderr are captured.
// After timeout_ms the process group is SIGKILLed and the result is DeadlineExceeded.
Result<CommandResult> run_command(const std::vector<std::string>& argv, const std::string& input, int timeout_ms,
                                  bool private_cgroup_mount, int exec_fd = -1, int keep_fd = -1);

// The message a runtime gave: the last "error"/"fatal" msg of its --log-format json lines,
// else its last non-empty text line. Empty when it said nothing.
std::string runtime_message(const std::string& output);

class Runtime {
public:
    // state_root is the runtime's --root (e.g. <exec-root>/runtime/<name>), created on first use;
    // empty: the runtime's default (/run/runc, /run/crun).
    Runtime(RuntimeInfo info, std::string state_root);

    const RuntimeInfo& info() const { return info_; }
    const std::string& state_root() const { return state_root_; }
    // {path, "--root", state_root, "--log-format", "json"}: what the shim puts before
    // `run`/`exec` (it adds `--log FILE` to get the error of a failed start).
    std::vector<std::string> argv_prefix() const;

    // `state ID` as JSON (id, pid, status, bundle, created...). NotFound when unknown.
    Result<Json> state(const std::string& id);
    // `list --format json`: the containers under our --root (reconcile after a crash).
    Result<Json> list();
    // `kill [--all] ID SIGNAL`. NotFound when unknown; Conflict when it is not running.
    Status kill(const std::string& id, int signal, bool all = false);
    Status pause(const std::string& id);
    Status resume(const std::string& id);
    // `delete [--force] ID`; a container the runtime does not know is fine.
    Status remove(const std::string& id, bool force);
    // `ps --format json ID`: the container's host pids as a JSON list text, e.g. "[123,456]".
    Result<std::string> ps(const std::string& id);
    // `update --resources FILE ID` with an OCI linux.resources object.
    Status update_resources(const std::string& id, const Json& linux_resources);

    // Default per-command timeout; kill/delete of a big container can take a while.
    static constexpr int kTimeoutMs = 30000;

private:
    Result<CommandResult> run(std::vector<std::string> args, const std::string& input = {},
                              bool needs_cgroups = true);
    Error command_error(const CommandResult& r, const std::string& what) const;

    RuntimeInfo info_;
    std::string state_root_;
};

}  // namespace ctl::container::runtime
