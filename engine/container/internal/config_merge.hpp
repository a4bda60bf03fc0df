// Pure helpers of the container service: Docker's merge of the image config into a create
// request, the command it runs, generated names and time formatting.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/base/json.hpp"
#include "engine/base/result.hpp"

namespace ctl::container::internal {

// The container Config Docker reports: the request's fields, with the image's as defaults —
// Env merged key by key (request wins), Labels/ExposedPorts/Volumes united, Cmd from the image
// only when the request has neither Cmd nor Entrypoint. `image_ref` is stored as Config.Image.
Result<Json> merge_config(const Json& image_config, const Json& request, const std::string& image_ref);

// Entrypoint + Cmd as Path and Args. InvalidArgument "No command specified" when both are empty.
Status command_of(const Json& config, std::string& path, std::vector<std::string>& args);

// "adjective_surname" not yet taken (Docker's style, our own word lists).
std::string generate_name(const std::function<bool(const std::string&)>& taken);

// RFC 3339 in UTC with exactly 9 fraction digits (compose sorts these strings).
std::string rfc3339_fixed(int64_t unix_nanos);

// "SIGTERM", "TERM", "15", "sigkill" -> signal number; InvalidArgument otherwise.
Result<int> parse_signal(const std::string& text);

}  // namespace ctl::container::internal
