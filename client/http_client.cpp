#include "client/http_client.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "engine/base/query.hpp"
#include "engine/base/util.hpp"

namespace ctl::client {

namespace {

constexpr size_t kMaxErrorBody = 1 << 20;  // an error answer larger than this is cut

struct CurlGlobal {
    CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
    ~CurlGlobal() { curl_global_cleanup(); }
};

void curl_global() { static CurlGlobal global; }

bool is_2xx(int status) { return status >= 200 && status < 300; }

Errc errc_for_status(int status) {
    switch (status) {
        case 304: return Errc::NotModified;
        case 400: return Errc::InvalidArgument;
        case 401: return Errc::Unauthorized;
        case 403: return Errc::Forbidden;
        case 404: return Errc::NotFound;
        case 409: return Errc::Conflict;
        case 413: return Errc::TooLarge;
        case 501: return Errc::NotImplemented;
        case 503: return Errc::Unavailable;
        default: return Errc::Internal;
    }
}

// Characters a path may carry as they are; everything else is percent-encoded.
bool path_char_ok(unsigned char c) {
    return std::isalnum(c) || std::strchr("-._~!$&'()*+,;=:@/", c) != nullptr;
}

std::string escape_path(std::string_view path) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : path) {
        if (c != 0 && path_char_ok(c)) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

// The parts of an HTTP/1.1 response head.
struct Head {
    int status = 0;
    Headers headers;
};

Head parse_head(std::string_view text) {
    Head h;
    bool first = true;
    for (auto& line : split(text, '\n')) {
        std::string l = line;
        if (!l.empty() && l.back() == '\r') l.pop_back();
        if (first) {
            first = false;
            auto sp = l.find(' ');
            if (starts_with(l, "HTTP/") && sp != std::string::npos) h.status = std::atoi(l.c_str() + sp + 1);
            continue;
        }
        auto colon = l.find(':');
        if (colon != std::string::npos) h.headers[to_lower(l.substr(0, colon))] = trim(l.substr(colon + 1));
    }
    return h;
}

struct Transfer {
    Response response;
    const ChunkHandler* on_chunk = nullptr;
    bool stopped = false;        // the handler asked to stop
    bool body_started = false;   // part of a 2xx body was delivered
    bool upload_failed = false;
    const BodySource* upload = nullptr;
    const std::function<void(int)>* on_head = nullptr;
};

size_t header_cb(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view line(data, size * n);
    if (starts_with(line, "HTTP/")) {  // a new response (after 100 Continue, say)
        t->response.headers.clear();
        t->response.status = parse_head(line).status;
    } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
        t->response.headers[to_lower(line.substr(0, colon))] = trim(line.substr(colon + 1));
    } else if (trim(line).empty() && t->response.status >= 200 && t->on_head && *t->on_head) {
        (*t->on_head)(t->response.status);  // the blank line ends a final (non-1xx) head
    }
    return size * n;
}

// CURLOPT_XFERINFOFUNCTION: libcurl calls it about once a second even on an idle transfer.
int cancel_cb(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;
}

size_t write_cb(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t len = size * n;
    if (t->on_chunk && is_2xx(t->response.status)) {
        t->body_started = true;
        if (!(*t->on_chunk)(std::string_view(data, len))) {
            t->stopped = true;
            return 0;  // anything but `len` aborts the transfer
        }
    } else if (t->response.body.size() < kMaxErrorBody || t->on_chunk == nullptr) {
        t->response.body.append(data, len);
    }
    return len;
}

size_t read_cb(char* buf, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    long got = (*t->upload)(buf, size * n);
    if (got < 0) {
        t->upload_failed = true;
        return CURL_READFUNC_ABORT;
    }
    return static_cast<size_t>(got);
}

bool is_connect_failure(CURLcode rc) {
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY ||
           rc == CURLE_OPERATION_TIMEDOUT;
}

bool is_tls_failure(CURLcode rc) {
    return rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CERTPROBLEM ||
           rc == CURLE_SSL_CIPHER || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_ISSUER_ERROR ||
           rc == CURLE_SSL_CRL_BADFILE || rc == CURLE_USE_SSL_FAILED || rc == CURLE_SSL_ENGINE_INITFAILED;
}

// Waits until `fd` is ready for `events`; false on error or after `timeout_ms`.
bool wait_fd(int fd, short events, int timeout_ms = -1) {
    pollfd p{fd, events, 0};
    for (;;) {
        int r = ::poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR) continue;
        return r > 0;
    }
}

