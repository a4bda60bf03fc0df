#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "registry/reference.hpp"

using namespace ctl;
using namespace ctl::registry;

namespace {

const std::string kHex = "7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa";
const std::string kDigest = "sha256:" + kHex;

struct Good {
    std::string input;
    std::string domain, path, tag, digest;
    std::string familiar_name, familiar_string, full_name;
};

struct Bad {
    std::string input;
    std::string message;  // exact
};

}  // namespace

TEST_SUITE("registry.reference") {
    TEST_CASE("good references normalise like Docker") {
        const std::vector<Good> table = {
            {"busybox", "docker.io", "library/busybox", "latest", "", "busybox", "busybox:latest",
             "docker.io/library/busybox"},
            {"busybox:1.36", "docker.io", "library/busybox", "1.36", "", "busybox", "busybox:1.36",
             "docker.io/library/busybox"},
            {"library/busybox", "docker.io", "library/busybox", "latest", "", "busybox", "busybox:latest",
             "docker.io/library/busybox"},
            {"docker.io/busybox", "docker.io", "library/busybox", "latest", "", "busybox", "busybox:latest",
             "docker.io/library/busybox"},
            {"docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", "", "busybox",
             "busybox:latest", "docker.io/library/busybox"},
            {"index.docker.io/library/busybox", "docker.io", "library/busybox", "latest", "", "busybox",
             "busybox:latest", "docker.io/library/busybox"},
            {"myorg/app:v1", "docker.io", "myorg/app", "v1", "", "myorg/app", "myorg/app:v1", "docker.io/myorg/app"},
            {"docker.io/library/a/b", "docker.io", "library/a/b", "latest", "", "library/a/b", "library/a/b:latest",
             "docker.io/library/a/b"},
            {"localhost/x", "localhost", "x", "latest", "", "localhost/x", "localhost/x:latest", "localhost/x"},
            {"localhost:5000/x/y:1", "localhost:5000", "x/y", "1", "", "localhost:5000/x/y", "localhost:5000/x/y:1",
             "localhost:5000/x/y"},
            {"127.0.0.1:5000/foo", "127.0.0.1:5000", "foo", "latest", "", "127.0.0.1:5000/foo",
             "127.0.0.1:5000/foo:latest", "127.0.0.1:5000/foo"},
            {"quay.io/coreos/etcd:v3.5.0", "quay.io", "coreos/etcd", "v3.5.0", "", "quay.io/coreos/etcd",
             "quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd"},
            {"Example.COM/a/b/c", "Example.COM", "a/b/c", "latest", "", "Example.COM/a/b/c",
             "Example.COM/a/b/c:latest", "Example.COM/a/b/c"},
            {"[::1]:5000/foo:bar", "[::1]:5000", "foo", "bar", "", "[::1]:5000/foo", "[::1]:5000/foo:bar",
             "[::1]:5000/foo"},
            {"busybox@" + kDigest, "docker.io", "library/busybox", "", kDigest, "busybox", "busybox@" + kDigest,
             "docker.io/library/busybox"},
            {"busybox:1.36@" + kDigest, "docker.io", "library/busybox", "1.36", kDigest, "busybox",
             "busybox:1.36@" + kDigest, "docker.io/library/busybox"},
            {"localhost:5000/x@" + kDigest, "localhost:5000", "x", "", kDigest, "localhost:5000/x",
             "localhost:5000/x@" + kDigest, "localhost:5000/x"},
            {"org/a_b.c-d__e---f", "docker.io", "org/a_b.c-d__e---f", "latest", "", "org/a_b.c-d__e---f",
             "org/a_b.c-d__e---f:latest", "docker.io/org/a_b.c-d__e---f"},
            // A first component with a "." is a domain, even when it would be a valid path.
            {"a.b/c", "a.b", "c", "latest", "", "a.b/c", "a.b/c:latest", "a.b/c"},
            // Without a "/", "host:port" is a name and a tag (Docker does the same).
            {"localhost:5000", "docker.io", "library/localhost", "5000", "", "localhost", "localhost:5000",
             "docker.io/library/localhost"},
            {"busybox:" + std::string(128, 'x'), "docker.io", "library/busybox", std::string(128, 'x'), "", "busybox",
             "busybox:" + std::string(128, 'x'), "docker.io/library/busybox"},
            {"busybox:_under.score-1", "docker.io", "library/busybox", "_under.score-1", "", "busybox",
             "busybox:_under.score-1", "docker.io/library/busybox"},
        };
        for (const auto& g : table) {
            CAPTURE(g.input);
            auto ref = parse_reference(g.input);
            REQUIRE_MESSAGE(ref.has_value(), (ref ? std::string() : ref.error().message));
            CHECK(ref->domain == g.domain);
            CHECK(ref->path == g.path);
            CHECK(ref->tag == g.tag);
            CHECK(ref->digest == g.digest);
            CHECK(ref->familiar_name() == g.familiar_name);
            CHECK(ref->familiar_string() == g.familiar_string);
            CHECK(ref->full_name() == g.full_name);
            // string() round-trips through the parser.
            auto again = parse_reference(ref->string());
            REQUIRE(again);
            CHECK(*again == *ref);
            auto familiar_again = parse_reference(ref->familiar_string());
            REQUIRE(familiar_again);
            CHECK(*familiar_again == *ref);
        }
    }

    TEST_CASE("bad references fail with Docker's messages") {
        const std::string lowercase = "invalid reference format: repository name must be lowercase";
        const std::string format = "invalid reference format";
        const std::vector<Bad> table = {
            {"", format},
            {"Busybox", lowercase},
            {"myorg/App", lowercase},
            {"Foo/bar", lowercase},  // an uppercase first component is not a domain
            {"example.com/Foo", lowercase},
            {"busybox:", format},
            {":tag", format},
            {"busybox@", format},
            {"/busybox", format},
            {"busybox/", format},
            {"a//b", format},
            {"a..b", format},
            {"-a", format},
            {"a-", format},
            {"a___b", format},
            {"busybox latest", format},
            {"busybox:bad!tag", format},
            {"busybox:.dot", format},
            {"busybox:" + std::string(129, 'x'), format},
            {"localhost:abc/x", format},
            {"exa_mple.com/x", format},
            {"busybox@sha256:abc", format},
            {"busybox@sha256:" + kHex.substr(0, 40), "invalid checksum digest length"},
            {"busybox@md5:" + kHex.substr(0, 32), "unsupported digest algorithm"},
            {"busybox@sha256:7CC4B5AEFD1D0CADF8D97D4350462BA51C694EBCA145B08D7D41B41ACC8DB5AA",
             "invalid checksum digest format"},
            {kHex, "invalid repository name (" + kHex + "), cannot specify 64-byte hexadecimal strings"},
            {"example.com/" + std::string(250, 'a'), "repository name must not be more than 255 characters"},
        };
        for (const auto& b : table) {
            CAPTURE(b.input);
            auto ref = parse_reference(b.input);
            REQUIRE_FALSE(ref);
            CHECK(ref.error().code == Errc::InvalidArgument);
            CHECK(ref.error().message == b.message);
        }
    }

    TEST_CASE("parse_reference_no_default keeps a missing tag missing") {
        auto ref = parse_reference_no_default("busybox");
        REQUIRE(ref);
        CHECK(ref->tag.empty());
        CHECK(ref->familiar_string() == "busybox");
        auto tagged = parse_reference_no_default("busybox:1");
        REQUIRE(tagged);
        CHECK(tagged->tag == "1");
        CHECK_FALSE(parse_reference_no_default("Busybox"));
    }

    TEST_CASE("registry host and tag_or_digest") {
        CHECK(parse_reference("busybox")->registry_host() == "registry-1.docker.io");
        CHECK(parse_reference("index.docker.io/x/y")->registry_host() == "registry-1.docker.io");
        CHECK(parse_reference("localhost:5000/x")->registry_host() == "localhost:5000");
        CHECK(parse_reference("busybox")->tag_or_digest() == "latest");
        CHECK(parse_reference("busybox:1@" + kDigest)->tag_or_digest() == kDigest);
        CHECK(parse_reference("busybox")->is_docker_hub());
        CHECK_FALSE(parse_reference("quay.io/x")->is_docker_hub());
    }

    TEST_CASE("make_repository from host and path") {
        auto hub = make_repository("registry-1.docker.io", "busybox");
        REQUIRE(hub);
        CHECK(hub->full_name() == "docker.io/library/busybox");
        auto local = make_repository("127.0.0.1:5000", "x/y");
        REQUIRE(local);
        CHECK(local->familiar_name() == "127.0.0.1:5000/x/y");
        CHECK_FALSE(make_repository("127.0.0.1:5000", "X"));
        CHECK_FALSE(make_repository("bad host", "x"));
    }

    TEST_CASE("tags, paths and domains") {
        CHECK(is_valid_tag("latest"));
        CHECK(is_valid_tag("v1.2.3-rc_1"));
        CHECK(is_valid_tag("_x"));
        CHECK(is_valid_tag(std::string(128, 'a')));
        CHECK_FALSE(is_valid_tag(""));
        CHECK_FALSE(is_valid_tag("-x"));
        CHECK_FALSE(is_valid_tag(".x"));
        CHECK_FALSE(is_valid_tag("a:b"));
        CHECK_FALSE(is_valid_tag(std::string(129, 'a')));
        CHECK(is_valid_repository_path("a/b-c/d__e"));
        CHECK_FALSE(is_valid_repository_path("a/B"));
        CHECK_FALSE(is_valid_repository_path(""));
        CHECK(is_valid_domain("localhost:5000"));
        CHECK(is_valid_domain("[2001:db8::1]:443"));
        CHECK(is_valid_domain("my-reg.example.com"));
        CHECK_FALSE(is_valid_domain("-bad.com"));
        CHECK_FALSE(is_valid_domain("host:"));
        CHECK_FALSE(is_valid_domain("[::1"));
    }
}
