#include "graphdriver/testing/test_util.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "engine/base/digest.hpp"
#include "graphdriver/internal/fs.hpp"

namespace ctl::graph::testing {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> mounts_below(const std::string& dir) {
    std::vector<std::string> out;
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string id, parent, devno, root, mount_point;
        fields >> id >> parent >> devno >> root >> mount_point;
        if (mount_point == dir || mount_point.rfind(dir + "/", 0) == 0) out.push_back(mount_point);
    }
    std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    return out;
}

}  // namespace

TempDir::TempDir() {
    char tmpl[] = "/tmp/ctl-graph-test-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir() {
    for (int round = 0; round < 3; ++round) {
        auto mounts = mounts_below(path_);
        if (mounts.empty()) break;
        for (const auto& m : mounts) ::umount2(m.c_str(), MNT_DETACH);
    }
    (void)internal::remove_tree(path_);
}

std::string TempDir::make(const std::string& name) const {
    std::string p = path_ + "/" + name;
    fs::create_directories(p);
    return p;
}

TarBuilder& TarBuilder::file(const std::string& name, const std::string& content, Meta m) {
    entries_.push_back({name, AE_IFREG, content, std::move(m)});
    return *this;
}
TarBuilder& TarBuilder::dir(const std::string& name, Meta m) {
    entries_.push_back({name, AE_IFDIR, "", std::move(m)});
    return *this;
}
TarBuilder& TarBuilder::symlink(const std::string& name, const std::string& target, Meta m) {
    m.mode = 0777;
    entries_.push_back({name, AE_IFLNK, target, std::move(m)});
    return *this;
}
TarBuilder& TarBuilder::hardlink(const std::string& name, const std::string& target) {
    Entry e{name, AE_IFREG, target, Meta{}};
    e.hardlink = true;
    entries_.push_back(std::move(e));
    return *this;
}
TarBuilder& TarBuilder::chardev(const std::string& name, int major, int minor, Meta m) {
    Entry e{name, AE_IFCHR, "", std::move(m)};
    e.major = major;
    e.minor = minor;
    entries_.push_back(std::move(e));
    return *this;
}
TarBuilder& TarBuilder::fifo(const std::string& name, Meta m) {
    entries_.push_back({name, AE_IFIFO, "", std::move(m)});
    return *this;
}

namespace {

la_ssize_t append_cb(struct archive*, void* data, const void* buf, size_t len) {
    static_cast<std::string*>(data)->append(static_cast<const char*>(buf), len);
    return static_cast<la_ssize_t>(len);
}

}  // namespace

std::string TarBuilder::build() const {
    std::string out;
    struct archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_open(a, &out, nullptr, append_cb, nullptr);
    for (const auto& e : entries_) {
        struct archive_entry* en = archive_entry_new();
        archive_entry_copy_pathname(en, e.name.c_str());
        archive_entry_set_uid(en, e.meta.uid);
        archive_entry_set_gid(en, e.meta.gid);
        archive_entry_set_mtime(en, e.meta.mtime, 0);
        archive_entry_set_filetype(en, e.type);
        archive_entry_set_perm(en, static_cast<mode_t>(e.meta.mode));
        archive_entry_set_size(en, 0);
        if (e.hardlink) {
            archive_entry_copy_hardlink(en, e.content.c_str());
        } else if (e.type == AE_IFLNK) {
            archive_entry_copy_symlink(en, e.content.c_str());
        } else if (e.type == AE_IFREG) {
            archive_entry_set_size(en, static_cast<la_int64_t>(e.content.size()));
        } else if (e.type == AE_IFCHR) {
            archive_entry_set_rdevmajor(en, static_cast<dev_t>(e.major));
            archive_entry_set_rdevminor(en, static_cast<dev_t>(e.minor));
        }
        for (const auto& [k, v] : e.meta.xattrs) archive_entry_xattr_add_entry(en, k.c_str(), v.data(), v.size());
        if (archive_write_header(a, en) < ARCHIVE_WARN) throw std::runtime_error(archive_error_string(a));
        if (e.type == AE_IFREG && !e.hardlink && !e.content.empty()) {
            archive_write_data(a, e.content.data(), e.content.size());
        }
        archive_entry_free(en);
    }
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

std::string compress(const std::string& data, const std::string& filter) {
    std::string out;
    struct archive* a = archive_write_new();
    archive_write_set_format_raw(a);
    if (archive_write_add_filter_by_name(a, filter.c_str()) != ARCHIVE_OK) {
        std::string msg = archive_error_string(a);
        archive_write_free(a);
        throw std::runtime_error("filter " + filter + ": " + msg);
    }
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open(a, &out, nullptr, append_cb, nullptr);
    struct archive_entry* en = archive_entry_new();
    archive_entry_set_filetype(en, AE_IFREG);
    archive_entry_copy_pathname(en, "data");
    archive_entry_set_size(en, static_cast<la_int64_t>(data.size()));
    archive_write_header(a, en);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(en);
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

ReadFn string_reader(std::string data, size_t chunk, long fail_at) {
    auto state = std::make_shared<std::pair<std::string, size_t>>(std::move(data), 0);
    return [state, chunk, fail_at](void* buf, size_t len) -> long {
        auto& [d, pos] = *state;
        if (fail_at >= 0 && pos >= static_cast<size_t>(fail_at)) return -1;
        size_t n = std::min({len, chunk, d.size() - pos});
        if (fail_at >= 0) n = std::min(n, static_cast<size_t>(fail_at) - pos);
        std::memcpy(buf, d.data() + pos, n);
        pos += n;
        return static_cast<long>(n);
    };
}

Result<ApplyStats> extract(const std::string& root, const std::string& tar, const ApplyOptions& options) {
    return apply_tar(root, string_reader(tar), options);
}

std::vector<std::string> tar_names(const std::string& tar) {
    std::vector<std::string> out;
    struct archive* a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_memory(a, tar.data(), tar.size()) == ARCHIVE_OK) {
        struct archive_entry* e;
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) out.emplace_back(archive_entry_pathname(e));
    }
    archive_read_free(a);
    return out;
}

