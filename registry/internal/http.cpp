#include "registry/internal/http.hpp"

#include <curl/curl.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "engine/base/util.hpp"

namespace ctl::registry::internal {

namespace {

constexpr size_t kMaxIdleHandles = 8;

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string_view s) { return to_lower(s); }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

// Go's url.Error prefix: `Get "https://host/v2/": ...`. The query string is dropped (upload
// state, pre-signed storage URLs) so messages never carry signatures.
std::string describe(const std::string& method, const std::string& url) {
    std::string m = method.empty() ? std::string("Get") : lower(method);
    if (!m.empty()) m[0] = static_cast<char>(m[0] - 'a' + 'A');
    std::string u = url.substr(0, url.find('?'));
    return m + " \"" + u + "\"";
}

// Loopback is never sent through a proxy; the environment's no_proxy is kept.
std::string no_proxy_list() {
    std::string list = "localhost,127.0.0.1,::1";
    for (const char* name : {"no_proxy", "NO_PROXY"}) {
        if (const char* v = std::getenv(name); v && *v) {
            list += ",";
            list += v;
            break;
        }
    }
    return list;
}

struct Transfer {
    const HttpRequest& req;
    HttpResponse resp;
    bool head_delivered = false;
    bool failed = false;
    Error error;
    size_t body_offset = 0;  // for uploads from `req.body`
    int64_t last_upload = -1;

    explicit Transfer(const HttpRequest& r) : req(r) {}

    void fail(Error e) {
        if (!failed) {
            failed = true;
            error = std::move(e);
        }
    }
    bool deliver_head() {
        if (head_delivered) return true;
        head_delivered = true;
        if (req.on_head) {
            Status st = req.on_head(resp);
            if (!st) {
                fail(std::move(st).error());
                return false;
            }
        }
        return true;
    }
    bool is_2xx() const { return resp.status >= 200 && resp.status < 300; }
};

size_t on_header(char* data, size_t size, size_t nmemb, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t len = size * nmemb;
    std::string_view line(data, len);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.size() >= 5 && line.substr(0, 5) == "HTTP/") {
        // A new response (interim 1xx, proxy CONNECT, or the final one): start over.
        t->resp.headers.clear();
        t->resp.status = 0;
        auto sp = line.find(' ');
        if (sp != std::string_view::npos) t->resp.status = std::strtol(std::string(line.substr(sp + 1, 3)).c_str(), nullptr, 10);
        return len;
    }
    if (line.empty()) return len;
    if ((line.front() == ' ' || line.front() == '\t') && !t->resp.headers.empty()) {
        t->resp.headers.back().second += " " + trim(line);  // obsolete line folding
        return len;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return len;
    t->resp.headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
    return len;
}

size_t on_write(char* data, size_t size, size_t nmemb, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t len = size * nmemb;
    if (!t->deliver_head()) return 0;
    if (t->is_2xx() && t->req.sink) {
        Status st = t->req.sink(data, len);
        if (!st) {
            t->fail(std::move(st).error());
            return 0;
        }
        return len;
    }
    auto room = static_cast<size_t>(std::max<int64_t>(0, t->req.max_body - static_cast<int64_t>(t->resp.body.size())));
    if (len > room) {
        if (t->is_2xx()) {
            t->fail(make_error(Errc::TooLarge, "response body larger than " + std::to_string(t->req.max_body) + " bytes"));
            return 0;
        }
        t->resp.body.append(data, room);  // error bodies are only for messages: keep the start
        return len;
    }
    t->resp.body.append(data, len);
    return len;
}

size_t on_read(char* buffer, size_t size, size_t nitems, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t cap = size * nitems;
    if (t->req.reader) {
        auto n = t->req.reader(buffer, cap);
        if (!n) {
            t->fail(std::move(n).error());
            return CURL_READFUNC_ABORT;
        }
        return std::min(*n, cap);
    }
    size_t n = std::min(cap, t->req.body.size() - t->body_offset);
    std::memcpy(buffer, t->req.body.data() + t->body_offset, n);
    t->body_offset += n;
    return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t ultotal, curl_off_t ulnow) {
    auto* t = static_cast<Transfer*>(user);
    if (t->req.cancel && t->req.cancel->load(std::memory_order_relaxed)) return 1;
    if (t->req.upload_progress && ulnow != t->last_upload) {
        t->last_upload = ulnow;
        t->req.upload_progress(ulnow, t->req.body_size >= 0 ? t->req.body_size : ultotal);
    }
    return 0;
}

struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct UrlHandle {
    CURLU* u = curl_url();
    ~UrlHandle() { curl_url_cleanup(u); }
    std::string get(CURLUPart part, unsigned flags = 0) const {
        char* out = nullptr;
        if (curl_url_get(u, part, &out, flags) != CURLUE_OK || !out) return "";
        std::string s(out);
        curl_free(out);
        return s;
    }
};

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) return v;
    }
    return "";
}

