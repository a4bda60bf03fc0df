// The request and response types route handlers see. Nothing here includes Beast or Asio, so
// routers and backends compile quickly; api/server.cpp is the only place that speaks HTTP.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/byte_queue.hpp"
#include "engine/base/json.hpp"
#include "engine/base/query.hpp"
#include "engine/base/result.hpp"

namespace ctl::api {

inline constexpr std::string_view kApiVersion = "1.41";
inline constexpr std::string_view kMinApiVersion = "1.12";

struct CaseInsensitiveLess {
    bool operator()(const std::string& a, const std::string& b) const;
};
using Headers = std::map<std::string, std::string, CaseInsensitiveLess>;

struct Request {
    std::string method;       // "GET", "POST", ...
    std::string path;         // decoded path without the /v1.NN prefix
    std::string api_version;  // from the prefix, or kApiVersion when unversioned
    QueryMap query;
    Headers headers;
    std::string body;                          // small bodies (JSON)
    std::shared_ptr<ByteQueue> body_stream;    // large bodies, for routes that stream them
    std::map<std::string, std::string> params;  // {captures} from the route pattern
    std::string request_id;

    const std::string& param(const std::string& name) const;
    std::string header(const std::string& name) const;
    bool has_query(const std::string& key) const { return query.count(key) > 0; }
    std::string query_value(const std::string& key, std::string fallback = {}) const;
    std::vector<std::string> query_values(const std::string& key) const;
    // Docker's boolean rule; `fallback` when absent (a few parameters default to true).
    bool query_bool(const std::string& key, bool fallback = false) const;
    // InvalidArgument when present but not an integer.
    Result<std::optional<int64_t>> query_int(const std::string& key) const;
    Result<Json> json_body() const;
    Result<Filters> filters(const std::set<std::string>& allowed) const;
    // Reads the whole streamed body (or returns the small body) — for routes that need it all.
    std::string read_all_body() const;
};

// Hands the raw connection to a handler after a `101 UPGRADED` (attach, exec start).
struct HijackedConnection {
    int fd = -1;              // owned by the handler; a full-duplex stream socket
    std::string prebuffered;  // bytes the client sent after its request headers (stdin)
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    // A streamed (chunked) response: called on a worker thread after the headers are flushed.
    // It writes into the queue and closes it when done; it may also hand the queue to an async
    // producer and return at once. A cancelled queue means the client went away.
    std::function<void(std::shared_ptr<ByteQueue>)> stream;
    // A hijacked connection: called on a worker thread after `101 UPGRADED` is flushed.
    std::function<void(HijackedConnection)> hijack;

    static Response json(int status, const Json& body);
    static Response json(const Json& body) { return json(200, body); }
    static Response text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
    static Response no_content(int status = 204);
    static Response error(const Error& error);
    static Response streaming(std::string content_type, std::function<void(std::shared_ptr<ByteQueue>)> producer);
};

// The one mapping from error kinds to HTTP status codes.
int http_status(Errc code);
Json error_body(const std::string& message);

// Writes JSON-lines progress with moby's error-after-flush rule: the final error is a line
// carrying both `error` and `errorDetail`.
class JsonStream {
public:
    explicit JsonStream(std::shared_ptr<ByteQueue> out, std::function<void()> on_write = {})
        : out_(std::move(out)), on_write_(std::move(on_write)) {}
    bool write(const Json& message);
    bool write_error(const std::string& message);
    bool gone() const { return out_->cancelled(); }
    void close() { out_->close(); }
    ByteQueue& queue() { return *out_; }

private:
    std::shared_ptr<ByteQueue> out_;
    std::function<void()> on_write_;  // told about every write (lazy streams wait for the first)
};

}  // namespace ctl::api
