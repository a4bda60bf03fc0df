// Unit tests of the spec builder: every Docker rule it implements, checked on the JSON it produces.
#include <doctest/doctest.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/container/spec/internal.hpp"
#include "engine/container/spec/oci_spec.hpp"

namespace fs = std::filesystem;
using namespace ctl;
using namespace ctl::container::spec;

namespace {

// A temp directory removed at scope end.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/ctl-spec-test-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    void write(const std::string& rel, const std::string& text) const {
        fs::create_directories(fs::path(path + rel).parent_path());
        std::ofstream(path + rel) << text;
    }
};

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment line\n"
    "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
    "bob:x:1001:1001::/home/bob:/bin/sh\n";
const char* kGroup =
    "root:x:0:\n"
    "alice:x:1000:\n"
    "bob:x:1001:\n"
    "wheel:x:10:alice,bob\n"
    "audio:x:29:alice\n"
    "staff:x:50:\n";

// A rootfs with passwd/group, and inputs for a plain `sh` container in it.
struct Fixture {
    TempDir root;
    SpecInputs in;
    Fixture() {
        root.write("/etc/passwd", kPasswd);
        root.write("/etc/group", kGroup);
        in.rootfs = root.path;
        in.config = {{"Cmd", {"sh"}}, {"Hostname", "abc123"}};
        in.host_config = Json::object();
        in.nofile_hard_limit = 20000;
        in.cgroup_v2_only = false;
    }
    Json spec() {
        auto s = build_spec(in);
        REQUIRE_MESSAGE(s.has_value(), (s ? "" : s.error().message));
        return *s;
    }
    std::string error() {
        auto s = build_spec(in);
        REQUIRE_FALSE(s.has_value());
        CHECK(s.error().code == Errc::InvalidArgument);
        return s.error().message;
    }
};

std::vector<std::string> strings(const Json& j) { return j.get<std::vector<std::string>>(); }

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

const Json* find_mount(const Json& spec, const std::string& dest) {
    for (const auto& m : spec["mounts"]) {
        if (m["destination"] == dest) return &m;
    }
    return nullptr;
}

std::vector<std::string> mount_order(const Json& spec) {
    std::vector<std::string> out;
    for (const auto& m : spec["mounts"]) out.push_back(m["destination"]);
    return out;
}

bool has_option(const Json& mount, const std::string& opt) { return contains(strings(mount["options"]), opt); }

std::vector<std::string> ns_types(const Json& spec) {
    std::vector<std::string> out;
    for (const auto& n : spec["linux"]["namespaces"]) out.push_back(n["type"]);
    return out;
}

std::vector<std::string> allowed_syscalls(const Json& seccomp) {
    std::vector<std::string> out;
    for (const auto& r : seccomp["syscalls"]) {
        if (r["action"] != "SCMP_ACT_ALLOW" || r.contains("args")) continue;
        for (const auto& n : r["names"]) out.push_back(n);
    }
    return out;
}

Result<std::vector<std::string>> args_of(Json image, Json request) { return command_args(image, request); }

}  // namespace

TEST_CASE("Entrypoint and Cmd follow Docker's merge") {
    Json image = {{"Entrypoint", {"/ep"}}, {"Cmd", {"a"}}};
    using V = std::vector<std::string>;
    CHECK(*args_of(image, Json::object()) == V{"/ep", "a"});
    CHECK(*args_of(image, {{"Cmd", {"b", "c"}}}) == V{"/ep", "b", "c"});
    // A request Entrypoint replaces the image's and drops the image's Cmd...
    CHECK(*args_of(image, {{"Entrypoint", {"/x"}}}) == V{"/x"});
    // ...unless the request gives its own Cmd.
    CHECK(*args_of(image, {{"Entrypoint", {"/x"}}, {"Cmd", {"y"}}}) == V{"/x", "y"});
    // A single string is a one-element list (Go's strslice).
    CHECK(*args_of(image, {{"Entrypoint", "/bin/sh"}}) == V{"/bin/sh"});
    // --entrypoint "" resets the entrypoint and leaves no image Cmd.
    CHECK(*args_of(image, {{"Entrypoint", {""}}, {"Cmd", {"sh"}}}) == V{"sh"});
    CHECK(*args_of(image, {{"Entrypoint", ""}, {"Cmd", {"sh"}}}) == V{"sh"});
    auto reset = args_of(image, {{"Entrypoint", {""}}});
    REQUIRE_FALSE(reset.has_value());
    CHECK(reset.error().message == "No command specified");
    // An empty list given is no entrypoint, and the image's Cmd applies.
    CHECK(*args_of(image, {{"Entrypoint", Json::array()}}) == V{"a"});
    // An empty Cmd counts as none; null counts as absent.
    CHECK(*args_of(image, {{"Cmd", Json::array()}}) == V{"/ep", "a"});
    CHECK(*args_of(image, {{"Cmd", nullptr}, {"Entrypoint", nullptr}}) == V{"/ep", "a"});
    CHECK(*args_of({{"Cmd", {"sh"}}}, Json::object()) == V{"sh"});
    CHECK(*args_of(Json::object(), {{"Cmd", {"echo", "hi"}}}) == V{"echo", "hi"});
    auto none = args_of(Json::object(), Json::object());
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error().code == Errc::InvalidArgument);
    CHECK(none.error().message == "No command specified");
    CHECK_FALSE(args_of(Json::object(), {{"Cmd", 5}}).has_value());
}

TEST_CASE("merge_env replaces by key, appends new keys and unsets bare names") {
    using V = std::vector<std::string>;
    CHECK(merge_env({"A=1", "B=2"}, {"B=3", "C=4"}) == V{"A=1", "B=3", "C=4"});
    CHECK(merge_env({"A=1", "B=2"}, {"A"}) == V{"B=2"});
    CHECK(merge_env({"A=1"}, {"A", "A=5"}) == V{"A=5"});
    CHECK(merge_env({"A=x=y"}, {}) == V{"A=x=y"});
    CHECK(merge_env({}, {"EMPTY="}) == V{"EMPTY="});
}

