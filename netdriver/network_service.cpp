#include "netdriver/network_service.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "engine/base/log.hpp"
#include "engine/base/util.hpp"
#include "netdriver/netlink.hpp"
#include "netdriver/netns.hpp"

namespace ctl::net {

namespace {

using store::as_int;
using store::as_string;

std::string random_hex(size_t n) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < n; ++i) out += digits[rng() % 16];
    return out;
}

std::map<std::string, std::string> string_map(const Json& j) {
    std::map<std::string, std::string> out;
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) {
            if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
        }
    }
    return out;
}

bool valid_network_name(const std::string& name) {
    if (name.empty() || name.size() > 128) return false;
    for (char c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
    }
    return std::isalnum(static_cast<unsigned char>(name[0]));
}

// Binds host_ip:port so nothing else can take it while the container publishes it; the kernel
// DNATs before socket lookup, so the bound socket never sees the traffic.
Result<sys::UniqueFd> hold_port(const std::string& protocol, uint32_t host_ip, int port) {
    int fd = ::socket(AF_INET, (protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (fd < 0) return sys_error("socket");
    sys::UniqueFd owned(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(host_ip);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno == EADDRINUSE) {
            return make_error(Errc::Conflict, "Bind for " + ip_to_string(host_ip) + ":" + std::to_string(port) +
                                                  " failed: port is already allocated");
        }
        return sys_error("binding " + ip_to_string(host_ip) + ":" + std::to_string(port));
    }
    return owned;
}

// "8080/tcp" -> (8080, "tcp")
Result<std::pair<int, std::string>> parse_port_key(const std::string& key) {
    auto slash = key.find('/');
    std::string number = key.substr(0, slash), proto = slash == std::string::npos ? "tcp" : to_lower(key.substr(slash + 1));
    char* end = nullptr;
    long port = std::strtol(number.c_str(), &end, 10);
    if (number.empty() || *end != '\0' || port < 1 || port > 65535) {
        return make_error(Errc::InvalidArgument, "invalid port specification: \"" + key + "\"");
    }
    if (proto != "tcp" && proto != "udp") return make_error(Errc::InvalidArgument, "invalid proto: " + proto);
    return std::pair{static_cast<int>(port), proto};
}

}  // namespace

// ---- records --------------------------------------------------------------------------------------

Json NetworkService::Network::to_record() const {
    return {{"Id", id},
            {"Name", name},
            {"Driver", driver},
            {"Created", created},
            {"Subnet", driver == "bridge" ? subnet.str() : ""},
            {"Gateway", driver == "bridge" ? ip_to_string(gateway) : ""},
            {"Bridge", bridge},
            {"Internal", internal},
            {"Attachable", attachable},
            {"Labels", labels},
            {"Options", options}};
}

NetworkService::Network NetworkService::Network::from_record(const Json& j) {
    Network n;
    n.id = string_or(j, "Id");
    n.name = string_or(j, "Name");
    n.driver = string_or(j, "Driver");
    n.created = int_or(j, "Created");
    if (auto s = Subnet::parse(string_or(j, "Subnet")); s) n.subnet = *s;
    if (auto g = parse_ip(string_or(j, "Gateway")); g) n.gateway = *g;
    n.bridge = string_or(j, "Bridge");
    n.internal = bool_or(j, "Internal");
    n.attachable = bool_or(j, "Attachable");
    n.labels = string_map(j.value("Labels", Json::object()));
    n.options = string_map(j.value("Options", Json::object()));
    return n;
}

NetworkService::NetworkService(store::Store& store, events::EventBus& bus, NetworkOptions options)
    : store_(store), bus_(bus), options_(std::move(options)), firewall_(options_.table) {
    dns_ = std::make_unique<DnsServer>([this](const std::string& id, const std::string& name) { return resolve(id, name); },
                                       options_.dns.empty() ? resolvers_from(sys::read_file("/etc/resolv.conf").value_or(""))
                                                            : options_.dns);
}

std::vector<uint32_t> NetworkService::resolve(const std::string& container_id, const std::string& name) {
    std::lock_guard lock(mu_);
    std::vector<uint32_t> out;
    auto mine = store_.query("SELECT network_id FROM endpoints WHERE container_id = ?", {container_id});
    if (!mine) return out;
    for (const auto& row : *mine) {
        auto n = find_locked(as_string(row[0]));
        if (!n || n->name == "bridge") continue;  // the default bridge has no name resolution
        auto members = store_.query("SELECT container_id, address, record FROM endpoints WHERE network_id = ?", {n->id});
        if (!members) continue;
        for (const auto& m : *members) {
            std::string id = as_string(m[0]);
            auto rec = parse_json(as_string(m[2])).value_or(Json::object());
            bool match = to_lower(string_or(rec, "Name")) == name || id.substr(0, 12) == name;
            if (const Json* aliases = find_ci(rec, "Aliases"); aliases && aliases->is_array()) {
                for (const auto& a : *aliases) match = match || (a.is_string() && to_lower(a.get<std::string>()) == name);
            }
            if (match) out.push_back(static_cast<uint32_t>(as_int(m[1])));
        }
    }
    return out;
}

NetworkService::~NetworkService() = default;

void NetworkService::emit(const std::string& action, const Network& n, std::map<std::string, std::string> attrs) {
    attrs.emplace("name", n.name);
    attrs.emplace("type", n.driver);
    bus_.publish(events::Event{"network", action, n.id, std::move(attrs)});
}

Status NetworkService::save_network_locked(const Network& n) {
    networks_cached_ = false;
    return store_.execute("INSERT OR REPLACE INTO networks (id, name, record) VALUES (?, ?, ?)",
                          {n.id, n.name, n.to_record().dump()});
}

