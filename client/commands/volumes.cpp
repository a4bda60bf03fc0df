// ctl volume create / ls / inspect / rm / prune, with the docker CLI's flags and output.
#include <algorithm>
#include <iostream>
#include <optional>

#include "client/commands/commands.hpp"
#include "engine/base/util.hpp"

namespace ctl::client {

namespace {

struct CreateOptions {
    std::string name;  // positional
    std::string name_flag;  // --name (docker keeps it, hidden)
    std::string driver = "local";
    std::vector<std::string> opts;
    std::vector<std::string> labels;
};

struct ListOptions {
    bool quiet = false;
    std::vector<std::string> filters;
    std::string format;
};

struct InspectOptions {
    std::vector<std::string> names;
    std::string format;
};

struct RemoveOptions {
    std::vector<std::string> names;
    bool force = false;
};

struct PruneOptions {
    bool force = false;
    bool all = false;
    std::vector<std::string> filters;
};

// "k=v" flags as a JSON object; "k" alone maps to "" (docker's --label), `-o` needs the "=".
Result<Json> key_values(const std::vector<std::string>& items, const std::string& flag, bool value_required) {
    Json out = Json::object();
    for (const auto& item : items) {
        auto eq = item.find('=');
        if (eq == std::string::npos) {
            if (value_required) return usage_error("invalid argument \"" + item + "\" for \"" + flag + "\" flag: expected key=value");
            out[item] = "";
            continue;
        }
        if (eq == 0) return usage_error("invalid argument \"" + item + "\" for \"" + flag + "\" flag: empty key");
        out[item.substr(0, eq)] = item.substr(eq + 1);
    }
    return out;
}

Status create(Context& ctx, const CreateOptions& o) {
    if (!o.name.empty() && !o.name_flag.empty() && o.name != o.name_flag) {
        return usage_error("conflicting options: either specify --name or provide positional arg, not both");
    }
    std::string name = o.name.empty() ? o.name_flag : o.name;
    CTL_ASSIGN_OR_RETURN(auto opts, key_values(o.opts, "--opt", true));
    CTL_ASSIGN_OR_RETURN(auto labels, key_values(o.labels, "--label", false));
    Json body = {{"Name", name}, {"Driver", o.driver}, {"DriverOpts", opts}, {"Labels", labels}};
    CTL_ASSIGN_OR_RETURN(auto resp, ctx.http().request(Request("POST", "/volumes/create").json(body)));
    CTL_ASSIGN_OR_RETURN(auto volume, resp.json());
    ctx.out() << string_or(volume, "Name") << "\n";
    return ok();
}

// The fields `volume ls --format` offers (docker's volume formatter).
Json list_row(const Json& v) {
    std::vector<std::string> labels;
    if (const Json* l = find_ci(v, "Labels"); l && l->is_object()) {
        for (auto it = l->begin(); it != l->end(); ++it) labels.push_back(it.key() + "=" + go_print(*it));
    }
    std::sort(labels.begin(), labels.end());
    std::string joined;
    for (const auto& l : labels) joined += (joined.empty() ? "" : ",") + l;
    const Json* usage = find_ci(v, "UsageData");
    int64_t size = usage ? int_or(*usage, "Size", -1) : -1;
    return Json{{"Driver", string_or(v, "Driver")},
                {"Labels", joined},
                {"Links", usage ? std::to_string(int_or(*usage, "RefCount")) : "N/A"},
                {"Mountpoint", string_or(v, "Mountpoint")},
                {"Name", string_or(v, "Name")},
                {"Scope", string_or(v, "Scope")},
                {"Size", size < 0 ? "N/A" : human_size(static_cast<double>(size))}};
}

Status list(Context& ctx, const ListOptions& o) {
    Query q;
    CTL_ASSIGN_OR_RETURN(auto filters_text, filters_json(o.filters));
    if (!filters_text.empty()) q.emplace_back("filters", filters_text);
    CTL_ASSIGN_OR_RETURN(auto doc, ctx.get_json("/volumes", q));
    std::vector<Json> rows;
    if (const Json* volumes = find_ci(doc, "Volumes"); volumes && volumes->is_array()) {
        for (const auto& v : *volumes) rows.push_back(list_row(v));
    }
    std::sort(rows.begin(), rows.end(), [](const Json& a, const Json& b) {
        return a["Name"].get<std::string>() < b["Name"].get<std::string>();
    });
    if (const Json* warnings = find_ci(doc, "Warnings"); warnings && warnings->is_array()) {
        for (const auto& w : *warnings) ctx.err() << go_print(w) << "\n";
    }
    std::string format = o.quiet && (o.format.empty() || o.format == "table") ? "{{.Name}}" : o.format;
    CTL_ASSIGN_OR_RETURN(auto text, format_rows(format, "table {{.Driver}}\t{{.Name}}", rows,
                                                 {{"Name", "VOLUME NAME"}}));
    ctx.out() << text;
    return ok();
}

Status inspect(Context& ctx, const InspectOptions& o) { return inspect_objects(ctx, "/volumes/", o.names, o.format); }

Status remove(Context& ctx, const RemoveOptions& o) {
    for (const auto& name : o.names) {
        Query q;
        if (o.force) q.emplace_back("force", "1");
        auto resp = ctx.http().request("DELETE", "/volumes/" + name, q);
        if (!resp) {
            ctx.report(resp.error());
            continue;
        }
        ctx.out() << name << "\n";
    }
    return ok();
}

Status prune(Context& ctx, const PruneOptions& o) {
    if (!o.force && !confirm(ctx, "WARNING! This will remove all local volumes not used by at least one container.\n")) return ok();
    Query q;
    CTL_ASSIGN_OR_RETURN(auto filters_text, filters_json(o.filters));
    if (!filters_text.empty()) q.emplace_back("filters", filters_text);
    CTL_ASSIGN_OR_RETURN(auto resp, ctx.http().request("POST", "/volumes/prune", q));
    CTL_ASSIGN_OR_RETURN(auto report, resp.json());
    if (const Json* deleted = find_ci(report, "VolumesDeleted"); deleted && deleted->is_array() && !deleted->empty()) {
        ctx.out() << "Deleted Volumes:\n";
        for (const auto& name : *deleted) ctx.out() << go_print(name) << "\n";
        ctx.out() << "\n";
    }
    ctx.out() << "Total reclaimed space: " << human_size(static_cast<double>(int_or(report, "SpaceReclaimed"))) << "\n";
    return ok();
}

}  // namespace

void add_volume_commands(CLI::App& app, Context& ctx) {
    CLI::App* group = add_group(app, ctx, "volume", "Manage volumes");
    add_command<CreateOptions>(
        *group, ctx, "create", "Create a volume",
        [](CLI::App& c, CreateOptions& o) {
            c.add_option("VOLUME", o.name, "Volume name");
            c.add_option("--name", o.name_flag, "Specify volume name")->group("");
            c.add_option("-d,--driver", o.driver, "Specify volume driver name")->capture_default_str();
            c.add_option("-o,--opt", o.opts, "Set driver specific options");
            c.add_option("--label", o.labels, "Set metadata for a volume");
        },
        create);
    auto* ls = add_command<ListOptions>(
        *group, ctx, "ls", "List volumes",
        [](CLI::App& c, ListOptions& o) {
            c.add_flag("-q,--quiet", o.quiet, "Only display volume names");
            c.add_option("-f,--filter", o.filters, "Provide filter values (e.g. \"dangling=true\")");
            c.add_option("--format", o.format, "Format output using a custom template ('table', 'json', or a Go template)");
        },
        list);
    ls->alias("list");
    add_command<InspectOptions>(
        *group, ctx, "inspect", "Display detailed information on one or more volumes",
        [](CLI::App& c, InspectOptions& o) {
            c.add_option("VOLUME", o.names, "Volumes")->required();
            c.add_option("-f,--format", o.format, "Format output using a custom template ('json' or a Go template)");
        },
        inspect);
    auto* rm = add_command<RemoveOptions>(
        *group, ctx, "rm", "Remove one or more volumes",
        [](CLI::App& c, RemoveOptions& o) {
            c.add_option("VOLUME", o.names, "Volumes")->required();
            c.add_flag("-f,--force", o.force, "Force the removal of one or more volumes");
        },
        remove);
    rm->alias("remove");
    add_command<PruneOptions>(
        *group, ctx, "prune", "Remove unused local volumes",
        [](CLI::App& c, PruneOptions& o) {
            c.add_flag("-f,--force", o.force, "Do not prompt for confirmation");
            c.add_flag("-a,--all", o.all, "Remove all unused volumes, not just anonymous ones (API 1.41 always does)");
            c.add_option("--filter", o.filters, "Provide filter values (e.g. \"label=<label>\")");
        },
        prune);
}

}  // namespace ctl::client