TEST_CASE("process environment: defaults, image, request, HOME") {
    Fixture f;
    f.in.image_config = {{"Env", {"PATH=/image/bin", "IMG=1", "SHARED=image"}}};
    f.in.config["Env"] = {"SHARED=request", "REQ=2"};
    auto env = strings(f.spec()["process"]["env"]);
    CHECK(env == std::vector<std::string>{"PATH=/image/bin", "HOSTNAME=abc123", "IMG=1", "SHARED=request", "REQ=2",
                                          "HOME=/root"});

    Fixture g;
    g.in.config["Tty"] = true;
    g.in.config["Env"] = {"HOME=/custom"};
    g.in.config["User"] = "alice";
    auto env2 = strings(g.spec()["process"]["env"]);
    CHECK(env2[0] == "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    CHECK(contains(env2, "TERM=xterm"));
    CHECK(contains(env2, "HOME=/custom"));
    CHECK_FALSE(contains(env2, "HOME=/home/alice"));

    Fixture h;
    h.in.config["Env"] = {"=oops"};
    CHECK(h.error() == "invalid environment variable: =oops");
}

TEST_CASE("process: terminal, cwd, hostname, domainname, oom score, no-new-privileges") {
    Fixture f;
    Json s = f.spec();
    CHECK(s["ociVersion"] == "1.0.2");
    CHECK(s["process"]["terminal"] == false);
    CHECK(s["process"]["cwd"] == "/");
    CHECK(s["process"]["noNewPrivileges"] == false);
    CHECK_FALSE(s["process"].contains("apparmorProfile"));
    CHECK_FALSE(s["process"].contains("oomScoreAdj"));
    CHECK(s["hostname"] == "abc123");
    CHECK(s["root"] == Json{{"path", f.root.path}, {"readonly", false}});

    f.in.config["Tty"] = true;
    f.in.config["Domainname"] = "example.org";
    f.in.image_config["WorkingDir"] = "/srv//app/";
    f.in.host_config["OomScoreAdj"] = 500;
    f.in.host_config["SecurityOpt"] = {"no-new-privileges"};
    s = f.spec();
    CHECK(s["process"]["terminal"] == true);
    CHECK(s["process"]["cwd"] == "/srv/app");
    CHECK(s["process"]["oomScoreAdj"] == 500);
    CHECK(s["process"]["noNewPrivileges"] == true);
    CHECK(s["linux"]["sysctl"]["kernel.domainname"] == "example.org");

    f.in.config["WorkingDir"] = "relative";
    CHECK(f.error() == "the working directory 'relative' is invalid, it needs to be an absolute path");
    f.in.config.erase("WorkingDir");
    f.in.host_config["OomScoreAdj"] = 2000;
    CHECK(f.error().find("range for oom score adj") != std::string::npos);
}

TEST_CASE("Init wraps the command in /sbin/docker-init") {
    Fixture f;
    f.in.config["Cmd"] = {"sleep", "1"};
    f.in.host_config["Init"] = true;
    CHECK(f.error().find("init binary") != std::string::npos);
    f.in.init_path = "/usr/bin/docker-init";
    Json s = f.spec();
    CHECK(strings(s["process"]["args"]) == std::vector<std::string>{"/sbin/docker-init", "--", "sleep", "1"});
    const Json* m = find_mount(s, "/sbin/docker-init");
    REQUIRE(m);
    CHECK((*m)["source"] == "/usr/bin/docker-init");
    CHECK(has_option(*m, "ro"));
    // Not in a shared PID namespace: there is an init already.
    f.in.pid_ns = "host";
    s = f.spec();
    CHECK(s["process"]["args"][0] == "sleep");
}

TEST_CASE("resolve_user: names, ids, groups, supplementary groups") {
    TempDir root;
    root.write("/etc/passwd", kPasswd);
    root.write("/etc/group", kGroup);
    auto get = [&](const std::string& spec) {
        auto u = resolve_user(root.path, spec);
        REQUIRE_MESSAGE(u.has_value(), (u ? "" : u.error().message));
        return *u;
    };
    auto fail = [&](const std::string& spec) {
        auto u = resolve_user(root.path, spec);
        REQUIRE_FALSE(u.has_value());
        CHECK(u.error().code == Errc::InvalidArgument);
        return u.error().message;
    };
    using G = std::vector<uint32_t>;
    auto r = get("");
    CHECK(r.uid == 0);
    CHECK(r.gid == 0);
    CHECK(r.home == "/root");
    CHECK(r.additional_gids.empty());

    auto a = get("alice");
    CHECK(a.uid == 1000);
    CHECK(a.gid == 1000);
    CHECK(a.home == "/home/alice");
    CHECK(a.additional_gids == G{10, 29});
    CHECK(get("1000").additional_gids == G{10, 29});  // a uid with an entry is that user

    auto explicit_group = get("alice:staff");
    CHECK(explicit_group.gid == 50);
    CHECK(explicit_group.additional_gids.empty());  // runc: no supplementary groups then
    CHECK(get("1000:50").gid == 50);
    CHECK(get("bob:4242").gid == 4242);  // numeric group without entry
    CHECK(get("bob:wheel").gid == 10);

    auto unknown_uid = get("4242");
    CHECK(unknown_uid.uid == 4242);
    CHECK(unknown_uid.gid == 0);
    CHECK(unknown_uid.home == "/");
    auto both = get("4242:4343");
    CHECK(both.uid == 4242);
    CHECK(both.gid == 4343);

    CHECK(fail("nobody") == "unable to find user nobody: no matching entries in passwd file");
    CHECK(fail("alice:nogroup") == "unable to find group nogroup: no matching entries in group file");
    CHECK(fail("99999999999").find("must be in range") != std::string::npos);
}

TEST_CASE("resolve_user never reads files outside the rootfs") {
    TempDir outside;
    outside.write("/passwd", "evil:x:77:77::/evil:/bin/sh\nroot:x:0:0::/host-root:/bin/sh\n");
    outside.write("/group", "evilgroup:x:77:root\n");
    REQUIRE(fs::exists(outside.path + "/passwd"));

    SUBCASE("absolute symlink") {
        TempDir root;
        fs::create_directories(root.path + "/etc");
        fs::create_symlink(outside.path + "/passwd", root.path + "/etc/passwd");
        fs::create_symlink(outside.path + "/group", root.path + "/etc/group");
        auto u = resolve_user(root.path, "evil");
        REQUIRE_FALSE(u.has_value());
        CHECK(u.error().message == "unable to find user evil: no matching entries in passwd file");
        auto r = resolve_user(root.path, "");
        REQUIRE(r.has_value());
        CHECK(r->home == "/");  // the host's "/host-root" entry was not seen
        CHECK(r->additional_gids.empty());
    }
    SUBCASE("relative symlink climbing out") {
        TempDir root;
        fs::create_directories(root.path + "/etc");
        fs::create_symlink("../../../../../../../../.." + outside.path + "/passwd", root.path + "/etc/passwd");
        CHECK_FALSE(resolve_user(root.path, "evil").has_value());
    }
    SUBCASE("symlinked /etc directory") {
        TempDir root;
        fs::create_symlink(outside.path, root.path + "/etc");
        CHECK_FALSE(resolve_user(root.path, "evil").has_value());
    }
    SUBCASE("a symlink that stays inside is followed") {
        TempDir root;
        root.write("/data/passwd", "svc:x:300:300::/srv:/bin/sh\n");
        fs::create_directories(root.path + "/etc");
        fs::create_symlink("/data/passwd", root.path + "/etc/passwd");
        auto u = resolve_user(root.path, "svc");
        REQUIRE(u.has_value());
        CHECK(u->uid == 300);
        CHECK(u->home == "/srv");
    }
    SUBCASE("a FIFO is refused rather than blocking") {
        TempDir root;
        fs::create_directories(root.path + "/etc");
        REQUIRE(::mkfifo((root.path + "/etc/passwd").c_str(), 0644) == 0);
        auto u = resolve_user(root.path, "someone");
        REQUIRE_FALSE(u.has_value());
        CHECK(u.error().message.find("not a regular file") != std::string::npos);
    }
    SUBCASE("no passwd at all: numeric users still work") {
        TempDir root;
        auto u = resolve_user(root.path, "123:456");
        REQUIRE(u.has_value());
        CHECK(u->uid == 123);
        CHECK(u->gid == 456);
        CHECK_FALSE(resolve_user(root.path, "named").has_value());
    }
}

TEST_CASE("user in the spec: uid, gid, additionalGids, HOME") {
    Fixture f;
    f.in.image_config["User"] = "bob";
    Json s = f.spec();
    CHECK(s["process"]["user"] == Json{{"uid", 1001}, {"gid", 1001}, {"additionalGids", {1001, 10}}});
    CHECK(contains(strings(s["process"]["env"]), "HOME=/home/bob"));
    f.in.config["User"] = "alice";  // the request wins over the image
    CHECK(f.spec()["process"]["user"]["uid"] == 1000);
    f.in.host_config["GroupAdd"] = {"staff", "777"};
    CHECK(f.spec()["process"]["user"]["additionalGids"] == Json::array({1000, 10, 29, 50, 777}));
    f.in.host_config["GroupAdd"] = {"nosuchgroup"};
    CHECK(f.error() == "Unable to find group nosuchgroup");
    f.in.host_config.erase("GroupAdd");
    f.in.config["User"] = "ghost";
    CHECK(f.error() == "unable to find user ghost: no matching entries in passwd file");
}

TEST_CASE("capabilities: defaults, add, drop, ALL, privileged, unknown") {
    auto caps = [](std::vector<std::string> add, std::vector<std::string> drop, bool privileged = false) {
        auto c = effective_capabilities(add, drop, privileged);
        REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error().message));
        return *c;
    };
    auto defaults = caps({}, {});
    CHECK(defaults.size() == 14);
    for (const char* c : {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                          "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                          "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}) {
        CHECK(contains(defaults, c));
    }
    auto added = caps({"NET_ADMIN", "cap_sys_admin", "Sys_Time", "CHOWN"}, {});
    CHECK(added.size() == 17);
    CHECK(contains(added, "CAP_NET_ADMIN"));
    CHECK(contains(added, "CAP_SYS_ADMIN"));
    CHECK(contains(added, "CAP_SYS_TIME"));
    auto dropped = caps({}, {"chown", "CAP_KILL", "net_raw"});
    CHECK(dropped.size() == 11);
    CHECK_FALSE(contains(dropped, "CAP_CHOWN"));
    CHECK_FALSE(contains(dropped, "CAP_KILL"));
    auto readded = caps({"KILL"}, {"KILL"});  // adds win over drops
    std::sort(readded.begin(), readded.end());
    std::sort(defaults.begin(), defaults.end());
    CHECK(readded == defaults);
    auto all_but = caps({"ALL"}, {"MKNOD"});
    CHECK(all_but.size() == internal::all_capabilities().size() - 1);
    CHECK_FALSE(contains(all_but, "CAP_MKNOD"));
    CHECK(caps({"net_bind_service"}, {"all"}) == std::vector<std::string>{"CAP_NET_BIND_SERVICE"});
    CHECK(caps({}, {}, true) == internal::all_capabilities());
    CHECK(contains(internal::all_capabilities(), "CAP_SYS_ADMIN"));

    auto bad = effective_capabilities({"FOO"}, {}, false);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().message == "unknown capability: \"CAP_FOO\"");

    Fixture f;
    f.in.host_config["CapDrop"] = {"bogus"};
    CHECK(f.error() == "unknown capability: \"CAP_BOGUS\"");

    // A capability ctld does not hold itself cannot be handed out (nor is it in "all").
    int missing = -1;
    for (int cap = 0; cap < 41; ++cap) {
        if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 0) {
            missing = cap;
            break;
        }
    }
    if (missing < 0) {
        MESSAGE("ctld holds every capability here: the unavailable-capability case is not exercised");
    } else {
        CAPTURE(missing);
        CHECK(internal::all_capabilities().size() < 41);
        f.in.host_config.erase("CapDrop");
        f.in.host_config["CapAdd"] = {"ALL"};
        CHECK(f.spec()["process"]["capabilities"]["bounding"].size() == internal::all_capabilities().size());
        std::string name = internal::capability_name(missing);
        auto bad = effective_capabilities({name}, {}, false);
        REQUIRE_FALSE(bad.has_value());
        CHECK(bad.error().message == "capability " + name + " cannot be granted: ctld itself runs without it");
    }
}

