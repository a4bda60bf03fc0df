#include <doctest/doctest.h>

#include "client/cli.hpp"
#include "client/format.hpp"
#include "client/http_client.hpp"

using namespace ctl;
using namespace ctl::client;

TEST_SUITE("client") {
    TEST_CASE("format: field paths, json, index, join, missing values") {
        Json data = {{"Name", "/web"},
                     {"State", {{"Running", true}, {"Pid", 42}}},
                     {"Config", {{"Env", {"A=1", "B=2"}}, {"Labels", {{"com.x", "y"}}}}},
                     {"Size", 1.0}};
        auto render = [&](const char* t) { return *Template::parse(t)->render(data); };
        CHECK(render("{{.Name}}") == "/web");
        CHECK(render("{{.State.Running}} {{.State.Pid}}") == "true 42");
        CHECK(render("{{json .Config.Env}}") == R"(["A=1","B=2"])");
        CHECK(render("{{.Config.Env | json}}") == R"(["A=1","B=2"])");
        CHECK(render("{{index .Config.Labels \"com.x\"}}") == "y");
        CHECK(render("{{join .Config.Env \",\"}}") == "A=1,B=2");
        CHECK(render("{{.Config.Env}}") == "[A=1 B=2]");
        CHECK(render("{{.Config.Labels}}") == "map[com.x:y]");
        CHECK(render("{{.Nope}}") == "<no value>");
        CHECK(render("{{upper .Name}}") == "/WEB");
        CHECK(render("{{.Size}}") == "1");
        CHECK(render("a\\tb") == "a\tb");
    }

    TEST_CASE("format: parse errors") {
        auto bad = Template::parse("{{.Name");
        REQUIRE_FALSE(bad);
        CHECK(bad.error().message.rfind("template parsing error", 0) == 0);
        CHECK_FALSE(Template::parse("{{range .X}}{{end}}"));
        CHECK_FALSE(Template::parse("{{nosuchfunc .X}}"));
    }

    TEST_CASE("format: table header and alignment") {
        auto t = Template::parse("table {{.ID}}\t{{.CreatedAt}}\t{{.Name}}");
        REQUIRE(t);
        CHECK(t->is_table());
        CHECK(t->header() == "ID\tCREATED AT\tNAME");
        CHECK(t->header({{"ID", "IMAGE ID"}}) == "IMAGE ID\tCREATED AT\tNAME");
        std::string out = tabwrite({"A\tBB\tC", "AAAAAAAAAAAAA\tB\tC"});
        CHECK(out == "A               BB        C\nAAAAAAAAAAAAA   B         C\n");
    }

    TEST_CASE("filters flags become the engine's filters JSON") {
        CHECK(filters_json({"label=a=b", "label=c", "status=running"}) ==
              R"({"label":["a=b","c"],"status":["running"]})");
        CHECK(filters_json({}).empty());
    }

    TEST_CASE("host resolution: -H, then CTL_HOST, then the default socket") {
        CHECK(resolve_host("unix:///a.sock", "unix:///b.sock") == "unix:///a.sock");
        CHECK(resolve_host("", "unix:///b.sock") == "unix:///b.sock");
        CHECK(resolve_host("", nullptr) == "unix:///run/ctld.sock");
        CHECK(resolve_host("", "") == "unix:///run/ctld.sock");
    }

    TEST_CASE("line splitter handles lines split across chunks") {
        LineSplitter s;
        std::vector<std::string> lines;
        auto collect = [&](const std::string& l) { lines.push_back(l); return true; };
        s.feed("{\"a\":1}\r\n{\"b\"", 13, collect);
        s.feed(":2}\n", 4, collect);
        CHECK(lines == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"});
    }

    TEST_CASE("a missing engine gives the connection message") {
        HttpClient c("unix:///tmp/ctl-no-such-engine.sock", {});
        auto r = c.request("GET", "/v1.41/_ping");
        REQUIRE_FALSE(r);
        CHECK(r.error().message == "cannot connect to the engine at unix:///tmp/ctl-no-such-engine.sock: is ctld running?");
    }
}
