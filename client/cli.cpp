#include "client/cli.hpp"

#include <cstdio>
#include <iostream>

#include "engine/base/util.hpp"

namespace ctl::client {

std::string resolve_host(const std::string& flag, const char* env_value) {
    if (!flag.empty()) return flag;
    if (env_value && *env_value) return env_value;
    return "unix:///run/ctld.sock";
}

HttpClient& Context::http() {
    if (!http_) {
        http_ = std::make_unique<HttpClient>(resolve_host(options_.host, std::getenv("CTL_HOST")), options_.tls);
    }
    return *http_;
}

void print_error(const Error& e) {
    std::string msg = e.message;
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
    if (e.code == Errc::Unavailable && starts_with(msg, "cannot connect")) {
        std::fprintf(stderr, "%s\n", msg.c_str());
    } else if (e.code == Errc::InvalidArgument && starts_with(msg, "template parsing error")) {
        std::fprintf(stderr, "%s\n", msg.c_str());
    } else if (e.sys_errno == -1) {  // a client-side usage error
        std::fprintf(stderr, "ctl: %s\n", msg.c_str());
    } else {
        std::fprintf(stderr, "Error response from daemon: %s\n", msg.c_str());
    }
}

void Context::run(const std::function<Status()>& body) {
    Status st = body();
    if (!st) {
        std::fflush(stdout);
        print_error(st.error());
        if (exit_code_ == 0) exit_code_ = kExitEngineError;
    }
}

Result<Json> Context::get_json(const std::string& path, const std::vector<std::pair<std::string, std::string>>& query) {
    CTL_ASSIGN_OR_RETURN(auto resp, http().request("GET", HttpClient::path_with_query(path, query)));
    Json doc = Json::parse(resp.body, nullptr, false);
    if (doc.is_discarded()) return make_error(Errc::Internal, "the engine sent invalid JSON for " + path);
    return doc;
}

Status Context::print_formatted(const std::string& format, const Json& value, const std::function<void()>& plain) {
    if (format.empty()) {
        plain();
        return ok();
    }
    if (format == "json") {
        std::cout << to_line(value) << "\n";
        return ok();
    }
    CTL_ASSIGN_OR_RETURN(auto tmpl, Template::parse(format));
    CTL_ASSIGN_OR_RETURN(auto text, tmpl.render(value));
    std::cout << text << "\n";
    return ok();
}

std::string filters_json(const std::vector<std::string>& filters) {
    if (filters.empty()) return {};
    Json out = Json::object();
    for (const auto& f : filters) {
        auto eq = f.find('=');
        std::string key = trim(f.substr(0, eq));
        std::string value = eq == std::string::npos ? "" : f.substr(eq + 1);
        if (!out.contains(key)) out[key] = Json::array();
        out[key].push_back(value);
    }
    return to_line(out);
}

}  // namespace ctl::client
