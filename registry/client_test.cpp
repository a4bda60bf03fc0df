// Client behaviour against fake servers: auth flows, redirects, verification, resume,
// cancellation and upload sessions. The real registry is exercised in registry_server_test.cpp.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/digest.hpp"
#include "engine/base/json.hpp"
#include "engine/base/sys.hpp"
#include "registry/client.hpp"
#include "registry/testing/fake_http_server.hpp"

using namespace ctl;
using namespace ctl::registry;
using ctl::registry::testing::FakeHttpServer;
using ctl::registry::testing::FakeRequest;
using ctl::registry::testing::FakeResponse;

namespace {

ClientOptions test_options() {
    ClientOptions o;
    o.certs_dir = "";
    o.retry_delay_ms = 10;
    o.request_timeout_ms = 20000;
    o.user_agent = "ctld-test";
    return o;
}

Reference repo_at(const FakeHttpServer& server, const std::string& path, const std::string& tag = "latest") {
    Reference r;
    r.domain = server.host();
    r.path = path;
    r.tag = tag;
    return r;
}

std::string pattern_bytes(size_t n, int seed) {
    std::string s(n, '\0');
    uint32_t x = 2166136261u ^ static_cast<uint32_t>(seed);
    for (size_t i = 0; i < n; ++i) {
        x = x * 16777619u + 0x9e3779b9u;
        s[i] = static_cast<char>(x >> 24);
    }
    return s;
}

FakeResponse json_response(int status, const std::string& body) {
    FakeResponse r;
    r.status = status;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = body;
    return r;
}

FakeResponse registry_error_response(int status, const std::string& code, const std::string& message) {
    Json body = {{"errors", Json::array({{{"code", code}, {"message", message}, {"detail", nullptr}}})}};
    return json_response(status, body.dump());
}

std::string manifest_json() {
    Json m = {{"schemaVersion", 2},
              {"mediaType", kDockerManifest},
              {"config", {{"mediaType", kDockerConfig}, {"digest", "sha256:" + std::string(64, 'c')}, {"size", 10}}},
              {"layers", Json::array()}};
    return m.dump();
}

// Collects fetched bytes.
struct Collector {
    std::string data;
    BlobSink sink() {
        return [this](const char* p, size_t n) -> Status {
            data.append(p, n);
            return ok();
        };
    }
};

}  // namespace

