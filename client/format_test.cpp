#include <doctest/doctest.h>

#include "client/display.hpp"
#include "client/format.hpp"

using namespace ctl;
using namespace ctl::client;

namespace {

const Json kData = {
    {"Name", "/web"},
    {"Id", "3f4e5a6b7c8d9e0f"},
    {"State", {{"Running", true}, {"Pid", 42}, {"Health", nullptr}, {"Status", "running"}}},
    {"Config", {{"Env", {"A=1", "B=2"}}, {"Labels", {{"com.x", "y"}, {"a", "<b&c>"}}}, {"Tty", false}}},
    {"Size", 1.0},
    {"Ratio", 0.25},
    {"Big", 1e21},
    {"Empty", Json::array()},
    {"status", "start"},
    {"timeNano", 1700000000123456789LL},
};

std::string render(std::string_view format, const Json& data = kData) {
    auto t = Template::parse(format);
    REQUIRE_MESSAGE(t, (t ? "" : t.error().message));
    auto out = t->render(data);
    REQUIRE_MESSAGE(out, (out ? "" : out.error().message));
    return *out;
}

std::string parse_error(std::string_view format) {
    auto t = Template::parse(format);
    REQUIRE_FALSE(t);
    CHECK(t.error().code == Errc::InvalidArgument);
    return t.error().message;
}

}  // namespace

