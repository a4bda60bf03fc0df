#include "api/http.hpp"

#include <strings.h>

namespace ctl::api {

bool CaseInsensitiveLess::operator()(const std::string& a, const std::string& b) const {
    return strcasecmp(a.c_str(), b.c_str()) < 0;
}

const std::string& Request::param(const std::string& name) const {
    static const std::string kEmpty;
    auto it = params.find(name);
    return it == params.end() ? kEmpty : it->second;
}

std::string Request::header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
}

std::string Request::query_value(const std::string& key, std::string fallback) const {
    auto it = query.find(key);
    return it == query.end() ? fallback : it->second;
}

std::vector<std::string> Request::query_values(const std::string& key) const {
    std::vector<std::string> out;
    auto range = query.equal_range(key);
    for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
    return out;
}

bool Request::query_bool(const std::string& key, bool fallback) const {
    auto it = query.find(key);
    if (it == query.end()) return fallback;
    return parse_query_bool(it->second);
}

Result<std::optional<int64_t>> Request::query_int(const std::string& key) const {
    auto it = query.find(key);
    if (it == query.end() || it->second.empty()) return std::optional<int64_t>{};
    try {
        size_t used = 0;
        int64_t v = std::stoll(it->second, &used);
        if (used == it->second.size()) return std::optional<int64_t>{v};
    } catch (...) {
    }
    return make_error(Errc::InvalidArgument, "invalid value for " + key + ": " + it->second);
}

Result<Json> Request::json_body() const { return parse_json_body(body); }

Result<Filters> Request::filters(const std::set<std::string>& allowed) const {
    return Filters::parse(query_value("filters"), allowed);
}

std::string Request::read_all_body() const {
    if (!body_stream) return body;
    std::string out;
    while (auto chunk = body_stream->pop()) out += *chunk;
    return out;
}

Response Response::json(int status, const Json& body) {
    Response r;
    r.status = status;
    r.body = to_line(body) + "\n";
    return r;
}

Response Response::text(int status, std::string body, std::string content_type) {
    Response r;
    r.status = status;
    r.content_type = std::move(content_type);
    r.body = std::move(body);
    return r;
}

Response Response::no_content(int status) {
    Response r;
    r.status = status;
    r.content_type.clear();
    return r;
}

Json error_body(const std::string& message) { return Json{{"message", message}}; }

Response Response::error(const Error& error) {
    int status = http_status(error.code);
    if (status == 304) return no_content(304);
    return json(status, error_body(error.message));
}

Response Response::streaming(std::string content_type, std::function<void(std::shared_ptr<ByteQueue>)> producer) {
    Response r;
    r.content_type = std::move(content_type);
    r.stream = std::move(producer);
    return r;
}

int http_status(Errc code) {
    switch (code) {
        case Errc::InvalidArgument: return 400;
        case Errc::Unauthorized: return 401;
        case Errc::Forbidden: return 403;
        case Errc::NotFound: return 404;
        case Errc::AlreadyExists:
        case Errc::Conflict: return 409;
        case Errc::NotModified: return 304;
        case Errc::TooLarge: return 413;
        case Errc::NotImplemented: return 501;
        case Errc::Unavailable: return 503;
        default: return 500;
    }
}

bool JsonStream::write(const Json& message) {
    bool ok = out_->push(to_line(message) + "\r\n");
    if (on_write_) on_write_();
    return ok;
}

bool JsonStream::write_error(const std::string& message) {
    return write(Json{{"errorDetail", {{"message", message}}}, {"error", message}});
}

}  // namespace ctl::api
