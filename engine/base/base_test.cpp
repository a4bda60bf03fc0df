#include <doctest/doctest.h>

#include "engine/base/digest.hpp"
#include "engine/base/json.hpp"
#include "engine/base/query.hpp"
#include "engine/base/util.hpp"

using namespace ctl;

TEST_SUITE("base") {
    TEST_CASE("query booleans follow moby's rule") {
        for (auto t : {"1", "true", "True", "yes", "x", " TRUE "}) CHECK(parse_query_bool(t));
        for (auto f : {"", "0", "false", "False", "FALSE", "no", "none", " None "}) CHECK_FALSE(parse_query_bool(f));
    }

    TEST_CASE("query strings decode and keep repeated keys") {
        auto q = parse_query_string("t=a&t=b%3A1&all=True&x=a+b&empty=");
        CHECK(q.count("t") == 2);
        auto range = q.equal_range("t");
        std::vector<std::string> ts;
        for (auto it = range.first; it != range.second; ++it) ts.push_back(it->second);
        CHECK(ts == std::vector<std::string>{"a", "b:1"});
        CHECK(q.find("x")->second == "a b");
        CHECK(q.find("empty")->second.empty());
    }

    TEST_CASE("json: keys case-insensitive, null is absent at any depth, unknown ignored") {
        auto doc = parse_json_body(R"({"image":"busy","HostConfig":{"Memory":null,"Binds":["a:/b"]},"Extra":1})");
        REQUIRE(doc);
        CHECK(string_or(*doc, "Image") == "busy");
        const Json* hc = find_ci(*doc, "hostconfig");
        REQUIRE(hc);
        CHECK(find_ci(*hc, "Memory") == nullptr);
        CHECK_FALSE(hc->contains("Memory"));
        auto binds = get_string_list(*hc, "Binds");
        REQUIRE(binds);
        CHECK((*binds)->at(0) == "a:/b");
    }

    TEST_CASE("json: exact key wins over a case-insensitive one") {
        auto doc = parse_json_body(R"({"name":"lower","Name":"exact"})");
        REQUIRE(doc);
        CHECK(string_or(*doc, "Name") == "exact");
    }

    TEST_CASE("json: empty and null bodies are empty objects; garbage is InvalidArgument") {
        CHECK(parse_json_body("")->is_object());
        CHECK(parse_json_body("  null ")->is_object());
        auto bad = parse_json_body("{nope");
        REQUIRE_FALSE(bad);
        CHECK(bad.error().code == Errc::InvalidArgument);
    }

    TEST_CASE("json: typed getters reject wrong types") {
        auto doc = parse_json_body(R"({"Tty":"yes","Cmd":"echo hi","Count":3})");
        CHECK_FALSE(get_bool(*doc, "Tty"));
        CHECK((*get_string_list(*doc, "Cmd"))->size() == 1);
        CHECK(**get_int(*doc, "count") == 3);
    }

    TEST_CASE("filters: list and legacy map forms, label AND, unknown keys refused") {
        auto f = Filters::parse(R"({"label":["a=b","c"],"status":["exited","running"]})", {"label", "status"});
        REQUIRE(f);
        CHECK(f->match_any("status", "running"));
        CHECK_FALSE(f->match_any("status", "paused"));
        CHECK(f->match_labels({{"a", "b"}, {"c", "x"}}));
        CHECK_FALSE(f->match_labels({{"a", "b"}}));
        CHECK_FALSE(f->match_labels({{"a", "z"}, {"c", ""}}));
        auto legacy = Filters::parse(R"({"label":{"a=b":true}})", {});
        REQUIRE(legacy);
        CHECK(legacy->get("label") == std::vector<std::string>{"a=b"});
        auto bad = Filters::parse(R"({"xyz":["1"]})", {"label"});
        REQUIRE_FALSE(bad);
        CHECK(bad.error().message == "invalid filter 'xyz'");
        CHECK(Filters::parse("{}", {"label"})->empty());
    }

    TEST_CASE("sha256 digests") {
        CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        Sha256 h;
        h.update("ab");
        h.update("c");
        CHECK(h.digest() == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        CHECK(validate_digest("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        CHECK_FALSE(validate_digest("sha256:xyz"));
        CHECK_FALSE(validate_digest("md5:abc"));
    }

    TEST_CASE("times") {
        CHECK(rfc3339_nano(1700000000LL * 1000000000 + 123456789) == "2023-11-14T22:13:20.123456789Z");
        CHECK(rfc3339_nano(1700000000LL * 1000000000) == "2023-11-14T22:13:20Z");
        CHECK(parse_timestamp("1700000000.5") == 1700000000LL * 1000000000 + 500000000);
        CHECK(parse_timestamp("2023-11-14T22:13:20.123456789Z") == 1700000000LL * 1000000000 + 123456789);
        CHECK(parse_timestamp("junk") == -1);
    }

    TEST_CASE("ids and sizes") {
        auto id = random_hex_id();
        CHECK(is_hex64(id));
        CHECK(id != random_hex_id());
        CHECK(human_size(512) == "512B");
        CHECK(human_size(1230000) == "1.23MB");
        CHECK(human_duration(5) == "5 seconds");
        CHECK(human_duration(120) == "2 minutes");
    }
}
