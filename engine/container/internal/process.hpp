// Running ctl-shim from ctld: a blocking fork/exec with stdio on /dev/null.
#pragma once

#include <string>
#include <vector>

namespace ctl::container::internal {

// Runs argv[0] (an absolute path) with argv and waits: its exit status, -1 when it could not be
// started or was killed. keep_fd (if >= 0) is inherited by the program despite its O_CLOEXEC.
int run_and_wait(const std::vector<std::string>& argv, int keep_fd = -1);

}  // namespace ctl::container::internal