void set_blocking(int fd) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

void set_nonblocking(int fd) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Hosts, requests, responses

Result<Endpoint> parse_host(std::string_view host, bool tls) {
    auto invalid = [&](const std::string& why) {
        return make_error(Errc::InvalidArgument,
                          "invalid host \"" + std::string(host) + "\": " + why + " (use unix:///path or tcp://host:port)");
    };
    Endpoint ep;
    if (starts_with(host, "unix://")) {
        ep.kind = Endpoint::Kind::Unix;
        ep.path = std::string(host.substr(7));
        if (ep.path.empty() || ep.path[0] != '/') return invalid("the socket path must be absolute");
        return ep;
    }
    if (starts_with(host, "tcp://")) {
        ep.kind = Endpoint::Kind::Tcp;
        std::string rest(host.substr(6));
        while (!rest.empty() && rest.back() == '/') rest.pop_back();
        std::string port;
        if (starts_with(rest, "[")) {  // [::1]:2376
            auto close = rest.find(']');
            if (close == std::string::npos) return invalid("unclosed [");
            ep.host = rest.substr(1, close - 1);
            if (close + 1 < rest.size()) {
                if (rest[close + 1] != ':') return invalid("bad port");
                port = rest.substr(close + 2);
            }
        } else {
            auto colon = rest.rfind(':');
            ep.host = rest.substr(0, colon);
            if (colon != std::string::npos) port = rest.substr(colon + 1);
        }
        if (ep.host.empty()) return invalid("no host name");
        if (ep.host.find('/') != std::string::npos) return invalid("paths are not supported");
        if (port.empty()) {
            ep.port = tls ? 2376 : 2375;
        } else {
            if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
                return invalid("bad port");
            }
            ep.port = std::atoi(port.c_str());
            if (ep.port <= 0 || ep.port > 65535) return invalid("bad port");
        }
        return ep;
    }
    return invalid("unsupported scheme");
}

Request& Request::json(const Json& value) {
    body = to_line(value);
    headers["Content-Type"] = "application/json";
    return *this;
}

Request& Request::raw(std::string data, std::string content_type) {
    body = std::move(data);
    headers["Content-Type"] = std::move(content_type);
    return *this;
}

Request& Request::stream_body(BodySource source, std::string content_type, int64_t size) {
    upload = std::move(source);
    upload_size = size;
    headers["Content-Type"] = std::move(content_type);
    return *this;
}

Request& Request::header(std::string name, std::string value) {
    headers[std::move(name)] = std::move(value);
    return *this;
}

std::string Response::header(std::string_view name) const {
    auto it = headers.find(to_lower(name));
    return it == headers.end() ? std::string() : it->second;
}

Result<Json> Response::json() const {
    Json doc = Json::parse(body, nullptr, false);
    if (doc.is_discarded()) return make_error(Errc::Internal, "the engine sent invalid JSON");
    return doc;
}

Result<BodySource> body_from_file(const std::string& path, int64_t* size) {
    int fd = path == "-" ? ::fcntl(0, F_DUPFD_CLOEXEC, 0) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_error("open " + path);
    struct stat st {};
    if (size) *size = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? static_cast<int64_t>(st.st_size) : -1;
    auto owner = std::shared_ptr<int>(new int(fd), [](int* p) {
        ::close(*p);
        delete p;
    });
    return BodySource([owner](char* buf, size_t len) -> long {
        for (;;) {
            ssize_t n = ::read(*owner, buf, len);
            if (n < 0 && errno == EINTR) continue;
            return static_cast<long>(n);
        }
    });
}

Error engine_error(int status, std::string_view body) {
    std::string message;
    Json doc = Json::parse(body, nullptr, false);
    if (!doc.is_discarded() && doc.is_object()) {
        if (const Json* m = find_ci(doc, "message"); m && m->is_string()) message = m->get<std::string>();
    }
    if (message.empty()) message = trim(body);
    if (message.empty()) message = "the engine answered with status " + std::to_string(status);
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
    return make_error(errc_for_status(status), std::string(kDaemonErrorPrefix) + message);
}

std::string daemon_message(const Error& e) {
    if (starts_with(e.message, kDaemonErrorPrefix)) return e.message.substr(kDaemonErrorPrefix.size());
    return e.message;
}

// ---------------------------------------------------------------------------------------------
// The client