TEST_CASE("capabilities in the spec depend on the user") {
    Fixture f;
    f.in.host_config["CapAdd"] = {"SYS_PTRACE"};
    Json c = f.spec()["process"]["capabilities"];
    CHECK(c["bounding"].size() == 15);
    CHECK(c["effective"] == c["bounding"]);
    CHECK(c["permitted"] == c["bounding"]);
    CHECK_FALSE(c.contains("inheritable"));  // CVE-2022-24769
    CHECK_FALSE(c.contains("ambient"));
    f.in.config["User"] = "alice";
    c = f.spec()["process"]["capabilities"];
    CHECK(c["bounding"].size() == 15);
    CHECK_FALSE(c.contains("effective"));  // execve gives a non-root user none either
}

TEST_CASE("rlimits: default nofile, requested ulimits, clamping to the daemon's limit") {
    Fixture f;
    Json r = f.spec()["process"]["rlimits"];
    CHECK(r == Json::array({{{"type", "RLIMIT_NOFILE"}, {"soft", 20000}, {"hard", 20000}}}));
    f.in.nofile_hard_limit = 4000000;
    CHECK(f.spec()["process"]["rlimits"][0]["hard"] == 1048576);

    f.in.nofile_hard_limit = 20000;
    f.in.host_config["Ulimits"] = {{{"Name", "nofile"}, {"Soft", 1024}, {"Hard", 4096}},
                                   {{"Name", "fsize"}, {"Soft", -1}, {"Hard", -1}},
                                   {{"Name", "CORE"}, {"Soft", 0}, {"Hard", 0}}};
    r = f.spec()["process"]["rlimits"];
    REQUIRE(r.size() == 3);
    CHECK(r[0] == Json{{"type", "RLIMIT_NOFILE"}, {"soft", 1024}, {"hard", 4096}});
    CHECK(r[1] == Json{{"type", "RLIMIT_FSIZE"}, {"soft", UINT64_MAX}, {"hard", UINT64_MAX}});
    CHECK(r[2]["type"] == "RLIMIT_CORE");

    // Other hard limits above ctld's own can only be granted with CAP_SYS_RESOURCE.
    struct rlimit own{};
    REQUIRE(::getrlimit(RLIMIT_MEMLOCK, &own) == 0);
    if (own.rlim_max != RLIM_INFINITY) {
        int64_t above = static_cast<int64_t>(own.rlim_max) + 4096;
        f.in.host_config["Ulimits"] = {{{"Name", "memlock"}, {"Soft", above}, {"Hard", above}}};
        if (internal::own_effective_capability(24)) {
            CHECK(f.spec()["process"]["rlimits"][1]["hard"] == above);
        } else {
            CHECK(f.error().find("cannot raise (no CAP_SYS_RESOURCE)") != std::string::npos);
        }
    }

    f.in.host_config["Ulimits"] = {{{"Name", "nofile"}, {"Soft", 1024}, {"Hard", 30000}}};
    std::string e = f.error();
    CHECK(e.find("nofile") != std::string::npos);
    CHECK(e.find("30000") != std::string::npos);
    CHECK(e.find("20000") != std::string::npos);
    f.in.host_config["Ulimits"] = {{{"Name", "nofile"}, {"Soft", -1}, {"Hard", -1}}};
    CHECK(f.error().find("unlimited") != std::string::npos);
    f.in.host_config["Ulimits"] = {{{"Name", "nproc"}, {"Soft", 10}, {"Hard", 5}}};
    CHECK(f.error() == "ulimit soft limit must be less than or equal to hard limit: 10 > 5");
    f.in.host_config["Ulimits"] = {{{"Name", "foo"}, {"Soft", 1}, {"Hard", 1}}};
    CHECK(f.error() == "invalid ulimit type: foo");
}

