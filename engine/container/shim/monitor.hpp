// The per-container (and per-exec) monitor behind ctl-shim: it launches the process through the
// OCI runtime, owns its stdio (pipes or the pty master), writes the json-file log, serves
// attach.sock and control.sock, reaps the process as a child subreaper and records exit.json.
// One thread, one poll loop. See main.cpp for the command line and the on-disk protocol.
#pragma once

#include <cstdint>
#include <string>

namespace ctl::container::shim {

struct Options {
    std::string mode;             // "run" or "exec"
    std::string id;               // the container
    std::string exec_id;          // exec only
    std::string bundle;           // run only
    std::string process;          // exec only: process.json
    std::string state_dir;        // shim.pid, init.pid, exit.json, start-error, sockets
    std::string runtime;          // absolute path of crun/runc
    std::string runtime_root;     // its --root ("" = the runtime's default)
    bool private_cgroup_mount = false;
    int runtime_fd = -1;          // ctld's sealed copy of the runtime binary (checked), or -1
    std::string log_path;         // run only: the json-file log
    int64_t log_max_size = -1;
    int log_max_file = 1;
    bool tty = false;
    bool open_stdin = false;
    bool detach = false;          // exec only: nobody will attach, do not keep output for one
};

// File names inside the state dir.
inline constexpr const char* kShimPidFile = "shim.pid";
inline constexpr const char* kInitPidFile = "init.pid";
inline constexpr const char* kExitFile = "exit.json";
inline constexpr const char* kStartErrorFile = "start-error";
inline constexpr const char* kAttachSocket = "attach.sock";
inline constexpr const char* kControlSocket = "control.sock";
inline constexpr const char* kRuntimeLogFile = "runtime.log";

// Runs in the daemonized monitor process. Writes one status byte to ready_fd once the process
// has started (0) or failed to (1, after writing start-error), then serves until it exits.
// Returns the monitor's own exit status.
int run_monitor(const Options& options, int ready_fd);

}  // namespace ctl::container::shim