std::vector<std::string> HttpResponse::headers_named(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) out.push_back(v);
    }
    return out;
}

struct HttpTransport::Impl {
    std::once_flag ready;  // curl and its TLS library start at the first request, not with ctld
    CURLSH* share = nullptr;
    std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;
    std::mutex pool_mutex;
    std::vector<CURL*> idle;
    std::string no_proxy = no_proxy_list();

    static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
        static_cast<Impl*>(user)->locks[data].lock();
    }
    static void unlock(CURL*, curl_lock_data data, void* user) { static_cast<Impl*>(user)->locks[data].unlock(); }

    void make_ready() {
        global_init();
        share = curl_share_init();
        if (share) {
            curl_share_setopt(share, CURLSHOPT_LOCKFUNC, &Impl::lock);
            curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, &Impl::unlock);
            curl_share_setopt(share, CURLSHOPT_USERDATA, this);
            // DNS and TLS sessions are safe to share between threads; connections are kept per
            // pooled easy handle instead (sharing the connection cache across threads is fragile).
            curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
            curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        }
    }

    CURL* acquire() {
        // OpenSSL's initialisation alone is ~4 MB of resident pages: an idle engine skips it.
        std::call_once(ready, [this] { make_ready(); });
        {
            std::lock_guard g(pool_mutex);
            if (!idle.empty()) {
                CURL* h = idle.back();
                idle.pop_back();
                curl_easy_reset(h);
                return h;
            }
        }
        return curl_easy_init();
    }
    void release(CURL* h) {
        std::lock_guard g(pool_mutex);
        if (idle.size() < kMaxIdleHandles) {
            idle.push_back(h);
        } else {
            curl_easy_cleanup(h);
        }
    }
};

HttpTransport::HttpTransport() : impl_(std::make_unique<Impl>()) {}

HttpTransport::~HttpTransport() {
    for (CURL* h : impl_->idle) curl_easy_cleanup(h);
    impl_->idle.clear();
    if (impl_->share) curl_share_cleanup(impl_->share);
}

