// One conformance body for both drivers (containerd's testsuite idea): every TEST_CASE_TEMPLATE
// runs against vfs and overlay2 (the latter skipped where the kernel cannot mount overlay).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "engine/base/digest.hpp"
#include "graphdriver/graph_driver.hpp"
#include "graphdriver/testing/test_util.hpp"

using namespace ctl;
using namespace ctl::graph;
using namespace ctl::graph::testing;
namespace fs = std::filesystem;

namespace {

struct VfsDriverT {
    static constexpr const char* name = "vfs";
    static constexpr const char* other = "overlay2";
};
struct OverlayDriverT {
    static constexpr const char* name = "overlay2";
    static constexpr const char* other = "vfs";
};

bool driver_available(const std::string& name) {
    if (name != "overlay2") return true;
    static const bool supported = [] {
        TempDir tmp;
        return overlay_supported(tmp.path());
    }();
    if (!supported) MESSAGE("overlay is not supported here: skipping the overlay2 run");
    return supported;
}

// A driver in its own temp root; the driver is cleaned up before the directory goes.
struct Fixture {
    TempDir tmp;
    std::string kind;
    std::unique_ptr<GraphDriver> d;

    explicit Fixture(const std::string& name) : kind(name) { open(); }
    ~Fixture() { close(); }
    void open() {
        auto r = make_graph_driver(kind, tmp.path());
        REQUIRE_MESSAGE(r, r.error().message);
        d = std::move(r).value();
    }
    void close() {
        if (d) (void)d->cleanup();
        d.reset();
    }
    std::string home() const { return tmp.path() + (kind == "vfs" ? "/vfs" : "/overlay2"); }
    GraphDriver* operator->() { return d.get(); }

    void layer(const std::string& id, const std::string& parent, const std::string& tar) {
        auto st = d->create(id, parent, false);
        REQUIRE_MESSAGE(st, st.error().message);
        auto stats = d->apply_diff(id, string_reader(tar));
        REQUIRE_MESSAGE(stats, stats.error().message);
        CHECK(stats->diff_id == sha256_digest(tar));
    }
    std::string mount(const std::string& id) {
        auto p = d->mount(id);
        REQUIRE_MESSAGE(p, p.error().message);
        return *p;
    }
    // tmp-* staging dirs left in the driver's directories.
    std::vector<std::string> leftovers() const {
        std::vector<std::string> out;
        for (const auto& dir : {home(), home() + "/meta"}) {
            std::error_code ec;
            for (const auto& e : fs::directory_iterator(dir, ec)) {
                if (e.path().filename().string().rfind("tmp-", 0) == 0) out.push_back(e.path().string());
            }
        }
        return out;
    }
};

bool present(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0;
}

std::string base_tar() {
    return TarBuilder()
        .dir("etc/")
        .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        .file("etc/hosts", "127.0.0.1 localhost\n")
        .dir("bin/")
        .file("bin/sh", "#!sh", Meta{0755, 0, 0, 1600000000, {}})
        .hardlink("bin/ls", "bin/sh")
        .dir("data/", dir_meta(0700, 33, 33))
        .file("data/x", "x", Meta{0640, 33, 33, 1600000000, {}})
        .file("data/y", "y")
        .dir("opq/")
        .file("opq/old1", "1")
        .dir("opq/sub/")
        .file("opq/sub/old2", "2")
        .file("f_deleted", "bye")
        .symlink("link", "etc/passwd")
        .build();
}

std::string top_tar() {
    return TarBuilder()
        .file(".wh.f_deleted", "")
        .dir("data/", dir_meta(0700, 33, 33))
        .file("data/.wh.x", "")
        .dir("opq/")
        .file("opq/.wh..wh..opq", "")
        .file("opq/new", "new")
        .file("etc/added", "added", Meta{0600, 1, 2, 1650000000, {{"user.origin", "top"}}})
        .build();
}

void check_top_view(const std::string& root) {
    CHECK(read_file(root + "/etc/passwd") == "root:x:0:0:root:/root:/bin/sh\n");
    CHECK_FALSE(present(root + "/f_deleted"));
    CHECK_FALSE(present(root + "/data/x"));
    CHECK(read_file(root + "/data/y") == "y");
    CHECK(read_file(root + "/opq/new") == "new");
    CHECK_FALSE(present(root + "/opq/old1"));
    CHECK_FALSE(present(root + "/opq/sub"));
    CHECK(read_file(root + "/etc/added") == "added");
    CHECK(fs::read_symlink(root + "/link") == "etc/passwd");
    struct stat sh, ls;
    REQUIRE(::lstat((root + "/bin/sh").c_str(), &sh) == 0);
    REQUIRE(::lstat((root + "/bin/ls").c_str(), &ls) == 0);
    CHECK(sh.st_ino == ls.st_ino);
}

// What a container typically does to its root file system.
void mutate(const std::string& root) {
    write_file(root + "/etc/hosts", "127.0.0.1 localhost\n10.0.0.2 web\n");
    write_file(root + "/etc/new", "new file");
    fs::remove(root + "/bin/sh");
    fs::remove_all(root + "/data");
    fs::create_directories(root + "/newdir");
    write_file(root + "/newdir/f", std::string(1000, 'f'));
}

const std::vector<Change> kMutations = {
    {"/bin", Change::Modified},     {"/bin/sh", Change::Deleted},  {"/data", Change::Deleted},
    {"/etc", Change::Modified},     {"/etc/hosts", Change::Modified}, {"/etc/new", Change::Added},
    {"/newdir", Change::Added},     {"/newdir/f", Change::Added},
};

std::string describe(const std::vector<Change>& changes) {
    std::string s;
    for (const auto& c : changes) s += "CAD"[c.kind] + std::string(" ") + c.path + "\n";
    return s;
}

}  // namespace

