#include "registry/manifest.hpp"

#include <algorithm>
#include <climits>

#include "engine/base/digest.hpp"
#include "engine/base/json.hpp"
#include "engine/base/util.hpp"

namespace ctl::registry {

namespace {

Error invalid(std::string message) { return make_error(Errc::InvalidArgument, std::move(message)); }

Result<std::string> opt_string(const Json& obj, std::string_view key, std::string_view what) {
    const Json* v = find_ci(obj, key);
    if (!v) return std::string();
    if (!v->is_string()) return invalid(std::string(what) + ": \"" + std::string(key) + "\" must be a string");
    return v->get<std::string>();
}

Result<std::optional<int64_t>> opt_int(const Json& obj, std::string_view key, std::string_view what) {
    const Json* v = find_ci(obj, key);
    if (!v) return std::optional<int64_t>();
    if (v->is_number_unsigned()) {
        auto u = v->get<uint64_t>();
        if (u > static_cast<uint64_t>(INT64_MAX)) {
            return invalid(std::string(what) + ": \"" + std::string(key) + "\" out of range");
        }
        return std::optional<int64_t>(static_cast<int64_t>(u));
    }
    if (v->is_number_integer()) return std::optional<int64_t>(v->get<int64_t>());
    return invalid(std::string(what) + ": \"" + std::string(key) + "\" must be an integer");
}

Result<std::vector<std::string>> opt_string_array(const Json& obj, std::string_view key, std::string_view what) {
    std::vector<std::string> out;
    const Json* v = find_ci(obj, key);
    if (!v) return out;
    if (!v->is_array()) return invalid(std::string(what) + ": \"" + std::string(key) + "\" must be an array");
    for (const auto& item : *v) {
        if (!item.is_string()) return invalid(std::string(what) + ": \"" + std::string(key) + "\" must hold strings");
        out.push_back(item.get<std::string>());
    }
    return out;
}

Result<Platform> parse_platform_object(const Json& j) {
    if (!j.is_object()) return invalid("descriptor platform must be an object");
    Platform p;
    CTL_ASSIGN_OR_RETURN(p.architecture, opt_string(j, "architecture", "platform"));
    CTL_ASSIGN_OR_RETURN(p.os, opt_string(j, "os", "platform"));
    CTL_ASSIGN_OR_RETURN(p.variant, opt_string(j, "variant", "platform"));
    CTL_ASSIGN_OR_RETURN(p.os_version, opt_string(j, "os.version", "platform"));
    CTL_ASSIGN_OR_RETURN(p.os_features, opt_string_array(j, "os.features", "platform"));
    return p;
}

Result<Descriptor> parse_descriptor(const Json& j, std::string_view what) {
    if (!j.is_object()) return invalid(std::string(what) + " must be an object");
    Descriptor d;
    CTL_ASSIGN_OR_RETURN(d.media_type, opt_string(j, "mediaType", what));
    CTL_ASSIGN_OR_RETURN(d.digest, opt_string(j, "digest", what));
    if (d.digest.empty()) return invalid(std::string(what) + " has no digest");
    if (!validate_digest(d.digest)) return invalid(std::string(what) + " has an invalid digest: " + d.digest);
    CTL_ASSIGN_OR_RETURN(auto size, opt_int(j, "size", what));
    if (!size) return invalid(std::string(what) + " " + d.digest + " has no size");
    if (*size < 0) return invalid(std::string(what) + " " + d.digest + " has a negative size");
    d.size = *size;
    CTL_ASSIGN_OR_RETURN(d.urls, opt_string_array(j, "urls", what));
    if (const Json* p = find_ci(j, "platform")) {
        CTL_ASSIGN_OR_RETURN(d.platform, parse_platform_object(*p));
    }
    if (const Json* a = find_ci(j, "annotations")) {
        if (!a->is_object()) return invalid(std::string(what) + " annotations must be an object");
        for (const auto& [k, v] : a->items()) {
            if (!v.is_string()) return invalid(std::string(what) + " annotation values must be strings");
            d.annotations[k] = v.get<std::string>();
        }
    }
    return d;
}

bool is_generic_type(std::string_view t) {
    return t.empty() || t == "application/json" || t == "text/plain" || t == "application/octet-stream" ||
           t == "binary/octet-stream";
}

std::string strip_params(std::string_view content_type) {
    auto semi = content_type.find(';');
    return to_lower(trim(content_type.substr(0, semi)));
}

// Common front part of both parsers: size cap, JSON object, schemaVersion, resolved media type.
struct Parsed {
    Json doc;
    std::string media_type;
};

Result<Parsed> parse_document(std::string_view bytes, std::string_view media_type, bool want_index) {
    const std::string what = want_index ? "image index" : "image manifest";
    if (static_cast<int64_t>(bytes.size()) > kMaxManifestSize) {
        return make_error(Errc::TooLarge, what + " is larger than " + std::to_string(kMaxManifestSize >> 20) + " MiB");
    }
    Parsed out;
    out.doc = Json::parse(bytes, nullptr, false);
    if (out.doc.is_discarded() || !out.doc.is_object()) return invalid(what + " is not a JSON object");
    CTL_ASSIGN_OR_RETURN(auto schema, opt_int(out.doc, "schemaVersion", what));
    if (schema && *schema == 1) {
        return make_error(Errc::NotImplemented,
                          "schema 1 image manifests (Docker image format v1) are not supported; push the image "
                          "again with a current tool");
    }
    if (!schema || *schema != 2) return invalid(what + ": unsupported schemaVersion");
    CTL_ASSIGN_OR_RETURN(std::string declared, opt_string(out.doc, "mediaType", what));
    std::string given = strip_params(media_type);
    if (is_generic_type(given)) given.clear();
    if (!given.empty() && !declared.empty() && given != declared) {
        return invalid(what + ": mediaType " + declared + " does not match the content type " + given);
    }
    out.media_type = !given.empty() ? given : declared;
    if (out.media_type.empty()) out.media_type = detect_manifest_media_type(bytes);

    bool has_manifests = find_ci(out.doc, "manifests") != nullptr;
    bool has_image_fields = find_ci(out.doc, "config") != nullptr || find_ci(out.doc, "layers") != nullptr;
    if (has_manifests && has_image_fields) {
        return invalid(what + " is ambiguous: it has both \"manifests\" and \"config\"/\"layers\"");
    }
    std::string shown = out.media_type.empty() ? std::string("an unknown type") : out.media_type;
    if (want_index) {
        if (!is_index_media_type(out.media_type)) return invalid("expected an image index, got " + shown);
    } else {
        if (!is_manifest_media_type(out.media_type)) return invalid("expected an image manifest, got " + shown);
    }
    return out;
}

void normalize_arch_variant(std::string& arch, std::string& variant) {
    if (arch == "i386" || arch == "x86") {
        arch = "386";
    } else if (arch == "x86_64" || arch == "x86-64" || arch == "amd64") {
        arch = "amd64";
        if (variant == "v1") variant.clear();
    } else if (arch == "aarch64" || arch == "arm64") {
        arch = "arm64";
        if (variant == "8" || variant == "v8") variant.clear();
    } else if (arch == "armhf") {
        arch = "arm";
        variant = "v7";
    } else if (arch == "armel") {
        arch = "arm";
        variant = "v6";
    } else if (arch == "arm") {
        if (variant.empty() || variant == "7") {
            variant = "v7";
        } else if (variant == "5" || variant == "6" || variant == "8") {
            variant = "v" + variant;
        }
    }
}

bool valid_platform_component(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    });
}

