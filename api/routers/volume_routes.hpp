// /volumes/*.
#pragma once

#include <map>
#include <string>

#include "api/router.hpp"

namespace ctl::api {

// POST /volumes/create, decoded (Go-style: keys case-insensitive, null = absent).
struct VolumeCreateRequest {
    std::string name;    // empty: a random 64-hex name
    std::string driver;  // empty: "local"
    std::map<std::string, std::string> driver_opts;
    std::map<std::string, std::string> labels;
};

// What the volume routes need from the engine. Everything may block. Volume objects are Docker's
// JSON: Name, Driver, Mountpoint, CreatedAt, Labels, Scope, Options.
class VolumeBackend {
public:
    virtual ~VolumeBackend() = default;
    // The new volume, or the existing one of that name (idempotent). NotFound for unknown drivers.
    virtual Result<Json> create_volume(const VolumeCreateRequest& request) = 0;
    // {"Volumes": [...], "Warnings": []}; filters name, label, dangling, driver.
    virtual Result<Json> list_volumes(const Filters& filters) = 0;
    virtual Result<Json> inspect_volume(const std::string& name) = 0;  // NotFound "get x: no such volume"
    // Conflict "remove x: volume is in use - [ids]"; `force` only ignores a missing volume.
    virtual Status remove_volume(const std::string& name, bool force) = 0;
    // {"VolumesDeleted": [...], "SpaceReclaimed": n}; filters label, label!.
    virtual Result<Json> prune_volumes(const Filters& filters) = 0;
};

void register_volume_routes(Router& router, VolumeBackend& backend);

// The request body of POST /volumes/create; InvalidArgument for wrong types.
Result<VolumeCreateRequest> parse_volume_create(const Json& body);

}  // namespace ctl::api
