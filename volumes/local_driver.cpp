#include "volumes/local_driver.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "engine/base/log.hpp"
#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"
#include "graphdriver/internal/fs.hpp"

namespace ctl::volumes {

namespace fs = ctl::graph::internal;

namespace {

constexpr std::string_view kStagingPrefix = ".tmp-";
constexpr std::string_view kRemovingPrefix = ".rm-";

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
}

bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// The flag words of mount(8) that moby/sys/mount turns into flags ({clear, flag}).
struct FlagWord {
    const char* word;
    bool clear;
    unsigned long flag;
};
constexpr FlagWord kFlagWords[] = {
    {"defaults", false, 0},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"suid", true, MS_NOSUID},
    {"nosuid", false, MS_NOSUID},
    {"dev", true, MS_NODEV},
    {"nodev", false, MS_NODEV},
    {"exec", true, MS_NOEXEC},
    {"noexec", false, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
};
constexpr FlagWord kPropagationWords[] = {
    {"private", false, MS_PRIVATE},
    {"rprivate", false, MS_PRIVATE | MS_REC},
    {"shared", false, MS_SHARED},
    {"rshared", false, MS_SHARED | MS_REC},
    {"slave", false, MS_SLAVE},
    {"rslave", false, MS_SLAVE | MS_REC},
    {"unbindable", false, MS_UNBINDABLE},
    {"runbindable", false, MS_UNBINDABLE | MS_REC},
};

Error mount_error(std::string what, int err) {
    Error e = sys_error(what, err);
    e.code = Errc::Internal;  // Docker reports failed mounts as system errors (500)
    return e;
}

Status fsync_dir(const std::string& dir) {
    sys::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return sys_error("open " + dir);
    if (::fsync(fd.get()) != 0) return sys_error("fsync " + dir);
    return ok();
}

}  // namespace

bool valid_volume_name(const std::string& name) {
    if (name.size() < 2 || name.size() > 255 || !alnum(name[0])) return false;
    for (char c : name) {
        if (!name_char(c)) return false;
    }
    return true;
}

Status validate_volume_name(const std::string& name) {
    if (name.size() == 1) {
        return make_error(Errc::InvalidArgument,
                          "volume name is too short, names should be at least two alphanumeric characters");
    }
    if (name.size() > 255) return make_error(Errc::InvalidArgument, "volume name is too long (at most 255 characters)");
    if (!valid_volume_name(name)) {
        return make_error(Errc::InvalidArgument,
                          "\"" + name +
                              "\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" "
                              "are allowed. If you intended to pass a host directory, use absolute path");
    }
    return ok();
}

MountOptions parse_mount_options(std::string_view o) {
    MountOptions out;
    for (const auto& raw : split(o, ',')) {
        std::string word = trim(raw);
        if (word.empty()) continue;
        bool known = false;
        for (const auto& f : kFlagWords) {
            if (word == f.word) {
                if (f.clear) out.flags &= ~f.flag;
                else out.flags |= f.flag;
                known = true;
                break;
            }
        }
        for (const auto& f : kPropagationWords) {
            if (!known && word == f.word) {
                out.propagation = f.flag;
                known = true;
            }
        }
        if (!known) out.data += (out.data.empty() ? "" : ",") + word;
    }
    return out;
}

// ---- LocalDriver ----

Status LocalDriver::init() {
    CTL_TRY(sys::mkdir_all(root_, 0701));
    if (::chmod(root_.c_str(), 0701) != 0) return sys_error("chmod " + root_);
    return ok();
}

