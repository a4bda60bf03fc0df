// What reads or copies a container's data rather than running it: stats, the archive endpoints
// (docker cp), export, changes (docker diff) and commit. The file-system and cgroup work itself
// is in archive.cpp and stats.cpp; this file finds the container and holds its rootfs meanwhile.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "engine/base/digest.hpp"
#include "engine/base/log.hpp"
#include "engine/base/sys.hpp"
#include "engine/container/archive.hpp"
#include "engine/container/container_service.hpp"
#include "engine/container/internal/config_merge.hpp"
#include "registry/reference.hpp"

namespace ctl::container {

// Held for the length of one copy. For a running container an O_PATH fd of /proc/<pid>/root pins
// its root even if the pid is reused; a stopped one has its rw layer mounted until released.
struct ContainerService::RootfsLease {
    graph::GraphDriver* driver = nullptr;
    std::string layer;  // mounted by us ("" = nothing to unmount)
    sys::UniqueFd root_fd;
    std::string path;   // what archive:: functions take as the root

    ~RootfsLease() {
        if (driver && !layer.empty()) {
            if (auto st = driver->unmount(layer); !st) log::warn("unmount {}: {}", layer, st.error().message);
        }
    }
};

Result<std::shared_ptr<ContainerService::RootfsLease>> ContainerService::lease_rootfs(const std::string& name, bool live) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    auto lease = std::make_shared<RootfsLease>();
    std::string layer;
    {
        std::lock_guard lock(e->mu);
        if (live && e->c.state.running && e->c.state.pid > 0) {
            // Opened under the lock: the exit handling that would free the pid takes it too.
            int fd = ::open(("/proc/" + std::to_string(e->c.state.pid) + "/root").c_str(),
                            O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (fd >= 0) {
                lease->root_fd = sys::UniqueFd(fd);
                lease->path = "/proc/self/fd/" + std::to_string(fd);
                return lease;
            }
        }
        layer = e->c.rw_layer;
    }
    CTL_ASSIGN_OR_RETURN(auto path, driver_.mount(layer));
    lease->driver = &driver_;
    lease->layer = layer;
    lease->path = path;
    return lease;
}

// ---- stats ----

Result<Json> ContainerService::stats_once(const std::string& name, bool one_shot) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    int pid = 0;
    std::string cname, id;
    {
        std::lock_guard lock(e->mu);
        if (e->c.state.running && !e->c.state.restarting) pid = e->c.state.pid;
        cname = e->c.name;
        id = e->c.id;
    }
    auto zero = stats::zero();
    if (pid <= 0) return stats::render(zero, zero, cname, id);
    auto first = stats::collect(pid);
    if (!first) return stats::render(zero, zero, cname, id);  // exited meanwhile
    if (one_shot) return stats::render(*first, zero, cname, id);
    // A second reading gives precpu_stats, so the client can compute CPU %. Docker waits for
    // its collector's next tick; half a second keeps `docker stats --no-stream` quick.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto second = stats::collect(pid);
    if (!second) return stats::render(*first, zero, cname, id);
    return stats::render(*second, *first, cname, id);
}

Result<std::function<void(api::StatsWriter)>> ContainerService::stats_stream(const std::string& name) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    return std::function<void(api::StatsWriter)>([this, e](api::StatsWriter w) {
        auto source = [e] {
            std::lock_guard lock(e->mu);
            stats::Target t;
            t.exists = !e->removed;
            t.pid = e->c.state.running && !e->c.state.restarting ? e->c.state.pid : 0;
            t.name = e->c.name;
            t.id = e->c.id;
            return t;
        };
        stats_ticker_.subscribe(source, std::move(w.send), std::move(w.gone), std::move(w.end));
    });
}

// ---- archive ----

namespace {

// Docker's wording for a missing path; other errors pass unchanged.
Error archive_error(Error err, const std::string& path, const std::string& container) {
    if (err.code == Errc::NotFound) {
        return make_error(Errc::NotFound, "Could not find the file " + path + " in container " + container);
    }
    return err;
}

}  // namespace

Result<std::string> ContainerService::archive_stat(const std::string& name, const std::string& path) {
    CTL_ASSIGN_OR_RETURN(auto lease, lease_rootfs(name, true));
    auto st = archive::stat(lease->path, path);
    if (!st) return archive_error(st.error(), path, name);
    return archive::stat_header(*st);
}

