// ctl's connection to the engine: HTTP/1.1 over a unix socket or TCP (optionally mutual TLS),
// on libcurl. Every path is sent under /v1.41.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/base/json.hpp"
#include "engine/base/result.hpp"

namespace ctl::client {

struct TlsConfig {
    bool verify = false;
    std::string ca, cert, key;
};

struct HttpResponse {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
};

// Reads a request body piece by piece (uploads); returns bytes written to buf, 0 at the end.
using BodySource = std::function<long(char* buf, size_t len)>;

class HttpClient {
public:
    HttpClient(std::string host, TlsConfig tls);
    const std::string& host() const { return host_; }

    // A request whose whole answer is read. Non-2xx answers are errors carrying the engine's
    // {"message"} text; connection failures say "cannot connect to the engine at ...".
    Result<HttpResponse> request(const std::string& method, const std::string& path,
                                 const std::string& body = {},
                                 const std::map<std::string, std::string>& headers = {});
    // The answer's body arrives in pieces as the engine flushes them. `on_data` returns false to
    // stop reading. Error statuses are read whole and returned as errors.
    Result<HttpResponse> stream(const std::string& method, const std::string& path,
                                const std::function<bool(const char*, size_t)>& on_data,
                                const std::string& body = {},
                                const std::map<std::string, std::string>& headers = {},
                                BodySource upload = {});

    // Sends the request with `Upgrade: tcp` and returns the raw socket after a 101 (attach, exec).
    struct Hijacked {
        int fd = -1;
        std::string prebuffered;  // bytes that arrived with the response headers
    };
    Result<Hijacked> hijack(const std::string& method, const std::string& path, const std::string& body = {},
                            const std::map<std::string, std::string>& headers = {});

    // "/v1.41" + path + "?" + query (values URL-encoded).
    static std::string path_with_query(const std::string& path, const std::vector<std::pair<std::string, std::string>>& query);

private:
    Error connect_error(const std::string& detail) const;
    std::string host_;
    TlsConfig tls_;
};

// Splits a byte stream into lines (JSON-lines progress and event streams).
class LineSplitter {
public:
    // Calls `on_line` for each complete line (without the newline); false stops.
    bool feed(const char* data, size_t size, const std::function<bool(const std::string&)>& on_line);
    // The last line when the stream did not end with a newline.
    std::string rest() const { return pending_; }

private:
    std::string pending_;
};

}  // namespace ctl::client
