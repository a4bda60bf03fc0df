#include "engine/container/archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <vector>

#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"

namespace ctl::container::archive {

namespace {

using sys::UniqueFd;

constexpr int kMaxLinks = 40;  // as the kernel's MAXSYMLINKS

Error errno_error(const std::string& what) {
    int err = errno;
    Errc code = err == ENOENT ? Errc::NotFound : (err == ENOTDIR || err == ELOOP) ? Errc::InvalidArgument : Errc::Internal;
    return make_error(code, what + ": " + std::strerror(err));
}

// openat2 below root_fd with RESOLVE_IN_ROOT: whatever `rel` holds, the result is inside the root.
Result<UniqueFd> open_in(int root_fd, const std::string& rel, int flags) {
    struct open_how how {};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    std::string p = rel.empty() ? "." : rel;
    for (;;) {
        long fd = ::syscall(SYS_openat2, root_fd, p.c_str(), &how, sizeof(how));
        if (fd >= 0) return UniqueFd(static_cast<int>(fd));
        if (errno == EINTR || errno == EAGAIN) continue;
        return errno_error(rel.empty() ? "/" : "/" + rel);
    }
}

Result<UniqueFd> open_root(const std::string& root) {
    int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_error("container root");
    return UniqueFd(fd);
}

std::vector<std::string> components(const std::string& path) {
    std::vector<std::string> out;
    for (auto& part : split(path, '/')) {
        if (!part.empty() && part != ".") out.push_back(part);
    }
    return out;
}

std::string join_rel(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
    return out;
}

// Docker's rule: a trailing "/" or "/." asks for what a symlink points to.
bool wants_follow(const std::string& path) {
    return ends_with(path, "/") || ends_with(path, "/.") || path == ".";
}

// filepath.Base of the path as asked (after making it absolute): "." for ".../.", "/" for "/".
std::string base_name(const std::string& path) {
    if (ends_with(path, "/.") || path == ".") return ".";
    auto parts = components(path);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (*it != "..") return *it;  // ".." only at the end of odd paths; Go's Base would return it
    }
    return "/";
}

// The chroot-style walk: components are taken one by one, symlinks are read and spliced in
// (absolute ones restart at the root), ".." never climbs above the root.
Result<std::vector<std::string>> resolve_parts(int root_fd, const std::string& path, bool follow_last) {
    std::deque<std::string> todo;
    for (auto& part : split(path, '/')) {
        if (!part.empty() && part != ".") todo.push_back(part);
    }
    std::vector<std::string> done;
    int links = 0;
    while (!todo.empty()) {
        std::string part = todo.front();
        todo.pop_front();
        if (part == "..") {
            if (!done.empty()) done.pop_back();
            continue;
        }
        bool last = todo.empty();
        if (last && !follow_last) {
            done.push_back(part);
            break;
        }
        auto dir = open_in(root_fd, join_rel(done), O_PATH | O_DIRECTORY);
        if (!dir) return dir.error();
        struct stat st;
        if (::fstatat(dir->get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode)) {
            // Missing or not a link: the rest of the path is taken as written.
            done.push_back(part);
            continue;
        }
        if (++links > kMaxLinks) return make_error(Errc::InvalidArgument, "too many levels of symbolic links: " + path);
        char buf[4096];
        ssize_t n = ::readlinkat(dir->get(), part.c_str(), buf, sizeof(buf));
        if (n < 0) return errno_error("readlink " + part);
        std::string target(buf, static_cast<size_t>(n));
        if (!target.empty() && target[0] == '/') done.clear();
        auto parts = split(target, '/');
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
            if (!it->empty() && *it != ".") todo.push_front(*it);
        }
    }
    return done;
}

