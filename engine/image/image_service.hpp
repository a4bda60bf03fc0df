// Images: layers registered in the graph driver and the store, image records and references,
// and the operations behind /images/* — pull, push, import, load, save, tag, remove, prune.
// All methods may block (disk, network): call them from worker threads, never the io thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/routers/image_routes.hpp"
#include "engine/base/json.hpp"
#include "engine/base/query.hpp"
#include "engine/base/result.hpp"
#include "engine/events/event_bus.hpp"
#include "engine/image/content_store.hpp"
#include "engine/store/store.hpp"
#include "graphdriver/archive.hpp"
#include "graphdriver/graph_driver.hpp"
#include "registry/client.hpp"

namespace ctl::image {

struct ImageRecord {
    std::string id;          // "sha256:<hex>" (the config's digest)
    std::string config_raw;  // the config JSON exactly as stored
    Json config;             // parsed config_raw
    int64_t created = 0;     // unix seconds
    int64_t size = 0;        // sum of its layers' sizes
    std::string parent;
    std::vector<std::string> chain_ids;  // bottom to top
    std::vector<std::string> tags;       // familiar "name:tag"
    std::vector<std::string> digests;    // familiar "name@sha256:..."
};

// Receives progress messages (Docker's JSON progress format). Returns false when the client
// went away: the operation then stops at the next convenient point.
using Progress = std::function<bool(const Json&)>;

struct PullOptions {
    std::string platform;  // "os/arch[/variant]"; empty = this host
    registry::AuthConfig auth;
};

class ImageService : public api::ImageBackend {
public:
    ImageService(store::Store& store, graph::GraphDriver& driver, ContentStore& content, registry::Client& registry,
                 events::EventBus& bus);

    // Removes driver layers the store does not know (left by a crash mid-pull).
    Status init();

    // id, sha256:id, unique id prefix, name[:tag], name@digest. NotFound: "No such image: <name>".
    Result<ImageRecord> resolve(const std::string& name);
    Result<std::vector<ImageRecord>> list(const Filters& filters);
    Result<ImageRecord> get(const std::string& id);

    Json summary_json(const ImageRecord& image);
    Json inspect_json(const ImageRecord& image);
    Result<Json> history_json(const std::string& name);

    Status pull(const std::string& reference, const PullOptions& options, const Progress& progress);
    Status push(const std::string& reference, const registry::AuthConfig& auth, const Progress& progress);
    // A rootfs tar (any compression) becomes a one-layer image. Returns the image ID.
    Result<std::string> import(graph::ReadFn read, const std::string& repo_tag, const std::vector<std::string>& changes,
                               const std::string& message, const Progress& progress);
    // docker-save archives in (both the legacy and the OCI-layout flavour).
    Status load(graph::ReadFn read, const Progress& progress);
    Status save(const std::vector<std::string>& names, const std::function<Status(const char*, size_t)>& sink);

    Status tag(const std::string& source, const std::string& repo, const std::string& tag);
    // Docker's rmi: returns [{"Untagged": ...}, {"Deleted": ...}].
    Result<Json> remove(const std::string& name, bool force, bool noprune);
    Result<Json> prune(const Filters& filters);

    // api::ImageBackend: the HTTP-facing forms of the operations above.
    Result<Json> list_images(const Filters& filters) override;
    Result<Json> inspect_image(const std::string& name) override;
    Result<Json> image_history(const std::string& name) override { return history_json(name); }
    Status tag_image(const std::string& source, const std::string& repo, const std::string& tag) override {
        return this->tag(source, repo, tag);
    }
    Result<Json> remove_image(const std::string& name, bool force, bool noprune) override {
        return remove(name, force, noprune);
    }
    Result<Json> prune_images(const Filters& filters) override { return prune(filters); }
    Status pull_image(const std::string& reference, const std::string& platform, const std::string& registry_auth,
                      const api::ProgressFn& progress) override;
    Status push_image(const std::string& reference, const std::string& registry_auth,
                      const api::ProgressFn& progress) override;
    Result<std::string> import_image(api::ReadFn body, const std::string& repo_tag,
                                     const std::vector<std::string>& changes, const std::string& message,
                                     const api::ProgressFn& progress) override {
        return import(std::move(body), repo_tag, changes, message, progress);
    }
    Status load_images(api::ReadFn body, bool quiet, const api::ProgressFn& progress) override;
    Status save_images(const std::vector<std::string>& names, const api::SinkFn& sink) override {
        return save(names, sink);
    }
    Result<Json> login(const Json& auth_config) override;

    // Image and layer totals for /info and /system/df.
    void contribute_info(Json& info);
    void contribute_df(Json& df);

    // Set by the container service: IDs of containers created from an image.
    std::function<std::vector<std::string>(const std::string& image_id)> containers_using;

    // Registers one layer on top of `parent_chain` ("" for a base layer) from a tar stream.
    // When `expected_diff_id` is given and already known, nothing is read. Returns the chain ID.
    Result<std::string> register_layer(const std::string& parent_chain, graph::ReadFn read,
                                       const std::string& expected_diff_id, const std::string& blob_digest,
                                       int64_t blob_size, const std::string& media_type);
    // Stores a config and its layers as an image; the ID is the config's digest.
    Result<std::string> create_image(const std::string& config_raw, const std::vector<std::string>& chain_ids,
                                     const std::string& parent = "");
    // Points `familiar_ref` ("name:tag") at `image_id`; the previous target keeps its other refs.
    Status set_tag(const std::string& familiar_ref, const std::string& image_id);
    std::string cache_id(const std::string& chain_id);
    graph::GraphDriver& driver() { return driver_; }

    // Aborts every pull and push in progress (daemon shutdown): they fail with Cancelled and
    // leave nothing half-made. Later transfers are refused.
    void cancel_transfers();

private:
    // Registers a transfer's cancel flag for cancel_transfers(); unregisters on destruction.
    class TransferGuard;

    Result<ImageRecord> load_record(const std::string& id);
    Status delete_image(const std::string& id, Json& report);
    Status gc_layers();
    Status write_layer_tar(const std::string& chain_id, const std::function<Status(const char*, size_t)>& sink);
    void emit(const std::string& action, const std::string& id, const std::string& name);

    store::Store& store_;
    graph::GraphDriver& driver_;
    ContentStore& content_;
    registry::Client& registry_;
    events::EventBus& bus_;
    std::mutex layer_mutex_;  // registering and collecting layers never interleave
    std::mutex transfers_mutex_;
    std::vector<std::atomic<bool>*> transfers_;  // cancel flags of pulls/pushes in progress
    bool transfers_closed_ = false;
};

// "[=====>      ]  1.2MB/5.6MB" as Docker draws it.
std::string progress_bar(int64_t current, int64_t total);
// Applies `changes` lines (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR,
// STOPSIGNAL) to an image config's "config" object, as `docker import --change` does.
Status apply_changes(Json& container_config, const std::vector<std::string>& changes);

}  // namespace ctl::image
