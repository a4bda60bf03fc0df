#include "graphdriver/internal/changes.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "graphdriver/internal/fs.hpp"
#include "graphdriver/internal/tar_writer.hpp"

namespace ctl::graph::internal {

namespace {

std::string capability_of(int dir_fd, const std::string& name) {
    char buf[256];
    ssize_t n = ::lgetxattr(fd_path(dir_fd, name).c_str(), "security.capability", buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

bool stat_different(const struct stat& a, const struct stat& b) {
    if (a.st_mode != b.st_mode || a.st_uid != b.st_uid || a.st_gid != b.st_gid || a.st_rdev != b.st_rdev) return true;
    if (S_ISDIR(b.st_mode)) return false;  // a directory's size and mtime say nothing (moby#9874)
    return a.st_size != b.st_size || a.st_mtim.tv_sec != b.st_mtim.tv_sec || a.st_mtim.tv_nsec != b.st_mtim.tv_nsec;
}

UniqueFd open_subdir(int dir_fd, const std::string& name) {
    return UniqueFd(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// new_fd: directory in the layer; old_fd: the same directory in the parent, or -1.
Status compare_dirs(int new_fd, int old_fd, const std::string& path, bool self_listed, std::vector<Change>& out,
                    int depth = 0) {
    if (depth > kMaxTreeDepth) return too_deep(path);
    size_t at_entry = out.size();
    CTL_ASSIGN_OR_RETURN(auto names, list_dir(new_fd));
    std::vector<std::string> old_names;
    if (old_fd >= 0) {
        CTL_ASSIGN_OR_RETURN(old_names, list_dir(old_fd));
    }
    std::set<std::string> old_set(old_names.begin(), old_names.end());
    for (const auto& n : names) {
        std::string child = path + "/" + n;
        struct stat st;
        if (!lstat_at(new_fd, n, &st)) continue;
        struct stat ost;
        bool in_old = old_set.count(n) && lstat_at(old_fd, n, &ost);
        bool listed = false;
        if (!in_old) {
            out.push_back({child, Change::Added});
            listed = true;
        } else if (stat_different(ost, st) || capability_of(old_fd, n) != capability_of(new_fd, n)) {
            out.push_back({child, Change::Modified});
            listed = true;
        }
        if (S_ISDIR(st.st_mode)) {
            UniqueFd nfd = open_subdir(new_fd, n);
            if (!nfd.valid()) return sys_error("open " + child);
            UniqueFd ofd;
            if (in_old && S_ISDIR(ost.st_mode)) ofd = open_subdir(old_fd, n);
            CTL_TRY(compare_dirs(nfd.get(), ofd.get(), child, listed, out, depth + 1));
        }
    }
    for (const auto& n : old_names) {
        if (!std::binary_search(names.begin(), names.end(), n)) out.push_back({path + "/" + n, Change::Deleted});
    }
    // Something inside changed: list the directory too, ahead of its contents.
    if (out.size() > at_entry && !self_listed && !path.empty()) {
        out.insert(out.begin() + static_cast<std::ptrdiff_t>(at_entry), Change{path, Change::Modified});
    }
    return ok();
}

// Resolves the parent directory of `rel` ("/a/b" style) inside root_fd without following symlinks.
Result<UniqueFd> open_parent(int root_fd, const std::string& path, std::string* base) {
    auto first = path.find_first_not_of('/');
    if (first == std::string::npos) return make_error(Errc::InvalidArgument, "invalid change path " + path);
    std::string rel = path.substr(first);
    auto slash = rel.rfind('/');
    *base = slash == std::string::npos ? rel : rel.substr(slash + 1);
    std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
    return open_in_root(root_fd, parent, O_RDONLY | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
}

}  // namespace

Result<std::vector<Change>> naive_changes(const std::string& layer_dir, const std::string& parent_dir) {
    CTL_ASSIGN_OR_RETURN(auto layer, open_dir(layer_dir));
    UniqueFd parent;
    if (!parent_dir.empty()) {
        CTL_ASSIGN_OR_RETURN(parent, open_dir(parent_dir));
    }
    std::vector<Change> out;
    CTL_TRY(compare_dirs(layer.get(), parent.get(), "", true, out));
    return out;
}

Status export_changes(const std::string& layer_dir, const std::vector<Change>& changes, const Sink& sink) {
    CTL_ASSIGN_OR_RETURN(auto root, open_dir(layer_dir));
    std::vector<Change> sorted = changes;
    std::sort(sorted.begin(), sorted.end(), [](const Change& a, const Change& b) { return a.path < b.path; });
    TarWriter w(sink);
    CTL_TRY(w.open());
    for (const auto& c : sorted) {
        std::string base;
        CTL_ASSIGN_OR_RETURN(auto dir, open_parent(root.get(), c.path, &base));
        std::string rel = c.path.substr(1);
        if (c.kind == Change::Deleted) {
            auto slash = rel.rfind('/');
            std::string marker = (slash == std::string::npos ? "" : rel.substr(0, slash + 1)) + ".wh." + base;
            struct stat owner {};
            owner.st_mtim.tv_sec = 0;
            CTL_TRY(w.add_marker(marker, owner, 0600));
            continue;
        }
        struct stat st;
        if (!lstat_at(dir.get(), base, &st)) return sys_error("stat " + c.path);
        if (S_ISSOCK(st.st_mode)) continue;
        UniqueFd fd;
        if (S_ISDIR(st.st_mode)) {
            fd = open_subdir(dir.get(), base);
            if (!fd.valid()) return sys_error("open " + c.path);
        }
        CTL_TRY(w.add(dir.get(), base, fd.get(), st, rel));
    }
    return w.close();
}

Result<int64_t> changes_size(const std::string& layer_dir, const std::vector<Change>& changes) {
    CTL_ASSIGN_OR_RETURN(auto root, open_dir(layer_dir));
    std::set<std::pair<dev_t, ino_t>> seen;
    int64_t total = 0;
    for (const auto& c : changes) {
        if (c.kind == Change::Deleted) continue;
        std::string base;
        auto dir = open_parent(root.get(), c.path, &base);
        if (!dir) continue;
        struct stat st;
        if (!lstat_at(dir->get(), base, &st) || S_ISDIR(st.st_mode)) continue;
        if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
        total += st.st_size;
    }
    return total;
}

// ---- overlay ----

namespace {

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == 0; }

enum class Lookup { Found, Hidden, Absent };

// Looks `parts` up in one layer: Found, Hidden (a whiteout, a non-directory ancestor, or an opaque
// ancestor without the path: lower layers do not count) or Absent (ask the next layer).
Lookup lookup_in_layer(int layer_fd, const std::vector<std::string>& parts) {
    int cur = layer_fd;
    UniqueFd holder;
    bool opaque_above = false;
    for (size_t i = 0; i < parts.size(); ++i) {
        struct stat st;
        if (!lstat_at(cur, parts[i], &st)) return opaque_above ? Lookup::Hidden : Lookup::Absent;
        if (is_whiteout(st)) return Lookup::Hidden;
        if (i + 1 == parts.size()) return Lookup::Found;
        if (!S_ISDIR(st.st_mode)) return Lookup::Hidden;
        UniqueFd sub = open_subdir(cur, parts[i]);
        if (!sub.valid()) return Lookup::Hidden;
        if (get_xattr(sub.get(), "trusted.overlay.opaque") == "y") opaque_above = true;
        holder = std::move(sub);
        cur = holder.get();
    }
    return Lookup::Found;  // parts empty: the root
}

// Whether the merged view of `lowers` (nearest first) shows `parts`.
bool lower_has(const std::vector<UniqueFd>& lowers, const std::vector<std::string>& parts) {
    for (const auto& layer : lowers) {
        Lookup r = lookup_in_layer(layer.get(), parts);
        if (r != Lookup::Absent) return r == Lookup::Found;
    }
    return false;
}

// The names the lowers show inside directory `parts` (for an opaque directory's deletions).
std::set<std::string> lower_children(const std::vector<UniqueFd>& lowers, const std::vector<std::string>& parts) {
    std::set<std::string> names;
    for (const auto& layer : lowers) {
        UniqueFd dir(::fcntl(layer.get(), F_DUPFD_CLOEXEC, 0));
        bool missing = false;
        for (const auto& p : parts) {
            UniqueFd sub = open_subdir(dir.get(), p);
            if (!sub.valid()) {
                missing = true;
                break;
            }
            dir = std::move(sub);
        }
        if (missing) continue;
        auto list = list_dir(dir.get());
        if (list) names.insert(list->begin(), list->end());
        if (get_xattr(dir.get(), "trusted.overlay.opaque") == "y") break;
    }
    std::set<std::string> visible;
    for (const auto& n : names) {
        auto child = parts;
        child.push_back(n);
        if (lower_has(lowers, child)) visible.insert(n);
    }
    return visible;
}

Status walk_upper(int dir_fd, std::vector<std::string>& parts, const std::vector<UniqueFd>& lowers,
                  std::vector<Change>& out) {
    if (parts.size() > static_cast<size_t>(kMaxTreeDepth)) return too_deep(parts.back());
    CTL_ASSIGN_OR_RETURN(auto names, list_dir(dir_fd));
    auto path_of = [&](const std::vector<std::string>& p) {
        std::string s;
        for (const auto& c : p) s += "/" + c;
        return s;
    };
    for (const auto& n : names) {
        struct stat st;
        if (!lstat_at(dir_fd, n, &st)) continue;
        parts.push_back(n);
        if (is_whiteout(st)) {
            out.push_back({path_of(parts), Change::Deleted});
        } else {
            bool in_lower = lower_has(lowers, parts);
            out.push_back({path_of(parts), in_lower ? Change::Modified : Change::Added});
            if (S_ISDIR(st.st_mode)) {
                UniqueFd sub = open_subdir(dir_fd, n);
                if (!sub.valid()) return sys_error("open " + path_of(parts));
                if (in_lower && get_xattr(sub.get(), "trusted.overlay.opaque") == "y") {
                    auto here = list_dir(sub.get());
                    std::set<std::string> upper_names;
                    if (here) upper_names.insert(here->begin(), here->end());
                    for (const auto& gone : lower_children(lowers, parts)) {
                        if (!upper_names.count(gone)) out.push_back({path_of(parts) + "/" + gone, Change::Deleted});
                    }
                }
                CTL_TRY(walk_upper(sub.get(), parts, lowers, out));
            }
        }
        parts.pop_back();
    }
    return ok();
}

}  // namespace

Result<std::vector<Change>> overlay_changes(const std::string& upper, const std::vector<std::string>& lowers) {
    CTL_ASSIGN_OR_RETURN(auto up, open_dir(upper));
    std::vector<UniqueFd> lower_fds;
    for (const auto& l : lowers) {
        CTL_ASSIGN_OR_RETURN(auto fd, open_dir(l));
        lower_fds.push_back(std::move(fd));
    }
    std::vector<Change> out;
    std::vector<std::string> parts;
    CTL_TRY(walk_upper(up.get(), parts, lower_fds, out));
    std::stable_sort(out.begin(), out.end(), [](const Change& a, const Change& b) { return a.path < b.path; });
    return out;
}

Result<int64_t> upper_size(const std::string& upper) {
    CTL_ASSIGN_OR_RETURN(auto root, open_dir(upper));
    std::set<std::pair<dev_t, ino_t>> seen;
    int64_t total = 0;
    std::function<Status(int, int)> walk = [&](int dir_fd, int depth) -> Status {
        if (depth > kMaxTreeDepth) return too_deep(upper);
        CTL_ASSIGN_OR_RETURN(auto names, list_dir(dir_fd));
        for (const auto& n : names) {
            struct stat st;
            if (!lstat_at(dir_fd, n, &st)) continue;
            if (S_ISDIR(st.st_mode)) {
                UniqueFd sub = open_subdir(dir_fd, n);
                if (sub.valid()) CTL_TRY(walk(sub.get(), depth + 1));
                continue;
            }
            if (is_whiteout(st)) continue;
            if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
            total += st.st_size;
        }
        return ok();
    };
    CTL_TRY(walk(root.get(), 0));
    return total;
}

}  // namespace ctl::graph::internal
