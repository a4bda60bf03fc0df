#include "graphdriver/internal/overlay_driver.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <system_error>
#include <thread>

#include "engine/base/sys.hpp"
#include "graphdriver/internal/changes.hpp"
#include "graphdriver/internal/fs.hpp"

namespace ctl::graph::internal {

namespace {

// index=off: the inode index would tie lowers to one upper and make remounts fail with EBUSY.
// redirect_dir=off / metacopy=off: renamed directories and metadata-only copy-ups would be stored
// as trusted.overlay.* xattrs that a tar of the upper dir cannot express, making diffs wrong.
constexpr const char* kMountOptions = ",index=off,redirect_dir=off,metacopy=off";

Status mount_overlay(const std::string& cwd, const std::string& target, const std::string& data, bool read_only) {
    if (data.size() + 1 > static_cast<size_t>(::getpagesize())) {
        return make_error(Errc::InvalidArgument, "too many layers: overlay mount options exceed a page");
    }
    Status result;
    try {
        std::thread worker([&] {
            // Private cwd for this thread only: the process-wide cwd stays untouched.
            if (::unshare(CLONE_FS) != 0) {
                result = sys_error("unshare(CLONE_FS)");
                return;
            }
            if (::chdir(cwd.c_str()) != 0) {
                result = sys_error("chdir " + cwd);
                return;
            }
            unsigned long flags = read_only ? MS_RDONLY : 0;
            if (::mount("overlay", target.c_str(), "overlay", flags, data.c_str()) != 0) {
                result = sys_error("mount overlay on " + target);
            }
        });
        worker.join();
    } catch (const std::system_error& e) {
        return make_error(Errc::Internal, std::string("starting mount thread: ") + e.what());
    }
    return result;
}

Status detach(const std::string& path) {
    if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
        return sys_error("unmount " + path);
    }
    return ok();
}

std::string trim_newline(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

Status make_dir(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) != 0) return sys_error("mkdir " + path);
    if (::chmod(path.c_str(), mode) != 0) return sys_error("chmod " + path);  // beat the umask
    return ok();
}

Status sync_dir(const std::string& path) {
    auto fd = open_dir(path);
    if (!fd) return fd.error();
    if (::fsync(fd->get()) != 0) return sys_error("fsync " + path);
    return ok();
}

Status rename_noreplace(const std::string& from, const std::string& to) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0) {
        return sys_error("rename " + from + " to " + to);
    }
    return ok();
}

}  // namespace

Result<std::unique_ptr<GraphDriver>> OverlayDriver::open(const std::string& home) {
    std::unique_ptr<OverlayDriver> d(new OverlayDriver(home));
    CTL_TRY(d->init());
    return std::unique_ptr<GraphDriver>(std::move(d));
}

