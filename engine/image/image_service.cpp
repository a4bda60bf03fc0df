#include "engine/image/image_service.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "engine/base/digest.hpp"
#include "engine/base/log.hpp"
#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"
#include "engine/image/compression.hpp"
#include "registry/reference.hpp"

namespace ctl::image {

using store::as_int;
using store::as_string;

namespace {

Error no_such_image(const std::string& name) { return make_error(Errc::NotFound, "No such image: " + name); }

int64_t parse_created(const Json& config) {
    auto created = string_or(config, "created");
    int64_t ns = parse_timestamp(created);
    return ns < 0 ? 0 : ns / 1000000000;
}

std::string short_hex(const std::string& digest) {
    auto colon = digest.find(':');
    return digest.substr(colon == std::string::npos ? 0 : colon + 1, 12);
}

// "name:tag" of a reference as Docker shows it in RepoTags.
Result<std::string> familiar_tagged(const std::string& name) {
    CTL_ASSIGN_OR_RETURN(auto ref, registry::parse_reference(name));
    if (!ref.digest.empty() && ref.tag.empty()) return make_error(Errc::InvalidArgument, "reference has no tag: " + name);
    return ref.familiar_name() + ":" + (ref.tag.empty() ? "latest" : ref.tag);
}

bool glob_match(const std::string& pattern, const std::string& text) {
    // '*' matches within a path component, like Go's path.Match used by the reference filter.
    size_t p = 0, t = 0, star = std::string::npos, mark = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern[p] == text[t] || pattern[p] == '?') && text[t] != '/') {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == text[t]) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (star != std::string::npos && text[mark] != '/') {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

}  // namespace

std::string progress_bar(int64_t current, int64_t total) {
    if (total <= 0) return std::string(std::max<int64_t>(0, 0), ' ') + human_size(static_cast<double>(current));
    constexpr int kWidth = 50;
    int filled = static_cast<int>(std::min<int64_t>(kWidth, current * kWidth / total));
    std::string bar = "[";
    for (int i = 0; i < kWidth; ++i) bar += i < filled ? "=" : (i == filled ? ">" : " ");
    bar += "] ";
    return bar + human_size(static_cast<double>(current)) + "/" + human_size(static_cast<double>(total));
}

ImageService::ImageService(store::Store& store, graph::GraphDriver& driver, ContentStore& content,
                           registry::Client& registry, events::EventBus& bus)
    : store_(store), driver_(driver), content_(content), registry_(registry), bus_(bus) {}

Status ImageService::init() {
    CTL_TRY(content_.init());
    CTL_ASSIGN_OR_RETURN(auto rows, store_.query("SELECT cache_id FROM layers"));
    std::set<std::string> known;
    for (auto& r : rows) known.insert(as_string(r[0]));
    auto on_disk = driver_.list();
    if (!on_disk) return on_disk.error();
    for (const auto& id : *on_disk) {
        // Container layers are named "c-<id>" and belong to the container service.
        if (known.count(id) || starts_with(id, "c-")) continue;
        log::info("removing layer {} left behind by an interrupted operation", id);
        (void)driver_.remove(id);
    }
    return ok();
}

void ImageService::emit(const std::string& action, const std::string& id, const std::string& name) {
    events::Event e{"image", action, id, {{"name", name}}};
    bus_.publish(std::move(e));
}

std::string ImageService::cache_id(const std::string& chain_id) {
    auto rows = store_.query("SELECT cache_id FROM layers WHERE chain_id = ?", {chain_id});
    return rows && !rows->empty() ? as_string((*rows)[0][0]) : std::string();
}

Result<ImageRecord> ImageService::load_record(const std::string& id) {
    CTL_ASSIGN_OR_RETURN(auto rows, store_.query("SELECT config, created, size, parent FROM images WHERE id = ?", {id}));
    if (rows.empty()) return no_such_image(id);
    ImageRecord rec;
    rec.id = id;
    rec.config_raw = as_string(rows[0][0]);
    rec.config = Json::parse(rec.config_raw, nullptr, false);
    if (rec.config.is_discarded()) rec.config = Json::object();
    rec.created = as_int(rows[0][1]);
    rec.size = as_int(rows[0][2]);
    rec.parent = as_string(rows[0][3]);
    CTL_ASSIGN_OR_RETURN(auto layers,
                         store_.query("SELECT chain_id FROM image_layers WHERE image_id = ? ORDER BY idx", {id}));
    for (auto& l : layers) rec.chain_ids.push_back(as_string(l[0]));
    CTL_ASSIGN_OR_RETURN(auto tags, store_.query("SELECT name FROM image_tags WHERE image_id = ? ORDER BY name", {id}));
    for (auto& t : tags) rec.tags.push_back(as_string(t[0]));
    CTL_ASSIGN_OR_RETURN(auto digests,
                         store_.query("SELECT name FROM image_digests WHERE image_id = ? ORDER BY name", {id}));
    for (auto& d : digests) rec.digests.push_back(as_string(d[0]));
    return rec;
}

Result<ImageRecord> ImageService::get(const std::string& id) { return load_record(id); }

Result<ImageRecord> ImageService::resolve(const std::string& name) {
    if (name.empty()) return no_such_image(name);
    std::string hex = starts_with(name, "sha256:") ? name.substr(7) : name;
    if (is_hex64(hex)) {
        auto rec = load_record("sha256:" + hex);
        if (rec || starts_with(name, "sha256:")) return rec ? rec : no_such_image(name);
    }
    auto ref = registry::parse_reference(name);
    if (ref) {
        if (!ref->digest.empty()) {
            CTL_ASSIGN_OR_RETURN(auto rows, store_.query("SELECT image_id FROM image_digests WHERE name = ?",
                                                         {ref->familiar_name() + "@" + ref->digest}));
            if (!rows.empty()) return load_record(as_string(rows[0][0]));
        } else {
            std::string tagged = ref->familiar_name() + ":" + (ref->tag.empty() ? "latest" : ref->tag);
            CTL_ASSIGN_OR_RETURN(auto rows, store_.query("SELECT image_id FROM image_tags WHERE name = ?", {tagged}));
            if (!rows.empty()) return load_record(as_string(rows[0][0]));
        }
    }
    // A unique ID prefix (Docker accepts them with or without "sha256:").
    bool hexish = !hex.empty() && hex.size() < 64 &&
                  std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
    if (hexish) {
        CTL_ASSIGN_OR_RETURN(auto rows, store_.query("SELECT id FROM images WHERE id LIKE ? LIMIT 2",
                                                     {"sha256:" + to_lower(hex) + "%"}));
        if (rows.size() == 1) return load_record(as_string(rows[0][0]));
    }
    if (!ref && !hexish) return make_error(Errc::InvalidArgument, ref.error().message);
    std::string shown = name;
    if (ref && ref->digest.empty() && name.find(':', name.rfind('/') == std::string::npos ? 0 : name.rfind('/')) ==
                                          std::string::npos) {
        shown += ":latest";
    }
    return no_such_image(shown);
}

Result<std::vector<ImageRecord>> ImageService::list(const Filters& filters) {
    CTL_ASSIGN_OR_RETURN(auto rows, store_.query("SELECT id FROM images ORDER BY created DESC, added_at DESC"));
    std::optional<int64_t> before, since;
    if (filters.has("before")) {
        CTL_ASSIGN_OR_RETURN(auto b, resolve(filters.get("before").front()));
        before = b.created;
    }
    if (filters.has("since")) {
        CTL_ASSIGN_OR_RETURN(auto s, resolve(filters.get("since").front()));
        since = s.created;
    }
    std::vector<ImageRecord> out;
    for (auto& r : rows) {
        auto rec = load_record(as_string(r[0]));
        if (!rec) continue;
        bool dangling = rec->tags.empty() && rec->digests.empty();
        if (filters.has("dangling")) {
            bool want = parse_query_bool(filters.get("dangling").front());
            if (want != dangling) continue;
        }
        if (filters.has("label")) {
            std::map<std::string, std::string> labels;
            if (auto l = find_ci(rec->config, "config"); l && l->contains("Labels") && (*l)["Labels"].is_object()) {
                for (auto it = (*l)["Labels"].begin(); it != (*l)["Labels"].end(); ++it) {
                    if (it->is_string()) labels[it.key()] = it->get<std::string>();
                }
            }
            if (!filters.match_labels(labels)) continue;
        }
        if (before && rec->created >= *before) continue;
        if (since && rec->created <= *since) continue;
        if (filters.has("reference")) {
            bool any = false;
            for (const auto& pattern : filters.get("reference")) {
                for (const auto& tag : rec->tags) {
                    auto colon = tag.rfind(':');
                    std::string repo = tag.substr(0, colon);
                    if (glob_match(pattern, tag) || glob_match(pattern, repo)) any = true;
                    // docker.io/library/x forms match too.
                    if (auto ref = registry::parse_reference(pattern); ref && pattern.find('*') == std::string::npos) {
                        bool has_tag = pattern.find(':', pattern.rfind('/') == std::string::npos ? 0 : pattern.rfind('/')) !=
                                       std::string::npos;
                        if (has_tag ? ref->familiar_name() + ":" + ref->tag == tag : ref->familiar_name() == repo) any = true;
                    }
                }
                for (const auto& digest : rec->digests) {
                    if (glob_match(pattern, digest) || glob_match(pattern, digest.substr(0, digest.find('@')))) any = true;
                }
            }
            if (!any) continue;
        }
        out.push_back(std::move(*rec));
    }
    return out;
}

Json ImageService::summary_json(const ImageRecord& image) {
    Json labels = nullptr;
    if (const Json* c = find_ci(image.config, "config"); c && c->contains("Labels") && (*c)["Labels"].is_object()) {
        labels = (*c)["Labels"];
    }
    Json tags = Json::array();
    for (auto& t : image.tags) tags.push_back(t);
    Json digests = Json::array();
    for (auto& d : image.digests) digests.push_back(d);
    if (tags.empty()) tags.push_back("<none>:<none>");
    if (digests.empty() && image.tags.empty()) digests.push_back("<none>@<none>");
    return {{"Id", image.id},         {"ParentId", image.parent}, {"RepoTags", tags},    {"RepoDigests", digests},
            {"Created", image.created}, {"Size", image.size},    {"SharedSize", -1},   {"VirtualSize", image.size},
            {"Labels", labels},       {"Containers", -1}};
}

Json ImageService::inspect_json(const ImageRecord& image) {
    static const char* kConfigKeys[] = {"Hostname", "Domainname", "User",       "AttachStdin", "AttachStdout",
                                        "AttachStderr", "ExposedPorts", "Tty",   "OpenStdin",   "StdinOnce",
                                        "Env",      "Cmd",        "Healthcheck", "ArgsEscaped", "Image",
                                        "Volumes",  "WorkingDir", "Entrypoint",  "OnBuild",     "Labels",
                                        "StopSignal", "Shell"};
    Json config = Json::object();
    if (const Json* c = find_ci(image.config, "config"); c && c->is_object()) config = *c;
    // Every image shows the full Config shape (Ansible and compose read keys directly).
    Json full = {{"Hostname", ""},    {"Domainname", ""},  {"User", ""},       {"AttachStdin", false},
                 {"AttachStdout", false}, {"AttachStderr", false}, {"Tty", false}, {"OpenStdin", false},
                 {"StdinOnce", false}, {"Env", nullptr},   {"Cmd", nullptr},   {"Image", ""},
                 {"Volumes", nullptr}, {"WorkingDir", ""}, {"Entrypoint", nullptr}, {"OnBuild", nullptr},
                 {"Labels", nullptr}};
    for (const char* key : kConfigKeys) {
        if (config.contains(key)) full[key] = config[key];
    }
    Json container_config = full;
    if (const Json* cc = find_ci(image.config, "container_config"); cc && cc->is_object()) {
        for (auto it = cc->begin(); it != cc->end(); ++it) container_config[it.key()] = *it;
        if (!container_config.contains("Volumes")) container_config["Volumes"] = nullptr;
    }
    Json diff_ids = Json::array();
    if (const Json* rootfs = find_ci(image.config, "rootfs"); rootfs && rootfs->contains("diff_ids")) {
        diff_ids = (*rootfs)["diff_ids"];
    }
    Json tags = Json::array(), digests = Json::array();
    for (auto& t : image.tags) tags.push_back(t);
    for (auto& d : image.digests) digests.push_back(d);
    Json graph_data = Json::object();
    if (!image.chain_ids.empty()) {
        std::string top = cache_id(image.chain_ids.back());
        if (!top.empty()) graph_data["LayerID"] = top;
    }
    return {{"Id", image.id},
            {"RepoTags", tags},
            {"RepoDigests", digests},
            {"Parent", image.parent},
            {"Comment", string_or(image.config, "comment")},
            {"Created", rfc3339_nano(image.created * 1000000000)},
            {"Container", string_or(image.config, "container")},
            {"ContainerConfig", container_config},
            {"DockerVersion", string_or(image.config, "docker_version")},
            {"Author", string_or(image.config, "author")},
            {"Config", full},
            {"Architecture", string_or(image.config, "architecture", "amd64")},
            {"Variant", string_or(image.config, "variant")},
            {"Os", string_or(image.config, "os", "linux")},
            {"Size", image.size},
            {"VirtualSize", image.size},
            {"GraphDriver", {{"Name", driver_.name()}, {"Data", graph_data}}},
            {"RootFS", {{"Type", "layers"}, {"Layers", diff_ids}}},
            {"Metadata", {{"LastTagTime", std::string(kZeroTime)}}}};
}

Result<Json> ImageService::history_json(const std::string& name) {
    CTL_ASSIGN_OR_RETURN(auto image, resolve(name));
    Json out = Json::array();
    const Json* history = find_ci(image.config, "history");
    std::vector<int64_t> layer_sizes;
    for (const auto& chain : image.chain_ids) {
        auto rows = store_.query("SELECT size FROM layers WHERE chain_id = ?", {chain});
        layer_sizes.push_back(rows && !rows->empty() ? as_int((*rows)[0][0]) : 0);
    }
    size_t layer = 0;
    if (history && history->is_array()) {
        for (const auto& h : *history) {
            bool empty = bool_or(h, "empty_layer");
            int64_t size = 0;
            if (!empty && layer < layer_sizes.size()) size = layer_sizes[layer++];
            int64_t created = parse_timestamp(string_or(h, "created"));
            out.push_back({{"Id", "<missing>"},
                           {"Created", created < 0 ? 0 : created / 1000000000},
                           {"CreatedBy", string_or(h, "created_by")},
                           {"Tags", nullptr},
                           {"Size", size},
                           {"Comment", string_or(h, "comment")}});
        }
    }
    if (out.empty()) {
        out.push_back({{"Id", "<missing>"}, {"Created", image.created}, {"CreatedBy", ""}, {"Tags", nullptr},
                       {"Size", image.size}, {"Comment", ""}});
    }
    std::reverse(out.begin(), out.end());
    out[0]["Id"] = image.id;
    Json tags = Json::array();
    for (auto& t : image.tags) tags.push_back(t);
    out[0]["Tags"] = tags.empty() ? Json(nullptr) : tags;
    return out;
}

Result<std::string> ImageService::register_layer(const std::string& parent_chain, graph::ReadFn read,
                                                 const std::string& expected_diff_id, const std::string& blob_digest,
                                                 int64_t blob_size, const std::string& media_type) {
    auto chain_of = [&](const std::string& diff) {
        return parent_chain.empty() ? diff : sha256_digest(parent_chain + " " + diff);
    };
    if (!expected_diff_id.empty()) {
        std::string chain = chain_of(expected_diff_id);
        CTL_ASSIGN_OR_RETURN(auto rows, store_.query("SELECT 1 FROM layers WHERE chain_id = ?", {chain}));
        if (!rows.empty()) return chain;
    }
    std::string parent_cache;
    if (!parent_chain.empty()) {
        parent_cache = cache_id(parent_chain);
        if (parent_cache.empty()) return make_error(Errc::NotFound, "parent layer " + parent_chain + " not found");
    }
    std::string id = random_hex_id();
    CTL_TRY(driver_.create(id, parent_cache, false));
    auto stats = driver_.apply_diff(id, std::move(read));
    if (!stats) {
        (void)driver_.remove(id);
        return stats.error();
    }
    if (!expected_diff_id.empty() && stats->diff_id != expected_diff_id) {
        (void)driver_.remove(id);
        return make_error(Errc::DataLoss, "layer content does not match its diff ID: expected " + expected_diff_id +
                                              ", got " + stats->diff_id);
    }
    std::string chain = chain_of(stats->diff_id);
    std::lock_guard lock(layer_mutex_);
    Status st = store_.execute(
        "INSERT INTO layers(chain_id, diff_id, parent, cache_id, size, compressed_digest, compressed_size, media_type) "
        "VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
        {chain, stats->diff_id, parent_chain.empty() ? store::Value(nullptr) : store::Value(parent_chain), id,
         stats->size, blob_digest.empty() ? store::Value(nullptr) : store::Value(blob_digest), blob_size, media_type});
    if (!st) {
        (void)driver_.remove(id);
        if (st.error().code == Errc::AlreadyExists) return chain;  // registered concurrently
        return st.error();
    }
    return chain;
}

Result<std::string> ImageService::create_image(const std::string& config_raw, const std::vector<std::string>& chain_ids,
                                               const std::string& parent) {
    Json config = Json::parse(config_raw, nullptr, false);
    if (config.is_discarded() || !config.is_object()) {
        return make_error(Errc::InvalidArgument, "image config is not a JSON object");
    }
    std::string id = sha256_digest(config_raw);
    if (!content_.exists(id)) CTL_TRY(content_.put(config_raw, id));
    int64_t size = 0;
    for (const auto& chain : chain_ids) {
        CTL_ASSIGN_OR_RETURN(auto rows, store_.query("SELECT size FROM layers WHERE chain_id = ?", {chain}));
        if (rows.empty()) return make_error(Errc::NotFound, "layer " + chain + " not found");
        size += as_int(rows[0][0]);
    }
    std::lock_guard lock(layer_mutex_);
    CTL_TRY(store_.transact([&]() -> Status {
        CTL_ASSIGN_OR_RETURN(auto exists, store_.query("SELECT 1 FROM images WHERE id = ?", {id}));
        if (!exists.empty()) return ok();
        CTL_TRY(store_.execute(
            "INSERT INTO images(id, config, created, top_layer, size, parent, added_at) VALUES(?, ?, ?, ?, ?, ?, ?)",
            {id, config_raw, parse_created(config),
             chain_ids.empty() ? store::Value(nullptr) : store::Value(chain_ids.back()), size, parent,
             now_unix_nanos()}));
        for (size_t i = 0; i < chain_ids.size(); ++i) {
            CTL_TRY(store_.execute("INSERT INTO image_layers(image_id, idx, chain_id) VALUES(?, ?, ?)",
                                   {id, static_cast<int64_t>(i), chain_ids[i]}));
        }
        return ok();
    }));
    return id;
}

Status ImageService::set_tag(const std::string& familiar_ref, const std::string& image_id) {
    CTL_TRY(store_.execute(
        "INSERT INTO image_tags(name, image_id) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
        {familiar_ref, image_id}));
    return ok();
}

Status ImageService::tag(const std::string& source, const std::string& repo, const std::string& tag) {
    CTL_ASSIGN_OR_RETURN(auto image, resolve(source));
    std::string target = repo;
    if (!tag.empty()) {
        if (!registry::is_valid_tag(tag)) return make_error(Errc::InvalidArgument, "invalid tag format: " + tag);
        target += ":" + tag;
    }
    auto ref = registry::parse_reference(target);
    if (!ref) return ref.error();
    if (!ref->digest.empty()) return make_error(Errc::InvalidArgument, "refusing to create a tag with a digest reference");
    std::string familiar = ref->familiar_name() + ":" + (ref->tag.empty() ? "latest" : ref->tag);
    CTL_TRY(set_tag(familiar, image.id));
    emit("tag", image.id, familiar);
    return ok();
}

Status ImageService::gc_layers() {
    // Layers no image uses and no other layer stands on: remove the record, then the files.
    for (;;) {
        std::vector<std::pair<std::string, std::string>> victims;  // cache_id, blob
        {
            std::lock_guard lock(layer_mutex_);
            CTL_ASSIGN_OR_RETURN(auto rows,
                                 store_.query("SELECT chain_id, cache_id, compressed_digest FROM layers l "
                                              "WHERE NOT EXISTS (SELECT 1 FROM image_layers il WHERE il.chain_id = l.chain_id) "
                                              "AND NOT EXISTS (SELECT 1 FROM layers c WHERE c.parent = l.chain_id)"));
            if (rows.empty()) return ok();
            CTL_TRY(store_.transact([&]() -> Status {
                for (auto& r : rows) {
                    CTL_TRY(store_.execute("DELETE FROM layers WHERE chain_id = ?", {as_string(r[0])}));
                    victims.emplace_back(as_string(r[1]), as_string(r[2]));
                }
                return ok();
            }));
        }
        for (auto& [cache, blob] : victims) {
            if (auto st = driver_.remove(cache); !st) log::warn("removing layer {}: {}", cache, st.error().message);
            if (!blob.empty()) {
                auto users = store_.query("SELECT 1 FROM layers WHERE compressed_digest = ?", {blob});
                if (users && users->empty()) (void)content_.remove(blob);
            }
        }
    }
}

Status ImageService::delete_image(const std::string& id, Json& report) {
    CTL_ASSIGN_OR_RETURN(auto rec, load_record(id));
    CTL_TRY(store_.transact([&]() -> Status {
        CTL_TRY(store_.execute("DELETE FROM image_tags WHERE image_id = ?", {id}));
        CTL_TRY(store_.execute("DELETE FROM image_digests WHERE image_id = ?", {id}));
        CTL_TRY(store_.execute("DELETE FROM image_layers WHERE image_id = ?", {id}));
        return store_.execute("DELETE FROM images WHERE id = ?", {id});
    }));
    for (auto& t : rec.tags) report.push_back({{"Untagged", t}});
    for (auto& d : rec.digests) report.push_back({{"Untagged", d}});
    report.push_back({{"Deleted", id}});
    (void)content_.remove(id);
    emit("delete", id, "");
    return gc_layers();
}

namespace {
// "host/repo:tag" or "host/repo@sha256:..." -> "host/repo".
std::string repository_of(const std::string& reference) {
    auto at = reference.find('@');
    if (at != std::string::npos) return reference.substr(0, at);
    auto colon = reference.rfind(':');
    auto slash = reference.rfind('/');
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) return reference.substr(0, colon);
    return reference;
}
}  // namespace

