// Image references ("busybox", "localhost:5000/x/y:1", "name:tag@sha256:...") parsed and
// normalised the way Docker does it (distribution/reference's ParseNormalizedNamed):
//
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [ domain "/" ] path-component ( "/" path-component )*
//
// The first "/"-separated component is a domain when it contains "." or ":" or is
// "localhost"; otherwise the domain is docker.io, and a single-component name on docker.io
// gets the "library/" namespace. "index.docker.io" is the same registry as "docker.io".
// Repository names are lowercase only; tags are [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
// Pure functions: no I/O, never block, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "engine/base/result.hpp"

namespace ctl::registry {

inline constexpr std::string_view kDefaultDomain = "docker.io";
inline constexpr std::string_view kLegacyDefaultDomain = "index.docker.io";
// The host that actually serves Docker Hub's distribution API.
inline constexpr std::string_view kDockerHubRegistryHost = "registry-1.docker.io";
inline constexpr std::string_view kOfficialRepoPrefix = "library/";
inline constexpr std::string_view kDefaultTag = "latest";
inline constexpr size_t kMaxNameLength = 255;  // domain + "/" + path

struct Reference {
    std::string domain;  // "docker.io", "localhost:5000", "[::1]:5000", "quay.io"
    std::string path;    // "library/busybox", "x/y"
    std::string tag;     // "" when the reference has none (parse_reference adds "latest")
    std::string digest;  // "sha256:<hex>" or ""

    // "busybox", "myorg/app", "localhost:5000/x": docker.io and a lone "library/" dropped.
    std::string familiar_name() const;
    // familiar_name() + [":" tag] + ["@" digest]: "busybox:latest", "x@sha256:...".
    std::string familiar_string() const;
    // domain "/" path: "docker.io/library/busybox".
    std::string full_name() const;
    // full_name() + [":" tag] + ["@" digest].
    std::string string() const;
    // The host:port to talk the distribution API to: docker.io -> registry-1.docker.io.
    std::string registry_host() const;
    // What goes after /manifests/: the digest when there is one (it wins over a tag), else the tag.
    std::string tag_or_digest() const { return digest.empty() ? tag : digest; }
    bool is_docker_hub() const { return domain == kDefaultDomain; }

    bool operator==(const Reference&) const = default;
};

// Parses and normalises; adds tag "latest" when neither a tag nor a digest is given.
// Errors are InvalidArgument with Docker's wording: "invalid reference format",
// "invalid reference format: repository name must be lowercase",
// "repository name must not be more than 255 characters",
// "invalid repository name (<x>), cannot specify 64-byte hexadecimal strings",
// and go-digest's "invalid checksum digest format|length" / "unsupported digest algorithm".
Result<Reference> parse_reference(std::string_view text);

// Same as parse_reference but leaves `tag` empty when none was written (image lookups that
// must tell "x" from "x:latest", `docker images x`, reference filters).
Result<Reference> parse_reference_no_default(std::string_view text);

// A repository given as registry host + path (e.g. from a push target or a mount source).
// "registry-1.docker.io"/"index.docker.io" become docker.io; the path is validated.
Result<Reference> make_repository(std::string_view host, std::string_view path);

// [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
bool is_valid_tag(std::string_view tag);
// One or more "/"-separated path components, lowercase, no domain.
bool is_valid_repository_path(std::string_view path);
// A registry domain as the reference grammar allows it: host[:port], IPv6 in brackets.
bool is_valid_domain(std::string_view domain);

}  // namespace ctl::registry
