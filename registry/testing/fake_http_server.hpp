// Test-only: a tiny HTTP/1.1 server on 127.0.0.1 (ephemeral port) answering each request with a
// handler's canned response, one connection per request (Connection: close), each on its own
// thread. Enough to play a token server, a registry or a storage backend in unit tests.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ctl::registry::testing {

struct FakeRequest {
    std::string method;
    std::string target;  // path + query as sent
    std::string path;
    std::string query;   // without "?"
    std::map<std::string, std::string> headers;  // names lowercased
    std::string body;

    std::string header(const std::string& lowercase_name) const {
        auto it = headers.find(lowercase_name);
        return it == headers.end() ? std::string() : it->second;
    }
    // Every value of `name` in the query string, percent-decoded.
    std::vector<std::string> query_values(const std::string& name) const;
};

struct FakeResponse {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // Misbehaviour for tests: close the connection after this many body bytes (declared length
    // unchanged), or pause `pause_ms` after `pause_after` body bytes.
    int64_t truncate_body_at = -1;
    int64_t pause_after = -1;
    int pause_ms = 0;
};

class FakeHttpServer {
public:
    using Handler = std::function<FakeResponse(const FakeRequest&)>;

    explicit FakeHttpServer(Handler handler);
    ~FakeHttpServer();  // stops accepting, waits for connection threads
    FakeHttpServer(const FakeHttpServer&) = delete;
    FakeHttpServer& operator=(const FakeHttpServer&) = delete;

    int port() const { return port_; }
    std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
    std::string url() const { return "http://" + host(); }
    std::vector<FakeRequest> requests() const;
    size_t request_count() const;

private:
    void accept_loop();
    void serve(int fd);

    Handler handler_;
    int listen_fd_ = -1;
    int wake_pipe_[2] = {-1, -1};
    int port_ = 0;
    std::thread acceptor_;
    mutable std::mutex mutex_;
    std::vector<std::thread> connections_;
    std::vector<FakeRequest> log_;
};

}  // namespace ctl::registry::testing
