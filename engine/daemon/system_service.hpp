// Facts about the engine and its host for /version, /info and /system/df. Other services
// (images, containers, volumes) add their figures through contributors, so this file does not
// depend on them.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "api/routers/system_routes.hpp"
#include "engine/daemon/config.hpp"
#include "engine/store/store.hpp"

namespace ctl::daemon {

class SystemService : public api::SystemBackend {
public:
    SystemService(const Config& config, store::Store& store, events::EventBus& bus, std::string engine_id);

    Json version() override;
    Json info() override;
    Result<Json> disk_usage() override;
    events::EventBus& events() override { return bus_; }

    using Contributor = std::function<void(Json&)>;
    // Fills counts/sections of /info (e.g. "Containers", "Images", "Driver", "Runtimes").
    void add_info_contributor(Contributor fn);
    // Fills sections of /system/df ("Images", "Containers", "Volumes", "LayersSize").
    void add_df_contributor(Contributor fn);

private:
    const Config& config_;
    store::Store& store_;
    events::EventBus& bus_;
    std::string engine_id_;
    std::mutex mutex_;
    std::vector<Contributor> info_contributors_, df_contributors_;
};

// Host facts, read from the kernel and /proc.
std::string kernel_version();
std::string go_arch();  // amd64, arm64, ... as Docker reports Arch
std::string cgroup_version();

}  // namespace ctl::daemon
