#include "engine/base/query.hpp"

#include <algorithm>
#include <cctype>

#include "engine/base/json.hpp"

namespace ctl {

bool parse_query_bool(std::string_view value) {
    auto b = value.find_first_not_of(" \t");
    if (b == std::string_view::npos) return false;
    auto e = value.find_last_not_of(" \t");
    std::string v(value.substr(b, e - b + 1));
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
    return !(v == "0" || v == "false" || v == "no" || v == "none");
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string url_decode(std::string_view in, bool plus_is_space) {
    std::string out;
    out.reserve(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '%' && i + 2 < in.size()) {
            int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(plus_is_space && c == '+' ? ' ' : c);
    }
    return out;
}

std::string url_encode(std::string_view in) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : in) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

QueryMap parse_query_string(std::string_view query) {
    QueryMap out;
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view part = query.substr(0, amp);
        if (!part.empty()) {
            auto eq = part.find('=');
            std::string key = url_decode(part.substr(0, eq));
            std::string value = eq == std::string_view::npos ? std::string() : url_decode(part.substr(eq + 1));
            out.emplace(std::move(key), std::move(value));
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return out;
}

Result<Filters> Filters::parse(std::string_view text, const std::set<std::string>& allowed) {
    Filters f;
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return f;
    Json doc = Json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return make_error(Errc::InvalidArgument, "invalid filter: filters must be a JSON object");
    }
    for (auto it = doc.begin(); it != doc.end(); ++it) {
        const std::string& key = it.key();
        if (!allowed.empty() && !allowed.count(key)) {
            return make_error(Errc::InvalidArgument, "invalid filter '" + key + "'");
        }
        auto& list = f.values_[key];
        if (it->is_array()) {
            for (const auto& v : *it) {
                if (!v.is_string()) return make_error(Errc::InvalidArgument, "invalid filter '" + key + "'");
                list.push_back(v.get<std::string>());
            }
        } else if (it->is_object()) {  // legacy {"label": {"a=b": true}}
            for (auto m = it->begin(); m != it->end(); ++m) {
                if (!m->is_boolean() || m->get<bool>()) list.push_back(m.key());
            }
        } else if (it->is_string()) {
            list.push_back(it->get<std::string>());
        } else if (!it->is_null()) {
            return make_error(Errc::InvalidArgument, "invalid filter '" + key + "'");
        }
        if (list.empty()) f.values_.erase(key);
    }
    return f;
}

const std::vector<std::string>& Filters::get(const std::string& key) const {
    static const std::vector<std::string> kEmpty;
    auto it = values_.find(key);
    return it == values_.end() ? kEmpty : it->second;
}

bool Filters::match_any(const std::string& key, std::string_view value) const {
    auto it = values_.find(key);
    if (it == values_.end()) return true;
    return std::any_of(it->second.begin(), it->second.end(), [&](const std::string& v) { return v == value; });
}

bool Filters::match_labels(const std::map<std::string, std::string>& labels, const std::string& key) const {
    for (const auto& want : get(key)) {
        auto eq = want.find('=');
        if (eq == std::string::npos) {
            if (!labels.count(want)) return false;
        } else {
            auto it = labels.find(want.substr(0, eq));
            if (it == labels.end() || it->second != want.substr(eq + 1)) return false;
        }
    }
    return true;
}

}  // namespace ctl
