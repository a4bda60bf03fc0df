// ctl's connection to the engine: synchronous HTTP/1.1 over a unix socket, plain TCP, or TCP with
// (mutual) TLS, on libcurl. libcurl stays inside http_client.cpp; this header is all a command sees.
//
// Every API path is given without the version ("/containers/json") and sent as "/v1.41/...".
// A non-2xx answer becomes an Error whose message is "Error response from daemon: <the engine's
// {"message"}>" and whose code follows the status (404 -> NotFound, 409 -> Conflict, ...); a
// refused connection becomes Unavailable "cannot connect to the engine at <host>: is ctld running?".
//
// Thread safety: one HttpClient may be used from several threads at once (`run` keeps a wait
// stream open while it starts the container); each call borrows its own connection from a small
// pool, so sequential calls reuse one keep-alive connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/base/json.hpp"
#include "engine/base/result.hpp"

namespace ctl::client {

inline constexpr std::string_view kApiVersion = "1.41";
inline constexpr std::string_view kDefaultHost = "unix:///run/ctld.sock";
// What every engine error message starts with, as the docker CLI prints it.
inline constexpr std::string_view kDaemonErrorPrefix = "Error response from daemon: ";

struct TlsConfig {
    bool enabled = false;  // --tls, --tlsverify, or any of the file flags
    bool verify = false;   // --tlsverify: check the engine's certificate (against `ca` when given)
    std::string ca, cert, key;  // PEM files; cert+key authenticate ctl to the engine
};

// Where the engine listens: parsed from "unix:///path" or "tcp://host[:port]".
struct Endpoint {
    enum class Kind { Unix, Tcp } kind = Kind::Unix;
    std::string path;  // unix
    std::string host;  // tcp; IPv6 literals without brackets
    int port = 0;      // tcp; default 2375 (plain) or 2376 (TLS), as docker
};
Result<Endpoint> parse_host(std::string_view host, bool tls);

using Query = std::vector<std::pair<std::string, std::string>>;  // keys may repeat (t=a&t=b)
using Headers = std::map<std::string, std::string>;              // response names are lower-case

// Produces an upload body piece by piece: fills `buf` and returns the byte count, 0 at the end,
// -1 on a read error (the request is then aborted).
using BodySource = std::function<long(char* buf, size_t len)>;
// A body read from a file, or from stdin when `path` is "-". NotFound/... when it can't be opened.
// `size` is set to the file's length for regular files (-1 for pipes and terminals).
Result<BodySource> body_from_file(const std::string& path, int64_t* size = nullptr);

struct Request {
    std::string method = "GET";
    std::string path;  // API path without the version: "/containers/json", "/images/a/b:c/json"
    Query query;       // values are URL-encoded when sent
    std::string body;
    Headers headers;
    BodySource upload;         // when set, the body is streamed from it instead of `body`
    int64_t upload_size = -1;  // known length -> Content-Length, else chunked
    // stream(): called with the status once the response head is in. `run` starts the container
    // only after its wait request was answered, so the engine cannot miss the exit.
    std::function<void(int status)> on_head;
    // stream(): when set and it becomes true, the transfer stops within about a second (an idle
    // wait stream has no data that would let the chunk handler stop it); not an error.
    const std::atomic<bool>* cancel = nullptr;

    Request() = default;
    Request(std::string m, std::string p, Query q = {}) : method(std::move(m)), path(std::move(p)), query(std::move(q)) {}

    // Sets a JSON body with Content-Type application/json.
    Request& json(const Json& value);
    // Sets a raw body of the given content type.
    Request& raw(std::string data, std::string content_type);
    // Streams the body from `source` (load, import, build contexts).
    Request& stream_body(BodySource source, std::string content_type, int64_t size = -1);
    Request& header(std::string name, std::string value);
};

struct Response {
    int status = 0;
    Headers headers;  // lower-case names
    std::string body;

