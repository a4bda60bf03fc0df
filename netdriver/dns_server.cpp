#include "netdriver/dns_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include "engine/base/log.hpp"
#include "engine/base/util.hpp"
#include "netdriver/ipam.hpp"

namespace ctl::net {

namespace {

constexpr int kForwardTimeoutMs = 3000;

// ldns objects freed on scope exit.
struct PacketDeleter {
    void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using Packet = std::unique_ptr<ldns_pkt, PacketDeleter>;

std::string wire(const ldns_pkt* p) {
    uint8_t* buf = nullptr;
    size_t size = 0;
    if (ldns_pkt2wire(&buf, p, &size) != LDNS_STATUS_OK) return "";
    std::string out(reinterpret_cast<char*>(buf), size);
    std::free(buf);
    return out;
}

sockaddr_in upstream_address(const std::string& text) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    auto colon = text.find(':');
    a.sin_port = htons(colon == std::string::npos ? 53 : static_cast<uint16_t>(std::atoi(text.c_str() + colon + 1)));
    ::inet_pton(AF_INET, text.substr(0, colon).c_str(), &a.sin_addr);
    return a;
}

}  // namespace

std::vector<std::string> resolvers_from(const std::string& resolv_conf) {
    std::vector<std::string> out;
    std::istringstream in(resolv_conf);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string key, value;
        if (words >> key >> value && key == "nameserver" && value.find(':') == std::string::npos) out.push_back(value);
    }
    if (out.empty()) out = {"8.8.8.8", "8.8.4.4"};
    return out;
}

DnsServer::DnsServer(Resolver resolver, std::vector<std::string> upstreams)
    : resolver_(std::move(resolver)), upstreams_(std::move(upstreams)) {
    wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    thread_ = std::thread([this] { loop(); });
}

DnsServer::~DnsServer() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
    if (thread_.joinable()) thread_.join();
}

Status DnsServer::add(const std::string& container_id, int netns_fd) {
    // The socket belongs to the namespace of the thread creating it: make it on a short-lived
    // thread that enters the container's namespace.
    Result<sys::UniqueFd> made = make_error(Errc::Internal, "dns: no socket");
    std::thread worker([&] {
        if (::setns(netns_fd, CLONE_NEWNET) != 0) {
            made = sys_error("entering the network namespace");
            return;
        }
        int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            made = sys_error("dns socket");
            return;
        }
        sys::UniqueFd owned(fd);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(53);
        ::inet_pton(AF_INET, kEmbeddedDnsAddress, &a.sin_addr);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            made = sys_error(std::string("binding ") + kEmbeddedDnsAddress + ":53");
            return;
        }
        made = std::move(owned);
    });
    worker.join();
    if (!made) return made.error();
    std::lock_guard lock(mu_);
    sockets_[container_id] = std::move(*made);
    uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
    return ok();
}

bool DnsServer::has(const std::string& container_id) {
    std::lock_guard lock(mu_);
    return sockets_.count(container_id) > 0;
}

void DnsServer::remove(const std::string& container_id) {
    std::lock_guard lock(mu_);
    sockets_.erase(container_id);
    uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
}

std::string DnsServer::answer(const std::string& container_id, const std::string& query) {
    ldns_pkt* raw = nullptr;
    if (ldns_wire2pkt(&raw, reinterpret_cast<const uint8_t*>(query.data()), query.size()) != LDNS_STATUS_OK) return "";
    Packet q(raw);
    ldns_rr_list* questions = ldns_pkt_question(q.get());
    if (ldns_pkt_qdcount(q.get()) != 1 || !questions || ldns_rr_list_rr_count(questions) != 1) return "";
    ldns_rr* question = ldns_rr_list_rr(questions, 0);
    char* owner = ldns_rdf2str(ldns_rr_owner(question));
    std::string name = owner ? owner : "";
    std::free(owner);
    if (!name.empty() && name.back() == '.') name.pop_back();
    ldns_rr_type type = ldns_rr_get_type(question);
    if (type != LDNS_RR_TYPE_A && type != LDNS_RR_TYPE_AAAA) return "";
    std::vector<uint32_t> addresses = resolver_(container_id, to_lower(name));
    if (addresses.empty()) return "";

    Packet reply(ldns_pkt_new());
    ldns_pkt_set_id(reply.get(), ldns_pkt_id(q.get()));
    ldns_pkt_set_qr(reply.get(), true);
    ldns_pkt_set_aa(reply.get(), true);
    ldns_pkt_set_rd(reply.get(), ldns_pkt_rd(q.get()));
    ldns_pkt_set_ra(reply.get(), true);
    ldns_pkt_push_rr(reply.get(), LDNS_SECTION_QUESTION, ldns_rr_clone(question));
    // A known name without IPv6 gets an empty NOERROR answer to AAAA, so resolvers use the A.
    if (type == LDNS_RR_TYPE_A) {
        for (uint32_t a : addresses) {
            ldns_rr* rr = nullptr;
            std::string text = name + ". 600 IN A " + ip_to_string(a);
            if (ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) == LDNS_STATUS_OK) {
                ldns_pkt_push_rr(reply.get(), LDNS_SECTION_ANSWER, rr);
            }
        }
    }
    return wire(reply.get());
}

void DnsServer::forward(const std::vector<std::string>& upstreams, int reply_fd, std::string query,
                        std::vector<uint8_t> peer) {
    // reply_fd is this forwarder's own dup of the container's socket.
    sys::UniqueFd reply_owned(reply_fd);
    for (const auto& upstream : upstreams) {
        int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return;
        sys::UniqueFd s(fd);
        sockaddr_in to = upstream_address(upstream);
        if (::sendto(fd, query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) continue;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, kForwardTimeoutMs) <= 0) continue;
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) continue;
        (void)::sendto(reply_fd, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(peer.data()),
                       static_cast<socklen_t>(peer.size()));
        return;
    }
}

void DnsServer::loop() {
    for (;;) {
        std::vector<pollfd> fds = {{wake_.get(), POLLIN, 0}};
        std::vector<std::string> owners = {""};
        {
            std::lock_guard lock(mu_);
            if (stopping_) return;
            for (const auto& [id, fd] : sockets_) {
                fds.push_back({fd.get(), POLLIN, 0});
                owners.push_back(id);
            }
        }
        if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
        if (fds[0].revents) {
            uint64_t n;
            (void)!::read(wake_.get(), &n, sizeof n);
        }
        for (size_t i = 1; i < fds.size(); ++i) {
            if (!(fds[i].revents & POLLIN)) continue;
            char buf[4096];
            sockaddr_storage peer{};
            socklen_t peer_len = sizeof peer;
            ssize_t n = ::recvfrom(fds[i].fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &peer_len);
            if (n <= 0) continue;
            std::string query(buf, static_cast<size_t>(n));
            std::string reply = answer(owners[i], query);
            if (!reply.empty()) {
                (void)::sendto(fds[i].fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer), peer_len);
                continue;
            }
            // Not ours: forward on a short-lived thread so a slow upstream never stalls the loop.
            int reply_fd = ::fcntl(fds[i].fd, F_DUPFD_CLOEXEC, 0);
            if (reply_fd < 0) continue;
            std::vector<uint8_t> peer_bytes(reinterpret_cast<uint8_t*>(&peer), reinterpret_cast<uint8_t*>(&peer) + peer_len);
            std::thread([upstreams = upstreams_, reply_fd, query = std::move(query),
                         peer_bytes = std::move(peer_bytes)]() mutable {
                forward(upstreams, reply_fd, std::move(query), std::move(peer_bytes));
            }).detach();
        }
    }
}

}  // namespace ctl::net
