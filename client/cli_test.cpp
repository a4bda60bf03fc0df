#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sstream>

#include "client/cli.hpp"
#include "client/testing/fake_engine.hpp"

using namespace ctl;
using namespace ctl::client;
using ctl::client::testing::FakeEngine;
using ctl::client::testing::FakeRequest;

namespace {

struct Run {
    int code = 0;
    std::string out, err;
};

Run ctl_run(std::vector<std::string> args) {
    args.insert(args.begin(), "ctl");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream out, err;
    Run r;
    r.code = run_cli(static_cast<int>(argv.size()), argv.data(), out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
}

// What ctld answered on GET /version when this was written.
const char* kVersion = R"J({"ApiVersion":"1.41","Arch":"amd64","BuildTime":"2026-11-22T18:27:39Z",
  "Components":[{"Details":{"ApiVersion":"1.41","Arch":"amd64","BuildTime":"2026-11-22T18:27:39Z","Experimental":"false",
  "GitCommit":"5fb93c8","GoVersion":"gcc 12.2.0","KernelVersion":"6.1.0","MinAPIVersion":"1.12","Os":"linux"},
  "Name":"Engine","Version":"20.10.0-ctld.0.1.0"},{"Name":"runc","Version":"1.1.5","Details":{"GitCommit":"v1.1.5-0-gf19387a"}}],
  "Experimental":false,"GitCommit":"5fb93c8","GoVersion":"gcc 12.2.0","KernelVersion":"6.1.0","MinAPIVersion":"1.12",
  "Os":"linux","Platform":{"Name":"ctld 0.1.0"},"Version":"20.10.0-ctld.0.1.0"})J";

const char* kInfo = R"J({"Architecture":"x86_64","CgroupDriver":"cgroupfs","CgroupVersion":"2","Containers":3,
  "ContainersPaused":0,"ContainersRunning":1,"ContainersStopped":2,"Debug":false,"DefaultRuntime":"runc",
  "DockerRootDir":"/var/lib/ctld","Driver":"overlay2","DriverStatus":[["Backing Filesystem","extfs"]],
  "ExperimentalBuild":false,"HttpProxy":"","HttpsProxy":"","ID":"abc","Images":4,"InitBinary":"",
  "ContainerdCommit":{"ID":"","Expected":""},"RuncCommit":{"ID":"v1.1.5","Expected":"v1.1.5"},"InitCommit":{"ID":"","Expected":""},
  "KernelVersion":"6.1.0","Labels":[],"LiveRestoreEnabled":false,"LoggingDriver":"json-file","MemTotal":4102123520,
  "NCPU":2,"Name":"host","NoProxy":"","OSType":"linux","OperatingSystem":"Debian GNU/Linux 12 (bookworm)",
  "Plugins":{"Authorization":null,"Log":["json-file"],"Network":["bridge","host","none"],"Volume":["local"]},
  "RegistryConfig":{"IndexConfigs":{"docker.io":{"Name":"docker.io","Secure":true}},"InsecureRegistryCIDRs":["127.0.0.0/8"],"Mirrors":[]},
  "Runtimes":{"runc":{"path":"runc"},"crun":{"path":"crun"}},"SecurityOptions":["name=seccomp,profile=default","name=cgroupns"],
  "ServerVersion":"20.10.0-ctld.0.1.0","Swarm":{"LocalNodeState":"inactive"},
  "Warnings":["WARNING: No swap limit support","bridge-nf-call-iptables is disabled"]})J";

const char* kDf = R"J({"LayersSize":1092588,"Images":[
  {"Id":"sha256:0123456789abcdef0123456789abcdef","RepoTags":["busybox:latest"],"Created":1700000000,"Size":1092588,
   "SharedSize":0,"VirtualSize":1092588,"Containers":1}],
  "Containers":[{"Id":"fedcba9876543210","Names":["/web"],"Image":"busybox","Command":"sleep 1000","Created":1700000000,
   "State":"running","Status":"Up 2 minutes","SizeRw":12,"Mounts":[{"Type":"volume","Name":"data"}]},
   {"Id":"aaaabbbbccccdddd","Names":["/old"],"Image":"busybox","Command":"true","Created":1700000000,
   "State":"exited","Status":"Exited (0)","SizeRw":2048,"Mounts":[]}],
  "Volumes":[{"Name":"data","UsageData":{"Size":4096,"RefCount":1}},{"Name":"unused","UsageData":{"Size":1000,"RefCount":0}}],
  "BuildCache":[]})J";

