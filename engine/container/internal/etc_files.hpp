// The files ctld generates and bind-mounts into a container: /etc/hostname, /etc/hosts and
// /etc/resolv.conf, as Docker writes them.
#pragma once

#include <string>

#include "engine/base/result.hpp"
#include "engine/container/container.hpp"

namespace ctl::container::internal {

// host_network: the container shares the host's network (copy the host's resolv.conf as is).
// host_gateway: the address `--add-host NAME:host-gateway` stands for (the default bridge's
// gateway); empty: 127.0.0.1, right only for the host's own network.
Status write_etc_files(const Container& c, bool host_network, const std::string& host_gateway);

// resolv.conf for a container in its own network namespace: the host's, minus loopback
// nameservers (unreachable from inside); Google's public resolvers when none is left (Docker's
// default). `dns`, `search`, `options` from the request replace the host's when given.
std::string container_resolv_conf(const std::string& host_resolv, const std::vector<std::string>& dns,
                                   const std::vector<std::string>& search, const std::vector<std::string>& options,
                                   bool host_network);

// "10m", "1g", "512k", "100" (bytes) -> bytes; InvalidArgument otherwise.
Result<int64_t> parse_size(const std::string& text);

}  // namespace ctl::container::internal
