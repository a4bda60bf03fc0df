// A libarchive tar writer fed from directory fds; shared by write_tar and the naive diff export.
#pragma once

#include <sys/stat.h>

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "engine/base/result.hpp"
#include "graphdriver/archive.hpp"

struct archive;

namespace ctl::graph::internal {

class TarWriter {
public:
    explicit TarWriter(Sink sink);
    ~TarWriter();
    TarWriter(const TarWriter&) = delete;
    TarWriter& operator=(const TarWriter&) = delete;

    Status open();
    // Adds the inode `name` of dir_fd, lstat'ed as `st`, as archive entry `path`. `fd` is an open fd
    // of it when the caller has one (directories), else -1; regular files are opened here
    // (O_NOFOLLOW) and their content streamed. A second name of an inode already in this archive
    // becomes a hard link entry.
    Status add(int dir_fd, const std::string& name, int fd, const struct stat& st, const std::string& path);
    // An empty regular file entry (OCI whiteout markers).
    Status add_marker(const std::string& path, const struct stat& owner, int perm);
    // Writes the end-of-archive blocks; the sink has seen everything once this returns.
    Status close();

private:
    static long write_cb(struct archive* a, void* self, const void* buf, size_t len);
    Status archive_error(const std::string& what);
    Status write_data(int fd, int64_t size, const std::string& path);

    Sink sink_;
    Status sink_status_;
    struct archive* a_ = nullptr;
    bool closed_ = false;
    std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

}  // namespace ctl::graph::internal
