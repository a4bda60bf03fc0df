#include "netdriver/netlink.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace ctl::net {

namespace {

// Room for any one request we build (a veth pair with names and a MAC is well under 512 bytes).
constexpr size_t kBufferSize = 8192;

Result<sys::UniqueFd> open_route_socket() {
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return sys_error("netlink socket");
    sys::UniqueFd owned(fd);
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return sys_error("netlink bind");
    return owned;
}

Result<std::array<uint8_t, 6>> parse_mac(const std::string& text) {
    std::array<uint8_t, 6> mac{};
    unsigned v[6];
    if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) {
        return make_error(Errc::InvalidArgument, "invalid MAC address: " + text);
    }
    for (int i = 0; i < 6; ++i) {
        if (v[i] > 0xff) return make_error(Errc::InvalidArgument, "invalid MAC address: " + text);
        mac[i] = static_cast<uint8_t>(v[i]);
    }
    return mac;
}

// A link request (RTM_NEWLINK/RTM_DELLINK/RTM_GETLINK) in buf, for link `index` (0: by name).
nlmsghdr* link_message(std::vector<char>& buf, uint16_t type, uint16_t flags, int index = 0) {
    auto* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
    auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_index = index;
    return nlh;
}

}  // namespace

Result<Netlink> Netlink::open() {
    CTL_ASSIGN_OR_RETURN(auto fd, open_route_socket());
    return Netlink(std::move(fd));
}

Result<Netlink> Netlink::open_in(int netns_fd) {
    // A socket belongs to the namespace of the thread that creates it: make it on a short-lived
    // thread that enters the namespace, so no thread of ours ever runs in the wrong one.
    Result<sys::UniqueFd> made = make_error(Errc::Internal, "netlink: no result");
    std::thread worker([&] {
        if (::setns(netns_fd, CLONE_NEWNET) != 0) {
            made = sys_error("entering the network namespace");
            return;
        }
        made = open_route_socket();
    });
    worker.join();
    if (!made) return std::move(made).error();
    return Netlink(std::move(*made));
}

Status Netlink::request(void* raw, const char* what) {
    auto* nlh = static_cast<nlmsghdr*>(raw);
    nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = ++seq_;
    if (::send(fd_.get(), nlh, nlh->nlmsg_len, 0) < 0) return sys_error(std::string("netlink ") + what);
    std::vector<char> buf(kBufferSize);
    for (;;) {
        ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error(std::string("netlink ") + what);
        }
        int err = 0;
        bool done = false;
        int left = static_cast<int>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left)) {
            if (h->nlmsg_seq != seq_) continue;
            if (h->nlmsg_type == NLMSG_ERROR) {
                err = -static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(h))->error;
                done = true;
                break;
            }
        }
        if (!done) continue;
        if (err == 0) return ok();
        errno = err;
        Error e = sys_error(std::string("netlink ") + what);
        if (err == ENODEV || err == ENOENT) e.code = Errc::NotFound;
        if (err == EEXIST) e.code = Errc::AlreadyExists;
        return e;
    }
}

Result<int> Netlink::link_index(const std::string& name) {
    // if_nametoindex works in the caller's namespace only; ask this socket's instead.
    std::vector<char> buf(kBufferSize);
    auto* nlh = link_message(buf, RTM_GETLINK, NLM_F_REQUEST);
    nlh->nlmsg_seq = ++seq_;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
    if (::send(fd_.get(), nlh, nlh->nlmsg_len, 0) < 0) return sys_error("netlink getlink");
    std::vector<char> reply(32768);
    for (;;) {
        ssize_t n = ::recv(fd_.get(), reply.data(), reply.size(), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("netlink getlink");
        }
        int left = static_cast<int>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(reply.data()); mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left)) {
            if (h->nlmsg_seq != seq_) continue;
            if (h->nlmsg_type == NLMSG_ERROR) {
                int err = -static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(h))->error;
                if (err == ENODEV || err == 0) return make_error(Errc::NotFound, "no link named " + name);
                errno = err;
                return sys_error("netlink getlink " + name);
            }
            if (h->nlmsg_type == RTM_NEWLINK) return static_cast<ifinfomsg*>(mnl_nlmsg_get_payload(h))->ifi_index;
        }
    }
}

