#include "graphdriver/internal/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <vector>

namespace ctl::graph::internal {

namespace {

// Treats a kernel refusal to resolve (symlink loop, not a directory, would leave the root) as the
// caller's fault: it comes from archive contents, not from our environment.
Error resolve_error(const std::string& what, int err) {
    if (err == ELOOP || err == ENOTDIR || err == EXDEV) {
        return Error{Errc::InvalidArgument, what + ": " + std::strerror(err), err};
    }
    return sys_error(what, err);
}

bool ignorable_xattr_errno(int err) { return err == EOPNOTSUPP || err == ENOTSUP; }

Result<Xattrs> parse_xattrs(const std::function<ssize_t(char*, size_t)>& list,
                            const std::function<ssize_t(const char*, void*, size_t)>& get, const std::string& what) {
    Xattrs out;
    std::vector<char> names;
    for (int attempt = 0; attempt < 4; ++attempt) {
        ssize_t n = list(nullptr, 0);
        if (n < 0) {
            if (ignorable_xattr_errno(errno)) return out;
            return sys_error("listxattr " + what);
        }
        if (n == 0) return out;
        names.resize(static_cast<size_t>(n));
        n = list(names.data(), names.size());
        if (n < 0 && errno == ERANGE) continue;  // grew in between
        if (n < 0) return sys_error("listxattr " + what);
        names.resize(static_cast<size_t>(n));
        break;
    }
    size_t pos = 0;
    while (pos < names.size()) {
        std::string key(names.data() + pos);
        pos += key.size() + 1;
        if (key.empty()) continue;
        std::string value;
        for (int attempt = 0; attempt < 4; ++attempt) {
            ssize_t n = get(key.c_str(), nullptr, 0);
            if (n < 0) break;  // vanished or unreadable: skip it
            value.resize(static_cast<size_t>(n));
            n = get(key.c_str(), value.data(), value.size());
            if (n < 0 && errno == ERANGE) continue;
            if (n >= 0) value.resize(static_cast<size_t>(n));
            break;
        }
        out.emplace_back(std::move(key), std::move(value));
    }
    return out;
}

}  // namespace

Result<UniqueFd> open_dir(const std::string& path) {
    int fd;
    do {
        fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return sys_error("open " + path);
    return UniqueFd(fd);
}

Result<UniqueFd> open_in_root(int root_fd, const std::string& rel, int flags, uint64_t extra_resolve) {
    struct open_how how;
    std::memset(&how, 0, sizeof how);
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra_resolve;
    const char* p = rel.empty() ? "." : rel.c_str();
    for (int attempt = 0;; ++attempt) {
        long fd = ::syscall(SYS_openat2, root_fd, p, &how, sizeof how);
        if (fd >= 0) return UniqueFd(static_cast<int>(fd));
        // EAGAIN: a concurrent rename raced the ".." handling; the kernel asks us to retry.
        if ((errno == EINTR || errno == EAGAIN) && attempt < 32) continue;
        return resolve_error("open " + rel, errno);
    }
}

bool lstat_at(int dir_fd, const std::string& name, struct stat* st) {
    return ::fstatat(dir_fd, name.empty() ? "." : name.c_str(), st, AT_SYMLINK_NOFOLLOW) == 0;
}

Result<std::vector<std::string>> list_dir(int dir_fd) {
    int copy = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) return sys_error("dup");
    DIR* dir = ::fdopendir(copy);
    if (!dir) {
        int err = errno;
        ::close(copy);
        return sys_error("fdopendir", err);
    }
    ::rewinddir(dir);  // the dup shares the offset with dir_fd, which may have been read before
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* d = ::readdir(dir)) {
        if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
        names.emplace_back(d->d_name);
    }
    int err = errno;
    ::closedir(dir);
    if (err != 0) return sys_error("readdir", err);
    std::sort(names.begin(), names.end());
    return names;
}