bool known_os(std::string_view s) {
    static const char* kOs[] = {"linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris",
                                "illumos", "aix", "android", "ios", "plan9", "dragonfly", "js", "wasip1"};
    return std::any_of(std::begin(kOs), std::end(kOs), [&](const char* o) { return s == o; });
}

bool known_arch(std::string_view s) {
    static const char* kArch[] = {"386", "amd64", "x86_64", "x86-64", "i386", "arm", "armhf", "armel", "arm64",
                                  "aarch64", "ppc64", "ppc64le", "mips", "mipsle", "mips64", "mips64le",
                                  "riscv64", "s390x", "loong64", "wasm"};
    return std::any_of(std::begin(kArch), std::end(kArch), [&](const char* a) { return s == a; });
}

int arm_variant_number(std::string_view v) {
    if (v.size() == 2 && v[0] == 'v' && v[1] >= '1' && v[1] <= '9') return v[1] - '0';
    return -1;
}

}  // namespace

bool is_index_media_type(std::string_view t) { return t == kDockerManifestList || t == kOciIndex; }
bool is_manifest_media_type(std::string_view t) { return t == kDockerManifest || t == kOciManifest; }
bool is_config_media_type(std::string_view t) { return t == kDockerConfig || t == kOciConfig; }

Compression layer_compression(std::string_view t) {
    if (t == kDockerLayerGzip || t == kDockerForeignLayerGzip || t == kOciLayerGzip ||
        t == kOciLayerNondistributableGzip) {
        return Compression::Gzip;
    }
    if (t == kDockerLayerZstd || t == kOciLayerZstd || t == kOciLayerNondistributableZstd) return Compression::Zstd;
    if (t == kDockerLayer || t == kOciLayer || t == kOciLayerNondistributable) return Compression::None;
    return Compression::Unknown;
}

