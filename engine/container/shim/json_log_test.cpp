#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <vector>

#include "engine/base/json.hpp"
#include "engine/base/sys.hpp"
#include "engine/container/shim/json_log.hpp"

using namespace ctl::container::shim;
namespace fs = std::filesystem;

TEST_CASE("json_log_line has Docker's fields and keeps the newline") {
    std::string line = json_log_line("stdout", "hello\n", 1'700'000'000'123'456'789LL);
    REQUIRE(line.back() == '\n');
    auto j = ctl::Json::parse(line);
    CHECK(j["log"] == "hello\n");
    CHECK(j["stream"] == "stdout");
    CHECK(j["time"] == "2023-11-14T22:13:20.123456789Z");
}

TEST_CASE("json_log_line replaces invalid UTF-8") {
    auto j = ctl::Json::parse(json_log_line("stderr", std::string("a\xff" "b"), 0));
    CHECK(j["log"] == "a\xEF\xBF\xBD" "b");
}

TEST_CASE("LineSplitter emits lines, 16 KiB pieces and the unterminated rest") {
    LineSplitter s;
    std::vector<std::string> got;
    auto emit = [&](std::string_view l) { got.emplace_back(l); };
    s.feed("one\ntw", emit);
    CHECK(got == std::vector<std::string>{"one\n"});
    s.feed("o\n", emit);
    CHECK(got.back() == "two\n");
    s.feed(std::string(LineSplitter::kMaxLine + 5, 'x'), emit);
    CHECK(got.back().size() == LineSplitter::kMaxLine);
    CHECK(s.pending() == 5);
    s.flush(emit);
    CHECK(got.back() == "xxxxx");
}

TEST_CASE("JsonFileLog rotates at max size and keeps max_files files") {
    fs::path dir = fs::temp_directory_path() / ("ctl-jsonlog-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::string path = (dir / "c-json.log").string();
    {
        auto log = JsonFileLog::open(path, 200, 3);
        REQUIRE(log);
        for (int i = 0; i < 20; ++i) REQUIRE(log->write("stdout", "line " + std::to_string(i) + "\n", 0));
    }
    CHECK(fs::exists(path));
    CHECK(fs::exists(path + ".1"));
    CHECK(fs::exists(path + ".2"));
    CHECK_FALSE(fs::exists(path + ".3"));
    // The newest entry is in the live file; every file stays near the limit.
    auto text = ctl::sys::read_file(path);
    REQUIRE(text);
    CHECK(text->find("line 19") != std::string::npos);
    for (const auto& f : {path, path + ".1", path + ".2"}) CHECK(fs::file_size(f) < 400);
    // Reopening appends.
    {
        auto log = JsonFileLog::open(path, -1, 1);
        REQUIRE(log);
        REQUIRE(log->write("stderr", "again\n", 0));
    }
    CHECK(ctl::sys::read_file(path)->find("again") != std::string::npos);
    fs::remove_all(dir);
}