struct HttpClient::Pool {
    std::mutex mu;
    std::vector<CURL*> idle;
    ~Pool() {
        for (CURL* h : idle) curl_easy_cleanup(h);
    }
    CURL* take() {
        {
            std::lock_guard lock(mu);
            if (!idle.empty()) {
                CURL* h = idle.back();
                idle.pop_back();
                curl_easy_reset(h);  // keeps the live connection for reuse
                return h;
            }
        }
        return curl_easy_init();
    }
    void give_back(CURL* h) {
        std::lock_guard lock(mu);
        if (idle.size() < 4) {
            idle.push_back(h);
        } else {
            curl_easy_cleanup(h);
        }
    }
};

namespace {

// Points a handle at the engine: unix socket or TCP, with the TLS settings. Returns the URL
// prefix ("http://localhost", "https://host:port") to put the target behind.
std::string configure_transport(CURL* h, const Endpoint& ep, const TlsConfig& tls, char* errbuf) {
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ctl/" CTL_VERSION " (linux)");
    if (ep.kind == Endpoint::Kind::Unix) {
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, ep.path.c_str());
        return "http://localhost";
    }
    bool v6 = ep.host.find(':') != std::string::npos;
    std::string authority = (v6 ? "[" + ep.host + "]" : ep.host) + ":" + std::to_string(ep.port);
    if (!tls.enabled) return "http://" + authority;
    if (!tls.ca.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, tls.ca.c_str());
    if (!tls.cert.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, tls.cert.c_str());
    if (!tls.key.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, tls.key.c_str());
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, tls.verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, tls.verify ? 2L : 0L);
    return "https://" + authority;
}

std::string curl_detail(CURLcode rc, const char* errbuf) {
    return errbuf[0] ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
}

}  // namespace

HttpClient::HttpClient(std::string host, TlsConfig tls)
    : host_(std::move(host)), tls_(std::move(tls)), pool_(std::make_unique<Pool>()) {
    curl_global();
}

HttpClient::~HttpClient() = default;

Error HttpClient::connect_error(const std::string& detail) const {
    if (debug_) std::fprintf(stderr, "DEBU connecting to %s: %s\n", host_.c_str(), detail.c_str());
    return make_error(Errc::Unavailable, "cannot connect to the engine at " + host_ + ": is ctld running?");
}

Result<Endpoint> HttpClient::endpoint() const { return parse_host(host_, tls_.enabled); }

std::string HttpClient::target(const Request& req) {
    std::string out = "/v" + std::string(kApiVersion);
    if (req.path.empty() || req.path[0] != '/') out += '/';
    out += escape_path(req.path);
    char sep = '?';
    for (const auto& [k, v] : req.query) {
        out += sep + url_encode(k) + "=" + url_encode(v);
        sep = '&';
    }
    return out;
}

Result<Response> HttpClient::request(const Request& req) { return stream(req, nullptr); }

Result<Json> HttpClient::get_json(std::string path, Query query) {
    CTL_ASSIGN_OR_RETURN(auto resp, request(Request("GET", std::move(path), std::move(query))));
    return resp.json();
}

Result<Response> HttpClient::stream(const Request& req, const ChunkHandler& on_chunk) {
    CTL_ASSIGN_OR_RETURN(auto ep, endpoint());
    CURL* h = pool_->take();
    if (!h) return make_error(Errc::Internal, "curl_easy_init failed");
    std::unique_ptr<CURL, std::function<void(CURL*)>> handle(h, [this](CURL* c) { pool_->give_back(c); });

    char errbuf[CURL_ERROR_SIZE] = {0};
    std::string target_path = target(req);
    std::string url = configure_transport(h, ep, tls_, errbuf) + target_path;
    Transfer t;
    t.on_chunk = on_chunk ? &on_chunk : nullptr;
    t.on_head = req.on_head ? &req.on_head : nullptr;
    if (req.cancel) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, cancel_cb);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, req.cancel);
    }
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    if (req.method == "HEAD") curl_easy_setopt(h, CURLOPT_NOBODY, 1L);

    struct curl_slist* list = nullptr;
    for (const auto& [k, v] : req.headers) list = curl_slist_append(list, (k + ": " + v).c_str());
    list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
    if (req.upload) {
        t.upload = &req.upload;
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, &t);
        if (req.upload_size >= 0) {
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.upload_size));
        } else {
            list = curl_slist_append(list, "Transfer-Encoding: chunked");
        }
    } else if (!req.body.empty() || req.method == "POST" || req.method == "PUT") {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    if (debug_) std::fprintf(stderr, "DEBU %s %s\n", req.method.c_str(), target_path.c_str());
    CURLcode rc = curl_easy_perform(h);
    // The handle goes back to the pool: drop pointers into this frame.
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    curl_slist_free_all(list);
    if (debug_) std::fprintf(stderr, "DEBU -> %d (%s)\n", t.response.status, curl_easy_strerror(rc));

    if (rc == CURLE_ABORTED_BY_CALLBACK && req.cancel && req.cancel->load()) return std::move(t.response);
    if (rc != CURLE_OK && !(t.stopped && rc == CURLE_WRITE_ERROR)) {
        std::string detail = curl_detail(rc, errbuf);
        if (t.upload_failed) return make_error(Errc::Internal, "reading the request body failed");
        if (t.response.status == 0) {
            if (is_connect_failure(rc)) return connect_error(detail);
            if (is_tls_failure(rc) || (tls_.enabled && ep.kind == Endpoint::Kind::Tcp && detail.find("SSL") != std::string::npos)) {
                // A refused client certificate shows up after the handshake, as a read error.
                return make_error(Errc::Unavailable, "cannot connect to the engine at " + host_ + ": TLS: " + detail);
            }
            return make_error(Errc::Unavailable, "the engine at " + host_ + " closed the connection: " + detail);
        }
        if (t.body_started || is_2xx(t.response.status)) {
            return make_error(Errc::Unavailable, "connection to the engine lost: " + detail);
        }
    }
    if (!is_2xx(t.response.status)) return engine_error(t.response.status, t.response.body);
    return std::move(t.response);
}

