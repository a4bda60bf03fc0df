#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <cstdlib>
#include <memory>
#include <regex>
#include <string>

#include "engine/base/sys.hpp"
#include "engine/events/event_bus.hpp"
#include "engine/store/store.hpp"
#include "graphdriver/testing/test_util.hpp"
#include "volumes/local_driver.hpp"
#include "volumes/volume_service.hpp"

using namespace ctl;
using namespace ctl::volumes;
using ctl::graph::testing::TempDir;
using ctl::graph::testing::is_mounted;
using ctl::graph::testing::read_file;
using ctl::graph::testing::snapshot;
using ctl::graph::testing::write_file;

namespace {

bool is_root() { return ::geteuid() == 0; }

// A LocalDriver whose create() can be made to fail (a full disk, a crash stand-in).
class FlakyDriver : public LocalDriver {
public:
    using LocalDriver::LocalDriver;
    bool fail_create = false;
    Status create(const std::string& name, const Options& opts) override {
        if (fail_create) return make_error(Errc::Internal, "disk on fire");
        return LocalDriver::create(name, opts);
    }
};

// A data root with a store, an event bus and a service; reopen() simulates a restart (or, since
// nothing is flushed on the way out, a SIGKILL: every change is committed when its call returns).
struct Engine {
    TempDir tmp;
    std::unique_ptr<store::Store> db;
    events::EventBus bus;
    std::unique_ptr<VolumeService> service;
    FlakyDriver* driver = nullptr;

    Engine() { reopen(); }
    std::string root() const { return tmp.path() + "/volumes"; }
    void reopen() {
        service.reset();
        db.reset();
        auto s = store::Store::open(tmp.path() + "/ctld.db");
        REQUIRE(s);
        db = std::move(*s);
        auto d = std::make_unique<FlakyDriver>(root());
        driver = d.get();
        service = std::make_unique<VolumeService>(*db, bus, std::move(d));
        REQUIRE(service->init());
    }
    VolumeService& vs() { return *service; }
    std::vector<std::string> names(const Filters& f = {}) {
        auto l = service->list(f);
        REQUIRE(l);
        std::vector<std::string> out;
        for (const auto& v : *l) out.push_back(v.name);
        return out;
    }
    std::vector<std::string> actions() {
        std::vector<std::string> out;
        for (const auto& e : bus.history(0, INT64_MAX)) {
            if (e.type == "volume") out.push_back(e.action + " " + e.actor_id);
        }
        return out;
    }
};

Filters filters(const std::string& json) {
    auto f = Filters::parse(json, {});
    REQUIRE(f);
    return *f;
}

VolumeRecord must_create(VolumeService& vs, const std::string& name, Options opts = {},
                         std::map<std::string, std::string> labels = {}) {
    auto v = vs.create({name, "", std::move(opts), std::move(labels)});
    REQUIRE_MESSAGE(v, (v ? "" : v.error().message));
    return *v;
}

int fill(const std::string& path, size_t bytes) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno;
    std::string chunk(64 * 1024, 'x');
    int err = 0;
    for (size_t done = 0; done < bytes && err == 0;) {
        ssize_t n = ::write(fd, chunk.data(), std::min(chunk.size(), bytes - done));
        if (n < 0) err = errno;
        else done += static_cast<size_t>(n);
    }
    ::close(fd);
    return err;
}

std::string link_target(const std::string& path) {
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
    return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

}  // namespace

