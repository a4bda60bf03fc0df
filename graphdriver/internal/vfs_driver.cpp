#include "graphdriver/internal/vfs_driver.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "engine/base/sys.hpp"
#include "graphdriver/internal/changes.hpp"
#include "graphdriver/internal/fs.hpp"

namespace ctl::graph::internal {

namespace {

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

Result<std::unique_ptr<GraphDriver>> VfsDriver::open(const std::string& home) {
    std::unique_ptr<VfsDriver> d(new VfsDriver(home));
    CTL_TRY(d->init());
    return std::unique_ptr<GraphDriver>(std::move(d));
}

Status VfsDriver::init() {
    CTL_TRY(sys::mkdir_all(home_ + "/dir"));
    CTL_TRY(sys::mkdir_all(home_ + "/meta"));
    if (::chmod(home_.c_str(), 0700) != 0) return sys_error("chmod " + home_);
    sweep_temp_dirs(home_);
    sweep_temp_dirs(home_ + "/meta");
    // Meta of layers whose directory never got renamed into place (crash during create/apply).
    CTL_ASSIGN_OR_RETURN(auto meta, open_dir(home_ + "/meta"));
    CTL_ASSIGN_OR_RETURN(auto names, list_dir(meta.get()));
    for (const auto& n : names) {
        if (!sys::exists(root_of(n))) (void)remove_at(meta.get(), n);
    }
    return ok();
}

std::string VfsDriver::reserve_temp() {
    std::string name = "tmp-" + random_name();
    temps_.insert(name);
    return name;
}

void VfsDriver::release_temp(const std::string& name) {
    std::lock_guard lock(mu_);
    temps_.erase(name);
}

bool VfsDriver::exists_locked(const std::string& id) const {
    struct stat st;
    return ::lstat(root_of(id).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool VfsDriver::exists(const std::string& id) const {
    if (!validate_id(id)) return false;
    std::lock_guard lock(mu_);
    return exists_locked(id);
}

Result<std::string> VfsDriver::parent(const std::string& id) const {
    CTL_TRY(validate_id(id));
    if (!exists(id)) return make_error(Errc::NotFound, "layer " + id + " not found");
    return sys::read_file(meta_of(id) + "/parent");
}

Result<std::string> VfsDriver::parent_root(const std::string& id) const {
    CTL_ASSIGN_OR_RETURN(auto p, parent(id));
    return p.empty() ? std::string() : root_of(p);
}

Status VfsDriver::create(const std::string& id, const std::string& parent, bool rw) {
    CTL_TRY(validate_id(id));
    if (!parent.empty()) CTL_TRY(validate_id(parent));
    std::string tmp_name, meta_tmp_name;
    {
        std::lock_guard lock(mu_);
        if (busy_.count(id) || exists_locked(id)) return make_error(Errc::AlreadyExists, "layer " + id + " already exists");
        if (!parent.empty() && (busy_.count(parent) || !exists_locked(parent))) {
            return make_error(Errc::NotFound, "parent layer " + parent + " not found");
        }
        busy_.insert(id);
        tmp_name = reserve_temp();
        meta_tmp_name = reserve_temp();
    }
    std::string tmp = home_ + "/" + tmp_name;
    std::string meta_tmp = home_ + "/meta/" + meta_tmp_name;
    bool meta_placed = false, renamed = false;
    ScopeExit undo([&] {
        if (!renamed) {
            (void)remove_tree(tmp);
            (void)remove_tree(meta_tmp);
            if (meta_placed) (void)remove_tree(meta_of(id));
        }
        std::lock_guard lock(mu_);
        busy_.erase(id);
        temps_.erase(tmp_name);
        temps_.erase(meta_tmp_name);
    });

    CTL_TRY(make_dir(meta_tmp, 0700));
    // Renamed into place as a whole (see the overlay driver): data synced, one dir fsync.
    CTL_TRY(sys::write_file_synced(meta_tmp + "/parent", parent, 0600));
    if (rw) CTL_TRY(sys::write_file_synced(meta_tmp + "/rw", "", 0600));
    CTL_TRY(sync_dir(meta_tmp));
    // A stale meta entry (crash between meta and dir) would block the rename: it has no dir.
    (void)remove_tree(meta_of(id));
    CTL_TRY(rename_noreplace(meta_tmp, meta_of(id)));
    meta_placed = true;

    CTL_TRY(make_dir(tmp, 0755));
    if (!parent.empty()) CTL_TRY(copy_tree(root_of(parent), tmp));
    if (auto st = rename_noreplace(tmp, root_of(id)); !st) {
        if (st.error().code == Errc::AlreadyExists) return make_error(Errc::AlreadyExists, "layer " + id + " already exists");
        return st;
    }
    renamed = true;
    return sync_dir(home_ + "/dir");
}

Result<ApplyStats> VfsDriver::apply_diff(const std::string& id, ReadFn read) {
    CTL_TRY(validate_id(id));
    std::string tmp_name;
    {
        std::lock_guard lock(mu_);
        if (busy_.count(id)) return make_error(Errc::Conflict, "layer " + id + " is busy");
        if (!exists_locked(id)) return make_error(Errc::NotFound, "layer " + id + " not found");
        if (mounts_.count(id)) return make_error(Errc::Conflict, "layer " + id + " is mounted");
        if (sys::exists(meta_of(id) + "/applied")) return make_error(Errc::Conflict, "layer " + id + " is already applied");
        busy_.insert(id);
        tmp_name = reserve_temp();
    }
    std::string tmp = home_ + "/" + tmp_name;
    bool restored = false;
    ScopeExit undo([&] {
        if (!restored) {  // all or nothing: a failed apply removes the layer
            (void)remove_tree(tmp);
            (void)remove_tree(meta_of(id));
        }
        std::lock_guard lock(mu_);
        busy_.erase(id);
        temps_.erase(tmp_name);
    });
    if (::rename(root_of(id).c_str(), tmp.c_str()) != 0) return sys_error("rename " + root_of(id));

    ApplyOptions options;
    options.whiteouts = WhiteoutMode::Delete;  // the dir holds the parent's files: delete for real
    auto stats = apply_tar(tmp, std::move(read), options);
    if (!stats) return with_context(stats.error(), "applying layer " + id);
    if (auto fd = open_dir(tmp); fd && ::syncfs(fd->get()) != 0) return sys_error("syncfs " + tmp);
    CTL_TRY(sys::write_file_atomic(meta_of(id) + "/applied", "", 0600));
    CTL_TRY(rename_noreplace(tmp, root_of(id)));
    restored = true;
    CTL_TRY(sync_dir(home_ + "/dir"));
    return stats;
}

Result<std::string> VfsDriver::mount(const std::string& id) {
    CTL_TRY(validate_id(id));
    std::lock_guard lock(mu_);
    if (busy_.count(id)) return make_error(Errc::Conflict, "layer " + id + " is busy");
    if (!exists_locked(id)) return make_error(Errc::NotFound, "layer " + id + " not found");
    ++mounts_[id];
    return root_of(id);
}

Status VfsDriver::unmount(const std::string& id) {
    CTL_TRY(validate_id(id));
    std::lock_guard lock(mu_);
    auto it = mounts_.find(id);
    if (it != mounts_.end() && --it->second <= 0) mounts_.erase(it);
    return ok();
}

Status VfsDriver::remove(const std::string& id) {
    CTL_TRY(validate_id(id));
    std::string tmp_name;
    {
        std::lock_guard lock(mu_);
        if (busy_.count(id)) return make_error(Errc::Conflict, "layer " + id + " is busy");
        mounts_.erase(id);
        if (!exists_locked(id)) return remove_tree(meta_of(id));
        tmp_name = reserve_temp();
        if (::rename(root_of(id).c_str(), (home_ + "/" + tmp_name).c_str()) != 0) {
            temps_.erase(tmp_name);
            return sys_error("rename " + root_of(id));
        }
    }
    Status st = remove_tree(meta_of(id));
    Status st2 = remove_tree(home_ + "/" + tmp_name);
    release_temp(tmp_name);
    return st ? st2 : st;
}

Status VfsDriver::diff(const std::string& id, const Sink& sink) {
    CTL_TRY(validate_id(id));
    CTL_ASSIGN_OR_RETURN(auto base, parent_root(id));
    CTL_ASSIGN_OR_RETURN(auto list, naive_changes(root_of(id), base));
    return export_changes(root_of(id), list, sink);
}

Result<std::vector<Change>> VfsDriver::changes(const std::string& id) {
    CTL_TRY(validate_id(id));
    CTL_ASSIGN_OR_RETURN(auto base, parent_root(id));
    CTL_ASSIGN_OR_RETURN(auto list, naive_changes(root_of(id), base));
    std::stable_sort(list.begin(), list.end(), [](const Change& a, const Change& b) { return a.path < b.path; });
    return list;
}

Result<int64_t> VfsDriver::size(const std::string& id) {
    CTL_TRY(validate_id(id));
    CTL_ASSIGN_OR_RETURN(auto base, parent_root(id));
    CTL_ASSIGN_OR_RETURN(auto list, naive_changes(root_of(id), base));
    return changes_size(root_of(id), list);
}

Result<std::vector<std::string>> VfsDriver::list() {
    CTL_ASSIGN_OR_RETURN(auto fd, open_dir(home_ + "/dir"));
    CTL_ASSIGN_OR_RETURN(auto names, list_dir(fd.get()));
    std::vector<std::string> out;
    for (auto& n : names) {
        if (validate_id(n)) out.push_back(std::move(n));
    }
    return out;
}

Status VfsDriver::cleanup(const std::vector<std::string>& /*keep_mounted: vfs mounts nothing*/) {
    std::lock_guard lock(mu_);
    mounts_.clear();
    std::vector<std::string> keep(temps_.begin(), temps_.end());
    sweep_temp_dirs(home_, keep);
    sweep_temp_dirs(home_ + "/meta", keep);
    return ok();
}

}  // namespace ctl::graph::internal