TEST_SUITE("graphdriver") {

TEST_CASE("make_graph_driver rejects unknown drivers and relative roots") {
    TempDir tmp;
    auto bad = make_graph_driver("aufs", tmp.path());
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::InvalidArgument);
    CHECK_FALSE(make_graph_driver("vfs", "relative/path"));
    auto vfs = make_graph_driver("vfs", tmp.path());
    REQUIRE(vfs);
    CHECK((*vfs)->name() == "vfs");
}

TEST_CASE("overlay probe leaves nothing behind") {
    TempDir tmp;
    bool supported = overlay_supported(tmp.path());
    MESSAGE("overlay supported: " << supported);
    CHECK(fs::is_empty(tmp.path()));
}

TEST_CASE_TEMPLATE("layer lifecycle", T, VfsDriverT, OverlayDriverT) {
    if (!driver_available(T::name)) return;
    Fixture f(T::name);
    CHECK(f->name() == T::name);
    f.layer("base", "", base_tar());
    CHECK(f->exists("base"));
    CHECK(*f->list() == std::vector<std::string>{"base"});
    CHECK(*f->parent("base") == "");

    auto again = f->apply_diff("base", string_reader(base_tar()));
    REQUIRE_FALSE(again);
    CHECK(again.error().code == Errc::Conflict);
    auto dup = f->create("base", "", false);
    REQUIRE_FALSE(dup);
    CHECK(dup.error().code == Errc::AlreadyExists);
    for (const char* bad : {"", "../x", "a/b", "l", "tmp-1", ".hidden", "x y"}) {
        CAPTURE(bad);
        auto st = f->create(bad, "", false);
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::InvalidArgument);
        CHECK_FALSE(f->exists(bad));
    }
    auto orphan = f->create("child", "missing", false);
    REQUIRE_FALSE(orphan);
    CHECK(orphan.error().code == Errc::NotFound);

    f.layer("top", "base", top_tar());
    CHECK(*f->parent("top") == "base");
    auto ids = *f->list();
    std::sort(ids.begin(), ids.end());
    CHECK(ids == std::vector<std::string>{"base", "top"});

    std::string root = f.mount("base");
    CHECK(read_file(root + "/etc/hosts") == "127.0.0.1 localhost\n");
    CHECK(present(root + "/f_deleted"));
    REQUIRE(f->unmount("base"));

    REQUIRE(f->remove("top"));
    CHECK_FALSE(f->exists("top"));
    REQUIRE(f->remove("top"));  // missing is fine
    REQUIRE(f->remove("base"));
    CHECK(f->list()->empty());
    auto missing = f->mount("base");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == Errc::NotFound);
    CHECK(f.leftovers().empty());
}

