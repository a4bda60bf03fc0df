// Records, create, list, inspect, remove, rename, prune. The lifecycle (start/stop/exit
// handling) is in lifecycle.cpp, logs/attach/exec in io.cpp.
#include "engine/container/container_service.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <regex>

#include "engine/base/log.hpp"
#include "engine/base/sys.hpp"
#include "engine/container/internal/config_merge.hpp"
#include "engine/container/internal/mounts.hpp"

namespace ctl::container {

namespace {

const std::regex kNameRe("^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$");

Error no_such_container(const std::string& name) { return {Errc::NotFound, "No such container: " + name}; }

// Fills HostConfig defaults Docker reports where the client sent nothing (or an empty value);
// everything the client sent is echoed back unchanged.
void fill_host_config_defaults(Json& hc) {
    auto empty = [&](const char* key) { return !hc.contains(key) || hc[key].is_null() || (hc[key].is_string() && hc[key].get<std::string>().empty()); };
    if (!hc.contains("LogConfig") || !hc["LogConfig"].is_object() || string_or(hc["LogConfig"], "Type", "").empty()) {
        Json config = hc.contains("LogConfig") && hc["LogConfig"].is_object() && hc["LogConfig"].contains("Config") &&
                              hc["LogConfig"]["Config"].is_object()
                          ? hc["LogConfig"]["Config"]
                          : Json::object();
        hc["LogConfig"] = {{"Type", "json-file"}, {"Config", config}};
    } else if (!hc["LogConfig"].contains("Config") || hc["LogConfig"]["Config"].is_null()) {
        hc["LogConfig"]["Config"] = Json::object();
    }
    if (!hc.contains("RestartPolicy") || !hc["RestartPolicy"].is_object() || string_or(hc["RestartPolicy"], "Name", "").empty()) {
        hc["RestartPolicy"] = {{"Name", "no"}, {"MaximumRetryCount", 0}};
    }
    if (empty("NetworkMode")) hc["NetworkMode"] = "default";
    if (!hc.contains("ShmSize") || int_or(hc, "ShmSize", 0) == 0) hc["ShmSize"] = 67108864;
    for (const char* key : {"Binds", "Links", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "CapAdd", "CapDrop",
                            "VolumesFrom", "SecurityOpt", "GroupAdd"}) {
        if (!hc.contains(key)) hc[key] = nullptr;
    }
    for (const char* key : {"Memory", "MemorySwap", "NanoCpus", "CpuShares", "CpuPeriod", "CpuQuota", "BlkioWeight"}) {
        if (!hc.contains(key) || hc[key].is_null()) hc[key] = 0;
    }
    for (const char* key : {"Privileged", "ReadonlyRootfs", "AutoRemove", "PublishAllPorts", "OomKillDisable"}) {
        if (!hc.contains(key) || hc[key].is_null()) hc[key] = false;
    }
    if (!hc.contains("PortBindings") || hc["PortBindings"].is_null()) hc["PortBindings"] = Json::object();
    if (!hc.contains("Mounts")) hc["Mounts"] = Json::array();
    if (!hc.contains("Runtime") || string_or(hc, "Runtime", "").empty()) hc["Runtime"] = "";
    if (!hc.contains("Isolation")) hc["Isolation"] = "";
    if (!hc.contains("IpcMode") || string_or(hc, "IpcMode", "").empty()) hc["IpcMode"] = "private";
    if (!hc.contains("CgroupnsMode") || string_or(hc, "CgroupnsMode", "").empty()) hc["CgroupnsMode"] = "host";
}

std::string name_in_use_message(const std::string& name, const std::string& id) {
    return "Conflict. The container name \"" + name + "\" is already in use by container \"" + id +
           "\". You have to remove (or rename) that container to be able to reuse that name.";
}

bool status_matches(const Container& c, const std::string& want) {
    return c.state.status == want;
}

}  // namespace

ContainerService::ContainerService(store::Store& store, graph::GraphDriver& driver, image::ImageService& images,
                                   volumes::VolumeService& volumes, net::NetworkService& networks, events::EventBus& bus,
                                   ServiceOptions options)
    : store_(store),
      driver_(driver),
      images_(images),
      volumes_(volumes),
      networks_(networks),
      bus_(bus),
      options_(std::move(options)) {}

Status ContainerService::plan_mounts(Container& c, const Json& host_config) {
    CTL_ASSIGN_OR_RETURN(auto requests, internal::parse_mounts(host_config, c.config));
    Json plan = Json::array(), shown = Json::array();
    std::set<std::string> destinations;
    for (const auto& m : requests) destinations.insert(m.destination);
    auto fail = [&](Error err) -> Status {
        (void)volumes_.remove_anonymous_of(c.id);
        (void)volumes_.release_all(c.id);
        return err;
    };
    for (const auto& m : requests) {
        Json step = {{"Type", m.type}, {"Destination", m.destination}, {"ReadOnly", m.read_only},
                     {"Propagation", m.propagation}, {"NoCopy", m.no_copy}, {"Options", m.tmpfs_options}};
        Json view = {{"Type", m.type}, {"Destination", m.destination}, {"Mode", m.mode}, {"RW", !m.read_only},
                     {"Propagation", m.propagation}};
        if (m.type == "volume") {
            auto path = volumes_.acquire(m.source, c.id, m.volume_driver_opts);
            if (!path) return fail(path.error());
            std::string name = m.source;
            if (name.empty()) {  // anonymous: the name is the directory above _data
                std::string dir = path->substr(0, path->rfind('/'));
                name = dir.substr(dir.rfind('/') + 1);
            }
            step["Source"] = *path;
            step["Name"] = name;
            view["Name"] = name;
            view["Source"] = *path;
            view["Driver"] = "local";
            if (m.mode.empty()) view["Mode"] = "z";
        } else if (m.type == "bind") {
            if (!sys::exists(m.source)) {
                if (!m.create_host_dir) {
                    return fail(make_error(Errc::InvalidArgument, "invalid mount config for type \"bind\": bind source path does not exist: " + m.source));
                }
                if (auto st = sys::mkdir_all(m.source, 0755); !st) return fail(st.error());
            }
            step["Source"] = m.source;
            view["Source"] = m.source;
        } else {
            step["Source"] = "tmpfs";
            view["Source"] = "";
        }
        plan.push_back(step);
        shown.push_back(view);
    }
    // --volumes-from: the other container's volumes and binds, at the same places.
    if (const Json* from = find_ci(host_config, "VolumesFrom"); from && from->is_array()) {
        for (const auto& spec : *from) {
            if (!spec.is_string()) continue;
            auto parts = split(spec.get<std::string>(), ':');
            bool force_ro = parts.size() > 1 && parts[1] == "ro";
            auto other = find(parts[0]);
            if (!other) return fail(other.error());
            Json other_plan;
            {
                std::lock_guard lock((*other)->mu);
                other_plan = (*other)->c.mount_plan;
            }
            for (auto step : other_plan) {
                std::string dst = string_or(step, "Destination", "");
                if (!destinations.insert(dst).second) continue;
                if (string_or(step, "Type", "") == "volume") {
                    auto path = volumes_.acquire(string_or(step, "Name", ""), c.id);
                    if (!path) return fail(path.error());
                }
                if (force_ro) step["ReadOnly"] = true;
                step["NoCopy"] = true;
                Json view = {{"Type", step["Type"]}, {"Destination", dst}, {"Source", step["Source"]},
                             {"Mode", ""}, {"RW", !bool_or(step, "ReadOnly", false)},
                             {"Propagation", step.value("Propagation", "")}};
                if (step["Type"] == "volume") {
                    view["Name"] = step["Name"];
                    view["Driver"] = "local";
                }
                plan.push_back(step);
                shown.push_back(view);
            }
        }
    }
    c.mount_plan = plan;
    c.mounts = shown;
    return ok();
}

ContainerService::~ContainerService() { shutdown(); }

std::set<std::string> ContainerService::recorded_running() {
    std::set<std::string> ids;
    auto rows = store_.query("SELECT record FROM containers");
    if (!rows) return ids;
    for (const auto& row : *rows) {
        auto parsed = parse_json(store::as_string(row[0]));
        if (!parsed) continue;
        auto c = Container::from_record(*parsed);
        if (c && c->state.running) ids.insert(c->id);
    }
    return ids;
}

std::string ContainerService::container_dir(const std::string& id) const {
    return options_.data_root + "/containers/" + id;
}

std::string ContainerService::state_dir(const std::string& id) const { return options_.exec_root + "/containers/" + id; }

const runtime::RuntimeInfo* ContainerService::runtime_info(const std::string& name) const {
    for (const auto& r : options_.runtimes) {
        if (r.name == name) return &r;
    }
    return nullptr;
}

void ContainerService::add_shim_runtime_args(std::vector<std::string>& argv, const runtime::RuntimeInfo& info) const {
    argv.insert(argv.end(), {"--runtime", info.path, "--runtime-root", options_.exec_root + "/runtime/" + info.name});
    if (info.exec_fd >= 0) argv.insert(argv.end(), {"--runtime-fd", std::to_string(info.exec_fd)});
    if (info.needs_private_cgroup_mount) argv.push_back("--private-cgroup-mount");
}

std::unique_ptr<runtime::Runtime> ContainerService::runtime_for(const Container& c) const {
    const auto* info = runtime_info(c.runtime);
    if (!info) return nullptr;
    return std::make_unique<runtime::Runtime>(*info, options_.exec_root + "/runtime/" + info->name);
}

Status ContainerService::persist(const Container& c) {
    return store_.execute(
        "INSERT INTO containers(id, name, image_id, created, record) VALUES(?, ?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET name = excluded.name, record = excluded.record",
        {c.id, c.name, c.image_id, parse_timestamp(c.created), c.to_record().dump()});
}

void ContainerService::emit(const Container& c, const std::string& action, std::map<std::string, std::string> extra) {
    std::map<std::string, std::string> attrs = std::move(extra);
    attrs["name"] = c.bare_name();
    attrs["image"] = string_or(c.config, "Image", c.image_id);
    if (const Json* labels = find_ci(c.config, "Labels"); labels && labels->is_object()) {
        for (auto it = labels->begin(); it != labels->end(); ++it) {
            if (it->is_string() && !attrs.count(it.key())) attrs[it.key()] = it->get<std::string>();
        }
    }
    bus_.publish(events::Event{"container", action, c.id, std::move(attrs)});
}

Result<std::shared_ptr<ContainerService::Entry>> ContainerService::find(const std::string& name_or_id) {
    std::lock_guard lock(mu_);
    if (name_or_id.empty()) return no_such_container(name_or_id);
    if (auto it = entries_.find(name_or_id); it != entries_.end()) return it->second;
    std::string as_name = name_or_id[0] == '/' ? name_or_id : "/" + name_or_id;
    if (auto it = names_.find(as_name); it != names_.end()) return entries_.at(it->second);
    std::shared_ptr<Entry> found;
    for (auto& [id, e] : entries_) {
        if (starts_with(id, name_or_id)) {
            if (found) return make_error(Errc::InvalidArgument, "multiple IDs found with provided prefix: " + name_or_id);
            found = e;
        }
    }
    if (!found) return no_such_container(name_or_id);
    return found;
}

std::vector<std::string> ContainerService::containers_using_image(const std::string& image_id) {
    std::vector<std::string> out;
    std::lock_guard lock(mu_);
    for (auto& [id, e] : entries_) {
        std::lock_guard el(e->mu);
        if (e->c.image_id == image_id) out.push_back(id);
    }
    return out;
}

// ---- create -----------------------------------------------------------------------------------

Result<Json> ContainerService::create_container(const std::string& requested_name, const Json& body) {
    std::string name = requested_name;
    if (!name.empty() && !std::regex_match(name, kNameRe)) {
        return make_error(Errc::InvalidArgument,
                          "Invalid container name (" + name + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    std::string image_ref = string_or(body, "Image", "");
    if (image_ref.empty()) return make_error(Errc::InvalidArgument, "No image specified");
    auto image = images_.resolve(image_ref);
    if (!image) return image.error();

    Json host_config = body.contains("HostConfig") && body["HostConfig"].is_object() ? body["HostConfig"] : Json::object();
    fill_host_config_defaults(host_config);
    std::string runtime_name = string_or(host_config, "Runtime", "");
    if (runtime_name.empty()) runtime_name = options_.default_runtime;
    if (runtime_name.empty() && !options_.runtimes.empty()) runtime_name = options_.runtimes.front().name;
    if (!runtime_info(runtime_name)) {
        return make_error(Errc::InvalidArgument, "unknown or invalid runtime name: " + runtime_name);
    }
    std::string restart = string_or(host_config["RestartPolicy"], "Name", "no");
    if (restart != "no" && restart != "always" && restart != "unless-stopped" && restart != "on-failure") {
        return make_error(Errc::InvalidArgument, "invalid restart policy '" + restart + "'");
    }
    if (restart != "no" && bool_or(host_config, "AutoRemove", false)) {
        return make_error(Errc::InvalidArgument, "can't create 'AutoRemove' container with restart policy");
    }
    // Docker refuses an unknown network at create (404), not at start.
    CTL_TRY(networks_.validate_mode(string_or(host_config, "NetworkMode", "default")));

    Container c;
    c.id = random_hex_id();
    c.created = internal::rfc3339_fixed(now_unix_nanos());
    c.image_id = image->id;
    const Json image_config = image->config.contains("config") && image->config["config"].is_object()
                                  ? image->config["config"]
                                  : Json::object();
    CTL_ASSIGN_OR_RETURN(c.config, internal::merge_config(image_config, body, image_ref));
    if (string_or(c.config, "Hostname", "").empty()) c.config["Hostname"] = c.id.substr(0, 12);
    c.host_config = host_config;
    if (body.contains("NetworkingConfig") && body["NetworkingConfig"].is_object()) {
        if (const Json* ep = find_ci(body["NetworkingConfig"], "EndpointsConfig"); ep && ep->is_object()) c.networking = *ep;
    }
    CTL_TRY(internal::command_of(c.config, c.path, c.args));
    c.driver = driver_.name();
    c.runtime = runtime_name;
    c.rw_layer = "c-" + c.id;
    c.image_top_layer = image->chain_ids.empty() ? "" : images_.cache_id(image->chain_ids.back());
    std::string dir = container_dir(c.id);
    c.log_path = dir + "/" + c.id + "-json.log";
    c.hostname_path = dir + "/hostname";
    c.hosts_path = dir + "/hosts";
    c.resolv_conf_path = dir + "/resolv.conf";

    std::shared_ptr<Entry> entry = std::make_shared<Entry>();
    {
        std::lock_guard lock(mu_);
        if (name.empty()) name = internal::generate_name([&](const std::string& n) { return names_.count("/" + n) > 0; });
        c.name = name[0] == '/' ? name : "/" + name;
        if (auto it = names_.find(c.name); it != names_.end()) {
            return make_error(Errc::Conflict, name_in_use_message(c.name, it->second));
        }
        names_[c.name] = c.id;  // reserved while the layer is made
    }
    auto release_name = [&] {
        std::lock_guard lock(mu_);
        names_.erase(c.name);
    };
    if (auto st = plan_mounts(c, host_config); !st) {
        release_name();
        return st.error();
    }
    if (auto st = driver_.create(c.rw_layer, c.image_top_layer, true); !st) {
        (void)volumes_.remove_anonymous_of(c.id);
        (void)volumes_.release_all(c.id);
        release_name();
        return with_context(st.error(), "creating the container's layer");
    }
    Status made = [&]() -> Status {
        CTL_TRY(sys::mkdir_all(dir, 0710));
        CTL_TRY(sys::write_file_replace(c.log_path, ""));
        return persist(c);
    }();
    if (!made) {
        (void)volumes_.remove_anonymous_of(c.id);
        (void)volumes_.release_all(c.id);
        (void)driver_.remove(c.rw_layer);
        (void)sys::remove_all(dir);
        release_name();
        return made.error();
    }
    entry->c = c;
    {
        std::lock_guard lock(mu_);
        entries_[c.id] = entry;
    }
    emit(c, "create");
    return Json{{"Id", c.id}, {"Warnings", Json::array()}};
}

// ---- inspect / list ---------------------------------------------------------------------------

Json ContainerService::inspect_json(const Container& c, bool size) {
    Json state = {{"Status", c.state.status},
                  {"Running", c.state.running},
                  {"Paused", c.state.paused},
                  {"Restarting", c.state.restarting},
                  {"OOMKilled", c.state.oom_killed},
                  {"Dead", c.state.dead},
                  {"Pid", c.state.pid},
                  {"ExitCode", c.state.exit_code},
                  {"Error", c.state.error},
                  {"StartedAt", c.state.started_at},
                  {"FinishedAt", c.state.finished_at}};
    if (c.state.health.is_object()) state["Health"] = c.state.health;
    std::string net_mode = string_or(c.host_config, "NetworkMode", "default");
    Json network_settings = network_settings_of(c);
    Json out = {{"Id", c.id},
                {"Created", c.created},
                {"Path", c.path},
                {"Args", c.args},
                {"State", state},
                {"Image", c.image_id},
                {"ResolvConfPath", c.resolv_conf_path},
                {"HostnamePath", c.hostname_path},
                {"HostsPath", c.hosts_path},
                {"LogPath", c.log_path},
                {"Name", c.name},
                {"RestartCount", c.restart_count},
                {"Driver", c.driver},
                {"Platform", "linux"},
                {"MountLabel", ""},
                {"ProcessLabel", ""},
                {"AppArmorProfile", ""},
                {"ExecIDs", nullptr},
                {"HostConfig", c.host_config},
                {"GraphDriver", {{"Name", c.driver}, {"Data", nullptr}}},
                {"Mounts", c.mounts},
                {"Config", c.config},
                {"NetworkSettings", network_settings}};
    if (size) add_sizes(out, c);
    return out;
}

// SizeRw (the writable layer) and SizeRootFs (plus the image), for size=1 in list and inspect.
void ContainerService::add_sizes(Json& out, const Container& c) {
    auto rw = driver_.size(c.rw_layer);
    out["SizeRw"] = rw ? *rw : 0;
    auto image = images_.get(c.image_id);
    out["SizeRootFs"] = (rw ? *rw : 0) + (image ? image->size : 0);
}

Json ContainerService::network_settings_of(const Container& c) {
    std::string net_mode = string_or(c.host_config, "NetworkMode", "default");
    const Json* exposed = find_ci(c.config, "ExposedPorts");
    Json settings = networks_.settings(c.id, net_mode, c.networking, exposed ? *exposed : Json());
    if (net_mode == "host") settings["Ports"] = Json::object();
    return settings;
}

Json ContainerService::summary_json(const Container& c, bool size) {
    std::string net_mode = string_or(c.host_config, "NetworkMode", "default");
    // Only the network part of inspect: building all of it for every row made `ps` slow.
    Json network_settings = network_settings_of(c);
    // docker ps's port list: one entry per binding, and exposed ports without one.
    Json ports = Json::array();
    const Json& port_map = network_settings["Ports"];
    for (auto it = port_map.begin(); port_map.is_object() && it != port_map.end(); ++it) {
        auto slash = it.key().find('/');
        int private_port = std::atoi(it.key().substr(0, slash).c_str());
        std::string type = slash == std::string::npos ? "tcp" : it.key().substr(slash + 1);
        if (!it.value().is_array()) {
            ports.push_back({{"PrivatePort", private_port}, {"Type", type}});
            continue;
        }
        for (const auto& b : it.value()) {
            ports.push_back({{"IP", string_or(b, "HostIp", "0.0.0.0")},
                             {"PrivatePort", private_port},
                             {"PublicPort", std::atoi(string_or(b, "HostPort", "0").c_str())},
                             {"Type", type}});
        }
    }
    Json out = {{"Id", c.id},
                {"Names", Json::array({c.name})},
                {"Image", string_or(c.config, "Image", c.image_id)},
                {"ImageID", c.image_id},
                {"Command", c.command_text()},
                {"Created", parse_timestamp(c.created) / 1000000000},
                {"Ports", ports},
                {"Labels", c.config.contains("Labels") && c.config["Labels"].is_object() ? c.config["Labels"] : Json::object()},
                {"State", c.state.status},
                {"Status", c.status_text(now_unix_nanos() / 1000000000)},
                {"HostConfig", {{"NetworkMode", net_mode}}},
                {"NetworkSettings", {{"Networks", std::move(network_settings["Networks"])}}},
                {"Mounts", c.mounts}};
    if (size) add_sizes(out, c);
    return out;
}

bool ContainerService::matches(const Container& c, const Filters& filters) {
    if (filters.has("id")) {
        bool any = false;
        for (const auto& v : filters.get("id")) any = any || starts_with(c.id, v);
        if (!any) return false;
    }
    if (filters.has("name")) {
        bool any = false;
        for (const auto& v : filters.get("name")) {
            try {
                any = any || std::regex_search(c.name, std::regex(v)) || std::regex_search(c.bare_name(), std::regex(v));
            } catch (const std::regex_error&) {
                any = any || c.bare_name().find(v) != std::string::npos;
            }
        }
        if (!any) return false;
    }
    if (filters.has("status")) {
        bool any = false;
        for (const auto& v : filters.get("status")) any = any || status_matches(c, v);
        if (!any) return false;
    }
    if (filters.has("exited")) {
        bool any = false;
        for (const auto& v : filters.get("exited")) {
            any = any || (!c.state.running && c.has_been_started && std::to_string(c.state.exit_code) == v);
        }
        if (!any) return false;
    }
    if (filters.has("ancestor")) {
        bool any = false;
        for (const auto& v : filters.get("ancestor")) {
            auto img = images_.resolve(v);
            any = any || (img && img->id == c.image_id) || string_or(c.config, "Image", "") == v;
        }
        if (!any) return false;
    }
    if (filters.has("health")) {
        std::string h = c.state.health.is_object() ? string_or(c.state.health, "Status", "none") : "none";
        bool any = false;
        for (const auto& v : filters.get("health")) any = any || v == h;
        if (!any) return false;
    }
    std::map<std::string, std::string> labels;
    if (c.config.contains("Labels") && c.config["Labels"].is_object()) {
        for (auto it = c.config["Labels"].begin(); it != c.config["Labels"].end(); ++it) {
            if (it->is_string()) labels[it.key()] = it->get<std::string>();
        }
    }
    return filters.match_labels(labels);
}

Result<Json> ContainerService::list_containers(bool all, int64_t limit, bool size, const Filters& filters) {
    std::vector<Container> snapshot;
    {
        std::lock_guard lock(mu_);
        for (auto& [id, e] : entries_) {
            std::lock_guard el(e->mu);
            snapshot.push_back(e->c);
        }
    }
    std::sort(snapshot.begin(), snapshot.end(), [](const Container& a, const Container& b) { return a.created > b.created; });
    bool status_filter = filters.has("status") || filters.has("exited");
    Json out = Json::array();
    for (const auto& c : snapshot) {
        if (!all && limit <= 0 && !status_filter && !c.state.running) continue;
        if (!matches(c, filters)) continue;
        out.push_back(summary_json(c, size));
        if (limit > 0 && static_cast<int64_t>(out.size()) >= limit) break;
    }
    return out;
}

Result<Json> ContainerService::inspect_container(const std::string& name, bool size) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    Container c;
    std::vector<std::string> execs;
    {
        std::lock_guard lock(e->mu);
        c = e->c;
        execs = e->exec_ids;
    }
    Json out = inspect_json(c, size);
    if (!execs.empty()) out["ExecIDs"] = execs;
    return out;
}

// ---- rename / remove / prune ------------------------------------------------------------------

Status ContainerService::rename_container(const std::string& name, const std::string& new_name_raw) {
    if (new_name_raw.empty()) return make_error(Errc::InvalidArgument, "Neither old nor new names may be empty");
    if (!std::regex_match(new_name_raw, kNameRe)) {
        return make_error(Errc::InvalidArgument,
                          "Invalid container name (" + new_name_raw + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    std::string new_name = new_name_raw[0] == '/' ? new_name_raw : "/" + new_name_raw;
    std::lock_guard lock(mu_);
    std::lock_guard el(e->mu);
    if (new_name == e->c.name) return make_error(Errc::InvalidArgument, "Renaming a container with the same name as its current name");
    if (auto it = names_.find(new_name); it != names_.end()) return make_error(Errc::Conflict, name_in_use_message(new_name, it->second));
    std::string old = e->c.name;
    e->c.name = new_name;
    if (auto st = persist(e->c); !st) {
        e->c.name = old;
        return st;
    }
    names_.erase(old);
    names_[new_name] = e->c.id;
    emit(e->c, "rename", {{"oldName", old}});
    return ok();
}

Status ContainerService::remove_container(const std::string& name, bool force, bool remove_volumes) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    std::unique_lock lock(e->mu);
    return remove_locked(lock, e, force, remove_volumes);
}

Status ContainerService::remove_locked(std::unique_lock<std::mutex>& lock, std::shared_ptr<Entry> e, bool force,
                                       bool remove_volumes) {
    e->cv.wait(lock, [&] { return !e->busy; });
    if (e->removed) return no_such_container(e->c.id);
    if (e->c.state.running || e->c.state.restarting) {
        if (!force) {
            if (e->c.state.paused) {
                return make_error(Errc::Conflict, "You cannot remove a paused container " + e->c.id +
                                                      ". Unpause and then stop the container before attempting removal or force remove");
            }
            return make_error(Errc::Conflict, "You cannot remove a running container " + e->c.id +
                                                  ". Stop the container before attempting removal or force remove");
        }
        e->c.manually_stopped = true;
        if (e->c.state.running) CTL_TRY(stop_locked(lock, *e, 0, SIGKILL));
        e->c.state.restarting = false;
    }
    e->busy = true;
    e->c.state.status = "removing";
    Container c = e->c;
    lock.unlock();
    // Not running by now: its exit (finish_exit) already cleared the runtime's state.
    cleanup_runtime_artifacts(c, false);
    Status st = driver_.remove(c.rw_layer);
    if (st) st = store_.execute("DELETE FROM containers WHERE id = ?", {c.id});
    lock.lock();
    e->busy = false;
    if (!st) {
        e->c.state.status = "dead";
        e->c.state.dead = true;
        (void)persist(e->c);
        e->cv.notify_all();
        return with_context(st.error(), "removing container " + c.short_id());
    }
    (void)sys::remove_all(container_dir(c.id));
    // Named volumes always stay; anonymous ones go with `rm -v` (and with AutoRemove).
    if (remove_volumes) {
        if (auto vst = volumes_.remove_anonymous_of(c.id); !vst) {
            log::warn("removing volumes of {}: {}", c.short_id(), vst.error().message);
        }
    }
    (void)volumes_.release_all(c.id);
    e->removed = true;
    std::vector<std::string> execs = e->exec_ids;
    e->cv.notify_all();
    {
        std::lock_guard l(mu_);
        entries_.erase(c.id);
        names_.erase(c.name);
        for (const auto& x : execs) execs_.erase(x);
    }
    emit(c, "destroy");
    return ok();
}

Result<Json> ContainerService::prune_containers(const Filters& filters) {
    int64_t until = -1;
    if (filters.has("until")) {
        until = parse_timestamp(filters.get("until").front());
        if (until < 0) return make_error(Errc::InvalidArgument, "invalid until filter");
    }
    std::vector<std::shared_ptr<Entry>> candidates;
    {
        std::lock_guard lock(mu_);
        for (auto& [id, e] : entries_) candidates.push_back(e);
    }
    Json deleted = Json::array();
    int64_t reclaimed = 0;
    for (auto& e : candidates) {
        std::unique_lock lock(e->mu);
        if (e->removed || e->c.state.running || e->c.state.restarting || e->busy) continue;
        if (until >= 0 && parse_timestamp(e->c.created) >= until) continue;
        std::map<std::string, std::string> labels;
        if (e->c.config.contains("Labels") && e->c.config["Labels"].is_object()) {
            for (auto it = e->c.config["Labels"].begin(); it != e->c.config["Labels"].end(); ++it) {
                if (it->is_string()) labels[it.key()] = it->get<std::string>();
            }
        }
        if (!filters.match_labels(labels)) continue;
        bool excluded = false;
        for (const auto& l : filters.get("label!")) {
            auto eq = l.find('=');
            auto it = labels.find(l.substr(0, eq));
            if (it != labels.end() && (eq == std::string::npos || it->second == l.substr(eq + 1))) excluded = true;
        }
        if (excluded) continue;
        auto size = driver_.size(e->c.rw_layer);
        std::string id = e->c.id;
        if (remove_locked(lock, e, false, false)) {
            deleted.push_back(id);
            reclaimed += size ? *size : 0;
        }
    }
    return Json{{"ContainersDeleted", deleted.empty() ? Json(nullptr) : deleted}, {"SpaceReclaimed", reclaimed}};
}

void ContainerService::contribute_info(Json& info) {
    int total = 0, running = 0, paused = 0, stopped = 0;
    std::lock_guard lock(mu_);
    for (auto& [id, e] : entries_) {
        std::lock_guard el(e->mu);
        ++total;
        if (e->c.state.paused) ++paused;
        else if (e->c.state.running) ++running;
        else ++stopped;
    }
    info["Containers"] = total;
    info["ContainersRunning"] = running;
    info["ContainersPaused"] = paused;
    info["ContainersStopped"] = stopped;
    Json runtimes = Json::object();
    for (const auto& r : options_.runtimes) runtimes[r.name] = {{"path", r.path}};
    info["Runtimes"] = runtimes;
    if (!options_.runtimes.empty()) {
        info["DefaultRuntime"] = options_.default_runtime.empty() ? options_.runtimes.front().name : options_.default_runtime;
    }
}

void ContainerService::contribute_df(Json& df) {
    std::vector<Container> snapshot;
    {
        std::lock_guard lock(mu_);
        for (auto& [id, e] : entries_) {
            std::lock_guard el(e->mu);
            snapshot.push_back(e->c);
        }
    }
    Json list = Json::array();
    for (const auto& c : snapshot) list.push_back(summary_json(c, true));
    df["Containers"] = list;
}

}  // namespace ctl::container
