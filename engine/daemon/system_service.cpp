#include "engine/daemon/system_service.hpp"

#include <dirent.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "api/http.hpp"
#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"
#include "engine/daemon/version.hpp"

namespace ctl::daemon {

namespace {

std::string uname_field(bool machine) {
    struct utsname u {};
    ::uname(&u);
    return machine ? u.machine : u.release;
}

std::string os_pretty_name() {
    std::ifstream in("/etc/os-release");
    std::string line;
    while (std::getline(in, line)) {
        if (starts_with(line, "PRETTY_NAME=")) {
            std::string v = line.substr(12);
            if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
            return v;
        }
    }
    return "Linux";
}

std::string os_version() {
    std::ifstream in("/etc/os-release");
    std::string line;
    while (std::getline(in, line)) {
        if (starts_with(line, "VERSION_ID=")) {
            std::string v = line.substr(11);
            if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
            return v;
        }
    }
    return "";
}

int64_t mem_total() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    int64_t kb = 0;
    std::string unit;
    while (in >> key >> kb >> unit) {
        if (key == "MemTotal:") return kb * 1024;
    }
    return 0;
}

int count_dir_entries(const char* path) {
    int n = 0;
    if (DIR* d = ::opendir(path)) {
        while (struct dirent* e = ::readdir(d)) {
            if (e->d_name[0] != '.') ++n;
        }
        ::closedir(d);
    }
    return n;
}

bool read_flag(const char* path) {
    auto text = sys::read_file(path);
    return text && trim(*text) == "1";
}

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

std::string hostname() {
    char buf[256] = {};
    ::gethostname(buf, sizeof buf - 1);
    return buf;
}

std::string backing_filesystem(const std::string& path) {
    struct statfs st {};
    if (::statfs(path.c_str(), &st) != 0) return "unknown";
    switch (static_cast<unsigned long>(st.f_type)) {
        case 0xEF53: return "extfs";
        case 0x58465342: return "xfs";
        case 0x9123683E: return "btrfs";
        case 0x01021994: return "tmpfs";
        case 0x794c7630: return "overlayfs";
        default: return "unknown";
    }
}

bool cgroup_controller_file(const char* path) { return sys::exists(path); }

}  // namespace

std::string kernel_version() { return uname_field(false); }

std::string go_arch() {
    std::string m = uname_field(true);
    if (m == "x86_64") return "amd64";
    if (m == "aarch64") return "arm64";
    if (m == "i686" || m == "i386") return "386";
    if (starts_with(m, "armv7")) return "arm";
    return m;
}

