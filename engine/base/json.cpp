#include "engine/base/json.hpp"

#include <strings.h>

namespace ctl {

void drop_nulls(Json& value) {
    if (value.is_object()) {
        for (auto it = value.begin(); it != value.end();) {
            if (it->is_null()) {
                it = value.erase(it);
            } else {
                drop_nulls(*it);
                ++it;
            }
        }
    } else if (value.is_array()) {
        for (auto& element : value) drop_nulls(element);
    }
}

Result<Json> parse_json(std::string_view text) {
    Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) return make_error(Errc::InvalidArgument, "invalid JSON");
    return value;
}

Result<Json> parse_json_body(std::string_view text) {
    auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return Json::object();
    Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
        return make_error(Errc::InvalidArgument, "invalid JSON in request body");
    }
    drop_nulls(value);
    // A literal `null` body is "nothing given", like Go decoding into a struct.
    if (value.is_null()) return Json::object();
    return value;
}

const Json* find_ci(const Json& obj, std::string_view key) {
    if (!obj.is_object()) return nullptr;
    auto exact = obj.find(std::string(key));
    if (exact != obj.end()) return exact->is_null() ? nullptr : &*exact;
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        const std::string& name = it.key();
        if (name.size() == key.size() && strncasecmp(name.data(), key.data(), key.size()) == 0) {
            return it->is_null() ? nullptr : &*it;
        }
    }
    return nullptr;
}

namespace {
Error wrong_type(std::string_view key, std::string_view want) {
    return make_error(Errc::InvalidArgument,
                      "json: cannot unmarshal field " + std::string(key) + ": expected " + std::string(want));
}
}  // namespace

Result<std::optional<std::string>> get_string(const Json& obj, std::string_view key) {
    const Json* v = find_ci(obj, key);
    if (!v) return std::optional<std::string>{};
    if (!v->is_string()) return wrong_type(key, "string");
    return std::optional<std::string>{v->get<std::string>()};
}

Result<std::optional<bool>> get_bool(const Json& obj, std::string_view key) {
    const Json* v = find_ci(obj, key);
    if (!v) return std::optional<bool>{};
    if (!v->is_boolean()) return wrong_type(key, "boolean");
    return std::optional<bool>{v->get<bool>()};
}

Result<std::optional<int64_t>> get_int(const Json& obj, std::string_view key) {
    const Json* v = find_ci(obj, key);
    if (!v) return std::optional<int64_t>{};
    if (v->is_number_integer()) return std::optional<int64_t>{v->get<int64_t>()};
    if (v->is_number_float()) {
        double d = v->get<double>();
        if (d == static_cast<double>(static_cast<int64_t>(d))) return std::optional<int64_t>{static_cast<int64_t>(d)};
    }
    return wrong_type(key, "integer");
}

Result<std::optional<std::vector<std::string>>> get_string_list(const Json& obj, std::string_view key) {
    const Json* v = find_ci(obj, key);
    if (!v) return std::optional<std::vector<std::string>>{};
    std::vector<std::string> out;
    if (v->is_string()) {
        out.push_back(v->get<std::string>());
    } else if (v->is_array()) {
        for (const auto& e : *v) {
            if (!e.is_string()) return wrong_type(key, "list of strings");
            out.push_back(e.get<std::string>());
        }
    } else {
        return wrong_type(key, "list of strings");
    }
    return std::optional<std::vector<std::string>>{std::move(out)};
}

Result<std::optional<std::map<std::string, std::string>>> get_string_map(const Json& obj, std::string_view key) {
    const Json* v = find_ci(obj, key);
    if (!v) return std::optional<std::map<std::string, std::string>>{};
    if (!v->is_object()) return wrong_type(key, "object of strings");
    std::map<std::string, std::string> out;
    for (auto it = v->begin(); it != v->end(); ++it) {
        if (!it->is_string()) return wrong_type(key, "object of strings");
        out[it.key()] = it->get<std::string>();
    }
    return std::optional<std::map<std::string, std::string>>{std::move(out)};
}

std::string string_or(const Json& obj, std::string_view key, std::string fallback) {
    const Json* v = find_ci(obj, key);
    return v && v->is_string() ? v->get<std::string>() : fallback;
}

bool bool_or(const Json& obj, std::string_view key, bool fallback) {
    const Json* v = find_ci(obj, key);
    return v && v->is_boolean() ? v->get<bool>() : fallback;
}

int64_t int_or(const Json& obj, std::string_view key, int64_t fallback) {
    const Json* v = find_ci(obj, key);
    return v && v->is_number() ? v->get<int64_t>() : fallback;
}

std::string to_line(const Json& value) {
    // Replace invalid UTF-8 rather than throwing: container output is arbitrary bytes.
    return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace ctl