Status HttpClient::stream_json(const Request& req, const std::function<Status(const Json&)>& on_message) {
    LineSplitter lines;
    Status failed = ok();
    auto handle_line = [&](std::string_view line) {
        Json m = Json::parse(line, nullptr, false);
        if (m.is_discarded() || !m.is_object()) return true;
        const Json* detail = find_ci(m, "errorDetail");
        const Json* err = find_ci(m, "error");
        if (detail || err) {
            std::string text = detail ? string_or(*detail, "message") : "";
            if (text.empty() && err) text = err->is_string() ? err->get<std::string>() : to_line(*err);
            failed = make_error(Errc::Internal, text);
            return false;
        }
        failed = on_message(m);
        return static_cast<bool>(failed);
    };
    auto st = stream(req, [&](std::string_view chunk) { return lines.feed(chunk, handle_line); });
    if (!st) return std::move(st).error();
    if (!failed) return failed;
    if (!lines.rest().empty()) {
        std::string last = lines.rest();
        handle_line(last);
    }
    return failed;
}

// ---------------------------------------------------------------------------------------------
// Hijacking

struct HijackedConn::Relay {
    CURL* handle = nullptr;
    int local = -1;  // our end of the socketpair
    int wake = -1;   // eventfd: the owner is closing
    std::thread thread;

    ~Relay() {
        if (thread.joinable()) {
            uint64_t one = 1;
            [[maybe_unused]] auto n = ::write(wake, &one, sizeof one);
            thread.join();
        }
        if (handle) curl_easy_cleanup(handle);
        if (local >= 0) ::close(local);
        if (wake >= 0) ::close(wake);
    }

    // Sends TLS close_notify: the engine's read side sees the end of stdin.
    void tls_close_write() {
        struct curl_tlssessioninfo* info = nullptr;
        if (curl_easy_getinfo(handle, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || !info) return;
        if (info->backend != CURLSSLBACKEND_OPENSSL || !info->internals) return;
        SSL* ssl = static_cast<SSL*>(info->internals);
        curl_socket_t sock = CURL_SOCKET_BAD;
        curl_easy_getinfo(handle, CURLINFO_ACTIVESOCKET, &sock);
        for (int tries = 0; tries < 50; ++tries) {
            int r = SSL_shutdown(ssl);
            if (r >= 0) return;
            int e = SSL_get_error(ssl, r);
            if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) return;
            wait_fd(static_cast<int>(sock), e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, 100);
        }
    }

