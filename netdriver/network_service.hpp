// Networks and container endpoints: Docker's `bridge` driver (the default network on its own
// bridge, and user-defined networks each on a `br-<id>` bridge), `host`, `none` and
// `container:<id>`. Records and address allocations live in the store; links, addresses and
// routes are made over rtnetlink (netlink.hpp); NAT, published ports and isolation are one
// nftables table (firewall.hpp) rebuilt from the store on every change.
//
// A container's endpoints exist while it runs: attach() at start makes its network namespace,
// veths, addresses and port rules; detach() at exit undoes all of it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "api/routers/network_routes.hpp"
#include "engine/base/sys.hpp"
#include "engine/events/event_bus.hpp"
#include "engine/store/store.hpp"
#include "netdriver/dns_server.hpp"
#include "netdriver/firewall.hpp"
#include "netdriver/ipam.hpp"

namespace ctl::net {

struct NetworkOptions {
    std::string exec_root;              // network namespaces live in <exec_root>/netns
    std::string bridge_name = "ctl0";   // the default network's bridge (--bridge)
    std::string bip;                    // the default network's gateway/prefix (--bip), "" = pick
    std::string table;                  // this instance's nftables table
    std::vector<std::string> dns;       // upstream resolvers for the embedded DNS ("" = host's)
};

// What a started container's networking looks like.
struct Attachment {
    // The runtime's network namespace: "" = a new empty one (none), "host", or a path to join.
    std::string netns;
    std::string primary_ip;  // the first network's address ("" when none)
    std::string gateway;
    bool embedded_dns = false;  // resolv.conf must point at 127.0.0.11 (user-defined networks)
};

// What connect/disconnect need to know about a container, and how to record the change in its
// NetworkingConfig (called without the network service's lock held).
struct ContainerRef {
    std::string id, name, network_mode;
    bool running = false;
    std::set<std::string> configured;  // networks in its NetworkingConfig.EndpointsConfig
    std::string resolv_conf_path;      // bind-mounted into the running container
    std::function<Status(const std::string& network, const Json& endpoint_config)> remember;
    std::function<Status(const std::string& network)> forget;
};

class NetworkService : public api::NetworkBackend {
public:
    using ContainerLookup = std::function<Result<ContainerRef>(const std::string& name_or_id)>;
    void set_container_lookup(ContainerLookup lookup) { containers_ = std::move(lookup); }

    NetworkService(store::Store& store, events::EventBus& bus, NetworkOptions options);
    ~NetworkService() override;

    // Creates the predefined networks, then reconciles bridges and rules with the store:
    // endpoints of containers in `running` are kept (ports reserved again), others released.
    Status init(const std::set<std::string>& running);

    // At container start. `host_config` gives NetworkMode, PortBindings, PublishAllPorts;
    // `endpoints_config` is NetworkingConfig.EndpointsConfig; `exposed` is Config.ExposedPorts.
    // `resolve_container` maps container:<name> to its id. All or nothing.
    Result<Attachment> attach(const std::string& container_id, const std::string& container_name, const Json& host_config,
                              const Json& endpoints_config, const Json& exposed,
                              const std::function<Result<std::string>(const std::string&)>& container_netns);
    // At container exit or failed start. Idempotent.
    void detach(const std::string& container_id);
    // inspect's NetworkSettings fields: {"Networks": {...}, "Ports": {...}, "SandboxKey", ...}.
    Json settings(const std::string& container_id, const std::string& network_mode, const Json& endpoints_config,
                  const Json& exposed);
    // What `--add-host NAME:host-gateway` means: the default bridge's gateway (the host's
    // address on ctl0, like docker0's for Docker). "" when there is no default bridge.
    std::string host_gateway();
    // The network namespace a running container's endpoints live in ("" when it has none).
    std::string netns_path(const std::string& container_id) const;
    // Networks (names) a container would join, to validate at create: NotFound for unknown ones.
    Status validate_mode(const std::string& network_mode);

    // api::NetworkBackend
    Result<Json> create_network(const Json& body) override;
    Result<Json> list_networks(const Filters& filters) override;
    Result<Json> inspect_network(const std::string& name) override;
    Status remove_network(const std::string& name) override;
    Result<Json> prune_networks(const Filters& filters) override;
    Status connect_container(const std::string& network, const Json& body) override;
    Status disconnect_container(const std::string& network, const Json& body) override;

    // Everything this instance added to the host: bridges of user networks, rules (for tests
    // and `ctld --cleanup`-like use). The default bridge stays, like docker0.
    struct Network;

private:
    Result<Network> find_locked(const std::string& name_or_id);
    // The networks, parsed once per change of the table. The reference is good until the next
    // all_locked() after a save/delete: copy it to hold it across those.
    const std::vector<Network>& all_locked();
    Status ensure_bridge(const Network& n);
    Status refresh_firewall_locked();
    Status save_network_locked(const Network& n);
    Status delete_network_locked(const std::string& id);
    void emit(const std::string& action, const Network& n, std::map<std::string, std::string> attrs = {});
    Result<std::vector<PublishedPort>> publish_ports(const std::string& container_id, const Json& host_config,
                                                     const Json& exposed, uint32_t container_ip,
                                                     std::vector<sys::UniqueFd>& holders);
    void release_locked(const std::string& container_id);
    Result<uint32_t> pick_address_locked(const Network& n, const Json* endpoint_config);
    // One endpoint: address, veth into the namespace (eth<N>), DNS socket for user networks.
    Status join_locked(const std::string& container_id, const std::string& container_name, const Network& n,
                       const Json* endpoint_config, int netns_fd, bool primary);

    store::Store& store_;
    events::EventBus& bus_;
    NetworkOptions options_;
    Firewall firewall_;
    mutable std::mutex mu_;
    std::map<std::string, std::vector<sys::UniqueFd>> port_holders_;  // container id -> bound sockets
    std::unique_ptr<DnsServer> dns_;
    ContainerLookup containers_;
    std::vector<Network> networks_cache_;  // all_locked()'s answer while networks_cached_
    bool networks_cached_ = false;
    // The embedded DNS server's view: addresses of `name` on the user networks of container_id.
    std::vector<uint32_t> resolve(const std::string& container_id, const std::string& name);
};

struct NetworkService::Network {
    std::string id, name, driver;  // driver: bridge | host | null
    int64_t created = 0;
    Subnet subnet;
    uint32_t gateway = 0;
    std::string bridge;
    bool internal = false, attachable = false;
    std::map<std::string, std::string> labels, options;

    Json to_record() const;
    static Network from_record(const Json& j);
};

}  // namespace ctl::net
