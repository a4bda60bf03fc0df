// The client against a real registry: Debian's docker-registry, started and stopped by the test
// (free port, temp dir, RAII). Skipped with a message when the binary is not installed.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/digest.hpp"
#include "engine/base/json.hpp"
#include "engine/base/sys.hpp"
#include "registry/client.hpp"
#include "registry/testing/registry_process.hpp"

using namespace ctl;
using namespace ctl::registry;
using ctl::registry::testing::RegistryOptions;
using ctl::registry::testing::RegistryProcess;

namespace {

ClientOptions options() {
    ClientOptions o;
    o.certs_dir = "";
    o.retry_delay_ms = 10;
    return o;
}

std::string random_bytes(size_t n, int seed) {
    std::string s(n, '\0');
    uint64_t x = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(seed + 1);
    for (size_t i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s[i] = static_cast<char>(x);
    }
    return s;
}

BlobReader reader_of(const std::string& data) {
    auto pos = std::make_shared<size_t>(0);
    return [data, pos](char* buf, size_t cap) -> Result<size_t> {
        size_t n = std::min(cap, data.size() - *pos);
        std::memcpy(buf, data.data() + *pos, n);
        *pos += n;
        return n;
    };
}

struct TestImage {
    std::string layer, config, manifest;
    std::string layer_digest, config_digest, manifest_digest;
};

TestImage make_image(int seed) {
    TestImage img;
    img.layer = random_bytes(3 * 1024 * 1024 + 17, seed);  // stands in for a gzip'd tar
    img.layer_digest = sha256_digest(img.layer);
    Json config = {{"architecture", "amd64"},
                   {"os", "linux"},
                   {"config", {{"Cmd", {"/bin/sh"}}}},
                   {"rootfs", {{"type", "layers"}, {"diff_ids", {sha256_digest("diff" + std::to_string(seed))}}}}};
    img.config = config.dump();
    img.config_digest = sha256_digest(img.config);
    Json manifest = {{"schemaVersion", 2},
                     {"mediaType", kDockerManifest},
                     {"config", {{"mediaType", kDockerConfig}, {"size", img.config.size()}, {"digest", img.config_digest}}},
                     {"layers", Json::array({{{"mediaType", kDockerLayerGzip},
                                              {"size", img.layer.size()},
                                              {"digest", img.layer_digest}}})}};
    img.manifest = manifest.dump(3);
    img.manifest_digest = sha256_digest(img.manifest);
    return img;
}

Status push_image(Client& client, const Reference& repo, const TestImage& img, const AuthConfig& auth) {
    CTL_TRY(client.push_blob(repo, img.layer_digest, static_cast<int64_t>(img.layer.size()), reader_of(img.layer),
                             std::nullopt, auth));
    CTL_TRY(client.push_blob(repo, img.config_digest, static_cast<int64_t>(img.config.size()), reader_of(img.config),
                             std::nullopt, auth));
    auto digest = client.put_manifest(repo, repo.tag, kDockerManifest, img.manifest, auth);
    if (!digest) return digest.error();
    if (*digest != img.manifest_digest) return make_error(Errc::Internal, "unexpected manifest digest " + *digest);
    return ok();
}

// A temp dir removed with everything in it when the test ends, failed or not.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/ctl-registry-tls-XXXXXX";
        if (::mkdtemp(tmpl)) path = tmpl;
    }
    ~TempDir() {
        if (!path.empty()) (void)sys::remove_all(path);
    }
};

