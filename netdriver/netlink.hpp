// rtnetlink through libmnl: the link, address and route changes a bridge network needs, without
// shelling out to `ip`. A Netlink object is one NETLINK_ROUTE socket; it acts on the network
// namespace it was opened in (open_in() opens one inside a container's namespace).
#pragma once

#include <cstdint>
#include <string>

#include "engine/base/result.hpp"
#include "engine/base/sys.hpp"

namespace ctl::net {

class Netlink {
public:
    static Result<Netlink> open();
    // A socket living in the namespace of netns_fd (the calling thread's namespace is unchanged).
    static Result<Netlink> open_in(int netns_fd);

    // The interface index, NotFound when there is no such link.
    Result<int> link_index(const std::string& name);
    // A Linux bridge; an existing link of that name is reused.
    Status create_bridge(const std::string& name);
    // A veth pair: `host_name` here, its peer created directly inside peer_netns_fd as
    // `peer_name` with the given MAC ("" = random).
    Status create_veth(const std::string& host_name, const std::string& peer_name, int peer_netns_fd,
                       const std::string& peer_mac);
    Status set_master(int index, int master_index);
    Status set_up(int index);
    // IPv4 address (host byte order) with its prefix length; an existing one is fine.
    Status add_address(int index, uint32_t address, int prefix);
    Status add_default_route(uint32_t gateway);
    // NotFound when the link is already gone.
    Status delete_link(const std::string& name);

private:
    explicit Netlink(sys::UniqueFd fd) : fd_(std::move(fd)) {}
    // Sends one request (NLM_F_ACK set) and waits for its acknowledgement.
    Status request(void* nlh, const char* what);

    sys::UniqueFd fd_;
    uint32_t seq_ = 1;
};

// "aa:bb:cc:dd:ee:ff" for a container address the way Docker derives it: 02:42 + the IPv4 bytes.
std::string mac_for_address(uint32_t address);

}  // namespace ctl::net