Status NetworkService::delete_network_locked(const std::string& id) {
    networks_cached_ = false;
    return store_.execute("DELETE FROM networks WHERE id = ?", {id});
}

const std::vector<NetworkService::Network>& NetworkService::all_locked() {
    // Every inspect and every `ps` row looks networks up: parse the table once per change.
    if (networks_cached_) return networks_cache_;
    networks_cache_.clear();
    auto rows = store_.query("SELECT record FROM networks ORDER BY name");
    if (!rows) return networks_cache_;  // empty, and read again next time
    for (const auto& row : *rows) {
        auto j = parse_json(as_string(row[0]));
        if (j) networks_cache_.push_back(Network::from_record(*j));
    }
    networks_cached_ = true;
    return networks_cache_;
}

Result<NetworkService::Network> NetworkService::find_locked(const std::string& key) {
    const auto& all = all_locked();
    for (const auto& n : all) {
        if (n.id == key || n.name == key) return n;
    }
    // Docker also accepts a unique id prefix.
    const Network* found = nullptr;
    for (const auto& n : all) {
        if (!key.empty() && starts_with(n.id, key)) {
            if (found) return make_error(Errc::NotFound, "network " + key + " is ambiguous");
            found = &n;
        }
    }
    if (found) return *found;
    return make_error(Errc::NotFound, "network " + key + " not found");
}

// ---- host state -------------------------------------------------------------------------------------

Status NetworkService::ensure_bridge(const Network& n) {
    CTL_ASSIGN_OR_RETURN(auto nl, Netlink::open());
    CTL_TRY(nl.create_bridge(n.bridge));
    CTL_ASSIGN_OR_RETURN(int index, nl.link_index(n.bridge));
    CTL_TRY(nl.add_address(index, n.gateway, n.subnet.prefix));
    CTL_TRY(nl.set_up(index));
    if (!n.internal) CTL_TRY(enable_forwarding());
    (void)enable_route_localnet(n.bridge);
    return firewall_.allow_forwarding(n.bridge);
}

Status NetworkService::refresh_firewall_locked() {
    std::vector<BridgeNetwork> networks;
    for (const auto& n : all_locked()) {
        if (n.driver == "bridge") networks.push_back({n.bridge, n.subnet, n.internal});
    }
    std::vector<PublishedPort> ports;
    auto rows = store_.query("SELECT ports FROM sandboxes");
    if (!rows) return rows.error();
    for (const auto& row : *rows) {
        auto list = parse_json(as_string(row[0]));
        if (!list || !list->is_array()) continue;
        for (const auto& p : *list) {
            PublishedPort pp;
            pp.protocol = string_or(p, "Proto", "tcp");
            pp.host_ip = static_cast<uint32_t>(int_or(p, "HostIPNum"));
            pp.host_port = static_cast<int>(int_or(p, "HostPort"));
            pp.container_ip = static_cast<uint32_t>(int_or(p, "ContainerIPNum"));
            pp.container_port = static_cast<int>(int_or(p, "ContainerPort"));
            ports.push_back(pp);
        }
    }
    return firewall_.apply(networks, ports);
}

Status NetworkService::init(const std::set<std::string>& running) {
    CTL_TRY(sys::mkdir_all(options_.exec_root + "/netns", 0700));
    std::lock_guard lock(mu_);
    // The predefined networks, as Docker lists them.
    auto existing = all_locked();
    auto has = [&](const std::string& name) {
        return std::any_of(existing.begin(), existing.end(), [&](const Network& n) { return n.name == name; });
    };
    for (const char* name : {"host", "none"}) {
        if (has(name)) continue;
        Network n;
        n.id = random_hex(64);
        n.name = name;
        n.driver = std::string(name) == "host" ? "host" : "null";
        n.created = now_unix_nanos();
        CTL_TRY(save_network_locked(n));
    }
    if (!has("bridge")) {
        Network n;
        n.id = random_hex(64);
        n.name = "bridge";
        n.driver = "bridge";
        n.created = now_unix_nanos();
        n.bridge = options_.bridge_name;
        n.options = {{"com.docker.network.bridge.default_bridge", "true"},
                     {"com.docker.network.bridge.name", options_.bridge_name}};
        if (!options_.bip.empty()) {
            // --bip is the gateway with its prefix, like Docker's: 10.20.0.1/24.
            auto slash = options_.bip.find('/');
            CTL_ASSIGN_OR_RETURN(uint32_t gw, parse_ip(options_.bip.substr(0, slash)));
            CTL_ASSIGN_OR_RETURN(auto s, Subnet::parse(ip_to_string(gw & Subnet{0, std::atoi(options_.bip.substr(slash + 1).c_str())}.mask()) +
                                                       options_.bip.substr(slash)));
            n.subnet = s;
            n.gateway = gw;
        } else {
            std::vector<Subnet> used = host_routes();
            for (const auto& other : existing) {
                if (other.driver == "bridge") used.push_back(other.subnet);
            }
            CTL_ASSIGN_OR_RETURN(n.subnet, choose_subnet(default_pools(), used));
            n.gateway = n.subnet.network + 1;
        }
        CTL_TRY(save_network_locked(n));
    }
    // Endpoints of containers that no longer run are released; the rest keep their ports.
    auto rows = store_.query("SELECT container_id, netns, ports FROM sandboxes");
    if (!rows) return rows.error();
    for (const auto& row : *rows) {
        std::string id = as_string(row[0]);
        if (!running.count(id)) {
            release_locked(id);
            continue;
        }
        auto user_nets = store_.query("SELECT n.name FROM endpoints e JOIN networks n ON n.id = e.network_id "
                                      "WHERE e.container_id = ? AND n.name != 'bridge'", {id});
        if (user_nets && !user_nets->empty()) {
            if (auto fd = open_netns(as_string(row[1]))) {
                if (auto st = dns_->add(id, fd->get()); !st) log::warn("container {}: embedded DNS: {}", id.substr(0, 12), st.error().message);
            }
        }
        auto list = parse_json(as_string(row[2]));
        if (!list || !list->is_array()) continue;
        auto& holders = port_holders_[id];
        for (const auto& p : *list) {
            auto held = hold_port(string_or(p, "Proto", "tcp"), static_cast<uint32_t>(int_or(p, "HostIPNum")),
                                  static_cast<int>(int_or(p, "HostPort")));
            if (held) holders.push_back(std::move(*held));
            else log::warn("container {}: published port: {}", id.substr(0, 12), held.error().message);
        }
    }
    for (const auto& n : all_locked()) {
        if (n.driver != "bridge") continue;
        if (auto st = ensure_bridge(n); !st) return with_context(st.error(), "network " + n.name);
    }
    return refresh_firewall_locked();
}