Status Netlink::create_bridge(const std::string& name) {
    if (link_index(name)) return ok();
    std::vector<char> buf(kBufferSize);
    auto* nlh = link_message(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
    auto* info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
    mnl_attr_nest_end(nlh, info);
    auto st = request(nlh, "create bridge");
    if (!st && st.error().code == Errc::AlreadyExists) return ok();  // raced with another creator
    return st;
}

Status Netlink::create_veth(const std::string& host_name, const std::string& peer_name, int peer_netns_fd,
                            const std::string& peer_mac) {
    std::vector<char> buf(kBufferSize);
    auto* nlh = link_message(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, host_name.c_str());
    auto* info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
    auto* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    auto* peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    // The peer's attributes follow its own ifinfomsg header inside the nest.
    auto* peer_ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    std::memset(peer_ifm, 0, sizeof *peer_ifm);
    peer_ifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name.c_str());
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
    if (!peer_mac.empty()) {
        CTL_ASSIGN_OR_RETURN(auto mac, parse_mac(peer_mac));
        mnl_attr_put(nlh, IFLA_ADDRESS, mac.size(), mac.data());
    }
    mnl_attr_nest_end(nlh, peer);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, info);
    return request(nlh, "create veth");
}

Status Netlink::set_master(int index, int master_index) {
    std::vector<char> buf(kBufferSize);
    auto* nlh = link_message(buf, RTM_NEWLINK, 0, index);
    mnl_attr_put_u32(nlh, IFLA_MASTER, static_cast<uint32_t>(master_index));
    return request(nlh, "set master");
}

Status Netlink::set_up(int index) {
    std::vector<char> buf(kBufferSize);
    auto* nlh = link_message(buf, RTM_NEWLINK, 0, index);
    auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
    return request(nlh, "link up");
}

Status Netlink::add_address(int index, uint32_t address, int prefix) {
    std::vector<char> buf(kBufferSize);
    auto* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = RTM_NEWADDR;
    nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
    auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = static_cast<unsigned char>(prefix);
    ifa->ifa_index = static_cast<unsigned>(index);
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    uint32_t be = htonl(address);
    mnl_attr_put_u32(nlh, IFA_LOCAL, be);
    mnl_attr_put_u32(nlh, IFA_ADDRESS, be);
    if (prefix < 31) {
        uint32_t broadcast = htonl(address | (prefix == 0 ? 0xffffffffu : ((1u << (32 - prefix)) - 1)));
        mnl_attr_put_u32(nlh, IFA_BROADCAST, broadcast);
    }
    auto st = request(nlh, "add address");
    if (!st && st.error().code == Errc::AlreadyExists) return ok();
    return st;
}

Status Netlink::add_default_route(uint32_t gateway) {
    std::vector<char> buf(kBufferSize);
    auto* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = RTM_NEWROUTE;
    nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
    auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
    rtm->rtm_family = AF_INET;
    rtm->rtm_dst_len = 0;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = RTPROT_BOOT;
    rtm->rtm_scope = RT_SCOPE_UNIVERSE;
    rtm->rtm_type = RTN_UNICAST;
    mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gateway));
    return request(nlh, "add default route");
}

Status Netlink::delete_link(const std::string& name) {
    std::vector<char> buf(kBufferSize);
    auto* nlh = link_message(buf, RTM_DELLINK, 0);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
    return request(nlh, "delete link");
}

std::string mac_for_address(uint32_t address) {
    char out[18];
    std::snprintf(out, sizeof out, "02:42:%02x:%02x:%02x:%02x", (address >> 24) & 0xff, (address >> 16) & 0xff,
                  (address >> 8) & 0xff, address & 0xff);
    return out;
}

}  // namespace ctl::net