Status OverlayDriver::init() {
    CTL_TRY(sys::mkdir_all(home_ + "/l"));
    if (::chmod(home_.c_str(), 0700) != 0) return sys_error("chmod " + home_);
    // Layer mounts must not propagate into other namespaces (containers' rslave views of /): make
    // home a private mount, bind-mounting it onto itself first when it is a plain directory.
    if (!is_mountpoint(home_)) {
        if (::mount(home_.c_str(), home_.c_str(), nullptr, MS_BIND, nullptr) != 0) return sys_error("bind mount " + home_);
        home_bound_ = true;
    } else if (is_bind_of_subdir(home_)) {
        home_bound_ = true;  // left by a ctld that was killed: unmount it at cleanup like our own
    }
    if (::mount(nullptr, home_.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) return sys_error("make private " + home_);
    sweep_temp_dirs(home_);
    // l/ links whose layer never got renamed into place (crash during create).
    if (auto lfd = open_dir(home_ + "/l")) {
        if (auto names = list_dir(lfd->get())) {
            for (const auto& n : *names) {
                if (::faccessat(lfd->get(), n.c_str(), F_OK, 0) != 0 && errno == ENOENT) ::unlinkat(lfd->get(), n.c_str(), 0);
            }
        }
    }
    return ok();
}

OverlayDriver::~OverlayDriver() {
    if (!cleaned_) (void)cleanup();
}

std::string OverlayDriver::reserve_temp() {
    std::string name = "tmp-" + random_name();
    temps_.insert(name);
    return name;
}

void OverlayDriver::release_temp(const std::string& name) {
    std::lock_guard lock(mu_);
    temps_.erase(name);
}

bool OverlayDriver::exists_locked(const std::string& id) const {
    struct stat st;
    return ::lstat((layer_dir(id) + "/diff").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool OverlayDriver::exists(const std::string& id) const {
    if (!validate_id(id)) return false;
    std::lock_guard lock(mu_);
    return exists_locked(id);
}

Result<std::string> OverlayDriver::read_meta(const std::string& id, const char* file) const {
    auto text = sys::read_file(layer_dir(id) + "/" + file);
    if (!text) return text.error();
    return trim_newline(std::move(text).value());
}

Result<std::string> OverlayDriver::parent(const std::string& id) const {
    CTL_TRY(validate_id(id));
    if (!exists(id)) return make_error(Errc::NotFound, "layer " + id + " not found");
    return read_meta(id, "parent");
}

Result<std::vector<std::string>> OverlayDriver::lower_dirs(const std::string& id) const {
    CTL_ASSIGN_OR_RETURN(auto lower, read_meta(id, "lower"));
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < lower.size()) {
        size_t colon = lower.find(':', pos);
        if (colon == std::string::npos) colon = lower.size();
        if (colon > pos) out.push_back(home_ + "/" + lower.substr(pos, colon - pos));
        pos = colon + 1;
    }
    return out;
}

Status OverlayDriver::create(const std::string& id, const std::string& parent, bool rw) {
    CTL_TRY(validate_id(id));
    if (!parent.empty()) CTL_TRY(validate_id(parent));
    std::string tmp_name;
    {
        std::lock_guard lock(mu_);
        if (busy_.count(id) || exists_locked(id)) return make_error(Errc::AlreadyExists, "layer " + id + " already exists");
        if (!parent.empty() && (busy_.count(parent) || !exists_locked(parent))) {
            return make_error(Errc::NotFound, "parent layer " + parent + " not found");
        }
        busy_.insert(id);
        tmp_name = reserve_temp();
    }
    std::string tmp = home_ + "/" + tmp_name;
    std::string link = random_name();
    std::string link_path = home_ + "/l/" + link;
    bool renamed = false;
    ScopeExit undo([&] {
        if (!renamed) {
            ::unlink(link_path.c_str());
            (void)remove_tree(tmp);
        }
        std::lock_guard lock(mu_);
        busy_.erase(id);
        temps_.erase(tmp_name);
    });

    std::string lower;
    if (!parent.empty()) {
        CTL_ASSIGN_OR_RETURN(auto parent_link, read_meta(parent, "link"));
        CTL_ASSIGN_OR_RETURN(auto parent_lower, read_meta(parent, "lower"));
        lower = "l/" + parent_link + (parent_lower.empty() ? "" : ":" + parent_lower);
    }
    CTL_TRY(make_dir(tmp, 0700));
    CTL_TRY(make_dir(tmp + "/diff", 0755));
    CTL_TRY(make_dir(tmp + "/work", 0700));
    CTL_TRY(make_dir(tmp + "/merged", 0700));
    // The temp dir is renamed into place as a whole: each file needs its data synced, not a
    // rename of its own, and one fsync of the dir covers all the names.
    CTL_TRY(sys::write_file_synced(tmp + "/link", link, 0600));
    CTL_TRY(sys::write_file_synced(tmp + "/lower", lower, 0600));
    CTL_TRY(sys::write_file_synced(tmp + "/parent", parent, 0600));
    if (rw) CTL_TRY(sys::write_file_synced(tmp + "/rw", "", 0600));
    CTL_TRY(sync_dir(tmp));
    if (::symlink(("../" + id + "/diff").c_str(), link_path.c_str()) != 0) return sys_error("symlink " + link_path);
    if (auto st = rename_noreplace(tmp, layer_dir(id)); !st) {
        if (st.error().code == Errc::AlreadyExists) return make_error(Errc::AlreadyExists, "layer " + id + " already exists");
        return st;
    }
    renamed = true;
    return sync_dir(home_);
}

Result<ApplyStats> OverlayDriver::apply_diff(const std::string& id, ReadFn read) {
    CTL_TRY(validate_id(id));
    std::string tmp_name;
    {
        std::lock_guard lock(mu_);
        if (busy_.count(id)) return make_error(Errc::Conflict, "layer " + id + " is busy");
        if (!exists_locked(id)) return make_error(Errc::NotFound, "layer " + id + " not found");
        if (mounts_.count(id)) return make_error(Errc::Conflict, "layer " + id + " is mounted");
        if (sys::exists(layer_dir(id) + "/applied")) return make_error(Errc::Conflict, "layer " + id + " is already applied");
        busy_.insert(id);
        tmp_name = reserve_temp();
    }
    std::string tmp = home_ + "/" + tmp_name;
    std::string link_path;
    if (auto link = read_meta(id, "link")) link_path = home_ + "/l/" + *link;
    bool restored = false;
    ScopeExit undo([&] {
        if (!restored) {
            // All or nothing: a failed apply removes the layer.
            if (!link_path.empty()) ::unlink(link_path.c_str());
            (void)remove_tree(tmp);
        }
        std::lock_guard lock(mu_);
        busy_.erase(id);
        temps_.erase(tmp_name);
    });
    // Out of sight while it fills: a crash leaves a tmp-* dir that the next start sweeps.
    if (::rename(layer_dir(id).c_str(), tmp.c_str()) != 0) return sys_error("rename " + layer_dir(id));

    ApplyOptions options;
    options.whiteouts = WhiteoutMode::Overlay;
    auto stats = apply_tar(tmp + "/diff", std::move(read), options);
    if (!stats) return with_context(stats.error(), "applying layer " + id);
    // Durable before it becomes visible: the caller records the layer right after this returns.
    if (auto fd = open_dir(tmp); fd && ::syncfs(fd->get()) != 0) return sys_error("syncfs " + tmp);
    CTL_TRY(sys::write_file_atomic(tmp + "/applied", "", 0600));
    CTL_TRY(rename_noreplace(tmp, layer_dir(id)));
    restored = true;
    CTL_TRY(sync_dir(home_));
    return stats;
}

Result<std::string> OverlayDriver::mount(const std::string& id) {
    CTL_TRY(validate_id(id));
    std::lock_guard lock(mu_);
    if (busy_.count(id)) return make_error(Errc::Conflict, "layer " + id + " is busy");
    if (!exists_locked(id)) return make_error(Errc::NotFound, "layer " + id + " not found");
    CTL_ASSIGN_OR_RETURN(auto lower, read_meta(id, "lower"));
    std::string path = lower.empty() ? layer_dir(id) + "/diff" : layer_dir(id) + "/merged";
    if (auto it = mounts_.find(id); it != mounts_.end()) {
        ++it->second;
        return path;
    }
    // A single layer needs no overlay: its diff dir is the whole file system.
    if (!lower.empty() && !is_mountpoint(path)) {  // else: still mounted from before a restart
        bool rw = sys::exists(layer_dir(id) + "/rw");
        std::string data;
        if (rw) {
            data = "lowerdir=" + lower + ",upperdir=" + id + "/diff,workdir=" + id + "/work";
        } else {
            CTL_ASSIGN_OR_RETURN(auto link, read_meta(id, "link"));
            data = "lowerdir=l/" + link + ":" + lower;
        }
        auto st = mount_overlay(home_, path, data + kMountOptions, !rw);
        if (!st && st.error().sys_errno == EINVAL) st = mount_overlay(home_, path, data, !rw);  // older option set
        if (!st) return with_context(st.error(), "mounting layer " + id);
    }
    mounts_[id] = 1;
    return path;
}

Status OverlayDriver::unmount(const std::string& id) {
    CTL_TRY(validate_id(id));
    std::lock_guard lock(mu_);
    auto it = mounts_.find(id);
    if (it == mounts_.end()) return ok();
    if (--it->second > 0) return ok();
    mounts_.erase(it);
    std::string merged = layer_dir(id) + "/merged";
    if (is_mountpoint(merged)) return detach(merged);
    return ok();
}

Status OverlayDriver::remove(const std::string& id) {
    CTL_TRY(validate_id(id));
    std::string tmp_name;
    {
        std::lock_guard lock(mu_);
        if (busy_.count(id)) return make_error(Errc::Conflict, "layer " + id + " is busy");
        struct stat st;
        if (::lstat(layer_dir(id).c_str(), &st) != 0) return ok();
        mounts_.erase(id);
        std::string merged = layer_dir(id) + "/merged";
        if (is_mountpoint(merged)) CTL_TRY(detach(merged));
        if (auto link = read_meta(id, "link"); link && !link->empty()) ::unlink((home_ + "/l/" + *link).c_str());
        tmp_name = reserve_temp();
        // The id disappears at once; the slow delete happens outside the lock.
        if (::rename(layer_dir(id).c_str(), (home_ + "/" + tmp_name).c_str()) != 0) {
            temps_.erase(tmp_name);
            return sys_error("rename " + layer_dir(id));
        }
    }
    Status st = remove_tree(home_ + "/" + tmp_name);
    release_temp(tmp_name);
    return st;
}

Status OverlayDriver::diff(const std::string& id, const Sink& sink) {
    CTL_TRY(validate_id(id));
    if (!exists(id)) return make_error(Errc::NotFound, "layer " + id + " not found");
    TarOptions options;
    options.overlay_whiteouts = true;
    return write_tar(layer_dir(id) + "/diff", sink, options);
}

Result<std::vector<Change>> OverlayDriver::changes(const std::string& id) {
    CTL_TRY(validate_id(id));
    if (!exists(id)) return make_error(Errc::NotFound, "layer " + id + " not found");
    CTL_ASSIGN_OR_RETURN(auto lowers, lower_dirs(id));
    return overlay_changes(layer_dir(id) + "/diff", lowers);
}

Result<int64_t> OverlayDriver::size(const std::string& id) {
    CTL_TRY(validate_id(id));
    if (!exists(id)) return make_error(Errc::NotFound, "layer " + id + " not found");
    return upper_size(layer_dir(id) + "/diff");
}

Result<std::vector<std::string>> OverlayDriver::list() {
    CTL_ASSIGN_OR_RETURN(auto fd, open_dir(home_));
    CTL_ASSIGN_OR_RETURN(auto names, list_dir(fd.get()));
    std::vector<std::string> out;
    std::lock_guard lock(mu_);
    for (auto& n : names) {
        if (validate_id(n) && exists_locked(n)) out.push_back(std::move(n));
    }
    return out;
}

Status OverlayDriver::cleanup(const std::vector<std::string>& keep_mounted) {
    std::lock_guard lock(mu_);
    Status result;
    bool kept = false;
    if (auto fd = open_dir(home_)) {
        if (auto names = list_dir(fd->get())) {
            for (const auto& n : *names) {
                std::string merged = layer_dir(n) + "/merged";
                if (!validate_id(n) || !is_mountpoint(merged)) continue;
                if (std::find(keep_mounted.begin(), keep_mounted.end(), n) != keep_mounted.end()) {
                    kept = true;
                } else {
                    if (auto st = detach(merged); !st && result) result = st;
                }
            }
        }
    }
    mounts_.clear();
    sweep_temp_dirs(home_, std::vector<std::string>(temps_.begin(), temps_.end()));
    // Detaching home would take the kept mounts with it; the next start adopts the bind as ours.
    if (home_bound_ && !kept) {
        if (auto st = detach(home_); !st && result) result = st;
        home_bound_ = false;
    }
    cleaned_ = true;
    return result;
}

bool probe_overlay(const std::string& root) {
    if (!sys::mkdir_all(root)) return false;
    std::string dir = root + "/tmp-overlay-probe-" + random_name();
    if (::mkdir(dir.c_str(), 0700) != 0) return false;
    std::string merged = dir + "/merged";
    bool mounted = false;
    ScopeExit undo([&] {
        if (mounted) (void)detach(merged);
        (void)remove_tree(dir);
    });
    for (const char* sub : {"/lower", "/upper", "/work", "/merged"}) {
        if (::mkdir((dir + sub).c_str(), 0700) != 0) return false;
    }
    if (!sys::write_file_atomic(dir + "/lower/file", "x")) return false;
    std::string data = "lowerdir=" + dir + "/lower,upperdir=" + dir + "/upper,workdir=" + dir + "/work" + kMountOptions;
    if (::mount("overlay", merged.c_str(), "overlay", 0, data.c_str()) != 0) return false;
    mounted = true;
    // Deleting a lower file must leave a whiteout (a 0/0 char device) in the upper dir.
    if (::unlink((merged + "/file").c_str()) != 0) return false;
    struct stat st;
    return ::lstat((dir + "/upper/file").c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == 0;
}

}  // namespace ctl::graph::internal