    // Copies between the socketpair and the TLS session until either side is done.
    void run() {
        curl_socket_t sock = CURL_SOCKET_BAD;
        curl_easy_getinfo(handle, CURLINFO_ACTIVESOCKET, &sock);
        set_nonblocking(local);
        std::string to_engine, to_local;
        bool engine_eof = false, local_eof = false, write_closed = false;
        constexpr size_t kMax = 256 * 1024;
        char buf[16384];
        for (;;) {
            // Decrypted bytes may sit inside the TLS layer where poll() can't see them: drain first.
            while (!engine_eof && to_local.size() < kMax) {
                size_t got = 0;
                CURLcode rc = curl_easy_recv(handle, buf, sizeof buf, &got);
                if (rc == CURLE_AGAIN) break;
                if (rc != CURLE_OK || got == 0) {
                    engine_eof = true;
                    break;
                }
                to_local.append(buf, got);
            }
            while (!to_local.empty()) {
                ssize_t n = ::send(local, to_local.data(), to_local.size(), MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
                if (n <= 0) return;  // the owner closed its end
                to_local.erase(0, static_cast<size_t>(n));
            }
            if (engine_eof && to_local.empty()) {
                ::shutdown(local, SHUT_RDWR);  // the owner reads EOF, its writes fail
                return;
            }
            while (!to_engine.empty()) {
                size_t sent = 0;
                CURLcode rc = curl_easy_send(handle, to_engine.data(), to_engine.size(), &sent);
                if (rc == CURLE_AGAIN) break;
                if (rc != CURLE_OK) {
                    engine_eof = true;
                    to_engine.clear();
                    break;
                }
                to_engine.erase(0, sent);
            }
            if (local_eof && to_engine.empty() && !write_closed) {
                tls_close_write();
                write_closed = true;
            }
            pollfd fds[3] = {{static_cast<int>(sock), 0, 0}, {local, 0, 0}, {wake, POLLIN, 0}};
            if (!engine_eof && to_local.size() < kMax) fds[0].events |= POLLIN;
            if (!to_engine.empty()) fds[0].events |= POLLOUT;
            if (!local_eof && to_engine.size() < kMax) fds[1].events |= POLLIN;
            if (!to_local.empty()) fds[1].events |= POLLOUT;
            int r = ::poll(fds, 3, -1);
            if (r < 0 && errno != EINTR) return;
            if (fds[2].revents) return;
            if (fds[1].revents & (POLLHUP | POLLERR)) return;  // the owner closed its end
            if (fds[1].revents & POLLIN) {
                ssize_t n = ::recv(local, buf, sizeof buf, 0);
                if (n > 0) {
                    to_engine.append(buf, static_cast<size_t>(n));
                } else if (n == 0) {
                    local_eof = true;
                } else if (errno != EINTR && errno != EAGAIN) {
                    return;
                }
            }
        }
    }
};

HijackedConn::HijackedConn(int fd, std::string buffered, std::unique_ptr<Relay> relay)
    : fd_(fd), buffered_(std::move(buffered)), relay_(std::move(relay)) {}

HijackedConn::HijackedConn(HijackedConn&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), buffered_(std::move(other.buffered_)), relay_(std::move(other.relay_)) {}

HijackedConn& HijackedConn::operator=(HijackedConn&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = std::exchange(other.fd_, -1);
        buffered_ = std::move(other.buffered_);
        relay_ = std::move(other.relay_);
    }
    return *this;
}

HijackedConn::~HijackedConn() { close(); }

void HijackedConn::close_write() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void HijackedConn::close() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    relay_.reset();
}

