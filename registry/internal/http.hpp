// Private to registry/: one blocking HTTP exchange on a libcurl easy handle, no redirects
// followed (the client decides per hop what headers to carry), bodies streamed both ways.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/base/result.hpp"

namespace ctl::registry::internal {

using DataSink = std::function<Status(const char* data, size_t size)>;
// Fills up to `size` bytes; returns how many (0 = end of body).
using BodyReader = std::function<Result<size_t>(char* buffer, size_t size)>;

struct TlsSettings {
    bool verify = true;
    std::string ca_pem;       // extra CAs (PEM, already concatenated with the system bundle); "" = defaults
    std::string client_cert;  // file paths
    std::string client_key;
};

struct HttpResponse {
    long status = 0;
    std::vector<std::pair<std::string, std::string>> headers;  // of this response only
    std::string body;                                          // collected (non-streamed) body
    std::string url;                                           // where it came from (set by callers)

    // First header with that name (case-insensitive), "" if none.
    std::string header(std::string_view name) const;
    std::vector<std::string> headers_named(std::string_view name) const;
};

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    // Request body: `reader` streaming `body_size` bytes, else `body` (may be empty).
    std::string body;
    BodyReader reader;
    int64_t body_size = -1;
    // Called once when the final response's headers are in, before any body byte. An error aborts.
    std::function<Status(const HttpResponse& head)> on_head;
    // Receives 2xx bodies as they arrive; other statuses (and 2xx when unset) are collected into
    // HttpResponse::body, up to `max_body` bytes (more: TooLarge for 2xx, truncated otherwise).
    DataSink sink;
    int64_t max_body = 1 << 20;
    std::function<void(int64_t done, int64_t total)> upload_progress;
    const std::atomic<bool>* cancel = nullptr;
    TlsSettings tls;
    std::string user_agent;
    long connect_timeout_ms = 30000;
    long timeout_ms = 0;         // whole exchange; 0 = none
    long stall_timeout_s = 0;    // abort when under 1 byte/s for this long; 0 = never
};

// Thread-safe: every perform() takes its own easy handle from a small pool of idle handles (so
// keep-alive connections are reused), sharing DNS and TLS session caches between them.
class HttpTransport {
public:
    HttpTransport();
    ~HttpTransport();
    HttpTransport(const HttpTransport&) = delete;
    HttpTransport& operator=(const HttpTransport&) = delete;

    // Transport failures: Unavailable (connect, TLS, reset; message `Get "<url>": <curl text>`),
    // DeadlineExceeded (timeouts), Cancelled (cancel flag). Errors returned by the request's
    // callbacks (sink, reader, on_head) come back unchanged. Any HTTP status is a value.
    Result<HttpResponse> perform(const HttpRequest& request);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// URL helpers (libcurl's URL parser).
// Resolves `location` (absolute, or relative to `base`) to an absolute URL.
Result<std::string> resolve_url(std::string_view base, std::string_view location);
// scheme://host:port with the default port made explicit; "" when unparsable.
std::string url_origin(std::string_view url);
// host[:port] as written in the URL ("" when unparsable).
std::string url_host_port(std::string_view url);
std::string url_scheme(std::string_view url);
// RFC 3986 percent-encoding of everything but unreserved characters.
std::string url_escape(std::string_view text);

}  // namespace ctl::registry::internal
