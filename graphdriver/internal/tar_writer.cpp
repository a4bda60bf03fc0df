#include "graphdriver/internal/tar_writer.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "graphdriver/internal/fs.hpp"

namespace ctl::graph::internal {

namespace {

struct EntryDeleter {
    void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<struct archive_entry, EntryDeleter>;

// Names are bytes on Linux. Valid UTF-8 goes into PAX headers as is; anything else is written raw
// (libarchive then reports a warning we ignore, Go's reader takes the bytes the same way).
void set_pathname(struct archive_entry* e, const std::string& path) {
    if (!archive_entry_update_pathname_utf8(e, path.c_str())) archive_entry_copy_pathname(e, path.c_str());
}

}  // namespace

TarWriter::TarWriter(Sink sink) : sink_(std::move(sink)) {}

TarWriter::~TarWriter() {
    if (a_) archive_write_free(a_);
}

// After a sink error the output is discarded instead of failing the callback: a failed callback
// puts libarchive 3.6 into its FATAL state, where archive_write_free leaks the block buffer.
// Callers check sink_status_ after each step and stop early instead.
long TarWriter::write_cb(struct archive*, void* self, const void* buf, size_t len) {
    auto* w = static_cast<TarWriter*>(self);
    if (w->sink_status_) w->sink_status_ = w->sink_(static_cast<const char*>(buf), len);
    return static_cast<long>(len);
}

Status TarWriter::archive_error(const std::string& what) {
    if (!sink_status_) return sink_status_;  // the consumer's error is the real cause
    const char* msg = a_ ? archive_error_string(a_) : nullptr;
    return make_error(Errc::Internal, "writing tar: " + what + ": " + (msg ? msg : "unknown error"));
}

Status TarWriter::open() {
    a_ = archive_write_new();
    if (!a_) return make_error(Errc::Internal, "archive_write_new failed");
    // Restricted PAX: plain ustar headers unless a name, size, id or xattr needs an extension.
    if (archive_write_set_format_pax_restricted(a_) != ARCHIVE_OK) return archive_error("format");
    // No padding to a 10 KiB record after the end-of-archive marker (Go's tar writer adds none).
    archive_write_set_bytes_in_last_block(a_, 1);
    if (archive_write_open(a_, this, nullptr, &TarWriter::write_cb, nullptr) != ARCHIVE_OK) return archive_error("open");
    return ok();
}

Status TarWriter::write_data(int fd, int64_t size, const std::string& path) {
    std::vector<char> buf(256 * 1024);
    int64_t done = 0;
    while (done < size) {
        size_t want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(buf.size()), size - done));
        ssize_t n = ::read(fd, buf.data(), want);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read " + path);
        }
        if (n == 0) {
            // The file shrank after its header went out: pad with zeros to keep the archive valid.
            std::memset(buf.data(), 0, want);
            n = static_cast<ssize_t>(want);
        }
        if (archive_write_data(a_, buf.data(), static_cast<size_t>(n)) < 0) return archive_error(path);
        if (!sink_status_) return sink_status_;
        done += n;
    }
    return ok();
}

Status TarWriter::add(int dir_fd, const std::string& name, int fd, const struct stat& st, const std::string& path) {
    if (!sink_status_) return sink_status_;
    EntryPtr e(archive_entry_new());
    set_pathname(e.get(), path);
    archive_entry_set_mode(e.get(), st.st_mode);
    archive_entry_set_uid(e.get(), st.st_uid);
    archive_entry_set_gid(e.get(), st.st_gid);
    // Whole seconds, no atime/ctime: what Docker writes, and no PAX header for every entry.
    archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, 0);
    archive_entry_set_size(e.get(), 0);

    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
        auto key = std::make_pair(st.st_dev, st.st_ino);
        if (auto it = links_.find(key); it != links_.end()) {
            archive_entry_set_filetype(e.get(), AE_IFREG);
            if (!archive_entry_update_hardlink_utf8(e.get(), it->second.c_str())) {
                archive_entry_copy_hardlink(e.get(), it->second.c_str());
            }
            if (archive_write_header(a_, e.get()) < ARCHIVE_WARN) return archive_error(path);
            return ok();
        }
        links_.emplace(key, path);
    }

    UniqueFd file;
    if (S_ISLNK(st.st_mode)) {
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
        if (n < 0) return sys_error("readlink " + path);
        target.resize(static_cast<size_t>(n));
        if (!archive_entry_update_symlink_utf8(e.get(), target.c_str())) archive_entry_copy_symlink(e.get(), target.c_str());
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
        archive_entry_set_rdevmajor(e.get(), major(st.st_rdev));
        archive_entry_set_rdevminor(e.get(), minor(st.st_rdev));
    } else if (S_ISREG(st.st_mode)) {
        // O_NONBLOCK: if the name was swapped for a fifo after the stat, open must not hang.
        int f = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (f < 0) return sys_error("open " + path);
        file.reset(f);
        struct stat now;
        if (::fstat(f, &now) != 0) return sys_error("stat " + path);
        if (!S_ISREG(now.st_mode) || now.st_ino != st.st_ino) {
            return make_error(Errc::Conflict, "file changed while archiving: " + path);
        }
        archive_entry_set_size(e.get(), st.st_size);
    }

    auto xattrs = (fd >= 0) ? read_xattrs(fd) : file.valid() ? read_xattrs(file.get()) : read_xattrs_at(dir_fd, name);
    if (!xattrs) return with_context(xattrs.error(), path);
    for (const auto& [key, value] : *xattrs) {
        if (layer_xattr_allowed(key)) archive_entry_xattr_add_entry(e.get(), key.c_str(), value.data(), value.size());
    }

    if (archive_write_header(a_, e.get()) < ARCHIVE_WARN) return archive_error(path);
    if (!sink_status_) return sink_status_;
    if (file.valid()) CTL_TRY(write_data(file.get(), st.st_size, path));
    return ok();
}

Status TarWriter::add_marker(const std::string& path, const struct stat& owner, int perm) {
    if (!sink_status_) return sink_status_;
    EntryPtr e(archive_entry_new());
    set_pathname(e.get(), path);
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), static_cast<mode_t>(perm));
    archive_entry_set_uid(e.get(), owner.st_uid);
    archive_entry_set_gid(e.get(), owner.st_gid);
    archive_entry_set_mtime(e.get(), owner.st_mtim.tv_sec, 0);
    archive_entry_set_size(e.get(), 0);
    if (archive_write_header(a_, e.get()) < ARCHIVE_WARN) return archive_error(path);
    return ok();
}

Status TarWriter::close() {
    if (closed_) return ok();
    closed_ = true;
    if (archive_write_close(a_) != ARCHIVE_OK) return archive_error("close");
    return sink_status_;
}

}  // namespace ctl::graph::internal
