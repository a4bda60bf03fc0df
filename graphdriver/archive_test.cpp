// apply_tar / write_tar: attributes, compression and diffIDs, whiteout modes, hostile archives.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>

#include "engine/base/digest.hpp"
#include "graphdriver/archive.hpp"
#include "graphdriver/testing/test_util.hpp"

using namespace ctl;
using namespace ctl::graph;
using namespace ctl::graph::testing;

namespace {

struct stat lstat_of(const std::string& p) {
    struct stat st {};
    REQUIRE_MESSAGE(::lstat(p.c_str(), &st) == 0, "missing " << p);
    return st;
}

bool present(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0;
}

std::string xattr_of(const std::string& p, const char* key) {
    char buf[256];
    ssize_t n = ::lgetxattr(p.c_str(), key, buf, sizeof buf);
    return n >= 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("<none>");
}

// A directory outside the extraction root with content an escaping entry would touch.
struct Canary {
    TempDir tmp;
    std::string root = tmp.make("root");
    std::string dir = tmp.make("canary");
    std::map<std::string, std::string> before;

    Canary() {
        write_file(dir + "/keep", "canary");
        std::filesystem::create_directories(dir + "/sub");
        write_file(dir + "/sub/inner", "inner");
        ::chmod(dir.c_str(), 0755);
        struct timespec ts[2] = {{1000, 0}, {1000, 0}};
        ::utimensat(AT_FDCWD, dir.c_str(), ts, 0);
        before = snapshot_with_self();
    }
    std::map<std::string, std::string> snapshot_with_self() const {
        auto s = snapshot(dir);
        struct stat st;
        ::lstat(dir.c_str(), &st);
        s["."] = std::to_string(st.st_mode) + " " + std::to_string(st.st_mtim.tv_sec) + " " +
                 std::to_string(st.st_uid);
        return s;
    }
    void check_untouched() const {
        auto after = snapshot_with_self();
        CHECK_MESSAGE(after == before, describe_difference(before, after));
    }
};

}  // namespace