Result<HijackedConn> HttpClient::hijack(const Request& req) {
    CTL_ASSIGN_OR_RETURN(auto ep, endpoint());
    CURL* h = curl_easy_init();
    if (!h) return make_error(Errc::Internal, "curl_easy_init failed");
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> handle(h, curl_easy_cleanup);
    char errbuf[CURL_ERROR_SIZE] = {0};
    std::string url = configure_transport(h, ep, tls_, errbuf) + "/";
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
    std::string target_path = target(req);
    if (debug_) std::fprintf(stderr, "DEBU %s %s (hijack)\n", req.method.c_str(), target_path.c_str());
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        std::string detail = curl_detail(rc, errbuf);
        if (is_tls_failure(rc)) {
            return make_error(Errc::Unavailable, "cannot connect to the engine at " + host_ + ": TLS: " + detail);
        }
        return connect_error(detail);
    }
    curl_socket_t sock = CURL_SOCKET_BAD;
    curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &sock);
    if (sock == CURL_SOCKET_BAD) return connect_error("no socket");
    int fd = static_cast<int>(sock);

    // The request head; the body, if any, follows it.
    std::string head = req.method + " " + target_path + " HTTP/1.1\r\nHost: " +
                       (ep.kind == Endpoint::Kind::Unix ? std::string("localhost") : ep.host) +
                       "\r\nUser-Agent: ctl/" CTL_VERSION " (linux)\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n";
    for (const auto& [k, v] : req.headers) head += k + ": " + v + "\r\n";
    head += "Content-Length: " + std::to_string(req.body.size()) + "\r\n\r\n" + req.body;
    for (size_t off = 0; off < head.size();) {
        size_t sent = 0;
        rc = curl_easy_send(h, head.data() + off, head.size() - off, &sent);
        if (rc == CURLE_AGAIN) {
            wait_fd(fd, POLLOUT);
            continue;
        }
        if (rc != CURLE_OK) return make_error(Errc::Unavailable, "the engine at " + host_ + " closed the connection");
        off += sent;
    }

    // The response head; bytes after it already belong to the stream.
    std::string got;
    size_t head_end = std::string::npos;
    char buf[16384];
    auto recv_some = [&]() -> bool {  // false at EOF or on error
        for (;;) {
            size_t n = 0;
            CURLcode r = curl_easy_recv(h, buf, sizeof buf, &n);
            if (r == CURLE_AGAIN) {
                wait_fd(fd, POLLIN);
                continue;
            }
            if (r != CURLE_OK || n == 0) return false;
            got.append(buf, n);
            return true;
        }
    };
    while ((head_end = got.find("\r\n\r\n")) == std::string::npos) {
        if (got.size() > 64 * 1024 || !recv_some()) {
            return make_error(Errc::Unavailable, "the engine at " + host_ + " closed the connection before answering");
        }
    }
    Head parsed = parse_head(std::string_view(got).substr(0, head_end));
    std::string rest = got.substr(head_end + 4);
    if (debug_) std::fprintf(stderr, "DEBU -> %d\n", parsed.status);
    if (parsed.status != 101) {
        // Read the error body: by length, chunked, or to the end of the connection.
        auto cl = parsed.headers.find("content-length");
        bool chunked = to_lower(parsed.headers["transfer-encoding"]).find("chunked") != std::string::npos;
        if (cl != parsed.headers.end()) {
            size_t want = static_cast<size_t>(std::atoll(cl->second.c_str()));
            while (got.size() - head_end - 4 < want && got.size() < kMaxErrorBody && recv_some()) {}
            rest = got.substr(head_end + 4, want);
        } else if (chunked) {
            while (got.find("\r\n0\r\n") == std::string::npos && got.compare(head_end + 4, 3, "0\r\n") != 0 &&
                   got.size() < kMaxErrorBody && recv_some()) {}
            std::string raw = got.substr(head_end + 4), body;
            size_t pos = 0;
            while (pos < raw.size()) {
                auto eol = raw.find("\r\n", pos);
                if (eol == std::string::npos) break;
                size_t len = std::strtoul(raw.c_str() + pos, nullptr, 16);
                if (len == 0) break;
                body += raw.substr(eol + 2, len);
                pos = eol + 2 + len + 2;
            }
            rest = body;
        } else if (!is_2xx(parsed.status)) {
            while (got.size() < kMaxErrorBody && recv_some()) {}
            rest = got.substr(head_end + 4);
        }
        if (is_2xx(parsed.status)) {
            return make_error(Errc::Internal, "unable to upgrade to tcp, received " + std::to_string(parsed.status));
        }
        return engine_error(parsed.status, rest);
    }

    if (!tls_.enabled) {
        int mine = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (mine < 0) return sys_error("dup");
        handle.reset();  // closes curl's descriptor; ours keeps the connection
        set_blocking(mine);
        return HijackedConn(mine, std::move(rest), nullptr);
    }
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return sys_error("socketpair");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);  // `errbuf` dies with this frame
    auto relay = std::make_unique<HijackedConn::Relay>();
    relay->handle = handle.release();
    relay->local = sv[1];
    relay->wake = ::eventfd(0, EFD_CLOEXEC);
    if (relay->wake < 0) {
        ::close(sv[0]);
        return sys_error("eventfd");
    }
    relay->thread = std::thread([r = relay.get()] { r->run(); });
    return HijackedConn(sv[0], std::move(rest), std::move(relay));
}

// ---------------------------------------------------------------------------------------------

bool LineSplitter::feed(std::string_view data, const std::function<bool(std::string_view)>& on_line) {
    pending_.append(data);
    size_t start = 0;
    bool go_on = true;
    for (;;) {
        auto nl = pending_.find('\n', start);
        if (nl == std::string::npos) break;
        std::string_view line(pending_.data() + start, nl - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        start = nl + 1;
        if (!line.empty() && !on_line(line)) {
            go_on = false;
            break;
        }
    }
    pending_.erase(0, start);
    return go_on;
}

}  // namespace ctl::client