Result<HttpResponse> HttpTransport::perform(const HttpRequest& req) {
    CURL* h = impl_->acquire();
    if (!h) return make_error(Errc::Internal, "curl_easy_init failed");
    struct Releaser {
        Impl* impl;
        CURL* h;
        ~Releaser() { impl->release(h); }
    } releaser{impl_.get(), h};

    Transfer t(req);
    char errbuf[CURL_ERROR_SIZE] = {0};
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    auto add_header = [&](const std::string& line) {
        curl_slist* next = curl_slist_append(headers.get(), line.c_str());
        if (next) {
            (void)headers.release();
            headers.reset(next);
        }
    };
    for (const auto& line : req.headers) add_header(line);
    add_header("Expect:");  // no 100-continue round trip (Go's client never sends it either)

    if (impl_->share) curl_easy_setopt(h, CURLOPT_SHARE, impl_->share);
    curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 128L * 1024);
    curl_easy_setopt(h, CURLOPT_NOPROXY, impl_->no_proxy.c_str());
    if (!req.user_agent.empty()) curl_easy_setopt(h, CURLOPT_USERAGENT, req.user_agent.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, req.connect_timeout_ms);
    if (req.timeout_ms > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req.timeout_ms);
    if (req.stall_timeout_s > 0) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, req.stall_timeout_s);
    }

    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, req.tls.verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, req.tls.verify ? 2L : 0L);
    if (!req.tls.ca_pem.empty()) {
        curl_blob blob{const_cast<char*>(req.tls.ca_pem.data()), req.tls.ca_pem.size(), CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
    }
    if (!req.tls.client_cert.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, req.tls.client_cert.c_str());
    if (!req.tls.client_key.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, req.tls.client_key.c_str());

    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);

    const std::string method = req.method.empty() ? "GET" : req.method;
    bool has_body = static_cast<bool>(req.reader) || !req.body.empty();
    int64_t body_size = req.reader ? req.body_size : static_cast<int64_t>(req.body.size());
    if (method == "HEAD") {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (method == "POST" && !req.reader) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    } else if (method == "POST") {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, &on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &t);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_size));
    } else if (method == "PUT" || (has_body && method != "GET")) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, &on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &t);
        if (body_size >= 0) curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body_size));
        if (method != "PUT") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    } else if (method != "GET") {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    if (headers) curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

    CURLcode rc = curl_easy_perform(h);
    if (t.failed) return std::move(t.error);
    if (rc != CURLE_OK) {
        std::string text = errbuf[0] ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        std::string what = describe(method, req.url) + ": " + text;
        if (rc == CURLE_ABORTED_BY_CALLBACK) return make_error(Errc::Cancelled, describe(method, req.url) + ": cancelled");
        if (rc == CURLE_OPERATION_TIMEDOUT) return make_error(Errc::DeadlineExceeded, what);
        return make_error(Errc::Unavailable, what);
    }
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code > 0) t.resp.status = code;
    t.resp.url = req.url;
    if (!t.deliver_head()) return std::move(t.error);
    return std::move(t.resp);
}

Result<std::string> resolve_url(std::string_view base, std::string_view location) {
    UrlHandle u;
    if (!u.u) return make_error(Errc::Internal, "curl_url failed");
    if (curl_url_set(u.u, CURLUPART_URL, std::string(base).c_str(), 0) != CURLUE_OK) {
        return make_error(Errc::InvalidArgument, "invalid URL: " + std::string(base));
    }
    if (curl_url_set(u.u, CURLUPART_URL, std::string(location).c_str(), 0) != CURLUE_OK) {
        return make_error(Errc::InvalidArgument, "invalid Location from registry: " + std::string(location));
    }
    std::string out = u.get(CURLUPART_URL);
    if (out.empty()) return make_error(Errc::InvalidArgument, "invalid Location from registry: " + std::string(location));
    return out;
}

std::string url_origin(std::string_view url) {
    UrlHandle u;
    if (!u.u || curl_url_set(u.u, CURLUPART_URL, std::string(url).c_str(), 0) != CURLUE_OK) return "";
    std::string scheme = lower(u.get(CURLUPART_SCHEME));
    std::string host = lower(u.get(CURLUPART_HOST));
    std::string port = u.get(CURLUPART_PORT, CURLU_DEFAULT_PORT);
    if (scheme.empty() || host.empty()) return "";
    return scheme + "://" + host + ":" + port;
}

std::string url_host_port(std::string_view url) {
    UrlHandle u;
    if (!u.u || curl_url_set(u.u, CURLUPART_URL, std::string(url).c_str(), 0) != CURLUE_OK) return "";
    std::string host = u.get(CURLUPART_HOST);
    std::string port = u.get(CURLUPART_PORT);
    return port.empty() ? host : host + ":" + port;
}

std::string url_scheme(std::string_view url) {
    UrlHandle u;
    if (!u.u || curl_url_set(u.u, CURLUPART_URL, std::string(url).c_str(), 0) != CURLUE_OK) return "";
    return lower(u.get(CURLUPART_SCHEME));
}

std::string url_escape(std::string_view text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

}  // namespace ctl::registry::internal