TEST_CASE("resources: memory") {
    Fixture f;
    CHECK_FALSE(f.spec()["linux"]["resources"].contains("memory"));
    f.in.host_config["Memory"] = 64 << 20;
    CHECK(f.spec()["linux"]["resources"]["memory"] == Json{{"limit", 64 << 20}, {"swap", 128 << 20}});
    f.in.host_config["MemorySwap"] = -1;
    f.in.host_config["MemoryReservation"] = 32 << 20;
    f.in.host_config["MemorySwappiness"] = 10;
    f.in.host_config["OomKillDisable"] = true;
    CHECK(f.spec()["linux"]["resources"]["memory"] == Json{{"limit", 64 << 20},
                                                           {"swap", -1},
                                                           {"reservation", 32 << 20},
                                                           {"swappiness", 10},
                                                           {"disableOOMKiller", true}});
    f.in.host_config["MemorySwappiness"] = -1;  // "not set"
    CHECK_FALSE(f.spec()["linux"]["resources"]["memory"].contains("swappiness"));
    f.in.host_config["MemorySwap"] = 32 << 20;
    CHECK(f.error() == "Minimum memoryswap limit should be larger than memory limit, see usage");
    f.in.host_config["MemorySwap"] = 0;
    f.in.host_config["Memory"] = 1 << 20;
    f.in.host_config["MemoryReservation"] = 0;
    CHECK(f.error() == "Minimum memory limit allowed is 6MB");
    f.in.host_config["Memory"] = 0;
    f.in.host_config["MemorySwap"] = 100 << 20;
    CHECK(f.error() == "You should always set the Memory limit when using Memoryswap limit, see usage");
    f.in.host_config["MemorySwap"] = 0;
    f.in.host_config["MemorySwappiness"] = 101;
    CHECK(f.error() == "Invalid value: 101, valid memory swappiness range is 0-100");
}