// ---- container endpoints -------------------------------------------------------------------------

Status NetworkService::validate_mode(const std::string& mode) {
    if (mode.empty() || mode == "default" || mode == "bridge" || mode == "host" || mode == "none") return ok();
    if (starts_with(mode, "container:")) return ok();
    std::lock_guard lock(mu_);
    auto n = find_locked(mode);
    if (!n) return n.error();
    return ok();
}

std::string NetworkService::host_gateway() {
    std::lock_guard lock(mu_);
    auto n = find_locked("bridge");
    return n ? ip_to_string(n->gateway) : std::string();
}

std::string NetworkService::netns_path(const std::string& container_id) const {
    auto rows = store_.query("SELECT netns FROM sandboxes WHERE container_id = ?", {container_id});
    if (!rows || rows->empty()) return "";
    return as_string((*rows)[0][0]);
}

Result<std::vector<PublishedPort>> NetworkService::publish_ports(const std::string& container_id, const Json& host_config,
                                                                 const Json& exposed, uint32_t container_ip,
                                                                 std::vector<sys::UniqueFd>& holders) {
    std::vector<PublishedPort> out;
    // Port -> bindings: explicit PortBindings, plus every exposed port with -P.
    std::map<std::string, Json> wanted;
    if (const Json* pb = find_ci(host_config, "PortBindings"); pb && pb->is_object()) {
        for (auto it = pb->begin(); it != pb->end(); ++it) {
            wanted[it.key()] = it.value().is_array() && !it.value().empty() ? it.value() : Json::array({Json::object()});
        }
    }
    if (bool_or(host_config, "PublishAllPorts") && exposed.is_object()) {
        for (auto it = exposed.begin(); it != exposed.end(); ++it) {
            if (!wanted.count(it.key())) wanted[it.key()] = Json::array({Json::object()});
        }
    }
    std::set<std::pair<std::string, int>> taken;  // ours, across this container's bindings
    for (const auto& [key, bindings] : wanted) {
        CTL_ASSIGN_OR_RETURN(auto port, parse_port_key(key));
        for (const auto& b : bindings) {
            PublishedPort pp;
            pp.protocol = port.second;
            pp.container_ip = container_ip;
            pp.container_port = port.first;
            std::string host_ip = string_or(b, "HostIp");
            if (!host_ip.empty() && host_ip != "0.0.0.0") {
                if (host_ip.find(':') != std::string::npos) continue;  // IPv6 bindings: not supported, skipped
                CTL_ASSIGN_OR_RETURN(pp.host_ip, parse_ip(host_ip));
            }
            std::string host_port = string_or(b, "HostPort");
            if (!host_port.empty()) {
                // "8000" or a range "8000-8010" (the first free one, as Docker does for a range).
                auto dash = host_port.find('-');
                int first = std::atoi(host_port.substr(0, dash).c_str());
                int last = dash == std::string::npos ? first : std::atoi(host_port.substr(dash + 1).c_str());
                if (first < 1 || last > 65535 || last < first) {
                    return make_error(Errc::InvalidArgument, "invalid host port: " + host_port);
                }
                Error last_error = make_error(Errc::Conflict, "no free port in " + host_port);
                for (int p = first; p <= last; ++p) {
                    if (taken.count({pp.protocol, p})) continue;
                    auto held = hold_port(pp.protocol, pp.host_ip, p);
                    if (!held) {
                        last_error = held.error();
                        continue;
                    }
                    holders.push_back(std::move(*held));
                    pp.host_port = p;
                    break;
                }
                if (pp.host_port == 0) return last_error;
            } else {
                // An ephemeral port: let the kernel pick a free one by binding port 0.
                auto held = hold_port(pp.protocol, pp.host_ip, 0);
                if (!held) return held.error();
                sockaddr_in addr{};
                socklen_t len = sizeof addr;
                ::getsockname(held->get(), reinterpret_cast<sockaddr*>(&addr), &len);
                pp.host_port = ntohs(addr.sin_port);
                holders.push_back(std::move(*held));
            }
            taken.insert({pp.protocol, pp.host_port});
            out.push_back(pp);
        }
    }
    (void)container_id;
    return out;
}

