// ctld: the composition root. Parses flags, takes the data-root lock, opens the store, wires the
// services into the API router and serves until SIGTERM/SIGINT.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>

#include "api/routers/image_routes.hpp"
#include "api/routers/system_routes.hpp"
#include "api/routers/volume_routes.hpp"
#include "api/routers/network_routes.hpp"
#include "api/server.hpp"
#include "engine/base/log.hpp"
#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"
#include "engine/daemon/config.hpp"
#include "engine/daemon/system_service.hpp"
#include "engine/daemon/version.hpp"
#include "engine/events/event_bus.hpp"
#include "api/routers/container_routes.hpp"
#include "engine/container/container_service.hpp"
#include "engine/container/runtime/runtime.hpp"
#include "engine/image/content_store.hpp"
#include "engine/image/image_service.hpp"
#include "graphdriver/graph_driver.hpp"
#include "registry/client.hpp"
#include "volumes/volume_service.hpp"
#include "netdriver/network_service.hpp"
#include "engine/base/digest.hpp"
#include "engine/store/store.hpp"

using namespace ctl;

namespace {

int fail(const std::string& message) {
    std::fprintf(stderr, "ctld: %s\n", message.c_str());
    return 1;
}

// One ctld per data root: an flock held for the daemon's life. The pid in the file is only
// for the error message; the lock itself is what counts (and dies with the process).
Result<sys::UniqueFd> lock_data_root(const std::string& data_root) {
    std::string path = data_root + "/ctld.lock";
    sys::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd.valid()) return sys_error("open " + path);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            auto pid = sys::read_file(path);
            std::string holder = pid && !trim(*pid).empty() ? " (pid " + trim(*pid) + ")" : "";
            return make_error(Errc::Conflict, "data root " + data_root + " is already in use by another ctld" + holder +
                                                  "; stop it or use a different --data-root");
        }
        return sys_error("lock " + path);
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) == 0) (void)::pwrite(fd.get(), pid.data(), pid.size(), 0);
    return fd;
}

// The configured storage driver, or overlay when the kernel and the data root's filesystem
// support it, vfs otherwise. Logged either way.
Result<std::unique_ptr<graph::GraphDriver>> open_graph_driver(const daemon::Config& config) {
    std::string root = config.data_root + "/storage";
    CTL_TRY(sys::mkdir_all(root, 0700));
    std::string name = config.storage_driver;
    if (name.empty()) {
        name = graph::overlay_supported(root) ? "overlay" : "vfs";
        if (name == "vfs") log::warn("overlayfs is not usable under {}: falling back to the vfs driver (full copies)", root);
    }
    auto driver = graph::make_graph_driver(name, root);
    if (!driver) return with_context(std::move(driver).error(), "storage driver " + name);
    log::info("storage driver: {}", (*driver)->name());
    return driver;
}

// ctl-shim sits next to ctld (build dir, or /usr/local/bin when installed).
std::string shim_path() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    std::string exe = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("/usr/local/bin/ctld");
    return exe.substr(0, exe.rfind('/')) + "/ctl-shim";
}

// The runtimes that work here, preferred first; --default-runtime must be one of them.
Result<std::vector<container::runtime::RuntimeInfo>> usable_runtimes(const daemon::Config& config) {
    auto runtimes = container::runtime::probe_runtimes(config.exec_root + "/probe");
    if (runtimes.empty()) log::warn("no working OCI runtime (crun or runc) found: containers will not start");
    if (!config.default_runtime.empty()) {
        bool found = false;
        for (const auto& r : runtimes) found = found || r.name == config.default_runtime;
        if (!found) {
            return make_error(Errc::InvalidArgument,
                              "--default-runtime " + config.default_runtime + " is not installed or does not work here");
        }
    }
    // Only the default runtime keeps its sealed copy: runc's is ~9 MB of memory that containers
    // on crun would never use (others re-exec themselves at each launch, as they do anywhere).
    const std::string default_name = !config.default_runtime.empty() ? config.default_runtime
                                     : runtimes.empty()             ? std::string()
                                                                    : runtimes.front().name;
    for (auto& r : runtimes) {
        if (r.name != default_name && r.exec_fd >= 0) {
            ::close(r.exec_fd);
            r.exec_fd = -1;
        }
    }
    return runtimes;
}

}  // namespace

