// ctl network create / ls / inspect / rm / prune / connect / disconnect, and ctl port, with the
// docker CLI's flags and output.
#include <algorithm>
#include <iostream>
#include <optional>

#include "client/commands/commands.hpp"
#include "engine/base/util.hpp"

namespace ctl::client {

namespace {

struct CreateOptions {
    std::string name;
    std::string driver = "bridge";
    std::vector<std::string> subnets, gateways, labels, opts;
    bool internal = false, attachable = false;
};

struct ListOptions {
    bool quiet = false, no_trunc = false;
    std::vector<std::string> filters;
    std::string format;
};

struct InspectOptions {
    std::vector<std::string> names;
    std::string format;
};

struct RemoveOptions {
    std::vector<std::string> names;
};

struct PruneOptions {
    bool force = false;
    std::vector<std::string> filters;
};

struct ConnectOptions {
    std::string network, container, ip;
    std::vector<std::string> aliases;
    bool force = false;
};

struct PortOptions {
    std::string container, port;
};

Result<Json> labels_of(const std::vector<std::string>& items) {
    Json out = Json::object();
    for (const auto& item : items) {
        auto eq = item.find('=');
        if (eq == 0) return usage_error("invalid argument \"" + item + "\": empty key");
        out[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
    }
    return out;
}

Status create(Context& ctx, const CreateOptions& o) {
    if (o.gateways.size() > o.subnets.size()) return usage_error("every --gateway needs a --subnet");
    Json configs = Json::array();
    for (size_t i = 0; i < o.subnets.size(); ++i) {
        Json c = {{"Subnet", o.subnets[i]}};
        if (i < o.gateways.size()) c["Gateway"] = o.gateways[i];
        configs.push_back(c);
    }
    CTL_ASSIGN_OR_RETURN(auto labels, labels_of(o.labels));
    CTL_ASSIGN_OR_RETURN(auto options, labels_of(o.opts));
    Json body = {{"Name", o.name},          {"Driver", o.driver},         {"CheckDuplicate", true},
                 {"Internal", o.internal},  {"Attachable", o.attachable}, {"Labels", labels},
                 {"Options", options},      {"IPAM", {{"Driver", "default"}, {"Config", configs}}}};
    CTL_ASSIGN_OR_RETURN(auto resp, ctx.http().request(Request("POST", "/networks/create").json(body)));
    CTL_ASSIGN_OR_RETURN(auto doc, resp.json());
    ctx.out() << string_or(doc, "Id") << "\n";
    return ok();
}

Status list(Context& ctx, const ListOptions& o) {
    Query q;
    CTL_ASSIGN_OR_RETURN(auto filters_text, filters_json(o.filters));
    if (!filters_text.empty()) q.emplace_back("filters", filters_text);
    CTL_ASSIGN_OR_RETURN(auto doc, ctx.get_json("/networks", q));
    std::vector<Json> rows;
    for (const auto& n : doc.is_array() ? doc : Json::array()) {
        std::string id = string_or(n, "Id");
        rows.push_back({{"ID", o.no_trunc ? id : id.substr(0, 12)},
                        {"Name", string_or(n, "Name")},
                        {"Driver", string_or(n, "Driver")},
                        {"Scope", string_or(n, "Scope")},
                        {"Internal", bool_or(n, "Internal") ? "true" : "false"},
                        {"CreatedAt", string_or(n, "Created")}});
    }
    std::sort(rows.begin(), rows.end(), [](const Json& a, const Json& b) {
        return a["Name"].get<std::string>() < b["Name"].get<std::string>();
    });
    std::string format = o.quiet && (o.format.empty() || o.format == "table") ? "{{.ID}}" : o.format;
    CTL_ASSIGN_OR_RETURN(auto text, format_rows(format, "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", rows,
                                                 {{"ID", "NETWORK ID"}}));
    ctx.out() << text;
    return ok();
}

Status inspect(Context& ctx, const InspectOptions& o) { return inspect_objects(ctx, "/networks/", o.names, o.format); }

Status remove(Context& ctx, const RemoveOptions& o) {
    bool failed = false;
    for (const auto& name : o.names) {
        auto resp = ctx.http().request("DELETE", "/networks/" + name, {});
        if (!resp) {
            ctx.report(resp.error());
            failed = true;
            continue;
        }
        ctx.out() << name << "\n";
    }
    if (failed) ctx.set_exit_code(kExitError);
    return ok();
}

Status prune(Context& ctx, const PruneOptions& o) {
    if (!o.force && !confirm(ctx, "WARNING! This will remove all custom networks not used by at least one container.\n")) return ok();
    Query q;
    CTL_ASSIGN_OR_RETURN(auto filters_text, filters_json(o.filters));
    if (!filters_text.empty()) q.emplace_back("filters", filters_text);
    CTL_ASSIGN_OR_RETURN(auto resp, ctx.http().request("POST", "/networks/prune", q));
    CTL_ASSIGN_OR_RETURN(auto report, resp.json());
    if (const Json* deleted = find_ci(report, "NetworksDeleted"); deleted && deleted->is_array() && !deleted->empty()) {
        ctx.out() << "Deleted Networks:\n";
        for (const auto& name : *deleted) ctx.out() << go_print(name) << "\n";
    }
    return ok();
}

Status connect(Context& ctx, const ConnectOptions& o) {
    Json endpoint = Json::object();
    if (!o.aliases.empty()) endpoint["Aliases"] = o.aliases;
    if (!o.ip.empty()) endpoint["IPAMConfig"] = {{"IPv4Address", o.ip}};
    Json body = {{"Container", o.container}, {"EndpointConfig", endpoint}};
    auto resp = ctx.http().request(Request("POST", "/networks/" + o.network + "/connect").json(body));
    if (!resp) return resp.error();
    return ok();
}

Status disconnect(Context& ctx, const ConnectOptions& o) {
    Json body = {{"Container", o.container}, {"Force", o.force}};
    auto resp = ctx.http().request(Request("POST", "/networks/" + o.network + "/disconnect").json(body));
    if (!resp) return resp.error();
    return ok();
}

// `ctl port web [80[/tcp]]`: the published bindings from inspect's NetworkSettings.Ports.
Status port(Context& ctx, const PortOptions& o) {
    CTL_ASSIGN_OR_RETURN(auto info, ctx.get_json("/containers/" + o.container + "/json"));
    const Json* settings = find_ci(info, "NetworkSettings");
    const Json* ports = settings ? find_ci(*settings, "Ports") : nullptr;
    std::string wanted = o.port;
    if (!wanted.empty() && wanted.find('/') == std::string::npos) wanted += "/tcp";
    std::vector<std::pair<std::string, std::string>> lines;
    if (ports && ports->is_object()) {
        for (auto it = ports->begin(); it != ports->end(); ++it) {
            if (!wanted.empty() && it.key() != wanted) continue;
            if (!it.value().is_array()) continue;
            for (const auto& b : it.value()) {
                lines.emplace_back(it.key(), string_or(b, "HostIp", "0.0.0.0") + ":" + string_or(b, "HostPort"));
            }
        }
    }
    if (lines.empty() && !wanted.empty()) {
        return make_error(Errc::NotFound, "No public port '" + wanted + "' published for " + o.container);
    }
    for (const auto& [key, binding] : lines) {
        if (wanted.empty()) ctx.out() << key << " -> ";
        ctx.out() << binding << "\n";
    }
    return ok();
}

}  // namespace

void add_network_commands(CLI::App& app, Context& ctx) {
    CLI::App* group = add_group(app, ctx, "network", "Manage networks");
    add_command<CreateOptions>(
        *group, ctx, "create", "Create a network",
        [](CLI::App& c, CreateOptions& o) {
            c.add_option("NETWORK", o.name, "Network name")->required();
            c.add_option("-d,--driver", o.driver, "Driver to manage the Network")->capture_default_str();
            c.add_option("--subnet", o.subnets, "Subnet in CIDR format that represents a network segment");
            c.add_option("--gateway", o.gateways, "IPv4 Gateway for the master subnet");
            c.add_flag("--internal", o.internal, "Restrict external access to the network");
            c.add_flag("--attachable", o.attachable, "Enable manual container attachment");
            c.add_option("--label", o.labels, "Set metadata on a network");
            c.add_option("-o,--opt", o.opts, "Set driver specific options");
        },
        create);
    auto* ls = add_command<ListOptions>(
        *group, ctx, "ls", "List networks",
        [](CLI::App& c, ListOptions& o) {
            c.add_flag("-q,--quiet", o.quiet, "Only display network IDs");
            c.add_flag("--no-trunc", o.no_trunc, "Do not truncate the output");
            c.add_option("-f,--filter", o.filters, "Provide filter values (e.g. \"driver=bridge\")");
            c.add_option("--format", o.format, "Format output using a custom template ('table', 'json', or a Go template)");
        },
        list);
    ls->alias("list");
    add_command<InspectOptions>(
        *group, ctx, "inspect", "Display detailed information on one or more networks",
        [](CLI::App& c, InspectOptions& o) {
            c.add_option("NETWORK", o.names, "Networks")->required();
            c.add_option("-f,--format", o.format, "Format output using a custom template ('json' or a Go template)");
        },
        inspect);
    auto* rm = add_command<RemoveOptions>(
        *group, ctx, "rm", "Remove one or more networks",
        [](CLI::App& c, RemoveOptions& o) { c.add_option("NETWORK", o.names, "Networks")->required(); }, remove);
    rm->alias("remove");
    add_command<PruneOptions>(
        *group, ctx, "prune", "Remove all unused networks",
        [](CLI::App& c, PruneOptions& o) {
            c.add_flag("-f,--force", o.force, "Do not prompt for confirmation");
            c.add_option("--filter", o.filters, "Provide filter values (e.g. \"label=<label>\")");
        },
        prune);
    add_command<ConnectOptions>(
        *group, ctx, "connect", "Connect a container to a network",
        [](CLI::App& c, ConnectOptions& o) {
            c.add_option("NETWORK", o.network, "Network")->required();
            c.add_option("CONTAINER", o.container, "Container")->required();
            c.add_option("--alias", o.aliases, "Add network-scoped alias for the container");
            c.add_option("--ip", o.ip, "IPv4 address (e.g., \"172.30.100.104\")");
        },
        connect);
    add_command<ConnectOptions>(
        *group, ctx, "disconnect", "Disconnect a container from a network",
        [](CLI::App& c, ConnectOptions& o) {
            c.add_option("NETWORK", o.network, "Network")->required();
            c.add_option("CONTAINER", o.container, "Container")->required();
            c.add_flag("-f,--force", o.force, "Force the container to disconnect from a network");
        },
        disconnect);
    add_command<PortOptions>(
        app, ctx, "port", "List port mappings or a specific mapping for the container",
        [](CLI::App& c, PortOptions& o) {
            c.add_option("CONTAINER", o.container, "Container")->required();
            c.add_option("PRIVATE_PORT", o.port, "PRIVATE_PORT[/PROTO]");
        },
        port);
}

}  // namespace ctl::client
