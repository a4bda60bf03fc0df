// Volume drivers: where a volume's data lives and how it becomes available at a host path.
//
// A driver knows nothing about containers or references: VolumeService (volume_service.hpp) keeps
// those in the store and calls mount() when a volume gets its first user and unmount() when the
// last one leaves. Every method may block (file system, mount(2)): call them from worker threads.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/base/result.hpp"

namespace ctl::volumes {

// Driver options as given at create (`docker volume create -o k=v`, DriverOpts).
using Options = std::map<std::string, std::string>;

// Docker's rule for volume names (and so for the directory a local volume lives in):
// [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most 255 bytes.
bool valid_volume_name(const std::string& name);
// InvalidArgument with Docker's wording ("volume name is too short, ...", "... includes invalid
// characters for a local volume name ...") when `name` is not valid_volume_name.
Status validate_volume_name(const std::string& name);

class VolumeDriver {
public:
    virtual ~VolumeDriver() = default;

    virtual std::string name() const = 0;  // "local"
    // Prepares the driver's storage (directories); called once by VolumeService::init().
    virtual Status init() = 0;

    // Checks create options without touching anything: InvalidArgument naming the bad option.
    virtual Status validate(const Options& opts) const = 0;

    // Makes the volume's storage, all or nothing: a crash leaves at most a staging entry that
    // sweep() removes. AlreadyExists when `name` is already on disk.
    virtual Status create(const std::string& name, const Options& opts) = 0;
    // Unmounts what is mounted at the volume's path and deletes its data. Missing is fine. Never
    // descends into a mount (a bind-mounted host directory is detached, never emptied).
    virtual Status remove(const std::string& name) = 0;
    virtual bool exists(const std::string& name) const = 0;
    // Names on disk, for checks against the store.
    virtual Result<std::vector<std::string>> list() = 0;

    // The host path a container binds: the volume's data, or where it is mounted.
    virtual std::string path(const std::string& name) const = 0;

    // Whether the data is only reachable after mount() (tmpfs, bind or device volumes).
    virtual bool needs_mount(const Options& opts) const = 0;
    // Both idempotent: mounting a mounted volume or unmounting an unmounted one does nothing.
    virtual Status mount(const std::string& name, const Options& opts) = 0;
    virtual Status unmount(const std::string& name) = 0;
    virtual bool mounted(const std::string& name) const = 0;

    // Bytes the volume uses on disk; -1 when not known (volumes backed by a mount).
    virtual int64_t usage(const std::string& name, const Options& opts) = 0;

    // After a crash: removes staging leftovers and every volume on disk whose name is not in
    // `known` (unmounting it first). Problems are logged, not returned: startup goes on.
    virtual void sweep(const std::set<std::string>& known) = 0;
};

}  // namespace ctl::volumes
