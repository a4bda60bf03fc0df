// The HTTP server: Docker Engine API conventions over unix sockets and TCP (+mutual TLS).
// One io thread runs every connection; handlers run on a worker pool, so a slow handler never
// stalls /_ping. Streams are chunked and flushed per write; hijacks hand the socket over.
#pragma once

#include <memory>
#include <functional>
#include <string>
#include <vector>

#include "api/router.hpp"
#include "engine/base/result.hpp"

namespace ctl::api {

struct TlsOptions {
    bool verify = false;  // --tlsverify: require and verify client certificates
    std::string ca_file, cert_file, key_file;
};

struct ServerOptions {
    std::vector<std::string> hosts;    // unix:///path, tcp://addr:port, fd:// (socket activation)
    TlsOptions tls;
    bool insecure_tcp = false;         // allow tcp:// without TLS (warns)
    std::string socket_group = "ctl";  // unix sockets are root:<group> 0660 when the group exists
    size_t worker_threads = 16;
    std::string engine_version;        // for the Server header
    // Called once when shutdown begins, so the engine can abort long jobs (pulls, pushes) that
    // would otherwise hold the worker pool past the grace period.
    std::function<void()> on_shutdown;
};

class Server {
public:
    Server(const Router& router, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds every host; fails (and binds nothing) when one cannot be used.
    Status listen();
    // Serves until SIGTERM/SIGINT or shutdown(); then stops accepting, lets in-flight requests
    // finish for a few seconds, ends streams and removes the unix sockets it created.
    void run();
    void shutdown();
    // Runs `fn` on the worker pool (for background jobs of the engine).
    void post_work(std::function<void()> fn);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ctl::api