TEST_CASE_TEMPLATE("stacked layers: whiteouts, opaque directories, container layer", T, VfsDriverT, OverlayDriverT) {
    if (!driver_available(T::name)) return;
    Fixture f(T::name);
    f.layer("base", "", base_tar());
    f.layer("top", "base", top_tar());
    check_top_view(f.mount("top"));
    CHECK(present(f.mount("base") + "/f_deleted"));  // the lower layer is unchanged

    REQUIRE(f->create("c-1", "top", true));
    std::string root = f.mount("c-1");
    check_top_view(root);
    write_file(root + "/written", "by container");
    CHECK(read_file(root + "/written") == "by container");
    CHECK_FALSE(present(f.mount("top") + "/written"));
    REQUIRE(f->unmount("c-1"));
    REQUIRE(f->unmount("top"));
    REQUIRE(f->unmount("top"));
    REQUIRE(f->unmount("base"));

    // Remount after unmount: the container's write persisted.
    root = f.mount("c-1");
    CHECK(read_file(root + "/written") == "by container");
    REQUIRE(f->unmount("c-1"));
}

TEST_CASE_TEMPLATE("a failed apply leaves no layer behind", T, VfsDriverT, OverlayDriverT) {
    if (!driver_available(T::name)) return;
    Fixture f(T::name);
    f.layer("base", "", base_tar());
    std::string good = TarBuilder().file("ok1", "1").file("ok2", std::string(100000, '2')).build();
    std::string hostile = TarBuilder().file("ok1", "1").file("../escape", "x").build();
    std::string gz = compress(good, "gzip");

    struct Case {
        const char* what;
        ReadFn read;
        Errc code;
    };
    std::vector<Case> cases = {
        {"hostile entry mid-way", string_reader(hostile), Errc::InvalidArgument},
        {"truncated gzip", string_reader(gz.substr(0, gz.size() - 40)), Errc::InvalidArgument},
        {"reader failure", string_reader(good, 4096, 60000), Errc::Unavailable},
    };
    for (auto& c : cases) {
        CAPTURE(c.what);
        REQUIRE(f->create("layer", "base", false));
        auto stats = f->apply_diff("layer", c.read);
        REQUIRE_FALSE(stats);
        CHECK(stats.error().code == c.code);
        CHECK_FALSE(f->exists("layer"));
        CHECK(*f->list() == std::vector<std::string>{"base"});
        CHECK(f.leftovers().empty());
        REQUIRE(f->remove("layer"));  // what the engine does after a failure: fine when gone
    }
    CHECK_FALSE(present(f.tmp.path() + "/escape"));
    // The id is usable again.
    f.layer("layer", "base", good);
    CHECK(read_file(f.mount("layer") + "/ok1") == "1");
    REQUIRE(f->unmount("layer"));
    if (f.kind == "overlay2") CHECK(std::distance(fs::directory_iterator(f.home() + "/l"), {}) == 2);
}

TEST_CASE_TEMPLATE("mount is reference counted", T, VfsDriverT, OverlayDriverT) {
    if (!driver_available(T::name)) return;
    Fixture f(T::name);
    f.layer("base", "", base_tar());
    REQUIRE(f->create("c", "base", true));
    std::string p1 = f.mount("c");
    std::string p2 = f.mount("c");
    CHECK(p1 == p2);
    bool kernel_mount = f.kind == "overlay2";
    CHECK(is_mounted(p1) == kernel_mount);
    REQUIRE(f->unmount("c"));
    CHECK(is_mounted(p1) == kernel_mount);  // one reference left
    CHECK(read_file(p1 + "/etc/hosts") == "127.0.0.1 localhost\n");
    REQUIRE(f->unmount("c"));
    CHECK_FALSE(is_mounted(p1));
    REQUIRE(f->unmount("c"));  // extra unmounts are harmless

    auto busy = f->apply_diff("base", string_reader(base_tar()));
    CHECK_FALSE(busy);

    // remove unmounts what is still mounted.
    f.mount("c");
    f.mount("c");
    REQUIRE(f->remove("c"));
    CHECK_FALSE(is_mounted(p1));
    CHECK_FALSE(f->exists("c"));

    // Shutdown with a running container: its layer stays mounted (live restore), the rest goes.
    REQUIRE(f->create("c2", "base", true));
    std::string p3 = f.mount("c2");
    REQUIRE(f->create("c3", "base", true));
    std::string p4 = f.mount("c3");
    REQUIRE(f->cleanup({"c3"}));
    CHECK_FALSE(is_mounted(p3));
    if (std::string(T::name) == "overlay2") {
        CHECK(is_mounted(p4));
        CHECK(is_mounted(f.home()));
    }
    // A plain cleanup() unmounts everything.
    REQUIRE(f->cleanup());
    CHECK_FALSE(is_mounted(p4));
    CHECK_FALSE(is_mounted(f.home()));
}

