#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "engine/store/store.hpp"

using namespace ctl;
using namespace ctl::store;

namespace {
struct TempDb {
    std::string dir;
    TempDb() {
        char tmpl[] = "/tmp/ctl-store-test-XXXXXX";
        dir = mkdtemp(tmpl);
    }
    ~TempDb() { std::filesystem::remove_all(dir); }
    std::string path() const { return dir + "/ctld.db"; }
};
}  // namespace

TEST_SUITE("store") {
    TEST_CASE("open migrates to the latest version and reopens cleanly") {
        TempDb db;
        {
            auto s = Store::open(db.path());
            REQUIRE(s);
            CHECK((*s)->schema_version() == migrations().back().version);
            REQUIRE((*s)->set_meta("engine-id", "abc"));
        }
        auto again = Store::open(db.path());
        REQUIRE(again);
        CHECK(*(*again)->get_meta("engine-id") == "abc");
        CHECK((*again)->get_meta("missing").error().code == Errc::NotFound);
    }

    TEST_CASE("a failed transaction leaves nothing") {
        TempDb db;
        auto s = std::move(*Store::open(db.path()));
        auto st = s->transact([&]() -> Status {
            CTL_TRY(s->set_meta("a", "1"));
            return make_error(Errc::Conflict, "boom");
        });
        CHECK_FALSE(st);
        CHECK(s->get_meta("a").error().code == Errc::NotFound);
        REQUIRE(s->transact([&]() -> Status { return s->set_meta("b", "2"); }));
        CHECK(*s->get_meta("b") == "2");
    }

    TEST_CASE("unique violations are AlreadyExists") {
        TempDb db;
        auto s = std::move(*Store::open(db.path()));
        REQUIRE(s->execute("INSERT INTO meta(key, value) VALUES(?, ?)", {std::string("k"), std::string("v")}));
        auto dup = s->execute("INSERT INTO meta(key, value) VALUES(?, ?)", {std::string("k"), std::string("v")});
        REQUIRE_FALSE(dup);
        CHECK(dup.error().code == Errc::AlreadyExists);
    }

    TEST_CASE("reused statements start clean: fresh bindings, no rows left over, survive errors") {
        TempDb db;
        auto s = std::move(*Store::open(db.path()));
        const char* insert = "INSERT INTO meta(key, value) VALUES(?, ?)";
        const char* select = "SELECT value FROM meta WHERE key = ?";
        REQUIRE(s->execute(insert, {std::string("a"), std::string("1")}));
        REQUIRE(s->execute(insert, {std::string("b"), std::string("2")}));
        CHECK_FALSE(s->execute(insert, {std::string("a"), std::string("again")}));  // failed step
        REQUIRE(s->execute(insert, {std::string("c"), std::string("3")}));        // then fine
        for (int round = 0; round < 3; ++round) {
            auto a = s->query(select, {std::string("a")});
            REQUIRE(a);
            REQUIRE(a->size() == 1);
            CHECK(as_string((*a)[0][0]) == "1");
            auto none = s->query(select, {std::string("zzz")});
            REQUIRE(none);
            CHECK(none->empty());
        }
        // A schema change under a cached statement: SQLite re-prepares it.
        REQUIRE(s->execute("CREATE TABLE extra (x INTEGER)"));
        auto c = s->query(select, {std::string("c")});
        REQUIRE(c);
        CHECK(as_string((*c)[0][0]) == "3");
    }

    TEST_CASE("a file that is not a database is refused with DataLoss") {
        TempDb db;
        FILE* f = fopen(db.path().c_str(), "w");
        fputs("this is not sqlite, just some text long enough to be a header..........................", f);
        fclose(f);
        auto s = Store::open(db.path());
        REQUIRE_FALSE(s);
        CHECK(s.error().code == Errc::DataLoss);
    }
}