TEST_SUITE("archive") {

TEST_CASE("regular files, directories, modes, owners and mtimes are kept") {
    TarBuilder tar;
    tar.dir("a/", dir_meta(0750, 1000, 1001, 1600000000))
        .file("a/f", "hello", Meta{04755, 1234, 5678, 1500000000, {}})
        .file("a/g", std::string(100000, 'x'), Meta{0600, 7, 8, 1400000000, {}})
        .dir("a/ro/", dir_meta(0555, 0, 0, 1300000000))
        .file("a/ro/inside", "z");
    for (const char* filter : {"", "gzip"}) {
        CAPTURE(filter);
        TempDir tmp;
        std::string root = tmp.make("root");
        std::string data = tar.build();
        auto stats = extract(root, *filter ? compress(data, filter) : data);
        REQUIRE_MESSAGE(stats, stats.error().message);
        CHECK(stats->size == 5 + 100000 + 1);
        auto a = lstat_of(root + "/a");
        CHECK(S_ISDIR(a.st_mode));
        CHECK((a.st_mode & 07777) == 0750);
        CHECK(a.st_uid == 1000);
        CHECK(a.st_gid == 1001);
        CHECK(a.st_mtim.tv_sec == 1600000000);  // applied after its children were written
        auto f = lstat_of(root + "/a/f");
        CHECK((f.st_mode & 07777) == 04755);  // chown before chmod keeps the setuid bit
        CHECK(f.st_uid == 1234);
        CHECK(f.st_gid == 5678);
        CHECK(f.st_mtim.tv_sec == 1500000000);
        CHECK(read_file(root + "/a/f") == "hello");
        CHECK(read_file(root + "/a/g") == std::string(100000, 'x'));
        auto ro = lstat_of(root + "/a/ro");
        CHECK((ro.st_mode & 07777) == 0555);
        CHECK(ro.st_mtim.tv_sec == 1300000000);
        CHECK(read_file(root + "/a/ro/inside") == "z");
    }
}

TEST_CASE("symlinks, hard links, devices and fifos") {
    TempDir tmp;
    std::string root = tmp.make("root");
    TarBuilder tar;
    tar.file("bin/busybox", "#!", Meta{0755, 0, 0, 1, {}})
        .hardlink("bin/sh", "bin/busybox")
        .hardlink("bin/ls", "/bin/busybox")  // absolute link names are relative to the root
        .symlink("bin/abs", "/bin/busybox")
        .symlink("bin/rel", "busybox")
        .chardev("dev/null", 1, 3, Meta{0666, 0, 0, 1, {}})
        .fifo("run/fifo", Meta{0620, 5, 6, 1, {}});
    auto stats = extract(root, tar.build());
    REQUIRE_MESSAGE(stats, stats.error().message);
    auto bb = lstat_of(root + "/bin/busybox");
    CHECK(bb.st_nlink == 3);
    CHECK(lstat_of(root + "/bin/sh").st_ino == bb.st_ino);
    CHECK(lstat_of(root + "/bin/ls").st_ino == bb.st_ino);
    CHECK(std::filesystem::read_symlink(root + "/bin/abs") == "/bin/busybox");
    CHECK(std::filesystem::read_symlink(root + "/bin/rel") == "busybox");
    auto null = lstat_of(root + "/dev/null");
    CHECK(S_ISCHR(null.st_mode));
    CHECK(null.st_rdev == makedev(1, 3));
    CHECK((null.st_mode & 0777) == 0666);
    auto fifo = lstat_of(root + "/run/fifo");
    CHECK(S_ISFIFO(fifo.st_mode));
    CHECK((fifo.st_mode & 0777) == 0620);
    CHECK(fifo.st_uid == 5);
    // Parents the archive did not list are created 0755.
    CHECK((lstat_of(root + "/bin").st_mode & 07777) == 0755);
}

TEST_CASE("xattrs: user.* and security.capability kept, trusted.* and other security.* dropped") {
    TempDir tmp;
    std::string root = tmp.make("root");
    Meta m;
    m.xattrs = {{"user.note", "hello"}, {"trusted.overlay.opaque", "y"}, {"security.selinux", "system_u:object_r:x"},
                {"trusted.evil", "1"}};
    TarBuilder tar;
    tar.file("f", "data", m).dir("d/", Meta{0755, 0, 0, 1, {{"user.d", "1"}, {"trusted.overlay.opaque", "y"}}});
    auto stats = extract(root, tar.build());
    REQUIRE_MESSAGE(stats, stats.error().message);
    CHECK(xattr_of(root + "/f", "user.note") == "hello");
    CHECK(xattr_of(root + "/f", "trusted.overlay.opaque") == "<none>");
    CHECK(xattr_of(root + "/f", "trusted.evil") == "<none>");
    CHECK(xattr_of(root + "/d", "user.d") == "1");
    CHECK(xattr_of(root + "/d", "trusted.overlay.opaque") == "<none>");
}

TEST_CASE("compression is detected and the diffID is the sha256 of the uncompressed stream") {
    TarBuilder tar;
    tar.dir("etc/").file("etc/hostname", "box\n").file("big", std::string(300000, 'q'));
    std::string plain = tar.build();
    REQUIRE(plain.size() % 10240 == 0);  // padded record: trailing zeros must be hashed too
    std::string expected = sha256_digest(plain);
    for (const char* filter : {"", "gzip", "bzip2", "xz", "zstd"}) {
        CAPTURE(filter);
        TempDir tmp;
        std::string root = tmp.make("root");
        std::string blob = *filter ? compress(plain, filter) : plain;
        auto stats = apply_tar(root, string_reader(blob, 1000), {});
        REQUIRE_MESSAGE(stats, stats.error().message);
        CHECK(stats->diff_id == expected);
        CHECK(stats->size == 4 + 300000);
        CHECK(read_file(root + "/etc/hostname") == "box\n");
    }
}

TEST_CASE("empty, garbage, truncated, oversized and failing streams") {
    TempDir tmp;
    std::string root = tmp.make("root");
    SUBCASE("an empty stream is an empty layer") {
        auto stats = extract(root, "");
        REQUIRE_MESSAGE(stats, stats.error().message);
        CHECK(stats->diff_id == sha256_digest(""));
        CHECK(stats->size == 0);
    }
    SUBCASE("only the end-of-archive blocks") {
        std::string zeros(1024, '\0');
        auto stats = extract(root, compress(zeros, "gzip"));
        REQUIRE_MESSAGE(stats, stats.error().message);
        CHECK(stats->diff_id == sha256_digest(zeros));
    }
    SUBCASE("garbage") {
        auto stats = extract(root, std::string(5000, 'g'));
        REQUIRE_FALSE(stats);
        CHECK(stats.error().code == Errc::InvalidArgument);
    }
    SUBCASE("truncated gzip") {
        std::string gz = compress(TarBuilder().file("f", std::string(200000, 'r')).build(), "gzip");
        auto stats = extract(root, gz.substr(0, gz.size() / 2));
        REQUIRE_FALSE(stats);
        CHECK(stats.error().code == Errc::InvalidArgument);
    }
    SUBCASE("size cap") {
        ApplyOptions options;
        options.max_size = 100000;
        auto stats = extract(root, compress(TarBuilder().file("f", std::string(500000, 'b')).build(), "gzip"), options);
        REQUIRE_FALSE(stats);
        CHECK(stats.error().code == Errc::TooLarge);
    }
    SUBCASE("reader error") {
        std::string data = TarBuilder().file("f", std::string(100000, 'b')).build();
        auto stats = apply_tar(root, string_reader(data, 4096, 50000), {});
        REQUIRE_FALSE(stats);
        CHECK(stats.error().code == Errc::Unavailable);
    }
}

TEST_CASE("whiteout modes") {
    TempDir tmp;
    std::string root = tmp.make("root");
    // What an earlier layer left (vfs: the copy of the parent).
    std::filesystem::create_directories(root + "/dir/sub");
    write_file(root + "/dir/old", "old");
    write_file(root + "/dir/sub/x", "x");
    write_file(root + "/gone", "gone");
    write_file(root + "/stay", "stay");
    TarBuilder tar;
    tar.file(".wh.gone", "")
        .dir("dir/")
        .file("dir/.wh..wh..opq", "")
        .file("dir/new", "new")
        .file("dir/.wh..wh.plnk", "")  // aufs metadata: ignored
        .file(".wh.never-existed", "");

    SUBCASE("overlay: character devices and the opaque xattr") {
        auto stats = extract(root, tar.build());
        REQUIRE_MESSAGE(stats, stats.error().message);
        auto wh = lstat_of(root + "/gone");
        CHECK(S_ISCHR(wh.st_mode));
        CHECK(wh.st_rdev == 0);
        CHECK(S_ISCHR(lstat_of(root + "/never-existed").st_mode));
        CHECK(xattr_of(root + "/dir", "trusted.overlay.opaque") == "y");
        CHECK(read_file(root + "/dir/new") == "new");
        CHECK_FALSE(present(root + "/dir/.wh..wh..opq"));
        CHECK_FALSE(present(root + "/dir/.wh..wh.plnk"));
    }
    SUBCASE("delete: whited-out paths and the opaque dir's old content go") {
        ApplyOptions options;
        options.whiteouts = WhiteoutMode::Delete;
        auto stats = extract(root, tar.build(), options);
        REQUIRE_MESSAGE(stats, stats.error().message);
        CHECK_FALSE(present(root + "/gone"));
        CHECK_FALSE(present(root + "/never-existed"));
        CHECK(read_file(root + "/stay") == "stay");
        CHECK_FALSE(present(root + "/dir/old"));
        CHECK_FALSE(present(root + "/dir/sub"));
        CHECK(read_file(root + "/dir/new") == "new");
        CHECK(xattr_of(root + "/dir", "trusted.overlay.opaque") == "<none>");
    }
    SUBCASE("delete: an opaque marker after the new content keeps it") {
        ApplyOptions options;
        options.whiteouts = WhiteoutMode::Delete;
        TarBuilder late;
        late.dir("dir/").file("dir/new", "new").file("dir/.wh..wh..opq", "");
        auto stats = extract(root, late.build(), options);
        REQUIRE_MESSAGE(stats, stats.error().message);
        CHECK(read_file(root + "/dir/new") == "new");
        CHECK_FALSE(present(root + "/dir/old"));
    }
    SUBCASE("delete: a late opaque marker purges lower content at every depth") {
        ApplyOptions options;
        options.whiteouts = WhiteoutMode::Delete;
        TarBuilder late;
        late.dir("dir/").dir("dir/sub/").file("dir/sub/y", "y").file("dir/kept/z", "z").file("dir/.wh..wh..opq", "");
        std::filesystem::create_directories(root + "/dir/kept");
        write_file(root + "/dir/kept/lower", "lower");
        auto stats = extract(root, late.build(), options);
        REQUIRE_MESSAGE(stats, stats.error().message);
        CHECK_FALSE(present(root + "/dir/old"));
        CHECK_FALSE(present(root + "/dir/sub/x"));  // under a directory the layer lists again
        CHECK(read_file(root + "/dir/sub/y") == "y");
        CHECK_FALSE(present(root + "/dir/kept/lower"));  // under an implied parent
        CHECK(read_file(root + "/dir/kept/z") == "z");
    }
    SUBCASE("none: extracted literally") {
        ApplyOptions options;
        options.whiteouts = WhiteoutMode::None;
        auto stats = extract(root, tar.build(), options);
        REQUIRE_MESSAGE(stats, stats.error().message);
        CHECK(present(root + "/.wh.gone"));
        CHECK(read_file(root + "/gone") == "gone");
        CHECK(present(root + "/dir/.wh..wh..opq"));
        CHECK(read_file(root + "/dir/old") == "old");
    }
}

TEST_CASE("hostile archives never write outside the root") {
    Canary c;
    const std::string& root = c.root;
    std::string canary_abs = c.dir;
    ApplyOptions overlay_mode;
    ApplyOptions delete_mode;
    delete_mode.whiteouts = WhiteoutMode::Delete;

    auto expect_rejected = [&](const Result<ApplyStats>& r) {
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::InvalidArgument);
    };

    SUBCASE("../ escape") {
        expect_rejected(extract(root, TarBuilder().file("../canary/pwned", "x").build()));
        CHECK_FALSE(present(c.dir + "/pwned"));
    }
    SUBCASE("a/../../ escape") {
        expect_rejected(extract(root, TarBuilder().dir("a/").file("a/../../canary/pwned", "x").build()));
    }
    SUBCASE("absolute paths are confined") {
        std::string name = canary_abs + "/pwned";
        auto r = extract(root, TarBuilder().file(name, "x").file("/abs/path", "y").build());
        REQUIRE_MESSAGE(r, r.error().message);
        CHECK(read_file(root + name) == "x");
        CHECK(read_file(root + "/abs/path") == "y");
        CHECK_FALSE(present("/abs/path"));
    }
    SUBCASE("write through an absolute symlink") {
        auto r = extract(root, TarBuilder().symlink("evil", canary_abs).file("evil/pwned", "x").build());
        if (r) {
            CHECK(read_file(root + canary_abs + "/pwned") == "x");  // confined: resolved inside the root
        } else {
            CHECK(r.error().code == Errc::InvalidArgument);
        }
    }
    SUBCASE("write through a relative symlink climbing out") {
        auto r = extract(root, TarBuilder().symlink("up", "../../../../../..").file("up/canary/pwned", "x").build());
        if (r) CHECK(read_file(root + "/canary/pwned") == "x");  // ".." stops at the root
        else CHECK(r.error().code == Errc::InvalidArgument);
    }
    SUBCASE("write through an existing symlink into the root's own subdir") {
        std::filesystem::create_directories(root + canary_abs);
        auto r = extract(root, TarBuilder().symlink("evil", canary_abs).file("evil/pwned", "x").build());
        REQUIRE_MESSAGE(r, r.error().message);
        CHECK(read_file(root + canary_abs + "/pwned") == "x");
    }
    SUBCASE("a file entry replaces a symlink instead of writing through it") {
        auto r = extract(root, TarBuilder().symlink("s", canary_abs + "/keep").file("s", "pwned").build());
        REQUIRE_MESSAGE(r, r.error().message);
        CHECK(S_ISREG(lstat_of(root + "/s").st_mode));
        CHECK(read_file(root + "/s") == "pwned");
    }
    SUBCASE("hard link to /etc/passwd") {
        struct stat passwd = lstat_of("/etc/passwd");
        auto r = extract(root, TarBuilder().hardlink("pw", "/etc/passwd").build());
        expect_rejected(r);
        CHECK(lstat_of("/etc/passwd").st_nlink == passwd.st_nlink);
        CHECK_FALSE(present(root + "/pw"));
    }
    SUBCASE("hard link to the root's own /etc/passwd is fine") {
        auto r = extract(root, TarBuilder().file("etc/passwd", "root:x:0:0").hardlink("pw", "/etc/passwd").build());
        REQUIRE_MESSAGE(r, r.error().message);
        CHECK(lstat_of(root + "/pw").st_ino == lstat_of(root + "/etc/passwd").st_ino);
        CHECK(lstat_of(root + "/pw").st_ino != lstat_of("/etc/passwd").st_ino);
    }
    SUBCASE("hard link climbing out or through a symlink") {
        expect_rejected(extract(root, TarBuilder().hardlink("h", "../canary/keep").build()));
        expect_rejected(extract(root, TarBuilder().symlink("s", canary_abs).hardlink("h", "s/keep").build()));
        CHECK(lstat_of(c.dir + "/keep").st_nlink == 1);
    }
    SUBCASE("whiteouts naming the parent") {
        expect_rejected(extract(root, TarBuilder().dir("a/").file("a/.wh...", "").build(), delete_mode));
        expect_rejected(extract(root, TarBuilder().file(".wh...", "").build(), overlay_mode));
        expect_rejected(extract(root, TarBuilder().dir("a/").file("a/.wh..", "").build(), delete_mode));
        expect_rejected(extract(root, TarBuilder().file("../.wh.canary", "").build(), delete_mode));
        CHECK(present(root));
    }
    SUBCASE("whiteouts through a symlink") {
        auto r = extract(root, TarBuilder().symlink("evil", canary_abs).file("evil/.wh.keep", "").build(), delete_mode);
        if (!r) CHECK(r.error().code == Errc::InvalidArgument);
        auto r2 = extract(root, TarBuilder().file("evil/.wh..wh..opq", "").build(), delete_mode);
        if (!r2) CHECK(r2.error().code == Errc::InvalidArgument);
        auto r3 = extract(root, TarBuilder().symlink("evil2", canary_abs).file("evil2/.wh.keep", "").build(), overlay_mode);
        if (!r3) CHECK(r3.error().code == Errc::InvalidArgument);
    }
    SUBCASE("a directory later replaced by a symlink: deferred chmod/utimes do not follow it") {
        auto r = extract(root, TarBuilder()
                                 .dir("d/", dir_meta(0777, 0, 0, 5))
                                 .file("d/f", "x")
                                 .symlink("d", canary_abs)
                                 .build());
        REQUIRE_MESSAGE(r, r.error().message);
        CHECK(S_ISLNK(lstat_of(root + "/d").st_mode));
    }
    SUBCASE("a symlink replaced by a directory, then written into") {
        auto r = extract(root, TarBuilder().symlink("d", canary_abs).dir("d/", dir_meta(0700)).file("d/pwned", "x").build());
        REQUIRE_MESSAGE(r, r.error().message);
        CHECK(S_ISDIR(lstat_of(root + "/d").st_mode));
        CHECK(read_file(root + "/d/pwned") == "x");
    }
    SUBCASE("the root itself cannot be replaced") {
        expect_rejected(extract(root, TarBuilder().symlink("./", canary_abs).build()));
        expect_rejected(extract(root, TarBuilder().file("/", "x").build()));
    }
    c.check_untouched();
    CHECK_FALSE(present(c.dir + "/pwned"));
}

