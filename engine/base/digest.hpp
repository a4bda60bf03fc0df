// sha256 digests (OpenSSL EVP) and the "sha256:<64 hex>" form used for image, layer and blob IDs.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/base/result.hpp"

namespace ctl {

// Incremental sha256; feed bytes with update(), read the digest once with hex().
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;
    void update(const void* data, size_t size);
    void update(std::string_view data) { update(data.data(), data.size()); }
    std::string hex();     // finalises; 64 lowercase hex chars
    std::string digest() { return "sha256:" + hex(); }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view data);
inline std::string sha256_digest(std::string_view data) { return "sha256:" + sha256_hex(data); }

bool is_hex64(std::string_view s);
// Validates "algo:hex" with algo sha256 (64 hex) or sha512 (128 hex).
Status validate_digest(std::string_view digest);

}  // namespace ctl
