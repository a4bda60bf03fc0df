// Named and anonymous volumes: records and per-container references in the store, data through a
// VolumeDriver (only `local` today), and the operations behind /volumes/*. The container module
// uses acquire / release / copy_up / remove_anonymous_of when it creates, starts and removes
// containers.
//
// References are rows of volume_refs (volume, container_id), so they survive a restart or a
// SIGKILL of ctld, and each container is released separately. A volume is "in use" (remove says
// 409, prune skips it, `dangling=false`) while any reference exists. Mount-backed volumes (tmpfs,
// bind, devices) are mounted by the first acquire and unmounted when the last reference goes.
//
// Crash safety: a volume's directory is renamed into place inside the store transaction that
// records it, and its record is deleted before its data; init() removes whatever a crash left in
// between, unmounts volumes nobody references any more and rolls back a half-done copy-up.
//
// All methods may block (store, file system, mount(2)): call them from worker threads. They are
// thread-safe; operations on one volume are serialised.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "api/routers/volume_routes.hpp"
#include "engine/base/json.hpp"
#include "engine/base/query.hpp"
#include "engine/base/result.hpp"
#include "engine/events/event_bus.hpp"
#include "engine/store/store.hpp"
#include "volumes/volume_driver.hpp"

namespace ctl::volumes {

// Label Docker 23+ puts on the anonymous volumes of containers (we do the same from acquire("")).
inline constexpr const char* kAnonymousLabel = "com.docker.volume.anonymous";

struct VolumeRecord {
    std::string name;
    std::string driver;
    Options options;                            // DriverOpts as given
    std::map<std::string, std::string> labels;
    int64_t created_at = 0;                     // unix nanoseconds
    bool anonymous = false;                     // made by acquire("") for a container
    std::string mountpoint;                     // host path of the data
    std::vector<std::string> users;             // container IDs holding a reference, sorted
};

struct CreateOptions {
    std::string name{};    // empty: a random 64-hex name
    std::string driver{};  // empty: "local"
    Options driver_opts{};
    std::map<std::string, std::string> labels{};
};

class VolumeService : public api::VolumeBackend {
public:
    // Uses a LocalDriver rooted at `root` (<data-root>/volumes).
    VolumeService(store::Store& store, events::EventBus& bus, std::string root);
    // With a given driver for "local" (tests).
    VolumeService(store::Store& store, events::EventBus& bus, std::unique_ptr<VolumeDriver> local);
    ~VolumeService() override;

    // Startup repair (see the file comment). Fails only when the volumes root is unusable.
    Status init();

    // --- volumes ---------------------------------------------------------------------------------
    // Idempotent: an existing volume of that name (same driver) is returned unchanged.
    // Errors: InvalidArgument (name, options), NotFound (unknown driver: `plugin "x" not found`).
    Result<VolumeRecord> create(const CreateOptions& options);
    Result<VolumeRecord> get(const std::string& name);  // NotFound "get NAME: no such volume"
    // Sorted by name. Filters: name (regular expression, unanchored), label (k / k=v, all must
    // hold), dangling (true/1 or false/0), driver. Bad dangling values are InvalidArgument.
    Result<std::vector<VolumeRecord>> list(const Filters& filters);
    // Conflict "remove NAME: volume is in use - [ids]" while referenced (with force too: force
    // only makes a missing volume a success, as Docker).
    Status remove(const std::string& name, bool force = false);
    // Removes every unreferenced volume matching label / label! (API 1.41: named ones too).
    Result<Json> prune(const Filters& filters);
    // Docker's volume object.
    Json to_json(const VolumeRecord& volume) const;
    // -1 when unknown (mount-backed volumes are not walked).
    int64_t usage(const VolumeRecord& volume);

    // --- for the container module ----------------------------------------------------------------
    // Creates the volume if missing (anonymous, with a random 64-hex name and kAnonymousLabel,
    // when `name` is empty; `driver_opts_for_create` / `labels_for_create` apply only then),
    // records that `container_id` uses it, mounts it if its driver needs a mount, and returns the
    // host path to bind into the container. Acquiring twice for one container is one reference.
    // Errors: InvalidArgument (name, options), NotFound (driver), Internal (mount failed; the
    // reference is not kept).
    Result<std::string> acquire(const std::string& name, const std::string& container_id,
                                const Json& driver_opts_for_create = {},
                                const std::map<std::string, std::string>& labels_for_create = {});
    // Drops the reference (a missing one or a missing volume is fine); unmounts when unused.
    Status release(const std::string& name, const std::string& container_id);
    // release() of every volume `container_id` references.
    Status release_all(const std::string& container_id);
    // Copies the directory at `path_in_rootfs` inside the mounted rootfs `rootfs` into the volume
    // when the volume is empty and was never populated (Docker's copy-up): ownership, modes,
    // xattrs, times, hard links and symlinks are kept; the path is resolved inside the rootfs
    // (symlinks cannot lead out of it) and symlinks below it are copied, never followed. A missing
    // source copies nothing. The volume must be acquired (mounted) first. Callers skip it for
    // `nocopy`. A crash mid-copy is rolled back by the next copy_up or init().
    Status copy_up(const std::string& name, const std::string& rootfs, const std::string& path_in_rootfs);
    // For `rm -v`: releases `container_id`'s references to anonymous volumes and removes those
    // nobody else uses (a volume still used by another container is kept, not an error). Call it
    // before release_all(): it finds the volumes through the container's references.
    Status remove_anonymous_of(const std::string& container_id);
    // Names of the volumes `container_id` references.
    Result<std::vector<std::string>> volumes_of(const std::string& container_id);
    // Drops references of containers not in `live` (containers removed while ctld was down).
    Status drop_refs_except(const std::set<std::string>& live);

    // The "Volumes" section of /system/df (each with UsageData {Size, RefCount}).
    void contribute_df(Json& df);

    // --- api::VolumeBackend ---------------------------------------------------------------------
    Result<Json> create_volume(const api::VolumeCreateRequest& request) override;
    Result<Json> list_volumes(const Filters& filters) override;
    Result<Json> inspect_volume(const std::string& name) override;
    Status remove_volume(const std::string& name, bool force) override { return remove(name, force); }
    Result<Json> prune_volumes(const Filters& filters) override { return prune(filters); }

private:
    class NameLock;

    Result<VolumeDriver*> driver_for(const std::string& name);
    Result<VolumeRecord> load(const std::string& name);  // NotFound "get NAME: no such volume"
    Result<std::vector<VolumeRecord>> load_all();
    // With the name lock held: the existing volume, or a new one (`created` says which).
    Result<VolumeRecord> create_locked(const CreateOptions& options, bool anonymous, bool* created);
    Status remove_locked(const VolumeRecord& volume);
    Status release_locked(const std::string& name, const std::string& container_id);
    void emit(const std::string& action, const std::string& name, std::map<std::string, std::string> attrs = {});

    store::Store& store_;
    events::EventBus& bus_;
    std::unique_ptr<VolumeDriver> local_;
    std::mutex locks_mutex_;
    std::map<std::string, std::pair<std::shared_ptr<std::mutex>, int>> locks_;  // per volume name
};

// Go's time.RFC3339 in local time ("2026-11-22T10:00:00+01:00", "...Z" at offset 0), as Docker
// prints a volume's CreatedAt.
std::string rfc3339_local(int64_t unix_nanos);

}  // namespace ctl::volumes