// Absolute path of an executable found on PATH, or "".
std::string find_executable(const std::string& name) {
    const char* path = std::getenv("PATH");
    for (const auto& dir : split(path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ':')) {
        if (dir.empty()) continue;
        std::string candidate = dir + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return "";
}

// The OCI runtimes installed on the host, as /info lists them. The container module replaces this
// with the runtimes it probed as working.
Json installed_runtimes() {
    Json out = Json::object();
    for (const char* name : {"crun", "runc"}) {
        std::string path = find_executable(name);
        if (!path.empty()) out[name] = {{"path", path}};
    }
    return out;
}

std::string cgroup_version() {
    struct statfs st {};
    if (::statfs("/sys/fs/cgroup", &st) == 0 && static_cast<unsigned long>(st.f_type) == 0x63677270UL) return "2";
    return "1";
}

SystemService::SystemService(const Config& config, store::Store& store, events::EventBus& bus, std::string engine_id)
    : config_(config), store_(store), bus_(bus), engine_id_(std::move(engine_id)) {}

void SystemService::add_info_contributor(Contributor fn) {
    std::lock_guard lock(mutex_);
    info_contributors_.push_back(std::move(fn));
}

void SystemService::add_df_contributor(Contributor fn) {
    std::lock_guard lock(mutex_);
    df_contributors_.push_back(std::move(fn));
}

Json SystemService::version() {
    std::string kernel = kernel_version();
    std::string arch = go_arch();
    Json details = {{"ApiVersion", std::string(api::kApiVersion)},
                    {"Arch", arch},
                    {"BuildTime", kBuildTime},
                    {"Experimental", "false"},
                    {"GitCommit", kGitCommit},
                    {"GoVersion", "gcc " __VERSION__},
                    {"KernelVersion", kernel},
                    {"MinAPIVersion", std::string(api::kMinApiVersion)},
                    {"Os", "linux"}};
    return {{"Platform", {{"Name", std::string("ctld ") + kVersion}}},
            {"Components", Json::array({{{"Name", "Engine"}, {"Version", kCompatVersion}, {"Details", details}}})},
            {"Version", kCompatVersion},
            {"ApiVersion", std::string(api::kApiVersion)},
            {"MinAPIVersion", std::string(api::kMinApiVersion)},
            {"GitCommit", kGitCommit},
            {"GoVersion", "gcc " __VERSION__},
            {"Os", "linux"},
            {"Arch", arch},
            {"KernelVersion", kernel},
            {"Experimental", false},
            {"BuildTime", kBuildTime}};
}

Json SystemService::info() {
    bool v2 = cgroup_version() == "2";
    std::string mem_dir = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
    bool swap_limit = v2 ? cgroup_controller_file("/sys/fs/cgroup/cgroup.controllers")
                         : cgroup_controller_file("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
    Json runtimes = installed_runtimes();
    std::string default_runtime = config_.default_runtime;
    if (default_runtime.empty()) default_runtime = runtimes.contains("crun") || !runtimes.contains("runc") ? "crun" : "runc";
    if (!runtimes.contains(default_runtime)) default_runtime = runtimes.empty() ? "runc" : runtimes.begin().key();
    Json info = {
        {"ID", engine_id_},
        {"Containers", 0},
        {"ContainersRunning", 0},
        {"ContainersPaused", 0},
        {"ContainersStopped", 0},
        {"Images", 0},
        {"Driver", config_.storage_driver.empty() ? "overlay2" : config_.storage_driver},
        {"DriverStatus", Json::array({Json::array({"Backing Filesystem", backing_filesystem(config_.data_root)})})},
        {"Plugins",
         {{"Volume", Json::array({"local"})},
          {"Network", Json::array({"bridge", "host", "none"})},
          {"Authorization", nullptr},
          {"Log", Json::array({"json-file"})}}},
        {"MemoryLimit", sys::exists(mem_dir)},
        {"SwapLimit", swap_limit},
        {"KernelMemory", false},
        {"KernelMemoryTCP", false},
        {"CpuCfsPeriod", true},
        {"CpuCfsQuota", true},
        {"CPUShares", true},
        {"CPUSet", true},
        {"PidsLimit", true},
        {"IPv4Forwarding", read_flag("/proc/sys/net/ipv4/ip_forward")},
        {"BridgeNfIptables", read_flag("/proc/sys/net/bridge/bridge-nf-call-iptables")},
        {"BridgeNfIp6tables", read_flag("/proc/sys/net/bridge/bridge-nf-call-ip6tables")},
        {"Debug", config_.log_level == "debug"},
        {"NFd", count_dir_entries("/proc/self/fd")},
        {"OomKillDisable", !v2},
        {"NGoroutines", count_dir_entries("/proc/self/task")},
        {"SystemTime", rfc3339_nano(now_unix_nanos())},
        {"LoggingDriver", "json-file"},
        {"CgroupDriver", "cgroupfs"},
        {"CgroupVersion", cgroup_version()},
        {"NEventsListener", bus_.listeners()},
        {"KernelVersion", kernel_version()},
        {"OperatingSystem", os_pretty_name()},
        {"OSVersion", os_version()},
        {"OSType", "linux"},
        {"Architecture", uname_field(true)},
        {"IndexServerAddress", "https://index.docker.io/v1/"},
        {"RegistryConfig",
         {{"AllowNondistributableArtifactsCIDRs", Json::array()},
          {"AllowNondistributableArtifactsHostnames", Json::array()},
          {"InsecureRegistryCIDRs", Json::array({"127.0.0.0/8"})},
          {"IndexConfigs",
           {{"docker.io", {{"Name", "docker.io"}, {"Mirrors", Json::array()}, {"Secure", true}, {"Official", true}}}}},
          {"Mirrors", Json::array()}}},
        {"NCPU", static_cast<int64_t>(::sysconf(_SC_NPROCESSORS_ONLN))},
        {"MemTotal", mem_total()},
        {"GenericResources", nullptr},
        {"DockerRootDir", config_.data_root},
        {"HttpProxy", env_or_empty("HTTP_PROXY")},
        {"HttpsProxy", env_or_empty("HTTPS_PROXY")},
        {"NoProxy", env_or_empty("NO_PROXY")},
        {"Name", hostname()},
        {"Labels", Json::array()},
        {"ExperimentalBuild", false},
        {"ServerVersion", kCompatVersion},
        {"Runtimes", runtimes},
        {"DefaultRuntime", default_runtime},
        {"Swarm",
         {{"NodeID", ""},
          {"NodeAddr", ""},
          {"LocalNodeState", "inactive"},
          {"ControlAvailable", false},
          {"Error", ""},
          {"RemoteManagers", nullptr}}},
        {"LiveRestoreEnabled", true},
        {"Isolation", ""},
        {"InitBinary", ""},
        {"ContainerdCommit", {{"ID", ""}, {"Expected", ""}}},
        {"RuncCommit", {{"ID", ""}, {"Expected", ""}}},
        {"InitCommit", {{"ID", ""}, {"Expected", ""}}},
        {"SecurityOptions", Json::array()},
        {"Warnings", Json::array()},
    };
    for (const auto& r : config_.insecure_registries) info["RegistryConfig"]["InsecureRegistryCIDRs"].push_back(r);
    std::vector<Contributor> contributors;
    {
        std::lock_guard lock(mutex_);
        contributors = info_contributors_;
    }
    for (auto& fn : contributors) fn(info);
    return info;
}

Result<Json> SystemService::disk_usage() {
    Json df = {{"LayersSize", 0},
               {"Images", Json::array()},
               {"Containers", Json::array()},
               {"Volumes", Json::array()},
               {"BuildCache", Json::array()}};
    std::vector<Contributor> contributors;
    {
        std::lock_guard lock(mutex_);
        contributors = df_contributors_;
    }
    for (auto& fn : contributors) fn(df);
    return df;
}

}  // namespace ctl::daemon
