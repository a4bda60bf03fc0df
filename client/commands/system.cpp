// ctl version, info, system df, system info, events.
#include <sys/utsname.h>

#include <iostream>

#include "client/cli.hpp"
#include "engine/base/util.hpp"

namespace ctl::client {

namespace {

std::string client_arch() {
    struct utsname u {};
    ::uname(&u);
    std::string m = u.machine;
    return m == "x86_64" ? "amd64" : m == "aarch64" ? "arm64" : m;
}

Json client_version_json() {
    return {{"Platform", {{"Name", "ctl"}}},
            {"Version", CTL_VERSION},
            {"ApiVersion", "1.41"},
            {"DefaultAPIVersion", "1.41"},
            {"GitCommit", CTL_GIT_COMMIT},
            {"GoVersion", "gcc " __VERSION__},
            {"Os", "linux"},
            {"Arch", client_arch()},
            {"BuildTime", CTL_BUILD_TIME}};
}

void print_kv(const std::string& indent, const std::string& key, const std::string& value, size_t width = 18) {
    std::string label = key + ":";
    if (label.size() < width) label += std::string(width - label.size(), ' ');
    std::cout << indent << label << value << "\n";
}

void print_client_version(const Json& c) {
    std::cout << "Client:\n";
    print_kv(" ", "Version", string_or(c, "Version"));
    print_kv(" ", "API version", string_or(c, "ApiVersion"));
    print_kv(" ", "Compiler", string_or(c, "GoVersion"));
    print_kv(" ", "Git commit", string_or(c, "GitCommit"));
    print_kv(" ", "Built", string_or(c, "BuildTime"));
    print_kv(" ", "OS/Arch", string_or(c, "Os") + "/" + string_or(c, "Arch"));
}

void print_server_version(const Json& s) {
    std::cout << "\nServer: " << string_or(*find_ci(s, "Platform"), "Name") << "\n";
    std::cout << " Engine:\n";
    print_kv("  ", "Version", string_or(s, "Version"), 17);
    print_kv("  ", "API version",
             string_or(s, "ApiVersion") + " (minimum version " + string_or(s, "MinAPIVersion") + ")", 17);
    print_kv("  ", "Compiler", string_or(s, "GoVersion"), 17);
    print_kv("  ", "Git commit", string_or(s, "GitCommit"), 17);
    print_kv("  ", "Built", string_or(s, "BuildTime"), 17);
    print_kv("  ", "OS/Arch", string_or(s, "Os") + "/" + string_or(s, "Arch"), 17);
    print_kv("  ", "Kernel Version", string_or(s, "KernelVersion"), 17);
    print_kv("  ", "Experimental", bool_or(s, "Experimental") ? "true" : "false", 17);
}

Status version(Context& ctx, const std::string& format) {
    Json client = client_version_json();
    auto server = ctx.get_json("/version");
    Json both = {{"Client", client}, {"Server", server ? *server : Json(nullptr)}};
    if (!format.empty()) {
        // Like docker: the template still renders what is known, then the error is reported.
        CTL_TRY(ctx.print_formatted(format, both, [] {}));
        return server ? ok() : Status(server.error());
    }
    print_client_version(client);
    if (!server) return server.error();
    print_server_version(*server);
    return ok();
}

std::string json_str(const Json& j, const char* key) {
    const Json* v = find_ci(j, key);
    if (!v) return "";
    return v->is_string() ? v->get<std::string>() : go_print(*v);
}

void print_info(const Json& i) {
    std::cout << "Client:\n Version:    " << CTL_VERSION << "\n Debug Mode: false\n\n";
    std::cout << "Server:\n";
    std::cout << " Containers: " << json_str(i, "Containers") << "\n";
    std::cout << "  Running: " << json_str(i, "ContainersRunning") << "\n";
    std::cout << "  Paused: " << json_str(i, "ContainersPaused") << "\n";
    std::cout << "  Stopped: " << json_str(i, "ContainersStopped") << "\n";
    std::cout << " Images: " << json_str(i, "Images") << "\n";
    std::cout << " Server Version: " << json_str(i, "ServerVersion") << "\n";
    std::cout << " Storage Driver: " << json_str(i, "Driver") << "\n";
    if (const Json* ds = find_ci(i, "DriverStatus"); ds && ds->is_array()) {
        for (const auto& pair : *ds) {
            if (pair.is_array() && pair.size() == 2) std::cout << "  " << go_print(pair[0]) << ": " << go_print(pair[1]) << "\n";
        }
    }
    std::cout << " Logging Driver: " << json_str(i, "LoggingDriver") << "\n";
    std::cout << " Cgroup Driver: " << json_str(i, "CgroupDriver") << "\n";
    std::cout << " Cgroup Version: " << json_str(i, "CgroupVersion") << "\n";
    if (const Json* rt = find_ci(i, "Runtimes"); rt && rt->is_object() && !rt->empty()) {
        std::cout << " Runtimes:";
        for (auto it = rt->begin(); it != rt->end(); ++it) std::cout << " " << it.key();
        std::cout << "\n";
    }
    std::cout << " Default Runtime: " << json_str(i, "DefaultRuntime") << "\n";
    std::cout << " Kernel Version: " << json_str(i, "KernelVersion") << "\n";
    std::cout << " Operating System: " << json_str(i, "OperatingSystem") << "\n";
    std::cout << " OSType: " << json_str(i, "OSType") << "\n";
    std::cout << " Architecture: " << json_str(i, "Architecture") << "\n";
    std::cout << " CPUs: " << json_str(i, "NCPU") << "\n";
    double mem = 0;
    if (const Json* m = find_ci(i, "MemTotal"); m && m->is_number()) mem = m->get<double>();
    char membuf[32];
    snprintf(membuf, sizeof membuf, "%.2fGiB", mem / (1024.0 * 1024 * 1024));
    std::cout << " Total Memory: " << membuf << "\n";
    std::cout << " Name: " << json_str(i, "Name") << "\n";
    std::cout << " ID: " << json_str(i, "ID") << "\n";
    std::cout << " Docker Root Dir: " << json_str(i, "DockerRootDir") << "\n";
    std::cout << " Debug Mode: " << json_str(i, "Debug") << "\n";
    std::cout << " Experimental: " << json_str(i, "ExperimentalBuild") << "\n";
    std::cout << " Live Restore Enabled: " << json_str(i, "LiveRestoreEnabled") << "\n";
    if (const Json* w = find_ci(i, "Warnings"); w && w->is_array()) {
        for (const auto& line : *w) std::cerr << "WARNING: " << go_print(line) << "\n";
    }
}

Status info(Context& ctx, const std::string& format) {
    CTL_ASSIGN_OR_RETURN(auto doc, ctx.get_json("/info"));
    return ctx.print_formatted(format, doc, [&] { print_info(doc); });
}

Status system_df(Context& ctx, bool verbose, const std::string& format) {
    CTL_ASSIGN_OR_RETURN(auto df, ctx.get_json("/system/df"));
    if (!format.empty()) return ctx.print_formatted(format, df, [] {});
    auto list = [&](const char* key) {
        const Json* v = find_ci(df, key);
        return v && v->is_array() ? *v : Json::array();
    };
    Json images = list("Images"), containers = list("Containers"), volumes = list("Volumes"), cache = list("BuildCache");
    int64_t images_size = 0, images_active = 0, images_reclaim = 0;
    for (const auto& im : images) {
        int64_t size = int_or(im, "Size");
        images_size += size;
        if (int_or(im, "Containers") > 0) images_active++;
        else images_reclaim += size;
    }
    int64_t containers_size = 0, containers_active = 0, containers_reclaim = 0;
    for (const auto& c : containers) {
        int64_t size = int_or(c, "SizeRw");
        containers_size += size;
        if (string_or(c, "State") == "running") containers_active++;
        else containers_reclaim += size;
    }
    int64_t volumes_size = 0, volumes_active = 0, volumes_reclaim = 0;
    for (const auto& v : volumes) {
        const Json* usage = find_ci(v, "UsageData");
        int64_t size = usage ? std::max<int64_t>(0, int_or(*usage, "Size")) : 0;
        volumes_size += size;
        if (usage && int_or(*usage, "RefCount") > 0) volumes_active++;
        else volumes_reclaim += size;
    }
    int64_t cache_size = 0;
    for (const auto& c : cache) cache_size += int_or(c, "Size");
    auto pct = [](int64_t part, int64_t whole) -> std::string {
        if (whole <= 0) return "";
        return " (" + std::to_string(part * 100 / whole) + "%)";
    };
    std::vector<std::string> lines = {"TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE"};
    auto row = [&](const char* type, size_t total, int64_t active, int64_t size, int64_t reclaim) {
        lines.push_back(std::string(type) + "\t" + std::to_string(total) + "\t" + std::to_string(active) + "\t" +
                        human_size(static_cast<double>(size)) + "\t" + human_size(static_cast<double>(reclaim)) +
                        pct(reclaim, size));
    };
    row("Images", images.size(), images_active, images_size, images_reclaim);
    row("Containers", containers.size(), containers_active, containers_size, containers_reclaim);
    row("Local Volumes", volumes.size(), volumes_active, volumes_size, volumes_reclaim);
    row("Build Cache", cache.size(), 0, cache_size, cache_size);
    std::cout << tabwrite(lines);
    if (verbose) {
        std::cout << "\nImages space usage:\n\n";
        std::vector<std::string> il = {"REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE"};
        for (const auto& im : images) {
            std::string repo = "<none>", tag = "<none>";
            if (const Json* tags = find_ci(im, "RepoTags"); tags && tags->is_array() && !tags->empty()) {
                std::string t = go_print((*tags)[0]);
                auto colon = t.rfind(':');
                repo = t.substr(0, colon);
                tag = t.substr(colon + 1);
            }
            std::string id = string_or(im, "Id");
            il.push_back(repo + "\t" + tag + "\t" + id.substr(id.find(':') + 1, 12) + "\t" +
                         human_duration(now_unix_nanos() / 1000000000 - int_or(im, "Created")) + " ago\t" +
                         human_size(static_cast<double>(int_or(im, "Size"))));
        }
        std::cout << tabwrite(il);
    }
    return ok();
}

// Docker's relative times ("10m", "1h30m") and absolute ones become Unix seconds.
std::string to_api_time(const std::string& value) {
    if (value.empty()) return value;
    int64_t total = 0, number = 0;
    bool relative = !value.empty();
    for (char c : value) {
        if (std::isdigit(static_cast<unsigned char>(c))) {
            number = number * 10 + (c - '0');
        } else if (c == 'h' || c == 'm' || c == 's') {
            total += number * (c == 'h' ? 3600 : c == 'm' ? 60 : 1);
            number = 0;
        } else {
            relative = false;
            break;
        }
    }
    if (relative && number == 0 && total > 0) return std::to_string(now_unix_nanos() / 1000000000 - total);
    return value;
}

Status events(Context& ctx, const std::string& since, const std::string& until, const std::vector<std::string>& filters,
              const std::string& format) {
    std::vector<std::pair<std::string, std::string>> query;
    if (!since.empty()) query.emplace_back("since", to_api_time(since));
    if (!until.empty()) query.emplace_back("until", to_api_time(until));
    if (!filters.empty()) query.emplace_back("filters", filters_json(filters));
    std::optional<Template> tmpl;
    if (!format.empty() && format != "json") {
        CTL_ASSIGN_OR_RETURN(auto t, Template::parse(format));
        tmpl = std::move(t);
    }
    LineSplitter lines;
    Status print_status = ok();
    auto on_line = [&](const std::string& line) {
        Json e = Json::parse(line, nullptr, false);
        if (e.is_discarded()) return true;
        if (format == "json") {
            std::cout << line << std::endl;
        } else if (tmpl) {
            auto text = tmpl->render(e);
            if (!text) {
                print_status = text.error();
                return false;
            }
            std::cout << *text << std::endl;
        } else {
            int64_t ns = int_or(e, "timeNano");
            std::string out = rfc3339_nano(ns) + " " + string_or(e, "Type") + " " + string_or(e, "Action") + " ";
            const Json* actor = find_ci(e, "Actor");
            if (actor) out += string_or(*actor, "ID");
            if (const Json* attrs = actor ? find_ci(*actor, "Attributes") : nullptr; attrs && !attrs->empty()) {
                out += " (";
                bool first = true;
                for (auto it = attrs->begin(); it != attrs->end(); ++it) {
                    out += (first ? "" : ", ") + it.key() + "=" + go_print(*it);
                    first = false;
                }
                out += ")";
            }
            std::cout << out << std::endl;
        }
        return true;
    };
    auto st = ctx.http().stream("GET", HttpClient::path_with_query("/events", query),
                                [&](const char* d, size_t n) { return lines.feed(d, n, on_line); });
    if (!print_status) return print_status;
    return st ? ok() : Status(st.error());
}

}  // namespace

void register_system_commands(CLI::App& app, Context& ctx) {
    auto* v = app.add_subcommand("version", "Show the ctl and ctld version information");
    auto v_format = std::make_shared<std::string>();
    v->add_option("-f,--format", *v_format, "Format the output using a Go template");
    v->callback([&ctx, v_format] { ctx.run([&] { return version(ctx, *v_format); }); });

    auto add_info = [&ctx](CLI::App* parent, const std::string& name) {
        auto* i = parent->add_subcommand(name, "Display system-wide information");
        auto format = std::make_shared<std::string>();
        i->add_option("-f,--format", *format, "Format the output using a Go template");
        i->callback([&ctx, format] { ctx.run([&] { return info(ctx, *format); }); });
    };
    add_info(&app, "info");

    auto* system = app.add_subcommand("system", "Manage the engine");
    system->require_subcommand(1);
    add_info(system, "info");
    auto* df = system->add_subcommand("df", "Show engine disk usage");
    auto df_verbose = std::make_shared<bool>(false);
    auto df_format = std::make_shared<std::string>();
    df->add_flag("-v,--verbose", *df_verbose, "Show detailed information on space usage");
    df->add_option("--format", *df_format, "Format the output using a Go template");
    df->callback([&ctx, df_verbose, df_format] {
        ctx.run([&] { return system_df(ctx, *df_verbose, *df_format); });
    });
    auto add_events = [&ctx](CLI::App* parent) {
        auto* e = parent->add_subcommand("events", "Get real time events from the engine");
        auto since = std::make_shared<std::string>();
        auto until = std::make_shared<std::string>();
        auto filters = std::make_shared<std::vector<std::string>>();
        auto format = std::make_shared<std::string>();
        e->add_option("--since", *since, "Show all events created since timestamp");
        e->add_option("--until", *until, "Stream events until this timestamp");
        e->add_option("-f,--filter", *filters, "Filter output based on conditions provided");
        e->add_option("--format", *format, "Format the output using a Go template");
        e->callback([&ctx, since, until, filters, format] {
            ctx.run([&] { return events(ctx, *since, *until, *filters, *format); });
        });
    };
    add_events(&app);
    add_events(system);
}

}  // namespace ctl::client
