// Content-addressed blobs (compressed layers as pulled, manifests, configs) under
// <root>/blobs/sha256/<hex>. Push and save need the exact bytes a registry served, so they are
// kept apart from the unpacked layers. A write is invisible until commit() verified its digest.
#pragma once

#include <memory>
#include <string>

#include "engine/base/digest.hpp"
#include "engine/base/result.hpp"
#include "engine/base/sys.hpp"

namespace ctl::image {

class ContentStore {
public:
    explicit ContentStore(std::string root);
    // Removes ingest files left by a crash.
    Status init();

    // A blob being written: bytes go to a temp file while they are hashed.
    class Writer {
    public:
        Status write(const char* data, size_t size);
        int64_t size() const { return size_; }
        // Checks the digest (when `expected` is not empty) and moves the blob into place.
        // DataLoss on mismatch; the temp file is removed either way.
        Result<std::string> commit(const std::string& expected = {});
        ~Writer();

    private:
        friend class ContentStore;
        Writer(ContentStore& store, std::string tmp_path, sys::UniqueFd fd);
        ContentStore& store_;
        std::string tmp_path_;
        sys::UniqueFd fd_;
        Sha256 hash_;
        int64_t size_ = 0;
        bool done_ = false;
    };
    Result<std::unique_ptr<Writer>> writer();

    Result<std::string> put(std::string_view data, const std::string& expected = {});
    bool exists(const std::string& digest) const;
    std::string path(const std::string& digest) const;  // "" for a malformed digest
    Result<std::string> read(const std::string& digest) const;
    Result<int64_t> size(const std::string& digest) const;
    Status remove(const std::string& digest);

private:
    std::string root_;
};

}  // namespace ctl::image
