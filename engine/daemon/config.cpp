#include "engine/daemon/config.hpp"

#include <CLI/CLI.hpp>

#include "engine/base/json.hpp"
#include "engine/base/sys.hpp"
#include "engine/daemon/version.hpp"

namespace ctl::daemon {

namespace {

// Applies the JSON config file for every key the command line did not set.
Status apply_file(const std::string& path, Config& cfg, const CLI::App& app) {
    auto text = sys::read_file(path);
    if (!text) return with_context(std::move(text).error(), "reading config file");
    Json doc = Json::parse(*text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return make_error(Errc::InvalidArgument, "config file " + path + " is not a JSON object");
    }
    static const std::set<std::string> known = {"hosts",     "host",           "data-root",     "exec-root",
                                                "log-level", "tlsverify",      "tlscacert",     "tlscert",
                                                "tlskey",    "insecure-tcp",   "group",         "storage-driver",
                                                "default-runtime", "insecure-registries", "insecure-registry",
                                                "bridge", "bip", "dns"};
    for (auto it = doc.begin(); it != doc.end(); ++it) {
        if (!known.count(it.key())) {
            return make_error(Errc::InvalidArgument, "config file " + path + ": unknown key \"" + it.key() + "\"");
        }
    }
    auto given = [&](const char* flag) { return app.get_option(flag)->count() > 0; };
    auto str = [&](const char* key, const char* flag, std::string& out) -> Status {
        if (!doc.contains(key) || given(flag)) return ok();
        if (!doc[key].is_string()) return make_error(Errc::InvalidArgument, std::string("config key ") + key + " must be a string");
        out = doc[key].get<std::string>();
        return ok();
    };
    auto boolean = [&](const char* key, const char* flag, bool& out) -> Status {
        if (!doc.contains(key) || given(flag)) return ok();
        if (!doc[key].is_boolean()) return make_error(Errc::InvalidArgument, std::string("config key ") + key + " must be true or false");
        out = doc[key].get<bool>();
        return ok();
    };
    auto list = [&](const char* key, const char* flag, std::vector<std::string>& out) -> Status {
        if (!doc.contains(key) || given(flag)) return ok();
        auto v = get_string_list(doc, key);
        if (!v) return v.error();
        out = **v;
        return ok();
    };
    CTL_TRY(list("hosts", "--host", cfg.hosts));
    CTL_TRY(list("host", "--host", cfg.hosts));
    CTL_TRY(str("data-root", "--data-root", cfg.data_root));
    CTL_TRY(str("exec-root", "--exec-root", cfg.exec_root));
    CTL_TRY(str("log-level", "--log-level", cfg.log_level));
    CTL_TRY(boolean("tlsverify", "--tlsverify", cfg.tls_verify));
    CTL_TRY(str("tlscacert", "--tlscacert", cfg.tls_ca));
    CTL_TRY(str("tlscert", "--tlscert", cfg.tls_cert));
    CTL_TRY(str("tlskey", "--tlskey", cfg.tls_key));
    CTL_TRY(boolean("insecure-tcp", "--insecure-tcp", cfg.insecure_tcp));
    CTL_TRY(str("group", "--group", cfg.group));
    CTL_TRY(str("storage-driver", "--storage-driver", cfg.storage_driver));
    CTL_TRY(str("default-runtime", "--default-runtime", cfg.default_runtime));
    CTL_TRY(list("insecure-registries", "--insecure-registry", cfg.insecure_registries));
    CTL_TRY(list("insecure-registry", "--insecure-registry", cfg.insecure_registries));
    CTL_TRY(str("bridge", "--bridge", cfg.bridge));
    CTL_TRY(str("bip", "--bip", cfg.bip));
    CTL_TRY(list("dns", "--dns", cfg.dns));
    return ok();
}

}  // namespace

Result<Config> parse_args(int argc, char** argv) {
    Config cfg;
    std::string config_file;
    CLI::App app{"ctld: a container engine serving the Docker Engine API v1.41", "ctld"};
    app.set_version_flag("-v,--version", std::string("ctld version ") + kVersion + ", build " + kGitCommit);
    app.add_option("-H,--host", cfg.hosts, "Socket to listen on: unix:///path, tcp://addr:port, fd:// (repeatable)");
    app.add_option("--data-root", cfg.data_root, "Root of persistent engine state")->capture_default_str();
    app.add_option("--exec-root", cfg.exec_root, "Root of runtime state (sockets, bundles)")->capture_default_str();
    app.add_option("-l,--log-level", cfg.log_level, "debug, info, warn or error")->capture_default_str();
    app.add_option("--config", config_file, "JSON file with the same keys as these flags");
    app.add_flag("--tlsverify", cfg.tls_verify, "Require client certificates signed by --tlscacert");
    app.add_option("--tlscacert", cfg.tls_ca, "CA certificate for client verification");
    app.add_option("--tlscert", cfg.tls_cert, "Server certificate");
    app.add_option("--tlskey", cfg.tls_key, "Server key");
    app.add_flag("--insecure-tcp", cfg.insecure_tcp, "Allow tcp:// hosts without TLS (anyone reaching it is root)");
    app.add_option("-G,--group", cfg.group, "Group owning the unix sockets")->capture_default_str();
    app.add_option("-s,--storage-driver", cfg.storage_driver, "overlay or vfs");
    app.add_option("--default-runtime", cfg.default_runtime, "crun or runc (probed when not given)");
    app.add_option("--insecure-registry", cfg.insecure_registries, "Registries reachable over plain HTTP");
    app.add_option("-b,--bridge", cfg.bridge, "Linux bridge of the default network")->capture_default_str();
    app.add_option("--bip", cfg.bip, "Default network's gateway address and prefix (e.g. 10.20.0.1/24)");
    app.add_option("--dns", cfg.dns, "Resolvers the embedded DNS forwards to (default: the host's resolv.conf)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        return make_error(Errc::NotModified, app.help());
    } catch (const CLI::CallForVersion&) {
        return make_error(Errc::NotModified, app.version());
    } catch (const CLI::ParseError& e) {
        return make_error(Errc::InvalidArgument, e.what());
    }
    if (!config_file.empty()) CTL_TRY(apply_file(config_file, cfg, app));
    for (const auto& h : cfg.hosts) {
        if (h.rfind("tcp://", 0) == 0 && (cfg.tls_verify || !cfg.tls_cert.empty())) {
            if (cfg.tls_cert.empty() || cfg.tls_key.empty() || (cfg.tls_verify && cfg.tls_ca.empty())) {
                return make_error(Errc::InvalidArgument, "--tlsverify needs --tlscacert, --tlscert and --tlskey");
            }
        }
    }
    if (cfg.hosts.empty()) cfg.hosts.push_back("unix:///run/ctld.sock");
    if (cfg.data_root.empty() || cfg.data_root[0] != '/') {
        return make_error(Errc::InvalidArgument, "--data-root must be an absolute path");
    }
    if (cfg.exec_root.empty() || cfg.exec_root[0] != '/') {
        return make_error(Errc::InvalidArgument, "--exec-root must be an absolute path");
    }
    return cfg;
}

}  // namespace ctl::daemon
