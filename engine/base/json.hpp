// JSON decoding the way Go's encoding/json (and so dockerd) does it: key names match
// case-insensitively (exact match wins), null is the same as absent at every depth, unknown
// keys are ignored. Every API body goes through these helpers, so each route gets that for free.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/result.hpp"

namespace ctl {

using Json = nlohmann::json;

// Parses a request body. Empty or whitespace-only text is an empty object (clients POST
// without a body). Removes null members of objects at every depth. Errors are InvalidArgument.
Result<Json> parse_json_body(std::string_view text);
// Our own stored JSON (records, state files) as written: nulls kept. InvalidArgument if malformed.
Result<Json> parse_json(std::string_view text);

// Recursively drops object members whose value is null (arrays keep their null elements).
void drop_nulls(Json& value);

// Case-insensitive member lookup; nullptr when absent, null, or `obj` is not an object.
const Json* find_ci(const Json& obj, std::string_view key);

// Typed getters that treat absent/null as "not given" and a wrong type as InvalidArgument.
Result<std::optional<std::string>> get_string(const Json& obj, std::string_view key);
Result<std::optional<bool>> get_bool(const Json& obj, std::string_view key);
Result<std::optional<int64_t>> get_int(const Json& obj, std::string_view key);
// A list of strings; a single string is accepted as a one-element list (Go's strslice).
Result<std::optional<std::vector<std::string>>> get_string_list(const Json& obj, std::string_view key);
Result<std::optional<std::map<std::string, std::string>>> get_string_map(const Json& obj,
                                                                         std::string_view key);

// Convenience when a wrong type should simply fall back: value or default.
std::string string_or(const Json& obj, std::string_view key, std::string fallback = {});
bool bool_or(const Json& obj, std::string_view key, bool fallback = false);
int64_t int_or(const Json& obj, std::string_view key, int64_t fallback = 0);

// The compact one-line form used for API responses and stream messages.
std::string to_line(const Json& value);

}  // namespace ctl
