// /networks/*.
#pragma once

#include <string>

#include "api/router.hpp"

namespace ctl::api {

// What the network routes need from the engine. Everything may block. Network objects are
// Docker's JSON (Name, Id, Created, Scope, Driver, EnableIPv6, IPAM, Internal, Attachable,
// Ingress, ConfigFrom, ConfigOnly, Containers, Options, Labels).
class NetworkBackend {
public:
    virtual ~NetworkBackend() = default;
    // `body` is the create request (Name, Driver, IPAM, Internal, Attachable, Labels, Options,
    // CheckDuplicate). {"Id", "Warning"}; Conflict when the name exists.
    virtual Result<Json> create_network(const Json& body) = 0;
    virtual Result<Json> list_networks(const Filters& filters) = 0;
    virtual Result<Json> inspect_network(const std::string& name) = 0;
    virtual Status remove_network(const std::string& name) = 0;  // Conflict while in use
    virtual Result<Json> prune_networks(const Filters& filters) = 0;  // {"NetworksDeleted": [...]}
    virtual Status connect_container(const std::string& network, const Json& body) = 0;     // Container, EndpointConfig
    virtual Status disconnect_container(const std::string& network, const Json& body) = 0;  // Container, Force
};

void register_network_routes(Router& router, NetworkBackend& backend);

}  // namespace ctl::api
