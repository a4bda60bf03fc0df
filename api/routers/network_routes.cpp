#include "api/routers/network_routes.hpp"

namespace ctl::api {

namespace {

const std::set<std::string> kListFilters = {"driver", "id", "label", "name", "scope", "type", "dangling"};
const std::set<std::string> kPruneFilters = {"label", "label!", "until"};

Response json_or_error(const Result<Json>& r, int status = 200) {
    return r ? Response::json(status, *r) : Response::error(r.error());
}

}  // namespace

void register_network_routes(Router& router, NetworkBackend& backend) {
    router.add("GET", "/networks", [&backend](Request& req) {
        auto filters = req.filters(kListFilters);
        if (!filters) return Response::error(filters.error());
        return json_or_error(backend.list_networks(*filters));
    });
    router.add("POST", "/networks/create", [&backend](Request& req) {
        auto body = req.json_body();
        if (!body) return Response::error(body.error());
        return json_or_error(backend.create_network(*body), 201);
    });
    router.add("POST", "/networks/prune", [&backend](Request& req) {
        auto filters = req.filters(kPruneFilters);
        if (!filters) return Response::error(filters.error());
        return json_or_error(backend.prune_networks(*filters));
    });
    router.add("GET", "/networks/{name}", [&backend](Request& req) {
        return json_or_error(backend.inspect_network(req.param("name")));
    });
    router.add("DELETE", "/networks/{name}", [&backend](Request& req) {
        auto st = backend.remove_network(req.param("name"));
        return st ? Response::no_content(204) : Response::error(st.error());
    });
    router.add("POST", "/networks/{name}/connect", [&backend](Request& req) {
        auto body = req.json_body();
        if (!body) return Response::error(body.error());
        auto st = backend.connect_container(req.param("name"), *body);
        return st ? Response::json(200, Json::object()) : Response::error(st.error());
    });
    router.add("POST", "/networks/{name}/disconnect", [&backend](Request& req) {
        auto body = req.json_body();
        if (!body) return Response::error(body.error());
        auto st = backend.disconnect_container(req.param("name"), *body);
        return st ? Response::json(200, Json::object()) : Response::error(st.error());
    });
}

}  // namespace ctl::api