Result<Json> ImageService::remove(const std::string& name, bool force, bool noprune) {
    (void)noprune;  // images have no untagged parents to keep yet (no build cache)
    CTL_ASSIGN_OR_RETURN(auto image, resolve(name));
    Json report = Json::array();
    std::vector<std::string> users = containers_using ? containers_using(image.id) : std::vector<std::string>{};

    // Was `name` a reference (tag or digest) rather than an ID?
    std::string hex = starts_with(name, "sha256:") ? name.substr(7) : name;
    bool by_id = starts_with(image.id.substr(7), to_lower(hex)) && image.tags.end() == std::find_if(image.tags.begin(), image.tags.end(), [&](const std::string& t) { return t == name || t == name + ":latest"; });
    std::string ref_name;
    if (!by_id) {
        auto ref = registry::parse_reference(name);
        if (ref) ref_name = ref->digest.empty() ? ref->familiar_name() + ":" + (ref->tag.empty() ? "latest" : ref->tag)
                                                : ref->familiar_name() + "@" + ref->digest;
    }
    size_t refs = image.tags.size() + image.digests.size();
    if (!ref_name.empty()) {
        // As Docker: removing the last reference of a used image needs force (and then keeps the
        // image, dangling); a tag removed as the last one of its repository takes that
        // repository's digest references with it; the image goes when no reference is left.
        if (refs == 1 && !users.empty() && !force) {
            return make_error(Errc::Conflict, "conflict: unable to remove repository reference \"" + ref_name +
                                                  "\" (must force) - container " + short_id(users.front()) +
                                                  " is using its referenced image " + short_hex(image.id));
        }
        std::vector<std::string> untag{ref_name};
        bool is_tag = ref_name.find('@') == std::string::npos;
        if (is_tag) {
            std::string repo = repository_of(ref_name);
            bool other_tag = std::any_of(image.tags.begin(), image.tags.end(),
                                         [&](const std::string& t) { return t != ref_name && repository_of(t) == repo; });
            if (!other_tag) {
                for (const auto& d : image.digests) {
                    if (repository_of(d) == repo) untag.push_back(d);
                }
            }
        }
        CTL_TRY(store_.transact([&]() -> Status {
            for (const auto& n : untag) {
                CTL_TRY(store_.execute("DELETE FROM image_tags WHERE name = ?", {n}));
                CTL_TRY(store_.execute("DELETE FROM image_digests WHERE name = ?", {n}));
            }
            return ok();
        }));
        for (const auto& n : untag) {
            report.push_back({{"Untagged", n}});
            emit("untag", image.id, n);
        }
        if (refs > untag.size() || !users.empty()) return report;
        CTL_TRY(delete_image(image.id, report));
        return report;
    }
    if (!users.empty()) {
        std::string what = ref_name.empty() ? short_hex(image.id) : ref_name;
        return make_error(Errc::Conflict, "conflict: unable to remove repository reference \"" + what +
                                              "\" (must force) - container " + short_id(users.front()) +
                                              " is using its referenced image " + short_hex(image.id));
    }
    if (ref_name.empty() && refs > 1 && !force) {
        return make_error(Errc::Conflict, "conflict: unable to delete " + short_hex(image.id) +
                                              " (must be forced) - image is referenced in multiple repositories");
    }
    CTL_TRY(delete_image(image.id, report));
    return report;
}

