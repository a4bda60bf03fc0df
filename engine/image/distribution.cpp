// Pull and push over the distribution protocol, and the remaining ImageBackend entry points.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <thread>

#include "engine/base/log.hpp"
#include "engine/base/util.hpp"
#include "engine/image/compression.hpp"
#include "engine/image/image_service.hpp"
#include "registry/manifest.hpp"
#include "registry/reference.hpp"

namespace ctl::image {

using store::as_int;
using store::as_string;

namespace {

constexpr int kParallelDownloads = 3;

std::string short_digest(const std::string& digest) {
    auto colon = digest.find(':');
    return digest.substr(colon == std::string::npos ? 0 : colon + 1, 12);
}

// Serialises progress writes from download threads and remembers a client that left.
class ProgressOut {
public:
    explicit ProgressOut(const Progress& out) : out_(out) {}
    bool send(const Json& message) {
        std::lock_guard lock(mutex_);
        if (gone_) return false;
        if (out_ && !out_(message)) gone_ = true;
        return !gone_;
    }
    bool layer(const std::string& id, const std::string& status) {
        return send({{"status", status}, {"progressDetail", Json::object()}, {"id", id}});
    }
    bool bar(const std::string& id, const std::string& status, int64_t current, int64_t total) {
        return send({{"status", status},
                     {"progressDetail", {{"current", current}, {"total", total}}},
                     {"progress", progress_bar(current, total)},
                     {"id", id}});
    }
    bool gone() {
        std::lock_guard lock(mutex_);
        return gone_;
    }

private:
    const Progress& out_;
    std::mutex mutex_;
    bool gone_ = false;
};

std::string docker_layer_type(const std::string& media_type) {
    if (media_type == registry::kOciLayerGzip || media_type.empty()) return registry::kDockerLayerGzip;
    if (media_type == registry::kOciLayer) return registry::kDockerLayer;
    return media_type;
}

}  // namespace

class ImageService::TransferGuard {
public:
    TransferGuard(ImageService& service, std::atomic<bool>& cancel) : service_(service), cancel_(cancel) {
        std::lock_guard lock(service_.transfers_mutex_);
        if (service_.transfers_closed_) cancel_ = true;
        service_.transfers_.push_back(&cancel_);
    }
    ~TransferGuard() {
        std::lock_guard lock(service_.transfers_mutex_);
        std::erase(service_.transfers_, &cancel_);
    }
    TransferGuard(const TransferGuard&) = delete;
    TransferGuard& operator=(const TransferGuard&) = delete;

private:
    ImageService& service_;
    std::atomic<bool>& cancel_;
};

void ImageService::cancel_transfers() {
    std::lock_guard lock(transfers_mutex_);
    transfers_closed_ = true;
    for (auto* flag : transfers_) *flag = true;
}

Status ImageService::pull_image(const std::string& reference, const std::string& platform,
                                const std::string& registry_auth, const api::ProgressFn& progress) {
    PullOptions options;
    options.platform = platform;
    if (!registry_auth.empty()) {
        if (auto auth = registry::decode_registry_auth_header(registry_auth)) options.auth = *auth;
    }
    return pull(reference, options, progress);
}

Status ImageService::pull(const std::string& reference, const PullOptions& options, const Progress& progress) {
    CTL_ASSIGN_OR_RETURN(auto ref, registry::parse_reference(reference));
    ProgressOut out(progress);
    std::string shown = ref.digest.empty() ? ref.familiar_name() + ":" + ref.tag : ref.familiar_string();

    registry::Platform want;
    if (!options.platform.empty()) {
        CTL_ASSIGN_OR_RETURN(want, registry::parse_platform(options.platform));
    } else {
        want.os = "linux";
        want.architecture = "amd64";
    }

    auto top = registry_.get_manifest(ref, options.auth);
    if (!top) {
        Error e = top.error();
        if (e.code == Errc::NotFound) {
            e.message = ref.digest.empty() ? "manifest for " + shown + " not found: " + e.message
                                           : "manifest for " + shown + " not found: " + e.message;
        } else if (e.code == Errc::Unauthorized) {
            e.message = "pull access denied for " + ref.familiar_name() +
                        ", repository does not exist or may require 'docker login': " + e.message;
            e.code = Errc::NotFound;
        }
        return e;
    }
    std::string manifest_digest = top->digest;  // what RepoDigests records (the index's, for multi-arch)
    registry::FetchedManifest manifest = *top;
    if (registry::is_index_media_type(manifest.media_type)) {
        CTL_ASSIGN_OR_RETURN(auto index, registry::parse_index(manifest.bytes));
        auto chosen = registry::select_platform(index, want.os, want.architecture, want.variant);
        if (!chosen) {
            return make_error(Errc::NotFound, "no matching manifest for " + want.os + "/" + want.architecture +
                                                  " in the manifest list entries");
        }
        registry::Reference by_digest = ref;
        by_digest.tag.clear();
        by_digest.digest = chosen->digest;
        CTL_ASSIGN_OR_RETURN(manifest, registry_.get_manifest(by_digest, options.auth));
    }
    CTL_ASSIGN_OR_RETURN(auto image_manifest, registry::parse_image_manifest(manifest.bytes, manifest.media_type));

    out.send({{"status", "Pulling from " + ref.familiar_name().substr(0, std::string::npos)},
              {"id", ref.digest.empty() ? ref.tag : ref.digest}});

    std::string digest_ref = ref.familiar_name() + "@" + manifest_digest;
    std::string tag_ref = ref.digest.empty() ? ref.familiar_name() + ":" + ref.tag : "";
    auto finish = [&](const std::string& image_id, bool fresh) -> Status {
        bool was_same = false;
        if (!tag_ref.empty()) {
            auto current = store_.query("SELECT image_id FROM image_tags WHERE name = ?", {tag_ref});
            was_same = current && !current->empty() && as_string((*current)[0][0]) == image_id;
            CTL_TRY(set_tag(tag_ref, image_id));
        }
        CTL_TRY(store_.execute("INSERT INTO image_digests(name, image_id, media_type) VALUES(?, ?, ?) "
                               "ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
                               {digest_ref, image_id, top->media_type}));
        out.send({{"status", "Digest: " + manifest_digest}});
        bool up_to_date = !fresh && (was_same || tag_ref.empty());
        out.send({{"status", std::string("Status: ") + (up_to_date ? "Image is up to date for " : "Downloaded newer image for ") +
                                 (tag_ref.empty() ? shown : tag_ref)}});
        events::Event e{"image", "pull", shown, {{"name", ref.familiar_name()}}};
        bus_.publish(std::move(e));
        return ok();
    };

    // Already have this exact image: only the references change.
    if (auto existing = load_record(image_manifest.config.digest)) return finish(existing->id, false);

    CTL_ASSIGN_OR_RETURN(auto config_bytes, registry_.get_blob(ref, image_manifest.config.digest, options.auth));
    Json config = Json::parse(config_bytes, nullptr, false);
    if (config.is_discarded()) return make_error(Errc::InvalidArgument, "image config is not valid JSON");
    Json diff_ids = Json::array();
    if (const Json* rootfs = find_ci(config, "rootfs"); rootfs && rootfs->contains("diff_ids")) {
        diff_ids = (*rootfs)["diff_ids"];
    }
    const auto& layers = image_manifest.layers;
    if (diff_ids.size() != layers.size()) {
        return make_error(Errc::InvalidArgument, "image config lists " + std::to_string(diff_ids.size()) +
                                                     " layers but the manifest has " + std::to_string(layers.size()));
    }

    // Chain IDs tell which layers are already here.
    std::vector<std::string> chains;
    std::vector<bool> present;
    for (size_t i = 0; i < layers.size(); ++i) {
        std::string diff = diff_ids[i].get<std::string>();
        chains.push_back(i == 0 ? diff : sha256_digest(chains.back() + " " + diff));
        auto rows = store_.query("SELECT 1 FROM layers WHERE chain_id = ?", {chains.back()});
        present.push_back(rows && !rows->empty());
        out.layer(short_digest(layers[i].digest), present.back() ? "Already exists" : "Pulling fs layer");
    }

    // Downloads run in parallel (kParallelDownloads at a time) into the content store, each
    // verified against its digest; layers are extracted in order as soon as each is complete.
    std::atomic<bool> cancel{false};
    TransferGuard guard(*this, cancel);
    std::vector<std::promise<Status>> done(layers.size());
    std::vector<std::future<Status>> ready;
    for (auto& p : done) ready.push_back(p.get_future());
    std::atomic<size_t> next{0};
    auto download_worker = [&] {
        for (;;) {
            size_t i = next++;
            if (i >= layers.size()) return;
            if (present[i] || cancel) {
                done[i].set_value(cancel ? make_error(Errc::Cancelled, "pull cancelled") : ok());
                continue;
            }
            const auto& layer = layers[i];
            std::string id = short_digest(layer.digest);
            if (content_.exists(layer.digest)) {
                out.layer(id, "Download complete");
                done[i].set_value(ok());
                continue;
            }
            auto writer = content_.writer();
            if (!writer) {
                done[i].set_value(writer.error());
                continue;
            }
            auto last = std::chrono::steady_clock::now();
            Status st = registry_.fetch_blob(
                ref, layer.digest, layer.size, options.auth,
                [&](const char* data, size_t size) -> Status {
                    if (cancel) return make_error(Errc::Cancelled, "pull cancelled");
                    return (*writer)->write(data, size);
                },
                [&](int64_t current, int64_t total) {
                    auto now = std::chrono::steady_clock::now();
                    if (now - last > std::chrono::milliseconds(100)) {
                        last = now;
                        if (!out.bar(id, "Downloading", current, total > 0 ? total : layer.size)) cancel = true;
                    }
                },
                &cancel);
            if (st) {
                out.layer(id, "Verifying Checksum");
                auto committed = (*writer)->commit(layer.digest);
                if (!committed) st = committed.error();
            }
            if (st) out.layer(id, "Download complete");
            done[i].set_value(st);
        }
    };
    std::vector<std::thread> workers;
    for (int w = 0; w < kParallelDownloads; ++w) workers.emplace_back(download_worker);
    struct Joiner {
        std::vector<std::thread>& threads;
        std::atomic<bool>& cancel;
        ~Joiner() {
            for (auto& t : threads) t.join();
        }
    } joiner{workers, cancel};

    Status result = ok();
    std::string parent;
    for (size_t i = 0; i < layers.size(); ++i) {
        Status downloaded = ready[i].get();
        if (!downloaded) {
            cancel = true;
            result = with_context(downloaded.error(), "downloading layer " + short_digest(layers[i].digest));
            break;
        }
        if (out.gone()) {
            cancel = true;
            result = make_error(Errc::Cancelled, "client went away");
            break;
        }
        if (!present[i]) {
            std::string id = short_digest(layers[i].digest);
            out.layer(id, "Extracting");
            auto reader = file_reader(content_.path(layers[i].digest));
            if (!reader) {
                result = reader.error();
                cancel = true;
                break;
            }
            auto chain = register_layer(parent, *reader, diff_ids[i].get<std::string>(), layers[i].digest,
                                        layers[i].size, layers[i].media_type);
            if (!chain) {
                result = with_context(chain.error(), "extracting layer " + id);
                cancel = true;
                break;
            }
            (void)store_.execute("INSERT OR IGNORE INTO blob_sources(digest, registry, repository) VALUES(?, ?, ?)",
                                 {layers[i].digest, ref.domain, ref.path});
            out.layer(id, "Pull complete");
        }
        parent = chains[i];
    }
    for (auto& t : workers) {
        if (t.joinable()) t.join();
    }
    workers.clear();
    if (!result) {
        (void)gc_layers();
        return result;
    }
    CTL_ASSIGN_OR_RETURN(auto image_id, create_image(config_bytes, chains));
    return finish(image_id, true);
}

Status ImageService::push_image(const std::string& reference, const std::string& registry_auth,
                                const api::ProgressFn& progress) {
    registry::AuthConfig auth;
    if (!registry_auth.empty()) {
        if (auto decoded = registry::decode_registry_auth_header(registry_auth)) auth = *decoded;
    }
    return push(reference, auth, progress);
}

Status ImageService::push(const std::string& reference, const registry::AuthConfig& auth, const Progress& progress) {
    CTL_ASSIGN_OR_RETURN(auto ref, registry::parse_reference(reference));
    if (!ref.digest.empty()) return make_error(Errc::InvalidArgument, "cannot push a digest reference");
    std::string tagged = ref.familiar_name() + ":" + ref.tag;
    auto image = resolve(tagged);
    if (!image) return make_error(Errc::NotFound, "An image does not exist locally with the tag: " + ref.familiar_name());
    ProgressOut out(progress);
    std::atomic<bool> cancel{false};
    TransferGuard guard(*this, cancel);
    out.send({{"status", "The push refers to repository [" + ref.full_name() + "]"}});

    struct LayerBlob {
        std::string digest, media_type;
        int64_t size;
    };
    std::vector<LayerBlob> blobs;
    for (const auto& chain : image->chain_ids) {
        CTL_ASSIGN_OR_RETURN(auto rows, store_.query("SELECT compressed_digest, compressed_size, media_type, cache_id "
                                                     "FROM layers WHERE chain_id = ?",
                                                     {chain}));
        if (rows.empty()) return make_error(Errc::NotFound, "layer " + chain + " not found");
        std::string digest = as_string(rows[0][0]);
        if (digest.empty() || !content_.exists(digest)) {
            // A layer without its blob (made locally): its diff is the blob.
            CTL_ASSIGN_OR_RETURN(auto w, content_.writer());
            CTL_TRY(driver_.diff(as_string(rows[0][3]), [&](const char* d, size_t n) { return w->write(d, n); }));
            int64_t size = w->size();
            CTL_ASSIGN_OR_RETURN(digest, w->commit());
            CTL_TRY(store_.execute("UPDATE layers SET compressed_digest = ?, compressed_size = ?, media_type = ? "
                                   "WHERE chain_id = ?",
                                   {digest, size, std::string(registry::kDockerLayer), chain}));
            blobs.push_back({digest, registry::kDockerLayer, size});
        } else {
            blobs.push_back({digest, as_string(rows[0][2]), as_int(rows[0][1])});
        }
    }
    bool oci = false;
    for (const auto& b : blobs) oci = oci || b.media_type.find("zstd") != std::string::npos;

    for (const auto& b : blobs) out.layer(short_digest(b.digest), "Preparing");
    for (const auto& b : blobs) {
        std::string id = short_digest(b.digest);
        CTL_ASSIGN_OR_RETURN(bool exists, registry_.blob_exists(ref, b.digest, auth));
        if (exists) {
            out.layer(id, "Layer already exists");
            continue;
        }
        std::optional<std::string> mount_from;
        auto sources = store_.query("SELECT repository FROM blob_sources WHERE digest = ? AND registry = ? AND repository != ?",
                                    {b.digest, ref.domain, ref.path});
        if (sources && !sources->empty()) mount_from = as_string((*sources)[0][0]);
        out.bar(id, "Pushing", 0, b.size);
        Status st = registry_.push_blob(ref, b.digest, b.size, content_.path(b.digest), mount_from, auth,
                                        [&](int64_t current, int64_t total) {
                                            if (!out.bar(id, "Pushing", current, total)) cancel = true;
                                        },
                                        &cancel);
        if (!st) return with_context(st.error(), "pushing layer " + id);
        out.layer(id, mount_from ? "Mounted from " + *mount_from : "Pushed");
    }
    CTL_ASSIGN_OR_RETURN(bool config_exists, registry_.blob_exists(ref, image->id, auth));
    if (!config_exists) {
        CTL_TRY(registry_.push_blob(ref, image->id, static_cast<int64_t>(image->config_raw.size()), content_.path(image->id),
                                    std::nullopt, auth, {}));
    }
    Json manifest = {{"schemaVersion", 2},
                     {"mediaType", oci ? registry::kOciManifest : registry::kDockerManifest},
                     {"config",
                      {{"mediaType", oci ? registry::kOciConfig : registry::kDockerConfig},
                       {"size", static_cast<int64_t>(image->config_raw.size())},
                       {"digest", image->id}}}};
    Json layer_list = Json::array();
    for (const auto& b : blobs) {
        layer_list.push_back({{"mediaType", oci ? b.media_type : docker_layer_type(b.media_type)},
                              {"size", b.size},
                              {"digest", b.digest}});
    }
    manifest["layers"] = layer_list;
    std::string bytes = manifest.dump(3);
    CTL_ASSIGN_OR_RETURN(auto digest, registry_.put_manifest(ref, ref.tag, manifest["mediaType"].get<std::string>(), bytes, auth));
    CTL_TRY(store_.execute("INSERT INTO image_digests(name, image_id, media_type) VALUES(?, ?, ?) "
                           "ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
                           {ref.familiar_name() + "@" + digest, image->id, manifest["mediaType"].get<std::string>()}));
    out.send({{"status", ref.tag + ": digest: " + digest + " size: " + std::to_string(bytes.size())}});
    out.send({{"progressDetail", Json::object()},
              {"aux", {{"Tag", ref.tag}, {"Digest", digest}, {"Size", static_cast<int64_t>(bytes.size())}}}});
    events::Event e{"image", "push", tagged, {{"name", ref.familiar_name()}}};
    bus_.publish(std::move(e));
    return ok();
}

Result<Json> ImageService::list_images(const Filters& filters) {
    CTL_ASSIGN_OR_RETURN(auto images, list(filters));
    Json out = Json::array();
    for (auto& img : images) out.push_back(summary_json(img));
    return out;
}

Result<Json> ImageService::inspect_image(const std::string& name) {
    CTL_ASSIGN_OR_RETURN(auto image, resolve(name));
    return inspect_json(image);
}

Status ImageService::load_images(api::ReadFn body, bool quiet, const api::ProgressFn& progress) {
    return load(std::move(body), [&](const Json& message) {
        if (quiet && !message.contains("stream")) return true;
        return progress(message);
    });
}

Result<Json> ImageService::login(const Json& auth_config) {
    registry::AuthConfig auth;
    auth.username = string_or(auth_config, "username");
    auth.password = string_or(auth_config, "password");
    auth.auth = string_or(auth_config, "auth");
    auth.identity_token = string_or(auth_config, "identitytoken");
    auth.registry_token = string_or(auth_config, "registrytoken");
    auth.server_address = string_or(auth_config, "serveraddress");
    std::string host = auth.server_address;
    for (const char* prefix : {"https://", "http://"}) {
        if (starts_with(host, prefix)) host = host.substr(std::string(prefix).size());
    }
    if (auto slash = host.find('/'); slash != std::string::npos) host = host.substr(0, slash);
    if (host.empty() || host == "index.docker.io" || host == "docker.io") host = "registry-1.docker.io";
    auto st = registry_.ping(host, auth);
    if (!st) {
        Error e = st.error();
        if (e.code == Errc::Unauthorized || e.code == Errc::Forbidden) {
            e.message = "login attempt to " + host + "/v2/ failed: " + e.message;
        }
        return e;
    }
    return Json{{"Status", "Login Succeeded"}, {"IdentityToken", ""}};
}

}  // namespace ctl::image
