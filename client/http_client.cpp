#include "client/http_client.hpp"

#include <curl/curl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "engine/base/query.hpp"
#include "engine/base/util.hpp"

namespace ctl::client {

namespace {

struct CurlGlobal {
    CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
    ~CurlGlobal() { curl_global_cleanup(); }
};

struct Transfer {
    HttpResponse response;
    const std::function<bool(const char*, size_t)>* on_data = nullptr;
    bool streaming_ok = false;  // status known to be 2xx: hand data to on_data
    bool stopped = false;
    BodySource upload;
};

size_t header_cb(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string line(data, size * n);
    if (starts_with(line, "HTTP/")) {
        t->response.headers.clear();
        auto sp = line.find(' ');
        if (sp != std::string::npos) t->response.status = std::atoi(line.c_str() + sp + 1);
    } else {
        auto colon = line.find(':');
        if (colon != std::string::npos) t->response.headers[to_lower(line.substr(0, colon))] = trim(line.substr(colon + 1));
    }
    t->streaming_ok = t->response.status >= 200 && t->response.status < 300;
    return size * n;
}

size_t write_cb(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t len = size * n;
    if (t->on_data && t->streaming_ok) {
        if (!(*t->on_data)(data, len)) {
            t->stopped = true;
            return 0;  // aborts the transfer
        }
    } else {
        t->response.body.append(data, len);
    }
    return len;
}

size_t read_cb(char* buf, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    long got = t->upload(buf, size * n);
    if (got < 0) return CURL_READFUNC_ABORT;
    return static_cast<size_t>(got);
}

Error engine_error(const HttpResponse& r) {
    std::string message;
    Json doc = Json::parse(r.body, nullptr, false);
    if (!doc.is_discarded() && doc.is_object() && doc.contains("message") && doc["message"].is_string()) {
        message = doc["message"].get<std::string>();
    } else {
        message = trim(r.body);
        if (message.empty()) message = "HTTP status " + std::to_string(r.status);
    }
    Errc code = Errc::Internal;
    switch (r.status) {
        case 400: code = Errc::InvalidArgument; break;
        case 401: code = Errc::Unauthorized; break;
        case 403: code = Errc::Forbidden; break;
        case 404: code = Errc::NotFound; break;
        case 409: code = Errc::Conflict; break;
        case 304: code = Errc::NotModified; break;
        case 501: code = Errc::NotImplemented; break;
        case 503: code = Errc::Unavailable; break;
        default: break;
    }
    return make_error(code, message);
}

}  // namespace

HttpClient::HttpClient(std::string host, TlsConfig tls) : host_(std::move(host)), tls_(std::move(tls)) {
    static CurlGlobal global;
}

Error HttpClient::connect_error(const std::string& detail) const {
    (void)detail;
    return make_error(Errc::Unavailable, "cannot connect to the engine at " + host_ + ": is ctld running?");
}

std::string HttpClient::path_with_query(const std::string& path,
                                        const std::vector<std::pair<std::string, std::string>>& query) {
    std::string out = "/v1.41" + path;
    char sep = '?';
    for (const auto& [k, v] : query) {
        out += sep + url_encode(k) + "=" + url_encode(v);
        sep = '&';
    }
    return out;
}

Result<HttpResponse> HttpClient::request(const std::string& method, const std::string& path, const std::string& body,
                                         const std::map<std::string, std::string>& headers) {
    return stream(method, path, {}, body, headers);
}

Result<HttpResponse> HttpClient::stream(const std::string& method, const std::string& path,
                                        const std::function<bool(const char*, size_t)>& on_data,
                                        const std::string& body, const std::map<std::string, std::string>& headers,
                                        BodySource upload) {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) return make_error(Errc::Internal, "curl_easy_init failed");
    CURL* c = curl.get();
    std::string url;
    if (starts_with(host_, "unix://")) {
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, host_.substr(7).c_str());
        url = "http://localhost" + path;
    } else if (starts_with(host_, "tcp://")) {
        bool tls = tls_.verify || !tls_.cert.empty();
        url = std::string(tls ? "https://" : "http://") + host_.substr(6) + path;
        if (tls) {
            if (!tls_.ca.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, tls_.ca.c_str());
            if (!tls_.cert.empty()) curl_easy_setopt(c, CURLOPT_SSLCERT, tls_.cert.c_str());
            if (!tls_.key.empty()) curl_easy_setopt(c, CURLOPT_SSLKEY, tls_.key.c_str());
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, tls_.verify ? 1L : 0L);
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, tls_.verify ? 2L : 0L);
        }
    } else {
        return make_error(Errc::InvalidArgument, "unsupported host " + host_ + " (use unix:// or tcp://)");
    }
    Transfer t;
    t.on_data = on_data ? &on_data : nullptr;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "ctl/" CTL_VERSION);
    if (method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    struct curl_slist* list = nullptr;
    for (const auto& [k, v] : headers) list = curl_slist_append(list, (k + ": " + v).c_str());
    list = curl_slist_append(list, "Expect:");
    if (upload) {
        t.upload = std::move(upload);
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(c, CURLOPT_READDATA, &t);
        list = curl_slist_append(list, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    } else if (!body.empty() || method == "POST" || method == "PUT") {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(list);
    if (rc != CURLE_OK && !(t.stopped && rc == CURLE_WRITE_ERROR)) {
        if (t.response.status == 0) return connect_error(curl_easy_strerror(rc));
        if (t.streaming_ok) return make_error(Errc::Unavailable, std::string("connection to the engine lost: ") + curl_easy_strerror(rc));
    }
    if (t.response.status < 200 || t.response.status >= 300) return engine_error(t.response);
    return t.response;
}

Result<HttpClient::Hijacked> HttpClient::hijack(const std::string& method, const std::string& path,
                                                const std::string& body,
                                                const std::map<std::string, std::string>& headers) {
    int fd = -1;
    if (starts_with(host_, "unix://")) {
        std::string p = host_.substr(7);
        fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (p.size() >= sizeof addr.sun_path) return make_error(Errc::InvalidArgument, "socket path too long");
        std::memcpy(addr.sun_path, p.c_str(), p.size());
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd);
            return connect_error(std::strerror(errno));
        }
    } else if (starts_with(host_, "tcp://") && !(tls_.verify || !tls_.cert.empty())) {
        std::string hp = host_.substr(6);
        auto colon = hp.rfind(':');
        addrinfo hints{}, *res = nullptr;
        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo(hp.substr(0, colon).c_str(), hp.substr(colon + 1).c_str(), &hints, &res) != 0 || !res) {
            return connect_error("resolve");
        }
        fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
        freeaddrinfo(res);
        if (rc != 0) {
            ::close(fd);
            return connect_error(std::strerror(errno));
        }
    } else {
        return make_error(Errc::NotImplemented, "attach and exec over TLS are not supported yet");
    }
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ctl/" CTL_VERSION
                      "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    for (size_t off = 0; off < req.size();) {
        ssize_t n = ::write(fd, req.data() + off, req.size() - off);
        if (n <= 0) {
            ::close(fd);
            return connect_error("write");
        }
        off += static_cast<size_t>(n);
    }
    std::string got;
    char buf[4096];
    size_t end;
    while ((end = got.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
            ::close(fd);
            return make_error(Errc::Unavailable, "connection closed before the engine answered");
        }
        got.append(buf, static_cast<size_t>(n));
    }
    int status = 0;
    if (starts_with(got, "HTTP/")) status = std::atoi(got.c_str() + got.find(' ') + 1);
    if (status != 101 && status != 200) {
        HttpResponse r;
        r.status = status;
        r.body = got.substr(end + 4);
        // Read the rest of a JSON error body when a length was given.
        auto cl = to_lower(got.substr(0, end)).find("content-length:");
        if (cl != std::string::npos) {
            size_t want = static_cast<size_t>(std::atol(got.c_str() + cl + 15));
            while (r.body.size() < want) {
                ssize_t n = ::read(fd, buf, sizeof buf);
                if (n <= 0) break;
                r.body.append(buf, static_cast<size_t>(n));
            }
        }
        ::close(fd);
        return engine_error(r);
    }
    return Hijacked{fd, got.substr(end + 4)};
}

bool LineSplitter::feed(const char* data, size_t size, const std::function<bool(const std::string&)>& on_line) {
    pending_.append(data, size);
    size_t start = 0;
    for (;;) {
        auto nl = pending_.find('\n', start);
        if (nl == std::string::npos) break;
        std::string line = pending_.substr(start, nl - start);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        start = nl + 1;
        if (!line.empty() && !on_line(line)) {
            pending_.erase(0, start);
            return false;
        }
    }
    pending_.erase(0, start);
    return true;
}

}  // namespace ctl::client