Result<Json> ImageService::prune(const Filters& filters) {
    bool dangling_only = true;
    if (filters.has("dangling")) dangling_only = parse_query_bool(filters.get("dangling").front());
    int64_t until = -1;
    if (filters.has("until")) {
        until = parse_timestamp(filters.get("until").front());
        if (until < 0) return make_error(Errc::InvalidArgument, "invalid until filter");
    }
    CTL_ASSIGN_OR_RETURN(auto rows, store_.query("SELECT id FROM images"));
    Json deleted = Json::array();
    int64_t reclaimed = 0;
    for (auto& r : rows) {
        auto rec = load_record(as_string(r[0]));
        if (!rec) continue;
        if (dangling_only && !(rec->tags.empty() && rec->digests.empty())) continue;
        if (until >= 0 && rec->created * 1000000000 >= until) continue;
        std::map<std::string, std::string> labels;
        if (const Json* c = find_ci(rec->config, "config"); c && c->contains("Labels") && (*c)["Labels"].is_object()) {
            for (auto it = (*c)["Labels"].begin(); it != (*c)["Labels"].end(); ++it) {
                if (it->is_string()) labels[it.key()] = it->get<std::string>();
            }
        }
        if (!filters.match_labels(labels)) continue;
        bool excluded = false;
        for (const auto& l : filters.get("label!")) {
            auto eq = l.find('=');
            auto it = labels.find(l.substr(0, eq));
            if (it != labels.end() && (eq == std::string::npos || it->second == l.substr(eq + 1))) excluded = true;
        }
        if (excluded) continue;
        if (containers_using && !containers_using(rec->id).empty()) continue;
        Json report = Json::array();
        if (delete_image(rec->id, report)) {
            reclaimed += rec->size;
            for (auto& e : report) deleted.push_back(e);
        }
    }
    return Json{{"ImagesDeleted", deleted.empty() ? Json(nullptr) : deleted}, {"SpaceReclaimed", reclaimed}};
}

