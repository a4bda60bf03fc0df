// A tiny HTTP/1.1 server on a temporary unix socket for the client's unit tests: it parses each
// request (Content-Length or chunked bodies, keep-alive) and hands it to a handler that writes
// the raw answer, so tests control status lines, chunking and timing byte for byte.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ctl::client::testing {

struct FakeRequest {
    std::string method, target, body;
    std::map<std::string, std::string> headers;  // lower-case names
};

class FakeEngine {
public:
    // Writes the answer to `fd`; return false to close the connection afterwards.
    using Handler = std::function<bool(const FakeRequest& req, int fd)>;

    explicit FakeEngine(Handler handler);
    ~FakeEngine();
    FakeEngine(const FakeEngine&) = delete;
    FakeEngine& operator=(const FakeEngine&) = delete;

    std::string host() const { return "unix://" + path_; }
    std::vector<FakeRequest> requests() const;
    int connections() const { return connections_.load(); }

    // Answer helpers.
    static void write_all(int fd, const std::string& data);
    static void reply(int fd, int status, const std::string& body, const std::string& content_type = "application/json");
    static void reply_chunk_head(int fd, int status = 200, const std::string& content_type = "application/json");
    static void reply_chunk(int fd, const std::string& data);  // one chunk; "" ends the body

private:
    void accept_loop();
    void serve(int fd);

    Handler handler_;
    std::string dir_, path_;
    int listen_fd_ = -1;
    int wake_fd_ = -1;
    std::thread acceptor_;
    mutable std::mutex mu_;
    std::vector<FakeRequest> requests_;
    std::vector<int> conn_fds_;
    std::vector<std::thread> workers_;
    std::atomic<int> connections_{0};
};

}  // namespace ctl::client::testing