int main(int argc, char** argv) {
    auto parsed = daemon::parse_args(argc, argv);
    if (!parsed) {
        if (parsed.error().code == Errc::NotModified) {
            std::fputs(parsed.error().message.c_str(), stdout);
            std::fputs("\n", stdout);
            return 0;
        }
        return fail(parsed.error().message);
    }
    daemon::Config config = std::move(*parsed);
    if (!log::set_level(config.log_level)) return fail("unknown --log-level " + config.log_level);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

    if (::geteuid() != 0) log::warn("ctld is not running as root: containers will not start");
    for (const auto& dir : {config.data_root, config.exec_root}) {
        if (auto st = sys::mkdir_all(dir, 0711); !st) return fail(st.error().message);
    }
    auto lock = lock_data_root(config.data_root);
    if (!lock) return fail(lock.error().message);

    auto store = store::Store::open(config.data_root + "/ctld.db");
    if (!store) return fail(store.error().message);
    std::string engine_id;
    if (auto id = (*store)->get_meta("engine-id")) {
        engine_id = *id;
    } else {
        engine_id = random_hex_id();
        if (auto st = (*store)->set_meta("engine-id", engine_id); !st) return fail(st.error().message);
    }

    auto driver = open_graph_driver(config);
    if (!driver) return fail(driver.error().message);

    events::EventBus bus;
    daemon::SystemService system(config, **store, bus, engine_id);

    registry::ClientOptions registry_options;
    registry_options.insecure_registries = config.insecure_registries;
    registry_options.user_agent = std::string("ctld/") + daemon::kVersion;
    registry::Client registry_client(registry_options);
    image::ContentStore content(config.data_root + "/image");
    image::ImageService images(**store, **driver, content, registry_client, bus);
    if (auto st = images.init(); !st) return fail(st.error().message);
    system.add_info_contributor([&images](Json& info) { images.contribute_info(info); });
    system.add_df_contributor([&images](Json& df) { images.contribute_df(df); });
    volumes::VolumeService volumes(**store, bus, config.data_root + "/volumes");
    if (auto st = volumes.init(); !st) return fail(st.error().message);
    system.add_df_contributor([&volumes](Json& df) { volumes.contribute_df(df); });

    auto runtimes = usable_runtimes(config);
    if (!runtimes) return fail(runtimes.error().message);
    container::ServiceOptions container_options;
    container_options.data_root = config.data_root;
    container_options.exec_root = config.exec_root;
    container_options.shim_binary = shim_path();
    container_options.runtimes = *runtimes;
    container_options.default_runtime = config.default_runtime;
    net::NetworkOptions network_options;
    network_options.exec_root = config.exec_root;
    network_options.bridge_name = config.bridge;
    network_options.bip = config.bip;
    network_options.dns = config.dns;
    // One nftables table per data root, so several engines (tests) never touch each other's rules.
    network_options.table = "ctld_" + sha256_hex(config.data_root).substr(0, 8);
    // Bind the API before networking touches the host: a socket or port in use (or bad TLS files)
    // refuses the start while there is no bridge or rule to leave behind. Nothing is accepted
    // before server->run(); the routes are registered below, once the services exist. Held in an
    // optional so it can go first at the end: its request workers use the services below.
    api::Router router;
    api::ServerOptions options;
    options.hosts = config.hosts;
    options.on_shutdown = [&images] { images.cancel_transfers(); };
    options.tls = {config.tls_verify, config.tls_ca, config.tls_cert, config.tls_key};
    options.insecure_tcp = config.insecure_tcp;
    options.socket_group = config.group;
    options.engine_version = daemon::kCompatVersion;
    std::optional<api::Server> server(std::in_place, router, options);
    if (auto st = server->listen(); !st) return fail(st.error().message);

    net::NetworkService networks(**store, bus, network_options);
    container::ContainerService containers(**store, **driver, images, volumes, networks, bus, container_options);
    networks.set_container_lookup([&containers](const std::string& name) { return containers.network_ref(name); });
    if (auto st = networks.init(containers.recorded_running()); !st) return fail("networking: " + st.error().message);
    if (auto st = containers.init(); !st) return fail(st.error().message);
    images.containers_using = [&containers](const std::string& id) { return containers.containers_using_image(id); };
    system.add_info_contributor([&containers](Json& info) { containers.contribute_info(info); });
    system.add_df_contributor([&containers](Json& df) { containers.contribute_df(df); });

    api::register_system_routes(router, system);
    api::register_image_routes(router, images);
    api::register_volume_routes(router, volumes);
    api::register_container_routes(router, containers);
    api::register_network_routes(router, networks);

    std::string hosts;
    for (const auto& h : config.hosts) hosts += (hosts.empty() ? "" : ", ") + h;
    log::info("ctld {} (API {}) serving on {} with data root {}", daemon::kVersion, api::kApiVersion, hosts,
              config.data_root);
    server->run();
    images.cancel_transfers();  // requests still running on the worker pool end promptly
    containers.shutdown();      // containers keep running under their shims (live restore)
    (void)(*driver)->cleanup(containers.mounted_layers());
    server.reset();  // joins the request workers while the services they use still exist
    log::info("ctld stopped");
    return 0;
}
