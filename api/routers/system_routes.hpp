// /_ping, /version, /info, /system/df, /events.
#pragma once

#include "api/router.hpp"
#include "engine/events/event_bus.hpp"

namespace ctl::api {

// What the system routes need from the engine.
class SystemBackend {
public:
    virtual ~SystemBackend() = default;
    virtual Json version() = 0;               // GET /version body
    virtual Json info() = 0;                  // GET /info body (may block briefly: reads /proc, the store)
    virtual Result<Json> disk_usage() = 0;    // GET /system/df body (walks layer and volume dirs)
    virtual events::EventBus& events() = 0;
};

void register_system_routes(Router& router, SystemBackend& backend);

}  // namespace ctl::api