// The address for an endpoint: a requested one (IPAMConfig.IPv4Address, user networks only) or
// the lowest free one.
Result<uint32_t> NetworkService::pick_address_locked(const Network& n, const Json* ep) {
    std::string wanted_ip;
    if (ep && ep->is_object()) {
        if (const Json* ipam = find_ci(*ep, "IPAMConfig"); ipam && ipam->is_object()) wanted_ip = string_or(*ipam, "IPv4Address");
    }
    auto rows = store_.query("SELECT address FROM endpoints WHERE network_id = ?", {n.id});
    if (!rows) return rows.error();
    std::set<uint32_t> taken = {n.gateway};
    for (const auto& row : *rows) taken.insert(static_cast<uint32_t>(as_int(row[0])));
    if (wanted_ip.empty()) return allocate_address(n.subnet, taken);
    if (n.name == "bridge") {
        return make_error(Errc::InvalidArgument, "user specified IP address is supported on user defined networks only");
    }
    CTL_ASSIGN_OR_RETURN(uint32_t address, parse_ip(wanted_ip));
    if (!n.subnet.contains(address) || address == n.subnet.network || address == n.subnet.broadcast()) {
        return make_error(Errc::InvalidArgument, "Address " + wanted_ip + " is not in subnet " + n.subnet.str());
    }
    if (taken.count(address)) return make_error(Errc::Conflict, "Address already in use: " + wanted_ip);
    return address;
}

Status NetworkService::join_locked(const std::string& container_id, const std::string& container_name, const Network& n,
                                   const Json* ep, int netns_fd, bool primary) {
    CTL_ASSIGN_OR_RETURN(uint32_t address, pick_address_locked(n, ep));
    // The interface inside: eth0 for the first network, then eth1, eth2... as Docker names them.
    auto count = store_.query("SELECT COUNT(*) FROM endpoints WHERE container_id = ?", {container_id});
    if (!count) return count.error();
    const std::string ifname = "eth" + std::to_string(as_int((*count)[0][0]));
    const std::string veth = "veth" + random_hex(7);
    Json aliases = Json::array();
    if (ep && ep->is_object()) {
        if (const Json* al = find_ci(*ep, "Aliases"); al && al->is_array()) aliases = *al;
    }
    // --mac-address (EndpointSettings.MacAddress), else Docker's 02:42 + the IPv4 address.
    std::string mac = ep && ep->is_object() ? string_or(*ep, "MacAddress") : "";
    if (mac.empty()) mac = mac_for_address(address);
    Json record = {{"EndpointID", random_hex(64)}, {"MacAddress", mac}, {"Aliases", aliases}, {"Veth", veth},
                   {"Name", container_name}, {"Interface", ifname}};
    auto st = store_.execute("INSERT INTO endpoints (network_id, container_id, address, record) VALUES (?, ?, ?, ?)",
                             {n.id, container_id, static_cast<int64_t>(address), record.dump()});
    if (!st) {
        return st.error().code == Errc::AlreadyExists
                   ? make_error(Errc::Forbidden, "endpoint with name " + container_name + " already exists in network " + n.name)
                   : st.error();
    }
    bool made_veth = false;
    auto undo = [&](Error err) -> Status {
        if (made_veth) {
            if (auto nl = Netlink::open()) (void)nl->delete_link(veth);
        }
        (void)store_.execute("DELETE FROM endpoints WHERE network_id = ? AND container_id = ?", {n.id, container_id});
        return err;
    };
    auto host_nl = Netlink::open();
    if (!host_nl) return undo(host_nl.error());
    if (auto s = host_nl->create_veth(veth, ifname, netns_fd, mac); !s) return undo(s.error());
    made_veth = true;
    auto wire = [&]() -> Status {
        CTL_ASSIGN_OR_RETURN(int veth_index, host_nl->link_index(veth));
        CTL_ASSIGN_OR_RETURN(int bridge_index, host_nl->link_index(n.bridge));
        CTL_TRY(host_nl->set_master(veth_index, bridge_index));
        CTL_TRY(host_nl->set_up(veth_index));
        CTL_ASSIGN_OR_RETURN(auto inside, Netlink::open_in(netns_fd));
        CTL_ASSIGN_OR_RETURN(int lo, inside.link_index("lo"));
        CTL_TRY(inside.set_up(lo));
        CTL_ASSIGN_OR_RETURN(int eth, inside.link_index(ifname));
        CTL_TRY(inside.add_address(eth, address, n.subnet.prefix));
        CTL_TRY(inside.set_up(eth));
        if (primary && !n.internal) CTL_TRY(inside.add_default_route(n.gateway));
        return ok();
    };
    if (auto s = wire(); !s) return undo(with_context(s.error(), "connecting to network " + n.name));
    if (n.name != "bridge") {
        // Idempotent per container: a second user network reuses the same socket.
        if (!dns_->has(container_id)) {
            if (auto s = dns_->add(container_id, netns_fd); !s) return undo(with_context(s.error(), "embedded DNS"));
        }
    }
    emit("connect", n, {{"container", container_id}});
    return ok();
}

