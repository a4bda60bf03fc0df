// cgroup resources, device access and rlimits from HostConfig, with Docker's validation and
// messages (moby daemon/daemon_unix.go verifyPlatformContainerResources, oci/devices_linux.go).
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"
#include "engine/container/spec/internal.hpp"

namespace ctl::container::spec::internal {

namespace {

constexpr int64_t kMinMemory = 6 * 1024 * 1024;  // Docker's floor for limits and reservations
constexpr uint64_t kDefaultNofile = 1048576;     // the kernel's default fs.nr_open
constexpr uint64_t kUnlimited = UINT64_MAX;      // RLIM_INFINITY

Error invalid(std::string message) { return make_error(Errc::InvalidArgument, std::move(message)); }

std::string to_upper(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
    return text;
}

Result<int64_t> int_field(const Json& hc, const char* key) {
    CTL_ASSIGN_OR_RETURN(auto v, get_int(hc, key));
    return v.value_or(0);
}

// ---- memory -------------------------------------------------------------------------------------

bool swap_limit_supported() {
    static const bool supported = !sys::exists("/sys/fs/cgroup/memory") ||
                                  sys::exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
    return supported;
}

Result<Json> memory_resources(const Json& hc) {
    CTL_ASSIGN_OR_RETURN(int64_t limit, int_field(hc, "Memory"));
    CTL_ASSIGN_OR_RETURN(int64_t reservation, int_field(hc, "MemoryReservation"));
    CTL_ASSIGN_OR_RETURN(int64_t swap, int_field(hc, "MemorySwap"));
    CTL_ASSIGN_OR_RETURN(auto swappiness, get_int(hc, "MemorySwappiness"));
    CTL_ASSIGN_OR_RETURN(auto oom_kill_disable, get_bool(hc, "OomKillDisable"));

    if (limit < 0 || reservation < 0) return invalid("memory limits cannot be negative");
    if (limit != 0 && limit < kMinMemory) return invalid("Minimum memory limit allowed is 6MB");
    if (limit > 0 && swap > 0 && swap < limit) {
        return invalid("Minimum memoryswap limit should be larger than memory limit, see usage");
    }
    if (limit == 0 && swap > 0) {
        return invalid("You should always set the Memory limit when using Memoryswap limit, see usage");
    }
    if (swappiness && *swappiness != -1 && (*swappiness < 0 || *swappiness > 100)) {
        return invalid("Invalid value: " + std::to_string(*swappiness) + ", valid memory swappiness range is 0-100");
    }
    if (reservation != 0 && reservation < kMinMemory) return invalid("Minimum memory reservation allowed is 6MB");
    if (limit > 0 && reservation > 0 && limit < reservation) {
        return invalid("Minimum memory limit can not be less than memory reservation limit, see usage");
    }

    Json mem = Json::object();
    if (limit > 0) {
        mem["limit"] = limit;
        // Docker's default: as much swap as memory (the total is twice the limit). A cgroup v1
        // kernel without swap accounting cannot take a swap limit at all (Docker drops it too).
        if (swap_limit_supported()) mem["swap"] = swap == 0 ? 2 * limit : swap;
    } else if (swap == -1) {
        mem["swap"] = -1;
    }
    if (reservation > 0) mem["reservation"] = reservation;
    if (swappiness && *swappiness >= 0) mem["swappiness"] = *swappiness;
    if (oom_kill_disable.value_or(false)) mem["disableOOMKiller"] = true;
    return mem;
}

// ---- cpu ----------------------------------------------------------------------------------------

// "0-3,5" -> {0,1,2,3,5}; nullopt when malformed.
std::optional<std::vector<int>> parse_cpu_list(const std::string& text) {
    std::vector<int> out;
    if (trim(text).empty()) return out;
    for (const auto& part : split(text, ',')) {
        auto range = split(part, '-');
        if (range.size() > 2 || range[0].empty()) return std::nullopt;
        char* end = nullptr;
        long first = std::strtol(range[0].c_str(), &end, 10);
        if (*end != '\0' || first < 0) return std::nullopt;
        long last = first;
        if (range.size() == 2) {
            last = std::strtol(range[1].c_str(), &end, 10);
            if (range[1].empty() || *end != '\0' || last < first || last - first > 65536) return std::nullopt;
        }
        for (long i = first; i <= last; ++i) out.push_back(static_cast<int>(i));
    }
    return out;
}

// Docker checks the request against what the host has, so the error is readable rather than a
// runtime's "write cpuset.cpus: invalid argument".
Status check_cpuset(const std::string& value, const char* what, const char* host_file) {
    auto wanted = parse_cpu_list(value);
    if (!wanted) return invalid(std::string("Invalid value ") + value + " for " + what + ".");
    auto host_text = sys::read_file(host_file);
    if (!host_text) return ok();  // nothing to compare with
    auto available = parse_cpu_list(trim(*host_text));
    if (!available) return ok();
    for (int id : *wanted) {
        if (std::find(available->begin(), available->end(), id) == available->end()) {
            bool cpus = std::string(what) == "cpuset cpus";
            return invalid(std::string("Requested ") + (cpus ? "CPUs" : "memory nodes") +
                           " are not available - requested " + value + ", available: " + trim(*host_text));
        }
    }
    return ok();
}

Result<Json> cpu_resources(const Json& hc) {
    CTL_ASSIGN_OR_RETURN(int64_t shares, int_field(hc, "CpuShares"));
    CTL_ASSIGN_OR_RETURN(int64_t nano, int_field(hc, "NanoCpus"));
    CTL_ASSIGN_OR_RETURN(int64_t quota, int_field(hc, "CpuQuota"));
    CTL_ASSIGN_OR_RETURN(int64_t period, int_field(hc, "CpuPeriod"));
    CTL_ASSIGN_OR_RETURN(auto cpus, get_string(hc, "CpusetCpus"));
    CTL_ASSIGN_OR_RETURN(auto mems, get_string(hc, "CpusetMems"));

    if (shares < 0) return invalid("CPU shares cannot be negative");
    if (nano > 0 && period > 0) return invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set");
    if (nano > 0 && quota > 0) return invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    long ncpu = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (nano < 0 || (ncpu > 0 && nano > ncpu * int64_t{1000000000})) {
        return invalid("Range of CPUs is from 0.01 to " + std::to_string(ncpu) + ".00, as there are only " +
                       std::to_string(ncpu) + " CPUs available");
    }
    if (period != 0 && (period < 1000 || period > 1000000)) {
        return invalid("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
    }
    if (quota > 0 && quota < 1000) return invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)");

    Json cpu = Json::object();
    if (shares > 0) cpu["shares"] = shares;
    if (nano > 0) {
        constexpr int64_t kPeriod = 100000;  // 100 ms, Docker's period for --cpus
        cpu["period"] = kPeriod;
        cpu["quota"] = nano * kPeriod / 1000000000;
    } else {
        if (period > 0) cpu["period"] = period;
        if (quota != 0) cpu["quota"] = quota;
    }
    if (cpus && !cpus->empty()) {
        CTL_TRY(check_cpuset(*cpus, "cpuset cpus", "/sys/devices/system/cpu/online"));
        cpu["cpus"] = *cpus;
    }
    if (mems && !mems->empty()) {
        CTL_TRY(check_cpuset(*mems, "cpuset mems", "/sys/devices/system/node/online"));
        cpu["mems"] = *mems;
    }
    return cpu;
}

// ---- devices ------------------------------------------------------------------------------------

Json rule(bool allow, const std::string& type, int64_t major, int64_t minor, const std::string& access) {
    Json r = {{"allow", allow}, {"access", access}};
    if (!type.empty() && type != "a") r["type"] = type;
    if (major >= 0) r["major"] = major;
    if (minor >= 0) r["minor"] = minor;
    return r;
}

constexpr int64_t kAny = -1;

// Deny everything, then what Docker (and runc's defaults) allow: creating any node, the standard
// character devices and the pty slaves.
Json default_device_rules() {
    return Json::array({
        rule(false, "a", kAny, kAny, "rwm"),
        rule(true, "c", kAny, kAny, "m"),
        rule(true, "b", kAny, kAny, "m"),
        rule(true, "c", 1, 3, "rwm"),    // null
        rule(true, "c", 1, 5, "rwm"),    // zero
        rule(true, "c", 1, 7, "rwm"),    // full
        rule(true, "c", 1, 8, "rwm"),    // random
        rule(true, "c", 1, 9, "rwm"),    // urandom
        rule(true, "c", 5, 0, "rwm"),    // tty
        rule(true, "c", 5, 1, "rwm"),    // console
        rule(true, "c", 5, 2, "rwm"),    // ptmx
        rule(true, "c", 136, kAny, "rwm"),  // pts/*
    });
}

bool valid_access(const std::string& access) {
    if (access.empty() || access.size() > 3) return false;
    return std::all_of(access.begin(), access.end(), [](char c) { return c == 'r' || c == 'w' || c == 'm'; });
}

// "c 1:3 mr", "a *:* rwm" (HostConfig.DeviceCgroupRules).
Result<Json> parse_cgroup_rule(const std::string& text) {
    auto bad = [&] { return invalid("invalid device cgroup rule format: '" + text + "'"); };
    auto fields = split(trim(text), ' ');
    if (fields.size() != 3 || fields[0].size() != 1 || std::string("abc").find(fields[0][0]) == std::string::npos) {
        return bad();
    }
    auto numbers = split(fields[1], ':');
    if (numbers.size() != 2 || !valid_access(fields[2])) return bad();
    int64_t ids[2];
    for (int i = 0; i < 2; ++i) {
        if (numbers[i] == "*") {
            ids[i] = kAny;
            continue;
        }
        char* end = nullptr;
        ids[i] = std::strtoll(numbers[i].c_str(), &end, 10);
        if (numbers[i].empty() || *end != '\0' || ids[i] < 0) return bad();
    }
    return rule(true, fields[0], ids[0], ids[1], fields[2]);
}

Json device_entry(const std::string& path, const struct stat& st) {
    return Json{{"path", path},
                {"type", S_ISBLK(st.st_mode) ? "b" : "c"},
                {"major", ::major(st.st_rdev)},
                {"minor", ::minor(st.st_rdev)},
                {"fileMode", st.st_mode & 07777},
                {"uid", st.st_uid},
                {"gid", st.st_gid}};
}

bool is_device(const struct stat& st) { return S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode); }

// One --device: a device node, or a directory of them mapped below the container path.
Status add_host_device(const std::string& on_host, std::string in_container, const std::string& access, Json& devices,
                       Json& rules) {
    auto fail = [&](const std::string& why) {
        return invalid("error gathering device information while adding custom device \"" + on_host + "\": " + why);
    };
    std::error_code ec;
    std::string resolved = std::filesystem::canonical(on_host, ec).string();
    if (ec) return fail(ec.message());
    if (in_container.empty()) in_container = on_host;
    struct stat st{};
    if (::stat(resolved.c_str(), &st) != 0) return fail(std::strerror(errno));
    if (is_device(st)) {
        devices.push_back(device_entry(in_container, st));
        rules.push_back(rule(true, S_ISBLK(st.st_mode) ? "b" : "c", ::major(st.st_rdev), ::minor(st.st_rdev), access));
        return ok();
    }
    if (!S_ISDIR(st.st_mode)) return fail("not a device node");
    for (auto it = std::filesystem::recursive_directory_iterator(resolved, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        struct stat child{};
        if (::lstat(it->path().c_str(), &child) != 0 || !is_device(child)) continue;
        std::string rel = it->path().string().substr(resolved.size());
        devices.push_back(device_entry(in_container + rel, child));
        rules.push_back(
            rule(true, S_ISBLK(child.st_mode) ? "b" : "c", ::major(child.st_rdev), ::minor(child.st_rdev), access));
    }
    if (ec) return fail(ec.message());
    return ok();
}

// ---- rlimits ------------------------------------------------------------------------------------

struct UlimitType {
    const char* name;
    int resource;
};
constexpr UlimitType kUlimits[] = {
    {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},     {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

const UlimitType* ulimit_type(const std::string& name) {
    for (const auto& u : kUlimits) {
        if (name == u.name) return &u;
    }
    return nullptr;
}

std::string limit_text(uint64_t v) { return v == kUnlimited ? std::string("unlimited") : std::to_string(v); }

// Raising a hard limit above the runtime's own needs CAP_SYS_RESOURCE; without it the start
// fails for every container, so refuse it here with the reason.
Status check_raisable(const UlimitType& type, uint64_t hard) {
    constexpr int kCapSysResource = 24;
    if (own_effective_capability(kCapSysResource)) return ok();
    struct rlimit own{};
    if (::getrlimit(type.resource, &own) != 0 || own.rlim_max == RLIM_INFINITY || hard <= own.rlim_max) return ok();
    return invalid(std::string("ulimit ") + type.name + ": hard limit " + limit_text(hard) +
                   " is above ctld's own limit of " + std::to_string(own.rlim_max) +
                   ", which it cannot raise (no CAP_SYS_RESOURCE)");
}

// -1 (what clients send for "unlimited") is RLIM_INFINITY.
uint64_t rlimit_value(int64_t v) { return v < 0 ? kUnlimited : static_cast<uint64_t>(v); }

Json rlimit(const std::string& name, uint64_t soft, uint64_t hard) {
    return Json{{"type", "RLIMIT_" + to_upper(name)}, {"soft", soft}, {"hard", hard}};
}

}  // namespace

Result<Json> build_resources(const Json& hc, bool privileged) {
    Json res = Json::object();
    CTL_ASSIGN_OR_RETURN(Json mem, memory_resources(hc));
    if (!mem.empty()) res["memory"] = std::move(mem);
    CTL_ASSIGN_OR_RETURN(Json cpu, cpu_resources(hc));
    if (!cpu.empty()) res["cpu"] = std::move(cpu);
    CTL_ASSIGN_OR_RETURN(int64_t pids, int_field(hc, "PidsLimit"));
    if (pids > 0) res["pids"] = {{"limit", pids}};  // 0 and -1 both mean unlimited
    CTL_ASSIGN_OR_RETURN(int64_t weight, int_field(hc, "BlkioWeight"));
    if (weight != 0 && (weight < 10 || weight > 1000)) return invalid("Range of blkio weight is from 10 to 1000");
    if (weight > 0) res["blockIO"] = {{"weight", weight}};
    res["devices"] = privileged ? Json::array({rule(true, "a", kAny, kAny, "rwm")}) : default_device_rules();
    if (!privileged) {
        CTL_ASSIGN_OR_RETURN(auto extra, get_string_list(hc, "DeviceCgroupRules"));
        for (const auto& text : extra.value_or(std::vector<std::string>{})) {
            CTL_ASSIGN_OR_RETURN(Json r, parse_cgroup_rule(text));
            res["devices"].push_back(std::move(r));
        }
    }
    return res;
}

Result<Json> build_devices(const Json& hc, bool privileged, Json& resources) {
    Json devices = privileged ? host_devices() : Json::array();
    Json ignored_rules = Json::array();  // privileged containers may use every device already
    const Json* list = find_ci(hc, "Devices");
    if (!list) return devices;
    if (!list->is_array()) return invalid("json: cannot unmarshal field Devices: expected list of devices");
    for (const auto& d : *list) {
        std::string on_host = string_or(d, "PathOnHost");
        std::string in_container = string_or(d, "PathInContainer");
        std::string access = string_or(d, "CgroupPermissions", "rwm");
        if (access.empty()) access = "rwm";
        if (on_host.empty()) return invalid("invalid device mapping: PathOnHost is empty");
        if (!valid_access(access)) return invalid("invalid device mode: " + access);
        if (privileged && (in_container.empty() || in_container == on_host)) continue;  // already there
        Json& rules = privileged ? ignored_rules : resources["devices"];
        CTL_TRY(add_host_device(on_host, in_container, access, devices, rules));
    }
    return devices;
}

Result<Json> build_rlimits(const Json& hc, uint64_t nofile_hard_limit) {
    uint64_t nofile_cap = nofile_hard_limit == 0 ? kDefaultNofile : nofile_hard_limit;
    std::map<std::string, Json> by_name;
    std::vector<std::string> order;
    const Json* list = find_ci(hc, "Ulimits");
    if (list && !list->is_array()) return invalid("json: cannot unmarshal field Ulimits: expected list of ulimits");
    for (const auto& u : list ? *list : Json::array()) {
        std::string name = to_lower(string_or(u, "Name"));
        const UlimitType* type = ulimit_type(name);
        if (!type) return invalid("invalid ulimit type: " + name);
        CTL_ASSIGN_OR_RETURN(int64_t soft_in, int_field(u, "Soft"));
        CTL_ASSIGN_OR_RETURN(int64_t hard_in, int_field(u, "Hard"));
        uint64_t soft = rlimit_value(soft_in), hard = rlimit_value(hard_in);
        if (soft > hard) {
            return invalid("ulimit soft limit must be less than or equal to hard limit: " + std::to_string(soft_in) +
                           " > " + std::to_string(hard_in));
        }
        if (name == "nofile" && hard > nofile_cap) {
            return invalid("ulimit nofile: hard limit " + limit_text(hard) + " is above the daemon's own limit of " +
                           std::to_string(nofile_cap) + " open files, which a container cannot exceed");
        }
        if (name != "nofile") CTL_TRY(check_raisable(*type, hard));
        if (!by_name.count(name)) order.push_back(name);
        by_name[name] = rlimit(name, soft, hard);
    }
    Json out = Json::array();
    if (!by_name.count("nofile")) {
        uint64_t n = std::min(kDefaultNofile, nofile_cap);
        out.push_back(rlimit("nofile", n, n));
    }
    for (const auto& name : order) out.push_back(by_name[name]);
    return out;
}

Json host_devices() {
    Json out = Json::array();
    std::error_code ec;
    auto it = std::filesystem::recursive_directory_iterator("/dev", ec);
    for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (it->is_directory(ec) && !it->is_symlink(ec)) {
            // The container mounts its own pts, shm and mqueue; fd is a link to /proc.
            if (name == "pts" || name == "shm" || name == "mqueue" || name == "fd" || starts_with(name, ".")) {
                it.disable_recursion_pending();
            }
            continue;
        }
        if (name == "console") continue;  // the runtime sets up the container's own
        struct stat st{};
        if (::lstat(it->path().c_str(), &st) != 0 || !is_device(st)) continue;
        out.push_back(device_entry(it->path().string(), st));
    }
    return out;
}

}  // namespace ctl::container::spec::internal
