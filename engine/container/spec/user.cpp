// Docker's user resolution (runc's libcontainer/user GetExecUser) against the image's own
// /etc/passwd and /etc/group. The files belong to the image, so they are opened inside the rootfs:
// a symlinked /etc/passwd pointing at the host's is resolved within the rootfs, never outside.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"
#include "engine/container/spec/internal.hpp"
#include "engine/container/spec/oci_spec.hpp"

namespace ctl::container::spec {

namespace {

constexpr size_t kMaxDatabaseSize = 16 << 20;
constexpr int64_t kMaxId = (int64_t{1} << 31) - 1;  // runc's range for uids and gids

struct PasswdEntry {
    std::string name;
    int64_t uid = -1, gid = -1;
    std::string home;
};

struct GroupEntry {
    std::string name;
    int64_t gid = -1;
    std::vector<std::string> members;
};

// A decimal id in runc's range, or -1 when `text` is not one (then it is a name).
int64_t parse_id(std::string_view text) {
    int64_t v = -1;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return -1;
    return v;
}

bool is_numeric(std::string_view text) {
    if (text.empty()) return false;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

std::vector<std::string> database_lines(const std::string& text) {
    std::vector<std::string> out;
    for (auto& line : split(text, '\n')) {
        std::string t = trim(line);
        if (!t.empty() && t[0] != '#') out.push_back(std::move(t));
    }
    return out;
}

// name:password:uid:gid:gecos:home:shell
std::vector<PasswdEntry> parse_passwd(const std::string& text) {
    std::vector<PasswdEntry> out;
    for (const auto& line : database_lines(text)) {
        auto f = split(line, ':');
        if (f.size() < 4) continue;
        PasswdEntry e{f[0], parse_id(f[2]), parse_id(f[3]), f.size() > 5 ? f[5] : ""};
        if (e.uid < 0 || e.gid < 0 || e.uid > kMaxId || e.gid > kMaxId) continue;
        out.push_back(std::move(e));
    }
    return out;
}

// name:password:gid:member,member
std::vector<GroupEntry> parse_group(const std::string& text) {
    std::vector<GroupEntry> out;
    for (const auto& line : database_lines(text)) {
        auto f = split(line, ':');
        if (f.size() < 3) continue;
        GroupEntry e{f[0], parse_id(f[2]), {}};
        if (e.gid < 0 || e.gid > kMaxId) continue;
        if (f.size() > 3) {
            for (auto& m : split(f[3], ',')) {
                if (!m.empty()) e.members.push_back(trim(m));
            }
        }
        out.push_back(std::move(e));
    }
    return out;
}

// The file's text; "" when the image has none (numeric users still work then).
Result<std::string> read_database(const std::string& rootfs, const std::string& path) {
    auto text = internal::read_file_in_root(rootfs, path);
    if (!text && text.error().code == Errc::NotFound) return std::string();
    return text;
}

Error out_of_range() {
    return make_error(Errc::InvalidArgument,
                      "uids and gids must be in range 0-" + std::to_string(kMaxId));
}

Status apply_group(const std::vector<GroupEntry>& groups, const std::string& group_arg, ResolvedUser& u) {
    for (const auto& g : groups) {
        if (g.name == group_arg || (is_numeric(group_arg) && g.gid == parse_id(group_arg))) {
            u.gid = static_cast<uint32_t>(g.gid);
            return ok();
        }
    }
    if (!is_numeric(group_arg)) {
        return make_error(Errc::InvalidArgument,
                          "unable to find group " + group_arg + ": no matching entries in group file");
    }
    int64_t gid = parse_id(group_arg);
    if (gid < 0 || gid > kMaxId) return out_of_range();
    u.gid = static_cast<uint32_t>(gid);
    return ok();
}

}  // namespace

namespace internal {

Result<std::string> read_file_in_root(const std::string& rootfs, const std::string& path) {
    sys::UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root.valid()) return sys_error("open " + rootfs);
    struct open_how how;
    std::memset(&how, 0, sizeof how);
    // O_NONBLOCK: a FIFO planted at the path must not hang the daemon; it is refused below.
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    long fd = -1;
    for (int attempt = 0; attempt < 32; ++attempt) {
        fd = ::syscall(SYS_openat2, root.get(), path.c_str(), &how, sizeof how);
        if (fd >= 0 || (errno != EINTR && errno != EAGAIN)) break;
    }
    if (fd < 0) return sys_error("open " + path + " in the container's root file system");
    sys::UniqueFd file(static_cast<int>(fd));
    struct stat st{};
    if (::fstat(file.get(), &st) != 0) return sys_error("stat " + path);
    if (!S_ISREG(st.st_mode)) return make_error(Errc::InvalidArgument, path + " in the image is not a regular file");
    if (static_cast<size_t>(st.st_size) > kMaxDatabaseSize) {
        return make_error(Errc::InvalidArgument, path + " in the image is too large");
    }
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(file.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_error("read " + path);
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > kMaxDatabaseSize) {
            return make_error(Errc::InvalidArgument, path + " in the image is too large");
        }
    }
    return out;
}

}  // namespace internal

