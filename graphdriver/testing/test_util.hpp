// Helpers for the graphdriver tests: temp dirs that clean up their mounts, an in-memory tar
// builder (libarchive's writer), readers over strings, and tree snapshots for comparisons.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "graphdriver/archive.hpp"

namespace ctl::graph::testing {

// A fresh directory under /tmp. The destructor detaches every mount below it (deepest first,
// from /proc/self/mountinfo) and removes it, also when the test failed half-way.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    // path()/name, created (with parents) if missing.
    std::string make(const std::string& name) const;

private:
    std::string path_;
};

struct Meta {
    int mode = 0644;
    int uid = 0;
    int gid = 0;
    int64_t mtime = 1700000000;
    std::vector<std::pair<std::string, std::string>> xattrs;
};

inline Meta dir_meta(int mode = 0755, int uid = 0, int gid = 0, int64_t mtime = 1700000000) {
    return Meta{mode, uid, gid, mtime, {}};
}

// Builds tars in memory. Entries are written in the order added, names verbatim (hostile names
// included).
class TarBuilder {
public:
    TarBuilder& file(const std::string& name, const std::string& content, Meta m = {});
    TarBuilder& dir(const std::string& name, Meta m = dir_meta());
    TarBuilder& symlink(const std::string& name, const std::string& target, Meta m = {});
    TarBuilder& hardlink(const std::string& name, const std::string& target);
    TarBuilder& chardev(const std::string& name, int major, int minor, Meta m = {});
    TarBuilder& fifo(const std::string& name, Meta m = {});
    // The uncompressed tar (ustar/PAX, padded to libarchive's default 10 KiB record).
    std::string build() const;

private:
    struct Entry {
        std::string name;
        unsigned type;
        std::string content;  // file data or symlink/hardlink target
        Meta meta;
        int major = 0, minor = 0;
        bool hardlink = false;
    };
    std::vector<Entry> entries_;
};

// Compresses with libarchive's filter `filter` ("gzip", "bzip2", "xz", "zstd").
std::string compress(const std::string& data, const std::string& filter);
// Reads `data` in chunks of `chunk` bytes; with fail_at >= 0, returns -1 once that offset is reached.
ReadFn string_reader(std::string data, size_t chunk = 4096, long fail_at = -1);
// Applies a tar held in memory.
Result<ApplyStats> extract(const std::string& root, const std::string& tar, const ApplyOptions& options = {});
// Collects a Sink's output.
struct Collector {
    std::string data;
    Sink sink() {
        return [this](const char* d, size_t n) {
            data.append(d, n);
            return ok();
        };
    }
};
// Entry names of a tar (any compression) in archive order.
std::vector<std::string> tar_names(const std::string& tar);

// path -> "type mode uid:gid [size content] [target] [rdev] [mtime] [xattrs]" for every entry below
// root (not root itself). mtimes in whole seconds and only for non-directories when `mtimes`.
std::map<std::string, std::string> snapshot(const std::string& root, bool mtimes = true);
// Snapshot diff for failure messages ("" when equal).
std::string describe_difference(const std::map<std::string, std::string>& a, const std::map<std::string, std::string>& b);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);
bool is_mounted(const std::string& path);

}  // namespace ctl::graph::testing
