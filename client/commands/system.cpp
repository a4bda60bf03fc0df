// ctl version, info, events, and the `system` group (df, info, events), printed as the docker
// CLI prints them.
#include <sys/utsname.h>

#include <algorithm>
#include <optional>

#include "client/commands/commands.hpp"
#include "client/display.hpp"
#include "engine/base/util.hpp"

namespace ctl::client {

namespace {

// ---------------------------------------------------------------------------------------------
// version

std::string client_arch() {
    struct utsname u {};
    ::uname(&u);
    std::string m = u.machine;
    return m == "x86_64" ? "amd64" : m == "aarch64" ? "arm64" : m;
}

std::string compiler() {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown";
#endif
}

bool known_commit() { return std::string_view(CTL_GIT_COMMIT) != "unknown" && std::string_view(CTL_GIT_COMMIT) != ""; }

Json client_version_json() {
    Json c = {{"Version", CTL_VERSION},
              {"ApiVersion", std::string(kApiVersion)},
              {"DefaultAPIVersion", std::string(kApiVersion)},
              {"GitCommit", known_commit() ? CTL_GIT_COMMIT : ""},
              {"GoVersion", compiler()},
              {"Os", "linux"},
              {"Arch", client_arch()},
              {"BuildTime", ansic_time(CTL_BUILD_TIME)}};
    return c;
}

std::string text_of(const Json& obj, std::string_view key) {
    const Json* v = find_ci(obj, key);
    if (!v) return "";
    return v->is_string() ? v->get<std::string>() : go_print(*v);
}

// The server's version with an "Engine" component (made from the top-level fields when the
// engine lists none) and build times in ANSIC form, as docker shows them.
Json normalise_server_version(Json s) {
    if (!s.is_object()) return s;
    Json components = find_ci(s, "Components") && find_ci(s, "Components")->is_array() ? *find_ci(s, "Components") : Json::array();
    bool engine = false;
    for (auto& c : components) {
        if (string_or(c, "Name") != "Engine") continue;
        engine = true;
        if (c.contains("Details") && c["Details"].is_object() && c["Details"].contains("BuildTime")) {
            c["Details"]["BuildTime"] = ansic_time(text_of(c["Details"], "BuildTime"));
        }
    }
    if (!engine) {
        components.push_back({{"Name", "Engine"},
                              {"Version", text_of(s, "Version")},
                              {"Details",
                               {{"ApiVersion", text_of(s, "ApiVersion")},
                                {"MinAPIVersion", text_of(s, "MinAPIVersion")},
                                {"GitCommit", text_of(s, "GitCommit")},
                                {"GoVersion", text_of(s, "GoVersion")},
                                {"Os", text_of(s, "Os")},
                                {"Arch", text_of(s, "Arch")},
                                {"KernelVersion", text_of(s, "KernelVersion")},
                                {"BuildTime", ansic_time(text_of(s, "BuildTime"))},
                                {"Experimental", bool_or(s, "Experimental") ? "true" : "false"}}}});
    }
    s["Components"] = components;
    return s;
}

// docker's version template, laid out by a tabwriter with min width 20 and padding 1.
std::string version_text(const Json& c, const Json* server) {
    std::string t = "Client:";
    if (const Json* p = find_ci(c, "Platform"); p && !text_of(*p, "Name").empty()) t += " " + text_of(*p, "Name");
    t += "\n Version:\t" + text_of(c, "Version");
    t += "\n API version:\t" + text_of(c, "ApiVersion");
    t += "\n Compiler:\t" + text_of(c, "GoVersion");
    if (!text_of(c, "GitCommit").empty()) t += "\n Git commit:\t" + text_of(c, "GitCommit");
    t += "\n Built:\t" + text_of(c, "BuildTime");
    t += "\n OS/Arch:\t" + text_of(c, "Os") + "/" + text_of(c, "Arch") + "\n";
    if (server) {
        const Json& s = *server;
        t += "\nServer:";
        if (const Json* p = find_ci(s, "Platform"); p && !text_of(*p, "Name").empty()) t += " " + text_of(*p, "Name");
        const Json* comps = find_ci(s, "Components");
        for (const auto& comp : comps && comps->is_array() ? *comps : Json::array()) {
            std::string name = text_of(comp, "Name");
            Json details = find_ci(comp, "Details") && find_ci(comp, "Details")->is_object() ? *find_ci(comp, "Details") : Json::object();
            t += "\n " + name + ":";
            if (name == "Engine") {
                t += "\n  Version:\t" + text_of(comp, "Version");
                t += "\n  API version:\t" + text_of(details, "ApiVersion") + " (minimum version " + text_of(details, "MinAPIVersion") + ")";
                t += "\n  Compiler:\t" + text_of(details, "GoVersion");
                t += "\n  Git commit:\t" + text_of(details, "GitCommit");
                t += "\n  Built:\t" + text_of(details, "BuildTime");
                t += "\n  OS/Arch:\t" + text_of(details, "Os") + "/" + text_of(details, "Arch");
                std::string kernel = text_of(details, "KernelVersion");
                if (kernel.empty()) kernel = text_of(s, "KernelVersion");
                if (!kernel.empty()) t += "\n  Kernel Version:\t" + kernel;
                t += "\n  Experimental:\t" + text_of(details, "Experimental");
            } else {
                t += "\n  Version:\t" + text_of(comp, "Version");
                for (auto it = details.begin(); it != details.end(); ++it) {  // sorted keys, as docker
                    t += "\n  " + it.key() + ":\t" + (it->is_string() ? it->get<std::string>() : go_print(*it));
                }
            }
        }
        t += "\n";
    }
    return tabwrite(t, 20, 1);
}

struct VersionOptions {
    std::string format;
};

Status version(Context& ctx, const VersionOptions& o) {
    std::optional<Template> tmpl;
    if (!o.format.empty() && o.format != "json") {
        CTL_ASSIGN_OR_RETURN(auto t, Template::parse(o.format));
        tmpl = std::move(t);
    }
    Json client = client_version_json();
    auto server = ctx.get_json("/version");
    Json normalised = server ? normalise_server_version(*server) : Json();
    if (!o.format.empty()) {
        // Like docker: what is known is still printed, then the error.
        Json both = {{"Client", client}, {"Server", normalised}};
        if (o.format == "json") {
            ctx.out() << to_line(both) << "\n";
        } else {
            CTL_ASSIGN_OR_RETURN(auto text, tmpl->render(both));
            ctx.out() << text << "\n";
        }
        return server ? ok() : Status(server.error());
    }
    ctx.out() << version_text(client, server ? &normalised : nullptr);
    return server ? ok() : Status(server.error());
}

// ---------------------------------------------------------------------------------------------
// info

// Go's fmt.Println: operands separated by a space.
void println(std::ostream& out, std::string_view label, const std::string& value) {
    out << label << " " << value << "\n";
}

void println_non_empty(std::ostream& out, std::string_view label, const std::string& value) {
    if (!value.empty()) println(out, label, value);
}

std::vector<std::string> strings_of(const Json* list) {
    std::vector<std::string> out;
    if (!list || !list->is_array()) return out;
    for (const auto& v : *list) out.push_back(v.is_string() ? v.get<std::string>() : go_print(v));
    return out;
}

std::string joined(const std::vector<std::string>& parts, std::string_view sep = " ") {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? std::string(sep) : "") + parts[i];
    return out;
}

void print_client_info(Context& ctx) {
    ctx.out() << "Client:\n Version:    " << CTL_VERSION << "\n Debug Mode: " << (ctx.options().debug ? "true" : "false")
              << "\n";
}

// docker's prettyPrintServerInfo, for the fields a 1.41 engine reports.
void print_server_info(Context& ctx, const Json& i) {
    std::ostream& out = ctx.out();
    println(out, " Containers:", text_of(i, "Containers"));
    println(out, "  Running:", text_of(i, "ContainersRunning"));
    println(out, "  Paused:", text_of(i, "ContainersPaused"));
    println(out, "  Stopped:", text_of(i, "ContainersStopped"));
    println(out, " Images:", text_of(i, "Images"));
    println_non_empty(out, " Server Version:", text_of(i, "ServerVersion"));
    println_non_empty(out, " Storage Driver:", text_of(i, "Driver"));
    for (const char* key : {"DriverStatus", "SystemStatus"}) {
        const Json* pairs = find_ci(i, key);
        if (!pairs || !pairs->is_array()) continue;
        for (const auto& pair : *pairs) {
            auto kv = strings_of(&pair);
            if (kv.size() == 2) out << (std::string_view(key) == "DriverStatus" ? "  " : " ") << kv[0] << ": " << kv[1] << "\n";
        }
    }
    println_non_empty(out, " Logging Driver:", text_of(i, "LoggingDriver"));
    println_non_empty(out, " Cgroup Driver:", text_of(i, "CgroupDriver"));
    println_non_empty(out, " Cgroup Version:", text_of(i, "CgroupVersion"));
    if (const Json* plugins = find_ci(i, "Plugins"); plugins && plugins->is_object()) {
        out << " Plugins:\n";
        println(out, "  Volume:", joined(strings_of(find_ci(*plugins, "Volume"))));
        println(out, "  Network:", joined(strings_of(find_ci(*plugins, "Network"))));
        if (auto authz = strings_of(find_ci(*plugins, "Authorization")); !authz.empty()) println(out, "  Authorization:", joined(authz));
        println(out, "  Log:", joined(strings_of(find_ci(*plugins, "Log"))));
    }
    if (const Json* swarm = find_ci(i, "Swarm")) println(out, " Swarm:", text_of(*swarm, "LocalNodeState"));
    if (const Json* runtimes = find_ci(i, "Runtimes"); runtimes && runtimes->is_object() && !runtimes->empty()) {
        std::vector<std::string> names;
        for (auto it = runtimes->begin(); it != runtimes->end(); ++it) names.push_back(it.key());
        println(out, " Runtimes:", joined(names));
        println(out, " Default Runtime:", text_of(i, "DefaultRuntime"));
    }
    if (text_of(i, "OSType") == "linux") {
        println(out, " Init Binary:", text_of(i, "InitBinary"));
        for (auto [name, key] : {std::pair{"containerd", "ContainerdCommit"}, {"runc", "RuncCommit"}, {"init", "InitCommit"}}) {
            const Json* commit = find_ci(i, key);
            out << " " << name << " version: " << (commit ? text_of(*commit, "ID") : "") << "\n";
        }
        if (auto options = strings_of(find_ci(i, "SecurityOptions")); !options.empty()) {
            out << " Security Options:\n";
            for (const auto& so : options) {
                std::string name;
                std::vector<std::pair<std::string, std::string>> kvs;
                for (const auto& part : split(so, ',')) {
                    auto eq = part.find('=');
                    std::string k = part.substr(0, eq), v = eq == std::string::npos ? "" : part.substr(eq + 1);
                    if (k == "name") name = v;
                    else kvs.emplace_back(k, v);
                }
                out << "  " << name << "\n";
                for (const auto& [k, v] : kvs) {
                    if (k == "profile") println(out, "   Profile:", v);
                }
            }
        }
    }
    println_non_empty(out, " Kernel Version:", text_of(i, "KernelVersion"));
    println_non_empty(out, " Operating System:", text_of(i, "OperatingSystem"));
    println_non_empty(out, " OSType:", text_of(i, "OSType"));
    println_non_empty(out, " Architecture:", text_of(i, "Architecture"));
    println(out, " CPUs:", text_of(i, "NCPU"));
    println(out, " Total Memory:", bytes_size(static_cast<double>(int_or(i, "MemTotal"))));
    println_non_empty(out, " Name:", text_of(i, "Name"));
    println_non_empty(out, " ID:", text_of(i, "ID"));
    println(out, " Docker Root Dir:", text_of(i, "DockerRootDir"));
    println(out, " Debug Mode:", bool_or(i, "Debug") ? "true" : "false");
    if (bool_or(i, "Debug") || ctx.options().debug) {
        println(out, "  File Descriptors:", text_of(i, "NFd"));
        println(out, "  Goroutines:", text_of(i, "NGoroutines"));
        println(out, "  System Time:", text_of(i, "SystemTime"));
        println(out, "  EventsListeners:", text_of(i, "NEventsListener"));
    }
    println_non_empty(out, " HTTP Proxy:", text_of(i, "HttpProxy"));
    println_non_empty(out, " HTTPS Proxy:", text_of(i, "HttpsProxy"));
    println_non_empty(out, " No Proxy:", text_of(i, "NoProxy"));
    if (auto labels = strings_of(find_ci(i, "Labels")); !labels.empty()) {
        out << " Labels:\n";
        for (const auto& l : labels) out << "  " << l << "\n";
    }
    println(out, " Experimental:", bool_or(i, "ExperimentalBuild") ? "true" : "false");
    if (const Json* reg = find_ci(i, "RegistryConfig"); reg && reg->is_object()) {
        const Json* index = find_ci(*reg, "IndexConfigs");
        auto cidrs = strings_of(find_ci(*reg, "InsecureRegistryCIDRs"));
        if (!cidrs.empty() || (index && index->is_object() && !index->empty())) {
            std::vector<std::string> insecure;
            if (index && index->is_object()) {
                for (auto it = index->begin(); it != index->end(); ++it) {
                    if (!bool_or(*it, "Secure")) insecure.push_back(string_or(*it, "Name", it.key()));
                }
            }
            insecure.insert(insecure.end(), cidrs.begin(), cidrs.end());
            out << " Insecure Registries:\n";
            for (const auto& r : insecure) out << "  " << r << "\n";
        }
        if (auto mirrors = strings_of(find_ci(*reg, "Mirrors")); !mirrors.empty()) {
            out << " Registry Mirrors:\n";
            for (const auto& m : mirrors) out << "  " << m << "\n";
        }
    }
    println(out, " Live Restore Enabled:", bool_or(i, "LiveRestoreEnabled") ? "true" : "false");
    out << "\n";
}

struct InfoOptions {
    std::string format;
};

Status info(Context& ctx, const InfoOptions& o) {
    if (!o.format.empty()) {
        std::optional<Template> tmpl;
        if (o.format != "json") {
            CTL_ASSIGN_OR_RETURN(auto t, Template::parse(o.format));
            tmpl = std::move(t);
        }
        CTL_ASSIGN_OR_RETURN(auto doc, ctx.get_json("/info"));
        if (doc.is_object()) doc["ClientInfo"] = {{"Debug", ctx.options().debug}, {"Version", CTL_VERSION}};
        if (!tmpl) {
            ctx.out() << to_line(doc) << "\n";
            return ok();
        }
        CTL_ASSIGN_OR_RETURN(auto text, tmpl->render(doc));
        ctx.out() << text << "\n";
        return ok();
    }
    print_client_info(ctx);
    ctx.out() << "\nServer:\n";
    CTL_ASSIGN_OR_RETURN(auto doc, ctx.get_json("/info"));
    print_server_info(ctx, doc);
    ctx.out().flush();
    for (const auto& w : strings_of(find_ci(doc, "Warnings"))) {
        ctx.err() << (starts_with(w, "WARNING") ? w : "WARNING: " + w) << "\n";
    }
    return ok();
}

// ---------------------------------------------------------------------------------------------
// system df

Json list_of(const Json& df, std::string_view key) {
    const Json* v = find_ci(df, key);
    return v && v->is_array() ? *v : Json::array();
}

std::string with_percent(int64_t part, int64_t whole) {
    std::string s = human_size_precision(static_cast<double>(part), 4);
    if (whole > 0) s += " (" + std::to_string(part * 100 / whole) + "%)";
    return s;
}

bool container_active(const Json& c) {
    std::string state = string_or(c, "State");
    return state == "running" || state == "paused" || state == "restarting";
}

// The four summary rows of `docker system df`.
std::vector<Json> df_summary(const Json& df) {
    Json images = list_of(df, "Images"), containers = list_of(df, "Containers"), volumes = list_of(df, "Volumes"),
         cache = list_of(df, "BuildCache");
    auto row = [](const char* type, size_t total, int64_t active, const std::string& size, const std::string& reclaimable) {
        return Json{{"Type", type},
                    {"TotalCount", std::to_string(total)},
                    {"Active", std::to_string(active)},
                    {"Size", size},
                    {"Reclaimable", reclaimable}};
    };
    std::vector<Json> rows;

    int64_t layers = int_or(df, "LayersSize"), images_active = 0, images_used = 0;
    for (const auto& im : images) {
        if (int_or(im, "Containers") == 0) continue;
        ++images_active;
        int64_t size = find_ci(im, "VirtualSize") ? int_or(im, "VirtualSize") : int_or(im, "Size");
        int64_t shared = int_or(im, "SharedSize", -1);
        if (size == -1 || shared == -1) continue;
        images_used += size - shared;
    }
    rows.push_back(row("Images", images.size(), images_active, human_size_precision(static_cast<double>(layers), 4),
                       with_percent(layers - images_used, layers)));

    int64_t c_size = 0, c_active = 0, c_reclaim = 0;
    for (const auto& c : containers) {
        int64_t size = int_or(c, "SizeRw");
        c_size += size;
        if (container_active(c)) ++c_active;
        else c_reclaim += size;
    }
    rows.push_back(row("Containers", containers.size(), c_active, human_size_precision(static_cast<double>(c_size), 4),
                       with_percent(c_reclaim, c_size)));

    int64_t v_size = 0, v_active = 0, v_reclaim = 0;
    for (const auto& v : volumes) {
        const Json* usage = find_ci(v, "UsageData");
        if (!usage) continue;
        int64_t size = int_or(*usage, "Size", -1);
        if (int_or(*usage, "RefCount") > 0) ++v_active;
        if (size == -1) continue;
        v_size += size;
        if (int_or(*usage, "RefCount") <= 0) v_reclaim += size;
    }
    rows.push_back(row("Local Volumes", volumes.size(), v_active, human_size_precision(static_cast<double>(v_size), 4),
                       with_percent(v_reclaim, v_size)));

    int64_t b_size = 0, b_active = 0, b_reclaim = 0;
    for (const auto& b : cache) {
        bool in_use = bool_or(b, "InUse"), shared = bool_or(b, "Shared");
        if (in_use) ++b_active;
        if (shared) continue;
        b_size += int_or(b, "Size");
        if (!in_use) b_reclaim += int_or(b, "Size");
    }
    rows.push_back(row("Build Cache", cache.size(), b_active, human_size_precision(static_cast<double>(b_size), 4),
                       human_size_precision(static_cast<double>(b_reclaim), 4)));
    return rows;
}

constexpr std::string_view kDfFormat = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";

Result<std::string> df_verbose(const Json& df) {
    std::string out = "Images space usage:\n\n";
    std::vector<Json> rows;
    for (const auto& im : list_of(df, "Images")) {
        std::string repo = "<none>", tag = "<none>";
        auto tags = strings_of(find_ci(im, "RepoTags"));
        if (!tags.empty() && tags[0] != "<none>:<none>") {
            const std::string& t = tags[0];
            auto colon = t.rfind(':');
            bool has_tag = colon != std::string::npos && t.find('/', colon) == std::string::npos;
            repo = has_tag ? t.substr(0, colon) : t;
            tag = has_tag ? t.substr(colon + 1) : "latest";
        }
        int64_t size = int_or(im, "Size"), shared = int_or(im, "SharedSize", -1);
        rows.push_back({{"Repository", repo},
                        {"Tag", tag},
                        {"ID", truncate_id(string_or(im, "Id"))},
                        {"CreatedSince", time_ago(int_or(im, "Created"))},
                        {"Size", human_size_precision(static_cast<double>(size), 3)},
                        {"SharedSize", shared == -1 ? "N/A" : human_size_precision(static_cast<double>(shared), 3)},
                        {"UniqueSize", shared == -1 || size == -1 ? "N/A" : human_size_precision(static_cast<double>(size - shared), 3)},
                        {"Containers", std::to_string(int_or(im, "Containers"))}});
    }
    CTL_ASSIGN_OR_RETURN(auto images, format_rows("", "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
                                                  rows, {{"ID", "IMAGE ID"}, {"CreatedSince", "CREATED"}}));
    out += images;

    out += "\nContainers space usage:\n\n";
    rows.clear();
    for (const auto& c : list_of(df, "Containers")) {
        std::vector<std::string> names;
        for (const auto& n : strings_of(find_ci(c, "Names"))) {
            std::string name = starts_with(n, "/") ? n.substr(1) : n;
            if (name.find('/') == std::string::npos) names.push_back(name);
        }
        int64_t volumes = 0;
        if (const Json* mounts = find_ci(c, "Mounts"); mounts && mounts->is_array()) {
            for (const auto& m : *mounts) volumes += string_or(m, "Type") == "volume";
        }
        std::string image = string_or(c, "Image");
        if (starts_with(image, "sha256:")) image = truncate_id(image);
        rows.push_back({{"ID", truncate_id(string_or(c, "Id"))},
                        {"Image", image},
                        {"Command", Json(ellipsis(string_or(c, "Command"), 20)).dump()},
                        {"LocalVolumes", std::to_string(volumes)},
                        {"Size", human_size_precision(static_cast<double>(int_or(c, "SizeRw")), 3)},
                        {"RunningFor", time_ago(int_or(c, "Created"))},
                        {"Status", string_or(c, "Status")},
                        {"Names", joined(names, ",")}});
    }
    CTL_ASSIGN_OR_RETURN(auto containers, format_rows("", "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
                                                      rows, {{"ID", "CONTAINER ID"}, {"RunningFor", "CREATED"}}));
    out += containers;

    out += "\nLocal Volumes space usage:\n\n";
    rows.clear();
    for (const auto& v : list_of(df, "Volumes")) {
        const Json* usage = find_ci(v, "UsageData");
        int64_t size = usage ? int_or(*usage, "Size", -1) : -1;
        rows.push_back({{"Name", string_or(v, "Name")},
                        {"Links", usage ? std::to_string(int_or(*usage, "RefCount")) : "N/A"},
                        {"Size", size == -1 ? "N/A" : human_size_precision(static_cast<double>(size), 4)}});
    }
    CTL_ASSIGN_OR_RETURN(auto volumes, format_rows("", "table {{.Name}}\t{{.Links}}\t{{.Size}}", rows, {{"Name", "VOLUME NAME"}}));
    out += volumes;

    int64_t builder = 0;
    rows.clear();
    for (const auto& b : list_of(df, "BuildCache")) {
        if (!bool_or(b, "Shared")) builder += int_or(b, "Size");
        std::string id = truncate_id(string_or(b, "ID"));
        std::string last_used = string_or(b, "LastUsedAt");
        rows.push_back({{"ID", bool_or(b, "InUse") ? id + "*" : id},
                        {"CacheType", string_or(b, "Type")},
                        {"Size", human_size_precision(static_cast<double>(int_or(b, "Size")), 3)},
                        {"CreatedSince", time_ago(parse_timestamp(string_or(b, "CreatedAt")) / 1000000000)},
                        {"LastUsedSince", last_used.empty() ? "" : time_ago(parse_timestamp(last_used) / 1000000000)},
                        {"UsageCount", std::to_string(int_or(b, "UsageCount"))},
                        {"Shared", bool_or(b, "Shared") ? "true" : "false"}});
    }
    out += "\nBuild cache usage: " + human_size_precision(static_cast<double>(builder), 4) + "\n\n";
    CTL_ASSIGN_OR_RETURN(auto cache, format_rows("", "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}",
                                                 rows, {{"ID", "CACHE ID"}, {"CreatedSince", "CREATED"}, {"LastUsedSince", "LAST USED"}, {"UsageCount", "USAGE"}}));
    out += cache;
    return out;
}

struct DfOptions {
    bool verbose = false;
    std::string format;
};

Status system_df(Context& ctx, const DfOptions& o) {
    if (!o.verbose && !o.format.empty() && o.format != "json" && o.format != "table") {
        CTL_TRY(Template::parse(o.format));  // a bad template fails before the engine is asked
    }
    CTL_ASSIGN_OR_RETURN(auto df, ctx.get_json("/system/df"));
    if (o.verbose) {
        if (o.format == "json") {
            ctx.out() << to_line(df) << "\n";
            return ok();
        }
        CTL_ASSIGN_OR_RETURN(auto text, df_verbose(df));
        ctx.out() << text;
        return ok();
    }
    CTL_ASSIGN_OR_RETURN(auto text, format_rows(o.format, kDfFormat, df_summary(df), {{"TotalCount", "TOTAL"}}));
    ctx.out() << text;
    return ok();
}

// ---------------------------------------------------------------------------------------------
// events

struct EventsOptions {
    std::string since, until, format;
    std::vector<std::string> filters;
};

// One event as `docker events` prints it.
std::string event_line(const Json& e) {
    std::string out;
    int64_t ns = int_or(e, "timeNano");
    if (ns != 0) {
        out = local_time_nano(ns) + " ";
    } else if (int64_t secs = int_or(e, "time"); secs != 0) {
        out = local_time_nano(secs * 1000000000) + " ";
    }
    const Json* actor = find_ci(e, "Actor");
    out += string_or(e, "Type") + " " + string_or(e, "Action") + " " + (actor ? string_or(*actor, "ID") : "");
    if (const Json* attrs = actor ? find_ci(*actor, "Attributes") : nullptr; attrs && attrs->is_object() && !attrs->empty()) {
        out += " (";
        bool first = true;
        for (auto it = attrs->begin(); it != attrs->end(); ++it) {  // sorted, as docker sorts them
            out += (first ? "" : ", ") + it.key() + "=" + (it->is_string() ? it->get<std::string>() : go_print(*it));
            first = false;
        }
        out += ")";
    }
    return out;
}

Status events(Context& ctx, const EventsOptions& o) {
    Query q;
    int64_t now = now_unix_nanos();
    if (!o.since.empty()) {
        CTL_ASSIGN_OR_RETURN(auto since, api_timestamp(o.since, now, "--since"));
        q.emplace_back("since", since);
    }
    if (!o.until.empty()) {
        CTL_ASSIGN_OR_RETURN(auto until, api_timestamp(o.until, now, "--until"));
        q.emplace_back("until", until);
    }
    CTL_ASSIGN_OR_RETURN(auto filters, filters_json(o.filters));
    if (!filters.empty()) q.emplace_back("filters", filters);
    std::optional<Template> tmpl;
    if (!o.format.empty() && o.format != "json") {
        CTL_ASSIGN_OR_RETURN(auto t, Template::parse(o.format));
        tmpl = std::move(t);
    }
    return ctx.http().stream_json(Request("GET", "/events", q), [&](const Json& e) -> Status {
        if (o.format == "json") {
            ctx.out() << to_line(e) << "\n";
        } else if (tmpl) {
            CTL_ASSIGN_OR_RETURN(auto text, tmpl->render(e));
            ctx.out() << text << "\n";
        } else {
            ctx.out() << event_line(e) << "\n";
        }
        ctx.out().flush();
        return ok();
    });
}

void add_info(CLI::App& parent, Context& ctx) {
    add_command<InfoOptions>(
        parent, ctx, "info", "Display system-wide information",
        [](CLI::App& c, InfoOptions& o) { c.add_option("-f,--format", o.format, "Format output using a custom template ('json' for JSON)"); },
        info);
}

void add_events(CLI::App& parent, Context& ctx) {
    add_command<EventsOptions>(
        parent, ctx, "events", "Get real time events from the engine",
        [](CLI::App& c, EventsOptions& o) {
            c.add_option("-f,--filter", o.filters, "Filter output based on conditions provided");
            c.add_option("--format", o.format, "Format output using a custom template ('json' for JSON)");
            c.add_option("--since", o.since, "Show all events created since timestamp");
            c.add_option("--until", o.until, "Stream events until this timestamp");
        },
        events);
}

}  // namespace

void add_system_commands(CLI::App& app, Context& ctx) {
    add_command<VersionOptions>(
        app, ctx, "version", "Show the ctl and ctld version information",
        [](CLI::App& c, VersionOptions& o) { c.add_option("-f,--format", o.format, "Format output using a custom template ('json' for JSON)"); },
        version);
    add_info(app, ctx);
    add_events(app, ctx);

    CLI::App* system = add_group(app, ctx, "system", "Manage the engine");
    add_command<DfOptions>(
        *system, ctx, "df", "Show engine disk usage",
        [](CLI::App& c, DfOptions& o) {
            c.add_flag("-v,--verbose", o.verbose, "Show detailed information on space usage");
            c.add_option("--format", o.format, "Format output using a custom template ('table', 'json', or a Go template)");
        },
        system_df);
    add_info(*system, ctx);
    add_events(*system, ctx);
}

}  // namespace ctl::client
