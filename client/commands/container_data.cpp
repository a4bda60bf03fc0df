// Commands that move data in and out of containers: cp, stats, export, diff, commit, also as
// `ctl container <command>`. Tars made or unpacked on this side go through graphdriver/archive
// (the same safe extraction the engine uses): an archive from a container is untrusted input.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "client/commands/commands.hpp"
#include "client/display.hpp"
#include "client/progress.hpp"
#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"
#include "graphdriver/archive.hpp"

namespace ctl::client {

namespace {

// ---- cp ----

struct CpOptions {
    std::string src, dst;
    bool follow_link = false;
    bool archive = false;  // -a: keep uid/gid (the engine keeps what the tar says either way)
};

// "CONTAINER:PATH" or a local path. A path starting with "/" or "." is always local, so local
// names with a colon can be written "./a:b" (docker's rule).
struct CpTarget {
    std::string container, path;
};
CpTarget split_cp_arg(const std::string& arg) {
    if (arg.empty() || arg[0] == '/' || arg[0] == '.') return {"", arg};
    auto colon = arg.find(':');
    if (colon == std::string::npos || colon == 0) return {"", arg};
    return {arg.substr(0, colon), arg.substr(colon + 1)};
}

std::string base64_decode(const std::string& in) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+' || c == '-') return 62;
        if (c == '/' || c == '_') return 63;
        return -1;
    };
    std::string out;
    uint32_t buf = 0;
    int bits = 0;
    for (char c : in) {
        int v = val(c);
        if (v < 0) continue;
        buf = (buf << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buf >> bits) & 0xff);
        }
    }
    return out;
}

// HEAD /archive: the path's stat, or NotFound.
Result<Json> container_stat(Context& ctx, const std::string& container, const std::string& path) {
    auto resp = ctx.http().request(Request("HEAD", "/containers/" + container + "/archive", {{"path", path}}));
    // A HEAD answer has no body to carry the engine's message: say what Docker says.
    if (!resp && resp.error().code == Errc::NotFound) {
        CTL_TRY(ctx.get_json("/containers/" + container + "/json"));  // "No such container" wins
        return make_error(Errc::NotFound, std::string(kDaemonErrorPrefix) + "Could not find the file " + path +
                                              " in container " + container);
    }
    if (!resp) return resp.error();
    std::string header = resp->header("X-Docker-Container-Path-Stat");
    Json stat = Json::parse(base64_decode(header), nullptr, false);
    if (stat.is_discarded() || !stat.is_object()) return make_error(Errc::Internal, "the engine sent no path stat");
    return stat;
}

bool is_dir_mode(const Json& stat) { return (stat.value("mode", int64_t{0}) & (int64_t{1} << 31)) != 0; }
bool is_link_mode(const Json& stat) { return (stat.value("mode", int64_t{0}) & (int64_t{1} << 27)) != 0; }

// An unnamed temporary file in `dir` (gone when closed).
Result<sys::UniqueFd> temp_file(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        std::string tmpl = (dir.empty() ? "." : dir) + "/.ctl-cp-XXXXXX";
        fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
        if (fd < 0) return sys_error("temporary file in " + dir);
        ::unlink(tmpl.c_str());
    }
    return sys::UniqueFd(fd);
}

graph::ReadFn fd_reader(int fd) {
    return [fd](void* buf, size_t len) -> long {
        for (;;) {
            ssize_t n = ::read(fd, buf, len);
            if (n < 0 && errno == EINTR) continue;
            return static_cast<long>(n);
        }
    };
}

std::string parent_of(const std::string& path) {
    auto p = std::filesystem::path(path).lexically_normal().parent_path().string();
    return p.empty() ? "." : p;
}

std::string base_of(const std::string& path) {
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    auto slash = p.rfind('/');
    return slash == std::string::npos ? p : p.substr(slash + 1);
}

