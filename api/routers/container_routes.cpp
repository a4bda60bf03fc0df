#include "api/routers/container_routes.hpp"

#include "engine/base/util.hpp"

namespace ctl::api {

namespace {

const std::set<std::string> kListFilters = {"id", "name", "label", "status", "ancestor", "exited", "health",
                                            "before", "since", "volume", "network", "is-task", "publish", "expose"};
const std::set<std::string> kPruneFilters = {"until", "label", "label!"};

template <typename T>
Response json_or_error(const Result<T>& r, int status = 200) {
    return r ? Response::json(status, *r) : Response::error(r.error());
}

Response status_or_error(const Status& st, int status = 204) {
    return st ? Response::no_content(status) : Response::error(st.error());
}

// The request's JSON body, where an empty body or `null` means {} (clients send either).
Result<Json> optional_body(const Request& req) {
    if (trim(req.body).empty()) return Json::object();
    CTL_ASSIGN_OR_RETURN(auto body, req.json_body());
    if (body.is_null()) return Json::object();
    if (!body.is_object()) return make_error(Errc::InvalidArgument, "request body must be a JSON object");
    return body;
}

// Docker's `since`/`until` for logs: unix seconds (with fraction) or RFC 3339.
Result<int64_t> log_time(const Request& req, const std::string& key) {
    std::string v = req.query_value(key);
    if (v.empty() || v == "0") return int64_t{0};
    int64_t ns = parse_timestamp(v);
    if (ns < 0) return make_error(Errc::InvalidArgument, "invalid value for \"" + key + "\": " + v);
    return ns;
}

Response logs(Request& req, ContainerBackend& backend) {
    LogsOptions options;
    options.stdout_stream = req.query_bool("stdout");
    options.stderr_stream = req.query_bool("stderr");
    if (!options.stdout_stream && !options.stderr_stream) {
        return Response::error(make_error(Errc::InvalidArgument, "Bad parameters: you must choose at least one stream"));
    }
    options.follow = req.query_bool("follow");
    options.timestamps = req.query_bool("timestamps");
    auto since = log_time(req, "since");
    if (!since) return Response::error(since.error());
    auto until = log_time(req, "until");
    if (!until) return Response::error(until.error());
    options.since_ns = *since;
    options.until_ns = *until;
    std::string tail = req.query_value("tail", "all");
    if (tail != "all" && !tail.empty()) {
        try {
            options.tail = std::stoll(tail);
        } catch (...) {
            options.tail = -1;  // Docker treats an unparsable tail as "all"
        }
    }
    std::string name = req.param("name");
    auto tty = backend.logs_tty(name);
    if (!tty) return Response::error(tty.error());
    std::string type = *tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.raw-stream";
    return Response::streaming(type, [&backend, name, options](std::shared_ptr<ByteQueue> out) {
        auto st = backend.logs(
            name, options, [&out](const std::string& bytes) { return out->push(bytes); },
            [&out] { return out->cancelled(); });
        (void)st;  // after the headers an error can only end the stream
        out->close();
    });
}

AttachOptions attach_options(const Request& req) {
    AttachOptions o;
    o.stream = req.query_bool("stream");
    o.logs = req.query_bool("logs");
    o.stdin_stream = req.query_bool("stdin");
    o.stdout_stream = req.query_bool("stdout");
    o.stderr_stream = req.query_bool("stderr");
    o.detach_keys = req.query_value("detachKeys");
    return o;
}

Response hijacked(std::string content_type, std::function<void(HijackedConnection)> run) {
    Response r;
    r.status = 200;
    r.content_type = std::move(content_type);
    r.hijack = std::move(run);
    return r;
}

Response stats(Request& req, ContainerBackend& backend) {
    std::string name = req.param("name");
    if (!req.query_bool("stream", true)) return json_or_error(backend.stats_once(name, req.query_bool("one-shot")));
    auto subscribe = backend.stats_stream(name);
    if (!subscribe) return Response::error(subscribe.error());
    // The engine's ticker writes into the queue from its own thread; this producer returns at once.
    return Response::streaming("application/json", [subscribe = std::move(*subscribe)](std::shared_ptr<ByteQueue> out) {
        subscribe(StatsWriter{[out](const std::string& line) {
                                  if (!out->push_nowait_if_room(line)) return !out->cancelled();
                                  return true;
                              },
                              [out] { return out->cancelled(); }, [out] { out->close(); }});
    });
}

Result<std::string> archive_path(const Request& req) {
    std::string path = req.query_value("path");
    if (path.empty()) return make_error(Errc::InvalidArgument, "Path cannot be empty");
    return path;
}

Response archive_head(Request& req, ContainerBackend& backend) {
    auto path = archive_path(req);
    if (!path) return Response::error(path.error());
    auto st = backend.archive_stat(req.param("name"), *path);
    if (!st) return Response::error(st.error());
    Response r = Response::no_content(200);
    r.headers.emplace_back("X-Docker-Container-Path-Stat", *st);
    return r;
}

Response archive_get(Request& req, ContainerBackend& backend) {
    auto path = archive_path(req);
    if (!path) return Response::error(path.error());
    std::string name = req.param("name");
    auto st = backend.archive_stat(name, *path);
    if (!st) return Response::error(st.error());
    Response r = lazy_raw_stream("application/x-tar", [&backend, name, path = *path](const auto& sink) {
        return backend.archive_get(name, path, sink);
    });
    if (r.status == 200) r.headers.emplace_back("X-Docker-Container-Path-Stat", *st);
    return r;
}

Response archive_put(Request& req, ContainerBackend& backend) {
    auto path = archive_path(req);
    if (!path) return Response::error(path.error());
    auto st = backend.archive_put(req.param("name"), *path, req.query_bool("noOverwriteDirNonDir"), body_reader(req));
    // Exactly 200: the Go client and docker-py treat any other success code as a failure.
    return st ? Response::no_content(200) : Response::error(st.error());
}

Response commit(Request& req, ContainerBackend& backend) {
    CommitOptions o;
    o.container = req.query_value("container");
    o.repo = req.query_value("repo");
    o.tag = req.query_value("tag");
    o.comment = req.query_value("comment");
    o.author = req.query_value("author");
    o.pause = !req.has_query("pause") || req.query_bool("pause");  // Docker pauses unless told not to
    // The CLI repeats `changes`; docker-py sends one string with a line per instruction.
    for (const auto& value : req.query_values("changes")) {
        for (auto& line : split(value, '\n')) {
            if (!trim(line).empty()) o.changes.push_back(line);
        }
    }
    auto body = optional_body(req);
    if (!body) return Response::error(body.error());
    o.config = body->empty() ? Json(nullptr) : *body;
    if (o.container.empty()) return Response::error(make_error(Errc::InvalidArgument, "No container specified"));
    return json_or_error(backend.commit_container(o), 201);
}

}  // namespace

void register_container_routes(Router& router, ContainerBackend& backend) {
    RouteOptions upload;
    upload.stream_body = true;

    router.add("POST", "/containers/create", [&backend](Request& req) {
        auto body = optional_body(req);
        if (!body) return Response::error(body.error());
        return json_or_error(backend.create_container(req.query_value("name"), *body), 201);
    });
    router.add("GET", "/containers/json", [&backend](Request& req) {
        auto filters = req.filters(kListFilters);
        if (!filters) return Response::error(filters.error());
        auto limit = req.query_int("limit");
        if (!limit) return Response::error(limit.error());
        return json_or_error(backend.list_containers(req.query_bool("all"), limit->value_or(-1), req.query_bool("size"),
                                                     *filters));
    });
    router.add("POST", "/containers/prune", [&backend](Request& req) {
        auto filters = req.filters(kPruneFilters);
        if (!filters) return Response::error(filters.error());
        return json_or_error(backend.prune_containers(*filters));
    });
    router.add("GET", "/containers/{name}/json", [&backend](Request& req) {
        return json_or_error(backend.inspect_container(req.param("name"), req.query_bool("size")));
    });
    router.add("POST", "/containers/{name}/start", [&backend](Request& req) {
        return status_or_error(backend.start_container(req.param("name")));
    });
    router.add("POST", "/containers/{name}/stop", [&backend](Request& req) {
        auto t = req.query_int("t");
        if (!t) return Response::error(t.error());
        return status_or_error(backend.stop_container(req.param("name"), *t, req.query_value("signal")));
    });
    router.add("POST", "/containers/{name}/restart", [&backend](Request& req) {
        auto t = req.query_int("t");
        if (!t) return Response::error(t.error());
        return status_or_error(backend.restart_container(req.param("name"), *t));
    });
    router.add("POST", "/containers/{name}/kill", [&backend](Request& req) {
        return status_or_error(backend.kill_container(req.param("name"), req.query_value("signal", "SIGKILL")));
    });
    router.add("POST", "/containers/{name}/pause", [&backend](Request& req) {
        return status_or_error(backend.pause_container(req.param("name")));
    });
    router.add("POST", "/containers/{name}/unpause", [&backend](Request& req) {
        return status_or_error(backend.unpause_container(req.param("name")));
    });
    router.add("POST", "/containers/{name}/wait", [&backend](Request& req) {
        std::string condition = req.query_value("condition", "not-running");
        auto waiter = backend.wait_container(req.param("name"), condition.empty() ? "not-running" : condition);
        if (!waiter) return Response::error(waiter.error());
        // Headers go out now (the CLI starts the container only once it has them); the body
        // follows when the condition is met.
        return Response::streaming("application/json", [waiter = std::move(*waiter)](std::shared_ptr<ByteQueue> out) {
            Json result = waiter([&out] { return out->cancelled(); });
            if (!out->cancelled()) out->push(to_line(result) + "\n");
            out->close();
        });
    });
    router.add("DELETE", "/containers/{name}", [&backend](Request& req) {
        return status_or_error(backend.remove_container(req.param("name"), req.query_bool("force"), req.query_bool("v")));
    });
    router.add("POST", "/containers/{name}/rename", [&backend](Request& req) {
        return status_or_error(backend.rename_container(req.param("name"), req.query_value("name")));
    });
    router.add("POST", "/containers/{name}/resize", [&backend](Request& req) {
        auto h = req.query_int("h");
        auto w = req.query_int("w");
        if (!h || !w) return Response::error(make_error(Errc::InvalidArgument, "h and w must be integers"));
        auto st = backend.resize_container(req.param("name"), static_cast<int>(h->value_or(0)),
                                           static_cast<int>(w->value_or(0)));
        return st ? Response::json(200, Json::object()) : Response::error(st.error());
    });
    router.add("GET", "/containers/{name}/top", [&backend](Request& req) {
        return json_or_error(backend.top_container(req.param("name"), req.query_value("ps_args", "-ef")));
    });
    router.add("GET", "/containers/{name}/logs", [&backend](Request& req) { return logs(req, backend); });
    router.add("GET", "/containers/{name}/stats", [&backend](Request& req) { return stats(req, backend); });
    router.add("HEAD", "/containers/{name}/archive", [&backend](Request& req) { return archive_head(req, backend); });
    router.add("GET", "/containers/{name}/archive", [&backend](Request& req) { return archive_get(req, backend); });
    router.add("PUT", "/containers/{name}/archive", [&backend](Request& req) { return archive_put(req, backend); }, upload);
    router.add("GET", "/containers/{name}/export", [&backend](Request& req) {
        std::string name = req.param("name");
        if (auto st = backend.export_check(name); !st) return Response::error(st.error());
        return lazy_raw_stream("application/x-tar", [&backend, name](const auto& sink) {
            return backend.export_container(name, sink);
        });
    });
    router.add("GET", "/containers/{name}/changes", [&backend](Request& req) {
        return json_or_error(backend.container_changes(req.param("name")));
    });
    router.add("POST", "/commit", [&backend](Request& req) { return commit(req, backend); });
    router.add("POST", "/containers/{name}/attach", [&backend](Request& req) {
        std::string name = req.param("name");
        auto tty = backend.attach_check(name);
        if (!tty) return Response::error(tty.error());
        auto options = attach_options(req);
        return hijacked(*tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream",
                        [&backend, name, options](HijackedConnection conn) { backend.attach(name, options, std::move(conn)); });
    });

    router.add("POST", "/containers/{name}/exec", [&backend](Request& req) {
        auto body = optional_body(req);
        if (!body) return Response::error(body.error());
        return json_or_error(backend.create_exec(req.param("name"), *body), 201);
    });
    router.add("POST", "/exec/{id}/start", [&backend](Request& req) {
        auto body = optional_body(req);
        if (!body) return Response::error(body.error());
        std::string id = req.param("id");
        if (bool_or(*body, "Detach", false)) {
            auto st = backend.start_exec_detached(id, *body);
            return st ? Response::json(200, Json::object()) : Response::error(st.error());
        }
        auto tty = backend.exec_check(id, *body);
        if (!tty) return Response::error(tty.error());
        return hijacked(*tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream",
                        [&backend, id, body = *body](HijackedConnection conn) {
                            backend.start_exec_attached(id, body, std::move(conn));
                        });
    });
    router.add("GET", "/exec/{id}/json", [&backend](Request& req) { return json_or_error(backend.inspect_exec(req.param("id"))); });
    router.add("POST", "/exec/{id}/resize", [&backend](Request& req) {
        auto h = req.query_int("h");
        auto w = req.query_int("w");
        if (!h || !w) return Response::error(make_error(Errc::InvalidArgument, "h and w must be integers"));
        auto st = backend.resize_exec(req.param("id"), static_cast<int>(h->value_or(0)), static_cast<int>(w->value_or(0)));
        return st ? Response::json(200, Json::object()) : Response::error(st.error());
    });
}

}  // namespace ctl::api
