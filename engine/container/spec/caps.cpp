// Capabilities as Docker computes them (moby oci/caps): its default set, CapAdd/CapDrop with or
// without the CAP_ prefix in any case, "ALL" on either side, everything when privileged.
#include <sys/prctl.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"
#include "engine/container/spec/internal.hpp"
#include "engine/container/spec/oci_spec.hpp"

namespace ctl::container::spec {

namespace internal {

namespace {

// Index = capability number (linux/capability.h).
constexpr const char* kCapabilityNames[] = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
constexpr int kKnownCapabilities = sizeof kCapabilityNames / sizeof kCapabilityNames[0];

// The kernel's highest capability: asking a runtime for more than it knows fails the start.
int last_capability() {
    auto text = sys::read_file("/proc/sys/kernel/cap_last_cap");
    if (!text) return kKnownCapabilities - 1;
    int last = 0;
    if (std::sscanf(text->c_str(), "%d", &last) != 1 || last < 0) return kKnownCapabilities - 1;
    return std::min(last, kKnownCapabilities - 1);
}

// A process can only hand out capabilities in its own bounding set: asking a runtime for more
// fails every start with "unable to apply caps" (some sandboxes run the engine without a few).
bool in_own_bounding_set(int cap) { return ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1; }

int capability_number(const std::string& name) {
    for (int i = 0; i < kKnownCapabilities; ++i) {
        if (name == kCapabilityNames[i]) return i;
    }
    return -1;
}

bool contains(const std::vector<std::string>& list, const std::string& value) {
    return std::find(list.begin(), list.end(), value) != list.end();
}

void add_unique(std::vector<std::string>& list, const std::string& value) {
    if (!contains(list, value)) list.push_back(value);
}

// "sys_admin", "CAP_SYS_ADMIN", "Sys_Admin" -> "CAP_SYS_ADMIN"; "all" -> "ALL".
Result<std::vector<std::string>> normalize(const std::vector<std::string>& names) {
    std::vector<std::string> out;
    for (const auto& raw : names) {
        std::string name = trim(raw);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
        if (name != "ALL" && !starts_with(name, "CAP_")) name = "CAP_" + name;
        int number = capability_number(name);
        if (name != "ALL" && (number < 0 || number > last_capability())) {
            return make_error(Errc::InvalidArgument, "unknown capability: \"" + name + "\"");
        }
        add_unique(out, name);
    }
    return out;
}

}  // namespace

const std::vector<std::string>& all_capabilities() {
    static const std::vector<std::string> caps = [] {
        std::vector<std::string> out;
        for (int i = 0; i <= last_capability(); ++i) {
            if (in_own_bounding_set(i)) out.emplace_back(kCapabilityNames[i]);
        }
        return out;
    }();
    return caps;
}

const std::vector<std::string>& default_capabilities() {
    static const std::vector<std::string> caps = [] {
        std::vector<std::string> out;
        for (const char* c : {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                              "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                              "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}) {
            if (contains(all_capabilities(), c)) out.emplace_back(c);
        }
        return out;
    }();
    return caps;
}

std::string capability_name(int cap) {
    return cap >= 0 && cap < kKnownCapabilities ? kCapabilityNames[cap] : "";
}

bool own_effective_capability(int cap) {
    auto status = sys::read_file("/proc/self/status");
    if (!status) return false;
    auto at = status->find("CapEff:");
    if (at == std::string::npos) return false;
    unsigned long long mask = std::strtoull(status->c_str() + at + 7, nullptr, 16);
    return cap < 64 && (mask >> cap) & 1ULL;
}

}  // namespace internal

Result<std::vector<std::string>> effective_capabilities(const std::vector<std::string>& add_names,
                                                        const std::vector<std::string>& drop_names, bool privileged) {
    if (privileged) return internal::all_capabilities();
    CTL_ASSIGN_OR_RETURN(auto add, internal::normalize(add_names));
    CTL_ASSIGN_OR_RETURN(auto drop, internal::normalize(drop_names));
    std::vector<std::string> out;
    if (internal::contains(add, "ALL")) {
        // Everything but what is dropped.
        for (const auto& c : internal::all_capabilities()) {
            if (!internal::contains(drop, c)) out.push_back(c);
        }
        return out;
    }
    if (!internal::contains(drop, "ALL")) {
        for (const auto& c : internal::default_capabilities()) {
            if (!internal::contains(drop, c)) out.push_back(c);
        }
    }
    // Docker applies adds after drops, so "--cap-drop X --cap-add X" keeps X.
    for (const auto& c : add) {
        if (!internal::contains(internal::all_capabilities(), c)) {
            return make_error(Errc::InvalidArgument,
                              "capability " + c + " cannot be granted: ctld itself runs without it");
        }
        internal::add_unique(out, c);
    }
    return out;
}

}  // namespace ctl::container::spec
