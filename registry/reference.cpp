#include "registry/reference.hpp"

#include <algorithm>

namespace ctl::registry {

namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }

bool has_upper(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// path-component := [a-z0-9]+ ( separator [a-z0-9]+ )*, separator := "." | "_" | "__" | "-"+
bool valid_path_component(std::string_view s) {
    if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
    size_t i = 0;
    while (i < s.size()) {
        if (is_lower_alnum(s[i])) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < s.size() && !is_lower_alnum(s[j])) ++j;
        std::string_view sep = s.substr(i, j - i);
        bool dashes = std::all_of(sep.begin(), sep.end(), [](char c) { return c == '-'; });
        if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
        i = j;
    }
    return true;
}

// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool valid_domain_component(std::string_view s) {
    if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

bool valid_port(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// digest := algorithm ":" [0-9a-fA-F]{32,}, algorithm := [A-Za-z][A-Za-z0-9]* ([-_+.][A-Za-z][A-Za-z0-9]*)*
bool digest_syntax_ok(std::string_view d) {
    auto colon = d.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view algo = d.substr(0, colon), hex = d.substr(colon + 1);
    if (hex.size() < 32 || !std::all_of(hex.begin(), hex.end(), is_hex)) return false;
    bool component_start = true;
    for (char c : algo) {
        if (component_start) {
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
            component_start = false;
        } else if (c == '-' || c == '_' || c == '+' || c == '.') {
            component_start = true;
        } else if (!is_alnum(c)) {
            return false;
        }
    }
    return !algo.empty() && !component_start;
}

// go-digest's Validate: known algorithm, lowercase hex of the right length.
Status validate_digest_semantics(std::string_view d) {
    auto colon = d.find(':');
    std::string_view algo = d.substr(0, colon), hex = d.substr(colon + 1);
    size_t want = 0;
    if (algo == "sha256") {
        want = 64;
    } else if (algo == "sha384") {
        want = 96;
    } else if (algo == "sha512") {
        want = 128;
    } else {
        return make_error(Errc::InvalidArgument, "unsupported digest algorithm");
    }
    if (hex.size() != want) return make_error(Errc::InvalidArgument, "invalid checksum digest length");
    if (!std::all_of(hex.begin(), hex.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
        return make_error(Errc::InvalidArgument, "invalid checksum digest format");
    }
    return ok();
}

Error invalid_format() { return make_error(Errc::InvalidArgument, "invalid reference format"); }
Error must_be_lowercase() {
    return make_error(Errc::InvalidArgument, "invalid reference format: repository name must be lowercase");
}

bool is_identifier(std::string_view s) {
    return s.size() == 64 &&
           std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Result<Reference> parse(std::string_view text, bool default_tag) {
    if (is_identifier(text)) {
        return make_error(Errc::InvalidArgument, "invalid repository name (" + std::string(text) +
                                                     "), cannot specify 64-byte hexadecimal strings");
    }
    if (text.empty()) return invalid_format();

    // Split off "@digest" first: neither digests nor tags contain "/" or "@".
    std::string_view name_tag = text, digest;
    if (auto at = text.find('@'); at != std::string_view::npos) {
        name_tag = text.substr(0, at);
        digest = text.substr(at + 1);
        if (!digest_syntax_ok(digest)) return invalid_format();
    }
    // A tag follows the last ":" that comes after the last "/" (an earlier ":" is a port).
    std::string_view name = name_tag, tag;
    auto colon = name_tag.rfind(':');
    auto slash = name_tag.rfind('/');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
        name = name_tag.substr(0, colon);
        tag = name_tag.substr(colon + 1);
        if (!is_valid_tag(tag)) return invalid_format();
    }

    // Domain: the first component when it looks like a host (see the header comment).
    std::string domain, remote;
    auto first_slash = name.find('/');
    if (first_slash == std::string_view::npos) {
        domain = kDefaultDomain;
        remote = std::string(kOfficialRepoPrefix) + std::string(name);
    } else {
        std::string_view maybe = name.substr(0, first_slash);
        if (maybe == "localhost" || maybe.find_first_of(".:") != std::string_view::npos) {
            domain = maybe == kLegacyDefaultDomain ? std::string(kDefaultDomain) : std::string(maybe);
            remote = std::string(name.substr(first_slash + 1));
        } else {
            domain = kDefaultDomain;
            remote = std::string(name);
        }
        if (domain == kDefaultDomain && remote.find('/') == std::string::npos) {
            remote = std::string(kOfficialRepoPrefix) + remote;
        }
    }
    if (has_upper(remote)) return must_be_lowercase();
    if (!is_valid_domain(domain) || !is_valid_repository_path(remote)) return invalid_format();
    if (domain.size() + 1 + remote.size() > kMaxNameLength) {
        return make_error(Errc::InvalidArgument, "repository name must not be more than 255 characters");
    }
    if (!digest.empty()) CTL_TRY(validate_digest_semantics(digest));

    Reference ref;
    ref.domain = std::move(domain);
    ref.path = std::move(remote);
    ref.tag = std::string(tag);
    ref.digest = std::string(digest);
    if (default_tag && ref.tag.empty() && ref.digest.empty()) ref.tag = kDefaultTag;
    return ref;
}

}  // namespace

bool is_valid_tag(std::string_view tag) {
    if (tag.empty() || tag.size() > 128 || !is_word(tag.front())) return false;
    return std::all_of(tag.begin(), tag.end(), [](char c) { return is_word(c) || c == '.' || c == '-'; });
}

bool is_valid_repository_path(std::string_view path) {
    if (path.empty()) return false;
    size_t start = 0;
    for (;;) {
        auto slash = path.find('/', start);
        if (!valid_path_component(path.substr(start, slash == std::string_view::npos ? slash : slash - start))) {
            return false;
        }
        if (slash == std::string_view::npos) return true;
        start = slash + 1;
    }
}

bool is_valid_domain(std::string_view domain) {
    if (domain.empty()) return false;
    std::string_view host = domain;
    if (domain.front() == '[') {
        auto close = domain.find(']');
        if (close == std::string_view::npos || close == 1) return false;
        std::string_view inside = domain.substr(1, close - 1);
        if (!std::all_of(inside.begin(), inside.end(), [](char c) { return is_hex(c) || c == ':'; })) return false;
        std::string_view rest = domain.substr(close + 1);
        if (rest.empty()) return true;
        return rest.front() == ':' && valid_port(rest.substr(1));
    }
    if (auto colon = domain.find(':'); colon != std::string_view::npos) {
        host = domain.substr(0, colon);
        if (!valid_port(domain.substr(colon + 1))) return false;
    }
    size_t start = 0;
    for (;;) {
        auto dot = host.find('.', start);
        if (!valid_domain_component(host.substr(start, dot == std::string_view::npos ? dot : dot - start))) return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

Result<Reference> parse_reference(std::string_view text) { return parse(text, true); }
Result<Reference> parse_reference_no_default(std::string_view text) { return parse(text, false); }

Result<Reference> make_repository(std::string_view host, std::string_view path) {
    Reference ref;
    if (host.empty() || host == kDockerHubRegistryHost || host == kLegacyDefaultDomain) {
        ref.domain = kDefaultDomain;
    } else {
        ref.domain = std::string(host);
    }
    ref.path = std::string(path);
    if (ref.domain == kDefaultDomain && ref.path.find('/') == std::string::npos) {
        ref.path = std::string(kOfficialRepoPrefix) + ref.path;
    }
    if (has_upper(ref.path)) return must_be_lowercase();
    if (!is_valid_domain(ref.domain) || !is_valid_repository_path(ref.path)) return invalid_format();
    return ref;
}

std::string Reference::familiar_name() const {
    if (domain != kDefaultDomain) return domain + "/" + path;
    if (path.compare(0, kOfficialRepoPrefix.size(), kOfficialRepoPrefix) == 0) {
        std::string rest = path.substr(kOfficialRepoPrefix.size());
        if (rest.find('/') == std::string::npos) return rest;
    }
    return path;
}

std::string Reference::familiar_string() const {
    std::string out = familiar_name();
    if (!tag.empty()) out += ":" + tag;
    if (!digest.empty()) out += "@" + digest;
    return out;
}

std::string Reference::full_name() const { return domain + "/" + path; }

std::string Reference::string() const {
    std::string out = full_name();
    if (!tag.empty()) out += ":" + tag;
    if (!digest.empty()) out += "@" + digest;
    return out;
}

std::string Reference::registry_host() const {
    if (domain == kDefaultDomain || domain == kLegacyDefaultDomain) return std::string(kDockerHubRegistryHost);
    return domain;
}

}  // namespace ctl::registry
