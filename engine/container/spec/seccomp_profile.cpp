// The default seccomp filter: everything not listed fails with EPERM. The list is Docker's default
// profile (moby profiles/seccomp/default.json) arranged by topic, with the same capability- and
// architecture-gated extras, except that io_uring is left out as Docker 25 and containerd do
// (it bypasses the filter for the operations it performs). Custom Docker-format profiles go
// through the same conversion.
#include <sys/utsname.h>

#include <cstdio>

#include "engine/container/spec/internal.hpp"
#include "engine/container/spec/oci_spec.hpp"

namespace ctl::container::spec {

namespace {

using Names = std::vector<std::string>;

struct ArgFilter {
    unsigned index = 0;
    uint64_t value = 0;
    uint64_t value_two = 0;
    std::string op;
};

// Include the rule only when every listed condition holds (Docker's "includes")...
struct Includes {
    Names caps;    // the container has all of these
    Names arches;  // the host is one of these (Go's GOARCH names)
    std::string min_kernel;
};
// ...and drop it when any holds (Docker's "excludes").
struct Excludes {
    Names caps;
    Names arches;
};

struct Rule {
    Names names;
    std::string action = "SCMP_ACT_ALLOW";
    int errno_ret = -1;  // -1: none given
    std::vector<ArgFilter> args;
    Includes includes;
    Excludes excludes;
};

struct ArchGroup {
    std::string arch;
    Names sub_arches;
};

struct Profile {
    std::string default_action = "SCMP_ACT_ERRNO";
    int default_errno_ret = -1;
    Names architectures;  // the legacy flat list
    std::vector<ArchGroup> arch_map;
    Json flags;  // passed through
    std::vector<Rule> rules;
};

// ---- the default allowlist, by topic ----------------------------------------------------------

const Names kFiles = {
    "access", "faccessat", "faccessat2", "chdir", "fchdir", "getcwd", "chmod", "fchmod", "fchmodat",
    "chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32", "creat", "open", "openat",
    "openat2", "name_to_handle_at", "close", "close_range", "link", "linkat", "symlink", "symlinkat",
    "unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "mknod",
    "mknodat", "readlink", "readlinkat", "stat", "stat64", "lstat", "lstat64", "fstat", "fstat64",
    "fstatat64", "newfstatat", "statx", "statfs", "statfs64", "fstatfs", "fstatfs64", "truncate",
    "truncate64", "ftruncate", "ftruncate64", "fallocate", "umask", "utime", "utimes", "utimensat",
    "utimensat_time64", "futimesat", "getdents", "getdents64", "flock", "fcntl", "fcntl64", "sync",
    "syncfs", "fsync", "fdatasync", "sync_file_range", "fadvise64", "fadvise64_64", "readahead",
};

const Names kXattrsAndWatches = {
    "getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr", "listxattr",
    "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr", "inotify_init",
    "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
};

const Names kReadWrite = {
    "read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "pwrite64", "pwritev",
    "pwritev2", "lseek", "_llseek", "dup", "dup2", "dup3", "pipe", "pipe2", "splice", "tee", "vmsplice",
    "sendfile", "sendfile64", "copy_file_range", "ioctl", "memfd_create", "memfd_secret",
};

const Names kWaitingForEvents = {
    "select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64",
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait", "epoll_wait_old",
    "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "signalfd", "signalfd4", "io_setup",
    "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
};

const Names kMemory = {
    "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "mlock",
    "mlock2", "mlockall", "munlock", "munlockall", "remap_file_pages", "membarrier", "pkey_alloc",
    "pkey_free", "pkey_mprotect",
};

const Names kProcesses = {
    "execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid", "waitpid", "getpid",
    "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid", "set_tid_address",
    "set_robust_list", "get_robust_list", "futex", "futex_time64", "futex_waitv", "get_thread_area",
    "set_thread_area", "rseq", "prctl", "capget", "capset", "pidfd_open", "pidfd_send_signal",
    "process_mrelease", "restart_syscall", "seccomp", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self",
};

const Names kSignals = {
    "kill", "tkill", "tgkill", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
    "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
    "sigaltstack", "sigprocmask", "sigreturn", "pause", "alarm",
};

// Reading clocks; setting them needs CAP_SYS_TIME, which the kernel checks (adjtimex too).
const Names kTime = {
    "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "nanosleep", "gettimeofday", "time", "times", "getitimer", "setitimer",
    "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64",
    "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
    "timerfd_settime", "timerfd_settime64", "adjtimex", "clock_adjtime", "clock_adjtime64",
};

const Names kIdentity = {
    "getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32",
    "getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32", "setuid",
    "setuid32", "setgid", "setgid32", "setreuid", "setreuid32", "setregid", "setregid32", "setresuid",
    "setresuid32", "setresgid", "setresgid32", "setfsuid", "setfsuid32", "setfsgid", "setfsgid32",
    "setgroups", "setgroups32",
};

const Names kSchedulingAndLimits = {
    "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr", "sched_setattr",
    "sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval",
    "sched_rr_get_interval_time64", "getpriority", "setpriority", "ioprio_get", "ioprio_set",
    "getrlimit", "ugetrlimit", "setrlimit", "prlimit64", "getrusage", "getcpu", "sysinfo", "uname",
    "getrandom",
};

const Names kIpc = {
    "ipc", "msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "shmat", "shmctl", "shmdt", "shmget", "mq_open", "mq_unlink", "mq_getsetattr",
    "mq_notify", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
};

// socket(2) itself is below, with an argument filter.
const Names kSockets = {
    "socketcall", "socketpair", "bind", "connect", "listen", "accept", "accept4", "getsockname",
    "getpeername", "getsockopt", "setsockopt", "shutdown", "send", "sendto", "sendmsg", "sendmmsg",
    "recv", "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64",
};

constexpr uint64_t kAfVsock = 40;
// CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET: clone(2) may not make namespaces.
constexpr uint64_t kCloneNamespaceFlags = 0x7E020000;
constexpr int kEnosys = 38;

// Small builders keep the table below readable.
Rule allow(Names names) {
    Rule r;
    r.names = std::move(names);
    return r;
}
Rule allow_with_cap(Names names, std::string cap) {
    Rule r = allow(std::move(names));
    r.includes.caps = {std::move(cap)};
    return r;
}
Rule allow_on(Names names, Names arches) {
    Rule r = allow(std::move(names));
    r.includes.arches = std::move(arches);
    return r;
}
Rule allow_if_arg(Names names, unsigned index, const char* op, uint64_t value) {
    Rule r = allow(std::move(names));
    ArgFilter a;
    a.index = index;
    a.op = op;
    a.value = value;
    r.args.push_back(std::move(a));
    return r;
}
Rule allow_from_kernel(Names names, std::string version) {
    Rule r = allow(std::move(names));
    r.includes.min_kernel = std::move(version);
    return r;
}
Rule fail_with(Names names, int err) {
    Rule r = allow(std::move(names));
    r.action = "SCMP_ACT_ERRNO";
    r.errno_ret = err;
    return r;
}
Rule without_cap_sys_admin(Rule r, Names except_arches) {
    r.excludes.caps = {"CAP_SYS_ADMIN"};
    r.excludes.arches = std::move(except_arches);
    return r;
}
Rule allow_personality(uint64_t persona) { return allow_if_arg({"personality"}, 0, "SCMP_CMP_EQ", persona); }

Profile make_default_profile() {
    Profile p;
    p.default_errno_ret = 1;  // EPERM
    p.arch_map = {
        {"SCMP_ARCH_X86_64", {"SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
        {"SCMP_ARCH_AARCH64", {"SCMP_ARCH_ARM"}},
    };
    p.rules = {
        allow(kFiles), allow(kXattrsAndWatches), allow(kReadWrite), allow(kWaitingForEvents),
        allow(kMemory), allow(kProcesses), allow(kSignals), allow(kTime), allow(kIdentity),
        allow(kSchedulingAndLimits), allow(kIpc), allow(kSockets),
        // Any socket family but vsock (it reaches the hypervisor's host).
        allow_if_arg({"socket"}, 0, "SCMP_CMP_NE", kAfVsock),
        // Tracing one's own children: safe once the kernel checks ptrace against seccomp (4.8).
        allow_from_kernel({"ptrace", "process_vm_readv", "process_vm_writev"}, "4.8"),
        // Linux personality, 32-bit, UNAME26, both, and the query value.
        allow_personality(0x0), allow_personality(0x8), allow_personality(0x20000),
        allow_personality(0x20008), allow_personality(0xffffffff),
        allow_on({"arch_prctl"}, {"amd64", "x32"}),
        allow_on({"modify_ldt"}, {"amd64", "x32", "x86"}),
        allow_on({"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"},
                 {"arm", "arm64"}),
        // What a capability grants, the filter grants too.
        allow_with_cap({"open_by_handle_at"}, "CAP_DAC_READ_SEARCH"),
        allow_with_cap({"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
                        "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
                        "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount",
                        "umount2", "unshare"},
                       "CAP_SYS_ADMIN"),
        allow_with_cap({"reboot"}, "CAP_SYS_BOOT"),
        allow_with_cap({"chroot"}, "CAP_SYS_CHROOT"),
        allow_with_cap({"delete_module", "init_module", "finit_module"}, "CAP_SYS_MODULE"),
        allow_with_cap({"acct"}, "CAP_SYS_PACCT"),
        allow_with_cap({"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"},
                       "CAP_SYS_PTRACE"),
        allow_with_cap({"iopl", "ioperm"}, "CAP_SYS_RAWIO"),
        allow_with_cap({"settimeofday", "stime", "clock_settime", "clock_settime64"}, "CAP_SYS_TIME"),
        allow_with_cap({"vhangup"}, "CAP_SYS_TTY_CONFIG"),
        allow_with_cap({"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}, "CAP_SYS_NICE"),
        allow_with_cap({"syslog"}, "CAP_SYSLOG"),
        allow_with_cap({"bpf"}, "CAP_BPF"),
        allow_with_cap({"perf_event_open"}, "CAP_PERFMON"),
        // Without CAP_SYS_ADMIN: fork and threads yes, new namespaces no. clone3 passes its flags in
        // memory the filter cannot see, so it reports ENOSYS and libc falls back to clone.
        without_cap_sys_admin(allow_if_arg({"clone"}, 0, "SCMP_CMP_MASKED_EQ", kCloneNamespaceFlags),
                              {"s390", "s390x"}),
        without_cap_sys_admin(fail_with({"clone3"}, kEnosys), {}),
    };
    return p;
}

// ---- conversion to the OCI form -----------------------------------------------------------------

// Go's GOARCH name of this build, which Docker's includes/excludes compare against.
std::string native_arch() {
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__i386__)
    return "x86";
#elif defined(__arm__)
    return "arm";
#else
    return "";
#endif
}

std::string native_seccomp_arch() {
    std::string a = native_arch();
    if (a == "amd64") return "SCMP_ARCH_X86_64";
    if (a == "arm64") return "SCMP_ARCH_AARCH64";
    if (a == "x86") return "SCMP_ARCH_X86";
    if (a == "arm") return "SCMP_ARCH_ARM";
    return "";
}

bool has(const Names& list, const std::string& value) {
    for (const auto& v : list) {
        if (v == value) return true;
    }
    return false;
}

bool applies(const Rule& r, const std::vector<std::string>& caps, const std::string& arch, uint64_t kernel) {
    if (has(r.excludes.arches, arch)) return false;
    for (const auto& c : r.excludes.caps) {
        if (has(caps, c)) return false;
    }
    if (!r.includes.arches.empty() && !has(r.includes.arches, arch)) return false;
    for (const auto& c : r.includes.caps) {
        if (!has(caps, c)) return false;
    }
    const std::string& min_kernel = r.includes.min_kernel;
    if (!min_kernel.empty() && kernel != 0 && kernel < internal::parse_kernel_version(min_kernel)) return false;
    return true;
}

Json rule_json(const Rule& r) {
    Json out = {{"names", r.names}, {"action", r.action}};
    if (r.errno_ret >= 0) out["errnoRet"] = r.errno_ret;
    if (!r.args.empty()) {
        Json args = Json::array();
        for (const auto& a : r.args) {
            args.push_back({{"index", a.index}, {"value", a.value}, {"valueTwo", a.value_two}, {"op", a.op}});
        }
        out["args"] = std::move(args);
    }
    return out;
}

Json to_oci(const Profile& p, const std::vector<std::string>& caps) {
    std::string arch = native_arch();
    uint64_t kernel = internal::kernel_version();
    Json out = {{"defaultAction", p.default_action}};
    if (p.default_errno_ret >= 0) out["defaultErrnoRet"] = p.default_errno_ret;
    Json arches = Json::array();
    for (const auto& a : p.architectures) arches.push_back(a);
    std::string native = native_seccomp_arch();
    for (const auto& group : p.arch_map) {
        if (group.arch != native) continue;
        arches.push_back(group.arch);
        for (const auto& sub : group.sub_arches) arches.push_back(sub);
    }
    out["architectures"] = std::move(arches);
    if (!p.flags.is_null()) out["flags"] = p.flags;
    Json syscalls = Json::array();
    for (const auto& r : p.rules) {
        if (applies(r, caps, arch, kernel)) syscalls.push_back(rule_json(r));
    }
    out["syscalls"] = std::move(syscalls);
    return out;
}

// ---- Docker-format profiles from --security-opt seccomp=<json> ---------------------------------

Error bad_profile(const std::string& what) {
    return make_error(Errc::InvalidArgument, "Decoding seccomp profile failed: " + what);
}

Result<Names> names_of(const Json& obj, const char* key) {
    auto list = get_string_list(obj, key);
    if (!list) return bad_profile(list.error().message);
    return list->value_or(Names{});
}

Result<uint64_t> unsigned_of(const Json& obj, const char* key) {
    const Json* v = find_ci(obj, key);
    if (!v) return uint64_t{0};
    if (!v->is_number_integer() || (v->is_number_integer() && !v->is_number_unsigned() && v->get<int64_t>() < 0)) {
        return bad_profile(std::string(key) + " must be a non-negative integer");
    }
    return v->get<uint64_t>();
}

Result<Rule> parse_rule(const Json& j) {
    if (!j.is_object()) return bad_profile("each syscalls entry must be an object");
    Rule r;
    CTL_ASSIGN_OR_RETURN(r.names, names_of(j, "names"));
    std::string name = string_or(j, "name");
    if (!name.empty() && !r.names.empty()) {
        return make_error(Errc::InvalidArgument,
                          "'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'");
    }
    if (!name.empty()) r.names = {name};
    r.action = string_or(j, "action");
    if (r.action.empty()) return bad_profile("a syscalls entry has no action");
    if (const Json* e = find_ci(j, "errnoRet")) {
        if (!e->is_number_integer()) return bad_profile("errnoRet must be an integer");
        r.errno_ret = e->get<int>();
    }
    if (const Json* args = find_ci(j, "args"); args && args->is_array()) {
        for (const auto& a : *args) {
            ArgFilter f;
            CTL_ASSIGN_OR_RETURN(uint64_t index, unsigned_of(a, "index"));
            CTL_ASSIGN_OR_RETURN(f.value, unsigned_of(a, "value"));
            CTL_ASSIGN_OR_RETURN(f.value_two, unsigned_of(a, "valueTwo"));
            f.index = static_cast<unsigned>(index);
            f.op = string_or(a, "op");
            r.args.push_back(std::move(f));
        }
    }
    if (const Json* inc = find_ci(j, "includes")) {
        CTL_ASSIGN_OR_RETURN(r.includes.caps, names_of(*inc, "caps"));
        CTL_ASSIGN_OR_RETURN(r.includes.arches, names_of(*inc, "arches"));
        r.includes.min_kernel = string_or(*inc, "minKernel");
    }
    if (const Json* exc = find_ci(j, "excludes")) {
        CTL_ASSIGN_OR_RETURN(r.excludes.caps, names_of(*exc, "caps"));
        CTL_ASSIGN_OR_RETURN(r.excludes.arches, names_of(*exc, "arches"));
    }
    return r;
}

Result<Profile> parse_profile(const Json& j) {
    if (!j.is_object()) return bad_profile("the profile must be a JSON object");
    Profile p;
    p.default_action = string_or(j, "defaultAction");
    if (p.default_action.empty()) return bad_profile("defaultAction is missing");
    if (const Json* e = find_ci(j, "defaultErrnoRet")) {
        if (!e->is_number_integer()) return bad_profile("defaultErrnoRet must be an integer");
        p.default_errno_ret = e->get<int>();
    }
    CTL_ASSIGN_OR_RETURN(p.architectures, names_of(j, "architectures"));
    if (const Json* map = find_ci(j, "archMap"); map && map->is_array()) {
        if (!p.architectures.empty()) {
            return make_error(Errc::InvalidArgument, "'architectures' and 'archMap' were specified in the seccomp "
                                                     "profile, use either 'architectures' or 'archMap'");
        }
        for (const auto& m : *map) {
            ArchGroup g{string_or(m, "architecture"), {}};
            CTL_ASSIGN_OR_RETURN(g.sub_arches, names_of(m, "subArchitectures"));
            p.arch_map.push_back(std::move(g));
        }
    }
    if (const Json* flags = find_ci(j, "flags")) p.flags = *flags;
    if (const Json* calls = find_ci(j, "syscalls"); calls && calls->is_array()) {
        for (const auto& c : *calls) {
            CTL_ASSIGN_OR_RETURN(Rule r, parse_rule(c));
            p.rules.push_back(std::move(r));
        }
    }
    return p;
}

}  // namespace

namespace internal {

uint64_t parse_kernel_version(std::string_view text) {
    unsigned major = 0, minor = 0, patch = 0;
    std::string s(text);
    if (std::sscanf(s.c_str(), "%u.%u.%u", &major, &minor, &patch) < 1) return 0;
    return uint64_t{major} * 1000000 + uint64_t{minor} * 1000 + patch;
}

uint64_t kernel_version() {
    static const uint64_t version = [] {
        struct utsname u{};
        return ::uname(&u) == 0 ? parse_kernel_version(u.release) : uint64_t{0};
    }();
    return version;
}

}  // namespace internal

Json default_seccomp_profile(const std::vector<std::string>& caps) {
    static const Profile profile = make_default_profile();
    return to_oci(profile, caps);
}

Result<Json> seccomp_from_docker_profile(const Json& profile, const std::vector<std::string>& caps) {
    CTL_ASSIGN_OR_RETURN(Profile p, parse_profile(profile));
    return to_oci(p, caps);
}

}  // namespace ctl::container::spec