TEST_SUITE("registry.client") {
    TEST_CASE("bearer token flow: realm, scopes, caching per credentials, refresh tokens, registry tokens") {
        std::mutex mu;
        std::vector<FakeRequest> token_requests;
        const std::string good_basic = "Basic " + base64_encode("user:pass");
        FakeHttpServer token_server([&](const FakeRequest& r) -> FakeResponse {
            {
                std::lock_guard g(mu);
                token_requests.push_back(r);
            }
            if (r.path != "/token") return json_response(404, "{}");
            if (r.method == "POST") {
                if (r.body.find("grant_type=refresh_token") != std::string::npos &&
                    r.body.find("refresh_token=refresh-1") != std::string::npos) {
                    return json_response(200, R"({"access_token":"tok-identity","expires_in":300})");
                }
                return json_response(401, R"({"details":"invalid refresh token"})");
            }
            std::string auth = r.header("authorization");
            if (auth.empty()) return json_response(200, R"({"token":"tok-anon","expires_in":300})");
            if (auth == good_basic) return json_response(200, R"({"token":"tok-user","expires_in":300})");
            return json_response(401, R"({"details":"incorrect username or password"})");
        });
        const std::string manifest = manifest_json();
        FakeHttpServer registry([&](const FakeRequest& r) -> FakeResponse {
            std::string auth = r.header("authorization");
            bool allowed = auth == "Bearer tok-user" || auth == "Bearer tok-identity" || auth == "Bearer registry-token-1";
            if (!allowed) {
                FakeResponse resp = registry_error_response(401, "UNAUTHORIZED", "authentication required");
                std::string challenge = "Bearer realm=\"" + token_server.url() + "/token\",service=\"fake-registry\"";
                if (r.path != "/v2/") challenge += ",scope=\"repository:x/y:pull\"";
                resp.headers.emplace_back("WWW-Authenticate", challenge);
                return resp;
            }
            if (r.path == "/v2/") return json_response(200, "{}");
            if (r.path == "/v2/x/y/manifests/v1") {
                FakeResponse resp;
                resp.headers = {{"Content-Type", kDockerManifest}, {"Docker-Content-Digest", sha256_digest(manifest)}};
                resp.body = manifest;
                return resp;
            }
            return registry_error_response(404, "MANIFEST_UNKNOWN", "manifest unknown");
        });
        auto manifest_requests = [&] {
            size_t n = 0;
            for (const auto& r : registry.requests()) n += r.path == "/v2/x/y/manifests/v1";
            return n;
        };
        auto token_count = [&] {
            std::lock_guard g(mu);
            return token_requests.size();
        };

        Client client(test_options());
        Reference ref = repo_at(registry, "x/y", "v1");
        AuthConfig user;
        user.username = "user";
        user.password = "pass";

        auto first = client.get_manifest(ref, user);
        REQUIRE_MESSAGE(first.has_value(), (first ? std::string() : first.error().message));
        CHECK(first->bytes == manifest);
        CHECK(first->digest == sha256_digest(manifest));
        CHECK(first->media_type == kDockerManifest);
        REQUIRE(token_count() == 1);
        {
            std::lock_guard g(mu);
            const auto& tr = token_requests[0];
            CHECK(tr.method == "GET");
            CHECK(tr.query_values("service") == std::vector<std::string>{"fake-registry"});
            CHECK(tr.query_values("scope") == std::vector<std::string>{"repository:x/y:pull"});
            CHECK(tr.query_values("account") == std::vector<std::string>{"user"});
            CHECK(tr.header("authorization") == good_basic);
        }
        CHECK(manifest_requests() == 2);  // anonymous 401, then with the token

        // The token is cached: no token request, no 401 round trip.
        REQUIRE(client.get_manifest(ref, user));
        CHECK(token_count() == 1);
        CHECK(manifest_requests() == 3);

        // Another identity never gets that token: anonymous asks for its own and is refused.
        auto anon = client.get_manifest(ref, AuthConfig{});
        REQUIRE_FALSE(anon);
        CHECK(anon.error().code == Errc::Unauthorized);
        CHECK(anon.error().message.find("authentication required") != std::string::npos);
        CHECK(token_count() == 2);
        {
            std::lock_guard g(mu);
            CHECK(token_requests[1].header("authorization").empty());
        }

        AuthConfig wrong;
        wrong.username = "user";
        wrong.password = "nope";
        auto refused = client.get_manifest(ref, wrong);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code == Errc::Unauthorized);
        CHECK(refused.error().message.find("incorrect username or password") != std::string::npos);

        // Login check: ping follows the same challenge (no scope).
        CHECK(client.ping(registry.host(), user));
        auto bad_login = client.ping(registry.host(), wrong);
        REQUIRE_FALSE(bad_login);
        CHECK(bad_login.error().code == Errc::Unauthorized);

        // Identity token: OAuth2 refresh-token grant.
        AuthConfig identity;
        identity.identity_token = "refresh-1";
        auto via_identity = client.get_manifest(ref, identity);
        REQUIRE_MESSAGE(via_identity.has_value(), (via_identity ? std::string() : via_identity.error().message));
        {
            std::lock_guard g(mu);
            const auto& tr = token_requests.back();
            CHECK(tr.method == "POST");
            CHECK(tr.body.find("scope=repository%3Ax%2Fy%3Apull") != std::string::npos);
            CHECK(tr.body.find("service=fake-registry") != std::string::npos);
        }

        // A registry token goes straight to the registry.
        size_t before = token_count();
        AuthConfig registry_token;
        registry_token.registry_token = "registry-token-1";
        REQUIRE(client.get_manifest(ref, registry_token));
        CHECK(token_count() == before);

        // A fresh client given the auth in X-Registry-Auth form works the same.
        Client fresh(test_options());
        auto header_auth = decode_registry_auth_header(encode_registry_auth_header(user));
        REQUIRE(header_auth);
        CHECK(fresh.get_manifest(ref, *header_auth));
    }

    TEST_CASE("basic auth, redirects, and Authorization dropped when leaving the registry") {
        const std::string blob = pattern_bytes(70000, 1);
        const std::string digest = sha256_digest(blob);
        const std::string blob2 = pattern_bytes(5000, 2);
        const std::string digest2 = sha256_digest(blob2);
        const std::string good = "Basic " + base64_encode("user:pass");
        FakeHttpServer storage([&](const FakeRequest& r) -> FakeResponse {
            FakeResponse resp;
            resp.body = blob;
            return resp;
        });
        FakeHttpServer registry([&](const FakeRequest& r) -> FakeResponse {
            if (r.header("authorization") != good) {
                FakeResponse resp = json_response(401, "");
                resp.headers.emplace_back("WWW-Authenticate", "Basic realm=\"fake\"");
                return resp;
            }
            if (r.path == "/v2/") return json_response(200, "{}");
            if (r.path == "/v2/r/blobs/" + digest) {
                FakeResponse resp;
                resp.status = 307;
                resp.headers = {{"Location", storage.url() + "/bucket/blob?X-Signature=secret"}};
                return resp;
            }
            if (r.path == "/v2/r/blobs/" + digest2) {
                FakeResponse resp;
                resp.status = 302;
                resp.headers = {{"Location", "/v2/r/same-origin-blob"}};
                return resp;
            }
            if (r.path == "/v2/r/same-origin-blob") {
                FakeResponse resp;
                resp.body = blob2;
                return resp;
            }
            return json_response(404, "");
        });
        Client client(test_options());
        Reference repo = repo_at(registry, "r");
        AuthConfig user;
        user.username = "user";
        user.password = "pass";

        Collector out;
        int64_t last_done = 0, last_total = 0;
        Status st = client.fetch_blob(repo, digest, static_cast<int64_t>(blob.size()), user, out.sink(),
                                      [&](int64_t done, int64_t total) {
                                          last_done = done;
                                          last_total = total;
                                      });
        REQUIRE_MESSAGE(st.has_value(), (st ? std::string() : st.error().message));
        CHECK(out.data == blob);
        CHECK(last_done == static_cast<int64_t>(blob.size()));
        CHECK(last_total == static_cast<int64_t>(blob.size()));
        auto at_storage = storage.requests();
        REQUIRE(at_storage.size() == 1);
        CHECK(at_storage[0].header("authorization").empty());
        CHECK(at_storage[0].target == "/bucket/blob?X-Signature=secret");

        Collector same;
        REQUIRE(client.fetch_blob(repo, digest2, -1, user, same.sink()));
        CHECK(same.data == blob2);
        bool saw_auth_after_redirect = false;
        for (const auto& r : registry.requests()) {
            if (r.path == "/v2/r/same-origin-blob") saw_auth_after_redirect = r.header("authorization") == good;
        }
        CHECK(saw_auth_after_redirect);

        // HEAD does not follow the redirect: a redirect means the registry has the blob.
        CHECK(*client.blob_exists(repo, digest, user));

        AuthConfig wrong;
        wrong.username = "user";
        wrong.password = "bad";
        Collector none;
        Status refused = client.fetch_blob(repo, digest, -1, wrong, none.sink());
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code == Errc::Unauthorized);
        CHECK(refused.error().message == "unauthorized: authentication required");
        CHECK(none.data.empty());
        auto anon = client.ping(registry.host(), AuthConfig{});
        REQUIRE_FALSE(anon);
        CHECK(anon.error().code == Errc::Unauthorized);
        CHECK(client.ping(registry.host(), user));
    }

    TEST_CASE("blob verification and registry errors") {
        const std::string blob = pattern_bytes(100000, 3);
        const std::string digest = sha256_digest(blob);
        const std::string liar_digest = sha256_digest("what the manifest promised");
        const std::string missing = sha256_digest("missing");
        const std::string denied = sha256_digest("denied");
        const std::string broken = sha256_digest("broken");
        std::atomic<int> broken_hits{0};
        FakeHttpServer registry([&](const FakeRequest& r) -> FakeResponse {
            FakeResponse resp;
            if (r.path == "/v2/r/blobs/" + digest) {
                resp.body = blob;
            } else if (r.path == "/v2/r/blobs/" + liar_digest) {
                resp.body = blob;  // other bytes than the digest says
            } else if (r.path == "/v2/r/blobs/" + denied) {
                return registry_error_response(403, "DENIED", "requested access to the resource is denied");
            } else if (r.path == "/v2/r/blobs/" + broken) {
                ++broken_hits;
                resp.status = 500;
                resp.body = "oops";
            } else if (r.path == "/v2/") {
                return json_response(200, "{}");
            } else {
                return registry_error_response(404, "BLOB_UNKNOWN", "blob unknown to registry");
            }
            return resp;
        });
        Client client(test_options());
        Reference repo = repo_at(registry, "r");

        Collector good;
        REQUIRE(client.fetch_blob(repo, digest, static_cast<int64_t>(blob.size()), {}, good.sink()));
        CHECK(good.data == blob);

        Collector wrong_digest;
        Status st = client.fetch_blob(repo, liar_digest, static_cast<int64_t>(blob.size()), {}, wrong_digest.sink());
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::DataLoss);
        CHECK(st.error().message == "filesystem layer verification failed for digest " + liar_digest);

        Collector wrong_size;
        st = client.fetch_blob(repo, digest, 1000, {}, wrong_size.sink());
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::DataLoss);
        CHECK(wrong_size.data.empty());  // refused from Content-Length before any byte

        auto in_memory = client.get_blob(repo, liar_digest);
        REQUIRE_FALSE(in_memory);  // nothing is returned
        CHECK(in_memory.error().code == Errc::DataLoss);
        auto too_big = client.get_blob(repo, digest, {}, 1000);
        REQUIRE_FALSE(too_big);
        CHECK(too_big.error().code == Errc::TooLarge);
        auto small = client.get_blob(repo, digest);
        REQUIRE(small);
        CHECK(*small == blob);

        Collector nothing;
        st = client.fetch_blob(repo, missing, -1, {}, nothing.sink());
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::NotFound);
        CHECK(st.error().message == "blob unknown: blob unknown to registry");
        CHECK_FALSE(*client.blob_exists(repo, missing));
        CHECK(*client.blob_exists(repo, digest));

        st = client.fetch_blob(repo, denied, -1, {}, nothing.sink());
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::Forbidden);
        CHECK(st.error().message == "denied: requested access to the resource is denied");

        st = client.fetch_blob(repo, broken, -1, {}, nothing.sink());
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::Unavailable);
        CHECK(broken_hits.load() == 1 + test_options().blob_retries);

        st = client.fetch_blob(repo, "sha256:short", -1, {}, nothing.sink());
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::InvalidArgument);
    }

    TEST_CASE("a dropped download resumes with Range (and copes with servers that ignore it)") {
        const std::string blob = pattern_bytes(1 << 20, 4);
        const std::string digest = sha256_digest(blob);
        const int64_t cut = 300000;
        std::atomic<bool> honour_range{true};
        FakeHttpServer registry([&](const FakeRequest& r) -> FakeResponse {
            FakeResponse resp;
            if (r.path != "/v2/r/blobs/" + digest) return json_response(r.path == "/v2/" ? 200 : 404, "{}");
            std::string range = r.header("range");
            if (range.empty()) {
                resp.body = blob;
                resp.truncate_body_at = cut;  // connection drops mid-body
                return resp;
            }
            if (!honour_range) {
                resp.body = blob;  // 200 with everything again
                return resp;
            }
            int64_t start = std::atoll(range.c_str() + 6);  // "bytes=N-"
            resp.status = 206;
            resp.headers = {{"Content-Range", "bytes " + std::to_string(start) + "-" + std::to_string(blob.size() - 1) +
                                                  "/" + std::to_string(blob.size())}};
            resp.body = blob.substr(static_cast<size_t>(start));
            return resp;
        });
        Client client(test_options());
        Reference repo = repo_at(registry, "r");

        Collector out;
        Status st = client.fetch_blob(repo, digest, static_cast<int64_t>(blob.size()), {}, out.sink());
        REQUIRE_MESSAGE(st.has_value(), (st ? std::string() : st.error().message));
        CHECK(out.data == blob);
        std::vector<std::string> ranges;
        for (const auto& r : registry.requests()) {
            if (r.path == "/v2/r/blobs/" + digest) ranges.push_back(r.header("range"));
        }
        REQUIRE(ranges.size() == 2);
        CHECK(ranges[0].empty());
        CHECK(ranges[1] == "bytes=" + std::to_string(cut) + "-");

        honour_range = false;
        Collector again;
        st = client.fetch_blob(repo, digest, static_cast<int64_t>(blob.size()), {}, again.sink());
        REQUIRE_MESSAGE(st.has_value(), (st ? std::string() : st.error().message));
        CHECK(again.data == blob);
    }

    TEST_CASE("a sink error or the cancel flag aborts the transfer") {
        const std::string blob = pattern_bytes(600000, 5);
        const std::string digest = sha256_digest(blob);
        FakeHttpServer registry([&](const FakeRequest& r) -> FakeResponse {
            if (r.path != "/v2/r/blobs/" + digest) return json_response(r.path == "/v2/" ? 200 : 404, "{}");
            FakeResponse resp;
            resp.body = blob;
            resp.pause_after = 1000;
            resp.pause_ms = 8000;
            return resp;
        });
        Client client(test_options());
        Reference repo = repo_at(registry, "r");
        auto blob_requests = [&] {
            size_t n = 0;
            for (const auto& r : registry.requests()) n += r.path == "/v2/r/blobs/" + digest;
            return n;
        };

        Status st = client.fetch_blob(repo, digest, -1, {}, [](const char*, size_t) -> Status {
            return make_error(Errc::Internal, "disk full");
        });
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::Internal);
        CHECK(st.error().message == "disk full");
        CHECK(blob_requests() == 1);  // a local failure is not retried

        std::atomic<bool> cancel{false};
        std::thread canceller([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            cancel = true;
        });
        Collector partial;
        st = client.fetch_blob(repo, digest, -1, {}, partial.sink(), {}, &cancel);
        canceller.join();
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::Cancelled);
        CHECK(partial.data.size() < blob.size());

        std::atomic<bool> already{true};
        st = client.fetch_blob(repo, digest, -1, {}, partial.sink(), {}, &already);
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::Cancelled);
        auto manifest = client.get_manifest(repo, {}, {}, &already);
        REQUIRE_FALSE(manifest);
        CHECK(manifest.error().code == Errc::Cancelled);
    }

    TEST_CASE("push: mount, upload sessions with relative Locations, digest checked while sending") {
        std::mutex mu;
        std::set<std::string> stored;
        const std::string mounted = sha256_digest("already in a/b");
        FakeHttpServer registry([&](const FakeRequest& r) -> FakeResponse {
            const std::string uploads = "/v2/x/y/blobs/uploads/";
            if (r.path == "/v2/") return json_response(200, "{}");
            if (r.method == "POST" && r.path == uploads) {
                auto mount = r.query_values("mount");
                FakeResponse resp;
                resp.status = 202;
                if (!mount.empty() && mount[0] == mounted && r.query_values("from") == std::vector<std::string>{"a/b"}) {
                    std::lock_guard g(mu);
                    stored.insert(mounted);
                    resp.status = 201;
                    resp.headers = {{"Location", "/v2/x/y/blobs/" + mounted}, {"Docker-Content-Digest", mounted}};
                    return resp;
                }
                resp.headers = {{"Location", mount.empty() ? "/v2/x/y/blobs/uploads/uuid-2?_state=t"
                                                           : "/v2/x/y/blobs/uploads/uuid-1?_state=s"}};
                return resp;
            }
            if (r.method == "PUT" && r.path.rfind(uploads + "uuid-", 0) == 0) {
                auto digest = r.query_values("digest");
                if (digest.size() != 1 || r.query_values("_state").empty()) return json_response(400, "{}");
                if (sha256_digest(r.body) != digest[0] || r.header("content-length") != std::to_string(r.body.size())) {
                    return registry_error_response(400, "DIGEST_INVALID", "provided digest did not match uploaded content");
                }
                std::lock_guard g(mu);
                stored.insert(digest[0]);
                FakeResponse resp;
                resp.status = 201;
                resp.headers = {{"Docker-Content-Digest", digest[0]}};
                return resp;
            }
            if (r.method == "PUT" && r.path.rfind("/v2/x/y/manifests/", 0) == 0) {
                FakeResponse resp;
                resp.status = 201;
                resp.headers = {{"Docker-Content-Digest", sha256_digest(r.body)}};
                return resp;
            }
            return json_response(404, "{}");
        });
        Client client(test_options());
        Reference repo = repo_at(registry, "x/y");
        auto is_stored = [&](const std::string& d) {
            std::lock_guard g(mu);
            return stored.count(d) > 0;
        };
        auto reader_of = [](const std::string& data) {
            auto pos = std::make_shared<size_t>(0);
            return BlobReader([data, pos](char* buf, size_t cap) -> Result<size_t> {
                size_t n = std::min(cap, data.size() - *pos);
                std::memcpy(buf, data.data() + *pos, n);
                *pos += n;
                return n;
            });
        };

        // Mounted: nothing is read.
        Status st = client.push_blob(repo, mounted, 14, BlobReader([](char*, size_t) -> Result<size_t> {
                                         return make_error(Errc::Internal, "must not be read");
                                     }),
                                     std::string("a/b"));
        REQUIRE_MESSAGE(st.has_value(), (st ? std::string() : st.error().message));
        CHECK(is_stored(mounted));

        // Mount refused with an upload session (202): the upload continues there.
        const std::string one = pattern_bytes(200000, 6);
        const std::string one_digest = sha256_digest(one);
        int64_t pushed = 0;
        st = client.push_blob(repo, one_digest, static_cast<int64_t>(one.size()), reader_of(one), std::string("a/b"), {},
                              [&](int64_t done, int64_t) { pushed = done; });
        REQUIRE_MESSAGE(st.has_value(), (st ? std::string() : st.error().message));
        CHECK(is_stored(one_digest));
        CHECK(pushed == static_cast<int64_t>(one.size()));
        bool used_uuid1 = false;
        for (const auto& r : registry.requests()) used_uuid1 = used_uuid1 || (r.method == "PUT" && r.path.find("uuid-1") != std::string::npos);
        CHECK(used_uuid1);

        // Plain upload from a file.
        const std::string two = pattern_bytes(123457, 7);
        const std::string two_digest = sha256_digest(two);
        char path[] = "/tmp/ctl-registry-push-XXXXXX";
        int fd = ::mkstemp(path);
        REQUIRE(fd >= 0);
        REQUIRE(sys::write_all(fd, two));
        ::close(fd);
        st = client.push_blob(repo, two_digest, static_cast<int64_t>(two.size()), std::string(path));
        ::unlink(path);
        REQUIRE_MESSAGE(st.has_value(), (st ? std::string() : st.error().message));
        CHECK(is_stored(two_digest));

        // Bytes that do not match the digest: aborted before the registry gets it all.
        const std::string claimed = sha256_digest("something else");
        st = client.push_blob(repo, claimed, static_cast<int64_t>(one.size()), reader_of(one));
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::DataLoss);
        CHECK_FALSE(is_stored(claimed));

        // A source shorter than its declared size.
        st = client.push_blob(repo, one_digest, static_cast<int64_t>(one.size()) + 10, reader_of(one));
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::InvalidArgument);

        auto manifest = client.put_manifest(repo, "v1", kDockerManifest, manifest_json());
        REQUIRE(manifest);
        CHECK(*manifest == sha256_digest(manifest_json()));
        bool typed = false;
        for (const auto& r : registry.requests()) {
            if (r.path == "/v2/x/y/manifests/v1") typed = r.header("content-type") == kDockerManifest && r.body == manifest_json();
        }
        CHECK(typed);
        CHECK_FALSE(client.put_manifest(repo, "bad tag!", kDockerManifest, manifest_json()));
        CHECK_FALSE(client.put_manifest(repo, sha256_digest("x"), kDockerManifest, manifest_json()));
    }

    TEST_CASE("manifests: digests verified, media types detected, size capped, 404 worded like Docker") {
        const std::string manifest = manifest_json();
        const std::string digest = sha256_digest(manifest);
        const std::string other_digest = sha256_digest("other");
        FakeHttpServer registry([&](const FakeRequest& r) -> FakeResponse {
            FakeResponse resp;
            resp.headers = {{"Content-Type", kDockerManifest}};
            resp.body = manifest;
            const std::string base = "/v2/x/manifests/";
            if (r.path == "/v2/") return json_response(200, "{}");
            if (r.path == base + "with-digest" || r.path == base + digest) {
                resp.headers.emplace_back("Docker-Content-Digest", digest);
            } else if (r.path == base + "no-digest") {
            } else if (r.path == base + "lying-digest" || r.path == base + other_digest) {
                resp.headers.emplace_back("Docker-Content-Digest", other_digest);
            } else if (r.path == base + "generic") {
                resp.headers = {{"Content-Type", "application/json"}};
            } else if (r.path == base + "huge") {
                resp.body = std::string(kMaxManifestSize + 1, ' ');
            } else {
                return registry_error_response(404, "MANIFEST_UNKNOWN", "manifest unknown");
            }
            return resp;
        });
        Client client(test_options());
        auto ref = [&](const std::string& tag) { return repo_at(registry, "x", tag); };

        auto a = client.get_manifest(ref("with-digest"));
        REQUIRE(a);
        CHECK(a->digest == digest);
        CHECK(a->media_type == kDockerManifest);
        auto b = client.get_manifest(ref("no-digest"));
        REQUIRE(b);
        CHECK(b->digest == digest);
        auto c = client.get_manifest(ref("lying-digest"));
        REQUIRE_FALSE(c);
        CHECK(c.error().code == Errc::DataLoss);
        auto g = client.get_manifest(ref("generic"));
        REQUIRE(g);
        CHECK(g->media_type == kDockerManifest);

        Reference by_digest = ref("");
        by_digest.digest = digest;
        auto d = client.get_manifest(by_digest);
        REQUIRE(d);
        CHECK(d->bytes == manifest);
        by_digest.digest = other_digest;
        auto e = client.get_manifest(by_digest);
        REQUIRE_FALSE(e);
        CHECK(e.error().code == Errc::DataLoss);
        CHECK(e.error().message == "manifest verification failed for digest " + other_digest);

        auto huge = client.get_manifest(ref("huge"));
        REQUIRE_FALSE(huge);
        CHECK(huge.error().code == Errc::TooLarge);

        auto missing = client.get_manifest(ref("nope"));
        REQUIRE_FALSE(missing);
        CHECK(missing.error().code == Errc::NotFound);
        CHECK(missing.error().message == "manifest unknown: manifest unknown");

        auto head = client.head_manifest(ref("with-digest"));
        REQUIRE(head);
        REQUIRE(*head);
        CHECK((*head)->digest == digest);
        CHECK((*head)->size == static_cast<int64_t>(manifest.size()));
        CHECK((*head)->media_type == kDockerManifest);
        auto head_fallback = client.head_manifest(ref("no-digest"));  // no header: GET fills it in
        REQUIRE(head_fallback);
        REQUIRE(*head_fallback);
        CHECK((*head_fallback)->digest == digest);
        auto head_missing = client.head_manifest(ref("nope"));
        REQUIRE(head_missing);
        CHECK_FALSE(*head_missing);
    }

    TEST_CASE("concurrent calls on one client") {
        std::vector<std::string> blobs;
        for (int i = 0; i < 8; ++i) blobs.push_back(pattern_bytes(50000 + static_cast<size_t>(i) * 1000, 100 + i));
        FakeHttpServer registry([&](const FakeRequest& r) -> FakeResponse {
            for (const auto& b : blobs) {
                if (r.path == "/v2/r/blobs/" + sha256_digest(b)) {
                    FakeResponse resp;
                    resp.body = b;
                    return resp;
                }
            }
            return json_response(r.path == "/v2/" ? 200 : 404, "{}");
        });
        Client client(test_options());
        Reference repo = repo_at(registry, "r");
        std::vector<std::thread> threads;
        std::atomic<int> good{0};
        for (int round = 0; round < 2; ++round) {
            for (const auto& b : blobs) {
                threads.emplace_back([&, b] {
                    Collector out;
                    Status st = client.fetch_blob(repo, sha256_digest(b), static_cast<int64_t>(b.size()), {}, out.sink());
                    if (st && out.data == b) ++good;
                });
            }
        }
        for (auto& t : threads) t.join();
        CHECK(good.load() == 16);
    }

    TEST_CASE("connection failures are Unavailable with the URL") {
        int port = 0;
        {
            FakeHttpServer gone([](const FakeRequest&) { return FakeResponse{}; });
            port = gone.port();
        }
        Client client(test_options());
        Reference repo;
        repo.domain = "127.0.0.1:" + std::to_string(port);
        repo.path = "r";
        repo.tag = "latest";
        auto m = client.get_manifest(repo);
        REQUIRE_FALSE(m);
        CHECK(m.error().code == Errc::Unavailable);
        CHECK(m.error().message.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
    }
}