TEST_SUITE("volumes.service") {
    TEST_CASE("CreatedAt is Go's RFC3339 in local time") {
        std::string saved = std::getenv("TZ") ? std::getenv("TZ") : "";
        bool had = std::getenv("TZ") != nullptr;
        ::setenv("TZ", "UTC", 1);
        ::tzset();
        CHECK(rfc3339_local(1700000000123456789) == "2023-11-14T22:13:20Z");
        ::setenv("TZ", "XYZ-5:30", 1);
        ::tzset();
        CHECK(rfc3339_local(1700000000000000000) == "2023-11-15T03:43:20+05:30");
        ::setenv("TZ", "ABC+3", 1);
        ::tzset();
        CHECK(rfc3339_local(1700000000000000000) == "2023-11-14T19:13:20-03:00");
        if (had) ::setenv("TZ", saved.c_str(), 1);
        else ::unsetenv("TZ");
        ::tzset();
    }

    TEST_CASE("create, inspect, list, remove; Docker's JSON shape and events") {
        Engine e;
        auto v = must_create(e.vs(), "data", {}, {{"com.example", "yes"}});
        CHECK(v.name == "data");
        CHECK(v.driver == "local");
        CHECK(v.mountpoint == e.root() + "/data/_data");
        CHECK(sys::exists(v.mountpoint));
        Json j = e.vs().to_json(v);
        CHECK(j["Name"] == "data");
        CHECK(j["Driver"] == "local");
        CHECK(j["Scope"] == "local");
        CHECK(j["Mountpoint"] == v.mountpoint);
        CHECK(j["Labels"] == Json{{"com.example", "yes"}});
        CHECK(j["Options"].is_object());
        CHECK(j["Options"].empty());
        CHECK_FALSE(j.contains("Status"));
        std::string created = j["CreatedAt"];
        CHECK(std::regex_match(created, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d))")));

        // Idempotent: the same volume back, labels and creation time unchanged.
        auto again = e.vs().create({"data", "local", {}, {{"other", "label"}}});
        REQUIRE(again);
        CHECK(again->created_at == v.created_at);
        CHECK(again->labels == v.labels);

        auto got = e.vs().get("data");
        REQUIRE(got);
        CHECK(got->labels.at("com.example") == "yes");
        auto missing = e.vs().get("nope");
        REQUIRE_FALSE(missing);
        CHECK(missing.error().code == Errc::NotFound);
        CHECK(missing.error().message == "get nope: no such volume");

        CHECK(e.names() == std::vector<std::string>{"data"});
        REQUIRE(e.vs().remove("data"));
        CHECK_FALSE(sys::exists(e.root() + "/data"));
        CHECK(e.names().empty());
        auto gone = e.vs().remove("data");
        REQUIRE_FALSE(gone);
        CHECK(gone.error().message == "get data: no such volume");
        CHECK(e.vs().remove("data", true));  // force: a missing volume is fine
        CHECK(e.actions() == std::vector<std::string>{"create data", "destroy data"});
    }

    TEST_CASE("create: names, drivers and options are checked before anything is made") {
        Engine e;
        auto unnamed = e.vs().create({});
        REQUIRE(unnamed);
        CHECK(std::regex_match(unnamed->name, std::regex("[0-9a-f]{64}")));
        CHECK_FALSE(unnamed->anonymous);

        auto bad_name = e.vs().create({.name = "a/b"});
        REQUIRE_FALSE(bad_name);
        CHECK(bad_name.error().code == Errc::InvalidArgument);
        CHECK(bad_name.error().message.find("create a/b: \"a/b\" includes invalid characters") == 0);

        auto plugin = e.vs().create({.name = "x1", .driver = "flocker"});
        REQUIRE_FALSE(plugin);
        CHECK(plugin.error().code == Errc::NotFound);
        CHECK(plugin.error().message.find("plugin \"flocker\" not found") != std::string::npos);

        auto bad_opt = e.vs().create({.name = "x2", .driver = "local", .driver_opts = {{"foo", "bar"}}});
        REQUIRE_FALSE(bad_opt);
        CHECK(bad_opt.error().code == Errc::InvalidArgument);
        CHECK(bad_opt.error().message.find("create x2: invalid option: \"foo\"") == 0);

        CHECK(e.names() == std::vector<std::string>{unnamed->name});

        // Options are echoed exactly.
        auto tmpfs = must_create(e.vs(), "ram", {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=10m"}});
        Json j = e.vs().to_json(tmpfs);
        CHECK(j["Options"] == Json{{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=10m"}});
    }

    TEST_CASE("list filters: name (regexp), label, dangling, driver") {
        Engine e;
        must_create(e.vs(), "web-data", {}, {{"app", "web"}, {"tier", "front"}});
        must_create(e.vs(), "db-data", {}, {{"app", "db"}});
        must_create(e.vs(), "scratch");
        REQUIRE(e.vs().acquire("db-data", "c1"));

        CHECK(e.names() == std::vector<std::string>{"db-data", "scratch", "web-data"});
        CHECK(e.names(filters(R"({"name":["data"]})")) == std::vector<std::string>{"db-data", "web-data"});
        CHECK(e.names(filters(R"({"name":["^web"]})")) == std::vector<std::string>{"web-data"});
        CHECK(e.names(filters(R"({"name":["scratch","^db"]})")) == std::vector<std::string>{"db-data", "scratch"});
        CHECK(e.names(filters(R"({"label":["app"]})")) == std::vector<std::string>{"db-data", "web-data"});
        CHECK(e.names(filters(R"({"label":["app=web"]})")) == std::vector<std::string>{"web-data"});
        CHECK(e.names(filters(R"({"label":["app","tier=front"]})")) == std::vector<std::string>{"web-data"});
        CHECK(e.names(filters(R"({"label":["app=nope"]})")).empty());
        CHECK(e.names(filters(R"({"dangling":["true"]})")) == std::vector<std::string>{"scratch", "web-data"});
        CHECK(e.names(filters(R"({"dangling":["1"]})")) == std::vector<std::string>{"scratch", "web-data"});
        CHECK(e.names(filters(R"({"dangling":["false"]})")) == std::vector<std::string>{"db-data"});
        CHECK(e.names(filters(R"({"driver":["local"]})")).size() == 3);
        CHECK(e.names(filters(R"({"driver":["nfs"]})")).empty());
        CHECK(e.names(filters(R"({"name":["data"],"dangling":["true"]})")) == std::vector<std::string>{"web-data"});
        auto bad = e.vs().list(filters(R"({"dangling":["maybe"]})"));
        REQUIRE_FALSE(bad);
        CHECK(bad.error().code == Errc::InvalidArgument);
        CHECK(bad.error().message == "invalid filter 'dangling=maybe'");
    }

    TEST_CASE("references: counted per container, 409 while in use, survive a restart") {
        Engine e;
        must_create(e.vs(), "shared");
        auto path = e.vs().acquire("shared", "c1");
        REQUIRE(path);
        CHECK(*path == e.root() + "/shared/_data");
        REQUIRE(e.vs().acquire("shared", "c2"));
        REQUIRE(e.vs().acquire("shared", "c2"));  // the same container twice: one reference
        CHECK(e.vs().get("shared")->users == std::vector<std::string>{"c1", "c2"});

        auto busy = e.vs().remove("shared");
        REQUIRE_FALSE(busy);
        CHECK(busy.error().code == Errc::Conflict);
        CHECK(busy.error().message == "remove shared: volume is in use - [c1, c2]");
        auto forced = e.vs().remove("shared", true);
        REQUIRE_FALSE(forced);  // force does not override "in use" (Docker)
        CHECK(forced.error().code == Errc::Conflict);

        e.reopen();  // restart (or SIGKILL): references are in the store
        CHECK(e.vs().get("shared")->users == std::vector<std::string>{"c1", "c2"});
        auto v = e.vs().volumes_of("c2");
        REQUIRE(v);
        CHECK(*v == std::vector<std::string>{"shared"});

        REQUIRE(e.vs().release("shared", "c1"));
        REQUIRE(e.vs().release("shared", "c1"));  // twice is fine
        REQUIRE(e.vs().release("nope", "c1"));    // so is a missing volume
        CHECK_FALSE(e.vs().remove("shared"));
        REQUIRE(e.vs().release_all("c2"));
        CHECK(e.vs().get("shared")->users.empty());
        REQUIRE(e.vs().remove("shared"));
        auto actions = e.actions();
        CHECK(std::count(actions.begin(), actions.end(), "mount shared") == 2);
        CHECK(std::count(actions.begin(), actions.end(), "unmount shared") == 2);
    }

    TEST_CASE("acquire creates missing volumes; anonymous ones go with rm -v, named ones stay") {
        Engine e;
        auto anon = e.vs().acquire("", "c1");
        REQUIRE(anon);
        auto mine = e.vs().volumes_of("c1");
        REQUIRE(mine);
        REQUIRE(mine->size() == 1);
        std::string anon_name = mine->front();
        CHECK(std::regex_match(anon_name, std::regex("[0-9a-f]{64}")));
        auto rec = e.vs().get(anon_name);
        REQUIRE(rec);
        CHECK(rec->anonymous);
        CHECK(rec->labels.count(kAnonymousLabel) == 1);
        CHECK(*anon == rec->mountpoint);

        // Options apply to the volume acquire creates (mounting tmpfs needs root).
        Json opts = is_root() ? Json{{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m"}} : Json::object();
        REQUIRE(e.vs().acquire("named", "c1", opts));
        if (is_root()) CHECK(e.vs().get("named")->options.at("type") == "tmpfs");
        CHECK_FALSE(e.vs().get("named")->anonymous);

        // An anonymous volume also used by c2 (--volumes-from) outlives `rm -v c1`.
        auto anon2 = e.vs().acquire("", "c1");
        REQUIRE(anon2);
        mine = e.vs().volumes_of("c1");
        REQUIRE(mine->size() == 3);
        std::string shared_anon;
        for (const auto& n : *mine) {
            if (n != anon_name && n != "named") shared_anon = n;
        }
        REQUIRE(e.vs().acquire(shared_anon, "c2"));

        REQUIRE(e.vs().remove_anonymous_of("c1"));
        CHECK_FALSE(e.vs().get(anon_name));
        CHECK_FALSE(sys::exists(e.root() + "/" + anon_name));
        REQUIRE(e.vs().get(shared_anon));
        CHECK(e.vs().get(shared_anon)->users == std::vector<std::string>{"c2"});
        REQUIRE(e.vs().get("named"));
        CHECK(e.vs().get("named")->users == std::vector<std::string>{"c1"});  // named: untouched
        REQUIRE(e.vs().release_all("c1"));
        REQUIRE(e.vs().remove_anonymous_of("c2"));
        CHECK_FALSE(e.vs().get(shared_anon));
        CHECK(e.names() == std::vector<std::string>{"named"});

        // Bad options for a volume that must be made: refused, nothing made.
        auto bad = e.vs().acquire("newvol", "c3", Json{{"bogus", "1"}});
        REQUIRE_FALSE(bad);
        CHECK(bad.error().code == Errc::InvalidArgument);
        CHECK_FALSE(e.vs().get("newvol"));
        CHECK_FALSE(e.vs().acquire("newvol", "c3", Json::array()));
        CHECK_FALSE(e.vs().acquire("x", "c3"));  // too short a name
        CHECK_FALSE(e.vs().acquire("data", ""));
    }

    TEST_CASE("drop_refs_except forgets containers that no longer exist") {
        Engine e;
        REQUIRE(e.vs().acquire("v1", "alive"));
        REQUIRE(e.vs().acquire("v1", "dead"));
        REQUIRE(e.vs().acquire("v2", "dead"));
        REQUIRE(e.vs().drop_refs_except({"alive"}));
        CHECK(e.vs().get("v1")->users == std::vector<std::string>{"alive"});
        CHECK(e.vs().get("v2")->users.empty());
    }

    TEST_CASE("prune removes unused volumes (named too, API 1.41), with label filters") {
        Engine e;
        must_create(e.vs(), "used");
        must_create(e.vs(), "keep-me", {}, {{"keep", "yes"}});
        must_create(e.vs(), "junk1", {}, {{"kind", "junk"}});
        must_create(e.vs(), "junk2");
        REQUIRE(e.vs().acquire("used", "c1"));
        REQUIRE(fill(e.root() + "/junk1/_data/blob", 100000) == 0);

        auto labelled = e.vs().prune(filters(R"({"label":["kind=junk"]})"));
        REQUIRE(labelled);
        CHECK((*labelled)["VolumesDeleted"] == Json::array({"junk1"}));
        CHECK((*labelled)["SpaceReclaimed"].get<int64_t>() >= 100000);

        auto rest = e.vs().prune(filters(R"({"label!":["keep"]})"));
        REQUIRE(rest);
        CHECK((*rest)["VolumesDeleted"] == Json::array({"junk2"}));
        CHECK(e.names() == std::vector<std::string>{"keep-me", "used"});

        auto all = e.vs().prune({});
        REQUIRE(all);
        CHECK((*all)["VolumesDeleted"] == Json::array({"keep-me"}));
        CHECK((*all)["SpaceReclaimed"] == 0);
        auto none = e.vs().prune({});
        REQUIRE(none);
        CHECK((*none)["VolumesDeleted"].is_array());
        CHECK((*none)["VolumesDeleted"].empty());
        CHECK(e.names() == std::vector<std::string>{"used"});
    }

    TEST_CASE("system df: usage and reference counts") {
        Engine e;
        must_create(e.vs(), "big");
        must_create(e.vs(), "ram", {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m"}});
        REQUIRE(fill(e.root() + "/big/_data/f", 50000) == 0);
        REQUIRE(e.vs().acquire("big", "c1"));
        Json df = Json::object();
        e.vs().contribute_df(df);
        REQUIRE(df["Volumes"].size() == 2);
        Json big = df["Volumes"][0], ram = df["Volumes"][1];
        CHECK(big["Name"] == "big");
        CHECK(big["UsageData"]["Size"].get<int64_t>() >= 50000);
        CHECK(big["UsageData"]["RefCount"] == 1);
        CHECK(ram["UsageData"]["Size"] == -1);
        CHECK(ram["UsageData"]["RefCount"] == 0);
        REQUIRE(e.vs().release("big", "c1"));
    }

    TEST_CASE("copy-up: image content copied once into an empty volume, metadata kept") {
        Engine e;
        std::string rootfs = e.tmp.make("rootfs");
        std::string src = e.tmp.make("rootfs/var/lib/app");
        write_file(src + "/config", "setting=1\n");
        ::chmod((src + "/config").c_str(), 0640);
        e.tmp.make("rootfs/var/lib/app/sub/deeper");
        write_file(src + "/sub/deeper/file", "deep\n");
        REQUIRE(::symlink("config", (src + "/rel-link").c_str()) == 0);
        REQUIRE(::link((src + "/config").c_str(), (src + "/hard").c_str()) == 0);
        ::chmod(src.c_str(), 0710);
        if (is_root()) {
            REQUIRE(::lchown((src + "/config").c_str(), 1234, 5678) == 0);
            REQUIRE(::lchown(src.c_str(), 42, 43) == 0);
        }

        auto path = e.vs().acquire("appdata", "c1");
        REQUIRE(path);
        REQUIRE(e.vs().copy_up("appdata", rootfs, "/var/lib/app"));
        CHECK(ctl::graph::testing::describe_difference(snapshot(src), snapshot(*path)) == "");
        struct stat st {};
        REQUIRE(::stat(path->c_str(), &st) == 0);
        CHECK((st.st_mode & 07777) == 0710);  // the volume root takes the image dir's mode and owner
        if (is_root()) {
            CHECK(st.st_uid == 42u);
            CHECK(st.st_gid == 43u);
        }
        struct stat a {}, b {};
        REQUIRE(::stat((*path + "/config").c_str(), &a) == 0);
        REQUIRE(::stat((*path + "/hard").c_str(), &b) == 0);
        CHECK(a.st_ino == b.st_ino);
        CHECK(link_target(*path + "/rel-link") == "config");

        // Populated once: emptied by the user, it is not filled again; nor is a volume with data.
        for (const auto& entry : std::filesystem::directory_iterator(*path)) std::filesystem::remove_all(entry.path());
        REQUIRE(e.vs().copy_up("appdata", rootfs, "/var/lib/app"));
        CHECK_FALSE(sys::exists(*path + "/config"));

        REQUIRE(e.vs().acquire("userdata", "c1"));
        write_file(e.root() + "/userdata/_data/mine", "user data");
        REQUIRE(e.vs().copy_up("userdata", rootfs, "/var/lib/app"));
        CHECK_FALSE(sys::exists(e.root() + "/userdata/_data/config"));
        CHECK(read_file(e.root() + "/userdata/_data/mine") == "user data");

        // A path missing from the image copies nothing and leaves the volume open to a later image.
        REQUIRE(e.vs().acquire("later", "c1"));
        REQUIRE(e.vs().copy_up("later", rootfs, "/not/there"));
        REQUIRE(e.vs().copy_up("later", rootfs, "/var/lib/app"));
        CHECK(read_file(e.root() + "/later/_data/config") == "setting=1\n");
        CHECK_FALSE(e.vs().copy_up("nope", rootfs, "/var/lib/app"));
    }

    TEST_CASE("copy-up never follows symlinks out of the rootfs") {
        Engine e;
        std::string outside = e.tmp.make("host-secrets");
        write_file(outside + "/secret", "host only");
        std::string rootfs = e.tmp.make("rootfs");
        std::string data = e.tmp.make("rootfs/data");
        write_file(data + "/normal", "ok");
        // Links inside the copied tree pointing out of the rootfs: copied as links, not content.
        REQUIRE(::symlink(outside.c_str(), (data + "/abs-escape").c_str()) == 0);
        REQUIRE(::symlink("../../../../../../../host-secrets/secret", (data + "/rel-escape").c_str()) == 0);
        // The volume path itself is a symlink out of the rootfs (absolute and relative).
        REQUIRE(::symlink(outside.c_str(), (rootfs + "/abs-dir").c_str()) == 0);
        REQUIRE(::symlink("../../../../../../..", (rootfs + "/rel-dir").c_str()) == 0);
        e.tmp.make("rootfs/host-secrets-not");

        auto p1 = e.vs().acquire("v-links", "c1");
        REQUIRE(p1);
        REQUIRE(e.vs().copy_up("v-links", rootfs, "/data"));
        CHECK(read_file(*p1 + "/normal") == "ok");
        struct stat st {};
        REQUIRE(::lstat((*p1 + "/abs-escape").c_str(), &st) == 0);
        CHECK(S_ISLNK(st.st_mode));
        CHECK(link_target(*p1 + "/abs-escape") == outside);
        REQUIRE(::lstat((*p1 + "/rel-escape").c_str(), &st) == 0);
        CHECK(S_ISLNK(st.st_mode));

        auto p2 = e.vs().acquire("v-abs", "c1");
        REQUIRE(p2);
        REQUIRE(e.vs().copy_up("v-abs", rootfs, "/abs-dir"));  // resolves to <rootfs><outside>: absent
        CHECK_FALSE(sys::exists(*p2 + "/secret"));

        auto p3 = e.vs().acquire("v-rel", "c1");
        REQUIRE(p3);
        REQUIRE(e.vs().copy_up("v-rel", rootfs, "/rel-dir/host-secrets"));  // ".." stops at the rootfs
        CHECK_FALSE(sys::exists(*p3 + "/secret"));
        REQUIRE(e.vs().copy_up("v-rel", rootfs, "/rel-dir/data"));  // = <rootfs>/data
        CHECK(read_file(*p3 + "/normal") == "ok");
        CHECK(read_file(outside + "/secret") == "host only");
    }

    TEST_CASE("crash consistency: init() repairs what an interrupted operation left") {
        Engine e;
        must_create(e.vs(), "good");
        write_file(e.root() + "/good/_data/f", "kept");
        bool good_untouched = true;  // every repair but the one below leaves other volumes alone

        SUBCASE("a directory made but never recorded (crash before COMMIT) is swept") {
            REQUIRE(e.driver->create("ghost", {}));
            e.reopen();
            CHECK_FALSE(sys::exists(e.root() + "/ghost"));
        }
        SUBCASE("staging and half-deleted entries are swept") {
            e.tmp.make("volumes/.tmp-0123456789abcdef/_data");
            e.tmp.make("volumes/.rm-0123456789abcdef/_data/x");
            e.reopen();
            CHECK_FALSE(sys::exists(e.root() + "/.tmp-0123456789abcdef"));
            CHECK_FALSE(sys::exists(e.root() + "/.rm-0123456789abcdef"));
        }
        SUBCASE("a failed directory create leaves no record") {
            e.driver->fail_create = true;
            auto v = e.vs().create({.name = "broken"});
            REQUIRE_FALSE(v);
            CHECK(v.error().message.find("disk on fire") != std::string::npos);
            CHECK_FALSE(e.vs().get("broken"));
            CHECK_FALSE(sys::exists(e.root() + "/broken"));
            CHECK_FALSE(e.vs().acquire("broken", "c1"));
            e.driver->fail_create = false;
        }
        SUBCASE("a record whose directory vanished gets an empty one back") {
            std::filesystem::remove_all(e.root() + "/good");
            good_untouched = false;
            e.reopen();
            REQUIRE(e.vs().get("good"));
            CHECK(sys::exists(e.root() + "/good/_data"));
        }
        SUBCASE("an interrupted copy-up is rolled back") {
            REQUIRE(e.vs().acquire("half", "c1"));
            write_file(e.root() + "/half/_data/partial", "half copied");
            REQUIRE(e.db->execute("UPDATE volumes SET copy_state = 1 WHERE name = 'half'"));
            e.reopen();
            CHECK_FALSE(sys::exists(e.root() + "/half/_data/partial"));
            std::string rootfs = e.tmp.make("rootfs");
            e.tmp.make("rootfs/d");
            write_file(rootfs + "/d/full", "all of it");
            REQUIRE(e.vs().copy_up("half", rootfs, "/d"));
            CHECK(read_file(e.root() + "/half/_data/full") == "all of it");
        }
        SUBCASE("an interrupted copy-up found by copy_up itself starts over") {
            REQUIRE(e.vs().acquire("half2", "c1"));
            std::string rootfs = e.tmp.make("rootfs");
            e.tmp.make("rootfs/d");
            write_file(rootfs + "/d/full", "all of it");
            write_file(e.root() + "/half2/_data/partial", "half copied");
            REQUIRE(e.db->execute("UPDATE volumes SET copy_state = 1 WHERE name = 'half2'"));
            REQUIRE(e.vs().copy_up("half2", rootfs, "/d"));
            CHECK_FALSE(sys::exists(e.root() + "/half2/_data/partial"));
            CHECK(read_file(e.root() + "/half2/_data/full") == "all of it");
        }
        if (good_untouched) CHECK(read_file(e.root() + "/good/_data/f") == "kept");
    }

    TEST_CASE("tmpfs volume through acquire: mounted while used, size limit, unmounted by the last release") {
        if (!is_root()) return;
        Engine e;
        must_create(e.vs(), "scratch", {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m"}});
        CHECK_FALSE(is_mounted(e.root() + "/scratch/_data"));
        auto p = e.vs().acquire("scratch", "c1");
        REQUIRE(p);
        CHECK(is_mounted(*p));
        CHECK(fill(*p + "/small", 100 * 1024) == 0);
        CHECK(fill(*p + "/too-big", 3 * 1024 * 1024) == ENOSPC);
        REQUIRE(e.vs().acquire("scratch", "c2"));
        REQUIRE(e.vs().release("scratch", "c1"));
        CHECK(is_mounted(*p));  // c2 still uses it
        CHECK(sys::exists(*p + "/small"));
        REQUIRE(e.vs().release("scratch", "c2"));
        CHECK_FALSE(is_mounted(*p));

        // Copy-up into a mounted volume; refused while unmounted.
        std::string rootfs = e.tmp.make("rootfs");
        e.tmp.make("rootfs/d");
        write_file(rootfs + "/d/f", "image");
        CHECK_FALSE(e.vs().copy_up("scratch", rootfs, "/d"));
        REQUIRE(e.vs().acquire("scratch", "c3"));
        REQUIRE(e.vs().copy_up("scratch", rootfs, "/d"));
        CHECK(read_file(*p + "/f") == "image");

        // A restart keeps the mount for c3; a crash between "reference dropped" and "unmounted"
        // is repaired by init().
        e.reopen();
        CHECK(is_mounted(*p));
        REQUIRE(e.db->execute("DELETE FROM volume_refs WHERE volume = 'scratch'"));
        e.reopen();
        CHECK_FALSE(is_mounted(*p));
        REQUIRE(e.vs().remove("scratch"));
    }

    TEST_CASE("mount failures keep no reference; bind volumes keep the host data on remove") {
        if (!is_root()) return;
        Engine e;
        must_create(e.vs(), "badsize", {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=lots"}});
        auto p = e.vs().acquire("badsize", "c1");
        REQUIRE_FALSE(p);
        CHECK(p.error().message.find("mount volume badsize: failed to mount local volume") == 0);
        CHECK(e.vs().get("badsize")->users.empty());
        CHECK(e.actions().back() == "create badsize");

        std::string host = e.tmp.make("hostdir");
        write_file(host + "/precious", "keep me");
        auto b = e.vs().acquire("hostvol", "c1", Json{{"type", "none"}, {"device", host}, {"o", "bind"}});
        REQUIRE(b);
        CHECK(read_file(*b + "/precious") == "keep me");
        REQUIRE(e.vs().release("hostvol", "c1"));
        CHECK_FALSE(is_mounted(*b));
        CHECK_FALSE(sys::exists(*b + "/precious"));
        REQUIRE(e.vs().remove("hostvol"));
        CHECK(read_file(host + "/precious") == "keep me");
    }
}
