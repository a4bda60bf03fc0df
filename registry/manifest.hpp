// Image manifests, indexes (manifest lists) and platforms: the media types, strict parsers with
// size caps, and platform selection from a multi-arch index.
// Pure functions: no I/O, never block, thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/result.hpp"

namespace ctl::registry {

// Manifests and indexes.
inline constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
// Schema 1 (only recognised, to refuse it with a clear message).
inline constexpr const char* kDockerManifestV1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr const char* kDockerManifestV1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
// Image configs.
inline constexpr const char* kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
// Layers.
inline constexpr const char* kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr const char* kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr const char* kDockerLayerZstd = "application/vnd.docker.image.rootfs.diff.tar.zstd";
inline constexpr const char* kDockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr const char* kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr const char* kOciLayerNondistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr const char* kOciLayerNondistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr const char* kOciLayerNondistributableZstd =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

// Caps on what we accept from a registry before parsing it.
inline constexpr int64_t kMaxManifestSize = 4 << 20;  // 4 MiB, manifests and indexes
inline constexpr int64_t kMaxConfigSize = 8 << 20;    // image config blobs fetched into memory

bool is_index_media_type(std::string_view media_type);     // Docker manifest list, OCI index
bool is_manifest_media_type(std::string_view media_type);  // Docker schema2, OCI manifest
bool is_config_media_type(std::string_view media_type);
bool is_layer_media_type(std::string_view media_type);

enum class Compression { None, Gzip, Zstd, Unknown };
// The compression a layer media type implies (Unknown for non-layer types).
Compression layer_compression(std::string_view media_type);

struct Platform {
    std::string os;            // "linux"
    std::string architecture;  // "amd64", "arm64", "arm"
    std::string variant;       // "v7", "v8", or ""
    std::string os_version;    // Windows images only
    std::vector<std::string> os_features;

    bool empty() const { return os.empty() && architecture.empty(); }
    // "linux/amd64", "linux/arm/v7".
    std::string string() const;
    bool operator==(const Platform&) const = default;
};

// The platform this binary runs on (linux/<GOARCH-style arch>[/variant]).
Platform host_platform();
// containerd-style normalisation: lowercase, x86_64 -> amd64, aarch64 -> arm64 (v8 dropped),
// armhf -> arm/v7, armel -> arm/v6, arm without variant -> arm/v7, i386 -> 386.
Platform normalize_platform(Platform p);
// `--platform` values: "linux/arm64/v8", "linux/amd64", "arm64" (host OS), "linux" (host arch).
// Normalised. InvalidArgument on empty components or characters outside [a-z0-9_.-].
Result<Platform> parse_platform(std::string_view text);

struct Descriptor {
    std::string media_type;
    std::string digest;  // validated "sha256:<hex>" / "sha512:<hex>"
    int64_t size = 0;
    Platform platform;               // index entries; empty() when the entry has none
    std::vector<std::string> urls;   // foreign / non-distributable layers
    std::map<std::string, std::string> annotations;
};

struct ImageManifest {
    int schema_version = 2;
    std::string media_type;  // the resolved type (Docker schema2 or OCI manifest)
    Descriptor config;
    std::vector<Descriptor> layers;
};

struct ImageIndex {
    int schema_version = 2;
    std::string media_type;  // Docker manifest list or OCI index
    std::vector<Descriptor> manifests;
};
using Index = ImageIndex;

// The manifest media type of `bytes`: the Content-Type when it names a manifest/index type,
// else the document's own "mediaType", else guessed from its shape ("manifests" -> OCI index,
// "config"/"layers" -> OCI manifest, schemaVersion 1 -> schema 1). "" when none applies.
std::string detect_manifest_media_type(std::string_view bytes, std::string_view content_type = {});

// Parses an image manifest (Docker schema2 or OCI). `media_type` is what the registry said (may be
// empty or generic; then the document decides). Rejects: over kMaxManifestSize (TooLarge), invalid
// JSON, schemaVersion != 2, a "mediaType" field that contradicts `media_type`, a document that
// also has "manifests" (ambiguous), missing/invalid config, bad digests or negative sizes
// (InvalidArgument); schema 1 is NotImplemented.
Result<ImageManifest> parse_image_manifest(std::string_view bytes, std::string_view media_type = {});

// Parses a Docker manifest list / OCI index with the same rules (and rejects "config"/"layers").
Result<ImageIndex> parse_index(std::string_view bytes, std::string_view media_type = {});

// Picks the manifest for os/arch/variant from an index (all three normalised first; empty os or
// architecture mean linux / amd64). Exact variant wins; for arm a lower variant is accepted (v7
// runs v6, v5); an empty wanted variant accepts any, preferring entries without one. Entries
// without a platform are a last resort; nested indexes and "unknown/unknown" (attestation)
// entries are skipped. NotFound, Docker's wording:
// "no matching manifest for linux/amd64 in the manifest list entries".
Result<Descriptor> select_platform(const ImageIndex& index, std::string_view os = "linux",
                                   std::string_view architecture = "amd64", std::string_view variant = "");
inline Result<Descriptor> select_platform(const ImageIndex& index, const Platform& want) {
    return select_platform(index, want.os, want.architecture, want.variant);
}

}  // namespace ctl::registry
