#include "api/routers/image_routes.hpp"

#include "engine/base/util.hpp"

namespace ctl::api {

namespace {

const std::set<std::string> kImageFilters = {"reference", "dangling", "label", "before", "since"};
const std::set<std::string> kPruneFilters = {"dangling", "until", "label", "label!"};

template <typename T>
Response json_or_error(const Result<T>& r, int status = 200) {
    return r ? Response::json(status, *r) : Response::error(r.error());
}

ProgressFn progress_to(JsonStream& stream) {
    return [&stream](const Json& message) { return stream.write(message); };
}

// POST /images/create: pull (fromImage) or import (fromSrc).
Response create_image(Request& req, ImageBackend& backend) {
    std::string from_src = req.query_value("fromSrc");
    if (!from_src.empty()) {
        if (from_src != "-") {
            return Response::error(make_error(Errc::NotImplemented, "importing from a URL is not supported; use fromSrc=-"));
        }
        std::string repo = req.query_value("repo");
        std::string tag = req.query_value("tag");
        std::string repo_tag = repo.empty() ? "" : repo + (tag.empty() ? "" : ":" + tag);
        auto changes = req.query_values("changes");
        std::string message = req.query_value("message");
        ReadFn body = body_reader(req);
        return lazy_json_stream([&backend, body, repo_tag, changes, message](JsonStream& out) -> Status {
            auto id = backend.import_image(body, repo_tag, changes, message, progress_to(out));
            return id ? ok() : Status(id.error());
        });
    }
    std::string image = req.query_value("fromImage");
    if (image.empty()) return Response::error(make_error(Errc::InvalidArgument, "fromImage or fromSrc is required"));
    std::string tag = req.query_value("tag");
    if (!tag.empty()) {
        // `tag` may be a tag or a digest; fromImage may already carry either.
        bool has_digest = image.find('@') != std::string::npos;
        auto slash = image.rfind('/');
        bool has_tag = image.find(':', slash == std::string::npos ? 0 : slash) != std::string::npos;
        if (!has_digest && !has_tag) image += (starts_with(tag, "sha256:") ? "@" : ":") + tag;
    }
    std::string platform = req.query_value("platform");
    std::string auth = req.header("X-Registry-Auth");
    return lazy_json_stream([&backend, image, platform, auth](JsonStream& out) -> Status {
        return backend.pull_image(image, platform, auth, progress_to(out));
    });
}

Response push_image(Request& req, ImageBackend& backend) {
    std::string name = req.param("name");
    std::string tag = req.query_value("tag");
    if (!tag.empty()) name += ":" + tag;
    std::string auth = req.header("X-Registry-Auth");
    return lazy_json_stream([&backend, name, auth](JsonStream& out) -> Status {
        return backend.push_image(name, auth, progress_to(out));
    });
}

Response save_images(std::vector<std::string> names, ImageBackend& backend) {
    if (names.empty()) return Response::error(make_error(Errc::InvalidArgument, "no image names given"));
    for (const auto& n : names) {
        auto found = backend.inspect_image(n);
        if (!found) return Response::error(found.error());
    }
    return lazy_raw_stream("application/x-tar", [&backend, names](const SinkFn& sink) {
        return backend.save_images(names, sink);
    });
}

}  // namespace

void register_image_routes(Router& router, ImageBackend& backend) {
    RouteOptions upload;
    upload.stream_body = true;

    router.add("GET", "/images/json", [&backend](Request& req) {
        auto filters = req.filters(kImageFilters);
        if (!filters) return Response::error(filters.error());
        // API < 1.25 clients send a bare name as `filter`.
        if (req.has_query("filter") && !req.query_value("filter").empty()) filters->add("reference", req.query_value("filter"));
        return json_or_error(backend.list_images(*filters));
    });
    router.add("POST", "/images/create", [&backend](Request& req) { return create_image(req, backend); }, upload);
    router.add("POST", "/images/load", [&backend](Request& req) {
        bool quiet = req.query_bool("quiet", true);
        ReadFn body = body_reader(req);
        return lazy_json_stream([&backend, body, quiet](JsonStream& out) -> Status {
            return backend.load_images(body, quiet, progress_to(out));
        });
    }, upload);
    router.add("GET", "/images/get", [&backend](Request& req) { return save_images(req.query_values("names"), backend); });
    router.add("POST", "/images/prune", [&backend](Request& req) {
        auto filters = req.filters(kPruneFilters);
        if (!filters) return Response::error(filters.error());
        return json_or_error(backend.prune_images(*filters));
    });
    router.add("GET", "/images/search", [](Request&) {
        return Response::error(make_error(Errc::NotImplemented, "image search is not supported"));
    });
    router.add("GET", "/images/{name*}/json", [&backend](Request& req) {
        return json_or_error(backend.inspect_image(req.param("name")));
    });
    router.add("GET", "/images/{name*}/history", [&backend](Request& req) {
        return json_or_error(backend.image_history(req.param("name")));
    });
    router.add("GET", "/images/{name*}/get", [&backend](Request& req) { return save_images({req.param("name")}, backend); });
    router.add("POST", "/images/{name*}/tag", [&backend](Request& req) {
        std::string repo = req.query_value("repo");
        if (repo.empty()) return Response::error(make_error(Errc::InvalidArgument, "repository name (repo) is required"));
        auto st = backend.tag_image(req.param("name"), repo, req.query_value("tag"));
        return st ? Response::no_content(201) : Response::error(st.error());
    });
    router.add("POST", "/images/{name*}/push", [&backend](Request& req) { return push_image(req, backend); });
    router.add("DELETE", "/images/{name*}", [&backend](Request& req) {
        return json_or_error(backend.remove_image(req.param("name"), req.query_bool("force"), req.query_bool("noprune")));
    });
    router.add("POST", "/auth", [&backend](Request& req) {
        auto body = req.json_body();
        if (!body) return Response::error(body.error());
        return json_or_error(backend.login(*body));
    });
}

}  // namespace ctl::api