Status LocalDriver::validate(const Options& opts) const {
    static const std::set<std::string> kValid = {"type", "device", "o", "size"};
    for (const auto& [key, value] : opts) {
        if (!kValid.count(key)) {
            return make_error(Errc::InvalidArgument,
                              "invalid option: \"" + key + "\" (the local driver accepts type, device and o)");
        }
    }
    if (opts.count("size")) {
        return make_error(Errc::InvalidArgument, "quota size requested but no quota support");
    }
    // Docker's mandatory pairs: device needs type, type needs device, o needs both.
    static const std::vector<std::pair<std::string, std::vector<std::string>>> kMandatory = {
        {"device", {"type"}}, {"type", {"device"}}, {"o", {"device", "type"}}};
    for (const auto& [opt, required] : kMandatory) {
        if (!opts.count(opt)) continue;
        for (const auto& r : required) {
            if (!opts.count(r)) return make_error(Errc::InvalidArgument, "missing required option: \"" + r + "\"");
        }
    }
    if (auto o = opts.find("o"); o != opts.end()) {
        MountOptions parsed = parse_mount_options(o->second);
        if (parsed.flags & MS_REMOUNT) {
            return make_error(Errc::InvalidArgument, "invalid mount option \"remount\" for a volume");
        }
        if (parsed.flags & MS_BIND) {
            const std::string& device = opts.at("device");
            if (device.empty() || device[0] != '/') {
                return make_error(Errc::InvalidArgument,
                                  "invalid device \"" + device + "\" for a bind volume: it must be an absolute host path");
            }
        }
    }
    if (auto device = opts.find("device"); device != opts.end() && device->second.empty()) {
        return make_error(Errc::InvalidArgument, "invalid option: \"device\" must not be empty");
    }
    return ok();
}

bool LocalDriver::needs_mount(const Options& opts) const {
    auto type = opts.find("type");
    auto device = opts.find("device");
    return (type != opts.end() && !type->second.empty()) || (device != opts.end() && !device->second.empty());
}

Status LocalDriver::create(const std::string& name, const Options& opts) {
    CTL_TRY(validate_volume_name(name));
    std::string staging = root_ + "/" + std::string(kStagingPrefix) + fs::random_name();
    if (::mkdir(staging.c_str(), 0755) != 0) return sys_error("mkdir " + staging);
    fs::ScopeExit undo([&] { (void)fs::remove_tree(staging); });
    std::string data = staging + "/_data";
    if (::mkdir(data.c_str(), 0755) != 0) return sys_error("mkdir " + data);
    // Independent of the umask, as Docker's.
    if (::chmod(staging.c_str(), 0755) != 0 || ::chmod(data.c_str(), 0755) != 0) return sys_error("chmod " + staging);
    std::string target = root_ + "/" + name;
    if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
        if (errno == EEXIST) return make_error(Errc::AlreadyExists, "volume directory " + target + " already exists");
        return sys_error("rename " + staging);
    }
    undo.dismiss();
    return fsync_dir(root_);
}

Status LocalDriver::unmount_path(const std::string& dir) const {
    // Several mounts may be stacked at one point (a crash between two of our own mounts).
    for (int i = 0; i < 16 && fs::is_mountpoint(dir); ++i) {
        if (::umount2(dir.c_str(), MNT_DETACH) != 0) {
            if (errno == EINVAL && !fs::is_mountpoint(dir)) break;
            return mount_error("unmount " + dir, errno);
        }
    }
    return ok();
}

Status LocalDriver::delete_entry(const std::string& entry) {
    std::string dir = root_ + "/" + entry;
    CTL_TRY(unmount_path(dir + "/_data"));
    // remove_tree neither follows symlinks nor descends into a mount: whatever is still mounted
    // below makes it fail (Conflict) instead of emptying someone else's file system.
    return fs::remove_tree(dir);
}

Status LocalDriver::remove(const std::string& name) {
    CTL_TRY(validate_volume_name(name));
    std::string dir = root_ + "/" + name;
    if (!sys::exists(dir)) return ok();
    CTL_TRY(unmount_path(dir + "/_data"));
    std::string doomed = std::string(kRemovingPrefix) + fs::random_name();
    std::string doomed_path = root_ + "/" + doomed;
    if (::rename(dir.c_str(), doomed_path.c_str()) != 0) {
        if (errno == ENOENT) return ok();
        return sys_error("rename " + dir);
    }
    // From here the volume is gone; a crash leaves a ".rm-" entry that sweep() deletes.
    if (auto st = delete_entry(doomed); !st) {
        return with_context(st.error(), "remove volume data " + doomed_path);
    }
    return ok();
}

