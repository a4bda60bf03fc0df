#include "api/routers/system_routes.hpp"

#include <chrono>
#include <thread>

#include "engine/base/util.hpp"

namespace ctl::api {

namespace {

Response ping(Request&) {
    Response r = Response::text(200, "OK");
    r.headers = {{"Builder-Version", "1"},
                 {"Cache-Control", "no-cache, no-store, must-revalidate"},
                 {"Pragma", "no-cache"},
                 {"Swarm", "inactive"}};
    return r;
}

// Parses `since`/`until` (Unix seconds with optional fraction, or RFC 3339); -1 when absent.
Result<int64_t> time_param(const Request& req, const std::string& key) {
    std::string v = req.query_value(key);
    if (v.empty()) return int64_t{-1};
    int64_t t = parse_timestamp(v);
    if (t < 0) return make_error(Errc::InvalidArgument, "invalid value for " + key + ": " + v);
    return t;
}

Response events_stream(Request& req, events::EventBus& bus) {
    auto filters = req.filters(events::filter_keys());
    if (!filters) return Response::error(filters.error());
    auto since = time_param(req, "since");
    if (!since) return Response::error(since.error());
    auto until = time_param(req, "until");
    if (!until) return Response::error(until.error());
    int64_t since_ns = *since, until_ns = *until;
    if (until_ns >= 0 && since_ns < 0) since_ns = -1;  // `until` alone: only future events up to it

    return Response::streaming("application/json", [&bus, f = std::move(*filters), since_ns,
                                                    until_ns](std::shared_ptr<ByteQueue> out) {
        auto deliver = [out, f](const events::Event& e) {
            if (!events::matches(e, f)) return !out->cancelled();
            return out->push_nowait(to_line(events::to_json(e)) + "\n");
        };
        int64_t now = now_unix_nanos();
        if (until_ns >= 0 && until_ns <= now) {
            // Entirely in the past: replay and end.
            for (const auto& e : bus.history(since_ns < 0 ? now : since_ns, until_ns)) {
                if (!deliver(e)) break;
            }
            out->close();
            return;
        }
        uint64_t id = bus.subscribe(since_ns, until_ns, [deliver, until_ns](const events::Event& e) {
            if (until_ns >= 0 && e.time_nano > until_ns) return false;
            return deliver(e);
        });
        out->on_cancel([&bus, id] { bus.unsubscribe(id); });
        if (until_ns < 0) return;  // open-ended: the subscription feeds the stream until the client leaves
        // Bounded by `until`: this worker waits for the deadline (or the client leaving).
        while (!out->cancelled() && now_unix_nanos() < until_ns) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        bus.unsubscribe(id);
        out->close();
    });
}

}  // namespace

void register_system_routes(Router& router, SystemBackend& backend) {
    router.add("GET", "/_ping", ping);
    router.add("GET", "/version", [&backend](Request&) { return Response::json(backend.version()); });
    router.add("GET", "/info", [&backend](Request&) { return Response::json(backend.info()); });
    router.add("GET", "/system/df", [&backend](Request&) {
        auto df = backend.disk_usage();
        return df ? Response::json(*df) : Response::error(df.error());
    });
    router.add("GET", "/events", [&backend](Request& req) { return events_stream(req, backend.events()); });
}

}  // namespace ctl::api