Status ContainerService::archive_get(const std::string& name, const std::string& path,
                                     const std::function<Status(const char*, size_t)>& sink) {
    CTL_ASSIGN_OR_RETURN(auto lease, lease_rootfs(name, true));
    auto st = archive::write(lease->path, path, sink);
    if (!st) return archive_error(st.error(), path, name);
    return ok();
}

Status ContainerService::archive_put(const std::string& name, const std::string& path, bool no_overwrite_dir_non_dir,
                                     api::ReadFn body) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    {
        std::lock_guard lock(e->mu);
        if (bool_or(e->c.host_config, "ReadonlyRootfs", false) && e->c.state.running) {
            return make_error(Errc::Forbidden, "container rootfs is marked read-only");
        }
    }
    CTL_ASSIGN_OR_RETURN(auto lease, lease_rootfs(name, true));
    archive::ExtractOptions options;
    options.no_overwrite_dir_non_dir = no_overwrite_dir_non_dir;
    options.spool_dir = options_.data_root + "/tmp";
    auto st = archive::extract(lease->path, path, std::move(body), options);
    if (!st) return archive_error(st.error(), path, name);
    return ok();
}

// ---- export, changes ----

Status ContainerService::export_check(const std::string& name) {
    auto e = find(name);
    if (!e) return e.error();
    return ok();
}

Status ContainerService::export_container(const std::string& name, const std::function<Status(const char*, size_t)>& sink) {
    // Always the rw layer's view: the file system without /proc, /sys or volumes, as Docker exports.
    CTL_ASSIGN_OR_RETURN(auto lease, lease_rootfs(name, false));
    return graph::write_tar(lease->path, sink);
}

Result<Json> ContainerService::container_changes(const std::string& name) {
    CTL_ASSIGN_OR_RETURN(auto e, find(name));
    std::string layer;
    {
        std::lock_guard lock(e->mu);
        layer = e->c.rw_layer;
    }
    CTL_ASSIGN_OR_RETURN(auto changes, driver_.changes(layer));
    // Mount points the runtime creates in the rw layer; Docker keeps them in an init layer, so
    // `docker diff` never lists them.
    static const std::set<std::string> kRuntimeMountpoints = {"/etc/hostname", "/etc/hosts", "/etc/resolv.conf",
                                                              "/.dockerenv"};
    Json out = Json::array();
    for (const auto& c : changes) {
        if (c.kind == graph::Change::Added && kRuntimeMountpoints.count(c.path)) continue;
        out.push_back({{"Path", c.path}, {"Kind", static_cast<int>(c.kind)}});
    }
    return out;
}

// ---- commit ----

namespace {

bool empty_value(const Json* v) {
    return !v || v->is_null() || (v->is_string() && v->get<std::string>().empty()) ||
           ((v->is_array() || v->is_object()) && v->empty());
}

// moby's merge(): what the new config leaves empty comes from the container's; Env is merged by
// variable name (the new value wins).
void fill_from(Json& cfg, const Json& container) {
    for (auto it = container.begin(); it != container.end(); ++it) {
        if (it.key() == "Env" && it->is_array() && cfg.contains("Env") && cfg["Env"].is_array()) {
            std::set<std::string> have;
            for (const auto& kv : cfg["Env"]) {
                if (kv.is_string()) have.insert(kv.get<std::string>().substr(0, kv.get<std::string>().find('=')));
            }
            for (const auto& kv : *it) {
                if (kv.is_string() && !have.count(kv.get<std::string>().substr(0, kv.get<std::string>().find('=')))) {
                    cfg["Env"].push_back(kv);
                }
            }
            continue;
        }
        const Json* mine = find_ci(cfg, it.key());
        if (empty_value(mine)) cfg[it.key()] = *it;
    }
}

// A temporary file under dir that is gone once closed.
Result<sys::UniqueFd> temp_file(const std::string& dir) {
    CTL_TRY(sys::mkdir_all(dir, 0700));
    int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        std::string tmpl = dir + "/commit-XXXXXX";
        fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
        if (fd < 0) return sys_error("temporary file in " + dir);
        ::unlink(tmpl.c_str());
    }
    return sys::UniqueFd(fd);
}

}  // namespace

