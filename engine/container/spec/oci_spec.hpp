// The OCI bundle's config.json (runtime-spec 1.0.2, as runc 1.1 and crun 1.8 accept it) built
// from Docker's create request and the image config, the way dockerd's daemon/oci_linux.go does:
// namespaces, the usual mounts, Docker's capabilities, masked paths, seccomp allowlist, rlimits,
// cgroup resources, user and process. Pure except for reading the rootfs's /etc/passwd and
// /etc/group (always inside the rootfs) and, for --privileged and --device, the host's /dev.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/json.hpp"
#include "engine/base/result.hpp"

namespace ctl::container::spec {

// A volume, bind or tmpfs mount already resolved by the volume module (OCI mount fields).
struct MountSpec {
    std::string destination, type, source;
    std::vector<std::string> options;
};

struct SpecInputs {
    Json image_config;  // the image config's "config" object (Env, Cmd, Entrypoint, ...); may be empty
    Json config;        // the create body's Config fields (Env, Cmd, Entrypoint, User, Hostname, Tty, ...)
    Json host_config;   // HostConfig (resources, Ulimits, CapAdd/CapDrop, Privileged, SecurityOpt, ...)
    std::string rootfs;  // absolute path of the mounted root file system
    // Files the engine generated, bind-mounted over the image's; empty = not mounted.
    std::string hostname_path, hosts_path, resolv_conf_path;
    // Namespaces: "" = a new one, "host" = the host's, anything else = the path of one to join.
    std::string netns, ipc_ns, pid_ns;
    std::vector<MountSpec> mounts;  // user mounts; sorted here so parents precede children
    std::string cgroups_path;       // e.g. "/ctld/<id>" (cgroupfs driver); "" lets the runtime choose
    // The daemon's own RLIMIT_NOFILE hard limit: the runtime cannot give a container more, so the
    // default is min(1048576, this) and a larger requested hard limit is refused.
    uint64_t nofile_hard_limit = 1048576;
    // Host path of a static init (docker-init/tini) bind-mounted as /sbin/docker-init for HostConfig.Init.
    std::string init_path;
    // Whether /sys/fs/cgroup is cgroup v2 only (then containers get a cgroup namespace by default,
    // as Docker does). Unset: probed from the host.
    std::optional<bool> cgroup_v2_only;
};

// config.json for the container. InvalidArgument with Docker's message (where it has one) for bad
// input: unknown capability, unknown user or group, bad ulimit, unsupported security option, ...
Result<Json> build_spec(const SpecInputs& in);

// The OCI process for `runc exec --process` from a Docker exec create body (Cmd, Env, User,
// WorkingDir, Tty, Privileged, ConsoleSize): the container's process settings (capabilities,
// rlimits, no-new-privileges) with the exec's command, env, user and working directory.
Result<Json> build_exec_process(const SpecInputs& container, const Json& exec_config);

struct ResolvedUser {
    uint32_t uid = 0, gid = 0;
    std::vector<uint32_t> additional_gids;  // supplementary groups from /etc/group (not the primary)
    std::string home = "/";
};

// Docker's user forms: "" (root), "name", "uid", "uid:gid", "name:group", "uid:group", "name:gid".
// Names are looked up in the rootfs's /etc/passwd and /etc/group, opened with RESOLVE_IN_ROOT so a
// symlink cannot lead out of the rootfs. A numeric uid without an entry runs with gid 0.
Result<ResolvedUser> resolve_user(const std::string& rootfs, const std::string& user);

// HostConfig.GroupAdd: group names (from the rootfs's /etc/group) or numeric gids.
// InvalidArgument "Unable to find group NAME" for an unknown name.
Result<std::vector<uint32_t>> resolve_groups(const std::string& rootfs, const std::vector<std::string>& groups);

// The argv Docker runs: request Entrypoint replaces the image's and then drops the image's Cmd
// unless the request gives one; Entrypoint [""] resets it; nothing left -> "No command specified".
Result<std::vector<std::string>> command_args(const Json& image_config, const Json& config);

// Environment overrides on top of `base`, key by key: a "KEY=value" replaces or appends, a bare
// "KEY" removes it (Docker's ReplaceOrAppendEnvValues). The order of first appearance is kept.
std::vector<std::string> merge_env(std::vector<std::string> base, const std::vector<std::string>& overrides);

// Docker's capability set after CapAdd/CapDrop (names with or without CAP_, any case, "ALL"),
// all of them when privileged. InvalidArgument `unknown capability: "CAP_X"`.
Result<std::vector<std::string>> effective_capabilities(const std::vector<std::string>& add,
                                                        const std::vector<std::string>& drop, bool privileged);

// The default seccomp filter (Docker's allowlist) for a container whose bounding set is `caps`.
Json default_seccomp_profile(const std::vector<std::string>& caps);

// A Docker-format seccomp profile (what `--security-opt seccomp=FILE` sends: names/archMap/
// includes/excludes) turned into the OCI form for this host's architecture and `caps`.
Result<Json> seccomp_from_docker_profile(const Json& profile, const std::vector<std::string>& caps);

}  // namespace ctl::container::spec
