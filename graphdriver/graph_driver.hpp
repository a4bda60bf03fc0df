// Layer storage: the GraphDriver interface and its factory. The shape follows containerd's
// snapshotter and moby's graphdriver: image layers are created read-only on top of a parent and
// filled once with apply_diff; container layers are created rw on top of the image's top layer.
//
// Ids are opaque strings chosen by the caller ([A-Za-z0-9][A-Za-z0-9_.-]{0,127}; "l" and "tmp-*"
// are reserved). The driver keeps only the parent relation on disk; reference counting between
// images and layers, and which ids are in use, belong to the caller (the engine's SQLite store).
//
// Crash safety: a layer becomes visible by a rename of a fully built directory; a crash during
// create or apply_diff leaves only "tmp-*" directories, which the driver removes when it starts.
// An id the caller never recorded can be found with list() and removed.
//
// All methods may block on disk I/O (apply_diff and diff for as long as the archive takes): call
// them from worker threads. They are safe to call concurrently for different ids.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/base/result.hpp"
#include "graphdriver/archive.hpp"

namespace ctl::graph {

// One line of `docker diff`: path is absolute inside the container ("/etc/passwd"); the kind
// numbers are the API's.
struct Change {
    enum Kind { Modified = 0, Added = 1, Deleted = 2 };
    std::string path;
    Kind kind = Modified;
    bool operator==(const Change&) const = default;
};

class GraphDriver {
public:
    virtual ~GraphDriver() = default;

    // "overlay2" or "vfs", as `docker info` shows it.
    virtual std::string name() const = 0;

    // Creates layer `id` on top of `parent` ("" = none). Read-only layers are then filled with
    // apply_diff; rw layers are container layers (written through the mount).
    // Errors: InvalidArgument (bad id), AlreadyExists, NotFound (parent).
    virtual Status create(const std::string& id, const std::string& parent, bool rw) = 0;

    // Extracts a (possibly compressed) layer tar into layer `id`, which must be created and not yet
    // applied or mounted. All or nothing: on any error the layer is removed (exists() is false),
    // so a half-applied layer can never be used. Returns the diffID and size (see apply_tar).
    // Errors: NotFound, Conflict (mounted, applied or busy), and apply_tar's kinds.
    virtual Result<ApplyStats> apply_diff(const std::string& id, ReadFn read) = 0;

    // Makes the layer's full file system (parents included) available and returns its path.
    // Reference counted per id: each mount needs one unmount. Read-only layers give a read-only
    // view. Errors: NotFound, Conflict (being applied), mount failures.
    virtual Result<std::string> mount(const std::string& id) = 0;
    // Drops one reference; the last one unmounts. Unmounting an unmounted layer is a no-op.
    virtual Status unmount(const std::string& id) = 0;

    // Removes the layer (unmounting it if needed). A missing id is not an error. The caller makes
    // sure no child layer still needs it. Errors: Conflict (being applied).
    virtual Status remove(const std::string& id) = 0;
    virtual bool exists(const std::string& id) const = 0;

    // Writes a tar of what the layer changes relative to its parent, with OCI whiteouts (".wh.")
    // for deletions: the layer blob for commit/push/save. Uncompressed.
    virtual Status diff(const std::string& id, const Sink& sink) = 0;
    // The changes of the layer relative to its parent, sorted by path (`docker diff`).
    virtual Result<std::vector<Change>> changes(const std::string& id) = 0;
    // Bytes the layer adds on top of its parent (`docker ps -s`).
    virtual Result<int64_t> size(const std::string& id) = 0;
    // The parent id recorded at create ("" = none).
    virtual Result<std::string> parent(const std::string& id) const = 0;
    // Every layer id on disk, for orphan cleanup against the caller's records.
    virtual Result<std::vector<std::string>> list() = 0;

    // Daemon shutdown: unmounts everything except the layers in keep_mounted and removes temp
    // leftovers. Running containers' layers stay mounted (live restore): a later mount() of such
    // a layer adopts the existing mount instead of mounting the same upper dir twice, which
    // would reset overlayfs's work dir under the running container.
    virtual Status cleanup(const std::vector<std::string>& keep_mounted = {}) = 0;
};

// "overlay" / "overlay2" (kernel overlayfs, the default) or "vfs" (full copies), storing under
// `root` (`<root>/overlay2` or `<root>/vfs`). Creating the driver removes leftovers of a crash.
// Errors: InvalidArgument (unknown name), file-system errors.
Result<std::unique_ptr<GraphDriver>> make_graph_driver(const std::string& name, const std::string& root);

// Whether overlayfs works under `root` (mounts a tiny overlay in a temp dir there, deletes a
// file through it and checks the whiteout), so the daemon can fall back to vfs.
bool overlay_supported(const std::string& root);

}  // namespace ctl::graph
