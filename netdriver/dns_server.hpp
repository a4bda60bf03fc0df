// The embedded DNS server of user-defined networks, as Docker's: every container on such a
// network gets a UDP socket at 127.0.0.11:53 inside its own network namespace (its resolv.conf
// points there). Names the engine knows (container names, network aliases, short ids) are
// answered from the caller's networks; everything else is forwarded to the host's resolvers.
// Packets are parsed and built with ldns. One thread serves every socket.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/result.hpp"
#include "engine/base/sys.hpp"

namespace ctl::net {

inline constexpr const char* kEmbeddedDnsAddress = "127.0.0.11";

class DnsServer {
public:
    // Addresses (host byte order) for `name` as seen by `container_id`; empty = not ours.
    using Resolver = std::function<std::vector<uint32_t>(const std::string& container_id, const std::string& name)>;

    // upstreams: "ip" or "ip:port" of the resolvers to forward to.
    DnsServer(Resolver resolver, std::vector<std::string> upstreams);
    ~DnsServer();
    DnsServer(const DnsServer&) = delete;
    DnsServer& operator=(const DnsServer&) = delete;

    // Opens the container's socket inside the namespace of netns_fd (its lo must be up).
    Status add(const std::string& container_id, int netns_fd);
    void remove(const std::string& container_id);
    bool has(const std::string& container_id);

    // The answer to one query packet from `container_id`; empty when it must be forwarded.
    // Public for unit tests.
    std::string answer(const std::string& container_id, const std::string& query);

private:
    void loop();
    // Runs detached: needs nothing of the server, which may be gone by then.
    static void forward(const std::vector<std::string>& upstreams, int reply_fd, std::string query,
                        std::vector<uint8_t> peer);

    Resolver resolver_;
    std::vector<std::string> upstreams_;
    std::mutex mu_;
    std::map<std::string, sys::UniqueFd> sockets_;  // container id -> its 127.0.0.11:53 socket
    sys::UniqueFd wake_;
    bool stopping_ = false;
    std::thread thread_;
};

// The host's resolvers from resolv.conf text ("nameserver" lines), or 8.8.8.8/8.8.4.4 as
// Docker falls back to.
std::vector<std::string> resolvers_from(const std::string& resolv_conf);

}  // namespace ctl::net