Status copy_from_container(Context& ctx, const CpTarget& src, const std::string& dst, bool follow) {
    std::string path = src.path;
    CTL_ASSIGN_OR_RETURN(auto stat, container_stat(ctx, src.container, path));
    if (follow && is_link_mode(stat) && !stat.value("linkTarget", "").empty()) {
        path = stat.value("linkTarget", "");
        CTL_ASSIGN_OR_RETURN(stat, container_stat(ctx, src.container, path));
    }
    Request req("GET", "/containers/" + src.container + "/archive", {{"path", path}});
    if (dst == "-") {
        ctx.out().flush();
        Status write_status = ok();
        auto st = ctx.http().stream(req, [&](std::string_view chunk) {
            write_status = sys::write_all(1, chunk);
            return static_cast<bool>(write_status);
        });
        if (!st) return st.error();
        return write_status;
    }
    // Where it lands: into an existing directory under its own name, else as `dst`.
    struct stat dst_st;
    bool dst_exists = ::stat(dst.c_str(), &dst_st) == 0;
    bool into_dir = dst_exists && S_ISDIR(dst_st.st_mode);
    if (!dst_exists && (ends_with(dst, "/") || ends_with(dst, "/."))) {
        return usage_error("destination directory \"" + dst + "\" must exist if it ends in a path separator");
    }
    if (dst_exists && !into_dir && is_dir_mode(stat)) {
        return usage_error("cannot copy a directory to a file: " + dst);
    }
    std::string extract_root = into_dir ? dst : parent_of(dst);
    CTL_ASSIGN_OR_RETURN(auto spool, temp_file(extract_root));
    Status write_status = ok();
    auto st = ctx.http().stream(req, [&](std::string_view chunk) {
        write_status = sys::write_all(spool.get(), chunk);
        return static_cast<bool>(write_status);
    });
    if (!st) return st.error();
    CTL_TRY(write_status);
    if (::lseek(spool.get(), 0, SEEK_SET) < 0) return sys_error("temporary file");

    graph::ApplyOptions opts;
    opts.whiteouts = graph::WhiteoutMode::None;
    opts.chown = ::geteuid() == 0;
    if (into_dir) {
        auto applied = graph::apply_tar(dst, fd_reader(spool.get()), opts);
        if (!applied) return applied.error();
        return ok();
    }
    // A new name: unpack next to it, then rename the one top entry into place.
    std::string tmpl = extract_root + "/.ctl-cp-XXXXXX";
    if (!::mkdtemp(tmpl.data())) return sys_error("temporary directory in " + extract_root);
    auto applied = graph::apply_tar(tmpl, fd_reader(spool.get()), opts);
    Status result = ok();
    if (!applied) {
        result = applied.error();
    } else {
        std::string name = stat.value("name", base_of(path));
        if (name == "/" || name.empty()) name = ".";
        std::string from = tmpl + "/" + name;
        if (name == ".") {
            result = usage_error("copying the whole root needs an existing destination directory");
        } else if (::rename(from.c_str(), dst.c_str()) != 0) {
            result = sys_error("rename to " + dst);
        }
    }
    std::error_code ec;
    std::filesystem::remove_all(tmpl, ec);
    return result;
}

Status copy_to_container(Context& ctx, const std::string& src, const CpTarget& dst) {
    Request req("PUT", "/containers/" + dst.container + "/archive");
    if (src == "-") {
        int64_t size = -1;
        CTL_ASSIGN_OR_RETURN(auto body, body_from_file("-", &size));
        req.query = {{"path", dst.path}, {"noOverwriteDirNonDir", "true"}};
        req.stream_body(body, "application/x-tar", size);
        auto resp = ctx.http().request(req);
        if (!resp) return resp.error();
        return ok();
    }
    struct stat src_st;
    if (::lstat(src.c_str(), &src_st) != 0) return sys_error("could not stat " + src);
    // Docker's rules: into an existing directory under the source's name, else as the new name.
    std::string dir = dst.path, name = base_of(src);
    auto stat = container_stat(ctx, dst.container, dst.path);
    if (stat && is_link_mode(*stat) && !stat->value("linkTarget", "").empty()) {
        dir = stat->value("linkTarget", "");
        stat = container_stat(ctx, dst.container, dir);
    }
    if (stat && is_dir_mode(*stat)) {
        // copy into it
    } else if (stat && S_ISDIR(src_st.st_mode)) {
        return usage_error("cannot copy directory to a file: " + dst.path);
    } else if (!stat && stat.error().code != Errc::NotFound) {
        return stat.error();
    } else {
        if (!stat && (ends_with(dst.path, "/") || ends_with(dst.path, "/."))) {
            return usage_error("destination directory \"" + dst.path + "\" must exist");
        }
        name = base_of(dir);
        std::string parent = std::filesystem::path(dir).parent_path().string();
        dir = parent.empty() ? "/" : parent;
    }
    CTL_ASSIGN_OR_RETURN(auto spool, temp_file(std::filesystem::temp_directory_path().string()));
    int fd = spool.get();
    graph::TarOptions topts;
    topts.name = name;
    CTL_TRY(graph::write_tar(src, [fd](const char* data, size_t len) { return sys::write_all(fd, std::string_view(data, len)); },
                             topts));
    off_t size = ::lseek(fd, 0, SEEK_CUR);
    if (size < 0 || ::lseek(fd, 0, SEEK_SET) < 0) return sys_error("temporary file");
    req.query = {{"path", dir}, {"noOverwriteDirNonDir", "true"}};
    req.stream_body([fd](char* buf, size_t len) -> long { return fd_reader(fd)(buf, len); }, "application/x-tar", size);
    auto resp = ctx.http().request(req);
    if (!resp) return resp.error();
    return ok();
}

