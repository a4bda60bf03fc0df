#include "client/commands/container_io.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"

namespace ctl::client {

int start_failure_code(const std::string& message) {
    if (message.find("executable file not found") != std::string::npos ||
        message.find("no such file or directory") != std::string::npos) {
        return 127;
    }
    if (message.find("permission denied") != std::string::npos) return 126;
    return kExitError;
}

std::string detach_key_bytes(const std::string& spec) {
    std::string out;
    for (const auto& raw : split(spec, ',')) {
        std::string key = to_lower(trim(raw));
        if (key.size() == 1) {
            out += key;
        } else if (key.size() == 6 && starts_with(key, "ctrl-")) {
            char c = key[5];
            if (c >= 'a' && c <= 'z') out += static_cast<char>(c - 'a' + 1);
            else if (c == '@') out += '\0';
            else if (c >= '[' && c <= '_') out += static_cast<char>(c - '[' + 27);  // [ \ ] ^ _
            else return {};
        } else {
            return {};
        }
    }
    return out;
}

void Demuxer::feed(std::string_view data) {
    pending_.append(data);
    size_t pos = 0;
    while (pending_.size() - pos >= 8) {
        const auto* h = reinterpret_cast<const unsigned char*>(pending_.data() + pos);
        size_t size = (size_t{h[4]} << 24) | (size_t{h[5]} << 16) | (size_t{h[6]} << 8) | size_t{h[7]};
        if (pending_.size() - pos - 8 < size) break;
        int fd = h[0] >= 2 ? err_fd_ : out_fd_;  // 0 stdin echo and 1 stdout; 2 stderr, 3 system error
        (void)sys::write_all(fd, std::string_view(pending_).substr(pos + 8, size));
        pos += 8 + size;
    }
    pending_.erase(0, pos);
}

struct RawTerminal::Saved {
    termios attrs;
};

RawTerminal::RawTerminal(bool wanted) {
    termios attrs{};
    if (!wanted || !::isatty(0) || ::tcgetattr(0, &attrs) != 0) return;
    saved_ = new Saved{attrs};
    ::cfmakeraw(&attrs);  // the container's pty does the line discipline, as with docker
    ::tcsetattr(0, TCSADRAIN, &attrs);
}

RawTerminal::~RawTerminal() {
    if (!saved_) return;
    ::tcsetattr(0, TCSADRAIN, &saved_->attrs);
    delete saved_;
}

Status check_tty_input(bool tty, bool attach_stdin) {
    if (tty && attach_stdin && !::isatty(0)) return usage_error("the input device is not a TTY");
    return ok();
}

void resize_tty(Context& ctx, const std::string& resize_path) {
    winsize ws{};
    if (::ioctl(1, TIOCGWINSZ, &ws) != 0 && ::ioctl(0, TIOCGWINSZ, &ws) != 0) return;
    if (ws.ws_row == 0 && ws.ws_col == 0) return;
    // Best effort, like docker: a process that already ended has nothing to resize.
    (void)ctx.http().request("POST", resize_path, {{"h", std::to_string(ws.ws_row)}, {"w", std::to_string(ws.ws_col)}});
}

namespace {

int g_winch_pipe[2] = {-1, -1};

void on_winch(int) {
    int saved = errno;
    char c = 1;
    [[maybe_unused]] auto n = ::write(g_winch_pipe[1], &c, 1);
    errno = saved;
}

// SIGWINCH as a readable descriptor for the poll loop, while it lives.
class WinchWatch {
public:
    explicit WinchWatch(bool wanted) {
        if (!wanted || ::pipe2(g_winch_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return;
        struct sigaction sa {};
        sa.sa_handler = on_winch;
        ::sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        active_ = ::sigaction(SIGWINCH, &sa, &old_) == 0;
    }
    ~WinchWatch() {
        if (active_) ::sigaction(SIGWINCH, &old_, nullptr);
        for (int& fd : g_winch_pipe) {
            if (fd >= 0) ::close(fd);
            fd = -1;
        }
    }
    int fd() const { return active_ ? g_winch_pipe[0] : -1; }
    void drain() const {
        char buf[64];
        while (::read(g_winch_pipe[0], buf, sizeof buf) > 0) {
        }
    }

private:
    bool active_ = false;
    struct sigaction old_ {};
};

// Writes to the connection without dying of SIGPIPE when the engine already closed it.
bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

// Finds the detach sequence in what the user types; bytes of a partial match are held back.
class DetachMatcher {
public:
    explicit DetachMatcher(std::string keys) : keys_(std::move(keys)) {}
    // Appends to `out` what should be sent; true when the full sequence was typed.
    bool feed(std::string_view in, std::string& out) {
        for (char c : in) {
            if (keys_.empty()) {
                out += c;
                continue;
            }
            if (c == keys_[matched_]) {
                if (++matched_ == keys_.size()) return true;
                continue;
            }
            out.append(keys_, 0, matched_);
            matched_ = c == keys_[0] ? 1 : 0;
            if (!matched_) out += c;
        }
        return false;
    }

private:
    std::string keys_;
    size_t matched_ = 0;
};

}  // namespace

Result<StreamEnd> pump_stream(Context& ctx, HijackedConn& conn, const StreamOptions& o) {
    ctx.out().flush();
    Demuxer demux(1, 2);
    auto emit = [&](std::string_view data) {
        if (o.tty) (void)sys::write_all(1, data);
        else demux.feed(data);
    };
    if (std::string first = conn.take_buffered(); !first.empty()) emit(first);

    WinchWatch winch(o.tty && !o.resize_path.empty() && ::isatty(1));
    DetachMatcher detach(o.tty ? detach_key_bytes(o.detach_keys.empty() ? "ctrl-p,ctrl-q" : o.detach_keys) : "");
    bool reading_stdin = o.send_stdin;
    char buf[32768];
    for (;;) {
        pollfd fds[3] = {{conn.fd(), POLLIN, 0}, {reading_stdin ? 0 : -1, POLLIN, 0}, {winch.fd(), POLLIN, 0}};
        if (::poll(fds, 3, -1) < 0) {
            if (errno == EINTR) continue;
            return make_error(Errc::Internal, std::string("poll: ") + std::strerror(errno));
        }
        if (fds[0].revents) {
            ssize_t n = ::read(conn.fd(), buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) return StreamEnd::Closed;
            emit(std::string_view(buf, static_cast<size_t>(n)));
        }
        if (fds[1].revents) {
            ssize_t n = ::read(0, buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) {
                reading_stdin = false;
                conn.close_write();  // the container's stdin ends, its output keeps coming
                continue;
            }
            std::string out;
            bool detached = detach.feed(std::string_view(buf, static_cast<size_t>(n)), out);
            if (!out.empty() && !send_all(conn.fd(), out)) reading_stdin = false;
            if (detached) return StreamEnd::Detached;
        }
        if (fds[2].revents) {
            winch.drain();
            resize_tty(ctx, o.resize_path);
        }
    }
}

ExitWaiter::ExitWaiter(Context& ctx, std::string id, std::string condition) {
    ctx.http();  // made here, not lazily from two threads
    thread_ = std::thread([this, &ctx, id = std::move(id), condition = std::move(condition)] { run(ctx, id, condition); });
}

ExitWaiter::~ExitWaiter() {
    cancel_ = true;
    if (thread_.joinable()) thread_.join();
}

void ExitWaiter::run(Context& ctx, const std::string& id, const std::string& condition) {
    Request req("POST", "/containers/" + id + "/wait", {{"condition", condition}});
    req.on_head = [this](int status) {
        std::lock_guard lock(mu_);
        head_ok_ = status >= 200 && status < 300;
        cv_.notify_all();
    };
    req.cancel = &cancel_;
    std::string body;
    auto r = ctx.http().stream(req, [&body](std::string_view chunk) {
        body.append(chunk);
        return true;
    });
    std::lock_guard lock(mu_);
    done_ = true;
    if (!r) error_ = r.error();
    body_ = std::move(body);
    cv_.notify_all();
}

Status ExitWaiter::registered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return head_ok_ || done_; });
    if (error_) return *error_;
    return ok();
}