TEST_SUITE("client.format") {
    TEST_CASE("field paths, nesting and Go's printing") {
        CHECK(render("{{.Name}}") == "/web");
        CHECK(render("{{.State.Running}} {{.State.Pid}}") == "true 42");
        CHECK(render("{{.Config.Tty}}") == "false");
        CHECK(render("{{.Size}} {{.Ratio}} {{.Big}}") == "1 0.25 1e+21");
        CHECK(render("{{.timeNano}}") == "1700000000123456789");
        CHECK(render("{{.Config.Env}}") == "[A=1 B=2]");
        CHECK(render("{{.Config.Labels}}") == "map[a:<b&c> com.x:y]");
        CHECK(render("{{.Empty}}") == "[]");
        CHECK(render("{{.State.Health}}") == "<nil>");
        CHECK(render("{{.}}", Json{{"a", Json::array({1, "x", nullptr, Json{{"k", true}}})}}) == "map[a:[1 x <nil> map[k:true]]]");
        CHECK(render("{{$.Name}}") == "/web");
        CHECK(render("{{.}}", Json("plain")) == "plain");
    }

    TEST_CASE("missing fields print <no value>; keys also match case-insensitively") {
        CHECK(render("{{.Nope}}") == "<no value>");
        CHECK(render("{{.Nope.Deeper}}") == "<no value>");
        CHECK(render("{{.Name.Sub}}") == "<no value>");
        CHECK(render("{{.Status}} {{.TimeNano}}") == "start 1700000000123456789");
        CHECK(render("{{.state.running}}") == "true");
        // An exact match wins over a case-insensitive one.
        CHECK(render("{{.status}}/{{.State.Status}}") == "start/running");
    }

    TEST_CASE("functions") {
        CHECK(render("{{json .Config.Env}}") == R"(["A=1","B=2"])");
        CHECK(render("{{json .Config.Labels}}") == R"({"a":"<b&c>","com.x":"y"})");  // sorted, no HTML escaping
        CHECK(render("{{json .Nope}}") == "null");
        CHECK(render("{{.Config.Env | json}}") == R"(["A=1","B=2"])");
        CHECK(render("{{index .Config.Labels \"com.x\"}}") == "y");
        CHECK(render("{{index .Config.Labels \"missing\"}}") == "");
        CHECK(render("{{index .Config.Env 1}}") == "B=2");
        CHECK(render("{{join .Config.Env \",\"}}") == "A=1,B=2");
        CHECK(render("{{join .Nope \",\"}}") == "");
        CHECK(render("{{split \"a:b:c\" \":\"}}") == "[a b c]");
        CHECK(render("{{upper .Name}} {{lower \"AbC\"}} {{title \"hello big world\"}}") == "/WEB abc Hello Big World");
        CHECK(render("{{.Name | upper}}") == "/WEB");
        CHECK(render("[{{pad .Name 2 1}}]") == "[  /web ]");
        CHECK(render("{{truncate .Id 4}}") == "3f4e");
        CHECK(render("{{len .Config.Env}} {{len .Name}} {{len .Config.Labels}}") == "2 4 2");
        CHECK(render("{{print \"a\" \"b\" 1 2 \"c\"}}") == "ab1 2c");
        CHECK(render("{{println \"a\" 1}}") == "a 1\n");
        CHECK(render("{{println}}") == "\n");
        CHECK(render("{{printf \"%s-%d-%5s|%-4d|%q|%v|%05d\" .Name .State.Pid \"x\" 7 \"q\" .Config.Tty 42}}") ==
              "/web-42-    x|7   |\"q\"|false|00042");
        CHECK(render("{{printf \"%.2f\" .Ratio}}") == "0.25");
        CHECK(render("{{eq .State.Status \"running\"}} {{ne 1 2}} {{not .Config.Tty}}") == "true true true");
        CHECK(render("{{eq .State.Pid 1 42}} {{lt 1 2}} {{ge \"b\" \"a\"}}") == "true true true");
        CHECK(render("{{and .State.Running .Name}} {{or .Empty \"fallback\"}}") == "/web fallback");
        CHECK(render("{{json (index .Config.Labels \"com.x\")}}") == "\"y\"");
        CHECK(render("{{(index .Config.Env 0)}}") == "A=1");
        CHECK(render("{{upper (join .Config.Env \" \")}}") == "A=1 B=2");
    }

    TEST_CASE("text, escapes, literals, trim markers and comments") {
        CHECK(render("a\\tb\\nc") == "a\tb\nc");
        CHECK(render("  {{.Name}}  ") == "/web");  // docker trims the format
        CHECK(render("name={{.Name}};") == "name=/web;");
        CHECK(render("{{\"lit\"}} {{`raw\\n`}} {{42}} {{-7}} {{true}} {{1.5}}") == "lit raw\n 42 -7 true 1.5");  // "\n" was replaced first, as docker does
        CHECK(render("a  {{- .Name -}}  b") == "a/webb");
        CHECK(render("a {{/* a comment */}}b") == "a b");
        CHECK(render("a {{- /* trimmed */ -}} b") == "ab");
        CHECK(render("{{join .Config.Env \"}}\"}}") == "A=1}}B=2");
        CHECK(render("x{{.Name}}\\n{{.Id}}") == "x/web\n3f4e5a6b7c8d9e0f");
    }

    TEST_CASE("parse errors say template parsing error") {
        CHECK(parse_error("{{.Name") == "template parsing error: template: :1: unclosed action");
        CHECK(parse_error("{{nosuch .X}}") == "template parsing error: template: :1: function \"nosuch\" not defined");
        CHECK(parse_error("{{}}") == "template parsing error: template: :1: missing value for command");
        CHECK(parse_error("{{.A |}}") == "template parsing error: template: :1: missing command after |");
        CHECK(parse_error("{{\"abc}}") == "template parsing error: template: :1: unterminated quoted string");
        CHECK(parse_error("line1\\n{{range .X}}{{end}}").find("template: :2: {{range}} is not supported") != std::string::npos);
        CHECK(parse_error("{{if .X}}y{{end}}").find("{{if}} is not supported") != std::string::npos);
        CHECK(parse_error("{{$x := .A}}").find("undefined variable \"$x\"") != std::string::npos);
        CHECK(parse_error("{{(.A}}").find("template parsing error") == 0);
        CHECK(parse_error("{{/* open").find("unclosed comment") != std::string::npos);
    }

    TEST_CASE("execution errors name the action") {
        auto t = Template::parse("{{index .Config.Env 5}}");
        REQUIRE(t);
        auto r = t->render(kData);
        REQUIRE_FALSE(r);
        CHECK(r.error().message == "template: :1:2: executing \"\" at <index .Config.Env 5>: error calling index: index out of range: 5");
        auto u = Template::parse("{{.Name .Id}}");
        REQUIRE(u);
        CHECK_FALSE(u->render(kData));
        auto w = Template::parse("{{join .Name \",\"}}");
        REQUIRE(w);
        CHECK_FALSE(w->render(kData));
    }

    TEST_CASE("table prefix: header row from field names") {
        auto t = Template::parse("table {{.ID}}\\t{{.CreatedAt}}\\t{{.Name}}\\t{{json .Config}}\\t{{.State.Running}}");
        REQUIRE(t);
        CHECK(t->is_table());
        CHECK(t->render_header() == "ID\tCREATED AT\tNAME\tCONFIG\tRUNNING");
        CHECK(t->render_header({{"ID", "CONTAINER ID"}}) == "CONTAINER ID\tCREATED AT\tNAME\tCONFIG\tRUNNING");
        auto plain = Template::parse("{{.ID}}");
        REQUIRE(plain);
        CHECK_FALSE(plain->is_table());
        CHECK(header_name("ID") == "ID");
        CHECK(header_name("CreatedAt") == "CREATED AT");
        CHECK(header_name("IPAddress") == "IP ADDRESS");
        CHECK(header_name("RepoTags") == "REPO TAGS");
        CHECK(header_name("ContainerID") == "CONTAINER ID");
        CHECK(header_name("timeNano") == "TIME NANO");
        CHECK(header_name("local_volumes") == "LOCAL VOLUMES");
    }

    TEST_CASE("tabwrite aligns like Go's tabwriter") {
        // docker system df, byte for byte.
        std::string df =
            "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE\n"
            "Images\t0\t0\t0B\t0B\n"
            "Containers\t0\t0\t0B\t0B\n"
            "Local Volumes\t0\t0\t0B\t0B\n"
            "Build Cache\t0\t0\t0B\t0B\n";
        CHECK(tabwrite(df) ==
              "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n"
              "Images          0         0         0B        0B\n"
              "Containers      0         0         0B        0B\n"
              "Local Volumes   0         0         0B        0B\n"
              "Build Cache     0         0         0B        0B\n");
        // Columns are blocks of consecutive lines; a line without a cell in a column ends its block.
        CHECK(tabwrite("a\tb\tc\naaaa\tb\nx\n", 0, 1) == "a    b c\naaaa b\nx\n");
        CHECK(tabwrite("k:\tv\nlonger key:\tv\n\nk2:\tv\n", 0, 1) == "k:          v\nlonger key: v\n\nk2: v\n");
        // Widths count code points; empty cells still pad; no trailing newline is kept as is.
        CHECK(tabwrite("é\tx\nab\ty", 0, 1) == "é  x\nab y");
        CHECK(tabwrite("\tx\nab\ty\n", 0, 1) == "   x\nab y\n");
        // docker version's layout: min width 20, padding 1.
        CHECK(tabwrite("Client:\n Version:\t1\n API version:\t1.41\n", 20, 1) ==
              "Client:\n Version:           1\n API version:       1.41\n");
    }

    TEST_CASE("format_rows: table, json, custom") {
        std::vector<Json> rows = {{{"ID", "abc"}, {"Name", "one"}}, {{"ID", "defghijklmnopq"}, {"Name", "two"}}};
        const char* def = "table {{.ID}}\t{{.Name}}";
        auto table = format_rows("", def, rows, {{"ID", "THING ID"}});
        REQUIRE(table);
        CHECK(*table == "THING ID         NAME\nabc              one\ndefghijklmnopq   two\n");
        auto same = format_rows("table", def, rows, {{"ID", "THING ID"}});
        REQUIRE(same);
        CHECK(*same == *table);
        auto json = format_rows("json", def, rows);
        REQUIRE(json);
        CHECK(*json == "{\"ID\":\"abc\",\"Name\":\"one\"}\n{\"ID\":\"defghijklmnopq\",\"Name\":\"two\"}\n");
        auto custom = format_rows("{{.Name}}\\t{{.ID}}", def, rows);
        REQUIRE(custom);
        CHECK(*custom == "one\tabc\ntwo\tdefghijklmnopq\n");  // only tables are aligned
        auto empty = format_rows("", def, {});
        REQUIRE(empty);
        CHECK(*empty == "ID        NAME\n");
        CHECK_FALSE(format_rows("{{.ID", def, rows));
    }

    TEST_CASE("format_object") {
        auto a = format_object("{{.Name}}", kData);
        REQUIRE(a);
        CHECK(*a == "/web\n");
        auto j = format_object("json", Json{{"b", 1}, {"a", "x"}});
        REQUIRE(j);
        CHECK(*j == "{\"a\":\"x\",\"b\":1}\n");
    }

    TEST_CASE("display helpers") {
        CHECK(human_size_precision(0, 4) == "0B");
        CHECK(human_size_precision(1234567, 3) == "1.23MB");
        CHECK(bytes_size(25276026880.0) == "23.54GiB");
        CHECK(bytes_size(512) == "512B");
        CHECK(truncate_id("sha256:0123456789abcdef0123") == "0123456789ab");
        CHECK(truncate_id("0123456789abcdef") == "0123456789ab");
        CHECK(ellipsis("short", 20) == "short");
        CHECK(ellipsis("/docker-entrypoint.sh nginx -g 'daemon off;'", 20) == "/docker-entrypoint.…");
        CHECK(ansic_time("2026-11-22T18:27:39Z") == "Sun Nov 22 18:27:39 2026");
        CHECK(ansic_time("2024-05-01T10:00:00.5Z") == "Wed May  1 10:00:00 2024");
        CHECK(ansic_time("unknown") == "unknown");
    }
}
