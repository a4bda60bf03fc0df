#include "engine/image/compression.hpp"

#include <archive.h>
#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "engine/base/sys.hpp"

namespace ctl::image {

namespace {

struct ReadContext {
    graph::ReadFn read;
    std::vector<char> buffer = std::vector<char>(256 * 1024);
};

la_ssize_t read_callback(struct archive* a, void* data, const void** out) {
    auto* ctx = static_cast<ReadContext*>(data);
    long n = ctx->read(ctx->buffer.data(), ctx->buffer.size());
    if (n < 0) {
        archive_set_error(a, EIO, "read failed");
        return -1;
    }
    *out = ctx->buffer.data();
    return n;
}

}  // namespace

Status decompress(graph::ReadFn read, const Sink& sink) {
    std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
    archive_read_support_filter_all(a.get());
    archive_read_support_format_raw(a.get());
    ReadContext ctx{std::move(read)};
    if (archive_read_open(a.get(), &ctx, nullptr, read_callback, nullptr) != ARCHIVE_OK) {
        return make_error(Errc::InvalidArgument, std::string("cannot read stream: ") + archive_error_string(a.get()));
    }
    struct archive_entry* entry = nullptr;
    int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) return ok();  // empty input
    if (rc != ARCHIVE_OK) {
        return make_error(Errc::InvalidArgument, std::string("cannot decompress: ") + archive_error_string(a.get()));
    }
    std::vector<char> buf(256 * 1024);
    for (;;) {
        la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
        if (n < 0) {
            return make_error(Errc::InvalidArgument, std::string("cannot decompress: ") + archive_error_string(a.get()));
        }
        if (n == 0) break;
        CTL_TRY(sink(buf.data(), static_cast<size_t>(n)));
    }
    return ok();
}

Result<graph::ReadFn> file_reader(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_error("open " + path);
    auto owner = std::make_shared<sys::UniqueFd>(fd);
    return graph::ReadFn([owner](void* buf, size_t len) -> long {
        for (;;) {
            ssize_t n = ::read(owner->get(), buf, len);
            if (n < 0 && errno == EINTR) continue;
            return static_cast<long>(n);
        }
    });
}

graph::ReadFn tee_reader(graph::ReadFn read, std::function<bool(const char*, size_t)> tee) {
    return [read = std::move(read), tee = std::move(tee)](void* buf, size_t len) -> long {
        long n = read(buf, len);
        if (n > 0 && !tee(static_cast<const char*>(buf), static_cast<size_t>(n))) return -1;
        return n;
    };
}

}  // namespace ctl::image