bool LocalDriver::exists(const std::string& name) const {
    struct stat st;
    return valid_volume_name(name) && ::lstat((root_ + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<std::vector<std::string>> LocalDriver::list() {
    CTL_ASSIGN_OR_RETURN(auto dir, fs::open_dir(root_));
    CTL_ASSIGN_OR_RETURN(auto names, fs::list_dir(dir.get()));
    std::vector<std::string> out;
    for (auto& n : names) {
        if (valid_volume_name(n)) out.push_back(std::move(n));
    }
    return out;
}

Status LocalDriver::mount(const std::string& name, const Options& opts) {
    if (!needs_mount(opts) || mounted(name)) return ok();
    auto device_it = opts.find("device");
    if (device_it == opts.end() || device_it->second.empty()) {
        return make_error(Errc::InvalidArgument, "missing device in volume options");
    }
    const std::string& device = device_it->second;
    std::string type = opts.count("type") ? opts.at("type") : "";
    std::string target = path(name);
    MountOptions mo = parse_mount_options(opts.count("o") ? opts.at("o") : "");
    auto describe = [&](unsigned long flags, std::string data) {
        // cifs and friends take credentials in `o`: never echo them (Docker masks them too).
        for (auto pos = data.find("password="); pos != std::string::npos; pos = data.find("password=", pos + 1)) {
            auto end = data.find(',', pos);
            data.replace(pos + 9, (end == std::string::npos ? data.size() : end) - pos - 9, "********");
        }
        char hex[32];
        std::snprintf(hex, sizeof hex, "0x%lx", flags);
        return "failed to mount local volume: mount " + device + ":" + target + ", flags: " + hex + ", data: " + data;
    };
    // A bind takes no file system type; a read-only bind needs a remount to apply the flags.
    unsigned long first = mo.flags;
    if (mo.flags & MS_BIND) first = mo.flags & (MS_BIND | MS_REC);
    const char* fstype = (mo.flags & MS_BIND) || type.empty() ? "none" : type.c_str();
    if (::mount(device.c_str(), target.c_str(), fstype, first, mo.data.empty() ? nullptr : mo.data.c_str()) != 0) {
        return mount_error(describe(first, mo.data), errno);
    }
    fs::ScopeExit undo([&] { (void)::umount2(target.c_str(), MNT_DETACH); });
    if ((mo.flags & MS_BIND) && (mo.flags & ~(MS_BIND | MS_REC)) != 0) {
        unsigned long remount = (mo.flags & ~MS_REC) | MS_REMOUNT;
        if (::mount("", target.c_str(), nullptr, remount, nullptr) != 0) {
            return mount_error(describe(remount, ""), errno);
        }
    }
    if (mo.propagation != 0 && ::mount("", target.c_str(), nullptr, mo.propagation, nullptr) != 0) {
        return mount_error(describe(mo.propagation, ""), errno);
    }
    undo.dismiss();
    return ok();
}

Status LocalDriver::unmount(const std::string& name) {
    CTL_TRY(validate_volume_name(name));
    return unmount_path(path(name));
}

bool LocalDriver::mounted(const std::string& name) const {
    return valid_volume_name(name) && fs::is_mountpoint(path(name));
}

int64_t LocalDriver::usage(const std::string& name, const Options& opts) {
    if (!opts.empty()) return -1;  // Docker sizes only plain local volumes
    return sys::disk_usage(path(name));
}

void LocalDriver::sweep(const std::set<std::string>& known) {
    auto dir = fs::open_dir(root_);
    if (!dir) {
        log::warn("volumes: cannot read {}: {}", root_, dir.error().message);
        return;
    }
    auto names = fs::list_dir(dir->get());
    if (!names) return;
    for (const auto& n : *names) {
        bool leftover = starts_with(n, kStagingPrefix) || starts_with(n, kRemovingPrefix);
        bool orphan = valid_volume_name(n) && !known.count(n);
        if (!leftover && !orphan) continue;
        if (orphan) log::warn("volumes: removing {}/{}: no volume of that name is recorded (left by a crash)", root_, n);
        if (auto st = delete_entry(n); !st) log::warn("volumes: cannot remove {}/{}: {}", root_, n, st.error().message);
    }
}

}  // namespace ctl::volumes
