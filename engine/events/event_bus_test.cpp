#include <doctest/doctest.h>

#include "engine/events/event_bus.hpp"

using namespace ctl;
using namespace ctl::events;

TEST_SUITE("events") {
    TEST_CASE("publish reaches subscribers; false unsubscribes") {
        EventBus bus;
        int seen = 0;
        bus.subscribe(-1, -1, [&](const Event&) { return ++seen < 2; });
        bus.publish({"container", "start", "abc", {}});
        bus.publish({"container", "die", "abc", {}});
        bus.publish({"container", "destroy", "abc", {}});
        CHECK(seen == 2);
        CHECK(bus.listeners() == 0);
    }

    TEST_CASE("since replays the backlog before live events") {
        EventBus bus;
        bus.publish({"image", "pull", "busybox:latest", {}, "local", 100});
        bus.publish({"image", "tag", "busybox:latest", {}, "local", 200});
        std::vector<std::string> got;
        bus.subscribe(150, -1, [&](const Event& e) { got.push_back(e.action); return true; });
        bus.publish({"image", "delete", "x", {}, "local", 300});
        CHECK(got == std::vector<std::string>{"tag", "delete"});
    }

    TEST_CASE("json shape has the legacy fields for containers") {
        Event e{"container", "start", "abc", {{"image", "busybox"}, {"name", "web"}}, "local", 1700000000123456789};
        Json j = to_json(e);
        CHECK(j["status"] == "start");
        CHECK(j["id"] == "abc");
        CHECK(j["from"] == "busybox");
        CHECK(j["time"] == 1700000000);
        CHECK(j["timeNano"] == 1700000000123456789);
        CHECK(j["Actor"]["Attributes"]["name"] == "web");
    }

    TEST_CASE("filters: type, event, container by name, labels") {
        Event e{"container", "health_status: healthy", "abcdef", {{"name", "web"}, {"com.x", "1"}}};
        auto f = [](const char* text) { return *Filters::parse(text, filter_keys()); };
        CHECK(matches(e, f(R"({"type":["container"]})")));
        CHECK_FALSE(matches(e, f(R"({"type":["image"]})")));
        CHECK(matches(e, f(R"({"event":["health_status"]})")));
        CHECK(matches(e, f(R"({"container":["web"]})")));
        CHECK(matches(e, f(R"({"container":["abc"]})")));
        CHECK_FALSE(matches(e, f(R"({"container":["db"]})")));
        CHECK(matches(e, f(R"({"label":["com.x=1"]})")));
        CHECK_FALSE(matches(e, f(R"({"label":["com.x=2"]})")));
    }
}