TEST_CASE_TEMPLATE("changes and size of a container layer", T, VfsDriverT, OverlayDriverT) {
    if (!driver_available(T::name)) return;
    Fixture f(T::name);
    f.layer("base", "", base_tar());
    REQUIRE(f->create("c", "base", true));
    std::string root = f.mount("c");
    CHECK(f->changes("c")->empty());
    CHECK(*f->size("c") == 0);
    mutate(root);
    auto changes = f->changes("c");
    REQUIRE_MESSAGE(changes, changes.error().message);
    CHECK_MESSAGE(*changes == kMutations, describe(*changes));
    auto size = f->size("c");
    REQUIRE(size);
    CHECK(*size == static_cast<int64_t>(std::string("127.0.0.1 localhost\n10.0.0.2 web\n").size() + 8 + 1000));
    REQUIRE(f->unmount("c"));

    // An image layer's changes relative to its parent.
    f.layer("top", "base", top_tar());
    auto top = f->changes("top");
    REQUIRE(top);
    auto has = [&](const std::string& path, Change::Kind kind) {
        return std::find(top->begin(), top->end(), Change{path, kind}) != top->end();
    };
    CHECK_MESSAGE(has("/f_deleted", Change::Deleted), describe(*top));
    CHECK_MESSAGE(has("/data/x", Change::Deleted), describe(*top));
    CHECK_MESSAGE(has("/etc/added", Change::Added), describe(*top));
    CHECK_MESSAGE(has("/opq/new", Change::Added), describe(*top));
    CHECK_MESSAGE(has("/opq/old1", Change::Deleted), describe(*top));
    CHECK_MESSAGE(has("/opq/sub", Change::Deleted), describe(*top));
    CHECK_FALSE(has("/etc/passwd", Change::Modified));
}

TEST_CASE_TEMPLATE("a container diff applied in the other driver gives the same tree", T, VfsDriverT, OverlayDriverT) {
    if (!driver_available(T::name) || !driver_available(T::other)) return;
    Fixture src(T::name);
    Fixture dst(T::other);
    for (Fixture* f : {&src, &dst}) {
        f->layer("base", "", base_tar());
        f->layer("top", "base", top_tar());
    }
    REQUIRE(src->create("c", "top", true));
    std::string root = src.mount("c");
    mutate(root);
    fs::remove_all(root + "/opq");  // recreated: overlay marks it opaque
    fs::create_directories(root + "/opq/fresh");
    write_file(root + "/opq/fresh/file", "fresh");
    REQUIRE(::chmod((root + "/etc/passwd").c_str(), 0600) == 0);
    REQUIRE(::chown((root + "/etc/added").c_str(), 42, 43) == 0);
    REQUIRE(::symlink("/etc/hosts", (root + "/hosts-link").c_str()) == 0);
    REQUIRE(::link((root + "/etc/new").c_str(), (root + "/etc/new-link").c_str()) == 0);
    REQUIRE(::setxattr((root + "/etc/new").c_str(), "user.tag", "v", 1, 0) == 0);
    REQUIRE(::mkfifo((root + "/pipe").c_str(), 0644) == 0);

    Collector tar;
    auto st = src->diff("c", tar.sink());
    REQUIRE_MESSAGE(st, st.error().message);
    auto names = tar_names(tar.data);
    CHECK(std::find(names.begin(), names.end(), "data") == names.end());
    CHECK(std::find(names.begin(), names.end(), ".wh.data") != names.end());
    CHECK(std::find(names.begin(), names.end(), "bin/.wh.sh") != names.end());

    REQUIRE(dst->create("replay", "top", false));
    auto stats = dst->apply_diff("replay", string_reader(tar.data));
    REQUIRE_MESSAGE(stats, stats.error().message);
    CHECK(stats->diff_id == sha256_digest(tar.data));
    std::string replay = dst.mount("replay");
    auto a = snapshot(root), b = snapshot(replay);
    CHECK_MESSAGE(a == b, describe_difference(a, b));

    // An image layer's diff reproduces it as well.
    Collector top;
    REQUIRE(src->diff("top", top.sink()));
    REQUIRE(dst->create("top2", "base", false));
    REQUIRE(dst->apply_diff("top2", string_reader(top.data)));
    auto t1 = snapshot(src.mount("top")), t2 = snapshot(dst.mount("top2"));
    CHECK_MESSAGE(t1 == t2, describe_difference(t1, t2));
}

