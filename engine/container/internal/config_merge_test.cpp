#include <doctest/doctest.h>

#include "engine/container/internal/config_merge.hpp"
#include "engine/container/internal/etc_files.hpp"

using namespace ctl;
using namespace ctl::container::internal;

TEST_CASE("merge_config: request fields win, image fills defaults") {
    Json image = {{"Env", {"PATH=/bin", "A=image"}}, {"Cmd", {"sh"}}, {"WorkingDir", "/srv"},
                  {"Labels", {{"from", "image"}}}, {"ExposedPorts", {{"80/tcp", Json::object()}}}, {"User", "daemon"}};
    Json req = {{"Env", {"A=req", "B=2"}}, {"Labels", {{"x", "y"}}}, {"ExposedPorts", {{"443/tcp", Json::object()}}}};
    auto c = merge_config(image, req, "busybox");
    REQUIRE(c);
    CHECK((*c)["Env"] == Json({"PATH=/bin", "A=req", "B=2"}));
    CHECK((*c)["Cmd"] == Json({"sh"}));
    CHECK((*c)["WorkingDir"] == "/srv");
    CHECK((*c)["User"] == "daemon");
    CHECK((*c)["Labels"] == Json({{"from", "image"}, {"x", "y"}}));
    CHECK((*c)["ExposedPorts"].size() == 2);
    CHECK((*c)["Image"] == "busybox");
    CHECK((*c)["Entrypoint"].is_null());
}

TEST_CASE("merge_config: an Entrypoint in the request drops the image's Cmd") {
    Json image = {{"Cmd", {"sh"}}, {"Entrypoint", {"/init"}}};
    auto c = merge_config(image, {{"Entrypoint", {"echo"}}}, "img");
    REQUIRE(c);
    CHECK((*c)["Cmd"].is_null());
    CHECK((*c)["Entrypoint"] == Json({"echo"}));
    c = merge_config(image, {{"Cmd", {"x"}}}, "img");
    CHECK((*c)["Entrypoint"] == Json({"/init"}));
    CHECK((*c)["Cmd"] == Json({"x"}));
    CHECK_FALSE(merge_config(image, {{"Cmd", {1, 2}}}, "img"));
}

TEST_CASE("command_of: entrypoint + cmd, [\"\"] resets, nothing is an error") {
    std::string path;
    std::vector<std::string> args;
    REQUIRE(command_of({{"Entrypoint", {"echo", "a"}}, {"Cmd", {"b"}}}, path, args));
    CHECK(path == "echo");
    CHECK(args == std::vector<std::string>{"a", "b"});
    REQUIRE(command_of({{"Entrypoint", {""}}, {"Cmd", {"ls"}}}, path, args));
    CHECK(path == "ls");
    auto none = command_of({{"Entrypoint", nullptr}, {"Cmd", nullptr}}, path, args);
    REQUIRE_FALSE(none);
    CHECK(none.error().message == "No command specified");
}

TEST_CASE("parse_signal accepts Docker's spellings") {
    CHECK(*parse_signal("SIGTERM") == 15);
    CHECK(*parse_signal("term") == 15);
    CHECK(*parse_signal("9") == 9);
    CHECK(*parse_signal("SIGUSR1") == 10);
    CHECK_FALSE(parse_signal("SIGNOPE"));
    CHECK_FALSE(parse_signal("0"));
    CHECK_FALSE(parse_signal(""));
}

TEST_CASE("rfc3339_fixed always has nine fraction digits") {
    CHECK(rfc3339_fixed(1700000000000000000) == "2023-11-14T22:13:20.000000000Z");
    CHECK(rfc3339_fixed(1700000000123000000) == "2023-11-14T22:13:20.123000000Z");
}

TEST_CASE("resolv.conf for a container drops loopback resolvers") {
    std::string host = "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch example.com\noptions edns0\n";
    CHECK(container_resolv_conf(host, {}, {}, {}, false) ==
          "nameserver 10.0.0.2\nsearch example.com\noptions edns0\n");
    CHECK(container_resolv_conf("nameserver 127.0.0.1\n", {}, {}, {}, false) ==
          "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    CHECK(container_resolv_conf("nameserver 127.0.0.1\n", {}, {}, {}, true) == "nameserver 127.0.0.1\n");
    CHECK(container_resolv_conf(host, {"1.1.1.1"}, {"a.b"}, {}, false) ==
          "nameserver 1.1.1.1\nsearch a.b\noptions edns0\n");
}

TEST_CASE("parse_size") {
    CHECK(*parse_size("10m") == 10 * 1024 * 1024);
    CHECK(*parse_size("1g") == 1024LL * 1024 * 1024);
    CHECK(*parse_size("512k") == 512 * 1024);
    CHECK(*parse_size("100") == 100);
    CHECK(*parse_size("1.5MB") == 1572864);
    CHECK_FALSE(parse_size("ten"));
    CHECK_FALSE(parse_size("10x"));
}

#include "engine/container/internal/mounts.hpp"

TEST_CASE("parse_mounts: binds, mounts, tmpfs and anonymous volumes") {
    Json hc = {{"Binds", {"data:/data", "/host/dir:/ro:ro", "/h2:/b2"}},
               {"Mounts", {{{"Type", "tmpfs"}, {"Target", "/scratch"}, {"TmpfsOptions", {{"SizeBytes", 1048576}, {"Mode", 01777}}}},
                           {{"Type", "volume"}, {"Target", "/v"}, {"VolumeOptions", {{"NoCopy", true}}}}}},
               {"Tmpfs", {{"/run", "size=64m,ro"}}}};
    Json config = {{"Volumes", {{"/data", Json::object()}, {"/anon", Json::object()}}}};
    auto m = parse_mounts(hc, config);
    REQUIRE(m);
    REQUIRE(m->size() == 7);
    CHECK((*m)[0].type == "volume");
    CHECK((*m)[0].source == "data");
    CHECK((*m)[1].type == "bind");
    CHECK((*m)[1].read_only);
    CHECK((*m)[1].create_host_dir);
    CHECK((*m)[1].propagation == "rprivate");
    CHECK((*m)[3].tmpfs_options == std::vector<std::string>{"size=1048576", "mode=1777"});
    CHECK((*m)[4].no_copy);
    CHECK((*m)[5].destination == "/run");
    CHECK((*m)[5].read_only);
    CHECK((*m)[6].destination == "/anon");
    CHECK((*m)[6].source.empty());
}

TEST_CASE("parse_mounts refuses bad specs") {
    CHECK_FALSE(parse_mounts({{"Binds", {"rel/path:/x"}}}, Json::object()));
    CHECK_FALSE(parse_mounts({{"Binds", {"/a/../etc:/x"}}}, Json::object()));
    CHECK_FALSE(parse_mounts({{"Binds", {"v:/proc"}}}, Json::object()));
    CHECK_FALSE(parse_mounts({{"Binds", {"v:/sys/fs"}}}, Json::object()));
    CHECK_FALSE(parse_mounts({{"Binds", {"v:relative"}}}, Json::object()));
    CHECK_FALSE(parse_mounts({{"Binds", {"a:/x", "b:/x"}}}, Json::object()));
    CHECK_FALSE(parse_mounts({{"Mounts", {{{"Type", "bind"}, {"Target", "/x"}}}}}, Json::object()));
    CHECK_FALSE(parse_mounts({{"Mounts", {{{"Type", "weird"}, {"Target", "/x"}}}}}, Json::object()));
    CHECK(clean_path("/a/b/../c/") == "/a/c");
}
