// Docker's container mounts from a create request: HostConfig.Binds ("name:/dst:ro",
// "/host:/dst:rw"), HostConfig.Mounts (type volume|bind|tmpfs), HostConfig.Tmpfs and the
// anonymous volumes of Config.Volumes not already covered. Pure: resolving names to volumes and
// host paths happens in the container service.
#pragma once

#include <string>
#include <vector>

#include "engine/base/json.hpp"
#include "engine/base/result.hpp"

namespace ctl::container::internal {

struct MountRequest {
    std::string type;         // "volume", "bind", "tmpfs"
    std::string source;       // volume name ("" = anonymous) or absolute host path
    std::string destination;  // absolute, cleaned
    bool read_only = false;
    std::string mode;         // as given in a bind spec ("ro", "z", ...), for inspect
    std::string propagation;  // binds: rprivate unless given
    bool no_copy = false;
    bool create_host_dir = false;  // -v /host:/dst creates a missing host dir; --mount does not
    Json volume_driver_opts = Json::object();
    std::vector<std::string> tmpfs_options;  // "size=65536k", "mode=1777"
};

// All mounts of a container, in Docker's order (binds, mounts, tmpfs, then image/request
// volumes not covered). InvalidArgument with Docker's wording for bad specs, relative or
// traversing paths, duplicate destinations and destinations that would shadow /proc or /sys.
Result<std::vector<MountRequest>> parse_mounts(const Json& host_config, const Json& config);

// "/a/b/../c/" -> "/a/c"; empty when it is not absolute.
std::string clean_path(const std::string& path);

}  // namespace ctl::container::internal
