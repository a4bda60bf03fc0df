#include "volumes/volume_service.hpp"

#include <fcntl.h>

#include <algorithm>
#include <ctime>
#include <regex>

#include "engine/base/log.hpp"
#include "engine/base/util.hpp"
#include "graphdriver/internal/fs.hpp"
#include "volumes/local_driver.hpp"

namespace ctl::volumes {

namespace fs = ctl::graph::internal;
using store::as_int;
using store::as_string;

namespace {

constexpr int kCopyNever = 0;
constexpr int kCopyStarted = 1;
constexpr int kCopyDone = 2;

Error no_such_volume(const std::string& name) {
    return make_error(Errc::NotFound, "get " + name + ": no such volume");
}

std::map<std::string, std::string> string_map_from(const std::string& text) {
    std::map<std::string, std::string> out;
    Json doc = Json::parse(text, nullptr, false);
    if (!doc.is_object()) return out;
    for (auto it = doc.begin(); it != doc.end(); ++it) {
        if (it->is_string()) out[it.key()] = it->get<std::string>();
    }
    return out;
}

Json json_object(const std::map<std::string, std::string>& m) {
    Json out = Json::object();
    for (const auto& [k, v] : m) out[k] = v;
    return out;
}

std::string join_ids(const std::vector<std::string>& ids) {
    std::string out;
    for (const auto& id : ids) out += (out.empty() ? "" : ", ") + id;
    return out;
}

// Removes everything inside `dir` (not `dir` itself), never following symlinks or entering mounts.
Status empty_dir(const std::string& dir) {
    CTL_ASSIGN_OR_RETURN(auto fd, fs::open_dir(dir));
    CTL_ASSIGN_OR_RETURN(auto names, fs::list_dir(fd.get()));
    for (const auto& n : names) CTL_TRY(fs::remove_at(fd.get(), n));
    return ok();
}

Result<bool> dir_is_empty(const std::string& dir) {
    CTL_ASSIGN_OR_RETURN(auto fd, fs::open_dir(dir));
    CTL_ASSIGN_OR_RETURN(auto names, fs::list_dir(fd.get()));
    return names.empty();
}

bool labels_excluded(const Filters& filters, const std::map<std::string, std::string>& labels) {
    for (const auto& l : filters.get("label!")) {
        auto eq = l.find('=');
        auto it = labels.find(l.substr(0, eq));
        if (it != labels.end() && (eq == std::string::npos || it->second == l.substr(eq + 1))) return true;
    }
    return false;
}

bool name_matches(const std::vector<std::string>& patterns, const std::string& name) {
    for (const auto& p : patterns) {
        try {
            if (std::regex_search(name, std::regex(p))) return true;
        } catch (const std::regex_error&) {
            // Docker skips patterns that do not compile.
        }
    }
    return false;
}

}  // namespace

std::string rfc3339_local(int64_t unix_nanos) {
    time_t secs = static_cast<time_t>(unix_nanos / 1000000000);
    struct tm tm {};
    localtime_r(&secs, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out = buf;
    long off = tm.tm_gmtoff;
    if (off == 0) return out + "Z";
    int minutes = static_cast<int>((off < 0 ? -off : off) / 60) % (100 * 60);
    char zone[16];
    std::snprintf(zone, sizeof zone, "%c%02d:%02d", off < 0 ? '-' : '+', minutes / 60, minutes % 60);
    return out + zone;
}

// Serialises operations on one volume name; entries vanish with their last holder.
class VolumeService::NameLock {
public:
    NameLock(VolumeService& service, std::string name) : service_(service), name_(std::move(name)) {
        {
            std::lock_guard guard(service_.locks_mutex_);
            auto& entry = service_.locks_[name_];
            if (!entry.first) entry.first = std::make_shared<std::mutex>();
            ++entry.second;
            mutex_ = entry.first;
        }
        mutex_->lock();
    }
    ~NameLock() {
        mutex_->unlock();
        std::lock_guard guard(service_.locks_mutex_);
        auto it = service_.locks_.find(name_);
        if (it != service_.locks_.end() && --it->second.second == 0) service_.locks_.erase(it);
    }
    NameLock(const NameLock&) = delete;
    NameLock& operator=(const NameLock&) = delete;

private:
    VolumeService& service_;
    std::string name_;
    std::shared_ptr<std::mutex> mutex_;
};

VolumeService::VolumeService(store::Store& store, events::EventBus& bus, std::string root)
    : VolumeService(store, bus, std::make_unique<LocalDriver>(std::move(root))) {}

VolumeService::VolumeService(store::Store& store, events::EventBus& bus, std::unique_ptr<VolumeDriver> local)
    : store_(store), bus_(bus), local_(std::move(local)) {}

VolumeService::~VolumeService() = default;

void VolumeService::emit(const std::string& action, const std::string& name, std::map<std::string, std::string> attrs) {
    attrs.emplace("driver", local_->name());
    bus_.publish(events::Event{"volume", action, name, std::move(attrs)});
}

Result<VolumeDriver*> VolumeService::driver_for(const std::string& name) {
    if (name.empty() || name == local_->name()) return local_.get();
    return make_error(Errc::NotFound,
                      "error looking up volume plugin " + name + ": plugin \"" + name + "\" not found");
}

// ---- records ----

namespace {
constexpr const char* kSelectVolumes =
    "SELECT name, driver, options, labels, created_at, anonymous FROM volumes";

VolumeRecord record_from(const store::Row& row) {
    VolumeRecord v;
    v.name = as_string(row[0]);
    v.driver = as_string(row[1]);
    v.options = string_map_from(as_string(row[2]));
    v.labels = string_map_from(as_string(row[3]));
    v.created_at = as_int(row[4]);
    v.anonymous = as_int(row[5]) != 0;
    return v;
}
}  // namespace

Result<VolumeRecord> VolumeService::load(const std::string& name) {
    CTL_ASSIGN_OR_RETURN(auto rows, store_.query(std::string(kSelectVolumes) + " WHERE name = ?", {name}));
    if (rows.empty()) return no_such_volume(name);
    VolumeRecord v = record_from(rows[0]);
    CTL_ASSIGN_OR_RETURN(auto refs, store_.query(
        "SELECT container_id FROM volume_refs WHERE volume = ? ORDER BY container_id", {name}));
    for (const auto& r : refs) v.users.push_back(as_string(r[0]));
    CTL_ASSIGN_OR_RETURN(auto driver, driver_for(v.driver));
    v.mountpoint = driver->path(v.name);
    return v;
}

Result<std::vector<VolumeRecord>> VolumeService::load_all() {
    CTL_ASSIGN_OR_RETURN(auto rows, store_.query(std::string(kSelectVolumes) + " ORDER BY name"));
    CTL_ASSIGN_OR_RETURN(auto refs, store_.query("SELECT volume, container_id FROM volume_refs ORDER BY container_id"));
    std::map<std::string, std::vector<std::string>> users;
    for (const auto& r : refs) users[as_string(r[0])].push_back(as_string(r[1]));
    std::vector<VolumeRecord> out;
    for (const auto& row : rows) {
        VolumeRecord v = record_from(row);
        if (auto it = users.find(v.name); it != users.end()) v.users = it->second;
        auto driver = driver_for(v.driver);
        v.mountpoint = driver ? (*driver)->path(v.name) : "";
        out.push_back(std::move(v));
    }
    return out;
}

Json VolumeService::to_json(const VolumeRecord& v) const {
    return Json{{"CreatedAt", rfc3339_local(v.created_at)},
                {"Driver", v.driver},
                {"Labels", json_object(v.labels)},
                {"Mountpoint", v.mountpoint},
                {"Name", v.name},
                {"Options", json_object(v.options)},
                {"Scope", "local"}};
}

int64_t VolumeService::usage(const VolumeRecord& v) {
    auto driver = driver_for(v.driver);
    return driver ? (*driver)->usage(v.name, v.options) : -1;
}

// ---- init ----

Status VolumeService::init() {
    CTL_TRY(local_->init());
    CTL_ASSIGN_OR_RETURN(auto all, load_all());
    std::set<std::string> known;
    for (const auto& v : all) known.insert(v.name);
    local_->sweep(known);

    CTL_ASSIGN_OR_RETURN(auto half_copied, store_.query("SELECT name FROM volumes WHERE copy_state = ?",
                                                       {int64_t{kCopyStarted}}));
    std::set<std::string> copying;
    for (const auto& r : half_copied) copying.insert(as_string(r[0]));

    for (const auto& v : all) {
        auto driver = driver_for(v.driver);
        if (!driver) {
            log::warn("volume {}: {}", v.name, driver.error().message);
            continue;
        }
        VolumeDriver* d = *driver;
        if (!d->exists(v.name)) {
            // The record committed but its directory is gone (lost rename, or deleted by hand).
            log::warn("volume {}: its directory is missing; recreating it empty", v.name);
            if (auto st = d->create(v.name, v.options); !st) log::warn("volume {}: {}", v.name, st.error().message);
            continue;
        }
        bool needs_mount = d->needs_mount(v.options);
        if (needs_mount && v.users.empty() && d->mounted(v.name)) {
            log::info("volume {}: unmounting, no container uses it any more", v.name);
            if (auto st = d->unmount(v.name); !st) log::warn("volume {}: {}", v.name, st.error().message);
        }
        if (copying.count(v.name) && !needs_mount) {
            log::warn("volume {}: rolling back an interrupted copy of image content", v.name);
            if (auto st = empty_dir(d->path(v.name)); !st) {
                log::warn("volume {}: {}", v.name, st.error().message);
                continue;
            }
            (void)store_.execute("UPDATE volumes SET copy_state = ? WHERE name = ?", {int64_t{kCopyNever}, v.name});
        }
    }
    return ok();
}

// ---- create / get / list ----

Result<VolumeRecord> VolumeService::create_locked(const CreateOptions& options, bool anonymous, bool* created) {
    *created = false;
    CTL_ASSIGN_OR_RETURN(VolumeDriver * driver, driver_for(options.driver));
    auto existing = load(options.name);
    if (existing) {
        if (existing->driver != driver->name()) {
            return make_error(Errc::Conflict, "create " + options.name + ": volume name must be unique (driver '" +
                                                  existing->driver + "' is already in use by this volume)");
        }
        return existing;
    }
    if (existing.error().code != Errc::NotFound) return std::move(existing).error();
    if (auto st = driver->validate(options.driver_opts); !st) return with_context(st.error(), "create " + options.name);

    bool made = false;
    Status st = store_.transact([&]() -> Status {
        CTL_TRY(store_.execute(
            "INSERT INTO volumes(name, driver, options, labels, created_at, anonymous) VALUES(?, ?, ?, ?, ?, ?)",
            {options.name, driver->name(), to_line(json_object(options.driver_opts)), to_line(json_object(options.labels)),
             now_unix_nanos(), int64_t{anonymous ? 1 : 0}}));
        // The directory appears inside the transaction: a crash before COMMIT leaves a directory
        // without a record, which init() sweeps.
        CTL_TRY(driver->create(options.name, options.driver_opts));
        made = true;
        return ok();
    });
    if (!st) {
        if (made) (void)driver->remove(options.name);
        return with_context(st.error(), "create " + options.name);
    }
    *created = true;
    emit("create", options.name);
    return load(options.name);
}

Result<VolumeRecord> VolumeService::create(const CreateOptions& options) {
    CreateOptions opts = options;
    if (opts.name.empty()) opts.name = random_hex_id();
    if (auto st = validate_volume_name(opts.name); !st) return with_context(st.error(), "create " + opts.name);
    CTL_TRY(driver_for(opts.driver));
    NameLock lock(*this, opts.name);
    bool created = false;
    return create_locked(opts, false, &created);
}

Result<VolumeRecord> VolumeService::get(const std::string& name) {
    if (name.empty()) return no_such_volume(name);
    return load(name);
}

Result<std::vector<VolumeRecord>> VolumeService::list(const Filters& filters) {
    std::optional<bool> dangling;
    if (filters.has("dangling")) {
        for (const auto& value : filters.get("dangling")) {
            std::string v = to_lower(trim(value));
            if (v == "true" || v == "1") dangling = true;
            else if (v == "false" || v == "0") dangling = dangling.value_or(false);
            else return make_error(Errc::InvalidArgument, "invalid filter 'dangling=" + value + "'");
        }
    }
    CTL_ASSIGN_OR_RETURN(auto all, load_all());
    std::vector<VolumeRecord> out;
    for (auto& v : all) {
        if (filters.has("name") && !name_matches(filters.get("name"), v.name)) continue;
        if (!filters.match_any("driver", v.driver)) continue;
        if (!filters.match_labels(v.labels)) continue;
        if (dangling && *dangling != v.users.empty()) continue;
        out.push_back(std::move(v));
    }
    return out;
}

// ---- remove / prune ----

Status VolumeService::remove_locked(const VolumeRecord& v) {
    CTL_ASSIGN_OR_RETURN(VolumeDriver * driver, driver_for(v.driver));
    // Nobody uses it, so a mount still there is a leftover: detach it before the record goes.
    if (driver->mounted(v.name)) {
        if (auto st = driver->unmount(v.name); !st) return with_context(st.error(), "remove " + v.name);
    }
    CTL_TRY(store_.transact([&]() -> Status {
        CTL_ASSIGN_OR_RETURN(auto refs, store_.query("SELECT container_id FROM volume_refs WHERE volume = ?", {v.name}));
        if (!refs.empty()) {
            std::vector<std::string> ids;
            for (const auto& r : refs) ids.push_back(as_string(r[0]));
            return make_error(Errc::Conflict, "remove " + v.name + ": volume is in use - [" + join_ids(ids) + "]");
        }
        return store_.execute("DELETE FROM volumes WHERE name = ?", {v.name});
    }));
    // The record is gone first: if deleting the data fails or we crash, init() sweeps it.
    if (auto st = driver->remove(v.name); !st) {
        log::warn("volume {} removed, but its data could not be deleted (retried at the next start): {}", v.name,
                  st.error().message);
    }
    emit("destroy", v.name);
    return ok();
}

Status VolumeService::remove(const std::string& name, bool force) {
    NameLock lock(*this, name);
    auto v = get(name);
    if (!v) {
        if (force && v.error().code == Errc::NotFound) return ok();
        return std::move(v).error();
    }
    if (!v->users.empty()) {
        return make_error(Errc::Conflict, "remove " + name + ": volume is in use - [" + join_ids(v->users) + "]");
    }
    return remove_locked(*v);
}

Result<Json> VolumeService::prune(const Filters& filters) {
    CTL_ASSIGN_OR_RETURN(auto all, load_all());
    Json deleted = Json::array();
    int64_t reclaimed = 0;
    for (const auto& candidate : all) {
        if (!candidate.users.empty()) continue;
        if (!filters.match_labels(candidate.labels) || labels_excluded(filters, candidate.labels)) continue;
        NameLock lock(*this, candidate.name);
        auto v = load(candidate.name);  // again, under the lock: it may have gained a user
        if (!v || !v->users.empty()) continue;
        int64_t size = usage(*v);
        if (auto st = remove_locked(*v); !st) {
            log::warn("prune: volume {}: {}", v->name, st.error().message);
            continue;
        }
        deleted.push_back(v->name);
        if (size > 0) reclaimed += size;
    }
    return Json{{"VolumesDeleted", deleted}, {"SpaceReclaimed", reclaimed}};
}

// ---- references ----

Result<std::string> VolumeService::acquire(const std::string& name_in, const std::string& container_id,
                                           const Json& driver_opts_for_create,
                                           const std::map<std::string, std::string>& labels_for_create) {
    if (container_id.empty()) return make_error(Errc::InvalidArgument, "acquire: empty container id");
    CreateOptions options;
    options.name = name_in;
    options.labels = labels_for_create;
    if (!driver_opts_for_create.is_null()) {
        if (!driver_opts_for_create.is_object()) {
            return make_error(Errc::InvalidArgument, "volume driver options must be an object of strings");
        }
        for (auto it = driver_opts_for_create.begin(); it != driver_opts_for_create.end(); ++it) {
            if (!it->is_string()) {
                return make_error(Errc::InvalidArgument, "volume driver option " + it.key() + " must be a string");
            }
            options.driver_opts[it.key()] = it->get<std::string>();
        }
    }
    bool anonymous = options.name.empty();
    if (anonymous) {
        options.name = random_hex_id();
        options.labels[kAnonymousLabel] = "";
    }
    if (auto st = validate_volume_name(options.name); !st) return with_context(st.error(), "create " + options.name);

    NameLock lock(*this, options.name);
    bool created = false;
    CTL_ASSIGN_OR_RETURN(auto v, create_locked(options, anonymous, &created));
    CTL_ASSIGN_OR_RETURN(VolumeDriver * driver, driver_for(v.driver));
    bool new_ref = std::find(v.users.begin(), v.users.end(), container_id) == v.users.end();
    if (new_ref) {
        // The reference first (intent): a crash before the mount leaves a reference whose next
        // acquire mounts; the opposite order could leave a mount nobody accounts for.
        CTL_TRY(store_.execute("INSERT OR IGNORE INTO volume_refs(volume, container_id) VALUES(?, ?)",
                               {v.name, container_id}));
    }
    if (driver->needs_mount(v.options)) {
        if (auto st = driver->mount(v.name, v.options); !st) {
            if (new_ref) {
                (void)store_.execute("DELETE FROM volume_refs WHERE volume = ? AND container_id = ?", {v.name, container_id});
            }
            return with_context(st.error(), "mount volume " + v.name);
        }
    }
    if (new_ref) emit("mount", v.name, {{"container", container_id}});
    return driver->path(v.name);
}

Status VolumeService::release_locked(const std::string& name, const std::string& container_id) {
    auto v = load(name);
    if (!v) return v.error().code == Errc::NotFound ? ok() : Status(std::move(v).error());
    auto it = std::find(v->users.begin(), v->users.end(), container_id);
    if (it == v->users.end()) return ok();
    CTL_TRY(store_.execute("DELETE FROM volume_refs WHERE volume = ? AND container_id = ?", {name, container_id}));
    v->users.erase(it);
    emit("unmount", name, {{"container", container_id}});
    CTL_ASSIGN_OR_RETURN(VolumeDriver * driver, driver_for(v->driver));
    if (v->users.empty() && driver->needs_mount(v->options) && driver->mounted(name)) {
        // A failure leaves the mount for init() to remove; the reference is gone either way.
        if (auto st = driver->unmount(name); !st) return with_context(st.error(), "unmount volume " + name);
    }
    return ok();
}

Status VolumeService::release(const std::string& name, const std::string& container_id) {
    NameLock lock(*this, name);
    return release_locked(name, container_id);
}

Result<std::vector<std::string>> VolumeService::volumes_of(const std::string& container_id) {
    CTL_ASSIGN_OR_RETURN(auto rows, store_.query(
        "SELECT volume FROM volume_refs WHERE container_id = ? ORDER BY volume", {container_id}));
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(as_string(r[0]));
    return out;
}

Status VolumeService::release_all(const std::string& container_id) {
    CTL_ASSIGN_OR_RETURN(auto names, volumes_of(container_id));
    Status result = ok();
    for (const auto& n : names) {
        if (auto st = release(n, container_id); !st && result) result = st;
    }
    return result;
}

Status VolumeService::remove_anonymous_of(const std::string& container_id) {
    CTL_ASSIGN_OR_RETURN(auto names, volumes_of(container_id));
    Status result = ok();
    for (const auto& n : names) {
        NameLock lock(*this, n);
        auto v = load(n);
        if (!v || !v->anonymous) continue;
        Status st = release_locked(n, container_id);
        if (st) {
            auto again = load(n);
            if (again && again->users.empty()) st = remove_locked(*again);
        }
        if (!st && result) result = st;
    }
    return result;
}

Status VolumeService::drop_refs_except(const std::set<std::string>& live) {
    CTL_ASSIGN_OR_RETURN(auto rows, store_.query("SELECT DISTINCT container_id FROM volume_refs"));
    Status result = ok();
    for (const auto& r : rows) {
        std::string id = as_string(r[0]);
        if (live.count(id)) continue;
        log::info("volumes: dropping the references of container {}, which no longer exists", id);
        if (auto st = release_all(id); !st && result) result = st;
    }
    return result;
}

// ---- copy-up ----

Status VolumeService::copy_up(const std::string& name, const std::string& rootfs, const std::string& path_in_rootfs) {
    NameLock lock(*this, name);
    CTL_ASSIGN_OR_RETURN(auto v, load(name));
    CTL_ASSIGN_OR_RETURN(VolumeDriver * driver, driver_for(v.driver));
    CTL_ASSIGN_OR_RETURN(auto state_rows, store_.query("SELECT copy_state FROM volumes WHERE name = ?", {name}));
    int state = state_rows.empty() ? kCopyNever : static_cast<int>(as_int(state_rows[0][0]));
    if (state == kCopyDone) return ok();
    if (driver->needs_mount(v.options) && !driver->mounted(name)) {
        return make_error(Errc::Internal, "copy into volume " + name + ": it is not mounted (acquire it first)");
    }
    auto set_state = [&](int s) {
        return store_.execute("UPDATE volumes SET copy_state = ? WHERE name = ?", {int64_t{s}, name});
    };
    std::string dst = driver->path(name);
    if (state == kCopyStarted) {
        CTL_TRY(empty_dir(dst));  // a crash interrupted the last copy: start over
    } else {
        CTL_ASSIGN_OR_RETURN(bool empty, dir_is_empty(dst));
        if (!empty) return set_state(kCopyDone);  // someone's data is there: never copy over it
    }

    CTL_ASSIGN_OR_RETURN(auto root_fd, fs::open_dir(rootfs));
    std::string rel = path_in_rootfs;
    while (!rel.empty() && rel.front() == '/') rel.erase(rel.begin());
    if (rel.empty()) rel = ".";
    // Resolved inside the rootfs: ".." and absolute symlinks stay in it (RESOLVE_IN_ROOT).
    auto src = fs::open_in_root(root_fd.get(), rel, O_RDONLY | O_DIRECTORY);
    if (!src) {
        Errc code = src.error().code;
        if (code == Errc::NotFound || code == Errc::InvalidArgument) {
            return state == kCopyStarted ? set_state(kCopyNever) : ok();  // nothing (or no directory) to copy
        }
        return with_context(std::move(src).error(), "copy " + path_in_rootfs + " into volume " + name);
    }
    CTL_TRY(set_state(kCopyStarted));
    // copy_tree copies symlinks as symlinks and never follows one below the source.
    if (auto st = fs::copy_tree(fs::fd_path(src->get()), dst); !st) {
        if (empty_dir(dst)) (void)set_state(kCopyNever);
        return with_context(st.error(), "copy " + path_in_rootfs + " into volume " + name);
    }
    return set_state(kCopyDone);
}

// ---- df and the API ----

void VolumeService::contribute_df(Json& df) {
    auto all = load_all();
    if (!all) return;
    Json list = Json::array();
    for (const auto& v : *all) {
        Json j = to_json(v);
        j["UsageData"] = {{"Size", usage(v)}, {"RefCount", static_cast<int64_t>(v.users.size())}};
        list.push_back(std::move(j));
    }
    df["Volumes"] = std::move(list);
}

Result<Json> VolumeService::create_volume(const api::VolumeCreateRequest& request) {
    CreateOptions options{request.name, request.driver, request.driver_opts, request.labels};
    CTL_ASSIGN_OR_RETURN(auto v, create(options));
    return to_json(v);
}

Result<Json> VolumeService::list_volumes(const Filters& filters) {
    CTL_ASSIGN_OR_RETURN(auto all, list(filters));
    Json volumes = Json::array();
    for (const auto& v : all) volumes.push_back(to_json(v));
    return Json{{"Volumes", volumes}, {"Warnings", Json::array()}};
}

Result<Json> VolumeService::inspect_volume(const std::string& name) {
    CTL_ASSIGN_OR_RETURN(auto v, get(name));
    return to_json(v);
}

}  // namespace ctl::volumes