Result<int> ExitWaiter::exit_code() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return done_; });
    if (error_) return *error_;
    Json doc = Json::parse(body_, nullptr, false);
    if (!doc.is_object()) return make_error(Errc::Internal, "the engine sent an invalid wait answer: " + trim(body_));
    if (const Json* err = find_ci(doc, "Error"); err && err->is_object()) {
        std::string message = string_or(*err, "Message");
        if (!message.empty()) return make_error(Errc::Internal, message);
    }
    return static_cast<int>(int_or(doc, "StatusCode"));
}

Status attach_start_and_wait(Context& ctx, const AttachedRun& a) {
    Query q = {{"stream", "1"}, {"stdout", "1"}, {"stderr", "1"}};
    if (a.attach_stdin) q.emplace_back("stdin", "1");
    if (!a.detach_keys.empty()) q.emplace_back("detachKeys", a.detach_keys);
    CTL_ASSIGN_OR_RETURN(auto conn, ctx.http().hijack(Request("POST", "/containers/" + a.id + "/attach", q)));
    ExitWaiter waiter(ctx, a.id, a.auto_remove ? "removed" : "next-exit");
    CTL_TRY(waiter.registered());

    // Copying starts before the start request, as docker does: input that is already there (a
    // pipe) reaches the engine before the process can read from its stdin.
    std::optional<RawTerminal> raw;
    raw.emplace(a.tty && a.attach_stdin);
    StreamOptions o{a.tty, a.attach_stdin, a.detach_keys, "/containers/" + a.id + "/resize"};
    Result<StreamEnd> end = StreamEnd::Closed;
    std::thread pump([&] { end = pump_stream(ctx, conn, o); });
    auto started = ctx.http().request("POST", "/containers/" + a.id + "/start");
    if (!started && started.error().code != Errc::NotModified) {
        ::shutdown(conn.fd(), SHUT_RDWR);  // ends the copy
        pump.join();
        raw.reset();
        ctx.report(started.error());
        ctx.set_exit_code(start_failure_code(started.error().message));
        return ok();
    }
    if (a.tty) resize_tty(ctx, o.resize_path);
    pump.join();
    raw.reset();
    conn.close();
    if (!end) return end.error();
    if (*end == StreamEnd::Detached) return ok();  // the container keeps running, as with docker
    CTL_ASSIGN_OR_RETURN(int code, waiter.exit_code());
    ctx.set_exit_code(code);
    return ok();
}

}  // namespace ctl::client