Result<Attachment> NetworkService::attach(const std::string& container_id, const std::string& container_name,
                                          const Json& host_config, const Json& endpoints_config, const Json& exposed,
                                          const std::function<Result<std::string>(const std::string&)>& container_netns) {
    std::string mode = string_or(host_config, "NetworkMode", "default");
    Attachment a;
    if (mode == "host") {
        a.netns = "host";
        return a;
    }
    if (mode == "none") return a;  // the runtime makes an empty namespace (only lo)
    if (starts_with(mode, "container:")) {
        CTL_ASSIGN_OR_RETURN(a.netns, container_netns(mode.substr(10)));
        return a;
    }
    std::lock_guard lock(mu_);
    release_locked(container_id);  // leftovers of an earlier run

    // The mode's network first (eth0, default route), then the others the container was
    // connected to while stopped (NetworkingConfig.EndpointsConfig).
    std::vector<Network> join;
    CTL_ASSIGN_OR_RETURN(auto primary, find_locked(mode == "default" ? "bridge" : mode));
    join.push_back(primary);
    if (endpoints_config.is_object()) {
        for (auto it = endpoints_config.begin(); it != endpoints_config.end(); ++it) {
            // The docker CLI keys the default network's endpoint as "default".
            auto n = find_locked(it.key() == "default" ? "bridge" : it.key());
            if (!n) return n.error();
            if (n->id != primary.id) join.push_back(*n);
        }
    }
    for (const auto& n : join) {
        if (n.driver != "bridge") return make_error(Errc::InvalidArgument, "network " + n.name + " cannot be joined");
    }

    const std::string netns = options_.exec_root + "/netns/" + container_id;
    std::vector<sys::UniqueFd> holders;
    CTL_TRY(store_.execute("INSERT INTO sandboxes (container_id, netns, ports) VALUES (?, ?, '[]')", {container_id, netns}));
    auto undo = [&](Error err) -> Error {
        release_locked(container_id);
        return err;
    };
    if (auto s = create_netns(netns); !s) return undo(s.error());
    auto ns_fd = open_netns(netns);
    if (!ns_fd) return undo(ns_fd.error());
    for (size_t i = 0; i < join.size(); ++i) {
        const Json* ep = endpoints_config.is_object() ? find_ci(endpoints_config, join[i].name) : nullptr;
        if (!ep && i == 0 && endpoints_config.is_object()) ep = find_ci(endpoints_config, "default");
        if (auto s = join_locked(container_id, container_name, join[i], ep, ns_fd->get(), i == 0); !s) return undo(s.error());
    }
    auto primary_address = store_.query("SELECT address FROM endpoints WHERE network_id = ? AND container_id = ?",
                                        {primary.id, container_id});
    if (!primary_address || primary_address->empty()) return undo(make_error(Errc::Internal, "endpoint vanished"));
    const uint32_t address = static_cast<uint32_t>(as_int((*primary_address)[0][0]));

    auto ports = publish_ports(container_id, host_config, exposed, address, holders);
    if (!ports) return undo(ports.error());
    Json port_records = Json::array();
    for (const auto& p : *ports) {
        port_records.push_back({{"Proto", p.protocol},
                                {"HostIp", p.host_ip ? ip_to_string(p.host_ip) : "0.0.0.0"},
                                {"HostIPNum", p.host_ip},
                                {"HostPort", p.host_port},
                                {"ContainerIPNum", p.container_ip},
                                {"ContainerPort", p.container_port}});
    }
    if (auto s = store_.execute("UPDATE sandboxes SET ports = ? WHERE container_id = ?", {port_records.dump(), container_id}); !s) {
        return undo(s.error());
    }
    // The ruleset is made of networks and published ports only: without ports nothing changes
    // (and one nftables transaction less per start).
    if (!ports->empty()) {
        if (auto s = refresh_firewall_locked(); !s) return undo(s.error());
    }
    port_holders_[container_id] = std::move(holders);
    a.netns = netns;
    a.primary_ip = ip_to_string(address);
    a.gateway = ip_to_string(primary.gateway);
    a.embedded_dns = dns_->has(container_id);
    return a;
}

void NetworkService::release_locked(const std::string& container_id) {
    auto rows = store_.query(
        "SELECT e.record, e.network_id FROM endpoints e WHERE e.container_id = ?", {container_id});
    std::string netns;
    bool had_ports = false;
    if (auto sandbox = store_.query("SELECT netns, ports FROM sandboxes WHERE container_id = ?", {container_id});
        sandbox && !sandbox->empty()) {
        netns = as_string((*sandbox)[0][0]);
        auto list = parse_json(as_string((*sandbox)[0][1]));
        had_ports = list && list->is_array() && !list->empty();
    }
    if (rows) {
        auto nl = Netlink::open();
        for (const auto& row : *rows) {
            auto rec = parse_json(as_string(row[0]));
            // Removing the namespace would take the veth with it, but only once every process in
            // it is gone: delete the host end now so the bridge port goes at once.
            if (rec && nl) (void)nl->delete_link(string_or(*rec, "Veth"));
            auto n = find_locked(as_string(row[1]));
            if (n) emit("disconnect", *n, {{"container", container_id}});
        }
    }
    if (dns_) dns_->remove(container_id);
    if (!netns.empty()) (void)remove_netns(netns);
    port_holders_.erase(container_id);
    (void)store_.transact([&]() -> Status {
        CTL_TRY(store_.execute("DELETE FROM endpoints WHERE container_id = ?", {container_id}));
        return store_.execute("DELETE FROM sandboxes WHERE container_id = ?", {container_id});
    });
    if (had_ports) (void)refresh_firewall_locked();  // see attach: only ports are per container
}

void NetworkService::detach(const std::string& container_id) {
    std::lock_guard lock(mu_);
    release_locked(container_id);
}

