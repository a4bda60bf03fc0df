// What run, start -a, attach and exec share: a hijacked stream copied to and from the terminal
// (raw mode, resizes, detach keys), waiting for a container's exit, and docker's exit codes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "client/cli.hpp"

namespace ctl::client {

// docker's exit code for a failed start: 127 when the command was not found, 126 when it could
// not be executed, else 125.
int start_failure_code(const std::string& message);

// "ctrl-p,ctrl-q" as bytes (docker's --detach-keys syntax); empty when the text is malformed.
std::string detach_key_bytes(const std::string& spec);

// Splits docker's 8-byte framed stream (stdout/stderr) onto two file descriptors.
class Demuxer {
public:
    Demuxer(int out_fd, int err_fd) : out_fd_(out_fd), err_fd_(err_fd) {}
    void feed(std::string_view data);

private:
    int out_fd_, err_fd_;
    std::string pending_;
};

// Puts stdin's terminal in raw mode for its lifetime; nothing when stdin is not a terminal.
class RawTerminal {
public:
    explicit RawTerminal(bool wanted);
    ~RawTerminal();
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    struct Saved;
    Saved* saved_ = nullptr;
};

// `-t` with `-i` needs a terminal on stdin, as docker checks before creating anything.
Status check_tty_input(bool tty, bool attach_stdin);

// Sends our terminal's size to `resize_path` (".../resize"); nothing when stdout is no terminal.
void resize_tty(Context& ctx, const std::string& resize_path);

struct StreamOptions {
    bool tty = false;         // raw bytes; otherwise 8-byte frames to split onto stdout/stderr
    bool send_stdin = false;  // copy our stdin to the connection, half-close it at EOF
    std::string detach_keys;  // docker syntax; default ctrl-p,ctrl-q; watched on a tty's stdin
    std::string resize_path;  // with tty: resent on every SIGWINCH
};

enum class StreamEnd { Closed, Detached };

// Copies until the engine closes the stream (the process ended) or the detach keys are typed.
Result<StreamEnd> pump_stream(Context& ctx, HijackedConn& conn, const StreamOptions& o);

// POST /containers/{id}/wait held open in a thread: sent before start so that the exit cannot be
// missed, read after the output ended. Cancels itself when destroyed.
class ExitWaiter {
public:
    ExitWaiter(Context& ctx, std::string id, std::string condition);
    ~ExitWaiter();
    ExitWaiter(const ExitWaiter&) = delete;
    ExitWaiter& operator=(const ExitWaiter&) = delete;

    // Returns once the engine answered the request head (the wait is registered), or its error.
    Status registered();
    // The container's exit code (blocks until then), or the engine's error.
    Result<int> exit_code();

private:
    void run(Context& ctx, const std::string& id, const std::string& condition);

    std::atomic<bool> cancel_{false};
    std::mutex mu_;
    std::condition_variable cv_;
    bool head_ok_ = false;
    bool done_ = false;
    std::optional<Error> error_;
    std::string body_;
    std::thread thread_;
};

// run (without -d) and start -a: attach to the created container, register the exit wait, start
// it, copy its streams, and leave its exit code (or docker's start failure code) in ctx.
struct AttachedRun {
    std::string id;
    bool tty = false;
    bool attach_stdin = false;
    bool auto_remove = false;  // wait for removal, as docker run --rm does
    std::string detach_keys;
};
Status attach_start_and_wait(Context& ctx, const AttachedRun& a);

// Registers run and create on `parent` (containers_run.cpp).
void add_run_commands(CLI::App& parent, Context& ctx);

}  // namespace ctl::client
