// A client for the OCI distribution protocol (Docker Registry HTTP API v2) on libcurl.
//
// Contract for every operation:
//  * Blocks on the network: call from a worker thread, never from an io_context thread.
//  * Thread-safe: calls may run concurrently on one Client; each uses its own curl easy handle.
//  * Never throws. Errors: NotFound (missing repo/tag/blob), Unauthorized (credentials refused or
//    required), Forbidden (registry denied access), DataLoss (digest or size mismatch: whatever
//    was streamed must be discarded by the caller), Unavailable (connect/TLS/5xx/429),
//    DeadlineExceeded (timeouts), Cancelled (cancel flag), InvalidArgument (bad input or a
//    malformed registry answer), TooLarge (over a size cap). Registry error bodies
//    ({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}) become messages in
//    distribution's format: "manifest unknown: manifest unknown".
//  * `repo` is a Reference; only domain and path are used unless noted (make_repository() builds
//    one from host + path). docker.io is contacted as registry-1.docker.io.
//  * Auth: the first request to a host goes out anonymous; a 401 with WWW-Authenticate teaches the
//    client the host's scheme (remembered per host). Basic: credentials sent directly. Bearer:
//    token fetched from the realm (with Basic credentials, or an OAuth2 refresh-token POST for an
//    identity token, or anonymously), cached per host + scopes + credential identity until it
//    expires; one retry after a 401, then Unauthorized. A registry_token is used as-is.
//  * Plain HTTP only for loopback hosts (localhost, 127.0.0.0/8, ::1) and `insecure_registries`;
//    those are tried over HTTPS without certificate verification first, like dockerd.
//    TLS material per host from `<certs_dir>/<host:port>/`: *.crt are CAs (added to the system
//    bundle), a *.cert with a matching *.key is the client certificate.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/result.hpp"
#include "registry/auth.hpp"
#include "registry/manifest.hpp"
#include "registry/reference.hpp"

namespace ctl::registry {

struct ClientOptions {
    // host, host:port, or CIDR ("10.0.0.0/8"); a leading http:// or https:// is ignored.
    std::vector<std::string> insecure_registries;
    std::string certs_dir = "/etc/ctld/certs.d";
    // dockerd treats loopback registries as insecure; tests turn this off to exercise TLS checks.
    bool loopback_is_insecure = true;
    std::string user_agent = "ctld";
    int connect_timeout_ms = 30000;
    // Small exchanges (ping, manifests, tokens, HEAD, upload start): whole-request limit.
    int request_timeout_ms = 120000;
    // Blob transfers have no total limit; they fail when under 1 byte/s for this long.
    int stall_timeout_s = 60;
    // fetch_blob: how often a dropped connection is resumed (Range) before giving up.
    int blob_retries = 3;
    int retry_delay_ms = 500;
};

struct FetchedManifest {
    std::string media_type;  // Content-Type when it is a manifest type, else detected from the bytes
    std::string bytes;       // exactly as served (digests are over these bytes)
    std::string digest;      // verified
};

// Receives blob bytes in order as they arrive; an error aborts the transfer and is returned.
using BlobSink = std::function<Status(const char* data, size_t size)>;
// (bytes done, bytes total or -1). Called from the transferring thread, at most every 100 ms, and
// once more with the final count when the transfer succeeds.
using ProgressFn = std::function<void(int64_t done, int64_t total)>;
// Fills up to `size` bytes of an upload, returns the count; 0 = end.
using BlobReader = std::function<Result<size_t>(char* buffer, size_t size)>;

class Client {
public:
    explicit Client(ClientOptions options = {});
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // GET /v2/ on `host` ("127.0.0.1:5000", "registry-1.docker.io"; docker.io and
    // index.docker.io mean Docker Hub), following the auth challenge with `auth`. This is what
    // `POST /auth` uses to check credentials: OK when the registry accepts them (or needs none),
    // Unauthorized when they are refused or missing.
    Status ping(const std::string& host, const AuthConfig& auth = {});

    // GET a manifest or index by ref.digest (wins when set) or ref.tag. `accept` empty = all four
    // schema2/OCI manifest and index types. By digest, the bytes are verified against it
    // (DataLoss). By tag, the digest is Docker-Content-Digest (checked against the bytes when it
    // is sha256) or the sha256 of the bytes. Over kMaxManifestSize: TooLarge.
    Result<FetchedManifest> get_manifest(const Reference& ref, const AuthConfig& auth = {},
                                         const std::vector<std::string>& accept = {},
                                         const std::atomic<bool>* cancel = nullptr);

