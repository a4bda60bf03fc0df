#include "registry/testing/fake_http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace ctl::registry::testing {

namespace {

constexpr int kIoTimeoutMs = 10000;

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r\n");
    size_t e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string percent_decode(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else if (s[i] == '+') {
            out += ' ';
        } else {
            out += s[i];
        }
    }
    return out;
}

// Reads more bytes into `buf`; false on EOF, error or timeout.
bool read_more(int fd, std::string& buf) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, kIoTimeoutMs) <= 0) return false;
    char tmp[65536];
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
    return true;
}

bool send_all(int fd, const char* data, size_t size) {
    while (size > 0) {
        ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data += n;
        size -= static_cast<size_t>(n);
    }
    return true;
}

const char* reason(int status) {
    switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 206: return "Partial Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 307: return "Temporary Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 416: return "Range Not Satisfiable";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "Status";
    }
}

}  // namespace

std::vector<std::string> FakeRequest::query_values(const std::string& name) const {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= query.size() && !query.empty()) {
        size_t amp = query.find('&', start);
        std::string pair = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
        size_t eq = pair.find('=');
        if (percent_decode(pair.substr(0, eq)) == name) {
            out.push_back(eq == std::string::npos ? std::string() : percent_decode(pair.substr(eq + 1)));
        }
        if (amp == std::string::npos) break;
        start = amp + 1;
    }
    return out;
}

FakeHttpServer::FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0) {
        ::close(listen_fd_);
        throw std::runtime_error("bind/listen failed");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (::pipe2(wake_pipe_, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    acceptor_ = std::thread([this] { accept_loop(); });
}

FakeHttpServer::~FakeHttpServer() {
    char c = 'x';
    (void)!::write(wake_pipe_[1], &c, 1);
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> threads;
    {
        std::lock_guard g(mutex_);
        threads.swap(connections_);
    }
    for (auto& t : threads) t.join();
    ::close(listen_fd_);
    ::close(wake_pipe_[0]);
    ::close(wake_pipe_[1]);
}

std::vector<FakeRequest> FakeHttpServer::requests() const {
    std::lock_guard g(mutex_);
    return log_;
}

size_t FakeHttpServer::request_count() const {
    std::lock_guard g(mutex_);
    return log_.size();
}

void FakeHttpServer::accept_loop() {
    for (;;) {
        pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (fds[1].revents) return;
        if (fds[0].revents & POLLIN) {
            int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            std::lock_guard g(mutex_);
            connections_.emplace_back([this, fd] {
                serve(fd);
                ::close(fd);
            });
        }
    }
}

void FakeHttpServer::serve(int fd) {
    std::string buf;
    if (!read_more(fd, buf)) return;
    // Not HTTP (e.g. a TLS ClientHello from an HTTPS probe): hang up, as a plain server would fail it.
    if (buf[0] < 'A' || buf[0] > 'Z') return;
    size_t header_end;
    while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (!read_more(fd, buf)) return;
    }
    FakeRequest req;
    std::string head = buf.substr(0, header_end);
    std::string rest = buf.substr(header_end + 4);
    size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    size_t sp1 = request_line.find(' ');
    size_t sp2 = request_line.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1) return;
    req.method = request_line.substr(0, sp1);
    req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t q = req.target.find('?');
    req.path = req.target.substr(0, q);
    req.query = q == std::string::npos ? std::string() : req.target.substr(q + 1);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
        size_t e = head.find("\r\n", pos);
        std::string line = head.substr(pos, e == std::string::npos ? std::string::npos : e - pos);
        size_t colon = line.find(':');
        if (colon != std::string::npos) req.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
        if (e == std::string::npos) break;
        pos = e + 2;
    }
    if (lower(req.header("transfer-encoding")) == "chunked") {
        for (;;) {
            size_t nl;
            while ((nl = rest.find("\r\n")) == std::string::npos) {
                if (!read_more(fd, rest)) return;
            }
            size_t chunk = std::stoul(rest.substr(0, nl), nullptr, 16);
            while (rest.size() < nl + 2 + chunk + 2) {
                if (!read_more(fd, rest)) return;
            }
            req.body += rest.substr(nl + 2, chunk);
            rest = rest.substr(nl + 2 + chunk + 2);
            if (chunk == 0) break;
        }
    } else if (!req.header("content-length").empty()) {
        size_t length = std::stoul(req.header("content-length"));
        while (rest.size() < length) {
            if (!read_more(fd, rest)) break;  // client aborted mid-body: still log what came
        }
        req.body = rest.substr(0, length);
    }
    {
        std::lock_guard g(mutex_);
        log_.push_back(req);
    }
    FakeResponse resp = handler_(req);
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + reason(resp.status) + "\r\n";
    bool has_length = false;
    for (const auto& [k, v] : resp.headers) {
        if (lower(k) == "content-length") has_length = true;
        out += k + ": " + v + "\r\n";
    }
    if (!has_length) out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n";
    out += "Connection: close\r\n\r\n";
    if (!send_all(fd, out.data(), out.size())) return;
    if (req.method == "HEAD") return;
    std::string body = resp.body;
    if (resp.truncate_body_at >= 0 && static_cast<size_t>(resp.truncate_body_at) < body.size()) {
        body.resize(static_cast<size_t>(resp.truncate_body_at));
    }
    size_t first = body.size();
    if (resp.pause_after >= 0 && static_cast<size_t>(resp.pause_after) < body.size()) {
        first = static_cast<size_t>(resp.pause_after);
    }
    if (!send_all(fd, body.data(), first)) return;
    if (first < body.size()) {
        // Pause in small steps so the server notices a client that hung up.
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(resp.pause_ms);
        while (std::chrono::steady_clock::now() < until) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 20) > 0) {
                char tmp[256];
                if (::recv(fd, tmp, sizeof tmp, MSG_DONTWAIT) <= 0) return;
            }
        }
        send_all(fd, body.data() + first, body.size() - first);
    }
    ::shutdown(fd, SHUT_WR);
}

}  // namespace ctl::registry::testing
