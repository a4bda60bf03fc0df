#include <doctest/doctest.h>

#include <string>

#include "engine/base/digest.hpp"
#include "engine/base/json.hpp"
#include "registry/manifest.hpp"

using namespace ctl;
using namespace ctl::registry;

namespace {

std::string d(char c) { return "sha256:" + std::string(64, c); }

Json descriptor(const std::string& media_type, const std::string& digest, int64_t size) {
    return Json{{"mediaType", media_type}, {"digest", digest}, {"size", size}};
}

Json docker_manifest() {
    return Json{{"schemaVersion", 2},
                {"mediaType", kDockerManifest},
                {"config", descriptor(kDockerConfig, d('c'), 1234)},
                {"layers", Json::array({descriptor(kDockerLayerGzip, d('1'), 100), descriptor(kDockerLayerGzip, d('2'), 200)})}};
}

Json entry(const std::string& digest, const std::string& os, const std::string& arch, const std::string& variant = "") {
    Json e = descriptor(kOciManifest, digest, 500);
    e["platform"] = {{"os", os}, {"architecture", arch}};
    if (!variant.empty()) e["platform"]["variant"] = variant;
    return e;
}

ImageIndex index_of(const Json& manifests) {
    Json doc = {{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", manifests}};
    auto index = parse_index(doc.dump());
    REQUIRE_MESSAGE(index.has_value(), (index ? std::string() : index.error().message));
    return *index;
}

}  // namespace

TEST_SUITE("registry.manifest") {
    TEST_CASE("Docker schema2 manifest: config and layers") {
        auto m = parse_image_manifest(docker_manifest().dump(), kDockerManifest);
        REQUIRE_MESSAGE(m.has_value(), (m ? std::string() : m.error().message));
        CHECK(m->media_type == kDockerManifest);
        CHECK(m->config.digest == d('c'));
        CHECK(m->config.size == 1234);
        CHECK(m->config.media_type == kDockerConfig);
        REQUIRE(m->layers.size() == 2);
        CHECK(m->layers[1].digest == d('2'));
        CHECK(m->layers[1].size == 200);
        CHECK(layer_compression(m->layers[0].media_type) == Compression::Gzip);
    }

    TEST_CASE("OCI manifest without mediaType: the content type or the shape decides") {
        Json doc = docker_manifest();
        doc.erase("mediaType");
        doc["config"]["mediaType"] = kOciConfig;
        auto typed = parse_image_manifest(doc.dump(), std::string(kOciManifest) + "; charset=utf-8");
        REQUIRE(typed);
        CHECK(typed->media_type == kOciManifest);
        auto generic = parse_image_manifest(doc.dump(), "application/json");
        REQUIRE(generic);
        CHECK(generic->media_type == kOciManifest);
        CHECK(detect_manifest_media_type(doc.dump()) == kOciManifest);
        CHECK(detect_manifest_media_type("{}", kDockerManifestList) == kDockerManifestList);
    }

    TEST_CASE("manifest rejections") {
        SUBCASE("mediaType contradicts the content type") {
            auto m = parse_image_manifest(docker_manifest().dump(), kOciManifest);
            REQUIRE_FALSE(m);
            CHECK(m.error().code == Errc::InvalidArgument);
        }
        SUBCASE("ambiguous: manifest with manifests") {
            Json doc = docker_manifest();
            doc["manifests"] = Json::array();
            auto m = parse_image_manifest(doc.dump(), kDockerManifest);
            REQUIRE_FALSE(m);
            CHECK(m.error().message.find("ambiguous") != std::string::npos);
        }
        SUBCASE("an index is not a manifest") {
            Json doc = {{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", Json::array()}};
            CHECK_FALSE(parse_image_manifest(doc.dump()));
            CHECK(parse_index(doc.dump()));
        }
        SUBCASE("schema 1 is refused as not implemented") {
            auto m = parse_image_manifest(R"({"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]})");
            REQUIRE_FALSE(m);
            CHECK(m.error().code == Errc::NotImplemented);
        }
        SUBCASE("over 4 MiB") {
            Json doc = docker_manifest();
            doc["annotations"] = {{"pad", std::string(kMaxManifestSize, 'x')}};
            auto m = parse_image_manifest(doc.dump(), kDockerManifest);
            REQUIRE_FALSE(m);
            CHECK(m.error().code == Errc::TooLarge);
        }
        SUBCASE("bad digests and sizes") {
            Json bad_digest = docker_manifest();
            bad_digest["layers"][0]["digest"] = "sha256:xyz";
            CHECK_FALSE(parse_image_manifest(bad_digest.dump(), kDockerManifest));
            Json negative = docker_manifest();
            negative["layers"][0]["size"] = -1;
            CHECK_FALSE(parse_image_manifest(negative.dump(), kDockerManifest));
            Json no_size = docker_manifest();
            no_size["config"].erase("size");
            CHECK_FALSE(parse_image_manifest(no_size.dump(), kDockerManifest));
            Json float_size = docker_manifest();
            float_size["config"]["size"] = 1.5;
            CHECK_FALSE(parse_image_manifest(float_size.dump(), kDockerManifest));
            Json no_config = docker_manifest();
            no_config.erase("config");
            CHECK_FALSE(parse_image_manifest(no_config.dump(), kDockerManifest));
        }
        SUBCASE("not JSON, wrong schemaVersion") {
            CHECK_FALSE(parse_image_manifest("not json", kDockerManifest));
            CHECK_FALSE(parse_image_manifest("[]", kDockerManifest));
            Json v3 = docker_manifest();
            v3["schemaVersion"] = 3;
            CHECK_FALSE(parse_image_manifest(v3.dump(), kDockerManifest));
        }
    }

    TEST_CASE("index entries carry platforms, urls and annotations") {
        Json e = entry(d('a'), "linux", "arm", "v7");
        e["urls"] = {"https://example.com/blob"};
        e["annotations"] = {{"k", "v"}};
        e["platform"]["os.version"] = "10.0";
        auto index = index_of(Json::array({e}));
        REQUIRE(index.manifests.size() == 1);
        const auto& m = index.manifests[0];
        CHECK(m.platform.os == "linux");
        CHECK(m.platform.architecture == "arm");
        CHECK(m.platform.variant == "v7");
        CHECK(m.platform.os_version == "10.0");
        CHECK(m.urls == std::vector<std::string>{"https://example.com/blob"});
        CHECK(m.annotations.at("k") == "v");
        Json with_layers = {{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", Json::array()}, {"layers", Json::array()}};
        CHECK_FALSE(parse_index(with_layers.dump()));
    }

    TEST_CASE("select_platform") {
        auto index = index_of(Json::array({
            entry(d('0'), "unknown", "unknown"),  // attestation manifest
            entry(d('1'), "linux", "amd64"),
            entry(d('2'), "linux", "arm64", "v8"),
            entry(d('3'), "linux", "arm", "v6"),
            entry(d('4'), "linux", "arm", "v7"),
            entry(d('5'), "windows", "amd64"),
            entry(d('6'), "linux", "ppc64le"),
        }));
        CHECK(select_platform(index)->digest == d('1'));
        CHECK(select_platform(index, "linux", "amd64", "")->digest == d('1'));
        CHECK(select_platform(index, "linux", "x86_64", "")->digest == d('1'));
        CHECK(select_platform(index, "linux", "arm64", "v8")->digest == d('2'));
        CHECK(select_platform(index, "linux", "aarch64", "")->digest == d('2'));
        CHECK(select_platform(index, "linux", "arm", "v7")->digest == d('4'));
        CHECK(select_platform(index, "linux", "arm", "")->digest == d('4'));  // arm defaults to v7
        CHECK(select_platform(index, "linux", "arm", "v6")->digest == d('3'));
        CHECK(select_platform(index, "windows", "amd64", "")->digest == d('5'));
        auto none = select_platform(index, "linux", "s390x", "");
        REQUIRE_FALSE(none);
        CHECK(none.error().code == Errc::NotFound);
        CHECK(none.error().message == "no matching manifest for linux/s390x in the manifest list entries");

        auto only_v6 = index_of(Json::array({entry(d('3'), "linux", "arm", "v6")}));
        CHECK(select_platform(only_v6, "linux", "arm", "v7")->digest == d('3'));  // v7 runs v6
        CHECK_FALSE(select_platform(only_v6, "linux", "arm", "v5"));              // v5 does not run v6

        auto amd64_v3_first = index_of(Json::array({entry(d('7'), "linux", "amd64", "v3"), entry(d('8'), "linux", "amd64")}));
        CHECK(select_platform(amd64_v3_first, "linux", "amd64", "")->digest == d('8'));

        Json bare = descriptor(kDockerManifest, d('9'), 10);
        auto no_platform = index_of(Json::array({bare}));
        CHECK(select_platform(no_platform)->digest == d('9'));

        Json nested = descriptor(kOciIndex, d('a'), 10);
        auto only_nested = index_of(Json::array({nested}));
        CHECK_FALSE(select_platform(only_nested));
    }

    TEST_CASE("parse_platform") {
        auto p = parse_platform("linux/arm64/v8");
        REQUIRE(p);
        CHECK(p->os == "linux");
        CHECK(p->architecture == "arm64");
        CHECK(p->variant.empty());  // normalised: v8 is arm64's only variant
        CHECK(parse_platform("linux/amd64")->string() == "linux/amd64");
        CHECK(parse_platform("LINUX/AMD64")->string() == "linux/amd64");
        CHECK(parse_platform("linux/x86_64")->string() == "linux/amd64");
        CHECK(parse_platform("linux/armhf")->string() == "linux/arm/v7");
        CHECK(parse_platform("linux/arm")->string() == "linux/arm/v7");
        CHECK(parse_platform("linux/arm/v6")->string() == "linux/arm/v6");
        CHECK(parse_platform("arm64")->string() == "linux/arm64");
        CHECK(parse_platform("linux")->os == "linux");
        CHECK(parse_platform("linux")->architecture == host_platform().architecture);
        for (auto bad : {"", "/", "linux/", "linux//v7", "a/b/c/d", "linux/am d64", "nonsense"}) {
            CAPTURE(bad);
            auto r = parse_platform(bad);
            REQUIRE_FALSE(r);
            CHECK(r.error().code == Errc::InvalidArgument);
        }
    }

    TEST_CASE("media type helpers") {
        CHECK(is_index_media_type(kOciIndex));
        CHECK(is_index_media_type(kDockerManifestList));
        CHECK_FALSE(is_index_media_type(kOciManifest));
        CHECK(is_manifest_media_type(kDockerManifest));
        CHECK(is_config_media_type(kOciConfig));
        CHECK(layer_compression(kOciLayerZstd) == Compression::Zstd);
        CHECK(layer_compression(kDockerLayerZstd) == Compression::Zstd);
        CHECK(layer_compression(kOciLayer) == Compression::None);
        CHECK(layer_compression(kDockerLayer) == Compression::None);
        CHECK(layer_compression(kOciLayerGzip) == Compression::Gzip);
        CHECK(layer_compression(kDockerForeignLayerGzip) == Compression::Gzip);
        CHECK(layer_compression(kDockerConfig) == Compression::Unknown);
        CHECK(is_layer_media_type(kDockerLayerGzip));
        CHECK_FALSE(is_layer_media_type("application/octet-stream"));
    }
}
