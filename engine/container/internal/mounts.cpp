#include "engine/container/internal/mounts.hpp"

#include <set>

#include "engine/base/util.hpp"

namespace ctl::container::internal {

namespace {

bool is_valid_volume_name(const std::string& name) {
    if (name.size() < 2) return false;
    if (!std::isalnum(static_cast<unsigned char>(name[0]))) return false;
    for (char ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '.' && ch != '-') return false;
    }
    return true;
}

Status check_destination(const std::string& raw, std::string& cleaned) {
    if (raw.empty() || raw[0] != '/') {
        return make_error(Errc::InvalidArgument, "invalid mount config: mount path must be absolute: \"" + raw + "\"");
    }
    cleaned = clean_path(raw);
    if (cleaned == "/") return make_error(Errc::InvalidArgument, "invalid mount config: destination can't be '/'");
    for (const char* shadowed : {"/proc", "/sys"}) {
        std::string s = shadowed;
        if (cleaned == s || starts_with(cleaned, s + "/")) {
            return make_error(Errc::InvalidArgument, "invalid mount config: " + cleaned + " cannot be mounted over (it would shadow " + s + ")");
        }
    }
    return ok();
}

Status check_host_path(const std::string& raw) {
    if (raw.empty() || raw[0] != '/') {
        return make_error(Errc::InvalidArgument, "invalid mount config: bind source path must be absolute: \"" + raw + "\"");
    }
    for (const auto& part : split(raw, '/')) {
        if (part == "..") return make_error(Errc::InvalidArgument, "invalid mount config: bind source path must not contain \"..\": \"" + raw + "\"");
    }
    return ok();
}

Result<MountRequest> parse_bind(const std::string& spec) {
    auto parts = split(spec, ':');
    if (parts.size() < 2 || parts.size() > 3) return make_error(Errc::InvalidArgument, "invalid volume specification: '" + spec + "'");
    MountRequest m;
    std::string src = parts[0];
    CTL_TRY(check_destination(parts[1], m.destination));
    if (parts.size() == 3) {
        m.mode = parts[2];
        for (const auto& opt : split(parts[2], ',')) {
            if (opt == "ro") m.read_only = true;
            else if (opt == "rw") m.read_only = false;
            else if (opt == "nocopy") m.no_copy = true;
            else if (opt == "z" || opt == "Z") {
            } else if (opt == "private" || opt == "rprivate" || opt == "shared" || opt == "rshared" || opt == "slave" ||
                       opt == "rslave") {
                m.propagation = opt;
            } else if (opt == "consistent" || opt == "cached" || opt == "delegated") {
            } else {
                return make_error(Errc::InvalidArgument, "invalid mode: " + opt);
            }
        }
    }
    if (!src.empty() && src[0] == '/') {
        CTL_TRY(check_host_path(src));
        m.type = "bind";
        m.source = clean_path(src);
        m.create_host_dir = true;
        if (m.propagation.empty()) m.propagation = "rprivate";
    } else {
        if (src.find('/') != std::string::npos || src == "." || starts_with(src, "..")) {
            return make_error(Errc::InvalidArgument, "invalid volume specification: '" + spec +
                                                         "': host paths must be absolute");
        }
        if (!is_valid_volume_name(src)) {
            return make_error(Errc::InvalidArgument, "create " + src +
                                                         ": \"" + src + "\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path");
        }
        m.type = "volume";
        m.source = src;
    }
    return m;
}

Result<MountRequest> parse_mount_object(const Json& o) {
    MountRequest m;
    m.type = string_or(o, "Type", "");
    if (m.type != "bind" && m.type != "volume" && m.type != "tmpfs") {
        return make_error(Errc::InvalidArgument, "invalid mount config for type \"" + m.type + "\": mount type unknown");
    }
    CTL_TRY(check_destination(string_or(o, "Target", ""), m.destination));
    m.read_only = bool_or(o, "ReadOnly", false);
    std::string src = string_or(o, "Source", "");
    if (m.type == "bind") {
        if (src.empty()) return make_error(Errc::InvalidArgument, "invalid mount config for type \"bind\": field Source must not be empty");
        CTL_TRY(check_host_path(src));
        m.source = clean_path(src);
        m.propagation = "rprivate";
        if (const Json* b = find_ci(o, "BindOptions"); b && b->is_object()) {
            m.propagation = string_or(*b, "Propagation", "rprivate");
            if (m.propagation.empty()) m.propagation = "rprivate";
        }
    } else if (m.type == "volume") {
        if (!src.empty() && !is_valid_volume_name(src)) {
            return make_error(Errc::InvalidArgument, "invalid mount config for type \"volume\": invalid volume name \"" + src + "\"");
        }
        m.source = src;
        if (const Json* v = find_ci(o, "VolumeOptions"); v && v->is_object()) {
            m.no_copy = bool_or(*v, "NoCopy", false);
            if (const Json* dc = find_ci(*v, "DriverConfig"); dc && dc->is_object()) {
                if (const Json* opts = find_ci(*dc, "Options"); opts && opts->is_object()) m.volume_driver_opts = *opts;
            }
        }
    } else {
        if (!src.empty()) return make_error(Errc::InvalidArgument, "invalid mount config for type \"tmpfs\": field Source must be empty");
        if (const Json* t = find_ci(o, "TmpfsOptions"); t && t->is_object()) {
            if (int64_t size = int_or(*t, "SizeBytes", 0); size > 0) m.tmpfs_options.push_back("size=" + std::to_string(size));
            if (int64_t mode = int_or(*t, "Mode", 0); mode > 0) {
                char buf[16];
                snprintf(buf, sizeof buf, "mode=%llo", static_cast<unsigned long long>(mode));
                m.tmpfs_options.push_back(buf);
            }
        }
    }
    return m;
}

}  // namespace