void ImageService::contribute_info(Json& info) {
    auto rows = store_.query("SELECT COUNT(*) FROM images");
    if (rows && !rows->empty()) info["Images"] = as_int((*rows)[0][0]);
    info["Driver"] = driver_.name();
}

void ImageService::contribute_df(Json& df) {
    auto layers = store_.query("SELECT COALESCE(SUM(size), 0) FROM layers");
    if (layers && !layers->empty()) df["LayersSize"] = as_int((*layers)[0][0]);
    auto images = list(Filters());
    if (!images) return;
    Json list_json = Json::array();
    for (auto& img : *images) {
        Json s = summary_json(img);
        s["Containers"] = containers_using ? static_cast<int64_t>(containers_using(img.id).size()) : 0;
        s["SharedSize"] = 0;
        list_json.push_back(s);
    }
    df["Images"] = list_json;
}

// ---- import ----

Status apply_changes(Json& cfg, const std::vector<std::string>& changes) {
    auto words_or_json = [](const std::string& rest) -> Json {
        std::string t = trim(rest);
        if (!t.empty() && t[0] == '[') {
            Json j = Json::parse(t, nullptr, false);
            if (!j.is_discarded() && j.is_array()) return j;
        }
        return Json::array({"/bin/sh", "-c", t});
    };
    for (const auto& change : changes) {
        std::string line = trim(change);
        if (line.empty()) continue;
        auto space = line.find_first_of(" \t");
        std::string word = to_lower(line.substr(0, space));
        std::string rest = space == std::string::npos ? "" : trim(line.substr(space));
        if (word == "cmd") {
            cfg["Cmd"] = words_or_json(rest);
        } else if (word == "entrypoint") {
            cfg["Entrypoint"] = words_or_json(rest);
        } else if (word == "env") {
            if (!cfg.contains("Env") || !cfg["Env"].is_array()) cfg["Env"] = Json::array();
            auto eq = rest.find('=');
            std::string kv = eq == std::string::npos ? [&] {
                auto sp = rest.find_first_of(" \t");
                return rest.substr(0, sp) + "=" + (sp == std::string::npos ? "" : trim(rest.substr(sp)));
            }()
                                                     : rest;
            cfg["Env"].push_back(kv);
        } else if (word == "workdir") {
            cfg["WorkingDir"] = rest;
        } else if (word == "user") {
            cfg["User"] = rest;
        } else if (word == "stopsignal") {
            cfg["StopSignal"] = rest;
        } else if (word == "expose") {
            if (!cfg.contains("ExposedPorts") || !cfg["ExposedPorts"].is_object()) cfg["ExposedPorts"] = Json::object();
            for (auto& p : split(rest, ' ')) {
                if (p.empty()) continue;
                cfg["ExposedPorts"][p.find('/') == std::string::npos ? p + "/tcp" : p] = Json::object();
            }
        } else if (word == "volume") {
            if (!cfg.contains("Volumes") || !cfg["Volumes"].is_object()) cfg["Volumes"] = Json::object();
            Json list = words_or_json(rest);
            if (rest.find('[') == std::string::npos) list = Json::array({rest});
            for (auto& v : list) cfg["Volumes"][v.get<std::string>()] = Json::object();
        } else if (word == "label") {
            if (!cfg.contains("Labels") || !cfg["Labels"].is_object()) cfg["Labels"] = Json::object();
            auto eq = rest.find('=');
            if (eq == std::string::npos) return make_error(Errc::InvalidArgument, "LABEL needs key=value: " + line);
            std::string value = rest.substr(eq + 1);
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
            cfg["Labels"][rest.substr(0, eq)] = value;
        } else {
            return make_error(Errc::InvalidArgument, "unsupported change instruction: " + word);
        }
    }
    return ok();
}