    // HEAD a manifest: nullopt when the registry says 404; else media type, digest, size.
    // Falls back to a GET when the registry omits Docker-Content-Digest.
    Result<std::optional<Descriptor>> head_manifest(const Reference& ref, const AuthConfig& auth = {},
                                                    const std::vector<std::string>& accept = {});

    // Streams a blob into `sink` as it arrives (redirects followed; Authorization is dropped when a
    // redirect leaves the registry's origin), hashing as it goes. `expected_size` < 0 = unknown.
    // Returns DataLoss when the size or digest does not match (the sink has then seen bad bytes:
    // the caller discards them), NotFound for 404. A sink error or `cancel` aborts the transfer.
    // A dropped connection is resumed with a Range request (options.blob_retries times).
    Status fetch_blob(const Reference& repo, const std::string& digest, int64_t expected_size,
                      const AuthConfig& auth, BlobSink sink, ProgressFn progress = {},
                      const std::atomic<bool>* cancel = nullptr);

    // A small blob (image config) into memory, verified. Over `max_size`: TooLarge.
    Result<std::string> get_blob(const Reference& repo, const std::string& digest, const AuthConfig& auth = {},
                                 int64_t max_size = kMaxConfigSize, const std::atomic<bool>* cancel = nullptr);

    // HEAD /v2/<name>/blobs/<digest>: true on 200 (or a redirect to storage), false on 404.
    Result<bool> blob_exists(const Reference& repo, const std::string& digest, const AuthConfig& auth = {});

    // Uploads a blob of `size` bytes. With `mount_from` (a repository path on the same registry,
    // e.g. "library/busybox", or "<domain>/<path>") a cross-repository mount is tried first and
    // nothing is uploaded when the registry mounts it. Otherwise POST /blobs/uploads/ and one
    // monolithic PUT ?digest=. The bytes are hashed while read; if they do not match `digest` the
    // upload is aborted before it completes (DataLoss). Relative and absolute Location headers work.
    Status push_blob(const Reference& repo, const std::string& digest, int64_t size, const std::string& file_path,
                     std::optional<std::string> mount_from = std::nullopt, const AuthConfig& auth = {},
                     ProgressFn progress = {}, const std::atomic<bool>* cancel = nullptr);
    Status push_blob(const Reference& repo, const std::string& digest, int64_t size, BlobReader reader,
                     std::optional<std::string> mount_from = std::nullopt, const AuthConfig& auth = {},
                     ProgressFn progress = {}, const std::atomic<bool>* cancel = nullptr);

    // PUT /v2/<name>/manifests/<tag_or_digest> (empty: repo.tag_or_digest()). Returns the digest
    // of `bytes` (sha256, or the given digest when putting by digest), which is what a later pull
    // by digest verifies. Over kMaxManifestSize: TooLarge; a digest target not matching: InvalidArgument.
    Result<std::string> put_manifest(const Reference& repo, const std::string& tag_or_digest,
                                     const std::string& media_type, const std::string& bytes,
                                     const AuthConfig& auth = {});

    // Drops cached tokens, auth challenges and HTTP/HTTPS decisions (e.g. after `logout`).
    void clear_caches();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// True when `host` (host[:port]) may be contacted over plain HTTP (or HTTPS without verification):
// loopback names and addresses (unless `loopback_is_insecure` is false), plus `insecure` entries:
// exact host[:port] matches and CIDRs (matched against the literal address, or the resolved
// addresses of a name).
bool is_insecure_registry(std::string_view host, const std::vector<std::string>& insecure,
                          bool loopback_is_insecure = true);

// The token request/response half of the Bearer flow, exposed for tests: parses the realm's
// JSON ({"token"|"access_token", "expires_in", "issued_at", "refresh_token"}).
struct BearerToken {
    std::string token;
    std::string refresh_token;
    int64_t expires_in = 60;  // seconds; the spec's minimum/default is 60
};
Result<BearerToken> parse_token_response(std::string_view body);

}  // namespace ctl::registry