TEST_CASE("resources: cpu and pids") {
    Fixture f;
    f.in.host_config["NanoCpus"] = 1500000000;
    f.in.host_config["CpuShares"] = 512;
    f.in.host_config["CpusetCpus"] = "0";
    f.in.host_config["CpusetMems"] = "0";
    f.in.host_config["PidsLimit"] = 100;
    Json r = f.spec()["linux"]["resources"];
    CHECK(r["cpu"] == Json{{"shares", 512}, {"period", 100000}, {"quota", 150000}, {"cpus", "0"}, {"mems", "0"}});
    CHECK(r["pids"] == Json{{"limit", 100}});
    for (int unlimited : {0, -1}) {
        f.in.host_config["PidsLimit"] = unlimited;
        CHECK_FALSE(f.spec()["linux"]["resources"].contains("pids"));
    }

    f.in.host_config["CpuQuota"] = 50000;
    CHECK(f.error() == "Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    f.in.host_config.erase("NanoCpus");
    f.in.host_config["CpuPeriod"] = 200000;
    r = f.spec()["linux"]["resources"];
    CHECK(r["cpu"]["quota"] == 50000);
    CHECK(r["cpu"]["period"] == 200000);
    f.in.host_config["CpuPeriod"] = 10;
    CHECK(f.error().find("CPU cfs period") != std::string::npos);
    f.in.host_config.erase("CpuPeriod");
    f.in.host_config.erase("CpuQuota");
    f.in.host_config["NanoCpus"] = int64_t{1000} * 1000000000;
    CHECK(f.error().find("Range of CPUs is from 0.01") != std::string::npos);
    f.in.host_config.erase("NanoCpus");
    f.in.host_config["CpusetCpus"] = "0-4095";
    CHECK(f.error().find("Requested CPUs are not available - requested 0-4095") != std::string::npos);
    f.in.host_config["CpusetCpus"] = "zero";
    CHECK(f.error() == "Invalid value zero for cpuset cpus.");
}

TEST_CASE("resources: device cgroup rules and devices") {
    Fixture f;
    Json rules = f.spec()["linux"]["resources"]["devices"];
    REQUIRE(rules.size() >= 10);
    CHECK(rules[0] == Json{{"allow", false}, {"access", "rwm"}});  // deny everything first
    auto allowed = [&](const Json& rs, const char* type, int major, int minor) {
        for (const auto& r : rs) {
            if (r["allow"] == true && r.value("type", "") == type && r.value("major", -1) == major &&
                r.value("minor", -1) == minor && r["access"] == "rwm") {
                return true;
            }
        }
        return false;
    };
    CHECK(allowed(rules, "c", 1, 3));    // null
    CHECK(allowed(rules, "c", 1, 5));    // zero
    CHECK(allowed(rules, "c", 1, 7));    // full
    CHECK(allowed(rules, "c", 1, 8));    // random
    CHECK(allowed(rules, "c", 1, 9));    // urandom
    CHECK(allowed(rules, "c", 5, 0));    // tty
    CHECK(allowed(rules, "c", 5, 1));    // console
    CHECK(allowed(rules, "c", 5, 2));    // ptmx
    CHECK(allowed(rules, "c", 136, -1)); // pts
    CHECK(std::count(rules.begin(), rules.end(), Json{{"allow", true}, {"type", "c"}, {"access", "m"}}) == 1);
    CHECK(std::count(rules.begin(), rules.end(), Json{{"allow", true}, {"type", "b"}, {"access", "m"}}) == 1);
    CHECK_FALSE(f.spec()["linux"].contains("devices"));

    f.in.host_config["DeviceCgroupRules"] = {"c 42:* rmw"};
    f.in.host_config["Devices"] = {{{"PathOnHost", "/dev/null"}, {"PathInContainer", "/dev/mynull"},
                                    {"CgroupPermissions", "rw"}}};
    Json s = f.spec();
    rules = s["linux"]["resources"]["devices"];
    CHECK(std::count(rules.begin(), rules.end(), Json{{"allow", true}, {"type", "c"}, {"major", 42}, {"access", "rmw"}}) == 1);
    CHECK(std::count(rules.begin(), rules.end(),
                     Json{{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"access", "rw"}}) == 1);
    REQUIRE(s["linux"]["devices"].size() == 1);
    CHECK(s["linux"]["devices"][0]["path"] == "/dev/mynull");
    CHECK(s["linux"]["devices"][0]["type"] == "c");
    CHECK(s["linux"]["devices"][0]["major"] == 1);
    CHECK(s["linux"]["devices"][0]["minor"] == 3);

    f.in.host_config["DeviceCgroupRules"] = {"x 1:2 rwm"};
    CHECK(f.error() == "invalid device cgroup rule format: 'x 1:2 rwm'");
    f.in.host_config.erase("DeviceCgroupRules");
    f.in.host_config["Devices"] = {{{"PathOnHost", "/dev/does-not-exist"}}};
    CHECK(f.error().find("error gathering device information while adding custom device \"/dev/does-not-exist\"") !=
          std::string::npos);
}

TEST_CASE("privileged: all capabilities, no masks, no seccomp, every device") {
    Fixture f;
    f.in.host_config["Privileged"] = true;
    f.in.host_config["CapDrop"] = {"ALL"};  // ignored, like Docker
    Json s = f.spec();
    CHECK(strings(s["process"]["capabilities"]["bounding"]) == internal::all_capabilities());
    CHECK(s["linux"]["maskedPaths"].empty());
    CHECK(s["linux"]["readonlyPaths"].empty());
    CHECK_FALSE(s["linux"].contains("seccomp"));
    CHECK(s["linux"]["resources"]["devices"] == Json::array({{{"allow", true}, {"access", "rwm"}}}));
    bool has_null = false;
    for (const auto& d : s["linux"]["devices"]) has_null = has_null || d["path"] == "/dev/null";
    CHECK(has_null);
    CHECK_FALSE(has_option(*find_mount(s, "/sys"), "ro"));
    CHECK_FALSE(has_option(*find_mount(s, "/sys/fs/cgroup"), "ro"));
}

TEST_CASE("masked and read-only paths") {
    Fixture f;
    Json s = f.spec();
    auto masked = strings(s["linux"]["maskedPaths"]);
    for (const char* p : {"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"}) {
        CHECK(contains(masked, p));
    }
    CHECK(strings(s["linux"]["readonlyPaths"]) ==
          std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"});

    f.in.host_config["MaskedPaths"] = Json::array();
    f.in.host_config["ReadonlyPaths"] = {"/proc/sys"};
    s = f.spec();
    CHECK(s["linux"]["maskedPaths"].empty());
    CHECK(strings(s["linux"]["readonlyPaths"]) == std::vector<std::string>{"/proc/sys"});

    Fixture g;
    g.in.host_config["SecurityOpt"] = {"systempaths=unconfined"};
    s = g.spec();
    CHECK(s["linux"]["maskedPaths"].empty());
    CHECK(s["linux"]["readonlyPaths"].empty());
}

TEST_CASE("mounts: Docker's defaults, /etc files, user mounts parents first") {
    Fixture f;
    f.in.hostname_path = "/run/c/hostname";
    f.in.hosts_path = "/run/c/hosts";
    f.in.resolv_conf_path = "/run/c/resolv.conf";
    f.in.mounts = {
        {"/data/sub/deeper", "bind", "/host/c", {"rbind", "rprivate"}},
        {"/data/", "bind", "/host/a", {"rbind", "ro", "rprivate"}},
        {"/data/sub", "tmpfs", "tmpfs", {"nosuid", "size=1m"}},
        {"/var/lib", "bind", "/host/b", {"rbind"}},
    };
    Json s = f.spec();
    CHECK(mount_order(s) == std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
                                                     "/sys/fs/cgroup", "/data", "/etc/hostname", "/etc/hosts",
                                                     "/etc/resolv.conf", "/data/sub", "/var/lib", "/data/sub/deeper"});
    CHECK(*find_mount(s, "/proc") == Json{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"},
                                          {"options", {"nosuid", "noexec", "nodev"}}});
    CHECK(strings((*find_mount(s, "/dev/pts"))["options"]) ==
          std::vector<std::string>{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"});
    CHECK(has_option(*find_mount(s, "/dev/shm"), "size=67108864"));
    CHECK((*find_mount(s, "/dev"))["type"] == "tmpfs");
    CHECK((*find_mount(s, "/dev/mqueue"))["type"] == "mqueue");
    CHECK((*find_mount(s, "/sys"))["type"] == "sysfs");
    CHECK(has_option(*find_mount(s, "/sys"), "ro"));
    CHECK((*find_mount(s, "/sys/fs/cgroup"))["type"] == "cgroup");
    CHECK(has_option(*find_mount(s, "/sys/fs/cgroup"), "ro"));
    CHECK(*find_mount(s, "/etc/hosts") == Json{{"destination", "/etc/hosts"}, {"type", "bind"}, {"source", "/run/c/hosts"},
                                               {"options", {"rbind", "rprivate"}}});
    CHECK((*find_mount(s, "/data"))["source"] == "/host/a");

    SUBCASE("read-only rootfs") {
        f.in.host_config["ReadonlyRootfs"] = true;
        s = f.spec();
        CHECK(s["root"]["readonly"] == true);
        CHECK(strings((*find_mount(s, "/etc/resolv.conf"))["options"]) ==
              std::vector<std::string>{"rbind", "ro", "rprivate"});
        CHECK_FALSE(has_option(*find_mount(s, "/dev/shm"), "ro"));
        CHECK_FALSE(has_option(*find_mount(s, "/var/lib"), "ro"));  // user mounts keep their mode
    }
    SUBCASE("user mounts replace defaults") {
        f.in.mounts = {{"/dev/shm", "tmpfs", "tmpfs", {"size=1g"}}, {"/etc/hosts", "bind", "/mine", {"rbind"}}};
        s = f.spec();
        CHECK((*find_mount(s, "/dev/shm"))["options"] == Json::array({"size=1g"}));
        CHECK((*find_mount(s, "/etc/hosts"))["source"] == "/mine");
        auto order = mount_order(s);
        CHECK(std::count(order.begin(), order.end(), "/dev/shm") == 1);
        CHECK(std::count(order.begin(), order.end(), "/etc/hosts") == 1);
        f.in.mounts = {{"/dev", "bind", "/dev", {"rbind"}}};
        order = mount_order(f.spec());
        CHECK(std::none_of(order.begin(), order.end(), [](const std::string& d) { return d.rfind("/dev/", 0) == 0; }));
    }
    SUBCASE("shm size") {
        f.in.host_config["ShmSize"] = 1 << 20;
        CHECK(has_option(*find_mount(f.spec(), "/dev/shm"), "size=1048576"));
    }
    SUBCASE("bad destinations") {
        f.in.mounts = {{"relative", "bind", "/x", {"rbind"}}};
        CHECK(f.error().find("must be absolute") != std::string::npos);
        f.in.mounts = {{"/a/../../etc", "bind", "/x", {"rbind"}}};
        CHECK(f.error().find("..") != std::string::npos);
    }
    SUBCASE("propagation of shared binds") {
        f.in.mounts = {{"/shared", "bind", "/host/shared", {"rbind", "rshared"}}};
        CHECK(f.spec()["linux"]["rootfsPropagation"] == "shared");
    }
}

TEST_CASE("namespaces") {
    Fixture f;
    Json s = f.spec();
    CHECK(ns_types(s) == std::vector<std::string>{"pid", "network", "ipc", "uts", "mount"});
    for (const auto& n : s["linux"]["namespaces"]) CHECK_FALSE(n.contains("path"));
    f.in.cgroup_v2_only = true;
    CHECK(ns_types(f.spec()).back() == "cgroup");
    f.in.host_config["CgroupnsMode"] = "host";
    CHECK(ns_types(f.spec()).back() == "mount");
    f.in.cgroup_v2_only = false;
    f.in.host_config["CgroupnsMode"] = "private";
    CHECK(ns_types(f.spec()).back() == "cgroup");
    f.in.host_config.erase("CgroupnsMode");

    f.in.netns = "/run/ctld/netns/abc";
    f.in.ipc_ns = "/proc/42/ns/ipc";
    f.in.pid_ns = "host";
    s = f.spec();
    CHECK(ns_types(s) == std::vector<std::string>{"network", "ipc", "uts", "mount"});
    CHECK(s["linux"]["namespaces"][0]["path"] == "/run/ctld/netns/abc");
    CHECK(s["linux"]["namespaces"][1]["path"] == "/proc/42/ns/ipc");
    CHECK(s["linux"]["sysctl"].contains("net.ipv4.ping_group_range"));  // the container's own netns

    f.in.netns = "host";
    f.in.ipc_ns = "host";
    s = f.spec();
    CHECK(ns_types(s) == std::vector<std::string>{"uts", "mount"});
    CHECK((*find_mount(s, "/sys"))["type"] == "bind");
    CHECK(has_option(*find_mount(s, "/sys"), "ro"));
    CHECK((*find_mount(s, "/dev/shm"))["source"] == "/dev/shm");
    CHECK_FALSE(s["linux"]["sysctl"].contains("net.ipv4.ping_group_range"));

    f.in.host_config["UTSMode"] = "host";
    s = f.spec();
    CHECK(ns_types(s) == std::vector<std::string>{"mount"});
    CHECK_FALSE(s.contains("hostname"));

    f.in.netns = "relative/path";
    CHECK(f.error().find("invalid network namespace path") != std::string::npos);
}

TEST_CASE("sysctls: namespaced ones only") {
    Fixture f;
    Json s = f.spec();
    CHECK(s["linux"]["sysctl"] == Json{{"net.ipv4.ping_group_range", "0 2147483647"},
                                       {"net.ipv4.ip_unprivileged_port_start", "0"}});
    f.in.host_config["Sysctls"] = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmax", "1000000"},
                                   {"fs.mqueue.msg_max", "20"}, {"net.ipv4.ping_group_range", "1 1"}};
    s = f.spec();
    CHECK(s["linux"]["sysctl"]["net.ipv4.ip_forward"] == "1");
    CHECK(s["linux"]["sysctl"]["kernel.shmmax"] == "1000000");
    CHECK(s["linux"]["sysctl"]["fs.mqueue.msg_max"] == "20");
    CHECK(s["linux"]["sysctl"]["net.ipv4.ping_group_range"] == "1 1");  // the request wins

    f.in.host_config["Sysctls"] = {{"kernel.panic", "1"}};
    CHECK(f.error().find("kernel.panic") != std::string::npos);
    f.in.host_config["Sysctls"] = {{"vm.swappiness", "1"}};
    CHECK(f.error().find("vm.swappiness") != std::string::npos);
    f.in.host_config["Sysctls"] = {{"kernel.domainname", "x"}};
    CHECK(f.error().find("Domainname") != std::string::npos);
    f.in.host_config["Sysctls"] = {{"net.ipv4.ip_forward", "1"}};
    f.in.netns = "host";
    CHECK(f.error().find("net.ipv4.ip_forward") != std::string::npos);
    f.in.netns = "";
    f.in.host_config["NetworkMode"] = "container:abc";
    CHECK(f.error().find("net.ipv4.ip_forward") != std::string::npos);
    f.in.host_config["NetworkMode"] = "default";
    f.in.ipc_ns = "host";
    f.in.host_config["Sysctls"] = {{"kernel.msgmax", "1"}};
    CHECK(f.error().find("IPC") != std::string::npos);
}

TEST_CASE("security options") {
    Fixture f;
    auto nnp = [&](std::vector<std::string> opts) {
        f.in.host_config["SecurityOpt"] = opts;
        return f.spec()["process"]["noNewPrivileges"].get<bool>();
    };
    CHECK(nnp({"no-new-privileges"}));
    CHECK(nnp({"no-new-privileges:true"}));
    CHECK(nnp({"no-new-privileges=true"}));
    CHECK_FALSE(nnp({"no-new-privileges:false"}));
    CHECK_FALSE(nnp({"no-new-privileges", "no-new-privileges=false"}));
    CHECK_FALSE(nnp({"apparmor=unconfined", "label=disable", "label:disable"}));

    f.in.host_config["SecurityOpt"] = {"seccomp=unconfined"};
    CHECK_FALSE(f.spec()["linux"].contains("seccomp"));
    f.in.host_config["SecurityOpt"] = {"seccomp:unconfined"};
    CHECK_FALSE(f.spec()["linux"].contains("seccomp"));

    for (const char* bad : {"apparmor=docker-default", "label=type:svirt_t", "bogus", "frobnicate=1",
                            "no-new-privileges=maybe", "seccomp={not json"}) {
        f.in.host_config["SecurityOpt"] = {bad};
        CAPTURE(bad);
        f.error();
    }
}

TEST_CASE("seccomp: the default profile") {
    Fixture f;
    Json sc = f.spec()["linux"]["seccomp"];
    CHECK(sc["defaultAction"] == "SCMP_ACT_ERRNO");
    CHECK(sc["defaultErrnoRet"] == 1);
#if defined(__x86_64__)
    CHECK(strings(sc["architectures"]) == std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"});
#elif defined(__aarch64__)
    CHECK(strings(sc["architectures"]) == std::vector<std::string>{"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"});
#endif
    auto allowed = allowed_syscalls(sc);
    for (const char* call : {"read", "write", "openat", "execve", "exit_group", "futex", "mmap", "wait4", "ptrace"}) {
        CHECK_MESSAGE(contains(allowed, call), call);
    }
    // Gated by CAP_SYS_ADMIN, which the default set lacks.
    for (const char* call : {"mount", "unshare", "setns", "umount2", "bpf", "keyctl", "add_key", "io_uring_setup",
                             "kexec_load", "reboot", "init_module"}) {
        CHECK_MESSAGE(!contains(allowed, call), call);
    }
    CHECK(contains(allowed, "chroot"));  // CAP_SYS_CHROOT is a default

    // Arguments: socket without AF_VSOCK, clone without namespace flags, clone3 -> ENOSYS.
    bool socket_rule = false, clone_rule = false, clone3_enosys = false;
    std::vector<uint64_t> personas;
    for (const auto& r : sc["syscalls"]) {
        auto names = strings(r["names"]);
        if (names == std::vector<std::string>{"socket"}) {
            socket_rule = r["args"][0] == Json{{"index", 0}, {"value", 40}, {"valueTwo", 0}, {"op", "SCMP_CMP_NE"}};
        }
        if (names == std::vector<std::string>{"clone"}) {
            clone_rule = r["args"][0]["value"] == 2114060288 && r["args"][0]["op"] == "SCMP_CMP_MASKED_EQ";
        }
        if (names == std::vector<std::string>{"clone3"}) {
            clone3_enosys = r["action"] == "SCMP_ACT_ERRNO" && r["errnoRet"] == 38;
        }
        if (names == std::vector<std::string>{"personality"}) personas.push_back(r["args"][0]["value"]);
    }
    CHECK(socket_rule);
    CHECK(clone_rule);
    CHECK(clone3_enosys);
    CHECK(personas == std::vector<uint64_t>{0, 8, 0x20000, 0x20008, 0xffffffff});

    // With CAP_SYS_ADMIN the namespace calls come back and the clone restrictions go.
    f.in.host_config["CapAdd"] = {"SYS_ADMIN", "SYS_PTRACE"};
    sc = f.spec()["linux"]["seccomp"];
    allowed = allowed_syscalls(sc);
    for (const char* call : {"mount", "unshare", "setns", "clone", "clone3", "kcmp", "process_vm_readv"}) {
        CHECK_MESSAGE(contains(allowed, call), call);
    }
    for (const auto& r : sc["syscalls"]) CHECK(r["names"] != Json::array({"clone3"}));
}

TEST_CASE("seccomp: a custom Docker-format profile") {
    Json profile = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"archMap", {{{"architecture", "SCMP_ARCH_X86_64"}, {"subArchitectures", {"SCMP_ARCH_X86"}}},
                     {{"architecture", "SCMP_ARCH_AARCH64"}, {"subArchitectures", {"SCMP_ARCH_ARM"}}}}},
        {"syscalls",
         {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 13}},
          {{"name", "reboot"}, {"action", "SCMP_ACT_ERRNO"}, {"includes", {{"caps", {"CAP_SYS_BOOT"}}}}},
          {{"names", {"chmod"}}, {"action", "SCMP_ACT_ERRNO"}, {"excludes", {{"caps", {"CAP_CHOWN"}}}}},
          {{"names", {"personality"}},
           {"action", "SCMP_ACT_ERRNO"},
           {"args", {{{"index", 0}, {"value", 8}, {"valueTwo", 0}, {"op", "SCMP_CMP_EQ"}}}}}}},
    };
    Fixture f;
    f.in.host_config["SecurityOpt"] = {"seccomp=" + profile.dump()};
    Json sc = f.spec()["linux"]["seccomp"];
    CHECK(sc["defaultAction"] == "SCMP_ACT_ALLOW");
    CHECK(sc["architectures"].size() == 2);
    REQUIRE(sc["syscalls"].size() == 2);  // reboot needs CAP_SYS_BOOT; chmod goes with CAP_CHOWN
    CHECK(sc["syscalls"][0] == Json{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 13}});
    CHECK(sc["syscalls"][1]["args"][0]["value"] == 8);

    auto both = seccomp_from_docker_profile({{"defaultAction", "SCMP_ACT_ERRNO"},
                                             {"syscalls", {{{"name", "a"}, {"names", {"b"}}, {"action", "SCMP_ACT_ALLOW"}}}}},
                                            {});
    REQUIRE_FALSE(both.has_value());
    CHECK(both.error().message.find("use either 'name' or 'names'") != std::string::npos);
}