Json NetworkService::settings(const std::string& container_id, const std::string& network_mode,
                              const Json& endpoints_config, const Json& exposed) {
    std::lock_guard lock(mu_);
    Json networks = Json::object();
    Json ports = Json::object();
    if (exposed.is_object()) {
        for (auto it = exposed.begin(); it != exposed.end(); ++it) ports[it.key()] = nullptr;
    }
    std::string sandbox;
    auto blank_endpoint = [](const Json* cfg) {
        Json ep = {{"IPAMConfig", nullptr}, {"Links", nullptr}, {"Aliases", nullptr}, {"NetworkID", ""},
                   {"EndpointID", ""}, {"Gateway", ""}, {"IPAddress", ""}, {"IPPrefixLen", 0},
                   {"IPv6Gateway", ""}, {"GlobalIPv6Address", ""}, {"GlobalIPv6PrefixLen", 0},
                   {"MacAddress", ""}, {"DriverOpts", nullptr}};
        if (cfg && cfg->is_object()) {
            for (const char* k : {"IPAMConfig", "Links", "Aliases", "DriverOpts"}) {
                if (const Json* v = find_ci(*cfg, k)) ep[k] = *v;
            }
        }
        return ep;
    };
    std::string mode = network_mode.empty() || network_mode == "default" ? "bridge" : network_mode;
    if (!starts_with(mode, "container:")) {
        const Json* cfg = endpoints_config.is_object() ? find_ci(endpoints_config, mode) : nullptr;
        Json ep = blank_endpoint(cfg);
        if (auto n = find_locked(mode)) ep["NetworkID"] = n->id;
        networks[mode] = ep;
        // Networks connected while the container was stopped are listed before they are joined.
        if (endpoints_config.is_object()) {
            for (auto it = endpoints_config.begin(); it != endpoints_config.end(); ++it) {
                if (networks.contains(it.key()) || it.key() == "default") continue;
                Json other = blank_endpoint(&it.value());
                if (auto n = find_locked(it.key())) other["NetworkID"] = n->id;
                networks[it.key()] = other;
            }
        }
    }
    auto rows = store_.query("SELECT e.network_id, e.address, e.record, s.netns, s.ports FROM endpoints e "
                             "JOIN sandboxes s ON s.container_id = e.container_id WHERE e.container_id = ?",
                             {container_id});
    if (rows) {
        for (const auto& row : *rows) {
            auto n = find_locked(as_string(row[0]));
            if (!n) continue;
            auto rec = parse_json(as_string(row[2])).value_or(Json::object());
            const Json* cfg = endpoints_config.is_object() ? find_ci(endpoints_config, n->name) : nullptr;
            Json ep = blank_endpoint(cfg);
            ep["NetworkID"] = n->id;
            ep["EndpointID"] = string_or(rec, "EndpointID");
            ep["Gateway"] = ip_to_string(n->gateway);
            ep["IPAddress"] = ip_to_string(static_cast<uint32_t>(as_int(row[1])));
            ep["IPPrefixLen"] = n->subnet.prefix;
            ep["MacAddress"] = string_or(rec, "MacAddress");
            networks[n->name] = ep;
            sandbox = as_string(row[3]);
            auto list = parse_json(as_string(row[4]));
            if (list && list->is_array()) {
                for (const auto& p : *list) {
                    std::string key = std::to_string(int_or(p, "ContainerPort")) + "/" + string_or(p, "Proto", "tcp");
                    if (!ports[key].is_array()) ports[key] = Json::array();
                    ports[key].push_back({{"HostIp", string_or(p, "HostIp", "0.0.0.0")},
                                          {"HostPort", std::to_string(int_or(p, "HostPort"))}});
                }
            }
        }
    }
    // The top-level fields mirror the default bridge's endpoint, as in Docker.
    Json primary = networks.contains("bridge") ? networks["bridge"] : Json::object();
    return {{"Bridge", ""},
            {"SandboxID", sandbox.empty() ? "" : container_id},
            {"HairpinMode", false},
            {"LinkLocalIPv6Address", ""},
            {"LinkLocalIPv6PrefixLen", 0},
            {"Ports", ports},
            {"SandboxKey", sandbox},
            {"SecondaryIPAddresses", nullptr},
            {"SecondaryIPv6Addresses", nullptr},
            {"EndpointID", string_or(primary, "EndpointID")},
            {"Gateway", string_or(primary, "Gateway")},
            {"GlobalIPv6Address", ""},
            {"GlobalIPv6PrefixLen", 0},
            {"IPAddress", string_or(primary, "IPAddress")},
            {"IPPrefixLen", int_or(primary, "IPPrefixLen")},
            {"IPv6Gateway", ""},
            {"MacAddress", string_or(primary, "MacAddress")},
            {"Networks", networks}};
}

// ---- the /networks API ------------------------------------------------------------------------------

