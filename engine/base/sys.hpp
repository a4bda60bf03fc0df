// Thin, checked wrappers over the file-system calls the engine makes. Each returns a Result
// carrying errno and the path, retries EINTR, and opens everything O_CLOEXEC.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "engine/base/result.hpp"

namespace ctl::sys {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    int release() { return std::exchange(fd_, -1); }
    void reset(int fd = -1);

private:
    int fd_ = -1;
};

Result<std::string> read_file(const std::string& path);
// Writes via temp file + fsync + rename + fsync of the directory, so readers see old or new.
Status write_file_atomic(const std::string& path, std::string_view data, int mode = 0644);
// Temp file + rename without any fsync: readers still see old or new, but a power cut may lose
// it. For files rebuilt at every container start and for state under the exec root (a tmpfs on
// most hosts, meaningless after a reboot); each fsync costs a container start milliseconds.
Status write_file_replace(const std::string& path, std::string_view data, int mode = 0644);
// Creates (or truncates) path in place and fsyncs it: for files written into a temp directory
// that is fsynced and renamed into place as a whole, where a per-file rename buys nothing.
Status write_file_synced(const std::string& path, std::string_view data, int mode = 0644);
Status mkdir_all(const std::string& path, int mode = 0755);
// Removes a tree; missing is fine. Does not cross mount points it cannot remove.
Status remove_all(const std::string& path);
bool exists(const std::string& path);
// Disk usage of a tree in bytes (st_blocks based, hard links counted once).
int64_t disk_usage(const std::string& path);

// Writes all of `data` to `fd`, retrying on EINTR and short writes.
Status write_all(int fd, std::string_view data);

}  // namespace ctl::sys