TEST_CASE("target: extraction below a directory of the root") {
    Canary c;
    std::filesystem::create_directories(c.root + "/dst");
    ::symlink("/dst", (c.root + "/link").c_str());
    ApplyOptions options;
    options.whiteouts = WhiteoutMode::None;
    options.target = "/link";  // resolved inside the root: /dst
    auto r = extract(c.root, TarBuilder().file("f", "x").build(), options);
    REQUIRE_MESSAGE(r, r.error().message);
    CHECK(read_file(c.root + "/dst/f") == "x");
    auto bad = extract(c.root, TarBuilder().file("../f", "x").build(), options);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == Errc::InvalidArgument);
    options.target = "/missing";
    CHECK_FALSE(extract(c.root, TarBuilder().file("f", "x").build(), options));
    c.check_untouched();
}

TEST_CASE("write_tar round-trips a tree") {
    TempDir tmp;
    std::string src = tmp.make("src");
    TarBuilder tar;
    tar.dir("a/", dir_meta(0750, 10, 20, 1600000000))
        .file("a/f", "hello", Meta{04755, 1234, 5678, 1500000000, {{"user.k", "v"}}})
        .hardlink("a/f2", "a/f")
        .symlink("a/l", "../x")
        .chardev("a/c", 4, 5, Meta{0600, 0, 0, 1, {}})
        .fifo("a/p")
        .file("\xc3\xbc-utf8", "u")
        .file("raw-\xff", "r")
        .file(std::string(150, 'n') + "/long", "long name");
    REQUIRE(extract(src, tar.build()));

    Collector out;
    REQUIRE(write_tar(src, out.sink()));
    auto names = tar_names(out.data);
    CHECK(std::find(names.begin(), names.end(), "a/") != names.end());
    CHECK(std::find(names.begin(), names.end(), "./") == names.end());

    std::string dst = tmp.make("dst");
    auto stats = extract(dst, out.data);
    REQUIRE_MESSAGE(stats, stats.error().message);
    auto a = snapshot(src), b = snapshot(dst);
    CHECK_MESSAGE(a == b, describe_difference(a, b));
    CHECK(lstat_of(dst + "/a/f2").st_ino == lstat_of(dst + "/a/f").st_ino);

    SUBCASE("with a renamed top entry, and of a single file") {
        Collector named;
        TarOptions options;
        options.name = "copy";
        REQUIRE(write_tar(src + "/a", named.sink(), options));
        auto n = tar_names(named.data);
        REQUIRE(!n.empty());
        CHECK(n[0] == "copy/");
        CHECK(std::find(n.begin(), n.end(), "copy/f") != n.end());

        Collector single;
        options.name = "renamed";
        REQUIRE(write_tar(src + "/a/f", single.sink(), options));
        CHECK(tar_names(single.data) == std::vector<std::string>{"renamed"});
    }
    SUBCASE("resolved inside a root: symlinks cannot lead out") {
        ::symlink("/", (src + "/toroot").c_str());
        ::symlink("/etc", (src + "/etc-link").c_str());
        Collector confined;
        TarOptions options;
        options.root = src;
        options.name = "x";
        REQUIRE(write_tar("/toroot/a/f", confined.sink(), options));  // "/" is src itself
        CHECK(tar_names(confined.data) == std::vector<std::string>{"x"});
        auto missing = write_tar("/toroot/etc/passwd", confined.sink(), options);
        REQUIRE_FALSE(missing);
        CHECK(missing.error().code == Errc::NotFound);
    }
    SUBCASE("a missing path") {
        auto st = write_tar(src + "/nope", out.sink());
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::NotFound);
    }
    SUBCASE("a sink error stops the writer") {
        auto st = write_tar(src, [](const char*, size_t) -> Status { return make_error(Errc::Cancelled, "gone"); });
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::Cancelled);
    }
}

TEST_CASE("write_tar translates overlay whiteouts back to OCI entries") {
    TempDir tmp;
    std::string upper = tmp.make("upper");
    TarBuilder tar;
    tar.file(".wh.gone", "").dir("o/").file("o/.wh..wh..opq", "").file("o/new", "n").file("keep", "k");
    REQUIRE(extract(upper, tar.build()));  // overlay form on disk
    Collector out;
    TarOptions options;
    options.overlay_whiteouts = true;
    REQUIRE(write_tar(upper, out.sink(), options));
    auto names = tar_names(out.data);
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{".wh.gone", "keep", "o/", "o/.wh..wh..opq", "o/new"});
    // Without translation the device is archived as it is.
    Collector raw;
    REQUIRE(write_tar(upper, raw.sink()));
    auto raw_names = tar_names(raw.data);
    CHECK(std::find(raw_names.begin(), raw_names.end(), "gone") != raw_names.end());
}

}  // TEST_SUITE
