// Route table: {method, pattern, handler} with `{name}` captures. A capture written `{name*}`
// takes one or more segments, so image names with `/` and `:` (`/images/{name*}/json`) work;
// literal segments after it are matched from the right.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/http.hpp"

namespace ctl::api {

// Handlers run on a worker thread: they may block (disk, runtime CLI) but should hand
// long-lived streams to async producers (see Response::stream).
using Handler = std::function<Response(Request&)>;

struct RouteOptions {
    size_t body_limit = 16u << 20;  // bytes of a buffered body; larger -> 413
    bool stream_body = false;       // body arrives through Request::body_stream, no size limit
};

class Router {
public:
    void add(std::string method, std::string pattern, Handler handler, RouteOptions options = {});

    struct Match {
        const Handler* handler = nullptr;
        const RouteOptions* options = nullptr;
        std::map<std::string, std::string> params;
        bool path_known = false;  // some route has this path with another method
    };
    Match match(const std::string& method, const std::string& path) const;

private:
    struct Route {
        std::string method;
        std::vector<std::string> segments;
        Handler handler;
        RouteOptions options;
    };
    std::vector<Route> routes_;
};

// Splits "/v1.41/containers/json" into ("1.41", "/containers/json"); unversioned paths get
// kApiVersion. Errors are InvalidArgument with Docker's wording for too-new/too-old versions.
Result<std::pair<std::string, std::string>> strip_api_version(const std::string& path);

}  // namespace ctl::api
