#include "engine/base/sys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <system_error>
#include <utility>

namespace ctl::sys {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
}

void UniqueFd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

Result<std::string> read_file(const std::string& path) {
    int fd;
    do {
        fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return sys_error("open " + path);
    UniqueFd owner(fd);
    std::string out;
    char buf[65536];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read " + path);
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

Status write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("write");
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return ok();
}

namespace {

Status write_file(const std::string& path, std::string_view data, int mode, bool sync) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd.valid()) return sys_error("create " + path);
    if (auto st = write_all(fd.get(), data); !st) return with_context(std::move(st).error(), path);
    if (sync && ::fsync(fd.get()) != 0) return sys_error("fsync " + path);
    return ok();
}

Status replace_file(const std::string& path, std::string_view data, int mode, bool durable) {
    std::string tmp = path + ".tmp";
    if (auto st = write_file(tmp, data, mode, durable); !st) {
        ::unlink(tmp.c_str());
        return st;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return sys_error("rename " + path, err);
    }
    if (durable) {
        std::string dir = std::filesystem::path(path).parent_path().string();
        UniqueFd dfd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (dfd.valid()) ::fsync(dfd.get());
    }
    return ok();
}

}  // namespace

Status write_file_atomic(const std::string& path, std::string_view data, int mode) {
    return replace_file(path, data, mode, true);
}

Status write_file_replace(const std::string& path, std::string_view data, int mode) {
    return replace_file(path, data, mode, false);
}

Status write_file_synced(const std::string& path, std::string_view data, int mode) {
    return write_file(path, data, mode, true);
}

Status mkdir_all(const std::string& path, int mode) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return sys_error("mkdir " + path, ec.value());
    (void)mode;
    return ok();
}

Status remove_all(const std::string& path) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec && ec.value() != ENOENT) return sys_error("remove " + path, ec.value());
    return ok();
}

bool exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

int64_t disk_usage(const std::string& path) {
    int64_t total = 0;
    std::set<std::pair<dev_t, ino_t>> seen;
    std::error_code ec;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return 0;
    auto it = std::filesystem::recursive_directory_iterator(
        path, std::filesystem::directory_options::skip_permission_denied, ec);
    for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (::lstat(it->path().c_str(), &st) != 0) continue;
        if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
        total += static_cast<int64_t>(st.st_blocks) * 512;
    }
    return total;
}

}  // namespace ctl::sys
