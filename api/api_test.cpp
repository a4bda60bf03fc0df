#include <doctest/doctest.h>

#include <thread>

#include "api/http.hpp"
#include "api/router.hpp"

using namespace ctl;
using namespace ctl::api;

TEST_SUITE("api") {
    TEST_CASE("version prefixes: accepted range, too new, too old, unversioned") {
        auto v = strip_api_version("/v1.41/containers/json");
        REQUIRE(v);
        CHECK(v->first == "1.41");
        CHECK(v->second == "/containers/json");
        CHECK(strip_api_version("/v1.24/version")->second == "/version");
        CHECK(strip_api_version("/_ping")->first == "1.41");
        auto too_new = strip_api_version("/v1.50/version");
        REQUIRE_FALSE(too_new);
        CHECK(too_new.error().message == "client version 1.50 is too new. Maximum supported API version is 1.41");
        CHECK_FALSE(strip_api_version("/v1.11/version"));
        CHECK(strip_api_version("/v1.41")->second == "/");
    }

    TEST_CASE("router: captures, greedy image names, literal routes first, methods") {
        Router r;
        int hit = 0;
        r.add("GET", "/containers/json", [&](Request&) { hit = 1; return Response::no_content(); });
        r.add("GET", "/containers/{id}/json", [&](Request&) { hit = 2; return Response::no_content(); });
        r.add("GET", "/images/{name*}/json", [&](Request&) { hit = 3; return Response::no_content(); });
        r.add("POST", "/images/{name*}/tag", [&](Request&) { hit = 4; return Response::no_content(); });
        r.add("DELETE", "/images/{name*}", [&](Request&) { hit = 5; return Response::no_content(); });

        auto m = r.match("GET", "/containers/json");
        REQUIRE(m.handler);
        Request req;
        (*m.handler)(req);
        CHECK(hit == 1);

        m = r.match("GET", "/containers/abc/json");
        REQUIRE(m.handler);
        CHECK(m.params["id"] == "abc");

        m = r.match("GET", "/images/localhost:5000/foo/bar:1.0/json");
        REQUIRE(m.handler);
        CHECK(m.params["name"] == "localhost:5000/foo/bar:1.0");

        m = r.match("POST", "/images/foo/bar/tag");
        REQUIRE(m.handler);
        CHECK(m.params["name"] == "foo/bar");

        m = r.match("DELETE", "/images/foo/bar:latest");
        REQUIRE(m.handler);
        CHECK(m.params["name"] == "foo/bar:latest");

        m = r.match("HEAD", "/containers/json");
        CHECK(m.handler);

        m = r.match("POST", "/containers/json");
        CHECK_FALSE(m.handler);
        CHECK(m.path_known);

        m = r.match("GET", "/nope");
        CHECK_FALSE(m.handler);
        CHECK_FALSE(m.path_known);
    }

    TEST_CASE("request helpers: booleans, ints, filters") {
        Request req;
        req.query = parse_query_string("all=True&force=False&limit=-1&bad=x&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D");
        CHECK(req.query_bool("all"));
        CHECK_FALSE(req.query_bool("force"));
        CHECK(req.query_bool("stream", true));
        CHECK(**req.query_int("limit") == -1);
        CHECK_FALSE(req.query_int("bad"));
        auto f = req.filters({"label"});
        REQUIRE(f);
        CHECK(f->get("label").size() == 1);
    }

    TEST_CASE("errors map to statuses once, with a JSON message") {
        CHECK(http_status(Errc::NotFound) == 404);
        CHECK(http_status(Errc::Conflict) == 409);
        CHECK(http_status(Errc::AlreadyExists) == 409);
        CHECK(http_status(Errc::InvalidArgument) == 400);
        CHECK(http_status(Errc::TooLarge) == 413);
        CHECK(http_status(Errc::Internal) == 500);
        auto r = Response::error(make_error(Errc::NotFound, "No such image: x:latest"));
        CHECK(r.status == 404);
        CHECK(Json::parse(r.body)["message"] == "No such image: x:latest");
        CHECK(Response::error(make_error(Errc::NotModified, "")).body.empty());
    }

    TEST_CASE("json stream error lines carry error and errorDetail") {
        auto q = std::make_shared<ByteQueue>();
        JsonStream s(q);
        s.write({{"status", "Pulling"}});
        s.write_error("boom");
        s.close();
        auto first = q->pop();
        auto second = q->pop();
        REQUIRE(second);
        auto j = Json::parse(*second);
        CHECK(j["error"] == "boom");
        CHECK(j["errorDetail"]["message"] == "boom");
        CHECK_FALSE(q->pop());
    }

    TEST_CASE("byte queue: back-pressure and cancellation") {
        auto q = std::make_shared<ByteQueue>(4);
        CHECK(q->push("abcd"));
        CHECK_FALSE(q->push_nowait_if_room("x"));
        std::thread consumer([&] {
            std::string all;
            while (auto c = q->pop()) all += *c;
            CHECK(all == "abcdefgh");
        });
        CHECK(q->push("efgh"));  // blocks until the consumer made room
        q->close();
        consumer.join();
        auto q2 = std::make_shared<ByteQueue>(4);
        bool cancelled_hook = false;
        q2->on_cancel([&] { cancelled_hook = true; });
        q2->cancel();
        CHECK(cancelled_hook);
        CHECK_FALSE(q2->push("x"));
    }
}
