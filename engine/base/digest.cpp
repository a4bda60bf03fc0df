#include "engine/base/digest.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace ctl {

namespace {

// Digests need nothing from openssl.cnf. Left to itself the first EVP call loads it, and that
// alone keeps megabytes of libcrypto resident in an idle ctld; TLS users (libcurl, the API's TLS
// listener) still load it when they start.
bool init_digests_only() {
    static const bool done = OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr) == 1;
    return done;
}

}  // namespace

struct Sha256::Impl {
    EVP_MD_CTX* ctx = (init_digests_only(), EVP_MD_CTX_new());
    ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) { EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr); }
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t size) { EVP_DigestUpdate(impl_->ctx, data, size); }

std::string Sha256::hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(impl_->ctx, md, &len);
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned i = 0; i < len; ++i) {
        out.push_back(digits[md[i] >> 4]);
        out.push_back(digits[md[i] & 15]);
    }
    return out;
}

std::string sha256_hex(std::string_view data) {
    Sha256 h;
    h.update(data);
    return h.hex();
}

static bool is_lower_hex(std::string_view s) {
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

bool is_hex64(std::string_view s) { return s.size() == 64 && is_lower_hex(s); }

Status validate_digest(std::string_view digest) {
    auto colon = digest.find(':');
    if (colon == std::string_view::npos) return make_error(Errc::InvalidArgument, "invalid digest: " + std::string(digest));
    auto algo = digest.substr(0, colon);
    auto hex = digest.substr(colon + 1);
    if ((algo == "sha256" && hex.size() == 64 && is_lower_hex(hex)) ||
        (algo == "sha512" && hex.size() == 128 && is_lower_hex(hex))) {
        return ok();
    }
    return make_error(Errc::InvalidArgument, "invalid digest: " + std::string(digest));
}

}  // namespace ctl
