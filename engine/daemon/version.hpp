#pragma once

namespace ctl::daemon {
// The engine's own version, and the Docker release whose API it implements: clients such as
// Ansible compare the reported Version with Docker releases, so it leads with that number.
inline constexpr const char* kVersion = CTL_VERSION;
inline constexpr const char* kCompatVersion = "20.10.0-ctld." CTL_VERSION;
inline constexpr const char* kGitCommit = CTL_GIT_COMMIT;
inline constexpr const char* kBuildTime = CTL_BUILD_TIME;
}  // namespace ctl::daemon