TEST_CASE("exec process") {
    Fixture f;
    f.in.config["Env"] = {"A=1", "B=2"};
    f.in.config["WorkingDir"] = "/srv";
    f.in.config["User"] = "bob";
    f.in.host_config["CapAdd"] = {"NET_ADMIN"};
    f.in.host_config["SecurityOpt"] = {"no-new-privileges"};

    auto p = build_exec_process(f.in, {{"Cmd", {"ls", "-l"}}, {"Env", {"B=3", "C=4"}}});
    REQUIRE_MESSAGE(p.has_value(), (p ? "" : p.error().message));
    CHECK(strings((*p)["args"]) == std::vector<std::string>{"ls", "-l"});
    auto env = strings((*p)["env"]);
    CHECK(contains(env, "A=1"));
    CHECK(contains(env, "B=3"));
    CHECK(contains(env, "C=4"));
    CHECK(contains(env, "HOSTNAME=abc123"));
    CHECK(contains(env, "HOME=/home/bob"));
    CHECK_FALSE(contains(env, "TERM=xterm"));
    CHECK((*p)["cwd"] == "/srv");
    CHECK((*p)["user"]["uid"] == 1001);
    CHECK((*p)["terminal"] == false);
    CHECK((*p)["noNewPrivileges"] == true);
    CHECK((*p)["rlimits"][0]["type"] == "RLIMIT_NOFILE");
    CHECK(contains(strings((*p)["capabilities"]["bounding"]), "CAP_NET_ADMIN"));

    p = build_exec_process(f.in, {{"Cmd", {"id"}}, {"User", "alice:staff"}, {"WorkingDir", "/tmp"}, {"Tty", true},
                                  {"Privileged", true}, {"ConsoleSize", {24, 80}}});
    REQUIRE(p.has_value());
    CHECK((*p)["user"] == Json{{"uid", 1000}, {"gid", 50}, {"additionalGids", {50}}});
    CHECK((*p)["cwd"] == "/tmp");
    CHECK((*p)["terminal"] == true);
    CHECK((*p)["consoleSize"] == Json{{"height", 24}, {"width", 80}});
    CHECK(contains(strings((*p)["env"]), "TERM=xterm"));
    CHECK(contains(strings((*p)["env"]), "HOME=/home/alice"));
    CHECK(strings((*p)["capabilities"]["bounding"]) == internal::all_capabilities());
    CHECK_FALSE((*p)["capabilities"].contains("effective"));  // not root: bounding only

    auto none = build_exec_process(f.in, {{"Cmd", Json::array()}});
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error().message == "No exec command specified");
    auto bad_user = build_exec_process(f.in, {{"Cmd", {"id"}}, {"User", "ghost"}});
    REQUIRE_FALSE(bad_user.has_value());
    CHECK(bad_user.error().message == "unable to find user ghost: no matching entries in passwd file");
}

TEST_CASE("kernel versions compare numerically") {
    CHECK(internal::parse_kernel_version("4.8") < internal::parse_kernel_version("4.10"));
    CHECK(internal::parse_kernel_version("6.1.0-13-amd64") > internal::parse_kernel_version("4.8"));
    CHECK(internal::parse_kernel_version("garbage") == 0);
}
