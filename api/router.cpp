#include "api/router.hpp"

#include <cstdio>

#include "engine/base/util.hpp"

namespace ctl::api {

namespace {

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> out;
    for (auto& s : split(path, '/')) {
        if (!s.empty()) out.push_back(s);
    }
    return out;
}

bool is_capture(const std::string& seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }
bool is_greedy(const std::string& seg) { return is_capture(seg) && seg[seg.size() - 2] == '*'; }
std::string capture_name(const std::string& seg) {
    std::string name = seg.substr(1, seg.size() - 2);
    if (!name.empty() && name.back() == '*') name.pop_back();
    return name;
}

bool match_segments(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
                    std::map<std::string, std::string>& params) {
    size_t greedy = pattern.size();
    for (size_t i = 0; i < pattern.size(); ++i) {
        if (is_greedy(pattern[i])) {
            greedy = i;
            break;
        }
    }
    if (greedy == pattern.size()) {
        if (pattern.size() != path.size()) return false;
        for (size_t i = 0; i < pattern.size(); ++i) {
            if (is_capture(pattern[i])) params[capture_name(pattern[i])] = path[i];
            else if (pattern[i] != path[i]) return false;
        }
        return true;
    }
    // Fixed prefix, one greedy capture of >= 1 segment, fixed suffix matched from the right.
    size_t suffix = pattern.size() - greedy - 1;
    if (path.size() < greedy + 1 + suffix) return false;
    for (size_t i = 0; i < greedy; ++i) {
        if (is_capture(pattern[i])) params[capture_name(pattern[i])] = path[i];
        else if (pattern[i] != path[i]) return false;
    }
    for (size_t k = 0; k < suffix; ++k) {
        const auto& p = pattern[pattern.size() - 1 - k];
        const auto& s = path[path.size() - 1 - k];
        if (is_capture(p)) params[capture_name(p)] = s;
        else if (p != s) return false;
    }
    std::string joined;
    for (size_t i = greedy; i < path.size() - suffix; ++i) {
        if (!joined.empty()) joined += '/';
        joined += path[i];
    }
    params[capture_name(pattern[greedy])] = joined;
    return true;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler, RouteOptions options) {
    routes_.push_back(Route{std::move(method), split_path(pattern), std::move(handler), options});
}

Router::Match Router::match(const std::string& method, const std::string& path) const {
    Match result;
    auto segments = split_path(path);
    // Literal routes win over captures: try routes without captures first.
    for (int pass = 0; pass < 2; ++pass) {
        for (const auto& route : routes_) {
            bool literal = true;
            for (const auto& s : route.segments) literal = literal && !is_capture(s);
            if ((pass == 0) != literal) continue;
            std::map<std::string, std::string> params;
            if (!match_segments(route.segments, segments, params)) continue;
            bool method_ok = route.method == method || (method == "HEAD" && route.method == "GET");
            if (!method_ok) {
                result.path_known = true;
                continue;
            }
            result.handler = &route.handler;
            result.options = &route.options;
            result.params = std::move(params);
            return result;
        }
    }
    return result;
}

Result<std::pair<std::string, std::string>> strip_api_version(const std::string& path) {
    if (path.size() > 3 && path[0] == '/' && path[1] == 'v' && std::isdigit(static_cast<unsigned char>(path[2]))) {
        auto slash = path.find('/', 1);
        std::string version = path.substr(2, slash == std::string::npos ? std::string::npos : slash - 2);
        std::string rest = slash == std::string::npos ? "/" : path.substr(slash);
        int major = 0, minor = 0;
        char tail = 0;
        if (std::sscanf(version.c_str(), "%d.%d%c", &major, &minor, &tail) != 2) {
            return make_error(Errc::NotFound, "page not found");
        }
        auto as_number = [](int maj, int min) { return maj * 1000 + min; };
        if (as_number(major, minor) > as_number(1, 41)) {
            return make_error(Errc::InvalidArgument, "client version " + version +
                                                         " is too new. Maximum supported API version is " +
                                                         std::string(kApiVersion));
        }
        if (as_number(major, minor) < as_number(1, 12)) {
            return make_error(Errc::InvalidArgument,
                              "client version " + version + " is too old. Minimum supported API version is " +
                                  std::string(kMinApiVersion) + ", please upgrade your client to a newer version");
        }
        return std::make_pair(version, rest);
    }
    return std::make_pair(std::string(kApiVersion), path);
}

}  // namespace ctl::api