bool is_layer_media_type(std::string_view t) { return layer_compression(t) != Compression::Unknown; }

std::string Platform::string() const {
    std::string out = os + "/" + architecture;
    if (!variant.empty()) out += "/" + variant;
    return out;
}

Platform host_platform() {
    Platform p;
    p.os = "linux";
#if defined(__x86_64__)
    p.architecture = "amd64";
#elif defined(__aarch64__)
    p.architecture = "arm64";
#elif defined(__arm__)
    p.architecture = "arm";
    p.variant = "v7";
#elif defined(__i386__)
    p.architecture = "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    p.architecture = "ppc64le";
#elif defined(__s390x__)
    p.architecture = "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
    p.architecture = "riscv64";
#else
    p.architecture = "amd64";
#endif
    return p;
}

Platform normalize_platform(Platform p) {
    p.os = to_lower(p.os);
    if (p.os == "macos") p.os = "darwin";
    p.architecture = to_lower(p.architecture);
    p.variant = to_lower(p.variant);
    normalize_arch_variant(p.architecture, p.variant);
    return p;
}

Result<Platform> parse_platform(std::string_view text) {
    std::string lowered = to_lower(trim(text));
    auto bad = [&](const std::string& why) {
        return make_error(Errc::InvalidArgument, "invalid platform \"" + std::string(text) + "\": " + why);
    };
    if (lowered.empty()) return bad("expected os[/arch[/variant]]");
    auto parts = split(lowered, '/');
    if (parts.empty() || parts.size() > 3) return bad("expected os[/arch[/variant]]");
    for (const auto& part : parts) {
        if (!valid_platform_component(part)) return bad("empty or invalid component");
    }
    Platform p;
    Platform host = host_platform();
    if (parts.size() == 1) {
        if (known_os(parts[0])) {
            p.os = parts[0];
            p.architecture = host.architecture;
            p.variant = host.variant;
        } else if (known_arch(parts[0])) {
            p.os = host.os;
            p.architecture = parts[0];
        } else {
            return bad("unknown operating system or architecture");
        }
    } else {
        p.os = parts[0];
        p.architecture = parts[1];
        if (parts.size() == 3) p.variant = parts[2];
    }
    return normalize_platform(std::move(p));
}