Status cp(Context& ctx, const CpOptions& o) {
    auto src = split_cp_arg(o.src), dst = split_cp_arg(o.dst);
    if (!src.container.empty() && !dst.container.empty()) {
        return usage_error("copying between containers is not supported");
    }
    if (src.container.empty() && dst.container.empty()) {
        return usage_error("must specify at least one container source");
    }
    if (!src.container.empty()) {
        if (src.path.empty()) return usage_error("source path cannot be empty");
        return copy_from_container(ctx, src, o.dst, o.follow_link);
    }
    if (dst.path.empty()) return usage_error("destination path cannot be empty");
    return copy_to_container(ctx, o.src, dst);
}

// ---- stats ----

struct StatsOptions {
    std::vector<std::string> containers;
    bool all = false;
    bool no_stream = false;
    bool no_trunc = false;
    std::string format;
};

const HeaderNames kStatsHeaders = {{"ID", "CONTAINER ID"}, {"Container", "CONTAINER"},  {"Name", "NAME"},
                                   {"CPUPerc", "CPU %"},    {"MemUsage", "MEM USAGE / LIMIT"}, {"MemPerc", "MEM %"},
                                   {"NetIO", "NET I/O"},    {"BlockIO", "BLOCK I/O"},   {"PIDs", "PIDS"}};
constexpr const char* kStatsFormat =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

double num(const Json& j, const char* key) {
    const Json* v = j.is_object() ? find_ci(j, key) : nullptr;
    return v && v->is_number() ? v->get<double>() : 0.0;
}

// One row, computed the way the docker CLI does (cli/command/container/stats_helpers.go).
Json stats_row(const std::string& given, const Json& s, bool no_trunc) {
    const Json& cpu = s.value("cpu_stats", Json::object());
    const Json& pre = s.value("precpu_stats", Json::object());
    double d_total = num(cpu.value("cpu_usage", Json::object()), "total_usage") -
                     num(pre.value("cpu_usage", Json::object()), "total_usage");
    double d_system = num(cpu, "system_cpu_usage") - num(pre, "system_cpu_usage");
    double cpus = num(cpu, "online_cpus");
    if (cpus == 0) cpus = static_cast<double>(cpu.value("cpu_usage", Json::object()).value("percpu_usage", Json::array()).size());
    double cpu_pct = d_system > 0 && d_total > 0 ? d_total / d_system * cpus * 100.0 : 0.0;

    const Json& mem = s.value("memory_stats", Json::object());
    const Json& ms = mem.value("stats", Json::object());
    double usage = num(mem, "usage"), limit = num(mem, "limit");
    double inactive = ms.contains("total_inactive_file") ? num(ms, "total_inactive_file") : num(ms, "inactive_file");
    if (inactive < usage) usage -= inactive;
    double mem_pct = limit > 0 ? usage / limit * 100.0 : 0.0;

    double rx = 0, tx = 0;
    if (const Json* nets = find_ci(s, "networks"); nets && nets->is_object()) {
        for (const auto& [_, n] : nets->items()) {
            rx += num(n, "rx_bytes");
            tx += num(n, "tx_bytes");
        }
    }
    double blk_r = 0, blk_w = 0;
    const Json& blkio = s.value("blkio_stats", Json::object());
    if (const Json* list = find_ci(blkio, "io_service_bytes_recursive"); list && list->is_array()) {
        for (const auto& e : *list) {
            std::string op = e.value("op", "");
            if (op.empty()) continue;
            if (op[0] == 'r' || op[0] == 'R') blk_r += num(e, "value");
            if (op[0] == 'w' || op[0] == 'W') blk_w += num(e, "value");
        }
    }
    std::string id = s.value("id", "");
    std::string name = s.value("name", "");
    if (!name.empty() && name[0] == '/') name = name.substr(1);
    char buf[32];
    auto pct = [&](double v) {
        std::snprintf(buf, sizeof buf, "%.2f%%", v);
        return std::string(buf);
    };
    return {{"Container", given},
            {"ID", no_trunc ? id : truncate_id(id)},
            {"Name", name.empty() ? "--" : name},
            {"CPUPerc", pct(cpu_pct)},
            {"MemUsage", bytes_size(usage) + " / " + bytes_size(limit)},
            {"MemPerc", pct(mem_pct)},
            {"NetIO", human_size_precision(rx, 3) + " / " + human_size_precision(tx, 3)},
            {"BlockIO", human_size_precision(blk_r, 3) + " / " + human_size_precision(blk_w, 3)},
            {"PIDs", std::to_string(static_cast<int64_t>(num(s.value("pids_stats", Json::object()), "current")))}};
}

