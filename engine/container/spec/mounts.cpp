// The container's mounts in Docker's order (moby oci/defaults.go and WithMounts): the kernel file
// systems every container gets, the generated /etc files, then volumes and binds, parents first.
#include <algorithm>

#include "engine/base/util.hpp"
#include "engine/container/spec/internal.hpp"

namespace ctl::container::spec::internal {

namespace {

using Options = std::vector<std::string>;

Json mount(const std::string& dest, const std::string& type, const std::string& source, Options options) {
    return Json{{"destination", dest}, {"type", type}, {"source", source}, {"options", std::move(options)}};
}

void remove_option(Json& m, const std::string& option) {
    auto& opts = m["options"];
    opts.erase(std::remove(opts.begin(), opts.end(), Json(option)), opts.end());
}

// "/a//b/" -> "/a/b"; InvalidArgument for relative paths and ".." (it could climb out of the rootfs).
Result<std::string> clean_destination(const std::string& dest) {
    if (dest.empty() || dest[0] != '/') {
        return make_error(Errc::InvalidArgument, "invalid mount config: mount path must be absolute: " + dest);
    }
    std::string out;
    for (const auto& part : split(dest, '/')) {
        if (part.empty() || part == ".") continue;
        if (part == "..") {
            return make_error(Errc::InvalidArgument, "invalid mount config: mount path contains '..': " + dest);
        }
        out += "/" + part;
    }
    return out.empty() ? "/" : out;
}

size_t depth(const Json& m) {
    const std::string& d = m["destination"].get_ref<const std::string&>();
    return d == "/" ? 0 : static_cast<size_t>(std::count(d.begin(), d.end(), '/'));
}

Json default_mounts(const MountPlan& plan) {
    Json out = Json::array();
    out.push_back(mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}));
    out.push_back(mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}));
    out.push_back(mount("/dev/pts", "devpts", "devpts",
                        {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}));
    if (plan.host_ipc) {
        out.push_back(mount("/dev/shm", "bind", "/dev/shm", {"rbind", "nosuid", "noexec", "nodev", "rprivate"}));
    } else {
        out.push_back(mount("/dev/shm", "tmpfs", "shm",
                            {"nosuid", "noexec", "nodev", "mode=1777", "size=" + std::to_string(plan.shm_size)}));
    }
    out.push_back(mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
    if (plan.host_network) {
        // Not recursive: the host's submounts of /sys (debugfs, securityfs, ...) stay out.
        out.push_back(mount("/sys", "bind", "/sys", {"bind", "nosuid", "noexec", "nodev", "ro"}));
    } else {
        out.push_back(mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}));
    }
    out.push_back(mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "ro"}));
    if (!plan.init_path.empty()) {
        out.push_back(mount("/sbin/docker-init", "bind", plan.init_path, {"bind", "ro"}));
    }
    return out;
}

Json etc_mounts(const SpecInputs& in, bool readonly) {
    Json out = Json::array();
    auto add = [&](const std::string& source, const char* dest) {
        if (source.empty()) return;
        Options opts = {"rbind"};
        if (readonly) opts.push_back("ro");  // --read-only covers the generated files too (Docker)
        opts.push_back("rprivate");
        out.push_back(mount(dest, "bind", source, std::move(opts)));
    };
    add(in.hostname_path, "/etc/hostname");
    add(in.hosts_path, "/etc/hosts");
    add(in.resolv_conf_path, "/etc/resolv.conf");
    return out;
}

}  // namespace

Result<Json> build_mounts(const SpecInputs& in, const MountPlan& plan) {
    // User mounts first, cleaned: they decide which defaults go.
    Json user = Json::array();
    std::vector<std::string> user_dests;
    for (const auto& m : in.mounts) {
        CTL_ASSIGN_OR_RETURN(std::string dest, clean_destination(m.destination));
        if (m.type.empty()) return make_error(Errc::InvalidArgument, "invalid mount config for " + dest + ": no type");
        user.push_back(mount(dest, m.type, m.source, m.options));
        user_dests.push_back(dest);
    }
    auto replaced = [&](const std::string& dest) {
        for (const auto& u : user_dests) {
            // A user /dev replaces everything Docker mounts under it.
            if (u == dest || (u == "/dev" && starts_with(dest, "/dev/"))) return true;
        }
        return false;
    };

    Json out = Json::array();
    for (auto& m : default_mounts(plan)) {
        const std::string dest = m["destination"].get<std::string>();
        if (replaced(dest)) continue;
        if (plan.privileged && (dest == "/sys" || dest == "/sys/fs/cgroup")) remove_option(m, "ro");
        out.push_back(std::move(m));
    }

    // The generated files and the user mounts, ordered by depth (stable: equal depths keep the
    // order given) so that a mount never lands under one that comes after it and hides it.
    std::vector<Json> layered;
    for (auto& m : etc_mounts(in, plan.readonly_rootfs)) {
        if (!replaced(m["destination"].get<std::string>())) layered.push_back(std::move(m));
    }
    for (auto& m : user) layered.push_back(std::move(m));
    std::stable_sort(layered.begin(), layered.end(), [](const Json& a, const Json& b) { return depth(a) < depth(b); });
    for (auto& m : layered) out.push_back(std::move(m));
    return out;
}

}  // namespace ctl::container::spec::internal