// lstat of an in-root relative path (the last component not followed).
Result<struct stat> lstat_in(int root_fd, const std::vector<std::string>& parts) {
    struct stat st;
    if (parts.empty()) {
        if (::fstat(root_fd, &st) != 0) return errno_error("/");
        return st;
    }
    std::vector<std::string> parent(parts.begin(), parts.end() - 1);
    CTL_ASSIGN_OR_RETURN(auto dir, open_in(root_fd, join_rel(parent), O_PATH | O_DIRECTORY));
    if (::fstatat(dir.get(), parts.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return errno_error("/" + join_rel(parts));
    }
    return st;
}

// ---- spooling and the dir/non-dir check ----

Result<UniqueFd> spool(graph::ReadFn& read, const std::string& dir, int64_t max_size) {
    CTL_TRY(sys::mkdir_all(dir, 0700));
    int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        // File systems without O_TMPFILE: a named file unlinked at once.
        std::string tmpl = dir + "/cp-XXXXXX";
        fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
        if (fd < 0) return errno_error("spool file");
        ::unlink(tmpl.c_str());
    }
    UniqueFd out(fd);
    std::vector<char> buf(1 << 16);
    int64_t total = 0;
    for (;;) {
        long n = read(buf.data(), buf.size());
        if (n < 0) return make_error(Errc::Unavailable, "reading the archive failed");
        if (n == 0) break;
        total += n;
        if (max_size > 0 && total > max_size) return make_error(Errc::TooLarge, "archive too large");
        CTL_TRY(sys::write_all(out.get(), std::string_view(buf.data(), static_cast<size_t>(n))));
    }
    if (::lseek(out.get(), 0, SEEK_SET) < 0) return errno_error("spool file");
    return out;
}

struct ArchiveReader {
    struct archive* a = archive_read_new();
    ~ArchiveReader() { archive_read_free(a); }
};

// Walks the spooled archive's entry names and compares each with what exists under target:
// Docker's noOverwriteDirNonDir. Formats it cannot read are left to apply_tar to reject.
Status check_dir_non_dir(int fd, int root_fd, const std::vector<std::string>& target) {
    ArchiveReader r;
    archive_read_support_format_tar(r.a);
    archive_read_support_filter_gzip(r.a);
    if (archive_read_open_fd(r.a, fd, 1 << 16) != ARCHIVE_OK) return ok();
    struct archive_entry* e;
    Status result = ok();
    while (archive_read_next_header(r.a, &e) == ARCHIVE_OK) {
        const char* raw = archive_entry_pathname(e);
        if (!raw) continue;
        std::vector<std::string> parts = target;
        bool escapes = false;
        for (auto& part : split(raw, '/')) {
            if (part.empty() || part == ".") continue;
            if (part == "..") {
                if (parts.size() <= target.size()) escapes = true;
                else parts.pop_back();
                continue;
            }
            parts.push_back(part);
        }
        if (escapes || parts.size() == target.size()) continue;  // apply_tar judges these
        bool entry_dir = archive_entry_hardlink(e) == nullptr && archive_entry_filetype(e) == AE_IFDIR;
        // Parents are resolved as apply_tar will (symlinks inside the root), the last one not.
        std::vector<std::string> parent(parts.begin(), parts.end() - 1);
        auto resolved = resolve_parts(root_fd, "/" + join_rel(parent), true);
        if (!resolved) continue;
        resolved->push_back(parts.back());
        auto st = lstat_in(root_fd, *resolved);
        if (!st) continue;  // not there yet: nothing to overwrite
        std::string shown = "/" + join_rel(parts);
        if (S_ISDIR(st->st_mode) && !entry_dir) {
            result = make_error(Errc::InvalidArgument,
                                "cannot overwrite directory \"" + shown + "\" with non-directory \"" + shown + "\"");
            break;
        }
        if (!S_ISDIR(st->st_mode) && entry_dir) {
            result = make_error(Errc::InvalidArgument,
                                "cannot overwrite non-directory \"" + shown + "\" with directory \"" + shown + "\"");
            break;
        }
    }
    if (::lseek(fd, 0, SEEK_SET) < 0) return errno_error("spool file");
    return result;
}

std::string base64(std::string_view in) {
    static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
        for (int s : {18, 12, 6, 0}) out += kAlphabet[(v >> s) & 63];
    }
    if (i < in.size()) {
        uint32_t v = uint8_t(in[i]) << 16;
        if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

}  // namespace