Result<std::vector<uint32_t>> resolve_groups(const std::string& rootfs, const std::vector<std::string>& names) {
    std::vector<uint32_t> out;
    if (names.empty()) return out;
    CTL_ASSIGN_OR_RETURN(std::string group_text, read_database(rootfs, "/etc/group"));
    auto groups = parse_group(group_text);
    for (const auto& name : names) {
        ResolvedUser u;
        if (auto st = apply_group(groups, name, u); !st) {
            return make_error(Errc::InvalidArgument, "Unable to find group " + name);
        }
        out.push_back(u.gid);
    }
    return out;
}

Result<ResolvedUser> resolve_user(const std::string& rootfs, const std::string& spec) {
    std::string user_arg = spec, group_arg;
    if (auto colon = spec.find(':'); colon != std::string::npos) {
        user_arg = spec.substr(0, colon);
        group_arg = spec.substr(colon + 1);
    }
    CTL_ASSIGN_OR_RETURN(std::string passwd_text, read_database(rootfs, "/etc/passwd"));
    auto users = parse_passwd(passwd_text);

    ResolvedUser u;
    std::string matched_name;  // the passwd entry's name: its groups become supplementary groups
    bool by_name = !user_arg.empty() && !is_numeric(user_arg);
    int64_t wanted_uid = user_arg.empty() ? 0 : parse_id(user_arg);  // "" is root; -1 for a name
    for (const auto& e : users) {
        if (by_name ? e.name != user_arg : e.uid != wanted_uid) continue;
        u.uid = static_cast<uint32_t>(e.uid);
        u.gid = static_cast<uint32_t>(e.gid);
        u.home = e.home.empty() ? "/" : e.home;
        matched_name = e.name;
        break;
    }
    if (matched_name.empty() && !user_arg.empty()) {
        if (by_name) {
            return make_error(Errc::InvalidArgument,
                              "unable to find user " + user_arg + ": no matching entries in passwd file");
        }
        if (wanted_uid < 0 || wanted_uid > kMaxId) return out_of_range();
        u.uid = static_cast<uint32_t>(wanted_uid);  // no entry: gid 0, home "/"
    }

    if (group_arg.empty() && matched_name.empty()) return u;
    CTL_ASSIGN_OR_RETURN(std::string group_text, read_database(rootfs, "/etc/group"));
    auto groups = parse_group(group_text);
    if (!group_arg.empty()) {
        // An explicit group replaces the primary one; no supplementary groups then (runc's rule).
        CTL_TRY(apply_group(groups, group_arg, u));
        return u;
    }
    for (const auto& g : groups) {
        for (const auto& m : g.members) {
            if (m == matched_name) {
                u.additional_gids.push_back(static_cast<uint32_t>(g.gid));
                break;
            }
        }
    }
    return u;
}

}  // namespace ctl::container::spec