namespace {

bool is_mount_root_at(int dir_fd, const std::string& name) {
    struct statx stx;
    return ::statx(dir_fd, name.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) == 0 &&
           (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

}  // namespace

// Iterative (an explicit stack of open directories) so a tree of any depth, e.g. one a container
// built with mkdir+chdir in a loop, can be removed without exhausting the thread's stack.
Status remove_at(int dir_fd, const std::string& name) {
    struct Frame {
        UniqueFd fd;
        std::vector<std::string> names;
        size_t next = 0;
        std::string name;
    };
    auto open_frame = [](int parent, const std::string& n) -> Result<Frame> {
        if (is_mount_root_at(parent, n)) {
            return make_error(Errc::Conflict, "refusing to remove " + n + ": it is a mount point");
        }
        int fd = ::openat(parent, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return sys_error("open " + n);
        Frame f;
        f.fd.reset(fd);
        f.name = n;
        CTL_ASSIGN_OR_RETURN(f.names, list_dir(fd));
        return f;
    };

    struct stat st;
    if (!lstat_at(dir_fd, name, &st)) {
        if (errno == ENOENT) return ok();
        return sys_error("stat " + name);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) return sys_error("unlink " + name);
        return ok();
    }
    std::vector<Frame> stack;
    CTL_ASSIGN_OR_RETURN(auto first, open_frame(dir_fd, name));
    stack.push_back(std::move(first));
    while (!stack.empty()) {
        Frame& top = stack.back();
        if (top.next < top.names.size()) {
            std::string n = top.names[top.next++];
            int parent = top.fd.get();
            if (!lstat_at(parent, n, &st)) continue;  // gone already
            if (!S_ISDIR(st.st_mode)) {
                if (::unlinkat(parent, n.c_str(), 0) != 0 && errno != ENOENT) return sys_error("unlink " + n);
                continue;
            }
            CTL_ASSIGN_OR_RETURN(auto sub, open_frame(parent, n));
            stack.push_back(std::move(sub));  // invalidates `top`
            continue;
        }
        std::string done = std::move(top.name);
        stack.pop_back();
        int parent = stack.empty() ? dir_fd : stack.back().fd.get();
        if (::unlinkat(parent, done.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) return sys_error("rmdir " + done);
    }
    return ok();
}

Status remove_tree(const std::string& path) {
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    auto slash = p.rfind('/');
    std::string parent = slash == std::string::npos ? "." : (slash == 0 ? "/" : p.substr(0, slash));
    std::string base = slash == std::string::npos ? p : p.substr(slash + 1);
    if (base.empty() || base == "." || base == "..") return make_error(Errc::InvalidArgument, "cannot remove " + path);
    auto dir = open_dir(parent);
    if (!dir) return dir.error().code == Errc::NotFound ? ok() : Status(dir.error());
    return remove_at(dir->get(), base);
}

std::string fd_path(int fd, const std::string& name) {
    std::string p = "/proc/self/fd/" + std::to_string(fd);
    if (!name.empty()) p += "/" + name;
    return p;
}

Result<Xattrs> read_xattrs(int fd) {
    return parse_xattrs([fd](char* buf, size_t len) { return ::flistxattr(fd, buf, len); },
                        [fd](const char* key, void* buf, size_t len) { return ::fgetxattr(fd, key, buf, len); },
                        "fd");
}

Result<Xattrs> read_xattrs_at(int dir_fd, const std::string& name) {
    std::string p = fd_path(dir_fd, name);
    return parse_xattrs([&p](char* buf, size_t len) { return ::llistxattr(p.c_str(), buf, len); },
                        [&p](const char* key, void* buf, size_t len) { return ::lgetxattr(p.c_str(), key, buf, len); },
                        name);
}

std::string get_xattr(int fd, const char* key) {
    char buf[256];
    ssize_t n = ::fgetxattr(fd, key, buf, sizeof buf);
    if (n <= 0) return {};
    return std::string(buf, static_cast<size_t>(n));
}

bool layer_xattr_allowed(const std::string& key) {
    return key.rfind("user.", 0) == 0 || key == "security.capability" || key == "system.posix_acl_access" ||
           key == "system.posix_acl_default";
}

bool is_mountpoint(const std::string& path) { return is_mount_root_at(AT_FDCWD, path); }

bool is_bind_of_subdir(const std::string& path) {
    auto info = sys::read_file("/proc/self/mountinfo");
    if (!info) return false;
    // Fields: id parent major:minor root mount-point ...; the last entry for a mount point is the
    // one visible (mounts stack). Octal escapes (\040) only matter for paths with spaces.
    std::string root_of_last;
    bool found = false;
    size_t pos = 0;
    while (pos < info->size()) {
        size_t end = info->find('\n', pos);
        if (end == std::string::npos) end = info->size();
        std::string line = info->substr(pos, end - pos);
        pos = end + 1;
        std::vector<std::string> fields;
        size_t f = 0;
        while (fields.size() < 5 && f < line.size()) {
            size_t sp = line.find(' ', f);
            if (sp == std::string::npos) sp = line.size();
            fields.push_back(line.substr(f, sp - f));
            f = sp + 1;
        }
        if (fields.size() == 5 && fields[4] == path) {
            root_of_last = fields[3];
            found = true;
        }
    }
    return found && root_of_last != "/";
}

Status set_mtime_at(int dir_fd, const std::string& name, const struct timespec& mtime) {
    struct timespec ts[2] = {mtime, mtime};
    if (::utimensat(dir_fd, name.empty() ? "." : name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) {
        return sys_error("utimes " + name);
    }
    return ok();
}

std::string random_name() {
    static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char bytes[16];
    size_t got = 0;
    while (got < sizeof bytes) {
        ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            // No entropy source: fall back to something unique enough for temp names.
            for (auto& b : bytes) b = static_cast<unsigned char>(::rand());
            break;
        }
        got += static_cast<size_t>(n);
    }
    std::string out;
    for (unsigned char b : bytes) out.push_back(kAlphabet[b % 32]);
    return out;
}

void sweep_temp_dirs(const std::string& dir, const std::vector<std::string>& keep) {
    auto fd = open_dir(dir);
    if (!fd) return;
    auto names = list_dir(fd->get());
    if (!names) return;
    for (const auto& n : *names) {
        if (n.rfind("tmp-", 0) != 0) continue;
        if (std::find(keep.begin(), keep.end(), n) != keep.end()) continue;
        (void)remove_at(fd->get(), n);
    }
}

Error too_deep(const std::string& where) {
    return make_error(Errc::InvalidArgument, "directory tree too deep at " + (where.empty() ? std::string("/") : where));
}

Status validate_id(const std::string& id) {
    auto bad = [&] { return make_error(Errc::InvalidArgument, "invalid layer id \"" + id + "\""); };
    if (id.empty() || id.size() > 128 || id == "l" || id.rfind("tmp-", 0) == 0) return bad();
    for (size_t i = 0; i < id.size(); ++i) {
        char c = id[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) return bad();
    }
    return ok();
}

// ---- copy_tree ----

namespace {

Status set_xattrs_fd(int fd, const Xattrs& xattrs) {
    for (const auto& [key, value] : xattrs) {
        if (!layer_xattr_allowed(key)) continue;
        if (::fsetxattr(fd, key.c_str(), value.data(), value.size(), 0) != 0 && !ignorable_xattr_errno(errno)) {
            return sys_error("setxattr " + key);
        }
    }
    return ok();
}

Status set_xattrs_at(int dir_fd, const std::string& name, const Xattrs& xattrs) {
    std::string p = fd_path(dir_fd, name);
    for (const auto& [key, value] : xattrs) {
        if (!layer_xattr_allowed(key)) continue;
        if (::lsetxattr(p.c_str(), key.c_str(), value.data(), value.size(), 0) != 0 && !ignorable_xattr_errno(errno)) {
            return sys_error("setxattr " + key + " on " + name);
        }
    }
    return ok();
}

Status copy_data(int src, int dst, off_t size) {
    if (size == 0) return ok();
    if (::ioctl(dst, FICLONE, src) == 0) return ok();
    off_t done = 0;
    bool use_cfr = true;
    while (done < size) {
        if (use_cfr) {
            ssize_t n = ::copy_file_range(src, nullptr, dst, nullptr, static_cast<size_t>(size - done), 0);
            if (n > 0) {
                done += n;
                continue;
            }
            if (n == 0) break;  // source shrank
            if (errno == EINTR) continue;
            if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
                return sys_error("copy_file_range");
            }
            use_cfr = false;
            if (::lseek(src, done, SEEK_SET) < 0 || ::lseek(dst, done, SEEK_SET) < 0) return sys_error("lseek");
        }
        char buf[65536];
        ssize_t n = ::read(src, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read");
        }
        if (n == 0) break;
        CTL_TRY(sys::write_all(dst, std::string_view(buf, static_cast<size_t>(n))));
        done += n;
    }
    return ok();
}

struct TreeCopier {
    int dst_root = -1;
    std::map<std::pair<dev_t, ino_t>, std::string> links;  // first copy of each multiply-linked inode

    Status copy_dir(int src, int dst, const std::string& rel, int depth = 0) {
        if (depth > kMaxTreeDepth) return too_deep(rel);
        CTL_ASSIGN_OR_RETURN(auto names, list_dir(src));
        for (const auto& name : names) {
            if (auto st = copy_entry(src, dst, name, join(rel, name), depth); !st) {
                return with_context(st.error(), join(rel, name));
            }
        }
        return ok();
    }

    Status copy_entry(int src, int dst, const std::string& name, const std::string& rel, int depth) {
        struct stat st;
        if (!lstat_at(src, name, &st)) {
            if (errno == ENOENT) return ok();  // vanished while copying
            return sys_error("stat");
        }
        if (S_ISSOCK(st.st_mode)) return ok();
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
            auto key = std::make_pair(st.st_dev, st.st_ino);
            if (auto it = links.find(key); it != links.end()) {
                // Both names live in our private staging tree, so the relative path is trusted.
                if (::linkat(dst_root, it->second.c_str(), dst, name.c_str(), 0) != 0) return sys_error("link");
                return ok();
            }
            links.emplace(key, rel);
        }
        struct timespec times[2] = {st.st_mtim, st.st_mtim};
        if (S_ISDIR(st.st_mode)) {
            if (::mkdirat(dst, name.c_str(), 0700) != 0) return sys_error("mkdir");
            int sfd = ::openat(src, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sfd < 0) return sys_error("open");
            UniqueFd s(sfd);
            int dfd = ::openat(dst, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (dfd < 0) return sys_error("open");
            UniqueFd d(dfd);
            CTL_TRY(copy_dir(s.get(), d.get(), rel, depth + 1));
            if (::fchown(d.get(), st.st_uid, st.st_gid) != 0) return sys_error("chown");
            CTL_ASSIGN_OR_RETURN(auto xattrs, read_xattrs(s.get()));
            CTL_TRY(set_xattrs_fd(d.get(), xattrs));
            if (::fchmod(d.get(), st.st_mode & 07777) != 0) return sys_error("chmod");
            if (::futimens(d.get(), times) != 0) return sys_error("utimes");
            return ok();
        }
        if (S_ISREG(st.st_mode)) {
            int sfd = ::openat(src, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
            if (sfd < 0) return sys_error("open");
            UniqueFd s(sfd);
            int dfd = ::openat(dst, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (dfd < 0) return sys_error("create");
            UniqueFd d(dfd);
            CTL_TRY(copy_data(s.get(), d.get(), st.st_size));
            if (::fchown(d.get(), st.st_uid, st.st_gid) != 0) return sys_error("chown");
            CTL_ASSIGN_OR_RETURN(auto xattrs, read_xattrs(s.get()));
            CTL_TRY(set_xattrs_fd(d.get(), xattrs));
            if (::fchmod(d.get(), st.st_mode & 07777) != 0) return sys_error("chmod");
            if (::futimens(d.get(), times) != 0) return sys_error("utimes");
            return ok();
        }
        if (S_ISLNK(st.st_mode)) {
            std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
            ssize_t n = ::readlinkat(src, name.c_str(), target.data(), target.size());
            if (n < 0) return sys_error("readlink");
            target.resize(static_cast<size_t>(n));
            if (::symlinkat(target.c_str(), dst, name.c_str()) != 0) return sys_error("symlink");
        } else {  // char/block device or fifo
            if (::mknodat(dst, name.c_str(), (st.st_mode & S_IFMT) | 0600, st.st_rdev) != 0) return sys_error("mknod");
        }
        if (::fchownat(dst, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) return sys_error("chown");
        CTL_ASSIGN_OR_RETURN(auto xattrs, read_xattrs_at(src, name));
        CTL_TRY(set_xattrs_at(dst, name, xattrs));
        if (!S_ISLNK(st.st_mode) && ::fchmodat(dst, name.c_str(), st.st_mode & 07777, 0) != 0) return sys_error("chmod");
        if (::utimensat(dst, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) return sys_error("utimes");
        return ok();
    }
};

}  // namespace

Status copy_tree(const std::string& src_dir, const std::string& dst_dir) {
    CTL_ASSIGN_OR_RETURN(auto src, open_dir(src_dir));
    CTL_ASSIGN_OR_RETURN(auto dst, open_dir(dst_dir));
    TreeCopier copier;
    copier.dst_root = dst.get();
    CTL_TRY(copier.copy_dir(src.get(), dst.get(), ""));
    // The root directory's own attributes (a layer may have changed them with a "./" entry).
    struct stat st;
    if (::fstat(src.get(), &st) != 0) return sys_error("stat " + src_dir);
    if (::fchown(dst.get(), st.st_uid, st.st_gid) != 0) return sys_error("chown " + dst_dir);
    CTL_ASSIGN_OR_RETURN(auto xattrs, read_xattrs(src.get()));
    CTL_TRY(set_xattrs_fd(dst.get(), xattrs));
    if (::fchmod(dst.get(), st.st_mode & 07777) != 0) return sys_error("chmod " + dst_dir);
    struct timespec times[2] = {st.st_mtim, st.st_mtim};
    if (::futimens(dst.get(), times) != 0) return sys_error("utimes " + dst_dir);
    return ok();
}

}  // namespace ctl::graph::internal