Result<std::string> ImageService::import(graph::ReadFn read, const std::string& repo_tag,
                                         const std::vector<std::string>& changes, const std::string& message,
                                         const Progress& progress) {
    std::string familiar;
    if (!repo_tag.empty()) {
        CTL_ASSIGN_OR_RETURN(familiar, familiar_tagged(repo_tag));
    }
    Json container_config = {{"Env", Json::array({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"})}};
    CTL_TRY(apply_changes(container_config, changes));

    // Keep the uploaded bytes as the layer's blob (push and save need them) while applying.
    CTL_ASSIGN_OR_RETURN(auto blob, content_.writer());
    Status blob_status = ok();
    auto reader = tee_reader(std::move(read), [&](const char* d, size_t n) {
        auto st = blob->write(d, n);
        if (!st) blob_status = st;
        return static_cast<bool>(st);
    });
    // The layer is registered once its blob digest is known, so apply into a fresh layer first.
    std::string id = random_hex_id();
    CTL_TRY(driver_.create(id, "", false));
    auto stats = driver_.apply_diff(id, reader);
    if (!stats || !blob_status) {
        (void)driver_.remove(id);
        return stats ? blob_status.error() : stats.error();
    }
    int64_t blob_size = blob->size();
    auto digest = blob->commit();
    if (!digest) {
        (void)driver_.remove(id);
        return digest.error();
    }
    std::string chain = stats->diff_id;
    {
        std::lock_guard lock(layer_mutex_);
        auto st = store_.execute(
            "INSERT INTO layers(chain_id, diff_id, parent, cache_id, size, compressed_digest, compressed_size, media_type) "
            "VALUES(?, ?, NULL, ?, ?, ?, ?, ?)",
            {chain, stats->diff_id, id, stats->size, *digest, blob_size,
             std::string("application/vnd.docker.image.rootfs.diff.tar")});
        if (!st) {
            (void)driver_.remove(id);
            if (st.error().code != Errc::AlreadyExists) return st.error();
        }
    }
    std::string now = rfc3339_nano(now_unix_nanos());
    Json config = {{"architecture", "amd64"},
                   {"os", "linux"},
                   {"created", now},
                   {"config", container_config},
                   {"rootfs", {{"type", "layers"}, {"diff_ids", Json::array({stats->diff_id})}}},
                   {"history", Json::array({{{"created", now}, {"comment", message.empty() ? "Imported from -" : message}}})}};
    if (!message.empty()) config["comment"] = message;
    CTL_ASSIGN_OR_RETURN(auto image_id, create_image(to_line(config), {chain}));
    if (!familiar.empty()) CTL_TRY(set_tag(familiar, image_id));
    emit("import", image_id, familiar);
    if (progress) progress({{"status", image_id}});
    return image_id;
}

// ---- save / load ----

Status ImageService::write_layer_tar(const std::string& chain_id, const Sink& sink) {
    CTL_ASSIGN_OR_RETURN(auto rows, store_.query("SELECT compressed_digest, cache_id FROM layers WHERE chain_id = ?",
                                                 {chain_id}));
    if (rows.empty()) return make_error(Errc::NotFound, "layer " + chain_id + " not found");
    std::string blob = as_string(rows[0][0]);
    if (!blob.empty() && content_.exists(blob)) {
        CTL_ASSIGN_OR_RETURN(auto reader, file_reader(content_.path(blob)));
        return decompress(reader, sink);
    }
    return driver_.diff(as_string(rows[0][1]), sink);
}

namespace {

struct ArchiveWriter {
    struct archive* a = archive_write_new();
    const Sink* sink;
    Status status = ok();
    ~ArchiveWriter() { archive_write_free(a); }

    static la_ssize_t write_cb(struct archive*, void* data, const void* buf, size_t len) {
        auto* self = static_cast<ArchiveWriter*>(data);
        auto st = (*self->sink)(static_cast<const char*>(buf), len);
        if (!st) {
            self->status = st;
            return -1;
        }
        return static_cast<la_ssize_t>(len);
    }

    Status open() {
        archive_write_set_format_pax_restricted(a);
        archive_write_set_bytes_per_block(a, 0);
        if (archive_write_open(a, this, nullptr, write_cb, nullptr) != ARCHIVE_OK) {
            return make_error(Errc::Internal, archive_error_string(a));
        }
        return ok();
    }

    Status add(const std::string& name, int64_t size, const std::function<Status(const Sink&)>& body, bool dir = false) {
        struct archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, name.c_str());
        archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(e, dir ? 0755 : 0644);
        archive_entry_set_size(e, dir ? 0 : size);
        archive_entry_set_mtime(e, 0, 0);
        int rc = archive_write_header(a, e);
        archive_entry_free(e);
        if (rc != ARCHIVE_OK) return status ? make_error(Errc::Internal, archive_error_string(a)) : status;
        if (dir) return ok();
        Sink data_sink = [this](const char* d, size_t n) -> Status {
            if (archive_write_data(a, d, n) < 0) return status ? make_error(Errc::Internal, archive_error_string(a)) : status;
            return ok();
        };
        return body(data_sink);
    }

    Status add_bytes(const std::string& name, const std::string& data) {
        return add(name, static_cast<int64_t>(data.size()), [&](const Sink& s) { return s(data.data(), data.size()); });
    }

    Status close() {
        if (archive_write_close(a) != ARCHIVE_OK) return status ? make_error(Errc::Internal, archive_error_string(a)) : status;
        return status;
    }
};

}  // namespace

Status ImageService::save(const std::vector<std::string>& names, const Sink& sink) {
    struct Entry {
        ImageRecord image;
        std::vector<std::string> tags;
    };
    std::vector<Entry> entries;
    for (const auto& name : names) {
        CTL_ASSIGN_OR_RETURN(auto image, resolve(name));
        std::vector<std::string> tags;
        // A name that is a tag saves that tag; an ID saves the image untagged (as Docker does).
        auto tagged = familiar_tagged(name);
        if (tagged && std::find(image.tags.begin(), image.tags.end(), *tagged) != image.tags.end()) tags.push_back(*tagged);
        else if (!starts_with(image.id.substr(7), starts_with(name, "sha256:") ? name.substr(7) : name)) tags = image.tags;
        auto existing = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.image.id == image.id; });
        if (existing != entries.end()) existing->tags.insert(existing->tags.end(), tags.begin(), tags.end());
        else entries.push_back({std::move(image), std::move(tags)});
    }
    ArchiveWriter w;
    w.sink = &sink;
    CTL_TRY(w.open());
    Json manifest = Json::array();
    Json repositories = Json::object();
    std::set<std::string> written;
    for (auto& entry : entries) {
        std::string config_name = entry.image.id.substr(7) + ".json";
        CTL_TRY(w.add_bytes(config_name, entry.image.config_raw));
        Json layers = Json::array();
        std::string parent_dir;
        for (size_t i = 0; i < entry.image.chain_ids.size(); ++i) {
            // Layer directories are named by chain ID so identical layers are written once.
            std::string dir = entry.image.chain_ids[i].substr(7);
            layers.push_back(dir + "/layer.tar");
            if (written.insert(dir).second) {
                // The tar's size must be known before its header: spool it to a temp file.
                char tmpl[] = "/tmp/ctld-save-XXXXXX";
                int fd = ::mkstemp(tmpl);
                if (fd < 0) return sys_error("create temp file");
                sys::UniqueFd owner(fd);
                ::unlink(tmpl);
                int64_t size = 0;
                CTL_TRY(write_layer_tar(entry.image.chain_ids[i], [&](const char* d, size_t n) -> Status {
                    size += static_cast<int64_t>(n);
                    return sys::write_all(fd, std::string_view(d, n));
                }));
                ::lseek(fd, 0, SEEK_SET);
                CTL_TRY(w.add(dir, 0, nullptr, true));
                CTL_TRY(w.add_bytes(dir + "/VERSION", "1.0"));
                Json legacy = {{"id", dir}};
                if (!parent_dir.empty()) legacy["parent"] = parent_dir;
                CTL_TRY(w.add_bytes(dir + "/json", to_line(legacy)));
                CTL_TRY(w.add(dir + "/layer.tar", size, [&](const Sink& s) -> Status {
                    std::vector<char> buf(256 * 1024);
                    for (;;) {
                        ssize_t n = ::read(fd, buf.data(), buf.size());
                        if (n < 0 && errno == EINTR) continue;
                        if (n < 0) return sys_error("read temp file");
                        if (n == 0) return ok();
                        CTL_TRY(s(buf.data(), static_cast<size_t>(n)));
                    }
                }));
            }
            parent_dir = dir;
        }
        Json repo_tags = Json::array();
        for (auto& t : entry.tags) {
            repo_tags.push_back(t);
            auto colon = t.rfind(':');
            repositories[t.substr(0, colon)][t.substr(colon + 1)] = parent_dir;
        }
        manifest.push_back({{"Config", config_name}, {"RepoTags", repo_tags.empty() ? Json(nullptr) : repo_tags},
                            {"Layers", layers}});
        emit("save", entry.image.id, entry.tags.empty() ? "" : entry.tags.front());
    }
    CTL_TRY(w.add_bytes("manifest.json", to_line(manifest)));
    if (!repositories.empty()) CTL_TRY(w.add_bytes("repositories", to_line(repositories)));
    return w.close();
}

Status ImageService::load(graph::ReadFn read, const Progress& progress) {
    // The archive's manifest.json may come after the layers: unpack it safely into a scratch
    // directory first (nothing outside it can be written), then register from there.
    std::string scratch = std::filesystem::temp_directory_path().string() + "/ctld-load-" + random_hex_id().substr(0, 12);
    CTL_TRY(sys::mkdir_all(scratch, 0700));
    struct Cleanup {
        std::string dir;
        ~Cleanup() { (void)sys::remove_all(dir); }
    } cleanup{scratch};
    graph::ApplyOptions options;
    options.whiteouts = graph::WhiteoutMode::None;
    options.chown = false;
    auto unpacked = graph::apply_tar(scratch, std::move(read), options);
    if (!unpacked) return with_context(unpacked.error(), "reading image archive");

    auto manifest_text = sys::read_file(scratch + "/manifest.json");
    if (!manifest_text) return make_error(Errc::InvalidArgument, "invalid image archive: no manifest.json");
    Json manifest = Json::parse(*manifest_text, nullptr, false);
    if (manifest.is_discarded() || !manifest.is_array()) {
        return make_error(Errc::InvalidArgument, "invalid image archive: manifest.json is not a list");
    }
    auto inside = [&](const std::string& rel) -> Result<std::string> {
        std::filesystem::path p = std::filesystem::path(scratch) / rel;
        auto norm = p.lexically_normal().string();
        if (!starts_with(norm, scratch + "/")) return make_error(Errc::InvalidArgument, "invalid path in archive: " + rel);
        return norm;
    };
    for (const auto& entry : manifest) {
        std::string config_path = string_or(entry, "Config");
        CTL_ASSIGN_OR_RETURN(auto config_file, inside(config_path));
        auto config_raw = sys::read_file(config_file);
        if (!config_raw) return make_error(Errc::InvalidArgument, "invalid image archive: missing " + config_path);
        Json config = Json::parse(*config_raw, nullptr, false);
        if (config.is_discarded()) return make_error(Errc::InvalidArgument, "invalid image config " + config_path);
        Json diff_ids = Json::array();
        if (const Json* rootfs = find_ci(config, "rootfs"); rootfs && rootfs->contains("diff_ids")) {
            diff_ids = (*rootfs)["diff_ids"];
        }
        const Json* layers = find_ci(entry, "Layers");
        if (!layers || !layers->is_array() || layers->size() != diff_ids.size()) {
            return make_error(Errc::InvalidArgument, "invalid image archive: layers do not match the config's diff_ids");
        }
        std::vector<std::string> chains;
        std::string parent;
        for (size_t i = 0; i < layers->size(); ++i) {
            std::string rel = (*layers)[i].get<std::string>();
            CTL_ASSIGN_OR_RETURN(auto layer_path, inside(rel));
            std::string diff_id = diff_ids[i].get<std::string>();
            if (progress) progress({{"status", "Loading layer"}, {"progressDetail", Json::object()}, {"id", short_hex(diff_id)}});
            // Keep the layer bytes as a blob so save and push can reproduce them exactly.
            CTL_ASSIGN_OR_RETURN(auto blob_reader, file_reader(layer_path));
            CTL_ASSIGN_OR_RETURN(auto blob_writer, content_.writer());
            Status copy = decompress(blob_reader, [&](const char* d, size_t n) { return blob_writer->write(d, n); });
            if (!copy) return copy;
            int64_t blob_size = blob_writer->size();
            CTL_ASSIGN_OR_RETURN(auto blob_digest, blob_writer->commit());
            if (blob_digest != diff_id) {
                (void)content_.remove(blob_digest);
                return make_error(Errc::DataLoss, "layer " + rel + " does not match diff ID " + diff_id);
            }
            CTL_ASSIGN_OR_RETURN(auto layer_reader, file_reader(content_.path(blob_digest)));
            CTL_ASSIGN_OR_RETURN(auto chain, register_layer(parent, layer_reader, diff_id, blob_digest, blob_size,
                                                            "application/vnd.docker.image.rootfs.diff.tar"));
            chains.push_back(chain);
            parent = chain;
        }
        CTL_ASSIGN_OR_RETURN(auto image_id, create_image(*config_raw, chains));
        bool tagged = false;
        if (const Json* tags = find_ci(entry, "RepoTags"); tags && tags->is_array()) {
            for (const auto& t : *tags) {
                if (!t.is_string()) continue;
                CTL_ASSIGN_OR_RETURN(auto familiar, familiar_tagged(t.get<std::string>()));
                CTL_TRY(set_tag(familiar, image_id));
                if (progress) progress({{"stream", "Loaded image: " + familiar + "\n"}});
                tagged = true;
            }
        }
        if (!tagged && progress) progress({{"stream", "Loaded image ID: " + image_id + "\n"}});
        emit("load", image_id, "");
    }
    return ok();
}

}  // namespace ctl::image