    // The header's value or "" (name matched case-insensitively).
    std::string header(std::string_view name) const;
    // The body as JSON; Internal "the engine sent invalid JSON" when it isn't.
    Result<Json> json() const;
};

// Receives a streamed body piece by piece as the engine flushes it; return false to stop reading.
using ChunkHandler = std::function<bool(std::string_view chunk)>;

// A connection taken over after "101 UPGRADED": the raw duplex stream of attach and exec start.
// Owns its descriptor; `buffered()` holds stream bytes that arrived together with the response
// headers and must be consumed before reading fd(). Over TLS, fd() is one end of a socketpair that
// a relay thread connects to the TLS session, so callers always see a plain socket.
class HijackedConn {
public:
    HijackedConn() = default;
    HijackedConn(HijackedConn&& other) noexcept;
    HijackedConn& operator=(HijackedConn&& other) noexcept;
    HijackedConn(const HijackedConn&) = delete;
    HijackedConn& operator=(const HijackedConn&) = delete;
    ~HijackedConn();

    int fd() const { return fd_; }
    const std::string& buffered() const { return buffered_; }
    std::string take_buffered() { return std::exchange(buffered_, {}); }
    // Half-close: tells the engine that stdin ended, output keeps coming.
    void close_write();
    void close();

    struct Relay;  // TLS relay thread (http_client.cpp)
    HijackedConn(int fd, std::string buffered, std::unique_ptr<Relay> relay);

private:
    int fd_ = -1;
    std::string buffered_;
    std::unique_ptr<Relay> relay_;
};

class HttpClient {
public:
    // `host` as given by -H / CTL_HOST; it is checked on the first call.
    explicit HttpClient(std::string host, TlsConfig tls = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    const std::string& host() const { return host_; }
    // -D: one line per request and answer on stderr.
    void set_debug(bool on) { debug_ = on; }

    // Sends the request and reads the whole answer.
    Result<Response> request(const Request& req);
    Result<Response> request(std::string method, std::string path, Query query = {}) {
        return request(Request(std::move(method), std::move(path), std::move(query)));
    }
    // GET and parse a JSON answer.
    Result<Json> get_json(std::string path, Query query = {});

    // Delivers a 2xx body as it arrives (progress streams, events, logs, tar exports); the
    // returned Response has status and headers but no body. An error status is read whole and
    // returned as an error, as with request(). Stopping early (handler returns false) is not an error.
    Result<Response> stream(const Request& req, const ChunkHandler& on_chunk);
    // stream() for JSON-lines bodies: calls `on_message` for each object. A line carrying
    // {"errorDetail": ..., "error": ...} ends the stream with that message as the error; an error
    // from `on_message` stops reading and is returned. Non-JSON lines are skipped.
    Status stream_json(const Request& req, const std::function<Status(const Json&)>& on_message);

    // Sends the request with "Connection: Upgrade" and "Upgrade: tcp"; expects 101 and returns
    // the connection. An error status gives the engine's message; another 2xx gives
    // "unable to upgrade to tcp, received N".
    Result<HijackedConn> hijack(const Request& req);

    // "/v1.41" + path (escaped where needed) + "?k=v&..." (URL-encoded).
    static std::string target(const Request& req);

    struct Pool;  // idle libcurl handles (http_client.cpp)

private:
    Error connect_error(const std::string& detail) const;
    Result<Endpoint> endpoint() const;

    std::string host_;
    TlsConfig tls_;
    bool debug_ = false;
    std::unique_ptr<Pool> pool_;
};

// The error an engine answer stands for: its {"message"} (or the raw body) behind
// kDaemonErrorPrefix, and the kind that matches the status.
Error engine_error(int status, std::string_view body);
// The engine's own text of an engine error (without kDaemonErrorPrefix).
std::string daemon_message(const Error& e);

// Splits a byte stream into lines (JSON-lines progress and event streams). "\r\n" and "\n" both
// end a line; empty lines are skipped.
class LineSplitter {
public:
    // Calls `on_line` for each complete line, without its terminator; false from it stops and
    // makes feed() return false.
    bool feed(std::string_view data, const std::function<bool(std::string_view line)>& on_line);
    // What is left when the stream ended without a final newline.
    const std::string& rest() const { return pending_; }

private:
    std::string pending_;
};

}  // namespace ctl::client
