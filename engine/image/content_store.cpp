#include "engine/image/content_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/base/util.hpp"

namespace ctl::image {

ContentStore::ContentStore(std::string root) : root_(std::move(root)) {}

Status ContentStore::init() {
    CTL_TRY(sys::mkdir_all(root_ + "/blobs/sha256", 0700));
    CTL_TRY(sys::remove_all(root_ + "/ingest"));
    return sys::mkdir_all(root_ + "/ingest", 0700);
}

std::string ContentStore::path(const std::string& digest) const {
    if (!validate_digest(digest) || !starts_with(digest, "sha256:")) return {};
    return root_ + "/blobs/sha256/" + digest.substr(7);
}

bool ContentStore::exists(const std::string& digest) const {
    auto p = path(digest);
    return !p.empty() && sys::exists(p);
}

Result<std::string> ContentStore::read(const std::string& digest) const {
    auto p = path(digest);
    if (p.empty()) return make_error(Errc::InvalidArgument, "invalid digest " + digest);
    auto data = sys::read_file(p);
    if (!data) return make_error(Errc::NotFound, "blob " + digest + " not found");
    return data;
}

Result<int64_t> ContentStore::size(const std::string& digest) const {
    struct stat st;
    auto p = path(digest);
    if (p.empty() || ::stat(p.c_str(), &st) != 0) return make_error(Errc::NotFound, "blob " + digest + " not found");
    return static_cast<int64_t>(st.st_size);
}

Status ContentStore::remove(const std::string& digest) {
    auto p = path(digest);
    if (!p.empty()) ::unlink(p.c_str());
    return ok();
}

Result<std::unique_ptr<ContentStore::Writer>> ContentStore::writer() {
    std::string tmp = root_ + "/ingest/" + random_hex_id().substr(0, 24);
    sys::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid()) return sys_error("create " + tmp);
    return std::unique_ptr<Writer>(new Writer(*this, tmp, std::move(fd)));
}

Result<std::string> ContentStore::put(std::string_view data, const std::string& expected) {
    CTL_ASSIGN_OR_RETURN(auto w, writer());
    CTL_TRY(w->write(data.data(), data.size()));
    return w->commit(expected);
}

ContentStore::Writer::Writer(ContentStore& store, std::string tmp_path, sys::UniqueFd fd)
    : store_(store), tmp_path_(std::move(tmp_path)), fd_(std::move(fd)) {}

ContentStore::Writer::~Writer() {
    if (!done_) ::unlink(tmp_path_.c_str());
}

Status ContentStore::Writer::write(const char* data, size_t size) {
    hash_.update(data, size);
    size_ += static_cast<int64_t>(size);
    return sys::write_all(fd_.get(), std::string_view(data, size));
}

Result<std::string> ContentStore::Writer::commit(const std::string& expected) {
    done_ = true;
    std::string digest = hash_.digest();
    if (!expected.empty() && expected != digest) {
        ::unlink(tmp_path_.c_str());
        return make_error(Errc::DataLoss, "digest mismatch: expected " + expected + ", got " + digest);
    }
    if (::fsync(fd_.get()) != 0) {
        ::unlink(tmp_path_.c_str());
        return sys_error("fsync blob");
    }
    fd_.reset();
    std::string final_path = store_.path(digest);
    if (::rename(tmp_path_.c_str(), final_path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp_path_.c_str());
        return sys_error("store blob " + digest, err);
    }
    return digest;
}

}  // namespace ctl::image
