// overlay2: layers stacked by the kernel's overlayfs.
//
// <home>/<id>/diff     the layer's own files (an image layer's content, a container's upper dir)
//            /work     overlay's work dir (rw layers)
//            /merged   mount point of the stacked view
//            /link     short name of this layer's l/ symlink
//            /lower    "l/A:l/B:..." — the parents' short links, nearest first
//            /parent   parent id ("" = none); /rw marks a container layer; /applied an applied diff
// <home>/l/<link> -> ../<id>/diff
// <home>/tmp-*     staging of create / apply_diff / remove; swept at start
//
// The short links keep the mount options under the one-page limit of mount(2) for long chains
// (~130 layers instead of ~40 with absolute paths). The paths in the options are relative to
// <home>; instead of chdir() in the daemon (the cwd is process-wide) the mount runs on a short-lived
// thread that first unshares its fs context (unshare(CLONE_FS)), so its chdir affects no one else.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "graphdriver/graph_driver.hpp"

namespace ctl::graph::internal {

class OverlayDriver final : public GraphDriver {
public:
    // Creates <home>, makes it a private mount (bind-mounting it onto itself if needed) so layer
    // mounts don't propagate to other mount namespaces, and sweeps crash leftovers.
    static Result<std::unique_ptr<GraphDriver>> open(const std::string& home);
    ~OverlayDriver() override;

    std::string name() const override { return "overlay2"; }
    Status create(const std::string& id, const std::string& parent, bool rw) override;
    Result<ApplyStats> apply_diff(const std::string& id, ReadFn read) override;
    Result<std::string> mount(const std::string& id) override;
    Status unmount(const std::string& id) override;
    Status remove(const std::string& id) override;
    bool exists(const std::string& id) const override;
    Status diff(const std::string& id, const Sink& sink) override;
    Result<std::vector<Change>> changes(const std::string& id) override;
    Result<int64_t> size(const std::string& id) override;
    Result<std::string> parent(const std::string& id) const override;
    Result<std::vector<std::string>> list() override;
    Status cleanup(const std::vector<std::string>& keep_mounted = {}) override;

private:
    explicit OverlayDriver(std::string home) : home_(std::move(home)) {}
    Status init();
    std::string layer_dir(const std::string& id) const { return home_ + "/" + id; }
    bool exists_locked(const std::string& id) const;
    Result<std::string> read_meta(const std::string& id, const char* file) const;
    // Absolute diff dirs of the parents, nearest first.
    Result<std::vector<std::string>> lower_dirs(const std::string& id) const;
    std::string reserve_temp();  // with mu_ held
    void release_temp(const std::string& name);

    std::string home_;
    mutable std::mutex mu_;
    std::map<std::string, int> mounts_;  // id -> references
    std::set<std::string> busy_;         // ids being created or applied
    std::set<std::string> temps_;        // tmp-* dirs in use
    bool home_bound_ = false;            // we bind-mounted home_ onto itself
    bool cleaned_ = false;
};

// See graph_driver.hpp.
bool probe_overlay(const std::string& root);

}  // namespace ctl::graph::internal
