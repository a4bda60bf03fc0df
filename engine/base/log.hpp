// Logging through spdlog; one logger for the daemon. Log an error once, where it is handled.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace ctl::log {

// Sets the level from "debug", "info", "warn", "error" (unknown names: false).
bool set_level(std::string_view level);

using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::warn;

}  // namespace ctl::log
