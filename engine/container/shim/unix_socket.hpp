// Unix stream sockets for ctl-shim and its clients (ctld, tests). Paths longer than sun_path
// (108 bytes, easy to reach under <exec-root>/execs/<64-hex-id>/) are reached through
// /proc/self/fd/<fd of the directory>/<name>, which bind(2) and connect(2) resolve like any path.
#pragma once

#include <string>

#include "engine/base/result.hpp"
#include "engine/base/sys.hpp"

namespace ctl::container::shim {

// Replaces any old socket file at path, binds, chmods to `mode` and listens. CLOEXEC, non-blocking.
Result<sys::UniqueFd> listen_unix(const std::string& path, int mode = 0600);
// A blocking, CLOEXEC connection to the socket at path.
Result<sys::UniqueFd> connect_unix(const std::string& path);
// Receives one fd passed with SCM_RIGHTS (the runtime's --console-socket hands over the pty
// master this way). The fd comes back CLOEXEC.
Result<sys::UniqueFd> recv_fd(int sock);

}  // namespace ctl::container::shim