bool engine_handler(const FakeRequest& req, int fd) {
    const std::string& t = req.target;
    if (t.rfind("/v1.41/version", 0) == 0) {
        FakeEngine::reply(fd, 200, kVersion);
    } else if (t.rfind("/v1.41/info", 0) == 0) {
        FakeEngine::reply(fd, 200, kInfo);
    } else if (t.rfind("/v1.41/system/df", 0) == 0) {
        FakeEngine::reply(fd, 200, kDf);
    } else if (t.rfind("/v1.41/events", 0) == 0) {
        FakeEngine::reply_chunk_head(fd);
        FakeEngine::reply_chunk(fd,
                                R"({"status":"start","id":"3f4e","from":"nginx","Type":"container","Action":"start",)"
                                R"("Actor":{"ID":"3f4e","Attributes":{"name":"web","image":"nginx"}},"scope":"local",)"
                                R"("time":1714557600,"timeNano":1714557600123456789})"
                                "\n");
        FakeEngine::reply_chunk(fd, R"({"Type":"image","Action":"tag","Actor":{"ID":"sha256:1","Attributes":{}},"time":1714557601})"
                                    "\n");
        FakeEngine::reply_chunk(fd, "");
    } else if (t.rfind("/v1.41/images/json", 0) == 0) {
        FakeEngine::reply(fd, 200, "[]");
    } else {
        FakeEngine::reply(fd, 404, R"({"message":"page not found"})");
    }
    return true;
}

}  // namespace

