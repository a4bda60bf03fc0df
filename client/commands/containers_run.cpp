// ctl run / ctl create: docker's flags turned into a create request, pull-on-missing, and run's
// attach-before-start sequence (container_io.cpp).
#include <cmath>
#include <cstdlib>
#include <fstream>

#include "client/commands/commands.hpp"
#include "client/commands/container_io.hpp"
#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"

namespace ctl::client {

namespace {

struct RunOptions {
    std::string image;
    std::vector<std::string> command;
    bool detach = false, interactive = false, tty = false, rm = false;
    bool privileged = false, read_only = false, init = false, publish_all = false, no_healthcheck = false;
    std::string name, workdir, user, hostname, domainname, restart, network, platform, pull = "missing";
    std::string entrypoint;
    CLI::Option* entrypoint_flag = nullptr;  // --entrypoint "" (reset) differs from no flag
    std::string memory, memory_swap, shm_size, cpus, cpu_shares, cpuset_cpus, pids_limit;
    std::string stop_signal, stop_timeout, log_driver, detach_keys, pid_mode, ipc_mode;
    std::string health_cmd, health_interval, health_timeout, health_retries, health_start_period;
    std::vector<std::string> env, env_files, labels, ulimits, cap_add, cap_drop, security_opts;
    std::vector<std::string> add_hosts, dns, dns_search, dns_options, log_opts, tmpfs, volumes, mounts;
    std::vector<std::string> volumes_from, publish, expose, group_add;
};

Error flag_error(const std::string& flag, const std::string& value, const std::string& why) {
    return usage_error("invalid argument \"" + value + "\" for \"" + flag + "\" flag: " + why);
}

Result<int64_t> parse_int(const std::string& flag, const std::string& value) {
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || errno != 0) return flag_error(flag, value, "invalid syntax");
    return static_cast<int64_t>(v);
}

// units.RAMInBytes: "512m", "1.5g", "64MiB", "100" (bytes); binary multiples.
Result<int64_t> ram_in_bytes(const std::string& flag, const std::string& value) {
    std::string v = to_lower(trim(value));
    size_t i = 0;
    while (i < v.size() && (std::isdigit(static_cast<unsigned char>(v[i])) || v[i] == '.')) ++i;
    std::string number = v.substr(0, i), unit = trim(v.substr(i));
    if (!unit.empty() && unit.back() == 'b') unit.pop_back();
    if (!unit.empty() && unit.back() == 'i') unit.pop_back();
    static const std::string kUnits = "kmgtp";
    double scale = 1;
    if (unit.size() > 1 || (unit.size() == 1 && kUnits.find(unit[0]) == std::string::npos) || number.empty()) {
        return flag_error(flag, value, "invalid size: '" + value + "'");
    }
    if (unit.size() == 1) scale = std::pow(1024.0, static_cast<double>(kUnits.find(unit[0]) + 1));
    char* end = nullptr;
    double n = std::strtod(number.c_str(), &end);
    if (*end != '\0') return flag_error(flag, value, "invalid size: '" + value + "'");
    return static_cast<int64_t>(n * scale);
}

Result<int64_t> duration_flag(const std::string& flag, const std::string& value) {
    auto ns = go_duration_nanos(value);
    if (!ns) return flag_error(flag, value, "time: invalid duration \"" + value + "\"");
    if (*ns < 0) return usage_error(flag + " cannot be negative");
    return *ns;
}

// "k=v" items as an object; "k" alone maps to "" (labels) or is refused (log options).
Result<Json> key_values(const std::vector<std::string>& items, const std::string& flag, bool value_required) {
    Json out = Json::object();
    for (const auto& item : items) {
        auto eq = item.find('=');
        if (eq == 0) return flag_error(flag, item, "empty key");
        if (eq == std::string::npos && value_required) return flag_error(flag, item, "expected key=value");
        out[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
    }
    return out;
}

// "VAR=value" as given; "VAR" alone takes our own value, or is dropped when we have none.
void add_env_entry(Json& env, const std::string& entry) {
    if (entry.find('=') != std::string::npos) {
        env.push_back(entry);
    } else if (const char* v = std::getenv(entry.c_str())) {
        env.push_back(entry + "=" + v);
    }
}

Result<Json> environment(const RunOptions& o) {
    Json env = Json::array();
    for (const auto& file : o.env_files) {  // files first: -e wins, as docker orders them
        std::ifstream in(file);
        if (!in) return usage_error("open " + file + ": no such file or directory");
        std::string line;
        while (std::getline(in, line)) {
            std::string entry = trim(line);
            if (entry.empty() || entry[0] == '#') continue;
            add_env_entry(env, entry);
        }
    }
    for (const auto& e : o.env) add_env_entry(env, e);
    return env;
}

Result<Json> restart_policy(const std::string& spec, bool auto_remove) {
    auto colon = spec.find(':');
    std::string name = spec.substr(0, colon);
    int64_t retries = 0;
    if (colon != std::string::npos) {
        if (name != "on-failure") return usage_error("invalid restart policy format: maximum retry count can only be used with 'on-failure'");
        CTL_ASSIGN_OR_RETURN(retries, parse_int("--restart", spec.substr(colon + 1)));
    }
    if (name != "no" && name != "always" && name != "unless-stopped" && name != "on-failure") {
        return usage_error("invalid restart policy '" + name + "'");
    }
    if (auto_remove && name != "no") return usage_error("Conflicting options: --restart and --rm");
    return Json{{"Name", name}, {"MaximumRetryCount", retries}};
}

// "nofile=1024[:2048]" as {"Name", "Soft", "Hard"}.
Result<Json> ulimit(const std::string& spec) {
    auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) return flag_error("--ulimit", spec, "invalid ulimit argument");
    std::string values = spec.substr(eq + 1);
    auto colon = values.find(':');
    CTL_ASSIGN_OR_RETURN(auto soft, parse_int("--ulimit", values.substr(0, colon)));
    int64_t hard = soft;
    if (colon != std::string::npos) {
        CTL_ASSIGN_OR_RETURN(hard, parse_int("--ulimit", values.substr(colon + 1)));
    }
    if (soft > hard) return flag_error("--ulimit", spec, "ulimit soft limit must be less than or equal to hard limit");
    return Json{{"Name", spec.substr(0, eq)}, {"Soft", soft}, {"Hard", hard}};
}

// "80", "8000-8010": the first and last port.
Result<std::pair<int, int>> port_range(const std::string& text, const std::string& spec) {
    auto dash = text.find('-');
    auto one = [&](const std::string& p) -> Result<int> {
        char* end = nullptr;
        long v = std::strtol(p.c_str(), &end, 10);
        if (p.empty() || *end != '\0' || v < 0 || v > 65535) return usage_error("invalid port specification: \"" + spec + "\"");
        return static_cast<int>(v);
    };
    CTL_ASSIGN_OR_RETURN(int first, one(text.substr(0, dash)));
    int last = first;
    if (dash != std::string::npos) {
        CTL_ASSIGN_OR_RETURN(last, one(text.substr(dash + 1)));
    }
    if (last < first) return usage_error("invalid range specified for port: " + spec);
    return std::make_pair(first, last);
}

Status expose_ports(Json& exposed, const std::string& spec) {
    auto slash = spec.find('/');
    std::string proto = slash == std::string::npos ? "tcp" : to_lower(spec.substr(slash + 1));
    CTL_ASSIGN_OR_RETURN(auto range, port_range(spec.substr(0, slash), spec));
    for (int p = range.first; p <= range.second; ++p) exposed[std::to_string(p) + "/" + proto] = Json::object();
    return ok();
}

// -p [ip:][hostPort:]containerPort[/proto] into ExposedPorts and PortBindings.
Status publish_port(Json& exposed, Json& bindings, const std::string& spec) {
    auto slash = spec.rfind('/');
    std::string proto = "tcp", rest = spec;
    if (slash != std::string::npos && spec.find(']', slash) == std::string::npos) {
        proto = to_lower(spec.substr(slash + 1));
        rest = spec.substr(0, slash);
    }
    std::string ip, host_port, container_port = rest;
    if (auto last = rest.rfind(':'); last != std::string::npos) {
        container_port = rest.substr(last + 1);
        std::string front = rest.substr(0, last);
        auto mid = front.rfind(':');
        if (mid == std::string::npos || (front.front() == '[' && front.back() == ']')) {
            host_port = mid == std::string::npos ? front : "";
            ip = mid == std::string::npos ? "" : front;
        } else {
            host_port = front.substr(mid + 1);
            ip = front.substr(0, mid);
        }
        if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
    }
    CTL_ASSIGN_OR_RETURN(auto ctr, port_range(container_port, spec));
    std::pair<int, int> host{0, -1};
    if (!host_port.empty()) {
        CTL_ASSIGN_OR_RETURN(host, port_range(host_port, spec));
    }
    int count = ctr.second - ctr.first;
    bool pairwise = !host_port.empty() && host.second - host.first == count;
    if (!host_port.empty() && !pairwise && count != 0) {
        return usage_error("invalid ranges specified for container and host Ports: " + spec);
    }
    for (int i = 0; i <= count; ++i) {
        std::string key = std::to_string(ctr.first + i) + "/" + proto;
        exposed[key] = Json::object();
        std::string hp = host_port.empty() ? "" : pairwise ? std::to_string(host.first + i) : host_port;
        if (!bindings.contains(key)) bindings[key] = Json::array();
        bindings[key].push_back({{"HostIp", ip}, {"HostPort", hp}});
    }
    return ok();
}

bool truthy(const std::string& v) { return v.empty() || v == "1" || v == "true"; }

// --mount type=bind,source=/a,target=/b,readonly as an API Mount object.
Result<Json> mount_spec(const std::string& spec) {
    Json m = {{"Type", "volume"}};
    Json bind = Json::object(), volume = Json::object(), tmpfs = Json::object();
    for (const auto& field : split(spec, ',')) {
        auto eq = field.find('=');
        std::string key = to_lower(trim(field.substr(0, eq)));
        std::string value = eq == std::string::npos ? "" : field.substr(eq + 1);
        if (key == "type") m["Type"] = value;
        else if (key == "source" || key == "src") m["Source"] = value;
        else if (key == "target" || key == "destination" || key == "dst") m["Target"] = value;
        else if (key == "readonly" || key == "ro") m["ReadOnly"] = truthy(value);
        else if (key == "consistency") m["Consistency"] = value;
        else if (key == "bind-propagation") bind["Propagation"] = value;
        else if (key == "bind-nonrecursive") bind["NonRecursive"] = truthy(value);
        else if (key == "volume-nocopy") volume["NoCopy"] = truthy(value);
        else if (key == "volume-driver") volume["DriverConfig"]["Name"] = value;
        else if (key == "volume-label" || key == "volume-opt") {
            auto e2 = value.find('=');
            if (e2 == std::string::npos) return usage_error("invalid value for " + key + ": " + value);
            Json& into = key == "volume-label" ? volume["Labels"] : volume["DriverConfig"]["Options"];
            into[value.substr(0, e2)] = value.substr(e2 + 1);
        } else if (key == "tmpfs-size") {
            CTL_ASSIGN_OR_RETURN(tmpfs["SizeBytes"], ram_in_bytes("--mount", value));
        } else if (key == "tmpfs-mode") {
            tmpfs["Mode"] = std::strtol(value.c_str(), nullptr, 8);
        } else {
            return usage_error("invalid argument \"" + spec + "\" for \"--mount\" flag: unexpected key '" + key + "' in '" + field + "'");
        }
    }
    if (string_or(m, "Target").empty()) return usage_error("invalid argument \"" + spec + "\" for \"--mount\" flag: target is required");
    if (!bind.empty()) m["BindOptions"] = bind;
    if (!volume.empty()) m["VolumeOptions"] = volume;
    if (!tmpfs.empty()) m["TmpfsOptions"] = tmpfs;
    return m;
}

// seccomp=FILE carries the profile itself, as the docker CLI sends it.
Result<std::string> security_opt(const std::string& opt) {
    std::string key = opt.substr(0, opt.find_first_of("=:"));
    if (key != "seccomp" || opt.size() <= key.size() + 1) return opt;
    std::string file = opt.substr(key.size() + 1);
    if (file == "unconfined") return opt;
    auto text = sys::read_file(file);
    if (!text) return usage_error("opening seccomp profile (" + file + ") failed: " + text.error().message);
    Json profile = Json::parse(*text, nullptr, false);
    if (profile.is_discarded()) return usage_error("compacting json for seccomp profile (" + file + ") failed");
    return "seccomp=" + to_line(profile);
}

Result<Json> healthcheck(const RunOptions& o) {
    bool any = !o.health_cmd.empty() || !o.health_interval.empty() || !o.health_timeout.empty() ||
               !o.health_retries.empty() || !o.health_start_period.empty();
    if (o.no_healthcheck) {
        if (any) return usage_error("--no-healthcheck conflicts with --health-* options");
        return Json{{"Test", {"NONE"}}};
    }
    if (!any) return Json();
    Json h = Json::object();
    if (!o.health_cmd.empty()) h["Test"] = {"CMD-SHELL", o.health_cmd};
    if (!o.health_interval.empty()) {
        CTL_ASSIGN_OR_RETURN(h["Interval"], duration_flag("--health-interval", o.health_interval));
    }
    if (!o.health_timeout.empty()) {
        CTL_ASSIGN_OR_RETURN(h["Timeout"], duration_flag("--health-timeout", o.health_timeout));
    }
    if (!o.health_start_period.empty()) {
        CTL_ASSIGN_OR_RETURN(h["StartPeriod"], duration_flag("--health-start-period", o.health_start_period));
    }
    if (!o.health_retries.empty()) {
        CTL_ASSIGN_OR_RETURN(h["Retries"], parse_int("--health-retries", o.health_retries));
    }
    return h;
}

// Resources and limits of HostConfig.
Status add_resources(Json& hc, const RunOptions& o) {
    if (!o.memory.empty()) {
        CTL_ASSIGN_OR_RETURN(hc["Memory"], ram_in_bytes("--memory", o.memory));
    }
    if (o.memory_swap == "-1") hc["MemorySwap"] = -1;
    else if (!o.memory_swap.empty()) {
        CTL_ASSIGN_OR_RETURN(hc["MemorySwap"], ram_in_bytes("--memory-swap", o.memory_swap));
    }
    if (!o.shm_size.empty()) {
        CTL_ASSIGN_OR_RETURN(hc["ShmSize"], ram_in_bytes("--shm-size", o.shm_size));
    }
    if (!o.cpus.empty()) {
        char* end = nullptr;
        double cpus = std::strtod(o.cpus.c_str(), &end);
        if (*end != '\0' || cpus < 0) return flag_error("--cpus", o.cpus, "failed to parse " + o.cpus + " as a rational number");
        hc["NanoCpus"] = static_cast<int64_t>(std::llround(cpus * 1e9));
    }
    if (!o.cpu_shares.empty()) {
        CTL_ASSIGN_OR_RETURN(hc["CpuShares"], parse_int("--cpu-shares", o.cpu_shares));
    }
    if (!o.cpuset_cpus.empty()) hc["CpusetCpus"] = o.cpuset_cpus;
    if (!o.pids_limit.empty()) {
        CTL_ASSIGN_OR_RETURN(hc["PidsLimit"], parse_int("--pids-limit", o.pids_limit));
    }
    if (!o.ulimits.empty()) {
        hc["Ulimits"] = Json::array();
        for (const auto& u : o.ulimits) {
            CTL_ASSIGN_OR_RETURN(auto limit, ulimit(u));
            hc["Ulimits"].push_back(limit);
        }
    }
    return ok();
}

// -v: "/data" is an anonymous volume (Config.Volumes), anything with a source a bind or named volume.
void add_volume_flags(Json& config, Json& hc, const RunOptions& o) {
    for (const auto& v : o.volumes) {
        if (v.find(':') == std::string::npos) config["Volumes"][v] = Json::object();
        else hc["Binds"].push_back(v);
    }
}

Result<Json> host_config(const RunOptions& o, Json& config) {
    Json hc = Json::object();
    CTL_TRY(add_resources(hc, o));
    add_volume_flags(config, hc, o);
    if (!o.mounts.empty()) {
        hc["Mounts"] = Json::array();
        for (const auto& m : o.mounts) {
            CTL_ASSIGN_OR_RETURN(auto mount, mount_spec(m));
            hc["Mounts"].push_back(mount);
        }
    }
    for (const auto& t : o.tmpfs) {
        auto colon = t.find(':');
        hc["Tmpfs"][t.substr(0, colon)] = colon == std::string::npos ? "" : t.substr(colon + 1);
    }
    if (!o.restart.empty()) {
        CTL_ASSIGN_OR_RETURN(hc["RestartPolicy"], restart_policy(o.restart, o.rm));
    }
    if (!o.log_driver.empty() || !o.log_opts.empty()) {
        CTL_ASSIGN_OR_RETURN(auto opts, key_values(o.log_opts, "--log-opt", true));
        hc["LogConfig"] = {{"Type", o.log_driver}, {"Config", opts}};
    }
    for (const auto& s : o.security_opts) {
        CTL_ASSIGN_OR_RETURN(auto opt, security_opt(s));
        hc["SecurityOpt"].push_back(opt);
    }
    for (const auto& h : o.add_hosts) {
        std::string entry = h;
        if (auto eq = entry.find('='); eq != std::string::npos) entry[eq] = ':';  // newer CLIs' host=ip
        if (entry.find(':') == std::string::npos) return flag_error("--add-host", h, "bad format for add-host: \"" + h + "\"");
        hc["ExtraHosts"].push_back(entry);
    }
    Json exposed = Json::object(), bindings = Json::object();
    for (const auto& e : o.expose) CTL_TRY(expose_ports(exposed, e));
    for (const auto& p : o.publish) CTL_TRY(publish_port(exposed, bindings, p));
    if (!exposed.empty()) config["ExposedPorts"] = exposed;
    if (!bindings.empty()) hc["PortBindings"] = bindings;
    if (o.publish_all) hc["PublishAllPorts"] = true;
    if (o.init) hc["Init"] = true;
    if (o.rm) hc["AutoRemove"] = true;
    if (o.privileged) hc["Privileged"] = true;
    if (o.read_only) hc["ReadonlyRootfs"] = true;
    if (!o.network.empty()) hc["NetworkMode"] = o.network;
    if (!o.pid_mode.empty()) hc["PidMode"] = o.pid_mode;
    if (!o.ipc_mode.empty()) hc["IpcMode"] = o.ipc_mode;
    auto list = [&](const char* key, const std::vector<std::string>& items) {
        if (!items.empty()) hc[key] = items;
    };
    list("CapAdd", o.cap_add);
    list("CapDrop", o.cap_drop);
    list("VolumesFrom", o.volumes_from);
    list("Dns", o.dns);
    list("DnsSearch", o.dns_search);
    list("DnsOptions", o.dns_options);
    list("GroupAdd", o.group_add);
    return hc;
}

// The POST /containers/create body for the flags. `attach`: run without -d.
Result<Json> create_body(const RunOptions& o, bool attach) {
    Json config = {{"Image", o.image},
                   {"Tty", o.tty},
                   {"OpenStdin", o.interactive},
                   {"AttachStdin", attach && o.interactive},
                   {"AttachStdout", attach},
                   {"AttachStderr", attach},
                   {"StdinOnce", attach && o.interactive}};
    CTL_ASSIGN_OR_RETURN(config["Env"], environment(o));
    CTL_ASSIGN_OR_RETURN(config["Labels"], key_values(o.labels, "--label", false));
    if (!o.command.empty()) config["Cmd"] = o.command;
    if (o.entrypoint_flag && o.entrypoint_flag->count() > 0) config["Entrypoint"] = Json::array({o.entrypoint});
    if (!o.hostname.empty()) config["Hostname"] = o.hostname;
    if (!o.domainname.empty()) config["Domainname"] = o.domainname;
    if (!o.user.empty()) config["User"] = o.user;
    if (!o.workdir.empty()) config["WorkingDir"] = o.workdir;
    if (!o.stop_signal.empty()) config["StopSignal"] = o.stop_signal;
    if (!o.stop_timeout.empty()) {
        CTL_ASSIGN_OR_RETURN(config["StopTimeout"], parse_int("--stop-timeout", o.stop_timeout));
    }
    CTL_ASSIGN_OR_RETURN(auto health, healthcheck(o));
    if (!health.is_null()) config["Healthcheck"] = health;
    CTL_ASSIGN_OR_RETURN(config["HostConfig"], host_config(o, config));
    return config;
}

// "busybox" -> "busybox:latest": what docker names in "Unable to find image" and pulls.
std::string with_default_tag(const std::string& image) {
    auto slash = image.rfind('/');
    bool tagged = image.find(':', slash == std::string::npos ? 0 : slash) != std::string::npos;
    return tagged || image.find('@') != std::string::npos ? image : image + ":latest";
}

// Creates the container, pulling its image first when --pull asks or the engine lacks it.
Result<std::string> create_container(Context& ctx, const RunOptions& o, const Json& body) {
    Query q;
    if (!o.name.empty()) q.emplace_back("name", o.name);
    std::string ref = with_default_tag(o.image);
    ctx.out().flush();
    if (o.pull == "always") CTL_TRY(pull_image_for_run(ctx, stderr, ref, o.platform));
    Request req = Request("POST", "/containers/create", q).json(body);
    auto resp = ctx.http().request(req);
    if (!resp && resp.error().code == Errc::NotFound && o.pull == "missing" &&
        daemon_message(resp.error()).find("No such image") != std::string::npos) {
        std::fprintf(stderr, "Unable to find image '%s' locally\n", ref.c_str());
        CTL_TRY(pull_image_for_run(ctx, stderr, ref, o.platform));
        resp = ctx.http().request(req);
    }
    if (!resp) return resp.error();
    CTL_ASSIGN_OR_RETURN(auto created, resp->json());
    if (const Json* warnings = find_ci(created, "Warnings"); warnings && warnings->is_array()) {
        for (const auto& w : *warnings) ctx.err() << "WARNING: " << go_print(w) << "\n";
    }
    return string_or(created, "Id");
}

Status check_pull_policy(const RunOptions& o) {
    if (o.pull != "missing" && o.pull != "always" && o.pull != "never") {
        return usage_error("invalid pull option: '" + o.pull + "': must be one of \"always\", \"missing\" or \"never\"");
    }
    return ok();
}

Status create(Context& ctx, const RunOptions& o) {
    CTL_TRY(check_pull_policy(o));
    CTL_ASSIGN_OR_RETURN(auto body, create_body(o, false));
    CTL_ASSIGN_OR_RETURN(auto id, create_container(ctx, o, body));
    ctx.out() << id << "\n";
    return ok();
}

Status run(Context& ctx, const RunOptions& o) {
    CTL_TRY(check_pull_policy(o));
    if (o.detach && !o.detach_keys.empty() && detach_key_bytes(o.detach_keys).empty()) {
        return usage_error("invalid detach keys: " + o.detach_keys);
    }
    CTL_TRY(check_tty_input(o.tty, !o.detach && o.interactive));
    CTL_ASSIGN_OR_RETURN(auto body, create_body(o, !o.detach));
    CTL_ASSIGN_OR_RETURN(auto id, create_container(ctx, o, body));
    if (!o.detach) return attach_start_and_wait(ctx, {id, o.tty, o.interactive, o.rm, o.detach_keys});
    auto started = ctx.http().request("POST", "/containers/" + id + "/start");
    if (!started) {
        ctx.report(started.error());
        ctx.set_exit_code(start_failure_code(started.error().message));
        return ok();
    }
    ctx.out() << id << "\n";
    return ok();
}

// The flags run and create share (docker's container options).
void define_flags(CLI::App& c, RunOptions& o, bool is_run) {
    // -h is --hostname here, as in docker; help stays --help.
    c.set_help_flag("--help", "Print usage");
    // IMAGE, then everything after it is the container's command, flags included.
    c.positionals_at_end(true);
    c.add_option("IMAGE", o.image, "Image to run")->required();
    c.add_option("COMMAND", o.command, "Command and arguments")->allow_extra_args(true);
    if (is_run) {
        c.add_flag("-d,--detach", o.detach, "Run container in background and print container ID");
        c.add_option("--detach-keys", o.detach_keys, "Override the key sequence for detaching a container");
        c.add_flag("--rm", o.rm, "Automatically remove the container when it exits");
    } else {
        c.add_flag("--rm", o.rm, "Automatically remove the container when it exits");
    }
    c.add_flag("-i,--interactive", o.interactive, "Keep STDIN open even if not attached");
    c.add_flag("-t,--tty", o.tty, "Allocate a pseudo-TTY");
    c.add_option("--name", o.name, "Assign a name to the container");
    c.add_option("-e,--env", o.env, "Set environment variables");
    c.add_option("--env-file", o.env_files, "Read in a file of environment variables");
    c.add_option("-l,--label", o.labels, "Set meta data on a container");
    c.add_option("-w,--workdir", o.workdir, "Working directory inside the container");
    c.add_option("-u,--user", o.user, "Username or UID (format: <name|uid>[:<group|gid>])");
    o.entrypoint_flag = c.add_option("--entrypoint", o.entrypoint, "Overwrite the default ENTRYPOINT of the image");
    c.add_option("-h,--hostname", o.hostname, "Container host name");
    c.add_option("--domainname", o.domainname, "Container NIS domain name");
    c.add_option("--restart", o.restart, "Restart policy to apply when a container exits");
    c.add_option("-m,--memory", o.memory, "Memory limit");
    c.add_option("--memory-swap", o.memory_swap, "Swap limit equal to memory plus swap: '-1' to enable unlimited swap");
    c.add_option("--shm-size", o.shm_size, "Size of /dev/shm");
    c.add_option("--cpus", o.cpus, "Number of CPUs");
    c.add_option("-c,--cpu-shares", o.cpu_shares, "CPU shares (relative weight)");
    c.add_option("--cpuset-cpus", o.cpuset_cpus, "CPUs in which to allow execution (0-3, 0,1)");
    c.add_option("--pids-limit", o.pids_limit, "Tune container pids limit (set -1 for unlimited)");
    c.add_option("--ulimit", o.ulimits, "Ulimit options");
    c.add_option("--cap-add", o.cap_add, "Add Linux capabilities");
    c.add_option("--cap-drop", o.cap_drop, "Drop Linux capabilities");
    c.add_flag("--privileged", o.privileged, "Give extended privileges to this container");
    c.add_flag("--read-only", o.read_only, "Mount the container's root filesystem as read only");
    c.add_option("--security-opt", o.security_opts, "Security Options");
    c.add_flag("--init", o.init, "Run an init inside the container that forwards signals and reaps processes");
    c.add_option("--add-host", o.add_hosts, "Add a custom host-to-IP mapping (host:ip)");
    c.add_option("--dns", o.dns, "Set custom DNS servers");
    c.add_option("--dns-search", o.dns_search, "Set custom DNS search domains");
    c.add_option("--dns-option", o.dns_options, "Set DNS options");
    c.add_option("--group-add", o.group_add, "Add additional groups to join");
    c.add_option("--pid", o.pid_mode, "PID namespace to use");
    c.add_option("--ipc", o.ipc_mode, "IPC mode to use");
    c.add_option("--stop-signal", o.stop_signal, "Signal to stop the container");
    c.add_option("--stop-timeout", o.stop_timeout, "Timeout (in seconds) to stop a container");
    c.add_option("--health-cmd", o.health_cmd, "Command to run to check health");
    c.add_option("--health-interval", o.health_interval, "Time between running the check (ms|s|m|h)");
    c.add_option("--health-timeout", o.health_timeout, "Maximum time to allow one check to run (ms|s|m|h)");
    c.add_option("--health-retries", o.health_retries, "Consecutive failures needed to report unhealthy");
    c.add_option("--health-start-period", o.health_start_period, "Start period for the container to initialize (ms|s|m|h)");
    c.add_flag("--no-healthcheck", o.no_healthcheck, "Disable any container-specified HEALTHCHECK");
    c.add_option("--log-driver", o.log_driver, "Logging driver for the container");
    c.add_option("--log-opt", o.log_opts, "Log driver options");
    c.add_option("--tmpfs", o.tmpfs, "Mount a tmpfs directory");
    c.add_option("-v,--volume", o.volumes, "Bind mount a volume");
    c.add_option("--mount", o.mounts, "Attach a filesystem mount to the container");
    c.add_option("--volumes-from", o.volumes_from, "Mount volumes from the specified container(s)");
    c.add_option("-p,--publish", o.publish, "Publish a container's port(s) to the host");
    c.add_flag("-P,--publish-all", o.publish_all, "Publish all exposed ports to random ports");
    c.add_option("--expose", o.expose, "Expose a port or a range of ports");
    c.add_option("--network,--net", o.network, "Connect a container to a network");
    c.add_option("--platform", o.platform, "Set platform if server is multi-platform capable");
    c.add_option("--pull", o.pull, "Pull image before running (\"always\"|\"missing\"|\"never\")");
}

}  // namespace

void add_run_commands(CLI::App& parent, Context& ctx) {
    add_command<RunOptions>(
        parent, ctx, "run", "Run a command in a new container",
        [](CLI::App& c, RunOptions& o) { define_flags(c, o, true); }, run);
    add_command<RunOptions>(
        parent, ctx, "create", "Create a new container",
        [](CLI::App& c, RunOptions& o) { define_flags(c, o, false); }, create);
}

}  // namespace ctl::client