std::map<std::string, std::string> snapshot(const std::string& root, bool mtimes) {
    std::map<std::string, std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        std::string p = it->path().string();
        struct stat st;
        if (::lstat(p.c_str(), &st) != 0) continue;
        std::ostringstream d;
        const char* type = S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : S_ISLNK(st.st_mode) ? "link"
                           : S_ISCHR(st.st_mode) ? "chr" : S_ISBLK(st.st_mode) ? "blk" : S_ISFIFO(st.st_mode) ? "fifo" : "other";
        d << type << " " << std::oct << (st.st_mode & 07777) << std::dec << " " << st.st_uid << ":" << st.st_gid;
        if (S_ISREG(st.st_mode)) d << " size=" << st.st_size << " sha=" << sha256_hex(read_file(p)).substr(0, 12);
        if (S_ISLNK(st.st_mode)) d << " -> " << fs::read_symlink(p, ec).string();
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) d << " dev=" << major(st.st_rdev) << "," << minor(st.st_rdev);
        if (mtimes && !S_ISDIR(st.st_mode)) d << " mtime=" << st.st_mtim.tv_sec;
        char names[4096];
        ssize_t n = ::llistxattr(p.c_str(), names, sizeof names);
        std::vector<std::string> keys;
        for (ssize_t i = 0; i < n;) {
            std::string k(names + i);
            i += static_cast<ssize_t>(k.size()) + 1;
            if (k.rfind("user.", 0) == 0 || k == "trusted.overlay.opaque") keys.push_back(k);
        }
        std::sort(keys.begin(), keys.end());
        for (const auto& k : keys) {
            char v[1024];
            ssize_t vn = ::lgetxattr(p.c_str(), k.c_str(), v, sizeof v);
            d << " " << k << "=" << std::string(v, vn > 0 ? static_cast<size_t>(vn) : 0);
        }
        out[p.substr(root.size())] = d.str();
    }
    return out;
}

std::string describe_difference(const std::map<std::string, std::string>& a, const std::map<std::string, std::string>& b) {
    std::ostringstream d;
    for (const auto& [k, v] : a) {
        auto it = b.find(k);
        if (it == b.end()) d << "only in first: " << k << " " << v << "\n";
        else if (it->second != v) d << "differs: " << k << "\n  " << v << "\n  " << it->second << "\n";
    }
    for (const auto& [k, v] : b) {
        if (!a.count(k)) d << "only in second: " << k << " " << v << "\n";
    }
    return d.str();
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
}

bool is_mounted(const std::string& path) { return internal::is_mountpoint(path); }

}  // namespace ctl::graph::testing