Result<Json> ContainerService::commit_container(const api::CommitOptions& o) {
    std::string familiar_repo;
    if (!o.repo.empty()) {
        if (!o.tag.empty() && !registry::is_valid_tag(o.tag)) {
            return make_error(Errc::InvalidArgument, "invalid tag format: " + o.tag);
        }
        auto ref = registry::parse_reference(o.repo + (o.tag.empty() ? "" : ":" + o.tag));
        if (!ref) return ref.error();
        if (!ref->digest.empty()) return make_error(Errc::InvalidArgument, "refusing to create a tag with a digest reference");
    } else if (!o.tag.empty()) {
        return make_error(Errc::InvalidArgument, "tag requires a repository");
    }
    CTL_ASSIGN_OR_RETURN(auto e, find(o.container));
    Container c;
    {
        std::lock_guard lock(e->mu);
        c = e->c;
    }
    CTL_ASSIGN_OR_RETURN(auto parent, images_.get(c.image_id));

    // The new image's Config: the request's (or the container's), then `changes`, then what is
    // still empty from the container (moby's order).
    Json cfg = o.config.is_object() && !o.config.empty() ? o.config : c.config;
    CTL_TRY(image::apply_changes(cfg, o.changes));
    fill_from(cfg, c.config);

    // The layer tar is spooled so its digest (the diffID) is known before it is registered.
    CTL_ASSIGN_OR_RETURN(auto file, temp_file(options_.data_root + "/tmp"));
    Sha256 hash;
    int fd = file.get();
    // Pause a running container while its layer is read, so the layer is consistent.
    auto rt = runtime_for(c);
    bool paused_here = o.pause && c.state.running && !c.state.paused && rt && rt->pause(c.id);
    Status diffed = driver_.diff(c.rw_layer, [&](const char* data, size_t len) -> Status {
        hash.update(data, len);
        return sys::write_all(fd, std::string_view(data, len));
    });
    if (paused_here) {
        if (auto st = rt->resume(c.id); !st) log::warn("commit: resuming {}: {}", c.short_id(), st.error().message);
    }
    if (!diffed) return diffed.error();
    if (::lseek(fd, 0, SEEK_SET) < 0) return sys_error("commit spool");
    std::string diff_id = hash.digest();
    auto reader = [fd](void* buf, size_t len) -> long {
        for (;;) {
            ssize_t n = ::read(fd, buf, len);
            if (n < 0 && errno == EINTR) continue;
            return static_cast<long>(n);
        }
    };
    std::string parent_chain = parent.chain_ids.empty() ? "" : parent.chain_ids.back();
    CTL_ASSIGN_OR_RETURN(auto chain, images_.register_layer(parent_chain, reader, diff_id, "", 0,
                                                            "application/vnd.docker.image.rootfs.diff.tar"));

    Json config = parent.config.is_object() ? parent.config : Json::object();
    std::string now = rfc3339_nano(now_unix_nanos());
    config["created"] = now;
    config["config"] = cfg;
    config["container"] = c.id;
    config["container_config"] = c.config;
    config["docker_version"] = "20.10.0-ctld";
    if (!o.author.empty()) config["author"] = o.author;
    else config.erase("author");
    if (!o.comment.empty()) config["comment"] = o.comment;
    else config.erase("comment");
    if (!config.contains("architecture")) config["architecture"] = "amd64";
    if (!config.contains("os")) config["os"] = "linux";
    Json diff_ids = Json::array();
    if (config.contains("rootfs") && config["rootfs"].is_object() && config["rootfs"].contains("diff_ids") &&
        config["rootfs"]["diff_ids"].is_array()) {
        diff_ids = config["rootfs"]["diff_ids"];
    }
    diff_ids.push_back(diff_id);
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
    Json history = config.contains("history") && config["history"].is_array() ? config["history"] : Json::array();
    Json entry = {{"created", now}, {"created_by", c.command_text()}};
    if (!o.author.empty()) entry["author"] = o.author;
    if (!o.comment.empty()) entry["comment"] = o.comment;
    history.push_back(entry);
    config["history"] = history;

    std::vector<std::string> chains = parent.chain_ids;
    chains.push_back(chain);
    CTL_ASSIGN_OR_RETURN(auto image_id, images_.create_image(to_line(config), chains, parent.id));
    if (!o.repo.empty()) CTL_TRY(images_.tag(image_id, o.repo, o.tag));
    emit(c, "commit");
    return Json{{"Id", image_id}};
}

}  // namespace ctl::container
