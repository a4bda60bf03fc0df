// Composes config.json the way dockerd's createSpec does (moby daemon/oci_linux.go): process,
// root, hostname, mounts, namespaces, resources, sysctls, security. Each step is one function;
// the data-heavy parts live in caps.cpp, seccomp_profile.cpp, mounts.cpp and resources.cpp.
#include "engine/container/spec/oci_spec.hpp"

#include <linux/magic.h>
#include <sys/statfs.h>

#include <algorithm>
#include <map>

#include "engine/base/util.hpp"
#include "engine/container/spec/internal.hpp"

namespace ctl::container::spec {

namespace {

constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr const char* kInitInContainer = "/sbin/docker-init";
constexpr int64_t kDefaultShmSize = 64 << 20;

Error invalid(std::string message) { return make_error(Errc::InvalidArgument, std::move(message)); }

// Docker's default hiding of kernel interfaces (moby oci/defaults.go).
const std::vector<std::string>& default_masked_paths() {
    static const std::vector<std::string> paths = {
        "/proc/asound",       "/proc/acpi",        "/proc/kcore",       "/proc/keys",
        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
        "/proc/scsi",         "/sys/firmware",     "/sys/devices/virtual/powercap",
    };
    return paths;
}

const std::vector<std::string>& default_readonly_paths() {
    static const std::vector<std::string> paths = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
    };
    return paths;
}

std::vector<std::string> list_or_empty(const Json& obj, const char* key) {
    auto v = get_string_list(obj, key);
    return v && *v ? **v : std::vector<std::string>{};
}

// Request value, else the image's (Docker's merge for User and WorkingDir).
std::string request_or_image(const SpecInputs& in, const char* key) {
    std::string v = string_or(in.config, key);
    return v.empty() ? string_or(in.image_config, key) : v;
}

// Go's strconv.ParseBool.
std::optional<bool> parse_go_bool(const std::string& s) {
    if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
    if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") return false;
    return std::nullopt;
}

// ---- security options -----------------------------------------------------------------------

enum class Seccomp { Default, Unconfined, Custom };

struct Security {
    bool no_new_privileges = false;
    Seccomp seccomp = Seccomp::Default;
    Json custom_profile;
    bool unconfined_paths = false;  // systempaths=unconfined
};

Status apply_security_opt(const std::string& opt, Security& s) {
    if (opt == "no-new-privileges") {
        s.no_new_privileges = true;
        return ok();
    }
    if (opt == "disable") return ok();  // SELinux labels off: we never label
    auto sep = opt.find('=');
    if (sep == std::string::npos) sep = opt.find(':');  // the deprecated "key:value" form
    if (sep == std::string::npos) return invalid("invalid --security-opt 1: \"" + opt + "\"");
    std::string key = opt.substr(0, sep), value = opt.substr(sep + 1);
    auto unsupported = [&] {
        return invalid("invalid --security-opt 2: \"" + opt + "\": ctld cannot honor this option");
    };
    if (key == "no-new-privileges") {
        auto b = parse_go_bool(value);
        if (!b) return invalid("invalid --security-opt 2: \"" + opt + "\"");
        s.no_new_privileges = *b;
    } else if (key == "seccomp") {
        if (value == "unconfined") {
            s.seccomp = Seccomp::Unconfined;
        } else if (value == "builtin" || value.empty()) {
            s.seccomp = Seccomp::Default;
        } else {
            // The CLI sends the profile file's content, not its name.
            Json profile = Json::parse(value, nullptr, false);
            if (profile.is_discarded()) return invalid("Decoding seccomp profile failed: invalid JSON");
            s.seccomp = Seccomp::Custom;
            s.custom_profile = std::move(profile);
        }
    } else if (key == "apparmor") {
        if (value != "unconfined") return unsupported();  // no AppArmor profiles are loaded
    } else if (key == "label") {
        if (value != "disable") return unsupported();  // no SELinux labelling
    } else if (key == "systempaths") {
        if (value != "unconfined") return unsupported();
        s.unconfined_paths = true;
    } else {
        return invalid("invalid --security-opt 2: \"" + opt + "\"");
    }
    return ok();
}

Result<Security> parse_security(const Json& hc) {
    Security s;
    CTL_ASSIGN_OR_RETURN(auto opts, get_string_list(hc, "SecurityOpt"));
    for (const auto& opt : opts.value_or(std::vector<std::string>{})) CTL_TRY(apply_security_opt(opt, s));
    return s;
}

// ---- the parts shared by the container's process and its execs ------------------------------

struct ContainerSecurity {
    bool privileged = false;
    std::vector<std::string> caps;
    Security security;
    Json rlimits;
    std::optional<int64_t> oom_score_adj;
};

Result<ContainerSecurity> container_security(const SpecInputs& in) {
    ContainerSecurity c;
    c.privileged = bool_or(in.host_config, "Privileged", false);
    CTL_ASSIGN_OR_RETURN(auto add, get_string_list(in.host_config, "CapAdd"));
    CTL_ASSIGN_OR_RETURN(auto drop, get_string_list(in.host_config, "CapDrop"));
    CTL_ASSIGN_OR_RETURN(c.caps, effective_capabilities(add.value_or(std::vector<std::string>{}),
                                                        drop.value_or(std::vector<std::string>{}), c.privileged));
    CTL_ASSIGN_OR_RETURN(c.security, parse_security(in.host_config));
    CTL_ASSIGN_OR_RETURN(c.rlimits, internal::build_rlimits(in.host_config, in.nofile_hard_limit));
    CTL_ASSIGN_OR_RETURN(c.oom_score_adj, get_int(in.host_config, "OomScoreAdj"));
    if (c.oom_score_adj && (*c.oom_score_adj < -1000 || *c.oom_score_adj > 1000)) {
        return invalid("Invalid value " + std::to_string(*c.oom_score_adj) +
                       ", range for oom score adj is [-1000, 1000]");
    }
    return c;
}

// Non-root users get the bounding set only, as execve would give them (Docker since 20.10.14).
Json capabilities_json(const std::vector<std::string>& caps, uint32_t uid) {
    Json out = {{"bounding", caps}};
    if (uid == 0) {
        out["effective"] = caps;
        out["permitted"] = caps;
    }
    return out;
}

// "invalid environment variable: =x" for entries Docker refuses.
Status validate_env(const std::vector<std::string>& env) {
    for (const auto& e : env) {
        if (e.empty() || e[0] == '=') return invalid("invalid environment variable: " + e);
    }
    return ok();
}

bool has_key(const std::vector<std::string>& env, const std::string& key) {
    return std::any_of(env.begin(), env.end(), [&](const std::string& e) { return starts_with(e, key + "="); });
}

// What dockerd puts first (PATH, HOSTNAME, TERM with a tty), then the container's own variables
// key by key, then HOME from passwd when nobody set it.
std::vector<std::string> process_env(const SpecInputs& in, bool tty, const std::vector<std::string>& extra,
                                     const ResolvedUser& user) {
    std::vector<std::string> env = {kDefaultPath, "HOSTNAME=" + string_or(in.config, "Hostname")};
    if (tty) env.push_back("TERM=xterm");
    env = merge_env(std::move(env), list_or_empty(in.image_config, "Env"));
    env = merge_env(std::move(env), list_or_empty(in.config, "Env"));
    env = merge_env(std::move(env), extra);
    if (!has_key(env, "HOME")) env.push_back("HOME=" + user.home);
    return env;
}

// Absolute and cleaned; "" becomes "/".
Result<std::string> working_dir(const std::string& dir) {
    if (dir.empty()) return std::string("/");
    if (dir[0] != '/') {
        return invalid("the working directory '" + dir + "' is invalid, it needs to be an absolute path");
    }
    return clean_absolute_path(dir);
}

struct ProcessArgs {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string cwd;
    bool tty = false;
    ResolvedUser user;
    std::vector<std::string> caps;
    Json console_size;  // [height, width] or null
};

Json process_json(const ProcessArgs& p, const ContainerSecurity& sec) {
    Json gids = Json::array({p.user.gid});
    for (uint32_t g : p.user.additional_gids) gids.push_back(g);
    Json out = {
        {"terminal", p.tty},
        {"user", {{"uid", p.user.uid}, {"gid", p.user.gid}, {"additionalGids", std::move(gids)}}},
        {"args", p.args},
        {"env", p.env},
        {"cwd", p.cwd},
        {"capabilities", capabilities_json(p.caps, p.user.uid)},
        {"rlimits", sec.rlimits},
        {"noNewPrivileges", sec.security.no_new_privileges},
    };
    if (sec.oom_score_adj) out["oomScoreAdj"] = *sec.oom_score_adj;
    const Json& cs = p.console_size;
    auto positive = [](const Json& v) { return v.is_number_integer() && v.get<int64_t>() > 0; };
    if (p.tty && cs.is_array() && cs.size() == 2 && positive(cs[0]) && positive(cs[1])) {
        out["consoleSize"] = {{"height", cs[0]}, {"width", cs[1]}};
    }
    return out;
}

// ---- namespaces -----------------------------------------------------------------------------

bool host_is_cgroup_v2_only() {
    struct statfs fs{};
    return ::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

Status add_namespace(Json& list, const char* type, const std::string& spec) {
    if (spec == "host") return ok();
    Json ns = {{"type", type}};
    if (!spec.empty()) {
        if (spec[0] != '/') return invalid(std::string("invalid ") + type + " namespace path: " + spec);
        ns["path"] = spec;
    }
    list.push_back(std::move(ns));
    return ok();
}

bool uts_is_host(const SpecInputs& in) { return string_or(in.host_config, "UTSMode") == "host"; }

Result<Json> namespaces(const SpecInputs& in) {
    Json list = Json::array();
    CTL_TRY(add_namespace(list, "pid", in.pid_ns));
    CTL_TRY(add_namespace(list, "network", in.netns));
    CTL_TRY(add_namespace(list, "ipc", in.ipc_ns));
    if (!uts_is_host(in)) list.push_back({{"type", "uts"}});
    list.push_back({{"type", "mount"}});
    // Docker's default is private on cgroup v2 only; on v1/hybrid hosts it is asked for explicitly.
    std::string mode = string_or(in.host_config, "CgroupnsMode");
    if (!mode.empty() && mode != "host" && mode != "private") return invalid("invalid cgroup namespace mode: " + mode);
    bool v2 = in.cgroup_v2_only.value_or(host_is_cgroup_v2_only());
    if (mode == "private" || (mode.empty() && v2)) list.push_back({{"type", "cgroup"}});
    return list;
}

// ---- sysctls --------------------------------------------------------------------------------

bool ipc_sysctl(const std::string& key) {
    static const std::vector<std::string> kernel_ipc = {
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
        "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
    };
    return std::find(kernel_ipc.begin(), kernel_ipc.end(), key) != kernel_ipc.end() || starts_with(key, "fs.mqueue.");
}

// Only namespaced sysctls: setting any other would change the host (Docker's and runc's rule).
Status check_sysctl(const std::string& key, const SpecInputs& in, bool private_network) {
    if (ipc_sysctl(key)) {
        if (in.ipc_ns == "host") return invalid("sysctl " + key + " is not allowed with the host IPC namespace");
        return ok();
    }
    if (starts_with(key, "net.")) {
        if (!private_network) {
            return invalid("sysctl " + key + " is not allowed: the container shares another network namespace");
        }
        return ok();
    }
    if (key == "kernel.domainname" || key == "kernel.hostname") {
        return invalid("sysctl " + key + " is not allowed: use Hostname and Domainname instead");
    }
    return invalid("sysctl '" + key + "' is not allowed: it is not namespaced and would change the host");
}

bool private_network(const SpecInputs& in) {
    return in.netns != "host" && !starts_with(string_or(in.host_config, "NetworkMode"), "container:");
}

Result<Json> sysctls(const SpecInputs& in) {
    Json out = Json::object();
    bool private_net = private_network(in);
    if (private_net) {
        // Docker's defaults for a network namespace of the container's own: ping without
        // CAP_NET_RAW and low ports without CAP_NET_BIND_SERVICE.
        out["net.ipv4.ping_group_range"] = "0 2147483647";
        out["net.ipv4.ip_unprivileged_port_start"] = "0";
    }
    std::string domain = string_or(in.config, "Domainname");
    if (!domain.empty() && !uts_is_host(in)) out["kernel.domainname"] = domain;  // no OCI 1.0 field for it
    CTL_ASSIGN_OR_RETURN(auto requested, get_string_map(in.host_config, "Sysctls"));
    for (const auto& [key, value] : requested.value_or(std::map<std::string, std::string>{})) {
        CTL_TRY(check_sysctl(key, in, private_net));
        out[key] = value;
    }
    return out;
}

// ---- the rest of linux.* ----------------------------------------------------------------------

Result<Json> seccomp_json(const ContainerSecurity& sec) {
    if (sec.privileged || sec.security.seccomp == Seccomp::Unconfined) return Json(nullptr);
    if (sec.security.seccomp == Seccomp::Custom) {
        return seccomp_from_docker_profile(sec.security.custom_profile, sec.caps);
    }
    return default_seccomp_profile(sec.caps);
}

// A user mount asking for shared or slave propagation needs the rootfs to propagate too.
std::string rootfs_propagation(const std::vector<MountSpec>& mounts) {
    std::string out;
    for (const auto& m : mounts) {
        for (const auto& o : m.options) {
            if (o == "shared" || o == "rshared") return "shared";
            if (o == "slave" || o == "rslave") out = "rslave";
        }
    }
    return out;
}

void hidden_paths(const SpecInputs& in, const ContainerSecurity& sec, Json& linux) {
    if (sec.privileged || sec.security.unconfined_paths) {
        linux["maskedPaths"] = Json::array();
        linux["readonlyPaths"] = Json::array();
        return;
    }
    // HostConfig lists, even empty ones, replace the defaults (docker run --security-opt systempaths=...).
    const Json* masked = find_ci(in.host_config, "MaskedPaths");
    const Json* readonly = find_ci(in.host_config, "ReadonlyPaths");
    linux["maskedPaths"] =
        masked && masked->is_array() ? list_or_empty(in.host_config, "MaskedPaths") : default_masked_paths();
    linux["readonlyPaths"] =
        readonly && readonly->is_array() ? list_or_empty(in.host_config, "ReadonlyPaths") : default_readonly_paths();
}

// The init wraps the command only in a PID namespace of the container's own (Docker's rule).
Result<bool> wants_init(const SpecInputs& in) {
    CTL_ASSIGN_OR_RETURN(auto init, get_bool(in.host_config, "Init"));
    if (!init.value_or(false) || !in.pid_ns.empty()) return false;
    if (in.init_path.empty()) {
        return invalid("--init needs an init binary (docker-init or tini) and none is configured for the daemon");
    }
    return true;
}

Result<internal::MountPlan> mount_plan(const SpecInputs& in, const ContainerSecurity& sec, bool init) {
    internal::MountPlan plan;
    plan.privileged = sec.privileged;
    plan.readonly_rootfs = bool_or(in.host_config, "ReadonlyRootfs", false);
    plan.host_network = in.netns == "host";
    plan.host_ipc = in.ipc_ns == "host";
    CTL_ASSIGN_OR_RETURN(auto shm, get_int(in.host_config, "ShmSize"));
    if (shm && *shm < 0) return invalid("SHM size can not be less than 0");
    plan.shm_size = shm && *shm > 0 ? *shm : kDefaultShmSize;
    if (init) plan.init_path = in.init_path;
    return plan;
}

Result<ResolvedUser> user_of(const SpecInputs& in, const std::string& user) {
    auto u = resolve_user(in.rootfs, user);
    if (!u && u.error().code != Errc::InvalidArgument) {
        return with_context(std::move(u).error(), "resolving user " + user);
    }
    return u;
}

// HostConfig.GroupAdd joins the supplementary groups (execs get them too, as in Docker).
Status add_groups(const SpecInputs& in, ResolvedUser& user) {
    CTL_ASSIGN_OR_RETURN(auto names, get_string_list(in.host_config, "GroupAdd"));
    CTL_ASSIGN_OR_RETURN(auto gids, resolve_groups(in.rootfs, names.value_or(std::vector<std::string>{})));
    user.additional_gids.insert(user.additional_gids.end(), gids.begin(), gids.end());
    return ok();
}

}  // namespace

std::vector<std::string> merge_env(std::vector<std::string> base, const std::vector<std::string>& overrides) {
    std::vector<std::string> out;
    std::map<std::string, size_t> index;
    auto apply = [&](const std::string& entry, bool removal_allowed) {
        auto eq = entry.find('=');
        std::string key = entry.substr(0, eq);
        auto it = index.find(key);
        if (eq == std::string::npos) {
            // A bare KEY unsets it (only meaningful as an override).
            if (removal_allowed && it != index.end()) out[it->second].clear();
            return;
        }
        if (it != index.end() && !out[it->second].empty()) {
            out[it->second] = entry;
        } else {
            index[key] = out.size();
            out.push_back(entry);
        }
    };
    for (const auto& e : base) apply(e, false);
    for (const auto& e : overrides) apply(e, true);
    out.erase(std::remove(out.begin(), out.end(), std::string()), out.end());
    return out;
}

Result<std::vector<std::string>> command_args(const Json& image_config, const Json& config) {
    CTL_ASSIGN_OR_RETURN(auto entrypoint, get_string_list(config, "Entrypoint"));
    CTL_ASSIGN_OR_RETURN(auto cmd, get_string_list(config, "Cmd"));
    CTL_ASSIGN_OR_RETURN(auto image_entrypoint, get_string_list(image_config, "Entrypoint"));
    CTL_ASSIGN_OR_RETURN(auto image_cmd, get_string_list(image_config, "Cmd"));
    // Docker's merge: the image's Cmd only when the request has neither; the image's Entrypoint
    // only when the request has none at all (an empty list given counts as a reset).
    if (!entrypoint || entrypoint->empty()) {
        if (!cmd || cmd->empty()) cmd = image_cmd;
        if (!entrypoint) entrypoint = image_entrypoint;
    }
    if (entrypoint && entrypoint->size() == 1 && (*entrypoint)[0].empty()) entrypoint.reset();  // --entrypoint ""
    std::vector<std::string> args = entrypoint.value_or(std::vector<std::string>{});
    for (const auto& c : cmd.value_or(std::vector<std::string>{})) args.push_back(c);
    if (args.empty()) return invalid("No command specified");
    return args;
}

Result<Json> build_spec(const SpecInputs& in) {
    if (in.rootfs.empty() || in.rootfs[0] != '/') return invalid("the root file system path must be absolute");
    CTL_ASSIGN_OR_RETURN(ContainerSecurity sec, container_security(in));
    CTL_ASSIGN_OR_RETURN(auto request_env, get_string_list(in.config, "Env"));
    CTL_TRY(validate_env(request_env.value_or(std::vector<std::string>{})));

    ProcessArgs p;
    CTL_ASSIGN_OR_RETURN(p.args, command_args(in.image_config, in.config));
    CTL_ASSIGN_OR_RETURN(bool init, wants_init(in));
    if (init) p.args.insert(p.args.begin(), {kInitInContainer, "--"});
    CTL_ASSIGN_OR_RETURN(p.user, user_of(in, request_or_image(in, "User")));
    CTL_TRY(add_groups(in, p.user));
    p.tty = bool_or(in.config, "Tty", false);
    p.env = process_env(in, p.tty, {}, p.user);
    CTL_ASSIGN_OR_RETURN(p.cwd, working_dir(request_or_image(in, "WorkingDir")));
    p.caps = sec.caps;
    if (const Json* cs = find_ci(in.host_config, "ConsoleSize")) p.console_size = *cs;

    CTL_ASSIGN_OR_RETURN(internal::MountPlan plan, mount_plan(in, sec, init));
    CTL_ASSIGN_OR_RETURN(Json mounts, internal::build_mounts(in, plan));
    CTL_ASSIGN_OR_RETURN(Json resources, internal::build_resources(in.host_config, sec.privileged));
    CTL_ASSIGN_OR_RETURN(Json devices, internal::build_devices(in.host_config, sec.privileged, resources));

    Json linux = Json::object();
    CTL_ASSIGN_OR_RETURN(linux["namespaces"], namespaces(in));
    linux["resources"] = std::move(resources);
    if (!in.cgroups_path.empty()) linux["cgroupsPath"] = in.cgroups_path;
    CTL_ASSIGN_OR_RETURN(linux["sysctl"], sysctls(in));
    hidden_paths(in, sec, linux);
    CTL_ASSIGN_OR_RETURN(Json seccomp, seccomp_json(sec));
    if (!seccomp.is_null()) linux["seccomp"] = std::move(seccomp);
    if (!devices.empty()) linux["devices"] = std::move(devices);
    if (auto prop = rootfs_propagation(in.mounts); !prop.empty()) linux["rootfsPropagation"] = prop;

    Json spec = {
        {"ociVersion", "1.0.2"},
        {"process", process_json(p, sec)},
        {"root", {{"path", in.rootfs}, {"readonly", plan.readonly_rootfs}}},
        {"mounts", std::move(mounts)},
        {"linux", std::move(linux)},
    };
    std::string hostname = string_or(in.config, "Hostname");
    if (!hostname.empty() && !uts_is_host(in)) spec["hostname"] = hostname;
    return spec;
}

Result<Json> build_exec_process(const SpecInputs& in, const Json& exec) {
    CTL_ASSIGN_OR_RETURN(auto cmd, get_string_list(exec, "Cmd"));
    if (!cmd || cmd->empty()) return invalid("No exec command specified");
    CTL_ASSIGN_OR_RETURN(ContainerSecurity sec, container_security(in));
    CTL_ASSIGN_OR_RETURN(auto privileged, get_bool(exec, "Privileged"));
    CTL_ASSIGN_OR_RETURN(auto env, get_string_list(exec, "Env"));
    std::vector<std::string> exec_env = env.value_or(std::vector<std::string>{});
    CTL_TRY(validate_env(exec_env));

    ProcessArgs p;
    p.args = *cmd;
    std::string user = string_or(exec, "User");
    CTL_ASSIGN_OR_RETURN(p.user, user_of(in, user.empty() ? request_or_image(in, "User") : user));
    CTL_TRY(add_groups(in, p.user));
    p.tty = bool_or(exec, "Tty", false);
    p.env = process_env(in, p.tty, exec_env, p.user);
    std::string dir = string_or(exec, "WorkingDir");
    CTL_ASSIGN_OR_RETURN(p.cwd, working_dir(dir.empty() ? request_or_image(in, "WorkingDir") : dir));
    p.caps = privileged.value_or(false) ? internal::all_capabilities() : sec.caps;
    if (const Json* cs = find_ci(exec, "ConsoleSize")) p.console_size = *cs;
    return process_json(p, sec);
}

}  // namespace ctl::container::spec
