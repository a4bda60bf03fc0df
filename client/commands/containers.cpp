// ctl start, stop, restart, kill, pause, unpause, wait, rm, rename, ps, logs, exec, attach, top
// and `ctl container *` (with inspect and prune), with the docker CLI's flags and output. run and
// create are in containers_run.cpp, the stream plumbing in container_io.cpp.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <iostream>
#include <optional>
#include <set>
#include <thread>

#include "client/commands/commands.hpp"
#include "client/commands/container_io.hpp"
#include "client/display.hpp"
#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"

namespace ctl::client {

namespace {

std::string container_path(const std::string& name, const std::string& action = "") {
    return "/containers/" + name + (action.empty() ? "" : "/" + action);
}

// POSTs `action` to each container and prints its name, as docker does; an error is reported and
// the next container is tried (the exit code becomes 125). "Already in that state" is success.
Status for_each_container(Context& ctx, const std::vector<std::string>& names, const std::string& action, const Query& q) {
    for (const auto& name : names) {
        auto resp = ctx.http().request("POST", container_path(name, action), q);
        if (!resp && resp.error().code != Errc::NotModified) {
            ctx.report(resp.error());
            continue;
        }
        ctx.out() << name << "\n";
    }
    return ok();
}

// ---- start / stop / restart / kill / pause / unpause / wait / rm / rename ------------------

struct StartOptions {
    std::vector<std::string> names;
    bool attach = false, interactive = false;
    std::string detach_keys;
};

Status start(Context& ctx, const StartOptions& o) {
    if (!o.attach && !o.interactive) return for_each_container(ctx, o.names, "start", {});
    if (o.names.size() > 1) return usage_error("you cannot start and attach multiple containers at once");
    CTL_ASSIGN_OR_RETURN(auto info, ctx.get_json(container_path(o.names[0], "json")));
    const Json* config = find_ci(info, "Config");
    const Json* host = find_ci(info, "HostConfig");
    AttachedRun a;
    a.id = string_or(info, "Id");
    a.tty = config && bool_or(*config, "Tty");
    a.attach_stdin = o.interactive && config && bool_or(*config, "OpenStdin");
    a.auto_remove = host && bool_or(*host, "AutoRemove");
    a.detach_keys = o.detach_keys;
    CTL_TRY(check_tty_input(a.tty, a.attach_stdin));
    return attach_start_and_wait(ctx, a);
}

struct StopOptions {
    std::vector<std::string> names;
    std::string time;    // -t; empty: the container's own stop timeout
    std::string signal;  // stop -s
};

Query stop_query(const StopOptions& o) {
    Query q;
    if (!o.time.empty()) q.emplace_back("t", o.time);
    if (!o.signal.empty()) q.emplace_back("signal", o.signal);
    return q;
}

struct NamesOptions {
    std::vector<std::string> names;
};

struct KillOptions {
    std::vector<std::string> names;
    std::string signal;
};

Status wait_containers(Context& ctx, const NamesOptions& o) {
    for (const auto& name : o.names) {
        auto resp = ctx.http().request("POST", container_path(name, "wait"));
        if (!resp) {
            ctx.report(resp.error());
            continue;
        }
        Json doc = Json::parse(resp->body, nullptr, false);
        const Json* err = doc.is_object() ? find_ci(doc, "Error") : nullptr;
        if (err && err->is_object() && !string_or(*err, "Message").empty()) {
            ctx.report(make_error(Errc::Internal, string_or(*err, "Message")));
            continue;
        }
        ctx.out() << (doc.is_object() ? int_or(doc, "StatusCode") : -1) << "\n";
    }
    return ok();
}

struct RemoveOptions {
    std::vector<std::string> names;
    bool force = false, volumes = false, link = false;
};

Status remove(Context& ctx, const RemoveOptions& o) {
    for (const auto& name : o.names) {
        Query q;
        if (o.force) q.emplace_back("force", "1");
        if (o.volumes) q.emplace_back("v", "1");
        if (o.link) q.emplace_back("link", "1");
        auto resp = ctx.http().request("DELETE", container_path(name), q);
        if (!resp) {
            ctx.report(resp.error());
            continue;
        }
        ctx.out() << name << "\n";
    }
    return ok();
}

struct RenameOptions {
    std::string from, to;
};

Status rename(Context& ctx, const RenameOptions& o) {
    if (trim(o.to).empty()) return usage_error("Error: Neither old nor new names may be empty");
    auto resp = ctx.http().request("POST", container_path(o.from, "rename"), {{"name", o.to}});
    return resp ? ok() : Status(resp.error());
}

// ---- ps -------------------------------------------------------------------------------------

struct ListOptions {
    bool all = false, quiet = false, latest = false, size = false, no_trunc = false;
    int last = -1;
    std::vector<std::string> filters;
    std::string format;
};

// Go's strconv.Quote for the COMMAND column.
std::string go_quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out + "\"";
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
    return out;
}

// "0.0.0.0:8080->80/tcp, 443/tcp" from the list's Ports.
std::string ports_text(const Json& c) {
    std::vector<std::string> out;
    const Json* ports = find_ci(c, "Ports");
    if (!ports || !ports->is_array()) return "";
    for (const auto& p : *ports) {
        std::string priv = std::to_string(int_or(p, "PrivatePort")) + "/" + string_or(p, "Type", "tcp");
        int64_t pub = int_or(p, "PublicPort");
        std::string ip = string_or(p, "IP");
        if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
        out.push_back(pub ? ip + ":" + std::to_string(pub) + "->" + priv : priv);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return join(out, ", ");
}

// Go's time.Time.String() in local time: "2024-05-01 10:00:00 +0200 CEST".
std::string go_time_string(int64_t unix_seconds) {
    time_t t = static_cast<time_t>(unix_seconds);
    struct tm tm {};
    localtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %z %Z", &tm);
    return buf;
}

std::vector<std::string> string_list(const Json& c, std::string_view key) {
    std::vector<std::string> out;
    if (const Json* v = find_ci(c, key); v && v->is_array()) {
        for (const auto& s : *v) out.push_back(go_print(s));
    }
    return out;
}

// The fields `ps --format` offers (docker's container formatter).
Json list_row(const Json& c, bool no_trunc) {
    std::string id = string_or(c, "Id");
    std::string command = string_or(c, "Command");
    std::vector<std::string> names;
    for (auto name : string_list(c, "Names")) {
        if (!name.empty() && name[0] == '/') name.erase(0, 1);
        if (no_trunc || name.find('/') == std::string::npos) names.push_back(name);  // links are "other/alias"
    }
    std::vector<std::string> labels, networks, mounts;
    if (const Json* l = find_ci(c, "Labels"); l && l->is_object()) {
        for (auto it = l->begin(); it != l->end(); ++it) labels.push_back(it.key() + "=" + go_print(*it));
    }
    if (const Json* ns = find_ci(c, "NetworkSettings"); ns && ns->is_object()) {
        if (const Json* nets = find_ci(*ns, "Networks"); nets && nets->is_object()) {
            for (auto it = nets->begin(); it != nets->end(); ++it) networks.push_back(it.key());
        }
    }
    int local_volumes = 0;
    if (const Json* ms = find_ci(c, "Mounts"); ms && ms->is_array()) {
        for (const auto& m : *ms) {
            std::string name = string_or(m, "Name");
            if (name.empty()) name = string_or(m, "Source");
            mounts.push_back(no_trunc ? name : ellipsis(name, 15));
            if (string_or(m, "Driver") == "local") ++local_volumes;
        }
    }
    std::sort(labels.begin(), labels.end());
    std::sort(networks.begin(), networks.end());
    std::string size = human_size_precision(static_cast<double>(int_or(c, "SizeRw")), 3);
    if (int64_t root = int_or(c, "SizeRootFs"); root > 0) size += " (virtual " + human_size_precision(static_cast<double>(root), 3) + ")";
    int64_t created = int_or(c, "Created");
    return Json{{"ID", no_trunc ? id : truncate_id(id)},
                {"Image", string_or(c, "Image")},
                {"Command", go_quote(no_trunc ? command : ellipsis(command, 20))},
                {"CreatedAt", go_time_string(created)},
                {"RunningFor", time_ago(created)},
                {"Ports", ports_text(c)},
                {"State", string_or(c, "State")},
                {"Status", string_or(c, "Status")},
                {"Size", size},
                {"Names", join(names, ",")},
                {"Labels", join(labels, ",")},
                {"Mounts", join(mounts, ",")},
                {"Networks", join(networks, ",")},
                {"LocalVolumes", std::to_string(local_volumes)}};
}

Status list(Context& ctx, const ListOptions& o) {
    Query q;
    int limit = o.latest ? 1 : o.last;
    if (o.all || limit > 0) q.emplace_back("all", "1");
    if (limit > 0) q.emplace_back("limit", std::to_string(limit));
    if (o.size) q.emplace_back("size", "1");
    CTL_ASSIGN_OR_RETURN(auto filters_text, filters_json(o.filters));
    if (!filters_text.empty()) q.emplace_back("filters", filters_text);
    CTL_ASSIGN_OR_RETURN(auto doc, ctx.get_json("/containers/json", q));
    std::vector<Json> rows;
    if (doc.is_array()) {
        for (const auto& c : doc) rows.push_back(list_row(c, o.no_trunc));
    }
    if (o.quiet) {
        for (const auto& r : rows) ctx.out() << r["ID"].get<std::string>() << "\n";
        return ok();
    }
    std::string def = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
    if (o.size) def += "\t{{.Size}}";
    CTL_ASSIGN_OR_RETURN(auto text, format_rows(o.format, def, rows,
                                                 {{"ID", "CONTAINER ID"}, {"RunningFor", "CREATED"},
                                                  {"CreatedAt", "CREATED AT"}, {"LocalVolumes", "LOCAL VOLUMES"}}));
    ctx.out() << text;
    return ok();
}

// ---- logs -----------------------------------------------------------------------------------

struct LogsOptions {
    std::string name, tail = "all", since, until;
    bool follow = false, timestamps = false, details = false;
};

Result<bool> container_tty(Context& ctx, const std::string& name) {
    CTL_ASSIGN_OR_RETURN(auto info, ctx.get_json(container_path(name, "json")));
    const Json* config = find_ci(info, "Config");
    return config && bool_or(*config, "Tty");
}

Status logs(Context& ctx, const LogsOptions& o) {
    CTL_ASSIGN_OR_RETURN(bool tty, container_tty(ctx, o.name));
    Query q = {{"stdout", "1"}, {"stderr", "1"}, {"tail", o.tail.empty() ? "all" : o.tail}};
    if (o.follow) q.emplace_back("follow", "1");
    if (o.timestamps) q.emplace_back("timestamps", "1");
    if (o.details) q.emplace_back("details", "1");
    int64_t now = now_unix_nanos();
    if (!o.since.empty()) {
        CTL_ASSIGN_OR_RETURN(auto since, api_timestamp(o.since, now, "--since"));
        q.emplace_back("since", since);
    }
    if (!o.until.empty()) {
        CTL_ASSIGN_OR_RETURN(auto until, api_timestamp(o.until, now, "--until"));
        q.emplace_back("until", until);
    }
    ctx.out().flush();
    Demuxer demux(1, 2);
    auto st = ctx.http().stream(Request("GET", container_path(o.name, "logs"), q), [&](std::string_view chunk) {
        if (tty) (void)sys::write_all(1, chunk);
        else demux.feed(chunk);
        return true;
    });
    return st ? ok() : Status(st.error());
}

// ---- exec / attach --------------------------------------------------------------------------

struct ExecOptions {
    std::string container;
    std::vector<std::string> command;
    bool interactive = false, tty = false, detach = false, privileged = false;
    std::vector<std::string> env, env_files;
    std::string user, workdir, detach_keys;
};

Json exec_body(const ExecOptions& o) {
    Json env = Json::array();
    for (const auto& e : o.env) {
        if (e.find('=') != std::string::npos) env.push_back(e);
        else if (const char* v = std::getenv(e.c_str())) env.push_back(e + "=" + v);
    }
    Json body = {{"AttachStdin", o.interactive && !o.detach},
                 {"AttachStdout", !o.detach},
                 {"AttachStderr", !o.detach},
                 {"Tty", o.tty},
                 {"Privileged", o.privileged},
                 {"Env", env},
                 {"Cmd", o.command}};
    if (!o.user.empty()) body["User"] = o.user;
    if (!o.workdir.empty()) body["WorkingDir"] = o.workdir;
    if (!o.detach_keys.empty()) body["DetachKeys"] = o.detach_keys;
    return body;
}

// The exec's exit code once the engine has recorded it (it may lag the end of the stream).
Result<int> exec_exit_code(Context& ctx, const std::string& exec_id) {
    for (int tries = 0;; ++tries) {
        CTL_ASSIGN_OR_RETURN(auto info, ctx.get_json("/exec/" + exec_id + "/json"));
        const Json* code = find_ci(info, "ExitCode");
        if ((!bool_or(info, "Running") && code && code->is_number()) || tries >= 100) {
            return code && code->is_number() ? code->get<int>() : kExitError;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

Status exec(Context& ctx, const ExecOptions& o) {
    if (o.command.empty()) return usage_error("\"exec\" requires at least 2 arguments.");
    CTL_TRY(check_tty_input(o.tty, o.interactive && !o.detach));
    CTL_ASSIGN_OR_RETURN(auto resp, ctx.http().request(Request("POST", container_path(o.container, "exec")).json(exec_body(o))));
    CTL_ASSIGN_OR_RETURN(auto created, resp.json());
    std::string id = string_or(created, "Id");
    Request start("POST", "/exec/" + id + "/start");
    start.json({{"Detach", o.detach}, {"Tty", o.tty}});
    if (o.detach) {
        auto started = ctx.http().request(start);
        return started ? ok() : Status(started.error());
    }
    auto hijacked = ctx.http().hijack(start);
    if (!hijacked) {  // the process could not be started: docker's 126/127 rule, as for run
        ctx.report(hijacked.error());
        ctx.set_exit_code(start_failure_code(hijacked.error().message));
        return ok();
    }
    HijackedConn conn = std::move(*hijacked);
    std::string resize = "/exec/" + id + "/resize";
    Result<StreamEnd> end = StreamEnd::Closed;
    {
        RawTerminal raw(o.tty && o.interactive);
        if (o.tty) resize_tty(ctx, resize);
        end = pump_stream(ctx, conn, {o.tty, o.interactive, o.detach_keys, resize});
    }
    conn.close();
    if (!end) return end.error();
    if (*end == StreamEnd::Detached) return ok();
    CTL_ASSIGN_OR_RETURN(int code, exec_exit_code(ctx, id));
    ctx.set_exit_code(code);
    return ok();
}

struct AttachOptions {
    std::string container, detach_keys;
    bool no_stdin = false, sig_proxy = true;
};

Status attach(Context& ctx, const AttachOptions& o) {
    CTL_ASSIGN_OR_RETURN(auto info, ctx.get_json(container_path(o.container, "json")));
    const Json* state = find_ci(info, "State");
    if (!state || !bool_or(*state, "Running")) return usage_error("You cannot attach to a stopped container, start it first");
    if (bool_or(*state, "Paused")) return usage_error("You cannot attach to a paused container, unpause it first");
    const Json* config = find_ci(info, "Config");
    bool tty = config && bool_or(*config, "Tty");
    bool with_stdin = !o.no_stdin && config && bool_or(*config, "OpenStdin");
    CTL_TRY(check_tty_input(tty, with_stdin));
    std::string id = string_or(info, "Id");
    Query q = {{"stream", "1"}, {"stdout", "1"}, {"stderr", "1"}};
    if (with_stdin) q.emplace_back("stdin", "1");
    if (!o.detach_keys.empty()) q.emplace_back("detachKeys", o.detach_keys);
    CTL_ASSIGN_OR_RETURN(auto conn, ctx.http().hijack(Request("POST", container_path(id, "attach"), q)));
    Result<StreamEnd> end = StreamEnd::Closed;
    {
        RawTerminal raw(tty && with_stdin);
        if (tty) resize_tty(ctx, container_path(id, "resize"));
        end = pump_stream(ctx, conn, {tty, with_stdin, o.detach_keys, container_path(id, "resize")});
    }
    conn.close();
    if (!end) return end.error();
    if (*end == StreamEnd::Detached) return ok();
    // The stream ends with the process: its exit code is ours, as docker attach does.
    auto waited = ctx.http().request("POST", container_path(id, "wait"));
    if (waited) ctx.set_exit_code(static_cast<int>(int_or(Json::parse(waited->body, nullptr, false), "StatusCode")));
    return ok();
}

// ---- inspect / top / prune ------------------------------------------------------------------

struct InspectOptions {
    std::vector<std::string> names;
    std::string format;
    bool size = false;
};

Status inspect(Context& ctx, const InspectOptions& o) {
    std::optional<Template> tmpl;
    if (!o.format.empty() && o.format != "json") {
        CTL_ASSIGN_OR_RETURN(auto t, Template::parse(o.format));
        tmpl = std::move(t);
    }
    Json found = Json::array();
    for (const auto& name : o.names) {
        Query q;
        if (o.size) q.emplace_back("size", "1");
        auto doc = ctx.get_json(container_path(name, "json"), q);
        if (!doc) {
            ctx.report(doc.error());
            continue;
        }
        if (o.format == "json") {
            ctx.out() << to_line(*doc) << "\n";
        } else if (tmpl) {
            CTL_ASSIGN_OR_RETURN(auto text, tmpl->render(*doc));
            ctx.out() << text << "\n";
        } else {
            found.push_back(*doc);
        }
    }
    if (o.format.empty()) ctx.out() << found.dump(4, ' ', false, Json::error_handler_t::replace) << "\n";
    return ok();
}

struct TopOptions {
    std::string container;
    std::vector<std::string> ps_args;
};

Status top(Context& ctx, const TopOptions& o) {
    Query q;
    if (!o.ps_args.empty()) q.emplace_back("ps_args", join(o.ps_args, " "));
    CTL_ASSIGN_OR_RETURN(auto doc, ctx.get_json(container_path(o.container, "top"), q));
    std::string text = join(string_list(doc, "Titles"), "\t") + "\n";
    if (const Json* procs = find_ci(doc, "Processes"); procs && procs->is_array()) {
        for (const auto& p : *procs) {
            std::vector<std::string> cells;
            for (const auto& cell : p) cells.push_back(go_print(cell));
            text += join(cells, "\t") + "\n";
        }
    }
    ctx.out() << tabwrite(text, 20, 3);  // docker top's tabwriter settings
    return ok();
}

struct PruneOptions {
    bool force = false;
    std::vector<std::string> filters;
};

Status prune(Context& ctx, const PruneOptions& o) {
    if (!o.force && !confirm(ctx, "WARNING! This will remove all stopped containers.\n")) return ok();
    Query q;
    CTL_ASSIGN_OR_RETURN(auto filters_text, filters_json(o.filters));
    if (!filters_text.empty()) q.emplace_back("filters", filters_text);
    CTL_ASSIGN_OR_RETURN(auto resp, ctx.http().request("POST", "/containers/prune", q));
    CTL_ASSIGN_OR_RETURN(auto report, resp.json());
    if (const Json* deleted = find_ci(report, "ContainersDeleted"); deleted && deleted->is_array() && !deleted->empty()) {
        ctx.out() << "Deleted Containers:\n";
        for (const auto& id : *deleted) ctx.out() << go_print(id) << "\n";
        ctx.out() << "\n";
    }
    ctx.out() << "Total reclaimed space: " << human_size(static_cast<double>(int_or(report, "SpaceReclaimed"))) << "\n";
    return ok();
}

// ---- registration ---------------------------------------------------------------------------

// A command whose positionals end flag parsing: `exec C ls -l`, `top C -o pid`.
void command_positionals(CLI::App& c) { c.positionals_at_end(true); }

void add_lifecycle_commands(CLI::App& parent, Context& ctx) {
    add_command<StartOptions>(
        parent, ctx, "start", "Start one or more stopped containers",
        [](CLI::App& c, StartOptions& o) {
            c.add_option("CONTAINER", o.names, "Containers")->required();
            c.add_flag("-a,--attach", o.attach, "Attach STDOUT/STDERR and forward signals");
            c.add_flag("-i,--interactive", o.interactive, "Attach container's STDIN");
            c.add_option("--detach-keys", o.detach_keys, "Override the key sequence for detaching a container");
        },
        start);
    add_command<StopOptions>(
        parent, ctx, "stop", "Stop one or more running containers",
        [](CLI::App& c, StopOptions& o) {
            c.add_option("CONTAINER", o.names, "Containers")->required();
            c.add_option("-t,--time", o.time, "Seconds to wait for stop before killing it");
            c.add_option("-s,--signal", o.signal, "Signal to send to the container");
        },
        [](Context& ctx, const StopOptions& o) { return for_each_container(ctx, o.names, "stop", stop_query(o)); });
    add_command<StopOptions>(
        parent, ctx, "restart", "Restart one or more containers",
        [](CLI::App& c, StopOptions& o) {
            c.add_option("CONTAINER", o.names, "Containers")->required();
            c.add_option("-t,--time", o.time, "Seconds to wait for stop before killing the container");
        },
        [](Context& ctx, const StopOptions& o) { return for_each_container(ctx, o.names, "restart", stop_query(o)); });
    add_command<KillOptions>(
        parent, ctx, "kill", "Kill one or more running containers",
        [](CLI::App& c, KillOptions& o) {
            c.add_option("CONTAINER", o.names, "Containers")->required();
            c.add_option("-s,--signal", o.signal, "Signal to send to the container (default KILL)");
        },
        [](Context& ctx, const KillOptions& o) {
            Query q;
            if (!o.signal.empty()) q.emplace_back("signal", o.signal);
            return for_each_container(ctx, o.names, "kill", q);
        });
    for (const char* action : {"pause", "unpause"}) {
        std::string what = action;
        add_command<NamesOptions>(
            parent, ctx, what, what == "pause" ? "Pause all processes within one or more containers"
                                               : "Unpause all processes within one or more containers",
            [](CLI::App& c, NamesOptions& o) { c.add_option("CONTAINER", o.names, "Containers")->required(); },
            [what](Context& ctx, const NamesOptions& o) { return for_each_container(ctx, o.names, what, {}); });
    }
    add_command<NamesOptions>(
        parent, ctx, "wait", "Block until one or more containers stop, then print their exit codes",
        [](CLI::App& c, NamesOptions& o) { c.add_option("CONTAINER", o.names, "Containers")->required(); }, wait_containers);
    add_command<RenameOptions>(
        parent, ctx, "rename", "Rename a container",
        [](CLI::App& c, RenameOptions& o) {
            c.add_option("CONTAINER", o.from, "Container")->required();
            c.add_option("NEW_NAME", o.to, "New name")->required();
        },
        rename);
}

void add_container_subcommands(CLI::App& parent, Context& ctx, bool in_group) {
    add_run_commands(parent, ctx);
    add_lifecycle_commands(parent, ctx);
    auto* rm = add_command<RemoveOptions>(
        parent, ctx, "rm", "Remove one or more containers",
        [](CLI::App& c, RemoveOptions& o) {
            c.add_option("CONTAINER", o.names, "Containers")->required();
            c.add_flag("-f,--force", o.force, "Force the removal of a running container (uses SIGKILL)");
            c.add_flag("-v,--volumes", o.volumes, "Remove anonymous volumes associated with the container");
            c.add_flag("-l,--link", o.link, "Remove the specified link");
        },
        remove);
    auto* ps = add_command<ListOptions>(
        parent, ctx, in_group ? "ls" : "ps", "List containers",
        [](CLI::App& c, ListOptions& o) {
            c.add_flag("-a,--all", o.all, "Show all containers (default shows just running)");
            c.add_flag("-q,--quiet", o.quiet, "Only display container IDs");
            c.add_flag("-l,--latest", o.latest, "Show the latest created container (includes all states)");
            c.add_option("-n,--last", o.last, "Show n last created containers (includes all states)");
            c.add_flag("-s,--size", o.size, "Display total file sizes");
            c.add_flag("--no-trunc", o.no_trunc, "Don't truncate output");
            c.add_option("-f,--filter", o.filters, "Filter output based on conditions provided");
            c.add_option("--format", o.format, "Format output using a custom template ('table', 'json', or a Go template)");
        },
        list);
    if (in_group) {
        rm->alias("remove");
        ps->alias("ps");
        ps->alias("list");
    }
    add_command<LogsOptions>(
        parent, ctx, "logs", "Fetch the logs of a container",
        [](CLI::App& c, LogsOptions& o) {
            c.add_option("CONTAINER", o.name, "Container")->required();
            c.add_flag("-f,--follow", o.follow, "Follow log output");
            c.add_option("-n,--tail", o.tail, "Number of lines to show from the end of the logs");
            c.add_option("--since", o.since, "Show logs since timestamp or relative (e.g. 42m for 42 minutes)");
            c.add_option("--until", o.until, "Show logs before a timestamp or relative (e.g. 42m for 42 minutes)");
            c.add_flag("-t,--timestamps", o.timestamps, "Show timestamps");
            c.add_flag("--details", o.details, "Show extra details provided to logs");
        },
        logs);
    add_command<ExecOptions>(
        parent, ctx, "exec", "Run a command in a running container",
        [](CLI::App& c, ExecOptions& o) {
            command_positionals(c);
            c.add_option("CONTAINER", o.container, "Container")->required();
            c.add_option("COMMAND", o.command, "Command and arguments")->allow_extra_args(true);
            c.add_flag("-i,--interactive", o.interactive, "Keep STDIN open even if not attached");
            c.add_flag("-t,--tty", o.tty, "Allocate a pseudo-TTY");
            c.add_flag("-d,--detach", o.detach, "Detached mode: run command in the background");
            c.add_option("-e,--env", o.env, "Set environment variables");
            c.add_option("-u,--user", o.user, "Username or UID (format: <name|uid>[:<group|gid>])");
            c.add_option("-w,--workdir", o.workdir, "Working directory inside the container");
            c.add_flag("--privileged", o.privileged, "Give extended privileges to the command");
            c.add_option("--detach-keys", o.detach_keys, "Override the key sequence for detaching a container");
        },
        exec);
    add_command<AttachOptions>(
        parent, ctx, "attach", "Attach local standard input, output, and error streams to a running container",
        [](CLI::App& c, AttachOptions& o) {
            c.add_option("CONTAINER", o.container, "Container")->required();
            c.add_flag("--no-stdin", o.no_stdin, "Do not attach STDIN");
            c.add_flag("--sig-proxy,!--no-sig-proxy", o.sig_proxy, "Proxy all received signals to the process (ignored)");
            c.add_option("--detach-keys", o.detach_keys, "Override the key sequence for detaching a container");
        },
        attach);
    add_command<TopOptions>(
        parent, ctx, "top", "Display the running processes of a container",
        [](CLI::App& c, TopOptions& o) {
            command_positionals(c);
            c.add_option("CONTAINER", o.container, "Container")->required();
            c.add_option("OPTIONS", o.ps_args, "ps options")->allow_extra_args(true);
        },
        top);
    if (!in_group) return;
    add_command<InspectOptions>(
        parent, ctx, "inspect", "Display detailed information on one or more containers",
        [](CLI::App& c, InspectOptions& o) {
            c.add_option("CONTAINER", o.names, "Containers")->required();
            c.add_option("-f,--format", o.format, "Format output using a custom template ('json' or a Go template)");
            c.add_flag("-s,--size", o.size, "Display total file sizes");
        },
        inspect);
    add_command<PruneOptions>(
        parent, ctx, "prune", "Remove all stopped containers",
        [](CLI::App& c, PruneOptions& o) {
            c.add_flag("-f,--force", o.force, "Do not prompt for confirmation");
            c.add_option("--filter", o.filters, "Provide filter values (e.g. 'until=<timestamp>')");
        },
        prune);
}

}  // namespace

void add_container_commands(CLI::App& app, Context& ctx) {
    add_container_subcommands(app, ctx, false);
    CLI::App* group = add_group(app, ctx, "container", "Manage containers");
    add_container_subcommands(*group, ctx, true);
}

}  // namespace ctl::client
