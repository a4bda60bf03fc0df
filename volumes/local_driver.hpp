// The `local` volume driver, as Docker's: each volume is <root>/<name>/_data (root is
// <data-root>/volumes). Without options the data is that directory. With Docker's mount options
// the directory is a mount point, mounted on first use:
//
//   type=tmpfs,device=tmpfs,o=size=10m      a tmpfs (its data ends with the last user)
//   type=none,o=bind,device=/host/dir       a bind mount of a host directory
//   type=ext4,device=/dev/sdb1[,o=...]      any file system mount(2) accepts
//
// `o` is a mount(8)-style list: flag words (ro, nosuid, bind, rbind, private, ...) become mount
// flags, everything else is passed to the file system as data.
//
// Crash safety: create() builds <root>/.tmp-<random> and renames it into place; remove() renames
// the volume to <root>/.rm-<random> before deleting it. Names starting with "." are never volume
// names, so sweep() can tell leftovers apart.
#pragma once

#include <string>
#include <string_view>

#include "volumes/volume_driver.hpp"

namespace ctl::volumes {

// `o` split into mount(2) arguments, as moby/sys/mount does it.
struct MountOptions {
    unsigned long flags = 0;        // MS_* applied when mounting (MS_BIND, MS_RDONLY, ...)
    unsigned long propagation = 0;  // MS_PRIVATE/MS_SHARED/... (+MS_REC), applied by a second call
    std::string data;               // the words that are not flags, comma-joined
};
MountOptions parse_mount_options(std::string_view o);

class LocalDriver : public VolumeDriver {
public:
    explicit LocalDriver(std::string root) : root_(std::move(root)) {}

    std::string name() const override { return "local"; }
    // Creates the root directory (0701, as Docker's: others may reach volumes but not list them).
    Status init() override;
    Status validate(const Options& opts) const override;
    Status create(const std::string& name, const Options& opts) override;
    Status remove(const std::string& name) override;
    bool exists(const std::string& name) const override;
    Result<std::vector<std::string>> list() override;
    std::string path(const std::string& name) const override { return root_ + "/" + name + "/_data"; }
    bool needs_mount(const Options& opts) const override;
    Status mount(const std::string& name, const Options& opts) override;
    Status unmount(const std::string& name) override;
    bool mounted(const std::string& name) const override;
    int64_t usage(const std::string& name, const Options& opts) override;
    void sweep(const std::set<std::string>& known) override;

    const std::string& root() const { return root_; }

private:
    // Detaches every mount stacked at `dir` (lazily, as Docker's Unmount).
    Status unmount_path(const std::string& dir) const;
    Status delete_entry(const std::string& entry);

    std::string root_;
};

}  // namespace ctl::volumes
