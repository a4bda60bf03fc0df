// IPv4 address management, pure: subnets, choosing one that clashes with nothing on the host,
// and the lowest free address in a subnet. Which addresses are taken is the caller's (the store's).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "engine/base/result.hpp"

namespace ctl::net {

// Host byte order throughout.
std::string ip_to_string(uint32_t address);
Result<uint32_t> parse_ip(const std::string& text);

struct Subnet {
    uint32_t network = 0;
    int prefix = 0;

    // "172.18.0.0/16"; host bits set ("172.18.0.1/16") are an error, as in Docker.
    static Result<Subnet> parse(const std::string& cidr);
    std::string str() const;
    uint32_t mask() const { return prefix == 0 ? 0 : ~0u << (32 - prefix); }
    uint32_t broadcast() const { return network | ~mask(); }
    bool contains(uint32_t address) const { return (address & mask()) == network; }
    bool overlaps(const Subnet& other) const;
    bool operator==(const Subnet&) const = default;
};

// The lowest address in the subnet that is not its network or broadcast address and not in
// `taken` (which holds the gateway too). Unavailable when the subnet is full.
Result<uint32_t> allocate_address(const Subnet& subnet, const std::set<uint32_t>& taken);

// Docker's default address pools: 172.17.0.0/16 ... 172.31.0.0/16, then 192.168.0.0/20 ... /20.
std::vector<Subnet> default_pools();
// The first pool entry overlapping none of `in_use`. Unavailable if all clash.
Result<Subnet> choose_subnet(const std::vector<Subnet>& pools, const std::vector<Subnet>& in_use);
// The IPv4 routes of the host's main table (from /proc/net/route), default route excluded.
std::vector<Subnet> host_routes();

}  // namespace ctl::net