uint32_t go_file_mode(uint32_t m) {
    uint32_t out = m & 0777;
    switch (m & S_IFMT) {
        case S_IFDIR: out |= 1u << 31; break;
        case S_IFLNK: out |= 1u << 27; break;
        case S_IFBLK: out |= 1u << 26; break;
        case S_IFCHR: out |= (1u << 26) | (1u << 21); break;
        case S_IFIFO: out |= 1u << 25; break;
        case S_IFSOCK: out |= 1u << 24; break;
        default: break;
    }
    if (m & S_ISUID) out |= 1u << 23;
    if (m & S_ISGID) out |= 1u << 22;
    if (m & S_ISVTX) out |= 1u << 20;
    return out;
}

Json stat_json(const PathStat& st) {
    return {{"name", st.name},
            {"size", st.size},
            {"mode", st.mode},
            {"mtime", rfc3339_nano(st.mtime_ns)},
            {"linkTarget", st.link_target}};
}

std::string stat_header(const PathStat& st) { return base64(to_line(stat_json(st))); }

Result<std::string> resolve(const std::string& root, const std::string& path, bool follow_last) {
    CTL_ASSIGN_OR_RETURN(auto root_fd, open_root(root));
    CTL_ASSIGN_OR_RETURN(auto parts, resolve_parts(root_fd.get(), path, follow_last));
    return "/" + join_rel(parts);
}

Result<PathStat> stat(const std::string& root, const std::string& path) {
    CTL_ASSIGN_OR_RETURN(auto root_fd, open_root(root));
    CTL_ASSIGN_OR_RETURN(auto parts, resolve_parts(root_fd.get(), path, wants_follow(path)));
    CTL_ASSIGN_OR_RETURN(auto st, lstat_in(root_fd.get(), parts));
    PathStat out;
    out.name = base_name(path);
    out.size = st.st_size;
    out.mode = go_file_mode(st.st_mode);
    out.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (S_ISLNK(st.st_mode)) {
        CTL_ASSIGN_OR_RETURN(auto target, resolve_parts(root_fd.get(), "/" + join_rel(parts), true));
        out.link_target = "/" + join_rel(target);
    }
    return out;
}

Status write(const std::string& root, const std::string& path, const graph::Sink& sink) {
    CTL_ASSIGN_OR_RETURN(auto root_fd, open_root(root));
    CTL_ASSIGN_OR_RETURN(auto parts, resolve_parts(root_fd.get(), path, wants_follow(path)));
    CTL_TRY(lstat_in(root_fd.get(), parts));  // NotFound before any byte is written
    std::string name = base_name(path);
    graph::TarOptions options;
    options.name = name == "/" ? "." : name;
    options.root = root;
    return graph::write_tar("/" + join_rel(parts), sink, options);
}

Status extract(const std::string& root, const std::string& path, graph::ReadFn read, const ExtractOptions& options) {
    CTL_ASSIGN_OR_RETURN(auto root_fd, open_root(root));
    CTL_ASSIGN_OR_RETURN(auto parts, resolve_parts(root_fd.get(), path, true));
    CTL_ASSIGN_OR_RETURN(auto st, lstat_in(root_fd.get(), parts));
    if (!S_ISDIR(st.st_mode)) return make_error(Errc::InvalidArgument, "extraction point is not a directory");

    graph::ApplyOptions apply;
    apply.whiteouts = graph::WhiteoutMode::None;  // a ".wh." file copied in is just a file
    apply.chown = true;
    apply.max_size = options.max_size;
    apply.target = join_rel(parts);
    if (!options.no_overwrite_dir_non_dir) {
        auto applied = graph::apply_tar(root, std::move(read), apply);
        if (!applied) return applied.error();
        return ok();
    }

    CTL_ASSIGN_OR_RETURN(auto file, spool(read, options.spool_dir, options.max_size));
    CTL_TRY(check_dir_non_dir(file.get(), root_fd.get(), parts));
    int fd = file.get();
    auto from_file = [fd](void* buf, size_t len) -> long {
        for (;;) {
            ssize_t n = ::read(fd, buf, len);
            if (n < 0 && errno == EINTR) continue;
            return static_cast<long>(n);
        }
    };
    auto applied = graph::apply_tar(root, from_file, apply);
    if (!applied) return applied.error();
    return ok();
}

}  // namespace ctl::container::archive