Status stats(Context& ctx, const StatsOptions& o) {
    for (;;) {
        std::vector<std::string> names = o.containers;
        if (names.empty()) {
            CTL_ASSIGN_OR_RETURN(auto list, ctx.get_json("/containers/json", {{"all", o.all ? "1" : "0"}}));
            for (const auto& c : list) names.push_back(c.value("Id", ""));
        }
        // One request per container at once: each takes about half a second for its CPU delta.
        std::vector<Result<Json>> results(names.size(), Result<Json>(Json()));
        std::vector<std::thread> workers;
        for (size_t i = 0; i < names.size(); ++i) {
            workers.emplace_back([&, i] {
                results[i] = ctx.http().get_json("/containers/" + names[i] + "/stats", {{"stream", "0"}});
            });
        }
        for (auto& t : workers) t.join();
        std::vector<Json> rows;
        for (size_t i = 0; i < names.size(); ++i) {
            if (!results[i]) {
                if (!o.containers.empty()) return results[i].error();
                continue;  // gone since the listing
            }
            rows.push_back(stats_row(names[i], *results[i], o.no_trunc));
        }
        CTL_ASSIGN_OR_RETURN(auto text, format_rows(o.format, kStatsFormat, rows, kStatsHeaders));
        if (!o.no_stream && is_terminal(stdout)) ctx.out() << "\033[2J\033[H";
        ctx.out() << text << std::flush;
        if (o.no_stream) return ok();
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
}

// ---- export, diff, commit ----

struct ExportOptions {
    std::string container, output;
};

Status export_container(Context& ctx, const ExportOptions& o) {
    if (o.output.empty() && is_terminal(stdout)) {
        return usage_error("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    std::string tmp = o.output.empty() ? "" : o.output + ".ctl-tmp";
    int fd = o.output.empty() ? 1 : ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return usage_error("cannot create " + o.output + ": " + std::strerror(errno));
    ctx.out().flush();
    Status write_status = ok();
    auto st = ctx.http().stream(Request("GET", "/containers/" + o.container + "/export"), [&](std::string_view chunk) {
        write_status = sys::write_all(fd, chunk);
        return static_cast<bool>(write_status);
    });
    if (!o.output.empty()) {
        ::close(fd);
        if (!st || !write_status) ::unlink(tmp.c_str());
        else if (::rename(tmp.c_str(), o.output.c_str()) != 0) return sys_error("write " + o.output);
    }
    if (!st) return st.error();
    return write_status;
}

struct DiffOptions {
    std::string container;
};

Status diff(Context& ctx, const DiffOptions& o) {
    CTL_ASSIGN_OR_RETURN(auto changes, ctx.get_json("/containers/" + o.container + "/changes"));
    if (!changes.is_array()) return ok();
    for (const auto& c : changes) {
        int kind = c.value("Kind", 0);
        ctx.out() << (kind == 1 ? "A" : kind == 2 ? "D" : "C") << " " << c.value("Path", "") << "\n";
    }
    return ok();
}

struct CommitOptions {
    std::string container, reference, author, message;
    std::vector<std::string> changes;
    bool pause = true;
};

Status commit(Context& ctx, const CommitOptions& o) {
    Query q = {{"container", o.container}, {"pause", o.pause ? "1" : "0"}};
    if (!o.reference.empty()) {
        // REPOSITORY[:TAG]: a colon after the last slash starts the tag.
        auto colon = o.reference.rfind(':');
        auto slash = o.reference.rfind('/');
        if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
            q.emplace_back("repo", o.reference.substr(0, colon));
            q.emplace_back("tag", o.reference.substr(colon + 1));
        } else {
            q.emplace_back("repo", o.reference);
        }
    }
    if (!o.author.empty()) q.emplace_back("author", o.author);
    if (!o.message.empty()) q.emplace_back("comment", o.message);
    for (const auto& c : o.changes) q.emplace_back("changes", c);
    Request req("POST", "/commit", q);
    req.json(Json::object());
    CTL_ASSIGN_OR_RETURN(auto resp, ctx.http().request(req));
    CTL_ASSIGN_OR_RETURN(auto body, resp.json());
    ctx.out() << body.value("Id", "") << "\n";
    return ok();
}

void add_data_subcommands(CLI::App& parent, Context& ctx) {
    add_command<CpOptions>(
        parent, ctx, "cp", "Copy files/folders between a container and the local filesystem",
        [](CLI::App& c, CpOptions& o) {
            c.add_option("SRC", o.src, "CONTAINER:SRC_PATH, a local path, or - for a tar on STDIN")->required();
            c.add_option("DEST", o.dst, "CONTAINER:DEST_PATH, a local path, or - for a tar on STDOUT")->required();
            c.add_flag("-L,--follow-link", o.follow_link, "Always follow symbol link in SRC_PATH");
            c.add_flag("-a,--archive", o.archive, "Archive mode (copy all uid/gid information)");
        },
        cp);
    add_command<StatsOptions>(
        parent, ctx, "stats", "Display a live stream of container(s) resource usage statistics",
        [](CLI::App& c, StatsOptions& o) {
            c.add_option("CONTAINER", o.containers, "Containers (default: all running)");
            c.add_flag("-a,--all", o.all, "Show all containers (default shows just running)");
            c.add_flag("--no-stream", o.no_stream, "Disable streaming stats and only pull the first result");
            c.add_flag("--no-trunc", o.no_trunc, "Do not truncate output");
            c.add_option("--format", o.format, "Pretty-print stats using a Go template");
        },
        stats);
    add_command<ExportOptions>(
        parent, ctx, "export", "Export a container's filesystem as a tar archive",
        [](CLI::App& c, ExportOptions& o) {
            c.add_option("CONTAINER", o.container, "Container")->required();
            c.add_option("-o,--output", o.output, "Write to a file, instead of STDOUT");
        },
        export_container);
    add_command<DiffOptions>(
        parent, ctx, "diff", "Inspect changes to files or directories on a container's filesystem",
        [](CLI::App& c, DiffOptions& o) { c.add_option("CONTAINER", o.container, "Container")->required(); }, diff);
    add_command<CommitOptions>(
        parent, ctx, "commit", "Create a new image from a container's changes",
        [](CLI::App& c, CommitOptions& o) {
            c.add_option("CONTAINER", o.container, "Container")->required();
            c.add_option("REPOSITORY", o.reference, "REPOSITORY[:TAG]");
            c.add_option("-a,--author", o.author, "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")");
            c.add_option("-c,--change", o.changes, "Apply Dockerfile instruction to the created image");
            c.add_option("-m,--message", o.message, "Commit message");
            c.add_flag("-p,--pause,!--no-pause", o.pause, "Pause container during commit (default true)");
        },
        commit);
}

}  // namespace

void add_container_data_commands(CLI::App& app, Context& ctx) {
    add_data_subcommands(app, ctx);
    // `ctl container cp|stats|...`: join the container group when containers.cpp made it (it is
    // registered before this one), else make it here.
    CLI::App* group = nullptr;
    try {
        group = app.get_subcommand("container");
    } catch (const CLI::Error&) {
        group = add_group(app, ctx, "container", "Manage containers");
    }
    add_data_subcommands(*group, ctx);
}

}  // namespace ctl::client
