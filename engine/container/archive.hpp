// `docker cp` on a container's file system, given the directory that is its root (the mounted
// rw layer, or /proc/<pid>/root of a running container so volumes and binds are included).
//
// Paths are container paths ("/etc/hosts"). They are resolved the way Docker resolves them, but
// inside the root as if chrooted: ".." stops at the root and absolute symlinks start from it; the
// last component is followed only when the path ends in "/" or "/.". Every file operation then
// goes through graph::write_tar / graph::apply_tar, which resolve again with openat2
// RESOLVE_IN_ROOT, so a symlink swapped in by the container between the two steps still cannot
// lead outside the root (CVE-2018-15664).
//
// Everything here blocks on disk I/O: call it from worker threads.
#pragma once

#include <cstdint>
#include <string>

#include "engine/base/json.hpp"
#include "engine/base/result.hpp"
#include "graphdriver/archive.hpp"

namespace ctl::container::archive {

struct PathStat {
    std::string name;         // base name of the path as asked ("/" for the root)
    int64_t size = 0;
    uint32_t mode = 0;        // Go os.FileMode bits (directory 1<<31, symlink 1<<27, ...)
    int64_t mtime_ns = 0;
    std::string link_target;  // for a symlink: where it leads, fully resolved, as a container path
};

// {"name","size","mode","mtime","linkTarget"} and its base64 form for X-Docker-Container-Path-Stat.
Json stat_json(const PathStat& st);
std::string stat_header(const PathStat& st);

// The container path `path` resolved under `root` (always absolute, cleaned). Does not require
// the path to exist; a missing component ends symlink resolution there.
// Errors: InvalidArgument (not absolute-able, too many links), file-system errors.
Result<std::string> resolve(const std::string& root, const std::string& path, bool follow_last);

// HEAD /archive. NotFound when the path does not exist.
Result<PathStat> stat(const std::string& root, const std::string& path);

// GET /archive: a tar of the path named after its base name (a directory with its contents).
Status write(const std::string& root, const std::string& path, const graph::Sink& sink);

struct ExtractOptions {
    // Refuse to replace an existing directory with a non-directory or the reverse (docker cp
    // always asks for this). Checking needs the whole archive first, so it is spooled to a
    // temporary file under `spool_dir`.
    bool no_overwrite_dir_non_dir = false;
    std::string spool_dir;
    int64_t max_size = 0;  // bytes of uncompressed tar; 0 = none
};

// PUT /archive: extracts the tar from `read` into the directory `path`. NotFound when it does
// not exist, InvalidArgument when it is not a directory, when an entry would leave the root or
// (with no_overwrite_dir_non_dir) change a directory into a file or back.
Status extract(const std::string& root, const std::string& path, graph::ReadFn read, const ExtractOptions& options);

// Go's os.FileMode of a stat mode.
uint32_t go_file_mode(uint32_t st_mode);

}  // namespace ctl::container::archive