std::string detect_manifest_media_type(std::string_view bytes, std::string_view content_type) {
    std::string given = strip_params(content_type);
    if (is_manifest_media_type(given) || is_index_media_type(given) || given == kDockerManifestV1 ||
        given == kDockerManifestV1Signed) {
        return given;
    }
    if (static_cast<int64_t>(bytes.size()) > kMaxManifestSize) return "";
    Json doc = Json::parse(bytes, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return "";
    if (const Json* mt = find_ci(doc, "mediaType"); mt && mt->is_string() && !mt->get<std::string>().empty()) {
        return mt->get<std::string>();
    }
    if (const Json* sv = find_ci(doc, "schemaVersion"); sv && sv->is_number_integer() && sv->get<int64_t>() == 1) {
        return find_ci(doc, "signatures") ? kDockerManifestV1Signed : kDockerManifestV1;
    }
    if (find_ci(doc, "manifests")) return kOciIndex;
    if (find_ci(doc, "config") || find_ci(doc, "layers")) return kOciManifest;
    return "";
}

Result<ImageManifest> parse_image_manifest(std::string_view bytes, std::string_view media_type) {
    CTL_ASSIGN_OR_RETURN(auto parsed, parse_document(bytes, media_type, false));
    ImageManifest m;
    m.media_type = parsed.media_type;
    const Json* config = find_ci(parsed.doc, "config");
    if (!config) return invalid("image manifest has no config");
    CTL_ASSIGN_OR_RETURN(m.config, parse_descriptor(*config, "manifest config"));
    if (const Json* layers = find_ci(parsed.doc, "layers")) {
        if (!layers->is_array()) return invalid("image manifest \"layers\" must be an array");
        m.layers.reserve(layers->size());
        for (const auto& l : *layers) {
            CTL_ASSIGN_OR_RETURN(auto d, parse_descriptor(l, "manifest layer"));
            m.layers.push_back(std::move(d));
        }
    }
    return m;
}

Result<ImageIndex> parse_index(std::string_view bytes, std::string_view media_type) {
    CTL_ASSIGN_OR_RETURN(auto parsed, parse_document(bytes, media_type, true));
    ImageIndex index;
    index.media_type = parsed.media_type;
    if (const Json* manifests = find_ci(parsed.doc, "manifests")) {
        if (!manifests->is_array()) return invalid("image index \"manifests\" must be an array");
        index.manifests.reserve(manifests->size());
        for (const auto& m : *manifests) {
            CTL_ASSIGN_OR_RETURN(auto d, parse_descriptor(m, "index entry"));
            index.manifests.push_back(std::move(d));
        }
    }
    return index;
}

Result<Descriptor> select_platform(const ImageIndex& index, std::string_view os, std::string_view architecture,
                                   std::string_view variant) {
    Platform want;
    want.os = os.empty() ? "linux" : std::string(os);
    want.architecture = architecture.empty() ? "amd64" : std::string(architecture);
    want.variant = std::string(variant);
    want = normalize_platform(std::move(want));
    // Lower score is better; -1 = no match.
    auto score = [&](const Descriptor& d) -> int {
        if (is_index_media_type(d.media_type)) return -1;
        if (d.platform.empty()) return 1000;  // no platform at all: last resort
        Platform have = normalize_platform(d.platform);
        if (have.os != want.os || have.architecture != want.architecture) return -1;
        if (have.variant == want.variant) return 0;
        if (want.variant.empty()) return 1;  // any variant will do, but prefer none
        if (want.architecture == "arm") {
            int w = arm_variant_number(want.variant), h = arm_variant_number(have.variant);
            if (w > 0 && h > 0 && h < w) return 10 + (w - h);  // v7 runs v6 and v5 code
        }
        return -1;
    };
    const Descriptor* best = nullptr;
    int best_score = -1;
    for (const auto& d : index.manifests) {
        if (d.platform.os == "unknown" && d.platform.architecture == "unknown") continue;
        int s = score(d);
        if (s < 0) continue;
        if (!best || s < best_score) {
            best = &d;
            best_score = s;
        }
    }
    if (!best) {
        return make_error(Errc::NotFound, "no matching manifest for " + want.string() + " in the manifest list entries");
    }
    return *best;
}

}  // namespace ctl::registry
