#include "graphdriver/archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "engine/base/digest.hpp"
#include "graphdriver/internal/fs.hpp"
#include "graphdriver/internal/tar_writer.hpp"

namespace ctl::graph {

using internal::UniqueFd;

namespace {

constexpr size_t kBufferSize = 256 * 1024;
constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

struct ArchiveDeleter {
    void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveDeleter>;

std::string archive_message(struct archive* a) {
    const char* m = archive_error_string(a);
    return m ? m : "unknown error";
}

// Lexically normalises an archive name to a path relative to the root: leading "/" and "."
// components go, ".." pops a component. Climbing above the root is an error (a legitimate archive
// never needs it) unless `clamp`, where ".." at the top stays at the top like "/.." does.
Result<std::string> clean_name(std::string_view raw, bool clamp = false) {
    std::vector<std::string_view> parts;
    size_t pos = 0;
    while (pos <= raw.size()) {
        size_t slash = raw.find('/', pos);
        if (slash == std::string_view::npos) slash = raw.size();
        std::string_view part = raw.substr(pos, slash - pos);
        pos = slash + 1;
        if (part.empty() || part == ".") continue;
        if (part == "..") {
            if (parts.empty()) {
                if (clamp) continue;
                return make_error(Errc::InvalidArgument, "invalid archive entry \"" + std::string(raw) +
                                                             "\": path escapes the destination");
            }
            parts.pop_back();
            continue;
        }
        parts.push_back(part);
    }
    std::string out;
    for (auto p : parts) {
        if (!out.empty()) out += '/';
        out += p;
    }
    return out;
}

std::pair<std::string, std::string> split_parent(const std::string& rel) {
    auto slash = rel.rfind('/');
    if (slash == std::string::npos) return {"", rel};
    return {rel.substr(0, slash), rel.substr(slash + 1)};
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Which decompression filters libarchive implements in-process. One that would fork an external
// program (ARCHIVE_WARN) is never enabled: forking from the threaded daemon is not acceptable.
struct FilterSet {
    bool gzip = false, bzip2 = false, xz = false, zstd = false;
};
const FilterSet& builtin_filters() {
    static const FilterSet set = [] {
        FilterSet s;
        auto probe = [](int (*fn)(struct archive*)) {
            ArchivePtr a(archive_read_new());
            return fn(a.get()) == ARCHIVE_OK;
        };
        s.gzip = probe(archive_read_support_filter_gzip);
        s.bzip2 = probe(archive_read_support_filter_bzip2);
        s.xz = probe(archive_read_support_filter_xz);
        s.zstd = probe(archive_read_support_filter_zstd);
        return s;
    }();
    return set;
}

// ---- the streaming pipeline: ReadFn -> libarchive (decompress, "raw" format) -> hash -> tar parser ----

struct Source {
    ReadFn read;
    std::vector<char> buf = std::vector<char>(kBufferSize);
    int64_t bytes = 0;
    bool failed = false;
};

la_ssize_t source_read(struct archive* a, void* data, const void** out) {
    auto* s = static_cast<Source*>(data);
    long n = s->read(s->buf.data(), s->buf.size());
    if (n < 0) {
        s->failed = true;
        archive_set_error(a, EIO, "reading the archive stream failed");
        return -1;
    }
    s->bytes += n;
    *out = s->buf.data();
    return n;
}

struct Decompressed {
    struct archive* raw = nullptr;
    const Source* source = nullptr;
    Sha256 hash;
    int64_t bytes = 0;
    int64_t max = 0;
    std::vector<char> buf = std::vector<char>(kBufferSize);
    std::optional<Error> error;

    // Pulls the next decompressed chunk, hashing and counting it. 0 at the end, < 0 on error.
    la_ssize_t pull() {
        la_ssize_t n = archive_read_data(raw, buf.data(), buf.size());
        if (n < 0) {
            if (source->failed) {
                error = make_error(Errc::Unavailable, "reading the archive stream failed");
            } else {
                error = make_error(Errc::InvalidArgument, "cannot decompress archive: " + archive_message(raw));
            }
            return -1;
        }
        hash.update(buf.data(), static_cast<size_t>(n));
        bytes += n;
        if (max > 0 && bytes > max) {
            error = make_error(Errc::TooLarge, "archive exceeds the size limit of " + std::to_string(max) + " bytes");
            return -1;
        }
        return n;
    }
};

la_ssize_t decompressed_read(struct archive* a, void* data, const void** out) {
    auto* d = static_cast<Decompressed*>(data);
    la_ssize_t n = d->pull();
    if (n < 0) {
        archive_set_error(a, EIO, "%s", d->error->message.c_str());
        return -1;
    }
    *out = d->buf.data();
    return n;
}

// ---- extraction ----

class Extractor {
public:
    Extractor(int root_fd, const ApplyOptions& options) : root_fd_(root_fd), opt_(options) {}

    Status init() {
        if (opt_.target.empty()) return ok();
        CTL_ASSIGN_OR_RETURN(target_, clean_name(opt_.target));
        auto fd = internal::open_in_root(root_fd_, target_, O_RDONLY | O_DIRECTORY);
        if (!fd) return with_context(fd.error(), "extraction target " + opt_.target);
        return ok();
    }

    Status entry(struct archive* a, struct archive_entry* e);
    Status finish();
    int64_t content_size() const { return content_size_; }

private:
    struct DirFix {
        std::string rel;
        dev_t dev;
        ino_t ino;
        mode_t perm;
        struct timespec mtime;
    };

    Result<int> parent_dir(const std::string& rel);
    Result<UniqueFd> open_or_create_dir(const std::string& rel);
    void forget_under(const std::string& rel);
    Result<bool> clear_slot(int pfd, const std::string& base, const std::string& rel, bool keep_dir);
    Status whiteout(const std::string& parent_rel, const std::string& name);
    Status opaque(const std::string& parent_rel);
    Status set_xattrs(struct archive_entry* e, int fd, int pfd, const std::string& base);
    Status regular(struct archive* a, struct archive_entry* e, int pfd, const std::string& base, const std::string& rel);
    Status directory(struct archive_entry* e, int pfd, const std::string& base, const std::string& rel);
    Status hardlink(const char* link, int pfd, const std::string& base, const std::string& rel);
    Status special(struct archive_entry* e, int pfd, const std::string& base, const std::string& rel);

    bool xattr_error_ignorable(int err) const {
        return err == EOPNOTSUPP || err == ENOTSUP || (!opt_.chown && err == EPERM);
    }
    struct timespec mtime_of(struct archive_entry* e) const {
        return {archive_entry_mtime(e), archive_entry_mtime_is_set(e) ? archive_entry_mtime_nsec(e) : 0};
    }
    // Records that this archive put `rel` there, and so also its ancestors (Delete mode only).
    void track(const std::string& rel) {
        if (opt_.whiteouts != WhiteoutMode::Delete) return;
        std::string p = rel;
        while (!p.empty() && created_.insert(p).second) {
            auto slash = p.rfind('/');
            p = slash == std::string::npos ? std::string() : p.substr(0, slash);
        }
    }
    Status purge_lower(int dir_fd, const std::string& rel);

    int root_fd_;
    const ApplyOptions& opt_;
    std::string target_;
    std::vector<DirFix> dirs_;
    std::set<std::string> created_;  // names this archive wrote (Delete mode's opaque dirs keep them)
    int64_t content_size_ = 0;
    // The parent directory of the previous entry: archives list siblings together.
    std::string cached_rel_;
    UniqueFd cached_fd_;
};

void Extractor::forget_under(const std::string& rel) {
    if (!cached_fd_.valid()) return;
    if (rel.empty() || cached_rel_ == rel || starts_with(cached_rel_, rel + "/")) {
        cached_fd_.reset();
        cached_rel_.clear();
    }
}

Result<UniqueFd> Extractor::open_or_create_dir(const std::string& rel) {
    auto fd = internal::open_in_root(root_fd_, rel, O_RDONLY | O_DIRECTORY);
    if (fd || fd.error().code != Errc::NotFound) return fd;
    // Missing (or a symlink to something missing): create it below its own parent. mkdirat never
    // follows the last component, and opening it with O_NOFOLLOW rejects a dangling symlink there.
    auto [pp, base] = split_parent(rel);
    UniqueFd owner;
    int pfd = root_fd_;
    if (!pp.empty()) {
        CTL_ASSIGN_OR_RETURN(owner, open_or_create_dir(pp));
        pfd = owner.get();
    }
    bool made = ::mkdirat(pfd, base.c_str(), 0755) == 0;
    if (!made && errno != EEXIST) return sys_error("mkdir " + rel);
    int dfd = ::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        if (errno == ELOOP || errno == ENOTDIR) {
            return make_error(Errc::InvalidArgument, "invalid archive: \"" + rel + "\" is not a directory");
        }
        return sys_error("open " + rel);
    }
    UniqueFd out(dfd);
    if (made) {
        ::fchmod(dfd, 0755);  // independent of the process umask
        track(rel);
    }
    return out;
}

Result<int> Extractor::parent_dir(const std::string& rel) {
    if (rel.empty()) return root_fd_;
    if (cached_fd_.valid() && cached_rel_ == rel) return cached_fd_.get();
    CTL_ASSIGN_OR_RETURN(auto fd, open_or_create_dir(rel));
    cached_fd_ = std::move(fd);
    cached_rel_ = rel;
    return cached_fd_.get();
}

// Makes room for a new entry at pfd/base. Returns true when an existing directory is kept (a
// directory entry over a directory merges, like Docker); anything else there is removed first so
// that nothing is ever written through an existing symlink.
Result<bool> Extractor::clear_slot(int pfd, const std::string& base, const std::string& rel, bool keep_dir) {
    struct stat st;
    if (!internal::lstat_at(pfd, base, &st)) {
        if (errno == ENOENT) return false;
        return sys_error("stat " + rel);
    }
    if (keep_dir && S_ISDIR(st.st_mode)) return true;
    forget_under(rel);
    CTL_TRY(internal::remove_at(pfd, base));
    return false;
}

Status Extractor::set_xattrs(struct archive_entry* e, int fd, int pfd, const std::string& base) {
    archive_entry_xattr_reset(e);
    const char* key;
    const void* value;
    size_t size;
    std::string path;  // for inodes without an fd: the parent fd's magic link plus the name
    while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
        if (!key || !internal::layer_xattr_allowed(key)) continue;  // trusted.*, security.selinux, ...
        int rc;
        if (fd >= 0) {
            rc = ::fsetxattr(fd, key, value, size, 0);
        } else {
            if (path.empty()) path = internal::fd_path(pfd, base);
            rc = ::lsetxattr(path.c_str(), key, value, size, 0);
        }
        if (rc != 0 && !xattr_error_ignorable(errno)) return sys_error(std::string("setxattr ") + key + " on " + base);
    }
    return ok();
}

Status Extractor::regular(struct archive* a, struct archive_entry* e, int pfd, const std::string& base,
                          const std::string& rel) {
    CTL_TRY(clear_slot(pfd, base, rel, false));
    int f = ::openat(pfd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f < 0) return sys_error("create " + rel);
    UniqueFd fd(f);
    track(rel);
    const void* buf;
    size_t len;
    la_int64_t offset;
    for (;;) {
        int rc = archive_read_data_block(a, &buf, &len, &offset);
        if (rc == ARCHIVE_EOF) break;
        if (rc < ARCHIVE_WARN) return make_error(Errc::InvalidArgument, "reading " + rel + ": " + archive_message(a));
        const char* p = static_cast<const char*>(buf);
        while (len > 0) {  // pwrite at the block's offset: sparse entries leave holes
            ssize_t n = ::pwrite(fd.get(), p, len, offset);
            if (n < 0) {
                if (errno == EINTR) continue;
                return sys_error("write " + rel);
            }
            p += n;
            len -= static_cast<size_t>(n);
            offset += n;
        }
    }
    int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    if (::ftruncate(fd.get(), size) != 0) return sys_error("truncate " + rel);  // a sparse tail
    content_size_ += size;
    // chown before chmod: chown clears set-id bits; xattrs last: chown clears security.capability.
    if (opt_.chown && ::fchown(fd.get(), archive_entry_uid(e), archive_entry_gid(e)) != 0) return sys_error("chown " + rel);
    if (::fchmod(fd.get(), archive_entry_perm(e) & 07777) != 0) return sys_error("chmod " + rel);
    CTL_TRY(set_xattrs(e, fd.get(), pfd, base));
    struct timespec mt = mtime_of(e);
    struct timespec times[2] = {archive_entry_atime_is_set(e) ? timespec{archive_entry_atime(e), archive_entry_atime_nsec(e)} : mt, mt};
    if (::futimens(fd.get(), times) != 0) return sys_error("utimes " + rel);
    return ok();
}

Status Extractor::directory(struct archive_entry* e, int pfd, const std::string& base, const std::string& rel) {
    int f;
    if (base.empty()) {  // "./": the root (or target) itself
        f = ::fcntl(pfd, F_DUPFD_CLOEXEC, 0);
    } else {
        CTL_ASSIGN_OR_RETURN(bool kept, clear_slot(pfd, base, rel, true));
        if (!kept && ::mkdirat(pfd, base.c_str(), 0700) != 0) return sys_error("mkdir " + rel);
        track(rel);  // a directory entry is this layer's even when it merges with an existing one
        f = ::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (f < 0) return sys_error("open " + rel);
    UniqueFd fd(f);
    if (opt_.chown && ::fchown(fd.get(), archive_entry_uid(e), archive_entry_gid(e)) != 0) return sys_error("chown " + rel);
    CTL_TRY(set_xattrs(e, fd.get(), pfd, base));
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return sys_error("stat " + rel);
    // Mode and mtime wait for the end: later entries would change the mtime, and a read-only mode
    // would stop an unprivileged extraction from filling the directory.
    dirs_.push_back({rel, st.st_dev, st.st_ino, static_cast<mode_t>(archive_entry_perm(e) & 07777), mtime_of(e)});
    return ok();
}

Status Extractor::hardlink(const char* link, int pfd, const std::string& base, const std::string& rel) {
    CTL_ASSIGN_OR_RETURN(auto link_rel, clean_name(link));
    std::string target_rel = internal::join(target_, link_rel);
    if (link_rel.empty()) return make_error(Errc::InvalidArgument, "invalid hard link " + rel + " -> " + link);
    // Resolved inside the root and not followed at the end: a link to "/etc/passwd" names the
    // root's etc/passwd (or nothing), never the host's.
    auto target = internal::open_in_root(root_fd_, target_rel, O_PATH | O_NOFOLLOW);
    if (!target) {
        return Error{Errc::InvalidArgument,
                     "invalid hard link " + rel + " -> " + link + ": " + target.error().message, target.error().sys_errno};
    }
    struct stat tst, cur;
    if (::fstat(target->get(), &tst) != 0) return sys_error("stat " + target_rel);
    if (S_ISDIR(tst.st_mode)) return make_error(Errc::InvalidArgument, "invalid hard link " + rel + " to a directory");
    if (internal::lstat_at(pfd, base, &cur) && cur.st_dev == tst.st_dev && cur.st_ino == tst.st_ino) return ok();
    CTL_TRY(clear_slot(pfd, base, rel, false));
    if (::linkat(target->get(), "", pfd, base.c_str(), AT_EMPTY_PATH) != 0) {
        // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the fd's magic link works without it.
        if (::linkat(AT_FDCWD, internal::fd_path(target->get()).c_str(), pfd, base.c_str(), AT_SYMLINK_FOLLOW) != 0) {
            return sys_error("link " + rel + " -> " + target_rel);
        }
    }
    track(rel);
    return ok();
}

Status Extractor::special(struct archive_entry* e, int pfd, const std::string& base, const std::string& rel) {
    CTL_TRY(clear_slot(pfd, base, rel, false));
    auto type = archive_entry_filetype(e);
    if (type == AE_IFLNK) {
        const char* target = archive_entry_symlink(e);
        if (!target) target = archive_entry_symlink_utf8(e);
        if (!target || !*target) return make_error(Errc::InvalidArgument, "invalid symlink " + rel);
        // Stored verbatim: it is only ever resolved later with the root as "/".
        if (::symlinkat(target, pfd, base.c_str()) != 0) return sys_error("symlink " + rel);
    } else {
        mode_t kind = type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO;
        dev_t dev = kind == S_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
        if (::mknodat(pfd, base.c_str(), kind | 0600, dev) != 0) return sys_error("mknod " + rel);
    }
    track(rel);
    if (opt_.chown && ::fchownat(pfd, base.c_str(), archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) != 0) {
        return sys_error("chown " + rel);
    }
    if (type != AE_IFLNK && ::fchmodat(pfd, base.c_str(), archive_entry_perm(e) & 07777, AT_SYMLINK_NOFOLLOW) != 0) {
        return sys_error("chmod " + rel);
    }
    CTL_TRY(set_xattrs(e, -1, pfd, base));
    struct timespec mt = mtime_of(e);
    CTL_TRY(internal::set_mtime_at(pfd, base, mt));
    return ok();
}

Status Extractor::whiteout(const std::string& parent_rel, const std::string& name) {
    // ".wh." + name must name a sibling: ".", ".." (and "" for ".wh.") would reach the parent
    // directory or above.
    if (name.empty() || name == "." || name == "..") {
        return make_error(Errc::InvalidArgument, "invalid whiteout entry \"" + internal::join(parent_rel, ".wh." + name) + "\"");
    }
    std::string rel = internal::join(parent_rel, name);
    if (opt_.whiteouts == WhiteoutMode::Delete) {
        auto pfd = internal::open_in_root(root_fd_, parent_rel, O_RDONLY | O_DIRECTORY);
        if (!pfd) return pfd.error().code == Errc::NotFound ? ok() : Status(pfd.error());
        forget_under(rel);
        created_.erase(rel);
        return internal::remove_at(pfd->get(), name);
    }
    CTL_ASSIGN_OR_RETURN(int pfd, parent_dir(parent_rel));
    CTL_TRY(clear_slot(pfd, name, rel, false));
    // Overlay's whiteout: a character device 0/0 with no permission bits, as the kernel makes them.
    if (::mknodat(pfd, name.c_str(), S_IFCHR, makedev(0, 0)) != 0) return sys_error("mknod whiteout " + rel);
    return ok();
}

Status Extractor::opaque(const std::string& parent_rel) {
    if (opt_.whiteouts == WhiteoutMode::Delete) {
        auto pfd = internal::open_in_root(root_fd_, parent_rel, O_RDONLY | O_DIRECTORY);
        if (!pfd) return pfd.error().code == Errc::NotFound ? ok() : Status(pfd.error());
        forget_under(parent_rel);
        return purge_lower(pfd->get(), parent_rel);
    }
    CTL_ASSIGN_OR_RETURN(int pfd, parent_dir(parent_rel));
    if (::fsetxattr(pfd, "trusted.overlay.opaque", "y", 1, 0) != 0) return sys_error("set opaque on " + parent_rel);
    return ok();
}

// Empties an opaque directory of what earlier layers left, at any depth: only entries this
// archive wrote stay (the marker may come after them, and a directory kept from below may hold
// both).
Status Extractor::purge_lower(int dir_fd, const std::string& rel) {
    CTL_ASSIGN_OR_RETURN(auto names, internal::list_dir(dir_fd));
    for (const auto& n : names) {
        std::string child = internal::join(rel, n);
        if (!created_.count(child)) {
            CTL_TRY(internal::remove_at(dir_fd, n));
            continue;
        }
        struct stat st;
        if (!internal::lstat_at(dir_fd, n, &st) || !S_ISDIR(st.st_mode)) continue;
        int f = ::openat(dir_fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (f < 0) return sys_error("open " + child);
        UniqueFd sub(f);
        CTL_TRY(purge_lower(sub.get(), child));
    }
    return ok();
}

Status Extractor::entry(struct archive* a, struct archive_entry* e) {
    const char* raw = archive_entry_pathname(e);
    if (!raw) raw = archive_entry_pathname_utf8(e);
    if (!raw) return make_error(Errc::InvalidArgument, "invalid archive entry without a name");
    auto type = archive_entry_filetype(e);
    const char* link = archive_entry_hardlink(e);
    if (!link) link = archive_entry_hardlink_utf8(e);
    // Names are relative to the target: one that climbs above it is refused, not clamped.
    CTL_ASSIGN_OR_RETURN(auto inner, clean_name(raw));
    if (inner.empty()) {  // "./": metadata of the root (or target) itself
        if (type != AE_IFDIR || link) {
            return make_error(Errc::InvalidArgument, std::string("invalid archive entry \"") + raw + "\": not a directory");
        }
        if (target_.empty()) return directory(e, root_fd_, "", target_);
        CTL_ASSIGN_OR_RETURN(auto self, internal::open_in_root(root_fd_, target_, O_RDONLY | O_DIRECTORY));
        return directory(e, self.get(), "", target_);
    }
    std::string rel = internal::join(target_, inner);
    auto [parent_rel, base] = split_parent(rel);

    if (opt_.whiteouts != WhiteoutMode::None && starts_with(base, kWhiteoutPrefix)) {
        if (base == kOpaqueMarker) return opaque(parent_rel);
        if (starts_with(base, kWhiteoutMetaPrefix)) return ok();  // aufs bookkeeping (.wh..wh.plnk etc.)
        return whiteout(parent_rel, base.substr(kWhiteoutPrefix.size()));
    }

    CTL_ASSIGN_OR_RETURN(int pfd, parent_dir(parent_rel));
    if (link) return hardlink(link, pfd, base, rel);
    switch (type) {
        case AE_IFREG: return regular(a, e, pfd, base, rel);
        case AE_IFDIR: return directory(e, pfd, base, rel);
        case AE_IFLNK:
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO: return special(e, pfd, base, rel);
        default: return ok();  // sockets and unknown types: nothing to create (Docker skips them too)
    }
}

Status Extractor::finish() {
    cached_fd_.reset();
    for (const auto& d : dirs_) {
        // Reopen by name and check it is still the directory we made: an entry may have replaced it
        // by a symlink since, and the chmod/utimes must not follow that (libarchive #1566).
        auto fd = internal::open_in_root(root_fd_, d.rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (!fd) continue;
        struct stat st;
        if (::fstat(fd->get(), &st) != 0 || st.st_dev != d.dev || st.st_ino != d.ino) continue;
        if (::fchmod(fd->get(), d.perm) != 0) return sys_error("chmod " + d.rel);
        struct timespec times[2] = {d.mtime, d.mtime};
        if (::futimens(fd->get(), times) != 0) return sys_error("utimes " + d.rel);
    }
    return ok();
}

}  // namespace

Result<ApplyStats> apply_tar(const std::string& root, ReadFn read, const ApplyOptions& options) {
    auto root_fd = internal::open_dir(root);
    if (!root_fd) return with_context(root_fd.error(), "extracting archive");
    Extractor extractor(root_fd->get(), options);
    CTL_TRY(extractor.init());

    Source source{std::move(read)};
    ArchivePtr raw(archive_read_new());
    if (!raw) return make_error(Errc::Internal, "archive_read_new failed");
    const auto& filters = builtin_filters();
    if (filters.gzip) archive_read_support_filter_gzip(raw.get());
    if (filters.bzip2) archive_read_support_filter_bzip2(raw.get());
    if (filters.xz) archive_read_support_filter_xz(raw.get());
    if (filters.zstd) archive_read_support_filter_zstd(raw.get());
    archive_read_support_format_raw(raw.get());

    auto empty_stream = [] { return ApplyStats{sha256_digest(""), 0}; };
    auto open_failed = [&](struct archive* a) -> Error {
        if (source.failed) return make_error(Errc::Unavailable, "reading the archive stream failed");
        return make_error(Errc::InvalidArgument, "invalid archive: " + archive_message(a));
    };
    struct archive_entry* entry = nullptr;
    if (archive_read_open(raw.get(), &source, nullptr, source_read, nullptr) != ARCHIVE_OK ||
        archive_read_next_header(raw.get(), &entry) != ARCHIVE_OK) {
        // libarchive calls zero bytes "unrecognized"; Go's tar reader (Docker) calls it an empty layer.
        if (!source.failed && source.bytes == 0) return empty_stream();
        return open_failed(raw.get());
    }

    Decompressed stream;
    stream.raw = raw.get();
    stream.source = &source;
    stream.max = options.max_size;
    ArchivePtr tar(archive_read_new());
    if (!tar) return make_error(Errc::Internal, "archive_read_new failed");
    archive_read_support_format_tar(tar.get());  // ustar, pax and GNU; no filters: one layer of compression
    auto tar_error = [&](const std::string& what) -> Error {
        if (stream.error) return *stream.error;
        return make_error(Errc::InvalidArgument, "invalid tar archive: " + what + archive_message(tar.get()));
    };
    if (archive_read_open(tar.get(), &stream, nullptr, decompressed_read, nullptr) != ARCHIVE_OK) {
        if (!stream.error && stream.bytes == 0) return empty_stream();
        return tar_error("");
    }
    for (;;) {
        int rc = archive_read_next_header(tar.get(), &entry);
        if (rc == ARCHIVE_EOF) break;
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
            if (!stream.error && stream.bytes == 0) return empty_stream();
            return tar_error("");
        }
        if (auto st = extractor.entry(tar.get(), entry); !st) {
            if (stream.error) return *stream.error;  // a read failure surfaced while writing data
            return st.error();
        }
    }
    // The diffID covers every byte of the uncompressed stream, padding after the end marker too.
    for (;;) {
        la_ssize_t n = stream.pull();
        if (n < 0) return *stream.error;
        if (n == 0) break;
    }
    CTL_TRY(extractor.finish());
    return ApplyStats{stream.hash.digest(), extractor.content_size()};
}

// ---- creation ----

namespace {

Status walk(internal::TarWriter& w, int dir_fd, const std::string& prefix, bool translate, int depth = 0) {
    if (depth > internal::kMaxTreeDepth) return internal::too_deep(prefix);
    CTL_ASSIGN_OR_RETURN(auto names, internal::list_dir(dir_fd));
    for (const auto& n : names) {
        struct stat st;
        if (!internal::lstat_at(dir_fd, n, &st)) {
            if (errno == ENOENT) continue;  // removed while we walk (running container)
            return sys_error("stat " + internal::join(prefix, n));
        }
        std::string path = internal::join(prefix, n);
        if (S_ISSOCK(st.st_mode)) continue;  // tar cannot carry sockets
        if (translate && S_ISCHR(st.st_mode) && st.st_rdev == 0) {
            CTL_TRY(w.add_marker(internal::join(prefix, std::string(kWhiteoutPrefix) + n), st, 0600));
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            CTL_TRY(w.add(dir_fd, n, -1, st, path));
            continue;
        }
        int f = ::openat(dir_fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (f < 0) {
            if (errno == ENOENT) continue;
            return sys_error("open " + path);
        }
        UniqueFd child(f);
        CTL_TRY(w.add(dir_fd, n, child.get(), st, path));
        if (translate && internal::get_xattr(child.get(), "trusted.overlay.opaque") == "y") {
            CTL_TRY(w.add_marker(path + "/" + std::string(kOpaqueMarker), st, st.st_mode & 0777));
        }
        CTL_TRY(walk(w, child.get(), path, translate, depth + 1));
    }
    return ok();
}

}  // namespace

Status write_tar(const std::string& path, const Sink& sink, const TarOptions& options) {
    // Pin the parent directory and the name, so the top entry itself is never followed.
    UniqueFd parent;
    std::string base;
    if (!options.root.empty()) {
        CTL_ASSIGN_OR_RETURN(auto root_fd, internal::open_dir(options.root));
        CTL_ASSIGN_OR_RETURN(auto rel, clean_name(path, true));
        auto [parent_rel, b] = split_parent(rel);
        base = b;
        if (rel.empty()) {
            parent = std::move(root_fd);
        } else {
            CTL_ASSIGN_OR_RETURN(parent, internal::open_in_root(root_fd.get(), parent_rel, O_RDONLY | O_DIRECTORY));
        }
    } else {
        std::string p = path;
        while (p.size() > 1 && p.back() == '/') p.pop_back();
        auto slash = p.rfind('/');
        std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : p.substr(0, slash));
        base = slash == std::string::npos ? p : p.substr(slash + 1);
        if (p == "/" || base == "." || base == "..") {
            dir = p;
            base.clear();
        }
        CTL_ASSIGN_OR_RETURN(parent, internal::open_dir(dir));
    }
    std::string name = base.empty() ? "." : base;
    struct stat st;
    if (!internal::lstat_at(parent.get(), name, &st)) return sys_error("stat " + path);

    internal::TarWriter w(sink);
    CTL_TRY(w.open());
    if (S_ISDIR(st.st_mode)) {
        int f = ::openat(parent.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (f < 0) return sys_error("open " + path);
        UniqueFd dir(f);
        if (!options.name.empty()) {
            CTL_TRY(w.add(parent.get(), name, dir.get(), st, options.name));
            if (options.overlay_whiteouts && internal::get_xattr(dir.get(), "trusted.overlay.opaque") == "y") {
                CTL_TRY(w.add_marker(options.name + "/" + std::string(kOpaqueMarker), st, st.st_mode & 0777));
            }
        }
        CTL_TRY(walk(w, dir.get(), options.name, options.overlay_whiteouts));
    } else {
        if (options.name.empty()) return make_error(Errc::InvalidArgument, path + " is not a directory");
        if (S_ISSOCK(st.st_mode)) return make_error(Errc::InvalidArgument, path + " is a socket");
        CTL_TRY(w.add(parent.get(), name, -1, st, options.name));
    }
    return w.close();
}

}  // namespace ctl::graph