// A CA, a server certificate for IP 127.0.0.1 and a client certificate, made with the openssl CLI.
Status make_certificates(const std::string& dir) {
    using ctl::registry::testing::run_capture;
    const std::string ec = "ec", curve = "ec_paramgen_curve:prime256v1";
    CTL_TRY(run_capture({"/usr/bin/openssl", "req", "-x509", "-newkey", ec, "-pkeyopt", curve, "-nodes", "-keyout",
                         dir + "/ca.key", "-out", dir + "/ca.crt", "-days", "2", "-subj", "/CN=ctl-test-ca"}));
    CTL_TRY(sys::write_file_atomic(dir + "/server.ext", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"));
    CTL_TRY(sys::write_file_atomic(dir + "/client.ext", "extendedKeyUsage=clientAuth\n"));
    for (std::string who : {"server", "client"}) {
        CTL_TRY(run_capture({"/usr/bin/openssl", "req", "-newkey", ec, "-pkeyopt", curve, "-nodes", "-keyout",
                             dir + "/" + who + ".key", "-out", dir + "/" + who + ".csr", "-subj",
                             who == "server" ? "/CN=127.0.0.1" : "/CN=ctl-test-client"}));
        CTL_TRY(run_capture({"/usr/bin/openssl", "x509", "-req", "-in", dir + "/" + who + ".csr", "-CA", dir + "/ca.crt",
                             "-CAkey", dir + "/ca.key", "-CAcreateserial", "-out", dir + "/" + who + ".crt", "-days",
                             "2", "-extfile", dir + "/" + who + ".ext"}));
    }
    return ok();
}

#define SKIP_WITHOUT_REGISTRY()                                                        \
    if (!RegistryProcess::available()) {                                               \
        MESSAGE("skipped: " << ctl::registry::testing::kRegistryBinary << " not installed"); \
        return;                                                                        \
    }

}  // namespace

TEST_SUITE("registry.server") {
    TEST_CASE("push and pull against docker-registry") {
        SKIP_WITHOUT_REGISTRY();
        auto started = RegistryProcess::start();
        REQUIRE_MESSAGE(started.has_value(), (started ? std::string() : started.error().message));
        auto& registry = *started;
        std::string dir = registry->dir();
        Client client(options());
        CHECK(client.ping(registry->host()));

        auto repo_r = parse_reference(registry->host() + "/test/app:v1");
        REQUIRE(repo_r);
        Reference repo = *repo_r;
        TestImage img = make_image(1);

        // Nothing there yet.
        CHECK_FALSE(*client.blob_exists(repo, img.layer_digest));
        auto missing_tag = client.get_manifest(repo);
        REQUIRE_FALSE(missing_tag);
        CHECK(missing_tag.error().code == Errc::NotFound);
        CHECK(missing_tag.error().message.find("unknown") != std::string::npos);

        // Push: layer from memory, config from a file, then the manifest.
        int64_t progress_done = 0;
        Status st = client.push_blob(repo, img.layer_digest, static_cast<int64_t>(img.layer.size()),
                                     reader_of(img.layer), std::nullopt, {},
                                     [&](int64_t done, int64_t) { progress_done = done; });
        REQUIRE_MESSAGE(st.has_value(), (st ? std::string() : st.error().message));
        CHECK(progress_done == static_cast<int64_t>(img.layer.size()));
        std::string config_path = dir + "/config.json";
        REQUIRE(sys::write_file_atomic(config_path, img.config));
        st = client.push_blob(repo, img.config_digest, static_cast<int64_t>(img.config.size()), config_path);
        REQUIRE_MESSAGE(st.has_value(), (st ? std::string() : st.error().message));
        CHECK(*client.blob_exists(repo, img.layer_digest));
        CHECK(*client.blob_exists(repo, img.config_digest));
        auto put = client.put_manifest(repo, "v1", kDockerManifest, img.manifest);
        REQUIRE_MESSAGE(put.has_value(), (put ? std::string() : put.error().message));
        CHECK(*put == img.manifest_digest);

        // Pull by tag and by digest.
        auto by_tag = client.get_manifest(repo);
        REQUIRE_MESSAGE(by_tag.has_value(), (by_tag ? std::string() : by_tag.error().message));
        CHECK(by_tag->bytes == img.manifest);
        CHECK(by_tag->digest == img.manifest_digest);
        CHECK(by_tag->media_type == kDockerManifest);
        auto parsed = parse_image_manifest(by_tag->bytes, by_tag->media_type);
        REQUIRE(parsed);
        CHECK(parsed->config.digest == img.config_digest);
        REQUIRE(parsed->layers.size() == 1);
        CHECK(parsed->layers[0].size == static_cast<int64_t>(img.layer.size()));

        auto by_digest_ref = parse_reference(registry->host() + "/test/app@" + img.manifest_digest);
        REQUIRE(by_digest_ref);
        auto by_digest = client.get_manifest(*by_digest_ref);
        REQUIRE(by_digest);
        CHECK(by_digest->bytes == img.manifest);

        auto head = client.head_manifest(repo);
        REQUIRE(head);
        REQUIRE(*head);
        CHECK((*head)->digest == img.manifest_digest);
        CHECK((*head)->size == static_cast<int64_t>(img.manifest.size()));
        CHECK((*head)->media_type == kDockerManifest);
        Reference nope = repo;
        nope.tag = "nope";
        auto head_missing = client.head_manifest(nope);
        REQUIRE(head_missing);
        CHECK_FALSE(*head_missing);

        std::string layer;
        int64_t last_done = 0;
        st = client.fetch_blob(
            repo, img.layer_digest, static_cast<int64_t>(img.layer.size()), {},
            [&](const char* p, size_t n) -> Status {
                layer.append(p, n);
                return ok();
            },
            [&](int64_t done, int64_t total) {
                last_done = done;
                CHECK(total == static_cast<int64_t>(img.layer.size()));
            });
        REQUIRE_MESSAGE(st.has_value(), (st ? std::string() : st.error().message));
        CHECK(layer == img.layer);
        CHECK(last_done == static_cast<int64_t>(img.layer.size()));
        auto config = client.get_blob(repo, img.config_digest);
        REQUIRE(config);
        CHECK(*config == img.config);

        // A missing tag reads like Docker's 404.
        auto missing = client.get_manifest(nope);
        REQUIRE_FALSE(missing);
        CHECK(missing.error().code == Errc::NotFound);
        CHECK(missing.error().message == "manifest unknown: manifest unknown");
        std::string blob_missing_sink;
        st = client.fetch_blob(repo, sha256_digest("never pushed"), -1, {}, [&](const char* p, size_t n) -> Status {
            blob_missing_sink.append(p, n);
            return ok();
        });
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::NotFound);
        CHECK(blob_missing_sink.empty());

        // Cross-repository mount: the reader must not be touched.
        auto other = parse_reference(registry->host() + "/other/app:v1");
        REQUIRE(other);
        CHECK_FALSE(*client.blob_exists(*other, img.layer_digest));
        st = client.push_blob(*other, img.layer_digest, static_cast<int64_t>(img.layer.size()),
                              BlobReader([](char*, size_t) -> Result<size_t> {
                                  return make_error(Errc::Internal, "mount should have made this unnecessary");
                              }),
                              std::string("test/app"));
        REQUIRE_MESSAGE(st.has_value(), (st ? std::string() : st.error().message));
        CHECK(*client.blob_exists(*other, img.layer_digest));

        // A blob whose bytes do not match the digest is refused and never appears.
        std::string claimed = sha256_digest("the real content");
        st = client.push_blob(repo, claimed, static_cast<int64_t>(img.layer.size()), reader_of(img.layer));
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::DataLoss);
        CHECK_FALSE(*client.blob_exists(repo, claimed));

        // Corrupt the stored layer: the download is refused (DataLoss) and get_blob returns nothing.
        std::string stored = registry->blob_data_path(img.config_digest);
        REQUIRE(sys::exists(stored));
        std::string tampered = img.config;
        tampered[tampered.size() / 2] ^= 0x20;
        REQUIRE(sys::write_file_atomic(stored, tampered));
        auto corrupt = client.get_blob(repo, img.config_digest);
        REQUIRE_FALSE(corrupt);
        CHECK(corrupt.error().code == Errc::DataLoss);

        // Parallel downloads of one blob.
        std::vector<std::thread> threads;
        std::atomic<int> good{0};
        for (int i = 0; i < 3; ++i) {
            threads.emplace_back([&] {
                std::string out;
                Status s = client.fetch_blob(repo, img.layer_digest, static_cast<int64_t>(img.layer.size()), {},
                                             [&](const char* p, size_t n) -> Status {
                                                 out.append(p, n);
                                                 return ok();
                                             });
                if (s && out == img.layer) ++good;
            });
        }
        for (auto& t : threads) t.join();
        CHECK(good.load() == 3);

        started->reset();
        CHECK_FALSE(sys::exists(dir));  // nothing left behind
    }

    TEST_CASE("htpasswd registry: basic auth accepted, wrong or missing password refused") {
        SKIP_WITHOUT_REGISTRY();
        if (::access(ctl::registry::testing::kHtpasswdBinary, X_OK) != 0) {
            MESSAGE("skipped: htpasswd (apache2-utils) not installed");
            return;
        }
        RegistryOptions opts;
        opts.username = "user";
        opts.password = "s3cret pass";
        auto started = RegistryProcess::start(opts);
        REQUIRE_MESSAGE(started.has_value(), (started ? std::string() : started.error().message));
        auto& registry = *started;
        Client client(options());

        AuthConfig good;
        good.username = "user";
        good.password = "s3cret pass";
        AuthConfig bad = good;
        bad.password = "wrong";
        // X-Registry-Auth form of the good credentials, as the docker CLI sends it.
        auto from_header = decode_registry_auth_header(encode_registry_auth_header(good));
        REQUIRE(from_header);

        CHECK(client.ping(registry->host(), good));
        auto refused = client.ping(registry->host(), bad);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code == Errc::Unauthorized);
        auto anonymous = client.ping(registry->host(), {});
        REQUIRE_FALSE(anonymous);
        CHECK(anonymous.error().code == Errc::Unauthorized);

        auto repo = parse_reference(registry->host() + "/private/app:1.0");
        REQUIRE(repo);
        TestImage img = make_image(2);
        Status pushed = push_image(client, *repo, img, *from_header);
        REQUIRE_MESSAGE(pushed.has_value(), (pushed ? std::string() : pushed.error().message));

        auto pulled = client.get_manifest(*repo, good);
        REQUIRE(pulled);
        CHECK(pulled->digest == img.manifest_digest);
        std::string layer;
        REQUIRE(client.fetch_blob(*repo, img.layer_digest, static_cast<int64_t>(img.layer.size()), good,
                                  [&](const char* p, size_t n) -> Status {
                                      layer.append(p, n);
                                      return ok();
                                  }));
        CHECK(layer == img.layer);

        auto wrong = client.get_manifest(*repo, bad);
        REQUIRE_FALSE(wrong);
        CHECK(wrong.error().code == Errc::Unauthorized);
        auto anon = client.get_manifest(*repo, {});
        REQUIRE_FALSE(anon);
        CHECK(anon.error().code == Errc::Unauthorized);
        Status anon_push = client.push_blob(*repo, img.config_digest, static_cast<int64_t>(img.config.size()),
                                            reader_of(img.config));
        REQUIRE_FALSE(anon_push);
        CHECK(anon_push.error().code == Errc::Unauthorized);
    }

    TEST_CASE("TLS: CA and client certificate from certs.d/HOST:PORT") {
        SKIP_WITHOUT_REGISTRY();
        if (::access("/usr/bin/openssl", X_OK) != 0) {
            MESSAGE("skipped: openssl CLI not installed");
            return;
        }
        TempDir tmp;
        REQUIRE_FALSE(tmp.path.empty());
        Status made = make_certificates(tmp.path);
        REQUIRE_MESSAGE(made.has_value(), (made ? std::string() : made.error().message));
        RegistryOptions opts;
        opts.tls_cert = tmp.path + "/server.crt";
        opts.tls_key = tmp.path + "/server.key";
        opts.client_ca = tmp.path + "/ca.crt";
        auto started = RegistryProcess::start(opts);
        REQUIRE_MESSAGE(started.has_value(), (started ? std::string() : started.error().message));
        const std::string host = (*started)->host();

        ClientOptions o = options();
        o.loopback_is_insecure = false;  // verify certificates even on 127.0.0.1
        o.certs_dir = tmp.path + "/certs.d";
        const std::string host_dir = o.certs_dir + "/" + host;
        REQUIRE(sys::mkdir_all(host_dir));

        {
            Client client(o);  // no CA for this host: the self-signed chain is refused
            auto st = client.ping(host);
            REQUIRE_FALSE(st);
            CHECK(st.error().code == Errc::Unavailable);
            CHECK(st.error().message.find("https://" + host) != std::string::npos);
        }
        REQUIRE(sys::write_file_atomic(host_dir + "/ca.crt", *sys::read_file(tmp.path + "/ca.crt")));
        {
            Client client(o);  // CA trusted, but the registry wants a client certificate
            auto st = client.ping(host);
            REQUIRE_FALSE(st);
            CHECK(st.error().code == Errc::Unavailable);
        }
        REQUIRE(sys::write_file_atomic(host_dir + "/client.cert", *sys::read_file(tmp.path + "/client.crt")));
        REQUIRE(sys::write_file_atomic(host_dir + "/client.key", *sys::read_file(tmp.path + "/client.key"), 0600));
        {
            Client client(o);
            auto st = client.ping(host);
            REQUIRE_MESSAGE(st.has_value(), (st ? std::string() : st.error().message));
            auto repo = parse_reference(host + "/tls/app:1");
            REQUIRE(repo);
            TestImage img = make_image(3);
            Status pushed = push_image(client, *repo, img, {});
            REQUIRE_MESSAGE(pushed.has_value(), (pushed ? std::string() : pushed.error().message));
            auto pulled = client.get_manifest(*repo);
            REQUIRE(pulled);
            CHECK(pulled->digest == img.manifest_digest);
        }
    }
}
