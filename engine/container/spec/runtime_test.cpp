// The generated config.json run for real with runc and crun on a busybox rootfs: the runtimes
// accept it, the user, limits and masks apply, and the seccomp filter loads and blocks what
// Docker's blocks. Needs root, a runtime and Debian's busybox-static; it says so and skips
// otherwise. Every bundle, container state and cgroup it makes is removed, also on failure.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/container/spec/oci_spec.hpp"

namespace fs = std::filesystem;
using namespace ctl;
using namespace ctl::container::spec;

namespace {

struct RunResult {
    int exit_code = -1;
    std::string output;  // stdout and stderr together
    bool timed_out = false;
};

// Output goes to a temp file, not a pipe: a detached container would hold a pipe open forever.
RunResult run(const std::vector<std::string>& argv, int timeout_ms = 60000) {
    RunResult r;
    char tmpl[] = "/tmp/ctl-spec-out-XXXXXX";
    int out = ::mkstemp(tmpl);
    REQUIRE(out >= 0);
    ::unlink(tmpl);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::setpgid(0, 0);
        int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, 0);
        ::dup2(out, 1);
        ::dup2(out, 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    for (int waited = 0;; waited += 10) {
        if (::waitpid(pid, &status, WNOHANG) == pid) break;
        if (waited >= timeout_ms) {
            ::kill(-pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            r.timed_out = true;
            break;
        }
        ::usleep(10000);
    }
    ::lseek(out, 0, SEEK_SET);
    char buf[4096];
    for (ssize_t n; (n = ::read(out, buf, sizeof buf)) > 0;) r.output.append(buf, static_cast<size_t>(n));
    ::close(out);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

std::string find_binary(const std::vector<std::string>& candidates) {
    for (const auto& c : candidates) {
        if (::access(c.c_str(), X_OK) == 0) return c;
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct Runtime {
    std::string name, path;
};

// Removes a cgroup directory tree: only rmdir works (and is needed) on cgroupfs.
void remove_cgroup_tree(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec) || fs::is_symlink(dir, ec)) return;
    for (const auto& child : fs::directory_iterator(dir, ec)) {
        if (child.is_directory(ec) && !child.is_symlink(ec)) remove_cgroup_tree(child.path());
    }
    ::rmdir(dir.c_str());
}

// A temp dir with a busybox rootfs, one bundle per container and a state root per runtime. The
// destructor deletes the containers, their cgroups and the directory, whatever happened.
class Sandbox {
public:
    explicit Sandbox(const std::string& busybox) {
        char tmpl[] = "/tmp/ctl-spec-runtime-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        cgroup_parent_ = "/ctld-spec-test-" + std::to_string(::getpid());
        make_rootfs(busybox);
    }
    ~Sandbox() {
        for (const auto& [rt, id] : containers_) {
            (void)run(runtime_argv(rt, {"delete", "-f", id}), 20000);
        }
        std::error_code ec;
        for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ec)) {
            remove_cgroup_tree(hierarchy.path() / cgroup_parent_.substr(1));
        }
        fs::remove_all(dir_, ec);
    }
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;

    std::string rootfs() const { return dir_ + "/rootfs"; }

    SpecInputs inputs(const std::string& id, Json config, Json host_config = Json::object()) const {
        SpecInputs in;
        in.rootfs = rootfs();
        in.config = std::move(config);
        in.host_config = std::move(host_config);
        in.cgroups_path = cgroup_parent_ + "/" + id;
        struct rlimit rl{};
        ::getrlimit(RLIMIT_NOFILE, &rl);
        in.nofile_hard_limit = rl.rlim_max;
        return in;
    }

    // Writes the bundle and runs the container in the foreground.
    RunResult run_container(const Runtime& rt, const std::string& id, const SpecInputs& in,
                            std::vector<std::string> extra = {}) {
        auto spec = build_spec(in);
        REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
        std::string bundle = dir_ + "/bundles/" + id;
        fs::create_directories(bundle);
        std::ofstream(bundle + "/config.json") << spec->dump(2);
        containers_.emplace_back(rt, id);
        std::vector<std::string> args = {"run"};
        args.insert(args.end(), extra.begin(), extra.end());
        args.insert(args.end(), {"--bundle", bundle, id});
        return run(runtime_argv(rt, args));
    }

    RunResult runtime(const Runtime& rt, std::vector<std::string> args) { return run(runtime_argv(rt, std::move(args))); }

    std::string write_dir(const std::string& name) {
        std::string path = dir_ + "/" + name;
        fs::create_directories(path);
        return path;
    }

    std::string write_file(const std::string& name, const std::string& text) {
        std::string path = dir_ + "/" + name;
        std::ofstream(path) << text;
        return path;
    }

private:
    // crun 1.8 refuses a hybrid cgroup host; in a private mount namespace without the v2 mount it
    // sees plain v1 and works (what the engine does too).
    std::vector<std::string> runtime_argv(const Runtime& rt, std::vector<std::string> args) const {
        std::vector<std::string> argv;
        if (rt.name == "crun") {
            argv = {"unshare", "-m", "--propagation", "private", "sh", "-c",
                    "umount -l /sys/fs/cgroup/unified 2>/dev/null; exec \"$@\"", "sh"};
        }
        argv.insert(argv.end(), {rt.path, "--root", dir_ + "/state-" + rt.name});
        argv.insert(argv.end(), args.begin(), args.end());
        return argv;
    }

    void make_rootfs(const std::string& busybox) {
        std::string r = rootfs();
        for (const char* d : {"bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "mnt", "root",
                              "home/tester", "tmp"}) {
            fs::create_directories(r + "/" + d);
        }
        fs::permissions(r + "/tmp", fs::perms::all | fs::perms::sticky_bit);
        fs::copy_file(busybox, r + "/bin/busybox");
        auto list = run({busybox, "--list-full"});
        REQUIRE(list.exit_code == 0);
        std::istringstream lines(list.output);
        for (std::string applet; std::getline(lines, applet);) {
            if (applet.empty() || applet == "bin/busybox") continue;
            std::error_code ec;
            fs::create_directories(fs::path(r + "/" + applet).parent_path(), ec);
            fs::create_symlink("/bin/busybox", r + "/" + applet, ec);
        }
        std::ofstream(r + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n"
                                            "tester:x:1234:2345:Tester:/home/tester:/bin/sh\n";
        std::ofstream(r + "/etc/group") << "root:x:0:\ntesters:x:2345:\nextra:x:3000:tester\n";
        ::chown((r + "/home/tester").c_str(), 1234, 2345);
    }

    std::string dir_;
    std::string cgroup_parent_;
    std::vector<std::pair<Runtime, std::string>> containers_;
};

Json shell(const std::string& script) { return Json{{"Cmd", {"sh", "-c", script}}}; }

}  // namespace

TEST_CASE("runtime: runc and crun run the generated bundle") {
    if (::geteuid() != 0) {
        MESSAGE("skipped: running containers needs root");
        return;
    }
    std::string busybox = find_binary({"/bin/busybox", "/usr/bin/busybox"});
    if (busybox.empty()) {
        MESSAGE("skipped: no static busybox (apt-get install -y busybox-static)");
        return;
    }
    std::vector<Runtime> runtimes;
    for (const char* name : {"runc", "crun"}) {
        std::string path = find_binary({std::string("/usr/sbin/") + name, std::string("/usr/bin/") + name,
                                        std::string("/usr/local/bin/") + name, std::string("/usr/local/sbin/") + name});
        if (!path.empty()) runtimes.push_back({name, path});
    }
    if (runtimes.empty()) {
        MESSAGE("skipped: neither runc nor crun is installed");
        return;
    }
    bool can_hide_cgroup2 = !find_binary({"/usr/bin/unshare", "/bin/unshare"}).empty();

    Sandbox box(busybox);
    struct rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    const std::string nofile = std::to_string(std::min<rlim_t>(rl.rlim_max, 1048576));

    // /proc/kcore is the one that matters, but not every kernel has it (this VM's has not).
    std::string masked;
    for (const char* path : {"/proc/kcore", "/proc/timer_list", "/proc/keys"}) {
        if (fs::exists(path)) {
            masked = path;
            break;
        }
    }
    REQUIRE_FALSE(masked.empty());
    if (masked != "/proc/kcore") MESSAGE("no /proc/kcore on this kernel: checking the mask on " << masked);

    for (const auto& rt : runtimes) {
        if (rt.name == "crun" && !can_hide_cgroup2) {
            MESSAGE("skipped crun: unshare(1) is missing");
            continue;
        }
        CAPTURE(rt.name);
        const std::string p = rt.name + "-";

        {
            // User, groups, HOME, cwd, hostname, rlimit, environment.
            Json config = shell("id; ulimit -n; echo HOME=$HOME; pwd; hostname; echo FOO=$FOO; "
                                "echo domain=$(cat /proc/sys/kernel/domainname)");
            config["User"] = "tester";
            config["WorkingDir"] = "/tmp";
            config["Hostname"] = "spectest";
            config["Domainname"] = "example.org";
            config["Env"] = {"FOO=bar"};
            auto r = box.run_container(rt, p + "identity", box.inputs(p + "identity", config));
            INFO(r.output);
            CHECK(r.exit_code == 0);
            CHECK(contains(r.output, "uid=1234(tester) gid=2345(testers) groups=2345(testers),3000(extra)"));
            CHECK(contains(r.output, "\n" + nofile + "\n"));
            CHECK(contains(r.output, "HOME=/home/tester"));
            CHECK(contains(r.output, "\n/tmp\n"));
            CHECK(contains(r.output, "spectest"));
            CHECK(contains(r.output, "FOO=bar"));
            CHECK(contains(r.output, "domain=example.org"));
        }
        {
            // The exit code comes through.
            auto r = box.run_container(rt, p + "exit", box.inputs(p + "exit", shell("exit 7")));
            INFO(r.output);
            CHECK(r.exit_code == 7);
        }
        {
            // The filter loads, a shell script runs under it, and namespace creation and mounts fail
            // with EPERM; /proc/kcore is masked, /proc/sys read-only.
            auto r = box.run_container(
                rt, p + "confined",
                box.inputs(p + "confined",
                           shell("grep Seccomp: /proc/self/status; for i in 1 2 3; do echo loop$i; done | wc -l; "
                                 "unshare -U true; echo unshare=$?; mount -t tmpfs none /mnt; echo mount=$?; "
                                 "echo masked=$(wc -c < " + masked + "); "
                                 "echo 1 > /proc/sys/kernel/ns_last_pid; echo procsys=$?")));
            INFO(r.output);
            CHECK(r.exit_code == 0);
            CHECK(contains(r.output, "Seccomp:\t2"));
            CHECK(contains(r.output, "\n3\n"));
            CHECK(contains(r.output, "Operation not permitted"));
            CHECK(contains(r.output, "unshare=1"));
            CHECK_FALSE(contains(r.output, "mount=0"));
            CHECK(contains(r.output, "masked=0"));
            CHECK_FALSE(contains(r.output, "procsys=0"));

            // Without the filter, the same user namespace works: the refusal above was seccomp's.
            auto u = box.run_container(rt, p + "unconfined",
                                       box.inputs(p + "unconfined", shell("unshare -U true; echo unshare=$?"),
                                                  {{"SecurityOpt", {"seccomp=unconfined"}}}));
            INFO(u.output);
            CHECK(u.exit_code == 0);
            if (!contains(u.output, "unshare=0")) {
                MESSAGE("this host refuses user namespaces even without seccomp; the comparison is skipped");
            }
        }
        {
            // A read-only rootfs refuses writes.
            auto r = box.run_container(rt, p + "readonly",
                                       box.inputs(p + "readonly", shell("touch /probe; echo touch=$?"),
                                                  {{"ReadonlyRootfs", true}}));
            INFO(r.output);
            CHECK(r.exit_code == 0);
            CHECK(contains(r.output, "Read-only file system"));
            CHECK(contains(r.output, "touch=1"));
            CHECK_FALSE(fs::exists(box.rootfs() + "/probe"));
        }
        {
            // Limits and capability tweaks are accepted; pids.max is in the container's cgroup.
            Json hc = {{"Memory", 64 << 20}, {"PidsLimit", 50}, {"CpuShares", 512}, {"NanoCpus", 500000000},
                       {"CapDrop", {"NET_RAW"}}, {"CapAdd", {"SYS_NICE"}},
                       {"Ulimits", {{{"Name", "nproc"}, {"Soft", 100}, {"Hard", 200}}}},
                       {"SecurityOpt", {"no-new-privileges"}}};
            auto r = box.run_container(rt, p + "limits",
                                       box.inputs(p + "limits",
                                                  shell("cat /sys/fs/cgroup/pids/pids.max; ulimit -u; "
                                                        "grep NoNewPrivs /proc/self/status"),
                                                  hc));
            INFO(r.output);
            CHECK(r.exit_code == 0);
            CHECK(contains(r.output, "50\n"));
            CHECK(contains(r.output, "100\n"));
            CHECK(contains(r.output, "NoNewPrivs:\t1"));
        }
        {
            // The generated /etc files, a read-only bind, a tmpfs and an init as PID 1.
            SpecInputs in = box.inputs(p + "mounts",
                                       shell("cat /etc/hostname; grep spec-host /etc/hosts; cat /etc/resolv.conf; "
                                             "cat /data/file; touch /data/x; echo bind=$?; "
                                             "echo hi > /scratch/f && echo tmpfs-ok; echo pid1=$(cat /proc/1/comm)"),
                                       {{"Init", true}});
            in.hostname_path = box.write_file("hostname", "spec-host\n");
            in.hosts_path = box.write_file("hosts", "127.0.0.1 localhost\n10.0.0.5 spec-host\n");
            in.resolv_conf_path = box.write_file("resolv.conf", "nameserver 10.0.0.1\n");
            std::string data = box.write_dir("data");
            box.write_file("data/file", "from the host\n");
            in.mounts = {{"/data", "bind", data, {"rbind", "ro", "rprivate"}},
                         {"/scratch", "tmpfs", "tmpfs", {"nosuid", "nodev", "size=1m"}}};
            in.init_path = find_binary({"/usr/bin/tini-static", "/usr/bin/docker-init"});
            if (in.init_path.empty()) in.host_config.erase("Init");
            auto r = box.run_container(rt, p + "mounts", in);
            INFO(r.output);
            CHECK(r.exit_code == 0);
            CHECK(contains(r.output, "spec-host\n10.0.0.5 spec-host\nnameserver 10.0.0.1\nfrom the host\n"));
            CHECK(contains(r.output, "Read-only file system"));
            CHECK(contains(r.output, "bind=1"));
            CHECK(contains(r.output, "tmpfs-ok"));
            if (!in.init_path.empty()) CHECK(contains(r.output, "pid1=docker-init"));
        }
        {
            // Privileged: every capability, no filter, the host's devices, mounts allowed.
            auto r = box.run_container(rt, p + "privileged",
                                       box.inputs(p + "privileged",
                                                  shell("grep -E 'Seccomp:|CapEff:' /proc/self/status; "
                                                        "test -c /dev/null && echo null-ok; "
                                                        "mount -t tmpfs none /mnt && echo mounted"),
                                                  {{"Privileged", true}}));
            INFO(r.output);
            CHECK(r.exit_code == 0);
            CHECK(contains(r.output, "Seccomp:\t0"));
            auto cap_eff = r.output.find("CapEff:\t");
            REQUIRE(cap_eff != std::string::npos);
            uint64_t caps = std::strtoull(r.output.c_str() + cap_eff + 8, nullptr, 16);
            CHECK(((caps >> 21) & 1) == 1);  // CAP_SYS_ADMIN
            CHECK(contains(r.output, "null-ok"));
            CHECK(contains(r.output, "mounted"));
        }
        {
            // The host's network and IPC namespaces: /sys is a bind of the host's, /dev/shm the host's.
            std::string marker = "ctl-spec-shm-" + std::to_string(::getpid());
            std::ofstream("/dev/shm/" + marker) << "shared\n";
            SpecInputs in = box.inputs(p + "hostns", shell("cat /sys/class/net/lo/mtu; cat /dev/shm/" + marker +
                                                           "; grep ' /sys ' /proc/mounts"));
            in.netns = "host";
            in.ipc_ns = "host";
            auto r = box.run_container(rt, p + "hostns", in);
            ::unlink(("/dev/shm/" + marker).c_str());
            INFO(r.output);
            CHECK(r.exit_code == 0);
            CHECK(contains(r.output, "65536\nshared\n"));
            CHECK(contains(r.output, " /sys sysfs ro,"));
        }
        {
            // An exec process from build_exec_process joins a running container.
            std::string id = p + "execd";
            SpecInputs in = box.inputs(id, Json{{"Cmd", {"sleep", "60"}}, {"Env", {"FOO=container"}}});
            auto started = box.run_container(rt, id, in, {"--detach"});
            INFO(started.output);
            REQUIRE(started.exit_code == 0);
            auto process = build_exec_process(in, {{"Cmd", {"sh", "-c", "id -u; echo $FOO; pwd; echo $HOME"}},
                                                   {"User", "tester"},
                                                   {"Env", {"FOO=exec"}},
                                                   {"WorkingDir", "/home/tester"}});
            REQUIRE(process.has_value());
            std::string path = box.write_file(id + "-process.json", process->dump());
            auto r = box.runtime(rt, {"exec", "--process", path, id});
            INFO(r.output);
            CHECK(r.exit_code == 0);
            CHECK(contains(r.output, "1234\nexec\n/home/tester\n/home/tester"));
            (void)box.runtime(rt, {"kill", id, "KILL"});
        }
    }
}
