#include "client/testing/fake_engine.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace ctl::client::testing {

namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

const char* reason(int status) {
    switch (status) {
        case 101: return "Switching Protocols";
        case 200: return "OK";
        case 201: return "Created";
        case 204: return "No Content";
        case 304: return "Not Modified";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 409: return "Conflict";
        default: return "Status";
    }
}

}  // namespace

FakeEngine::FakeEngine(Handler handler) : handler_(std::move(handler)) {
    char tmpl[] = "/tmp/ctl-fake-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
    dir_ = tmpl;
    path_ = dir_ + "/engine.sock";
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 16) != 0) {
        throw std::runtime_error("bind/listen");
    }
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
    acceptor_ = std::thread([this] { accept_loop(); });
}

FakeEngine::~FakeEngine() {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
    acceptor_.join();
    {
        std::lock_guard lock(mu_);
        for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
    ::close(listen_fd_);
    ::close(wake_fd_);
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
}

std::vector<FakeRequest> FakeEngine::requests() const {
    std::lock_guard lock(mu_);
    return requests_;
}

void FakeEngine::accept_loop() {
    for (;;) {
        pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) continue;
        if (fds[1].revents) return;
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        ++connections_;
        std::lock_guard lock(mu_);
        conn_fds_.push_back(fd);
        workers_.emplace_back([this, fd] { serve(fd); });
    }
}

void FakeEngine::serve(int fd) {
    std::string buf;
    char tmp[8192];
    auto fill = [&]() {
        ssize_t n = ::read(fd, tmp, sizeof tmp);
        if (n <= 0) return false;
        buf.append(tmp, static_cast<size_t>(n));
        return true;
    };
    for (;;) {
        size_t end;
        while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
            if (!fill()) return;
        }
        FakeRequest req;
        std::string head = buf.substr(0, end);
        buf.erase(0, end + 4);
        size_t line_end = head.find("\r\n");
        std::string first = head.substr(0, line_end);
        auto sp1 = first.find(' '), sp2 = first.rfind(' ');
        req.method = first.substr(0, sp1);
        req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
        size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
        while (pos < head.size()) {
            size_t e = head.find("\r\n", pos);
            if (e == std::string::npos) e = head.size();
            std::string line = head.substr(pos, e - pos);
            auto colon = line.find(':');
            if (colon != std::string::npos) {
                std::string v = line.substr(colon + 1);
                while (!v.empty() && v.front() == ' ') v.erase(0, 1);
                req.headers[lower(line.substr(0, colon))] = v;
            }
            pos = e + 2;
        }
        if (req.headers.count("content-length")) {
            size_t want = std::strtoul(req.headers["content-length"].c_str(), nullptr, 10);
            while (buf.size() < want) {
                if (!fill()) return;
            }
            req.body = buf.substr(0, want);
            buf.erase(0, want);
        } else if (lower(req.headers["transfer-encoding"]) == "chunked") {
            for (;;) {
                size_t eol;
                while ((eol = buf.find("\r\n")) == std::string::npos) {
                    if (!fill()) return;
                }
                size_t len = std::strtoul(buf.c_str(), nullptr, 16);
                while (buf.size() < eol + 2 + len + 2) {
                    if (!fill()) return;
                }
                req.body += buf.substr(eol + 2, len);
                buf.erase(0, eol + 2 + len + 2);
                if (len == 0) break;
            }
        }
        {
            std::lock_guard lock(mu_);
            requests_.push_back(req);
        }
        if (!handler_(req, fd)) {
            ::shutdown(fd, SHUT_RDWR);
            return;
        }
    }
}

void FakeEngine::write_all(int fd, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;
        off += static_cast<size_t>(n);
    }
}

void FakeEngine::reply(int fd, int status, const std::string& body, const std::string& content_type) {
    write_all(fd, "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\nContent-Type: " + content_type +
                      "\r\nApi-Version: 1.41\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

void FakeEngine::reply_chunk_head(int fd, int status, const std::string& content_type) {
    write_all(fd, "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\nContent-Type: " + content_type +
                      "\r\nTransfer-Encoding: chunked\r\n\r\n");
}

void FakeEngine::reply_chunk(int fd, const std::string& data) {
    if (data.empty()) {
        write_all(fd, "0\r\n\r\n");
        return;
    }
    char len[32];
    std::snprintf(len, sizeof len, "%zx\r\n", data.size());
    write_all(fd, std::string(len) + data + "\r\n");
}

}  // namespace ctl::client::testing