TEST_CASE_TEMPLATE("crash leftovers are swept when the driver starts", T, VfsDriverT, OverlayDriverT) {
    if (!driver_available(T::name)) return;
    Fixture f(T::name);
    f.layer("base", "", base_tar());
    f.close();
    // What a crash mid-create / mid-apply leaves: staging dirs, and for overlay an l/ link whose
    // layer never appeared, for vfs meta without a layer dir.
    fs::create_directories(f.home() + "/tmp-crashed/diff/usr");
    write_file(f.home() + "/tmp-crashed/diff/usr/half", "half");
    if (f.kind == "overlay2") {
        REQUIRE(::symlink("../never/diff", (f.home() + "/l/DANGLING").c_str()) == 0);
    } else {
        fs::create_directories(f.home() + "/meta/orphan");
        fs::create_directories(f.home() + "/meta/tmp-crashed");
    }
    f.open();
    CHECK(f.leftovers().empty());
    CHECK_FALSE(present(f.home() + "/l/DANGLING"));
    CHECK_FALSE(present(f.home() + "/meta/orphan"));
    CHECK(*f->list() == std::vector<std::string>{"base"});
    CHECK(read_file(f.mount("base") + "/etc/hosts") == "127.0.0.1 localhost\n");
}

TEST_CASE_TEMPLATE("layers can be created and applied concurrently", T, VfsDriverT, OverlayDriverT) {
    if (!driver_available(T::name)) return;
    Fixture f(T::name);
    f.layer("base", "", base_tar());
    std::vector<std::thread> workers;
    std::vector<Status> results(4);
    for (int i = 0; i < 4; ++i) {
        workers.emplace_back([&, i] {
            std::string id = "l" + std::to_string(i);
            results[i] = f->create(id, "base", false);
            if (!results[i]) return;
            std::string tar = compress(TarBuilder().file("n", std::to_string(i)).file("big", std::string(200000, 'a' + i)).build(), "gzip");
            auto stats = f->apply_diff(id, string_reader(tar));
            if (!stats) results[i] = stats.error();
        });
    }
    for (auto& w : workers) w.join();
    for (int i = 0; i < 4; ++i) {
        REQUIRE_MESSAGE(results[i], results[i].error().message);
        std::string id = "l" + std::to_string(i);
        CHECK(read_file(f.mount(id) + "/n") == std::to_string(i));
        CHECK(read_file(f.mount(id) + "/etc/hosts") == "127.0.0.1 localhost\n");
    }
    CHECK(f->list()->size() == 5);
}

TEST_CASE_TEMPLATE("a container's very deep tree: diff refuses, remove still works", T, VfsDriverT, OverlayDriverT) {
    if (!driver_available(T::name)) return;
    Fixture f(T::name);
    f.layer("base", "", base_tar());
    REQUIRE(f->create("c", "base", true));
    std::string root = f.mount("c");
    // mkdir + descend in a loop, as a process in the container could: deeper than PATH_MAX allows
    // to name from the root.
    int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    int depth = 0;
    for (; depth < 5000; ++depth) {
        int next = ::mkdirat(fd, "d", 0755) == 0 ? ::openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        ::close(fd);
        fd = next;
        if (fd < 0) break;
    }
    if (fd >= 0) ::close(fd);
    REQUIRE(depth == 5000);
    Collector tar;
    auto st = f->diff("c", tar.sink());
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::InvalidArgument);
    auto changes = f->changes("c");
    REQUIRE_FALSE(changes);
    CHECK(changes.error().code == Errc::InvalidArgument);
    REQUIRE(f->unmount("c"));
    auto removed = f->remove("c");
    REQUIRE_MESSAGE(removed, removed.error().message);
    CHECK_FALSE(f->exists("c"));
    CHECK(f.leftovers().empty());
}

TEST_CASE("overlay: long layer chains fit the mount options") {
    if (!driver_available("overlay2")) return;
    Fixture f("overlay2");
    // 100 layers with 64-char ids: absolute lowerdir paths would need ~10 KB, over one page.
    std::string parent;
    for (int i = 0; i < 100; ++i) {
        std::string id = sha256_hex(std::to_string(i));
        f.layer(id, parent, TarBuilder().file("layer-" + std::to_string(i), std::to_string(i)).build());
        parent = id;
    }
    REQUIRE(f->create("c", parent, true));
    std::string root = f.mount("c");
    CHECK(read_file(root + "/layer-0") == "0");
    CHECK(read_file(root + "/layer-99") == "99");
    REQUIRE(f->unmount("c"));
}

}  // TEST_SUITE
