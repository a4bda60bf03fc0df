// NAT, port publishing and isolation in nftables, in one table that belongs to this ctld
// instance and holds nothing else: every change replaces the whole table in one atomic
// transaction (libnftables), so the rules always match the engine's state and removing the table
// removes exactly what was added. Forwarding through a host whose iptables FORWARD policy is DROP
// (dockerd sets it) needs accept rules in that chain too: those are added per bridge with a
// comment naming the table, and never touch Docker's own chains.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/base/result.hpp"
#include "netdriver/ipam.hpp"

namespace ctl::net {

struct BridgeNetwork {
    std::string bridge;  // Linux bridge name
    Subnet subnet;
    bool internal = false;  // no traffic in or out of the network, only between its members
};

struct PublishedPort {
    std::string protocol = "tcp";  // "tcp" | "udp"
    uint32_t host_ip = 0;          // 0 = every host address
    int host_port = 0;
    uint32_t container_ip = 0;
    int container_port = 0;
};

// The table's full text (`table ip NAME { ... }`), for tests and debugging.
std::string render_ruleset(const std::string& table, const std::vector<BridgeNetwork>& networks,
                           const std::vector<PublishedPort>& ports);

class Firewall {
public:
    explicit Firewall(std::string table) : table_(std::move(table)) {}
    const std::string& table() const { return table_; }
    // Replaces the table with the given state (one transaction).
    Status apply(const std::vector<BridgeNetwork>& networks, const std::vector<PublishedPort>& ports);
    // Deletes the table (missing is fine).
    Status remove();
    // iptables FORWARD accept rules for traffic from and to `bridge` (idempotent; no-op without
    // an iptables binary).
    Status allow_forwarding(const std::string& bridge);
    Status drop_forwarding(const std::string& bridge);

private:
    Status run(const std::string& commands);
    std::string table_;
};

// Kernel switches a bridge network needs: IPv4 forwarding, and route_localnet on the bridge so
// 127.0.0.1:PORT can be DNATed to a container.
Status enable_forwarding();
Status enable_route_localnet(const std::string& bridge);

}  // namespace ctl::net
