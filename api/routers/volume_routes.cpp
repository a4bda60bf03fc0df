#include "api/routers/volume_routes.hpp"

namespace ctl::api {

namespace {

const std::set<std::string> kListFilters = {"name", "label", "dangling", "driver"};
// `all` is API 1.42's "named volumes too"; under 1.41 prune always takes every unused volume.
const std::set<std::string> kPruneFilters = {"label", "label!", "all"};

template <typename T>
Response json_or_error(const Result<T>& r, int status = 200) {
    return r ? Response::json(status, *r) : Response::error(r.error());
}

}  // namespace

Result<VolumeCreateRequest> parse_volume_create(const Json& body) {
    if (!body.is_object()) return make_error(Errc::InvalidArgument, "invalid JSON: volume create expects an object");
    VolumeCreateRequest req;
    CTL_ASSIGN_OR_RETURN(auto name, get_string(body, "Name"));
    CTL_ASSIGN_OR_RETURN(auto driver, get_string(body, "Driver"));
    CTL_ASSIGN_OR_RETURN(auto opts, get_string_map(body, "DriverOpts"));
    CTL_ASSIGN_OR_RETURN(auto labels, get_string_map(body, "Labels"));
    req.name = name.value_or("");
    req.driver = driver.value_or("");
    if (opts) req.driver_opts = std::move(*opts);
    if (labels) req.labels = std::move(*labels);
    return req;
}

void register_volume_routes(Router& router, VolumeBackend& backend) {
    router.add("GET", "/volumes", [&backend](Request& req) {
        auto filters = req.filters(kListFilters);
        if (!filters) return Response::error(filters.error());
        return json_or_error(backend.list_volumes(*filters));
    });
    router.add("POST", "/volumes/create", [&backend](Request& req) {
        auto body = req.json_body();
        if (!body) return Response::error(body.error());
        auto parsed = parse_volume_create(*body);
        if (!parsed) return Response::error(parsed.error());
        return json_or_error(backend.create_volume(*parsed), 201);
    });
    router.add("POST", "/volumes/prune", [&backend](Request& req) {
        auto filters = req.filters(kPruneFilters);
        if (!filters) return Response::error(filters.error());
        return json_or_error(backend.prune_volumes(*filters));
    });
    router.add("GET", "/volumes/{name}", [&backend](Request& req) {
        return json_or_error(backend.inspect_volume(req.param("name")));
    });
    router.add("DELETE", "/volumes/{name}", [&backend](Request& req) {
        auto st = backend.remove_volume(req.param("name"), req.query_bool("force"));
        return st ? Response::no_content(204) : Response::error(st.error());
    });
}

}  // namespace ctl::api
