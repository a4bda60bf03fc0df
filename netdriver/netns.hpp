// Named network namespaces: a fresh namespace kept alive by a bind mount of its nsfs file, so
// the engine can configure it before the container's process exists and the runtime joins it by
// path (linux.namespaces[].path), as libnetwork does.
#pragma once

#include <string>

#include "engine/base/result.hpp"
#include "engine/base/sys.hpp"

namespace ctl::net {

// Creates a new network namespace pinned at `path` (its parent directory must exist).
Status create_netns(const std::string& path);
// Unpins it; the namespace (and the veth end inside it) goes once no process uses it.
// Missing is fine.
Status remove_netns(const std::string& path);
Result<sys::UniqueFd> open_netns(const std::string& path);

}  // namespace ctl::net