std::string clean_path(const std::string& path) { return clean_absolute_path(path); }

Result<std::vector<MountRequest>> parse_mounts(const Json& hc, const Json& config) {
    std::vector<MountRequest> out;
    std::set<std::string> destinations;
    auto add = [&](MountRequest m) -> Status {
        if (!destinations.insert(m.destination).second) {
            return make_error(Errc::InvalidArgument, "Duplicate mount point: " + m.destination);
        }
        out.push_back(std::move(m));
        return ok();
    };
    if (const Json* binds = find_ci(hc, "Binds"); binds && binds->is_array()) {
        for (const auto& b : *binds) {
            if (!b.is_string()) return make_error(Errc::InvalidArgument, "Binds must be strings");
            CTL_ASSIGN_OR_RETURN(auto m, parse_bind(b.get<std::string>()));
            CTL_TRY(add(std::move(m)));
        }
    }
    if (const Json* mounts = find_ci(hc, "Mounts"); mounts && mounts->is_array()) {
        for (const auto& o : *mounts) {
            if (!o.is_object()) return make_error(Errc::InvalidArgument, "Mounts must be objects");
            CTL_ASSIGN_OR_RETURN(auto m, parse_mount_object(o));
            CTL_TRY(add(std::move(m)));
        }
    }
    if (const Json* tmpfs = find_ci(hc, "Tmpfs"); tmpfs && tmpfs->is_object()) {
        for (auto it = tmpfs->begin(); it != tmpfs->end(); ++it) {
            MountRequest m;
            m.type = "tmpfs";
            CTL_TRY(check_destination(it.key(), m.destination));
            if (it->is_string()) {
                for (const auto& opt : split(it->get<std::string>(), ',')) {
                    if (opt.empty()) continue;
                    if (opt == "ro") m.read_only = true;
                    else if (opt != "rw") m.tmpfs_options.push_back(opt);
                }
            }
            CTL_TRY(add(std::move(m)));
        }
    }
    // Config.Volumes (request and image): an anonymous volume unless something covers it.
    if (const Json* volumes = find_ci(config, "Volumes"); volumes && volumes->is_object()) {
        for (auto it = volumes->begin(); it != volumes->end(); ++it) {
            std::string dst;
            CTL_TRY(check_destination(it.key(), dst));
            if (destinations.count(dst)) continue;
            MountRequest m;
            m.type = "volume";
            m.destination = dst;
            CTL_TRY(add(std::move(m)));
        }
    }
    return out;
}

}  // namespace ctl::container::internal
