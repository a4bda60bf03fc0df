#include "netdriver/ipam.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <sstream>

#include "engine/base/sys.hpp"

namespace ctl::net {

std::string ip_to_string(uint32_t address) {
    char out[INET_ADDRSTRLEN];
    std::snprintf(out, sizeof out, "%u.%u.%u.%u", address >> 24, (address >> 16) & 0xff, (address >> 8) & 0xff,
                  address & 0xff);
    return out;
}

Result<uint32_t> parse_ip(const std::string& text) {
    in_addr a{};
    if (::inet_pton(AF_INET, text.c_str(), &a) != 1) return make_error(Errc::InvalidArgument, "invalid IPv4 address: " + text);
    return ntohl(a.s_addr);
}

Result<Subnet> Subnet::parse(const std::string& cidr) {
    auto slash = cidr.find('/');
    if (slash == std::string::npos) return make_error(Errc::InvalidArgument, "invalid CIDR address: " + cidr);
    CTL_ASSIGN_OR_RETURN(uint32_t address, parse_ip(cidr.substr(0, slash)));
    std::string bits = cidr.substr(slash + 1);
    char* end = nullptr;
    long prefix = std::strtol(bits.c_str(), &end, 10);
    if (bits.empty() || *end != '\0' || prefix < 0 || prefix > 32) {
        return make_error(Errc::InvalidArgument, "invalid CIDR address: " + cidr);
    }
    Subnet s{address, static_cast<int>(prefix)};
    if ((address & s.mask()) != address) {
        return make_error(Errc::InvalidArgument, "invalid subnet " + cidr + ": it should be " + Subnet{address & s.mask(), s.prefix}.str());
    }
    return s;
}

std::string Subnet::str() const { return ip_to_string(network) + "/" + std::to_string(prefix); }

bool Subnet::overlaps(const Subnet& other) const {
    int p = std::min(prefix, other.prefix);
    uint32_t m = p == 0 ? 0 : ~0u << (32 - p);
    return (network & m) == (other.network & m);
}

Result<uint32_t> allocate_address(const Subnet& subnet, const std::set<uint32_t>& taken) {
    if (subnet.prefix > 30) return make_error(Errc::InvalidArgument, "subnet " + subnet.str() + " is too small");
    for (uint32_t a = subnet.network + 1; a < subnet.broadcast(); ++a) {
        if (!taken.count(a)) return a;
    }
    return make_error(Errc::Unavailable, "no available IPv4 addresses on this network's address pools");
}

std::vector<Subnet> default_pools() {
    std::vector<Subnet> pools;
    for (uint32_t second = 17; second <= 31; ++second) pools.push_back({(172u << 24) | (second << 16), 16});
    for (uint32_t third = 0; third < 256; third += 16) pools.push_back({(192u << 24) | (168u << 16) | (third << 8), 20});
    return pools;
}

Result<Subnet> choose_subnet(const std::vector<Subnet>& pools, const std::vector<Subnet>& in_use) {
    for (const auto& candidate : pools) {
        bool clash = false;
        for (const auto& used : in_use) clash = clash || candidate.overlaps(used);
        if (!clash) return candidate;
    }
    return make_error(Errc::Unavailable,
                      "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network");
}

std::vector<Subnet> host_routes() {
    std::vector<Subnet> routes;
    auto text = sys::read_file("/proc/net/route");
    if (!text) return routes;
    std::istringstream in(*text);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string iface, dest, gateway, flags, refcnt, use, metric, mask;
        if (!(fields >> iface >> dest >> gateway >> flags >> refcnt >> use >> metric >> mask)) continue;
        // Little-endian hex of network-order bytes.
        uint32_t d = ntohl(static_cast<uint32_t>(std::stoul(dest, nullptr, 16)));
        uint32_t m = ntohl(static_cast<uint32_t>(std::stoul(mask, nullptr, 16)));
        if (m == 0) continue;  // the default route clashes with nothing
        routes.push_back({d & m, __builtin_popcount(m)});
    }
    return routes;
}

}  // namespace ctl::net
