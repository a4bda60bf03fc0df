// Private pieces of the spec builder, one file per concern: capabilities (caps.cpp), the
// seccomp table (seccomp_profile.cpp), mounts (mounts.cpp), cgroup resources, devices and
// rlimits (resources.cpp). oci_spec.cpp composes them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/json.hpp"
#include "engine/base/result.hpp"
#include "engine/container/spec/oci_spec.hpp"

namespace ctl::container::spec::internal {

// Every capability a container can get: those the kernel knows (up to cap_last_cap) that are in
// ctld's own bounding set.
const std::vector<std::string>& all_capabilities();
// Docker's default set (14 capabilities; fewer if ctld lacks some).
const std::vector<std::string>& default_capabilities();
// "CAP_CHOWN" for 0, ...; "" for numbers past the known ones.
std::string capability_name(int cap);
// Whether ctld itself holds `cap` (a number from linux/capability.h) in its effective set.
bool own_effective_capability(int cap);

// The kernel release as a comparable number: 6.1.55 -> 6001055 (0 when unknown).
uint64_t kernel_version();
// "4.8" -> 4008000.
uint64_t parse_kernel_version(std::string_view text);

// Decisions the mounts depend on, taken by oci_spec.cpp from the request.
struct MountPlan {
    bool privileged = false;
    bool readonly_rootfs = false;
    bool host_network = false;  // /sys is a bind of the host's (a sysfs mount needs its own netns)
    bool host_ipc = false;      // /dev/shm is the host's
    int64_t shm_size = 64 << 20;
    std::string init_path;  // bind-mounted at /sbin/docker-init when the container runs an init
};
// The "mounts" array: Docker's defaults, the generated /etc files, then the user mounts, minus
// defaults a user mount replaces, with parents before children.
Result<Json> build_mounts(const SpecInputs& in, const MountPlan& plan);

// linux.resources from HostConfig: memory, cpu, cpuset, pids, blkio weight, device rules.
// `privileged` allows every device.
Result<Json> build_resources(const Json& host_config, bool privileged);
// linux.devices: the host's devices for privileged containers plus HostConfig.Devices; their
// cgroup rules are appended to resources["devices"].
Result<Json> build_devices(const Json& host_config, bool privileged, Json& resources);
// process.rlimits: HostConfig.Ulimits over the default RLIMIT_NOFILE.
Result<Json> build_rlimits(const Json& host_config, uint64_t nofile_hard_limit);

// The host's device nodes under /dev (what --privileged exposes), as OCI linux.devices entries.
Json host_devices();

// Reads a regular file of the rootfs, resolving the path inside it (openat2 RESOLVE_IN_ROOT):
// absolute symlinks and ".." stay in the rootfs. NotFound when absent; FIFOs, devices and files
// over 16 MiB are refused so a hostile image cannot hang or exhaust the daemon.
Result<std::string> read_file_in_root(const std::string& rootfs, const std::string& path);

}  // namespace ctl::container::spec::internal
