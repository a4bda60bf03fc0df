#include "registry/client.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "engine/base/digest.hpp"
#include "engine/base/json.hpp"
#include "engine/base/log.hpp"
#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"
#include "registry/internal/http.hpp"

namespace ctl::registry {

using internal::HttpRequest;
using internal::HttpResponse;

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxRedirects = 10;
constexpr int64_t kMaxErrorBody = 64 << 10;
constexpr int64_t kMaxTokenBody = 1 << 20;
constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

// ---- digests ----

// Incremental hash for the algorithms go-digest knows (sha256, sha384, sha512).
class Digester {
public:
    explicit Digester(std::string_view algorithm) : algorithm_(algorithm) {
        const EVP_MD* md = EVP_get_digestbyname(algorithm_.c_str());
        ctx_ = EVP_MD_CTX_new();
        if (ctx_ && md) EVP_DigestInit_ex(ctx_, md, nullptr);
    }
    ~Digester() { EVP_MD_CTX_free(ctx_); }
    Digester(const Digester&) = delete;
    Digester& operator=(const Digester&) = delete;
    void update(const void* data, size_t size) { EVP_DigestUpdate(ctx_, data, size); }
    // Finalises (once).
    std::string digest() {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        EVP_DigestFinal_ex(ctx_, md, &len);
        static const char* hex = "0123456789abcdef";
        std::string out = algorithm_ + ":";
        for (unsigned i = 0; i < len; ++i) {
            out += hex[md[i] >> 4];
            out += hex[md[i] & 15];
        }
        return out;
    }

private:
    std::string algorithm_;
    EVP_MD_CTX* ctx_ = nullptr;
};

Status check_digest(std::string_view digest) {
    auto colon = digest.find(':');
    std::string_view algo = digest.substr(0, colon == std::string_view::npos ? 0 : colon);
    std::string_view hex = colon == std::string_view::npos ? std::string_view() : digest.substr(colon + 1);
    size_t want = algo == "sha256" ? 64 : algo == "sha384" ? 96 : algo == "sha512" ? 128 : 0;
    bool hex_ok = std::all_of(hex.begin(), hex.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
    if (want == 0 || hex.size() != want || !hex_ok) {
        return make_error(Errc::InvalidArgument, "invalid digest: " + std::string(digest));
    }
    return ok();
}

std::string digest_algorithm(std::string_view digest) { return std::string(digest.substr(0, digest.find(':'))); }

std::string digest_of(std::string_view algorithm, std::string_view bytes) {
    Digester d(algorithm);
    d.update(bytes.data(), bytes.size());
    return d.digest();
}

Status check_repo(const Reference& repo) {
    if (repo.domain.empty() || !is_valid_repository_path(repo.path)) {
        return make_error(Errc::InvalidArgument, "invalid repository: " + repo.full_name());
    }
    return ok();
}

// ---- registry error bodies ----

Errc errc_for_status(long status) {
    switch (status) {
        case 400: return Errc::InvalidArgument;
        case 401: return Errc::Unauthorized;
        case 403: return Errc::Forbidden;
        case 404: return Errc::NotFound;
        case 405: return Errc::NotImplemented;
        case 409: return Errc::Conflict;
        case 413: return Errc::TooLarge;
        case 416: return Errc::InvalidArgument;
        case 429: return Errc::Unavailable;
        default: break;
    }
    if (status >= 500) return Errc::Unavailable;
    return Errc::Internal;
}

std::optional<Errc> errc_for_code(const std::string& code) {
    if (code == "UNAUTHORIZED") return Errc::Unauthorized;
    if (code == "DENIED") return Errc::Forbidden;
    if (code == "MANIFEST_UNKNOWN" || code == "BLOB_UNKNOWN" || code == "NAME_UNKNOWN" ||
        code == "BLOB_UPLOAD_UNKNOWN") {
        return Errc::NotFound;
    }
    if (code == "DIGEST_INVALID") return Errc::DataLoss;
    if (code == "TOOMANYREQUESTS") return Errc::Unavailable;
    if (code == "UNSUPPORTED") return Errc::NotImplemented;
    if (code == "NAME_INVALID" || code == "MANIFEST_INVALID" || code == "MANIFEST_BLOB_UNKNOWN" ||
        code == "SIZE_INVALID" || code == "TAG_INVALID" || code == "BLOB_UPLOAD_INVALID" ||
        code == "PAGINATION_NUMBER_INVALID" || code == "RANGE_INVALID" || code == "MANIFEST_UNVERIFIED") {
        return Errc::InvalidArgument;
    }
    return std::nullopt;
}

// distribution's errcode formatting: "MANIFEST_UNKNOWN" + "manifest unknown" -> "manifest unknown: manifest unknown".
std::string format_code(std::string code) {
    for (auto& c : code) c = c == '_' ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return code;
}

// `fallback_404`: the message when a 404 comes without a usable body ("manifest unknown").
Error registry_error(const HttpResponse& r, std::string_view fallback_404 = {}) {
    Json doc = Json::parse(r.body, nullptr, false);
    std::vector<std::string> messages;
    std::optional<Errc> code;
    if (!doc.is_discarded() && doc.is_object()) {
        if (const Json* errors = find_ci(doc, "errors"); errors && errors->is_array()) {
            for (const auto& e : *errors) {
                if (!e.is_object()) continue;
                std::string c = string_or(e, "code");
                std::string m = string_or(e, "message");
                if (!code && !c.empty()) code = errc_for_code(c);
                std::string text = c.empty() ? m : m.empty() ? format_code(c) : format_code(c) + ": " + m;
                if (!text.empty()) messages.push_back(text);
            }
        } else if (std::string details = string_or(doc, "details"); !details.empty()) {
            messages.push_back(format_code(r.status == 401 ? "UNAUTHORIZED" : "ERROR") + ": " + details);
        }
    }
    std::string message;
    for (const auto& m : messages) message += (message.empty() ? "" : "; ") + m;
    if (message.empty()) {
        switch (r.status) {
            case 401: message = "unauthorized: authentication required"; break;
            case 403: message = "denied: requested access to the resource is denied"; break;
            case 404: message = fallback_404.empty() ? "not found" : std::string(fallback_404); break;
            case 429: message = "toomanyrequests: too many requests"; break;
            default: message = "received unexpected HTTP status: " + std::to_string(r.status); break;
        }
    }
    Errc errc = code.value_or(errc_for_status(r.status));
    // A 5xx or 401 keeps its class even when the body names some other code.
    if (r.status == 401) errc = Errc::Unauthorized;
    if (r.status >= 500) errc = Errc::Unavailable;
    return make_error(errc, message);
}

// ---- scopes ----

std::string pull_scope(const std::string& path) { return "repository:" + path + ":pull"; }
std::string push_scope(const std::string& path) { return "repository:" + path + ":pull,push"; }

// "repository:x:pull,push" -> ("repository:x", {pull, push})
std::pair<std::string, std::set<std::string>> split_scope(const std::string& scope) {
    auto colon = scope.rfind(':');
    if (colon == std::string::npos || scope.find(':') == colon) return {scope, {}};
    std::set<std::string> actions;
    for (auto& a : split(scope.substr(colon + 1), ',')) {
        if (!a.empty()) actions.insert(a);
    }
    return {scope.substr(0, colon), actions};
}

// Merges scopes so each resource appears once with the union of its actions; sorted.
std::vector<std::string> merge_scopes(const std::vector<std::string>& scopes) {
    std::map<std::string, std::set<std::string>> by_resource;
    for (const auto& s : scopes) {
        for (const auto& one : split(s, ' ')) {
            if (one.empty()) continue;
            auto [resource, actions] = split_scope(one);
            by_resource[resource].insert(actions.begin(), actions.end());
        }
    }
    std::vector<std::string> out;
    for (const auto& [resource, actions] : by_resource) {
        std::string joined;
        for (const auto& a : actions) joined += (joined.empty() ? "" : ",") + a;
        out.push_back(joined.empty() ? resource : resource + ":" + joined);
    }
    return out;
}

bool scopes_cover(const std::vector<std::string>& have, const std::vector<std::string>& want) {
    std::map<std::string, std::set<std::string>> h;
    for (const auto& s : have) {
        auto [r, a] = split_scope(s);
        h[r].insert(a.begin(), a.end());
    }
    for (const auto& s : want) {
        auto [r, a] = split_scope(s);
        auto it = h.find(r);
        if (it == h.end()) return false;
        for (const auto& action : a) {
            if (!it->second.count(action)) return false;
        }
    }
    return true;
}

// ---- hosts ----

std::string normalize_ping_host(std::string host) {
    for (const char* prefix : {"https://", "http://"}) {
        if (starts_with(host, prefix)) host = host.substr(std::strlen(prefix));
    }
    if (auto slash = host.find('/'); slash != std::string::npos) host = host.substr(0, slash);
    if (host.empty() || host == kDefaultDomain || host == kLegacyDefaultDomain) host = kDockerHubRegistryHost;
    return host;
}

// host[:port] -> host (brackets of an IPv6 literal removed).
std::string host_only(std::string_view host_port) {
    if (!host_port.empty() && host_port.front() == '[') {
        auto close = host_port.find(']');
        return std::string(host_port.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
    }
    auto colon = host_port.find(':');
    if (colon != std::string_view::npos && host_port.find(':', colon + 1) == std::string_view::npos) {
        return std::string(host_port.substr(0, colon));
    }
    return std::string(host_port);  // bare IPv6 or no port
}

struct IpAddr {
    int family = 0;
    unsigned char bytes[16] = {};
};

std::optional<IpAddr> parse_ip(const std::string& text) {
    IpAddr a;
    if (inet_pton(AF_INET, text.c_str(), a.bytes) == 1) {
        a.family = AF_INET;
        return a;
    }
    if (inet_pton(AF_INET6, text.c_str(), a.bytes) == 1) {
        a.family = AF_INET6;
        return a;
    }
    return std::nullopt;
}

bool is_loopback(const IpAddr& a) {
    if (a.family == AF_INET) return a.bytes[0] == 127;
    static const unsigned char v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (std::memcmp(a.bytes, v6_loopback, 16) == 0) return true;
    // ::ffff:127.x.x.x
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(a.bytes, mapped, 12) == 0 && a.bytes[12] == 127;
}

bool in_cidr(const IpAddr& a, const IpAddr& net, int prefix) {
    if (a.family != net.family) return false;
    int bits = a.family == AF_INET ? 32 : 128;
    if (prefix < 0 || prefix > bits) return false;
    for (int i = 0; i < prefix; ++i) {
        int byte = i / 8, bit = 7 - i % 8;
        if (((a.bytes[byte] >> bit) & 1) != ((net.bytes[byte] >> bit) & 1)) return false;
    }
    return true;
}

std::vector<IpAddr> resolve_host(const std::string& host) {
    std::vector<IpAddr> out;
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) return out;
    for (addrinfo* p = res; p; p = p->ai_next) {
        IpAddr a;
        if (p->ai_family == AF_INET) {
            a.family = AF_INET;
            std::memcpy(a.bytes, &reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr, 4);
        } else if (p->ai_family == AF_INET6) {
            a.family = AF_INET6;
            std::memcpy(a.bytes, &reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr, 16);
        } else {
            continue;
        }
        out.push_back(a);
    }
    freeaddrinfo(res);
    return out;
}

// ---- TLS material from certs.d ----

std::string read_text(const std::string& path) {
    auto r = sys::read_file(path);
    return r ? *r : std::string();
}

internal::TlsSettings load_tls(const std::string& certs_dir, const std::string& host_port, bool verify) {
    internal::TlsSettings tls;
    tls.verify = verify;
    if (certs_dir.empty() || host_port.empty() || host_port.find('/') != std::string::npos || host_port == "." ||
        host_port == "..") {
        return tls;
    }
    std::string dir = certs_dir + "/" + host_port;
    DIR* d = opendir(dir.c_str());
    if (!d) return tls;
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) names.emplace_back(e->d_name);
    closedir(d);
    std::sort(names.begin(), names.end());
    std::string cas;
    for (const auto& n : names) {
        if (ends_with(n, ".crt")) {
            std::string pem = read_text(dir + "/" + n);
            if (!pem.empty()) cas += pem + "\n";
        } else if (ends_with(n, ".cert") && tls.client_cert.empty()) {
            std::string key = n.substr(0, n.size() - 5) + ".key";
            if (std::find(names.begin(), names.end(), key) != names.end()) {
                tls.client_cert = dir + "/" + n;
                tls.client_key = dir + "/" + key;
            } else {
                log::warn("registry certs: {}/{} has no matching {}; ignored", dir, n, key);
            }
        }
    }
    if (!cas.empty()) tls.ca_pem = read_text(kSystemCaBundle) + "\n" + cas;
    return tls;
}

// ---- misc ----

std::string basic_header(const std::string& user, const std::string& password) {
    return "Authorization: Basic " + base64_encode(user + ":" + password);
}

std::string credential_key(const AuthConfig& auth) {
    if (!auth.identity_token.empty()) return sha256_hex("identity\n" + auth.identity_token);
    if (auto creds = auth.basic_credentials()) return sha256_hex("basic\n" + creds->first + "\n" + creds->second);
    return "";
}

bool sleep_unless_cancelled(int ms, const std::atomic<bool>* cancel) {
    auto until = Clock::now() + std::chrono::milliseconds(ms);
    while (Clock::now() < until) {
        if (cancel && cancel->load()) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return !(cancel && cancel->load());
}

Error cancelled() { return make_error(Errc::Cancelled, "operation cancelled"); }

// Calls `fn` at most every 100 ms, and always for the final count (done == total) or when flushed.
class ProgressThrottle {
public:
    explicit ProgressThrottle(ProgressFn fn) : fn_(std::move(fn)) {}
    void operator()(int64_t done, int64_t total) {
        if (!fn_) return;
        auto now = Clock::now();
        if (done == total || now - last_ >= std::chrono::milliseconds(100)) {
            last_ = now;
            reported_ = done;
            fn_(done, total);
        }
    }
    void flush(int64_t done, int64_t total) {
        if (fn_ && reported_ != done) {
            reported_ = done;
            fn_(done, total);
        }
    }

private:
    ProgressFn fn_;
    Clock::time_point last_{};
    int64_t reported_ = -1;
};

bool is_redirect(long status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

// ---- public helpers ----

Result<BearerToken> parse_token_response(std::string_view body) {
    Json doc = Json::parse(body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return make_error(Errc::Unauthorized, "token server answered with something that is not JSON");
    }
    BearerToken t;
    t.token = string_or(doc, "token");
    if (t.token.empty()) t.token = string_or(doc, "access_token");
    if (t.token.empty()) return make_error(Errc::Unauthorized, "token server answered without a token");
    t.refresh_token = string_or(doc, "refresh_token");
    t.expires_in = int_or(doc, "expires_in", 60);
    if (t.expires_in < 60) t.expires_in = 60;
    return t;
}

bool is_insecure_registry(std::string_view host_port, const std::vector<std::string>& insecure,
                          bool loopback_is_insecure) {
    std::string host = to_lower(host_only(host_port));
    if (loopback_is_insecure && (host == "localhost" || ends_with(host, ".localhost"))) return true;
    auto literal = parse_ip(host);
    if (loopback_is_insecure && literal && is_loopback(*literal)) return true;
    std::vector<IpAddr> resolved;
    bool resolved_once = false;
    std::string wanted = to_lower(host_port);
    for (std::string entry : insecure) {
        entry = to_lower(trim(entry));
        for (const char* prefix : {"http://", "https://"}) {
            if (starts_with(entry, prefix)) entry = entry.substr(std::strlen(prefix));
        }
        while (!entry.empty() && entry.back() == '/') entry.pop_back();
        if (entry.empty()) continue;
        auto slash = entry.find('/');
        if (slash == std::string::npos) {
            if (entry == wanted) return true;
            continue;
        }
        auto net = parse_ip(entry.substr(0, slash));
        int prefix = std::atoi(entry.substr(slash + 1).c_str());
        if (!net) continue;
        if (literal) {
            if (in_cidr(*literal, *net, prefix)) return true;
            continue;
        }
        if (!resolved_once) {
            resolved = resolve_host(host);
            resolved_once = true;
        }
        for (const auto& a : resolved) {
            if (in_cidr(a, *net, prefix)) return true;
        }
    }
    return false;
}

// ---- the client ----

struct Client::Impl {
    ClientOptions opts;
    internal::HttpTransport http;

    struct Token {
        std::string host, realm, service, cred_key;
        std::vector<std::string> scopes;
        std::string token;
        Clock::time_point expires;
    };

    std::mutex mu;
    std::map<std::string, std::string> base_urls;      // host -> "https://host" | "http://host"
    std::map<std::string, Challenge> challenges;       // host -> its auth challenge
    std::map<std::string, internal::TlsSettings> tls;  // "host:port|verify" -> settings
    std::map<std::string, bool> insecure;              // host:port -> plain HTTP / unverified TLS allowed
    std::vector<Token> tokens;

    explicit Impl(ClientOptions o) : opts(std::move(o)) {}

    // One request as the caller describes it; execute() adds the base URL, auth, redirects.
    struct Call {
        std::string host;    // the registry's API host[:port]
        std::string method = "GET";
        std::string target;  // "/v2/..." or an absolute URL (Location)
        std::vector<std::string> headers;
        std::vector<std::string> scopes;
        const AuthConfig* auth = nullptr;
        std::string body;
        // A fresh body reader per attempt (an auth retry re-sends the body); null = `body`.
        std::function<Result<internal::BodyReader>()> make_reader;
        int64_t body_size = -1;
        internal::DataSink sink;                                // 2xx bodies
        std::function<Status(const HttpResponse&)> on_head;     // 2xx heads
        int64_t max_body = kMaxErrorBody;
        bool follow_redirects = false;
        bool transfer = false;  // long transfer: stall timeout instead of a total one
        ProgressFn upload_progress;
        const std::atomic<bool>* cancel = nullptr;
    };

    internal::TlsSettings tls_for(const std::string& host_port, bool verify) {
        std::string key = host_port + (verify ? "|v" : "|n");
        {
            std::lock_guard g(mu);
            if (auto it = tls.find(key); it != tls.end()) return it->second;
        }
        auto settings = load_tls(opts.certs_dir, host_port, verify);
        std::lock_guard g(mu);
        tls[key] = settings;
        return settings;
    }

    HttpRequest base_request(const std::string& method, const std::string& url, bool transfer) {
        HttpRequest req;
        req.method = method;
        req.url = url;
        req.user_agent = opts.user_agent;
        req.connect_timeout_ms = opts.connect_timeout_ms;
        if (transfer) {
            req.stall_timeout_s = opts.stall_timeout_s;
        } else {
            req.timeout_ms = opts.request_timeout_ms;
        }
        std::string host_port = internal::url_host_port(url);
        bool insecure_https = internal::url_scheme(url) == "https" && is_insecure(host_port);
        req.tls = tls_for(host_port, !insecure_https);
        return req;
    }

    // Remembered per host: CIDR entries may need a DNS lookup.
    bool is_insecure(const std::string& host_port) {
        {
            std::lock_guard g(mu);
            if (auto it = insecure.find(host_port); it != insecure.end()) return it->second;
        }
        bool answer = is_insecure_registry(host_port, opts.insecure_registries, opts.loopback_is_insecure);
        std::lock_guard g(mu);
        insecure[host_port] = answer;
        return answer;
    }

    // https://host, or for insecure hosts whatever answers: HTTPS (unverified) first, then HTTP.
    Result<std::string> base_url(const std::string& host, const std::atomic<bool>* cancel) {
        {
            std::lock_guard g(mu);
            if (auto it = base_urls.find(host); it != base_urls.end()) return it->second;
        }
        std::string https = "https://" + host;
        if (!is_insecure(host)) {
            std::lock_guard g(mu);
            base_urls[host] = https;
            return https;
        }
        auto probe = [&](const std::string& base) -> Result<HttpResponse> {
            HttpRequest req = base_request("GET", base + "/v2/", false);
            req.timeout_ms = std::min(opts.request_timeout_ms, 15000);
            req.cancel = cancel;
            return http.perform(req);
        };
        auto tried = probe(https);
        if (tried) {
            std::lock_guard g(mu);
            base_urls[host] = https;
            return https;
        }
        if (tried.error().code == Errc::Cancelled) return tried.error();
        std::string plain = "http://" + host;
        auto second = probe(plain);
        if (second) {
            log::debug("registry {}: no HTTPS ({}), using plain HTTP", host, tried.error().message);
            std::lock_guard g(mu);
            base_urls[host] = plain;
        }
        return plain;  // not remembered when neither answered: the caller's request reports why
    }

    // A bearer token for `scopes` from the cache or the challenge's realm; `*fresh` tells which.
    Result<std::string> fetch_token(const std::string& host, const Challenge& challenge,
                                     const std::vector<std::string>& scopes, const AuthConfig& auth,
                                     const std::atomic<bool>* cancel, bool* fresh) {
        *fresh = false;
        std::string realm = challenge.param("realm");
        std::string service = challenge.param("service");
        std::string cred_key = credential_key(auth);
        {
            std::lock_guard g(mu);
            auto now = Clock::now();
            tokens.erase(std::remove_if(tokens.begin(), tokens.end(), [&](const Token& t) { return t.expires <= now; }),
                         tokens.end());
            for (const auto& t : tokens) {
                if (t.host == host && t.realm == realm && t.service == service && t.cred_key == cred_key &&
                    scopes_cover(t.scopes, scopes)) {
                    return t.token;
                }
            }
        }
        std::string scheme = internal::url_scheme(realm);
        if (scheme != "https" && scheme != "http") {
            return make_error(Errc::Unauthorized, "registry " + host + " sent an invalid token realm: \"" + realm + "\"");
        }
        auto creds = auth.basic_credentials();
        bool has_secret = creds.has_value() || !auth.identity_token.empty();
        if (scheme == "http" && has_secret && !is_insecure(internal::url_host_port(realm))) {
            return make_error(Errc::Unauthorized,
                              "refusing to send credentials to the plain-HTTP token realm " + realm);
        }

        auto request_token = [&](bool oauth) -> Result<HttpResponse> {
            HttpRequest req;
            if (oauth) {
                std::string form = "grant_type=refresh_token&refresh_token=" + internal::url_escape(auth.identity_token) +
                                   "&client_id=ctld";
                if (!service.empty()) form += "&service=" + internal::url_escape(service);
                std::string joined;
                for (const auto& s : scopes) joined += (joined.empty() ? "" : " ") + s;
                if (!joined.empty()) form += "&scope=" + internal::url_escape(joined);
                req = base_request("POST", realm, false);
                req.body = form;
                req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
            } else {
                std::string url = realm;
                char sep = realm.find('?') == std::string::npos ? '?' : '&';
                auto add = [&](const std::string& k, const std::string& v) {
                    url += sep + k + "=" + internal::url_escape(v);
                    sep = '&';
                };
                if (!service.empty()) add("service", service);
                for (const auto& s : scopes) add("scope", s);
                if (creds) add("account", creds->first);
                req = base_request("GET", url, false);
                if (creds) req.headers.push_back(basic_header(creds->first, creds->second));
            }
            req.max_body = kMaxTokenBody;
            req.cancel = cancel;
            return http.perform(req);
        };

        Result<HttpResponse> resp = make_error(Errc::Internal, "no token request made");
        if (!auth.identity_token.empty()) {
            resp = request_token(true);
            // Registries without OAuth2 support answer 404/405: fall back to the Basic GET.
            if (resp && (resp->status == 404 || resp->status == 405) && creds) resp = request_token(false);
        } else {
            resp = request_token(false);
        }
        if (!resp) return std::move(resp).error();
        if (resp->status != 200) {
            Error e = registry_error(*resp);
            if (resp->status < 500 && resp->status != 429) e.code = Errc::Unauthorized;
            return with_context(std::move(e), "getting a token from " + realm.substr(0, realm.find('?')));
        }
        CTL_ASSIGN_OR_RETURN(auto token, parse_token_response(resp->body));
        *fresh = true;
        // Renew a little early; the spec's minimum lifetime is 60 s.
        auto lifetime = std::chrono::seconds(token.expires_in - std::min<int64_t>(10, token.expires_in / 10));
        std::lock_guard g(mu);
        tokens.push_back({host, realm, service, cred_key, scopes, token.token, Clock::now() + lifetime});
        return token.token;
    }

    void forget_token(const std::string& host, const std::string& token) {
        std::lock_guard g(mu);
        tokens.erase(std::remove_if(tokens.begin(), tokens.end(),
                                    [&](const Token& t) { return t.host == host && t.token == token; }),
                     tokens.end());
    }

    // The Authorization header line for `host` ("" = none), from what the host asked for before.
    // `used_token`/`fresh`: the bearer token sent, and whether it was fetched just now.
    Result<std::string> authorization(const std::string& host, const AuthConfig& auth,
                                      const std::vector<std::string>& scopes, std::string* used_token, bool* fresh,
                                      const std::atomic<bool>* cancel) {
        if (!auth.registry_token.empty()) return "Authorization: Bearer " + auth.registry_token;
        std::optional<Challenge> challenge;
        {
            std::lock_guard g(mu);
            if (auto it = challenges.find(host); it != challenges.end()) challenge = it->second;
        }
        if (!challenge) return std::string();
        if (challenge->scheme == "basic") {
            auto creds = auth.basic_credentials();
            return creds ? basic_header(creds->first, creds->second) : std::string();
        }
        if (challenge->scheme == "bearer") {
            CTL_ASSIGN_OR_RETURN(auto token, fetch_token(host, *challenge, scopes, auth, cancel, fresh));
            *used_token = token;
            return "Authorization: Bearer " + token;
        }
        return std::string();
    }

    Result<HttpResponse> execute(const Call& call) {
        if (call.cancel && call.cancel->load()) return cancelled();
        CTL_ASSIGN_OR_RETURN(auto base, base_url(call.host, call.cancel));
        const std::string registry_origin = internal::url_origin(base);
        std::string url = starts_with(call.target, "http://") || starts_with(call.target, "https://")
                              ? call.target
                              : base + call.target;
        std::vector<std::string> scopes = merge_scopes(call.scopes);
        static const AuthConfig kAnonymous;
        const AuthConfig& auth = call.auth ? *call.auth : kAnonymous;
        bool auth_retried = false;
        int redirects = 0;
        for (;;) {
            if (call.cancel && call.cancel->load()) return cancelled();
            const bool same_origin = internal::url_origin(url) == registry_origin;
            HttpRequest req = base_request(call.method, url, call.transfer);
            req.headers = call.headers;
            std::string used_token, sent_auth;
            bool token_fresh = false;
            if (same_origin) {
                CTL_ASSIGN_OR_RETURN(sent_auth,
                                     authorization(call.host, auth, scopes, &used_token, &token_fresh, call.cancel));
                if (!sent_auth.empty()) req.headers.push_back(sent_auth);
            }
            if (call.make_reader) {
                CTL_ASSIGN_OR_RETURN(req.reader, call.make_reader());
                req.body_size = call.body_size;
            } else {
                req.body = call.body;
            }
            req.max_body = call.max_body;
            req.sink = call.sink;
            if (call.on_head) {
                req.on_head = [&call](const HttpResponse& head) -> Status {
                    if (head.status < 200 || head.status >= 300) return ok();
                    return call.on_head(head);
                };
            }
            req.upload_progress = call.upload_progress;
            req.cancel = call.cancel;
            CTL_ASSIGN_OR_RETURN(auto resp, http.perform(req));

            if (resp.status == 401 && same_origin && !auth_retried && auth.registry_token.empty()) {
                std::vector<Challenge> found;
                for (const auto& h : resp.headers_named("WWW-Authenticate")) {
                    for (auto& c : parse_www_authenticate(h)) found.push_back(std::move(c));
                }
                auto pick = std::find_if(found.begin(), found.end(), [](const Challenge& c) { return c.scheme == "bearer"; });
                if (pick == found.end()) {
                    pick = std::find_if(found.begin(), found.end(), [](const Challenge& c) { return c.scheme == "basic"; });
                }
                if (pick == found.end()) return resp;  // nothing we can answer
                if (!used_token.empty()) forget_token(call.host, used_token);
                std::optional<Challenge> previous;
                {
                    std::lock_guard g(mu);
                    if (auto it = challenges.find(call.host); it != challenges.end()) previous = it->second;
                    challenges[call.host] = *pick;
                }
                if (pick->scheme == "basic") {
                    // No credentials to offer, or the ones just sent were refused.
                    if (!auth.basic_credentials() || starts_with(sent_auth, "Authorization: Basic ")) return resp;
                } else {
                    std::vector<std::string> wanted = scopes;
                    if (std::string extra = pick->param("scope"); !extra.empty()) wanted.push_back(extra);
                    wanted = merge_scopes(wanted);
                    bool same_challenge = previous && previous->scheme == "bearer" &&
                                          previous->param("realm") == pick->param("realm") &&
                                          previous->param("service") == pick->param("service");
                    // A token fetched just now for everything the registry asks for was refused: asking
                    // the realm again would give the same answer.
                    if (token_fresh && same_challenge && scopes_cover(scopes, wanted)) return resp;
                    scopes = std::move(wanted);
                }
                auth_retried = true;
                continue;
            }
            if (call.follow_redirects && is_redirect(resp.status)) {
                std::string location = resp.header("Location");
                if (location.empty()) return resp;
                if (++redirects > kMaxRedirects) {
                    return make_error(Errc::Unavailable, "stopped after " + std::to_string(kMaxRedirects) + " redirects");
                }
                CTL_ASSIGN_OR_RETURN(url, internal::resolve_url(url, location));
                continue;
            }
            return resp;
        }
    }

    // The push sequence; `open_source` gives a fresh reader of the blob for each attempt.
    Status push_blob(const Reference& repo, const std::string& digest, int64_t size,
                     const std::function<Result<BlobReader>()>& open_source, std::optional<std::string> mount_from,
                     const AuthConfig& auth, ProgressFn progress, const std::atomic<bool>* cancel) {
        CTL_TRY(check_repo(repo));
        CTL_TRY(check_digest(digest));
        if (size < 0) return make_error(Errc::InvalidArgument, "blob size must be known to push it");
        const std::string host = repo.registry_host();
        std::string upload_url;

        // 1. Cross-repository mount: nothing to upload when the registry links the blob.
        if (mount_from && !mount_from->empty()) {
            std::string from = *mount_from;
            if (starts_with(from, repo.domain + "/")) from = from.substr(repo.domain.size() + 1);
            if (repo.domain == kDefaultDomain && from.find('/') == std::string::npos) {
                from = std::string(kOfficialRepoPrefix) + from;
            }
            if (is_valid_repository_path(from) && from != repo.path) {
                Call call;
                call.host = host;
                call.method = "POST";
                call.target = "/v2/" + repo.path + "/blobs/uploads/?mount=" + internal::url_escape(digest) +
                              "&from=" + internal::url_escape(from);
                call.scopes = {push_scope(repo.path), pull_scope(from)};
                call.auth = &auth;
                call.cancel = cancel;
                CTL_ASSIGN_OR_RETURN(auto resp, execute(call));
                if (resp.status == 201) {
                    if (progress) progress(size, size);
                    return ok();
                }
                if (resp.status == 202 && !resp.header("Location").empty()) {
                    // Not mounted, but the answer is an upload session we can use.
                    CTL_ASSIGN_OR_RETURN(upload_url, internal::resolve_url(resp.url, resp.header("Location")));
                } else {
                    log::debug("mounting {} from {} into {}: {}; uploading instead", digest, from, repo.path,
                               registry_error(resp).message);
                }
            } else {
                log::debug("not mounting {}: unusable source repository \"{}\"", digest, *mount_from);
            }
        }

        // 2. Start an upload session.
        if (upload_url.empty()) {
            Call call;
            call.host = host;
            call.method = "POST";
            call.target = "/v2/" + repo.path + "/blobs/uploads/";
            call.scopes = {push_scope(repo.path)};
            call.auth = &auth;
            call.cancel = cancel;
            CTL_ASSIGN_OR_RETURN(auto resp, execute(call));
            if (resp.status != 202) return with_context(registry_error(resp), "starting the upload of " + digest);
            std::string location = resp.header("Location");
            if (location.empty()) return make_error(Errc::InvalidArgument, "registry started an upload without a Location");
            CTL_ASSIGN_OR_RETURN(upload_url, internal::resolve_url(resp.url, location));
        }

        // 3. One monolithic PUT ?digest=, hashing what is sent; a mismatch aborts before the last byte.
        if (size == 0 && digest_of(digest_algorithm(digest), "") != digest) {
            return make_error(Errc::DataLoss, "blob content does not match " + digest);
        }
        upload_url += (upload_url.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") +
                      internal::url_escape(digest);
        Call call;
        call.host = host;
        call.method = "PUT";
        call.target = upload_url;
        call.headers = {"Content-Type: application/octet-stream"};
        call.scopes = {push_scope(repo.path)};
        call.auth = &auth;
        call.body_size = size;
        call.transfer = true;
        call.cancel = cancel;
        auto throttle = std::make_shared<ProgressThrottle>(progress);
        call.upload_progress = [throttle](int64_t done, int64_t total) { (*throttle)(done, total); };
        call.make_reader = [&]() -> Result<internal::BodyReader> {
            CTL_ASSIGN_OR_RETURN(BlobReader source, open_source());
            auto hasher = std::make_shared<Digester>(digest_algorithm(digest));
            auto sent = std::make_shared<int64_t>(0);
            return internal::BodyReader([hasher, sent, size, source, digest](char* buffer, size_t cap) -> Result<size_t> {
                auto want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(cap), size - *sent));
                if (want == 0) return size_t{0};
                CTL_ASSIGN_OR_RETURN(size_t n, source(buffer, want));
                if (n == 0) {
                    return make_error(Errc::InvalidArgument, "blob " + digest + " ended after " + std::to_string(*sent) +
                                                                 " of " + std::to_string(size) + " bytes");
                }
                n = std::min(n, want);
                hasher->update(buffer, n);
                *sent += static_cast<int64_t>(n);
                if (*sent == size && hasher->digest() != digest) {
                    return make_error(Errc::DataLoss, "blob content does not match " + digest + "; upload aborted");
                }
                return n;
            });
        };
        CTL_ASSIGN_OR_RETURN(auto resp, execute(call));
        if (resp.status < 200 || resp.status >= 300) return with_context(registry_error(resp), "uploading " + digest);
        throttle->flush(size, size);
        return ok();
    }
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;

void Client::clear_caches() {
    std::lock_guard g(impl_->mu);
    impl_->base_urls.clear();
    impl_->challenges.clear();
    impl_->tokens.clear();
    impl_->tls.clear();
    impl_->insecure.clear();
}

Status Client::ping(const std::string& host_in, const AuthConfig& auth) {
    std::string host = normalize_ping_host(host_in);
    if (!is_valid_domain(host)) return make_error(Errc::InvalidArgument, "invalid registry host: " + host_in);
    Impl::Call call;
    call.host = host;
    call.target = "/v2/";
    call.auth = &auth;
    CTL_ASSIGN_OR_RETURN(auto resp, impl_->execute(call));
    if (resp.status >= 200 && resp.status < 300) return ok();
    if (resp.status == 404) {
        return make_error(Errc::NotFound, host + " does not serve the registry v2 API (GET /v2/ answered 404)");
    }
    return registry_error(resp);
}

Result<FetchedManifest> Client::get_manifest(const Reference& ref, const AuthConfig& auth,
                                             const std::vector<std::string>& accept, const std::atomic<bool>* cancel) {
    CTL_TRY(check_repo(ref));
    std::string target = ref.tag_or_digest();
    if (target.empty()) return make_error(Errc::InvalidArgument, "reference has neither a tag nor a digest");
    if (!ref.digest.empty()) {
        CTL_TRY(check_digest(ref.digest));
    } else if (!is_valid_tag(ref.tag)) {
        return make_error(Errc::InvalidArgument, "invalid tag: " + ref.tag);
    }
    std::string accept_line;
    if (accept.empty()) {
        for (const char* t : {kOciIndex, kDockerManifestList, kOciManifest, kDockerManifest}) {
            accept_line += (accept_line.empty() ? "" : ", ") + std::string(t);
        }
    } else {
        for (const auto& t : accept) accept_line += (accept_line.empty() ? "" : ", ") + t;
    }
    Impl::Call call;
    call.host = ref.registry_host();
    call.target = "/v2/" + ref.path + "/manifests/" + target;
    call.headers = {"Accept: " + accept_line};
    call.scopes = {pull_scope(ref.path)};
    call.auth = &auth;
    call.follow_redirects = true;
    call.max_body = kMaxManifestSize;
    call.cancel = cancel;
    auto resp = impl_->execute(call);
    if (!resp) {
        if (resp.error().code == Errc::TooLarge) {
            return make_error(Errc::TooLarge, "manifest " + target + " is larger than " +
                                                  std::to_string(kMaxManifestSize >> 20) + " MiB");
        }
        return std::move(resp).error();
    }
    if (resp->status != 200) return registry_error(*resp, "manifest unknown");

    FetchedManifest out;
    out.bytes = std::move(resp->body);
    out.media_type = detect_manifest_media_type(out.bytes, resp->header("Content-Type"));
    if (out.media_type.empty()) return make_error(Errc::InvalidArgument, "registry returned an unrecognised manifest for " + target);
    if (!ref.digest.empty()) {
        std::string got = digest_of(digest_algorithm(ref.digest), out.bytes);
        if (got != ref.digest) {
            return make_error(Errc::DataLoss, "manifest verification failed for digest " + ref.digest);
        }
        out.digest = ref.digest;
    } else {
        std::string computed = sha256_digest(out.bytes);
        std::string header = trim(resp->header("Docker-Content-Digest"));
        if (!header.empty() && check_digest(header)) {
            if (digest_of(digest_algorithm(header), out.bytes) != header) {
                return make_error(Errc::DataLoss, "manifest for " + ref.tag + " does not match its Docker-Content-Digest " + header);
            }
            out.digest = header;
        } else {
            out.digest = computed;
        }
    }
    return out;
}

Result<std::optional<Descriptor>> Client::head_manifest(const Reference& ref, const AuthConfig& auth,
                                                        const std::vector<std::string>& accept) {
    CTL_TRY(check_repo(ref));
    std::string target = ref.tag_or_digest();
    if (target.empty()) return make_error(Errc::InvalidArgument, "reference has neither a tag nor a digest");
    std::string accept_line;
    if (accept.empty()) {
        for (const char* t : {kOciIndex, kDockerManifestList, kOciManifest, kDockerManifest}) {
            accept_line += (accept_line.empty() ? "" : ", ") + std::string(t);
        }
    } else {
        for (const auto& t : accept) accept_line += (accept_line.empty() ? "" : ", ") + t;
    }
    Impl::Call call;
    call.host = ref.registry_host();
    call.method = "HEAD";
    call.target = "/v2/" + ref.path + "/manifests/" + target;
    call.headers = {"Accept: " + accept_line};
    call.scopes = {pull_scope(ref.path)};
    call.auth = &auth;
    call.follow_redirects = true;
    CTL_ASSIGN_OR_RETURN(auto resp, impl_->execute(call));
    if (resp.status == 404) return std::optional<Descriptor>();
    if (resp.status != 200) return registry_error(resp, "manifest unknown");
    Descriptor d;
    d.digest = trim(resp.header("Docker-Content-Digest"));
    std::string content_type = resp.header("Content-Type");
    d.media_type = detect_manifest_media_type("", content_type);
    d.size = std::atoll(resp.header("Content-Length").c_str());
    if (!ref.digest.empty() && d.digest.empty()) d.digest = ref.digest;
    if (d.digest.empty() || !check_digest(d.digest) || d.media_type.empty()) {
        // Not enough in the headers: fetch it.
        CTL_ASSIGN_OR_RETURN(auto full, get_manifest(ref, auth, accept));
        d.digest = full.digest;
        d.media_type = full.media_type;
        d.size = static_cast<int64_t>(full.bytes.size());
    }
    return std::optional<Descriptor>(std::move(d));
}

Status Client::fetch_blob(const Reference& repo, const std::string& digest, int64_t expected_size,
                          const AuthConfig& auth, BlobSink sink, ProgressFn progress, const std::atomic<bool>* cancel) {
    CTL_TRY(check_repo(repo));
    CTL_TRY(check_digest(digest));
    if (!sink) return make_error(Errc::InvalidArgument, "fetch_blob needs a sink");
    Digester hasher(digest_algorithm(digest));
    ProgressThrottle report(std::move(progress));
    int64_t delivered = 0;
    int64_t known_total = expected_size;
    int attempts = 0;
    for (;;) {
        int64_t skip = 0;
        int64_t total = expected_size;
        bool local_failure = false;  // the sink or our own checks failed: never retried
        Impl::Call call;
        call.host = repo.registry_host();
        call.target = "/v2/" + repo.path + "/blobs/" + digest;
        call.scopes = {pull_scope(repo.path)};
        call.auth = &auth;
        call.follow_redirects = true;
        call.transfer = true;
        call.cancel = cancel;
        if (delivered > 0) call.headers.push_back("Range: bytes=" + std::to_string(delivered) + "-");
        call.on_head = [&](const HttpResponse& head) -> Status {
            skip = delivered;  // 200: the whole blob again; drop what the sink already has
            if (head.status == 206) {
                std::string range = head.header("Content-Range");  // "bytes 100-999/1000"
                int64_t start = -1;
                if (starts_with(range, "bytes ")) start = std::atoll(range.c_str() + 6);
                if (start < 0 || start > delivered) {
                    local_failure = true;
                    return make_error(Errc::Unavailable, "registry answered a resume with an unusable range: " + range);
                }
                skip = delivered - start;
            }
            if (total < 0) {
                std::string length = head.header("Content-Length");
                if (!length.empty() && head.status == 200) total = std::atoll(length.c_str());
            }
            if (expected_size >= 0 && head.status == 200) {
                std::string length = head.header("Content-Length");
                if (!length.empty() && std::atoll(length.c_str()) != expected_size) {
                    local_failure = true;
                    return make_error(Errc::DataLoss, "blob " + digest + " has size " + length + ", expected " +
                                                          std::to_string(expected_size));
                }
            }
            return ok();
        };
        call.sink = [&](const char* data, size_t size) -> Status {
            if (skip > 0) {
                auto dropped = static_cast<size_t>(std::min<int64_t>(skip, static_cast<int64_t>(size)));
                data += dropped;
                size -= dropped;
                skip -= static_cast<int64_t>(dropped);
                if (size == 0) return ok();
            }
            if (expected_size >= 0 && delivered + static_cast<int64_t>(size) > expected_size) {
                local_failure = true;
                return make_error(Errc::DataLoss, "blob " + digest + " is larger than the expected " +
                                                      std::to_string(expected_size) + " bytes");
            }
            hasher.update(data, size);
            delivered += static_cast<int64_t>(size);
            Status st = sink(data, size);
            if (!st) {
                local_failure = true;
                return st;
            }
            known_total = total;
            report(delivered, total);
            return ok();
        };
        auto resp = impl_->execute(call);
        bool transient = false;
        Error error;
        if (!resp) {
            error = std::move(resp).error();
            transient = !local_failure && (error.code == Errc::Unavailable || error.code == Errc::DeadlineExceeded);
        } else if (resp->status == 200 || resp->status == 206) {
            break;
        } else {
            error = registry_error(*resp, "blob unknown: blob unknown to registry");
            transient = resp->status >= 500 || resp->status == 429;
        }
        if (transient && !(cancel && cancel->load()) && attempts < impl_->opts.blob_retries) {
            ++attempts;
            log::debug("fetching blob {}: {}; retrying ({} of {}) from byte {}", digest, error.message, attempts,
                       impl_->opts.blob_retries, delivered);
            if (!sleep_unless_cancelled(impl_->opts.retry_delay_ms * attempts, cancel)) return cancelled();
            continue;
        }
        return error;
    }
    if (expected_size >= 0 && delivered != expected_size) {
        return make_error(Errc::DataLoss, "blob " + digest + " ended after " + std::to_string(delivered) +
                                              " of " + std::to_string(expected_size) + " bytes");
    }
    if (hasher.digest() != digest) {
        return make_error(Errc::DataLoss, "filesystem layer verification failed for digest " + digest);
    }
    report.flush(delivered, known_total >= 0 ? known_total : delivered);
    return ok();
}

Result<std::string> Client::get_blob(const Reference& repo, const std::string& digest, const AuthConfig& auth,
                                     int64_t max_size, const std::atomic<bool>* cancel) {
    std::string out;
    Status st = fetch_blob(
        repo, digest, -1, auth,
        [&](const char* data, size_t size) -> Status {
            if (static_cast<int64_t>(out.size() + size) > max_size) {
                return make_error(Errc::TooLarge, "blob " + digest + " is larger than " + std::to_string(max_size) + " bytes");
            }
            out.append(data, size);
            return ok();
        },
        {}, cancel);
    if (!st) return std::move(st).error();
    return out;
}

Result<bool> Client::blob_exists(const Reference& repo, const std::string& digest, const AuthConfig& auth) {
    CTL_TRY(check_repo(repo));
    CTL_TRY(check_digest(digest));
    Impl::Call call;
    call.host = repo.registry_host();
    call.method = "HEAD";
    call.target = "/v2/" + repo.path + "/blobs/" + digest;
    call.scopes = {pull_scope(repo.path)};
    call.auth = &auth;
    // Not following redirects: a registry only redirects to storage it has, and pre-signed
    // storage URLs often refuse HEAD.
    CTL_ASSIGN_OR_RETURN(auto resp, impl_->execute(call));
    if ((resp.status >= 200 && resp.status < 300) || is_redirect(resp.status)) return true;
    if (resp.status == 404) return false;
    return registry_error(resp);
}

namespace {

// A reader that owns its file descriptor.
Result<BlobReader> open_file_reader(const std::string& path) {
    int f = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f < 0) return sys_error("opening " + path);
    auto fd = std::make_shared<sys::UniqueFd>(f);
    return BlobReader([fd, path](char* buffer, size_t cap) -> Result<size_t> {
        for (;;) {
            ssize_t n = ::read(fd->get(), buffer, cap);
            if (n >= 0) return static_cast<size_t>(n);
            if (errno != EINTR) return sys_error("reading " + path);
        }
    });
}

}  // namespace

Status Client::push_blob(const Reference& repo, const std::string& digest, int64_t size, const std::string& file_path,
                         std::optional<std::string> mount_from, const AuthConfig& auth, ProgressFn progress,
                         const std::atomic<bool>* cancel) {
    // Each attempt opens the file afresh, so an auth retry can send the body again.
    return impl_->push_blob(repo, digest, size, [&file_path] { return open_file_reader(file_path); },
                            std::move(mount_from), auth, std::move(progress), cancel);
}

Status Client::push_blob(const Reference& repo, const std::string& digest, int64_t size, BlobReader reader,
                         std::optional<std::string> mount_from, const AuthConfig& auth, ProgressFn progress,
                         const std::atomic<bool>* cancel) {
    if (!reader) return make_error(Errc::InvalidArgument, "push_blob needs a reader");
    int opened = 0;
    auto source = [&]() -> Result<BlobReader> {
        if (opened++ > 0) {
            return make_error(Errc::Unauthorized,
                              "the registry asked to authenticate the upload of " + digest + " again, and its source cannot be rewound");
        }
        return reader;
    };
    return impl_->push_blob(repo, digest, size, source, std::move(mount_from), auth, std::move(progress), cancel);
}

Result<std::string> Client::put_manifest(const Reference& repo, const std::string& tag_or_digest,
                                         const std::string& media_type, const std::string& bytes,
                                         const AuthConfig& auth) {
    CTL_TRY(check_repo(repo));
    std::string target = tag_or_digest.empty() ? repo.tag_or_digest() : tag_or_digest;
    std::string computed = sha256_digest(bytes);
    if (target.find(':') != std::string::npos) {
        CTL_TRY(check_digest(target));
        if (digest_of(digest_algorithm(target), bytes) != target) {
            return make_error(Errc::InvalidArgument, "manifest bytes do not match " + target);
        }
    } else if (!is_valid_tag(target)) {
        return make_error(Errc::InvalidArgument, "invalid tag: \"" + target + "\"");
    }
    if (static_cast<int64_t>(bytes.size()) > kMaxManifestSize) {
        return make_error(Errc::TooLarge, "manifest is larger than " + std::to_string(kMaxManifestSize >> 20) + " MiB");
    }
    Impl::Call call;
    call.host = repo.registry_host();
    call.method = "PUT";
    call.target = "/v2/" + repo.path + "/manifests/" + target;
    call.headers = {"Content-Type: " + media_type};
    call.scopes = {push_scope(repo.path)};
    call.auth = &auth;
    call.body = bytes;
    CTL_ASSIGN_OR_RETURN(auto resp, impl_->execute(call));
    if (resp.status < 200 || resp.status >= 300) return with_context(registry_error(resp), "putting manifest " + target);
    std::string header = trim(resp.header("Docker-Content-Digest"));
    if (!header.empty() && header != computed && digest_algorithm(header) == "sha256") {
        log::warn("registry {} reports digest {} for a manifest whose bytes hash to {}", call.host, header, computed);
    }
    return target.find(':') != std::string::npos ? target : computed;
}

}  // namespace ctl::registry