TEST_SUITE("client.cli") {
    TEST_CASE("host resolution: -H, then CTL_HOST, then the default socket") {
        CHECK(resolve_host("unix:///a.sock", "unix:///b.sock") == "unix:///a.sock");
        CHECK(resolve_host("", "unix:///b.sock") == "unix:///b.sock");
        CHECK(resolve_host("", nullptr) == "unix:///run/ctld.sock");
        CHECK(resolve_host("", "") == "unix:///run/ctld.sock");
    }

    TEST_CASE("TLS flags") {
        GlobalOptions o;
        CHECK_FALSE(resolve_tls(o, nullptr, nullptr, nullptr).enabled);
        o.tls_verify = true;
        o.tls_ca = "/c/ca.pem";
        auto v = resolve_tls(o, nullptr, nullptr, "/nonexistent-home");
        CHECK(v.enabled);
        CHECK(v.verify);
        CHECK(v.ca == "/c/ca.pem");
        CHECK(v.cert.empty());
        GlobalOptions c;
        c.tls_cert = "/c/cert.pem";
        auto t = resolve_tls(c, nullptr, nullptr, nullptr);
        CHECK(t.enabled);
        CHECK_FALSE(t.verify);
        CHECK(resolve_tls(GlobalOptions{}, "1", nullptr, nullptr).verify);
        // Defaults come from the cert directory when the files exist.
        char dir[] = "/tmp/ctl-certs-XXXXXX";
        REQUIRE(::mkdtemp(dir));
        std::string ca = std::string(dir) + "/ca.pem";
        FILE* f = std::fopen(ca.c_str(), "w");
        REQUIRE(f);
        std::fclose(f);
        GlobalOptions d;
        d.tls_verify = true;
        auto fromdir = resolve_tls(d, nullptr, dir, nullptr);
        CHECK(fromdir.ca == ca);
        CHECK(fromdir.cert.empty());
        std::remove(ca.c_str());
        ::rmdir(dir);
    }

    TEST_CASE("--filter flags become the engine's filters JSON") {
        auto f = filters_json({"label=a=b", "label=c", "status=running", " Type = container ", "label=c"});
        REQUIRE(f);
        CHECK(*f == R"({"label":["a=b","c"],"status":["running"],"type":["container"]})");
        auto none = filters_json({});
        REQUIRE(none);
        CHECK(none->empty());
        auto bad = filters_json({"dangling"});
        REQUIRE_FALSE(bad);
        CHECK(bad.error().message == "bad format of filter (expected name=value): dangling");
    }

    TEST_CASE("--since / --until values") {
        const int64_t now = 1700000000LL * 1000000000LL;
        CHECK(*api_timestamp("10m", now) == "1699999400");
        CHECK(*api_timestamp("1h30m", now) == "1699994600");
        CHECK(*api_timestamp("1.5h", now) == "1699994600");
        CHECK(*api_timestamp("0s", now) == "1700000000");
        CHECK(*api_timestamp("1700000000", now) == "1700000000");
        CHECK(*api_timestamp("1700000000.5", now) == "1700000000.5");
        CHECK(*api_timestamp("0", now) == "0");
        CHECK(*api_timestamp("2023-11-14T22:13:20Z", now) == "1700000000.000000000");
        CHECK(*api_timestamp("2023-11-14T22:13:20.25Z", now) == "1700000000.250000000");
        CHECK(*api_timestamp("2023-11-15T00:13:20+02:00", now) == "1700000000.000000000");
        CHECK(*api_timestamp("2023-11-14T22:13Z", now) == "1699999980.000000000");
        ::setenv("TZ", "UTC", 1);
        ::tzset();
        CHECK(*api_timestamp("2023-11-14", now) == "1699920000.000000000");
        CHECK(*api_timestamp("2023-11-14T22:13:20", now) == "1700000000.000000000");
        auto bad = api_timestamp("yesterday", now, "--until");
        REQUIRE_FALSE(bad);
        CHECK(bad.error().message == "invalid value \"yesterday\" for --until: failed to parse value as time or duration");
        CHECK_FALSE(api_timestamp("2023-13-01", now));
    }

    TEST_CASE("ctl version prints client and server blocks as docker does") {
        FakeEngine engine(engine_handler);
        auto r = ctl_run({"-H", engine.host(), "version"});
        CHECK(r.code == 0);
        CHECK(r.err.empty());
        CHECK(r.out.rfind("Client:\n Version:           " CTL_VERSION "\n API version:       1.41\n Compiler:  ", 0) == 0);
        CHECK(r.out.find(" OS/Arch:           linux/") != std::string::npos);
        auto server = r.out.substr(r.out.find("\nServer:"));
        CHECK(server ==
              "\nServer: ctld 0.1.0\n"
              " Engine:\n"
              "  Version:          20.10.0-ctld.0.1.0\n"
              "  API version:      1.41 (minimum version 1.12)\n"
              "  Compiler:         gcc 12.2.0\n"
              "  Git commit:       5fb93c8\n"
              "  Built:            Sun Nov 22 18:27:39 2026\n"
              "  OS/Arch:          linux/amd64\n"
              "  Kernel Version:   6.1.0\n"
              "  Experimental:     false\n"
              " runc:\n"
              "  Version:          1.1.5\n"
              "  GitCommit:        v1.1.5-0-gf19387a\n");
        auto f = ctl_run({"-H", engine.host(), "version", "--format", "{{.Server.Version}} {{.Client.APIVersion}} {{.Server.APIVersion}}"});
        CHECK(f.code == 0);
        CHECK(f.out == "20.10.0-ctld.0.1.0 1.41 1.41\n");
        auto j = ctl_run({"-H", engine.host(), "version", "-f", "{{json .Server.Components}}"});
        CHECK(j.out.find("\"BuildTime\":\"Sun Nov 22 18:27:39 2026\"") != std::string::npos);
    }

    TEST_CASE("ctl version without an engine still prints the client block") {
        auto r = ctl_run({"-H", "unix:///tmp/ctl-test-none.sock", "version"});
        CHECK(r.code == 125);
        CHECK(r.out.rfind("Client:\n", 0) == 0);
        CHECK(r.out.find("Server") == std::string::npos);
        CHECK(r.err == "cannot connect to the engine at unix:///tmp/ctl-test-none.sock: is ctld running?\n");
        auto f = ctl_run({"-H", "unix:///tmp/ctl-test-none.sock", "version", "--format", "{{.Client.Version}}/{{.Server.Version}}"});
        CHECK(f.code == 125);
        CHECK(f.out == CTL_VERSION "/<no value>\n");
    }

    TEST_CASE("ctl info") {
        FakeEngine engine(engine_handler);
        auto r = ctl_run({"-H", engine.host(), "info"});
        CHECK(r.code == 0);
        CHECK(r.out ==
              "Client:\n Version:    " CTL_VERSION "\n Debug Mode: false\n\n"
              "Server:\n"
              " Containers: 3\n  Running: 1\n  Paused: 0\n  Stopped: 2\n"
              " Images: 4\n"
              " Server Version: 20.10.0-ctld.0.1.0\n"
              " Storage Driver: overlay2\n  Backing Filesystem: extfs\n"
              " Logging Driver: json-file\n Cgroup Driver: cgroupfs\n Cgroup Version: 2\n"
              " Plugins:\n  Volume: local\n  Network: bridge host none\n  Log: json-file\n"
              " Swarm: inactive\n"
              " Runtimes: crun runc\n Default Runtime: runc\n"
              " Init Binary: \n containerd version: \n runc version: v1.1.5\n init version: \n"
              " Security Options:\n  seccomp\n   Profile: default\n  cgroupns\n"
              " Kernel Version: 6.1.0\n"
              " Operating System: Debian GNU/Linux 12 (bookworm)\n"
              " OSType: linux\n Architecture: x86_64\n CPUs: 2\n Total Memory: 3.82GiB\n"
              " Name: host\n ID: abc\n Docker Root Dir: /var/lib/ctld\n Debug Mode: false\n"
              " Experimental: false\n"
              " Insecure Registries:\n  127.0.0.0/8\n"
              " Live Restore Enabled: false\n\n");
        CHECK(r.err == "WARNING: No swap limit support\nWARNING: bridge-nf-call-iptables is disabled\n");
        auto f = ctl_run({"-H", engine.host(), "system", "info", "--format", "{{.Driver}} {{json .Plugins.Network}} {{.ClientInfo.Debug}}"});
        CHECK(f.code == 0);
        CHECK(f.out == "overlay2 [\"bridge\",\"host\",\"none\"] false\n");
        auto bad = ctl_run({"-H", engine.host(), "info", "--format", "{{.Driver"});
        CHECK(bad.code == 125);
        CHECK(bad.out.empty());
        CHECK(bad.err == "template parsing error: template: :1: unclosed action\n");
        auto down = ctl_run({"-H", "unix:///tmp/ctl-test-none.sock", "info"});
        CHECK(down.code == 125);
        CHECK(down.out.rfind("Client:\n", 0) == 0);
        CHECK(down.err == "cannot connect to the engine at unix:///tmp/ctl-test-none.sock: is ctld running?\n");
    }

    TEST_CASE("ctl system df") {
        FakeEngine engine(engine_handler);
        auto r = ctl_run({"-H", engine.host(), "system", "df"});
        CHECK(r.code == 0);
        CHECK(r.out ==
              "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n"
              "Images          1         1         1.093MB   0B (0%)\n"
              "Containers      2         1         2.06kB    2.048kB (99%)\n"
              "Local Volumes   2         1         5.096kB   1kB (19%)\n"
              "Build Cache     0         0         0B        0B\n");
        auto f = ctl_run({"-H", engine.host(), "system", "df", "--format", "{{.Type}}={{.TotalCount}}"});
        CHECK(f.out == "Images=1\nContainers=2\nLocal Volumes=2\nBuild Cache=0\n");
        auto v = ctl_run({"-H", engine.host(), "system", "df", "-v"});
        CHECK(v.code == 0);
        CHECK(v.out.rfind("Images space usage:\n\nREPOSITORY   TAG       IMAGE ID       CREATED", 0) == 0);
        CHECK(v.out.find("busybox      latest    0123456789ab") != std::string::npos);
        CHECK(v.out.find("\nContainers space usage:\n\nCONTAINER ID   IMAGE     COMMAND        LOCAL VOLUMES   SIZE") != std::string::npos);
        CHECK(v.out.find("fedcba987654   busybox   \"sleep 1000\"   1               12B") != std::string::npos);
        CHECK(v.out.find("\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\ndata          1         4.096kB\nunused        0         1kB\n") != std::string::npos);
        CHECK(v.out.find("\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n") != std::string::npos);
    }

    TEST_CASE("ctl events prints each event as docker does") {
        ::setenv("TZ", "UTC", 1);
        ::tzset();
        FakeEngine engine(engine_handler);
        auto r = ctl_run({"-H", engine.host(), "events", "--since", "2024-05-01T10:00:00Z", "--until", "1714557700",
                          "--filter", "type=container", "-f", "event=start"});
        CHECK(r.code == 0);
        CHECK(r.out ==
              "2024-05-01T10:00:00.123456789Z container start 3f4e (image=nginx, name=web)\n"
              "2024-05-01T10:00:01.000000000Z image tag sha256:1\n");
        auto reqs = engine.requests();
        REQUIRE(reqs.size() == 1);
        CHECK(reqs[0].target ==
              "/v1.41/events?since=1714557600.000000000&until=1714557700&filters=%7B%22event%22%3A%5B%22start%22%5D%2C%22type%22%3A%5B%22container%22%5D%7D");
        auto f = ctl_run({"-H", engine.host(), "system", "events", "--format", "{{.Type}} {{.Status}} {{.Actor.Attributes.name}}"});
        CHECK(f.out == "container start web\nimage <no value> <no value>\n");
        auto j = ctl_run({"-H", engine.host(), "events", "--format", "json"});
        CHECK(j.out.rfind("{\"Action\":\"start\",", 0) == 0);
        auto bad = ctl_run({"-H", engine.host(), "events", "--since", "soon"});
        CHECK(bad.code == 125);
        CHECK(bad.err == "invalid value \"soon\" for --since: failed to parse value as time or duration\n");
        auto badf = ctl_run({"-H", engine.host(), "events", "--filter", "container"});
        CHECK(badf.code == 125);
        CHECK(badf.err == "bad format of filter (expected name=value): container\n");
    }

    TEST_CASE("a repeatable flag takes one value per occurrence") {
        FakeEngine engine(engine_handler);
        auto r = ctl_run({"-H", engine.host(), "image", "ls", "-f", "dangling=true", "busybox", "--format", "{{.ID}}"});
        CHECK(r.code == 0);
        CHECK(r.err.empty());
        auto reqs = engine.requests();
        REQUIRE(reqs.size() == 1);
        CHECK(reqs[0].target == "/v1.41/images/json?filters=%7B%22dangling%22%3A%5B%22true%22%5D%2C%22reference%22%3A%5B%22busybox%22%5D%7D");
    }

    TEST_CASE("engine errors: one line, exit 125") {
        FakeEngine engine([](const FakeRequest&, int fd) {
            FakeEngine::reply(fd, 500, R"({"message":"store is locked"})");
            return true;
        });
        auto r = ctl_run({"-H", engine.host(), "system", "df"});
        CHECK(r.code == 125);
        CHECK(r.out.empty());
        CHECK(r.err == "Error response from daemon: store is locked\n");
    }

    TEST_CASE("usage: help, version, unknown commands and flags") {
        auto none = ctl_run({});
        CHECK(none.code == 0);
        CHECK(none.out.find("Usage: ctl") != std::string::npos);
        auto help = ctl_run({"--help"});
        CHECK(help.code == 0);
        CHECK(help.out.find("version") != std::string::npos);
        auto sub_help = ctl_run({"system", "df", "--help"});
        CHECK(sub_help.code == 0);
        CHECK(sub_help.out.find("--verbose") != std::string::npos);
        auto group = ctl_run({"system"});
        CHECK(group.code == 0);
        CHECK(group.out.find("Usage: ctl system") != std::string::npos);
        auto v = ctl_run({"-v"});
        CHECK(v.code == 0);
        CHECK(v.out == "ctl version " CTL_VERSION ", build " CTL_GIT_COMMIT "\n");
        auto unknown = ctl_run({"frobnicate"});
        CHECK(unknown.code == 125);
        CHECK(unknown.err == "ctl: unknown command: ctl frobnicate\n\nRun 'ctl --help' for more information\n");
        auto unknown_sub = ctl_run({"system", "frob"});
        CHECK(unknown_sub.code == 125);
        CHECK(unknown_sub.err.rfind("ctl: unknown command: ctl system frob\n", 0) == 0);
        auto bad_flag = ctl_run({"version", "--bogus"});
        CHECK(bad_flag.code == 125);
        CHECK(bad_flag.err.find("See 'ctl version --help'.") != std::string::npos);
        auto bad_host = ctl_run({"-H", "nonsense", "info", "--format", "{{.ID}}"});
        CHECK(bad_host.code == 125);
        CHECK(bad_host.err.rfind("invalid host \"nonsense\"", 0) == 0);
    }
}