Result<Json> NetworkService::create_network(const Json& body) {
    if (!body.is_object()) return make_error(Errc::InvalidArgument, "invalid JSON: network create expects an object");
    std::string name = string_or(body, "Name");
    if (name.empty()) return make_error(Errc::InvalidArgument, "network name is required");
    if (!valid_network_name(name)) {
        return make_error(Errc::InvalidArgument, "invalid network name \"" + name + "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    std::string driver = string_or(body, "Driver", "bridge");
    if (driver.empty()) driver = "bridge";
    if (driver != "bridge") {
        if (driver == "host" || driver == "null") {
            return make_error(Errc::Forbidden, "only one instance of \"" + driver + "\" network is allowed");
        }
        return make_error(Errc::NotFound, "plugin \"" + driver + "\" not found");
    }
    std::lock_guard lock(mu_);
    if (find_locked(name)) return make_error(Errc::Conflict, "network with name " + name + " already exists");

    Network n;
    n.id = random_hex(64);
    n.name = name;
    n.driver = "bridge";
    n.created = now_unix_nanos();
    n.bridge = "br-" + n.id.substr(0, 12);
    n.internal = bool_or(body, "Internal");
    n.attachable = bool_or(body, "Attachable");
    n.labels = string_map(body.value("Labels", Json::object()));
    n.options = string_map(body.value("Options", Json::object()));
    if (auto it = n.options.find("com.docker.network.bridge.name"); it != n.options.end()) {
        if (it->second.empty() || it->second.size() > 15) return make_error(Errc::InvalidArgument, "invalid bridge name: " + it->second);
        n.bridge = it->second;
    }

    std::vector<Subnet> used = host_routes();
    for (const auto& other : all_locked()) {
        if (other.driver == "bridge") used.push_back(other.subnet);
    }
    const Json* ipam = find_ci(body, "IPAM");
    const Json* configs = ipam && ipam->is_object() ? find_ci(*ipam, "Config") : nullptr;
    std::string subnet_text, gateway_text;
    if (configs && configs->is_array()) {
        for (const auto& c : *configs) {
            std::string s = string_or(c, "Subnet");
            if (s.find(':') != std::string::npos) continue;  // IPv6: not supported, ignored
            subnet_text = s;
            gateway_text = string_or(c, "Gateway");
            break;
        }
    }
    if (!subnet_text.empty()) {
        CTL_ASSIGN_OR_RETURN(n.subnet, Subnet::parse(subnet_text));
        for (const auto& u : used) {
            if (u.overlaps(n.subnet)) return make_error(Errc::Forbidden, "Pool overlaps with other one on this address space");
        }
    } else {
        CTL_ASSIGN_OR_RETURN(n.subnet, choose_subnet(default_pools(), used));
    }
    n.gateway = n.subnet.network + 1;
    if (!gateway_text.empty()) {
        CTL_ASSIGN_OR_RETURN(n.gateway, parse_ip(gateway_text));
        if (!n.subnet.contains(n.gateway)) {
            return make_error(Errc::InvalidArgument, "no matching subnet for gateway " + gateway_text);
        }
    }
    CTL_TRY(save_network_locked(n));
    if (auto st = ensure_bridge(n); !st) {
        if (auto nl = Netlink::open()) (void)nl->delete_link(n.bridge);
        (void)firewall_.drop_forwarding(n.bridge);
        (void)delete_network_locked(n.id);
        return st.error();
    }
    if (auto st = refresh_firewall_locked(); !st) log::warn("network {}: firewall: {}", n.name, st.error().message);
    emit("create", n);
    return Json{{"Id", n.id}, {"Warning", ""}};
}

Result<Json> NetworkService::inspect_network(const std::string& key) {
    std::lock_guard lock(mu_);
    CTL_ASSIGN_OR_RETURN(auto n, find_locked(key));
    Json containers = Json::object();
    auto rows = store_.query("SELECT container_id, address, record FROM endpoints WHERE network_id = ?", {n.id});
    if (rows) {
        for (const auto& row : *rows) {
            auto rec = parse_json(as_string(row[2])).value_or(Json::object());
            containers[as_string(row[0])] = {{"Name", string_or(rec, "Name")},
                                             {"EndpointID", string_or(rec, "EndpointID")},
                                             {"MacAddress", string_or(rec, "MacAddress")},
                                             {"IPv4Address", ip_to_string(static_cast<uint32_t>(as_int(row[1]))) + "/" +
                                                                 std::to_string(n.subnet.prefix)},
                                             {"IPv6Address", ""}};
        }
    }
    Json config = Json::array();
    if (n.driver == "bridge") config.push_back({{"Subnet", n.subnet.str()}, {"Gateway", ip_to_string(n.gateway)}});
    Json options = Json::object();
    for (const auto& [k, v] : n.options) options[k] = v;
    return Json{{"Name", n.name},
                {"Id", n.id},
                {"Created", rfc3339_nano(n.created)},
                {"Scope", "local"},
                {"Driver", n.driver},
                {"EnableIPv6", false},
                {"IPAM", {{"Driver", "default"}, {"Options", nullptr}, {"Config", config}}},
                {"Internal", n.internal},
                {"Attachable", n.attachable},
                {"Ingress", false},
                {"ConfigFrom", {{"Network", ""}}},
                {"ConfigOnly", false},
                {"Containers", containers},
                {"Options", options},
                {"Labels", n.labels}};
}

Result<Json> NetworkService::list_networks(const Filters& filters) {
    std::vector<Network> all;
    {
        std::lock_guard lock(mu_);
        all = all_locked();
    }
    Json out = Json::array();
    for (const auto& n : all) {
        bool predefined = n.name == "bridge" || n.name == "host" || n.name == "none";
        if (filters.has("name")) {
            bool any = false;
            for (const auto& v : filters.get("name")) any = any || n.name.find(v) != std::string::npos;
            if (!any) continue;
        }
        if (filters.has("id")) {
            bool any = false;
            for (const auto& v : filters.get("id")) any = any || starts_with(n.id, v);
            if (!any) continue;
        }
        if (!filters.match_any("driver", n.driver)) continue;
        if (!filters.match_any("scope", "local")) continue;
        if (!filters.match_any("type", predefined ? "builtin" : "custom")) continue;
        if (!filters.match_labels(n.labels)) continue;
        auto j = inspect_network(n.id);
        if (!j) continue;
        if (filters.has("dangling")) {
            bool want = filters.get("dangling")[0] == "true" || filters.get("dangling")[0] == "1";
            bool dangling = !predefined && (*j)["Containers"].empty();
            if (want != dangling) continue;
        }
        (*j)["Containers"] = Json::object();  // Docker's list leaves them out
        out.push_back(*j);
    }
    return out;
}

Status NetworkService::remove_network(const std::string& key) {
    std::lock_guard lock(mu_);
    CTL_ASSIGN_OR_RETURN(auto n, find_locked(key));
    if (n.name == "bridge" || n.name == "host" || n.name == "none") {
        return make_error(Errc::Forbidden, n.name + " is a pre-defined network and cannot be removed");
    }
    auto rows = store_.query("SELECT container_id FROM endpoints WHERE network_id = ?", {n.id});
    if (rows && !rows->empty()) {
        return make_error(Errc::Conflict, "error while removing network: network " + n.name + " id " + n.id +
                                              " has active endpoints");
    }
    CTL_TRY(delete_network_locked(n.id));
    if (auto nl = Netlink::open()) (void)nl->delete_link(n.bridge);
    (void)firewall_.drop_forwarding(n.bridge);
    (void)refresh_firewall_locked();
    emit("destroy", n);
    return ok();
}

Result<Json> NetworkService::prune_networks(const Filters& filters) {
    std::vector<Network> all;
    {
        std::lock_guard lock(mu_);
        all = all_locked();
    }
    Json deleted = Json::array();
    for (const auto& n : all) {
        if (n.name == "bridge" || n.name == "host" || n.name == "none") continue;
        if (!filters.match_labels(n.labels)) continue;
        if (filters.has("label!")) {
            bool excluded = false;
            for (const auto& l : filters.get("label!")) {
                auto eq = l.find('=');
                auto it = n.labels.find(l.substr(0, eq));
                if (it != n.labels.end() && (eq == std::string::npos || it->second == l.substr(eq + 1))) excluded = true;
            }
            if (excluded) continue;
        }
        if (remove_network(n.id)) deleted.push_back(n.name);
    }
    return Json{{"NetworksDeleted", deleted}};
}

Status NetworkService::connect_container(const std::string& network, const Json& body) {
    if (!body.is_object()) return make_error(Errc::InvalidArgument, "invalid JSON: connect expects an object");
    std::string container = string_or(body, "Container");
    if (container.empty()) return make_error(Errc::InvalidArgument, "container is required");
    if (!containers_) return make_error(Errc::Unavailable, "containers are not available");
    CTL_ASSIGN_OR_RETURN(auto ref, containers_(container));
    const Json* ep = find_ci(body, "EndpointConfig");
    Json ep_config = ep && ep->is_object() ? *ep : Json::object();
    std::unique_lock lock(mu_);
    CTL_ASSIGN_OR_RETURN(auto n, find_locked(network));
    if (n.driver != "bridge") return make_error(Errc::Forbidden, "container cannot be connected to network " + n.name);
    if (ref.network_mode == "host" || ref.network_mode == "none" || starts_with(ref.network_mode, "container:")) {
        return make_error(Errc::Forbidden, "container sharing network namespace with another container or host cannot be connected to any other network");
    }
    auto existing = store_.query("SELECT 1 FROM endpoints WHERE network_id = ? AND container_id = ?", {n.id, ref.id});
    if (existing && !existing->empty()) {
        return make_error(Errc::Forbidden, "endpoint with name " + ref.name + " already exists in network " + n.name);
    }
    if (ref.running) {
        std::string netns = netns_path(ref.id);
        if (netns.empty()) return make_error(Errc::Conflict, "container " + ref.name + " has no network namespace of its own");
        CTL_ASSIGN_OR_RETURN(auto fd, open_netns(netns));
        const bool had_dns = dns_->has(ref.id);
        CTL_TRY(join_locked(ref.id, ref.name, n, &ep_config, fd.get(), false));
        if (!had_dns && dns_->has(ref.id) && !ref.resolv_conf_path.empty()) {
            // Like libnetwork: joining a user network switches the container to the embedded DNS.
            // The file is bind-mounted: rewrite it in place, a rename would not be seen inside.
            int out = ::open(ref.resolv_conf_path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
            if (out >= 0) {
                sys::UniqueFd owned(out);
                (void)sys::write_all(out, std::string("nameserver ") + kEmbeddedDnsAddress + "\noptions ndots:0\n");
            }
        }
    }
    lock.unlock();  // the container's own lock is never taken inside ours
    // Recorded in the container's NetworkingConfig so later starts join it too.
    return ref.remember(n.name, ep_config);
}

Status NetworkService::disconnect_container(const std::string& network, const Json& body) {
    if (!body.is_object()) return make_error(Errc::InvalidArgument, "invalid JSON: disconnect expects an object");
    std::string container = string_or(body, "Container");
    if (container.empty()) return make_error(Errc::InvalidArgument, "container is required");
    if (!containers_) return make_error(Errc::Unavailable, "containers are not available");
    CTL_ASSIGN_OR_RETURN(auto ref, containers_(container));
    std::unique_lock lock(mu_);
    CTL_ASSIGN_OR_RETURN(auto n, find_locked(network));
    auto rows = store_.query("SELECT record FROM endpoints WHERE network_id = ? AND container_id = ?", {n.id, ref.id});
    if (!rows) return rows.error();
    if (rows->empty() && !ref.configured.count(n.name)) {
        return make_error(Errc::Forbidden, "container " + ref.id + " is not connected to network " + n.name);
    }
    if (!rows->empty()) {
        auto rec = parse_json(as_string((*rows)[0][0])).value_or(Json::object());
        if (auto nl = Netlink::open()) (void)nl->delete_link(string_or(rec, "Veth"));
        CTL_TRY(store_.execute("DELETE FROM endpoints WHERE network_id = ? AND container_id = ?", {n.id, ref.id}));
        emit("disconnect", n, {{"container", ref.id}});
    }
    lock.unlock();
    return ref.forget(n.name);
}

}  // namespace ctl::net
