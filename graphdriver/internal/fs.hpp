// Private file-system helpers of the graphdriver module: fd-relative resolution inside a root
// (openat2), removal that neither follows symlinks nor crosses mounts, xattr access on any inode
// type, and tree copies for the vfs driver. Everything works on directory fds so that a path
// component swapped for a symlink by someone else cannot redirect us outside the tree.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/base/result.hpp"
#include "engine/base/sys.hpp"

namespace ctl::graph::internal {

using sys::UniqueFd;

// open(2) of an existing directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC.
Result<UniqueFd> open_dir(const std::string& path);

// openat2(root_fd, rel, flags) with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS (plus `extra_resolve`):
// ".." and absolute symlinks are clamped to root_fd, so the result is always inside it.
// O_CLOEXEC is added. Errors keep errno (ENOENT -> NotFound, ELOOP/ENOTDIR -> InvalidArgument).
Result<UniqueFd> open_in_root(int root_fd, const std::string& rel, int flags, uint64_t extra_resolve = 0);

// fstatat(dir_fd, name, AT_SYMLINK_NOFOLLOW); false when missing (other errors too, with errno set).
bool lstat_at(int dir_fd, const std::string& name, struct stat* st);

// Child names of a directory (no "." / ".."), sorted bytewise so tars and walks are deterministic.
Result<std::vector<std::string>> list_dir(int dir_fd);

// Removes `name` in dir_fd: a file, or a whole tree of any depth. Missing is fine. Never follows
// symlinks and refuses (Conflict) to descend into a mount, so a still-mounted merged dir is never
// emptied through the mount.
Status remove_at(int dir_fd, const std::string& name);
// remove_at on an absolute or relative path (opens the parent first).
Status remove_tree(const std::string& path);

// "/proc/self/fd/<fd>" or "/proc/self/fd/<fd>/<name>": the kernel resolves the fd part to that exact
// directory, so l*xattr() on it reaches a symlink or device node without following anything.
std::string fd_path(int fd, const std::string& name = "");

using Xattrs = std::vector<std::pair<std::string, std::string>>;
// Extended attributes of an open inode (fd) or of dir_fd/name without following it.
Result<Xattrs> read_xattrs(int fd);
Result<Xattrs> read_xattrs_at(int dir_fd, const std::string& name);
// One attribute of an open inode; empty when absent.
std::string get_xattr(int fd, const char* key);

// The xattrs a layer may carry (what Docker keeps): user.*, security.capability and POSIX ACLs.
// trusted.* (overlay's own markers among them) and other security.* labels are dropped: a layer
// must not be able to forge overlay whiteouts/redirects or SELinux/IMA labels.
bool layer_xattr_allowed(const std::string& key);

// True if path is the root of a mount (statx STATX_ATTR_MOUNT_ROOT).
bool is_mountpoint(const std::string& path);
// True when `path` is a bind mount of a directory onto itself (mountinfo's root field is not "/"),
// as the overlay driver makes of its home: such a mount left by a killed ctld is ours to remove,
// unlike a dedicated file system an administrator mounted there.
bool is_bind_of_subdir(const std::string& path);

// Copies the tree at src_dir into dst_dir (which must exist and be empty): modes, owners, xattrs
// (layer_xattr_allowed ones), nanosecond mtimes, hard links, symlinks, devices and fifos. Regular
// files use FICLONE / copy_file_range where the file system allows it. Sockets are skipped.
Status copy_tree(const std::string& src_dir, const std::string& dst_dir);

// Sets mtime (and atime = mtime) of dir_fd/name without following it.
Status set_mtime_at(int dir_fd, const std::string& name, const struct timespec& mtime);

// 16 random lowercase base32 characters (for temp dirs and overlay's short link names).
std::string random_name();

// Removes every "tmp-*" entry of dir (leftovers of a crashed create/apply), except `keep`.
void sweep_temp_dirs(const std::string& dir, const std::vector<std::string>& keep = {});

// Recursive walks (tar creation, copies, diffs) stop with InvalidArgument below this depth: deeper
// trees cannot be extracted again anyway (PATH_MAX) and would only risk the thread's stack.
inline constexpr int kMaxTreeDepth = 2048;
Error too_deep(const std::string& where);

// Layer ids are caller-chosen but become path components: [A-Za-z0-9][A-Za-z0-9_.-]{0,127},
// and not "l" or "tmp-*" (the drivers' own names).
Status validate_id(const std::string& id);

// Runs a callable when the scope ends (undo steps of a multi-step operation).
template <typename F>
class ScopeExit {
public:
    explicit ScopeExit(F f) : f_(std::move(f)) {}
    ~ScopeExit() {
        if (armed_) f_();
    }
    void dismiss() { armed_ = false; }
    ScopeExit(const ScopeExit&) = delete;
    ScopeExit& operator=(const ScopeExit&) = delete;

private:
    F f_;
    bool armed_ = true;
};

// Joins archive-style relative paths: join("", "a") == "a", join("a", "b") == "a/b".
inline std::string join(const std::string& dir, const std::string& name) {
    return dir.empty() ? name : dir + "/" + name;
}

}  // namespace ctl::graph::internal
