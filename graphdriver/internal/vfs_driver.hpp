// vfs: every layer is a full copy of its parent plus its own changes; no kernel mounts, works on
// any file system (and inside containers). Slow and big, like Docker's vfs, but always available.
//
// <home>/dir/<id>            the layer's complete root file system (what mount() returns)
// <home>/meta/<id>/parent    parent id; /rw marks a container layer; /applied an applied diff
// <home>/tmp-*, meta/tmp-*   staging; swept at start, with meta entries whose dir never appeared
//
// Order: meta is written before the layer dir is renamed into place and removed after it is
// renamed away, so a layer dir always has its meta; an orphan meta entry is harmless and swept.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "graphdriver/graph_driver.hpp"

namespace ctl::graph::internal {

class VfsDriver final : public GraphDriver {
public:
    static Result<std::unique_ptr<GraphDriver>> open(const std::string& home);
    ~VfsDriver() override = default;

    std::string name() const override { return "vfs"; }
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
    explicit VfsDriver(std::string home) : home_(std::move(home)) {}
    Status init();
    std::string root_of(const std::string& id) const { return home_ + "/dir/" + id; }
    std::string meta_of(const std::string& id) const { return home_ + "/meta/" + id; }
    bool exists_locked(const std::string& id) const;
    // The parent's root ("" when the layer has none).
    Result<std::string> parent_root(const std::string& id) const;
    std::string reserve_temp();  // with mu_ held
    void release_temp(const std::string& name);

    std::string home_;
    mutable std::mutex mu_;
    std::map<std::string, int> mounts_;
    std::set<std::string> busy_;
    std::set<std::string> temps_;
};

}  // namespace ctl::graph::internal
