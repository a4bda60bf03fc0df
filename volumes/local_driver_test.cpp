#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "engine/base/sys.hpp"
#include "graphdriver/testing/test_util.hpp"
#include "volumes/local_driver.hpp"

using namespace ctl;
using namespace ctl::volumes;
using ctl::graph::testing::TempDir;
using ctl::graph::testing::is_mounted;
using ctl::graph::testing::read_file;
using ctl::graph::testing::write_file;

namespace {

bool is_root() { return ::geteuid() == 0; }

int mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return static_cast<int>(st.st_mode & 07777);
}

// Writes `bytes` zero bytes to path; returns the errno of the first failing write (0 if none).
int fill(const std::string& path, size_t bytes) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno;
    std::string chunk(64 * 1024, '\0');
    int err = 0;
    for (size_t done = 0; done < bytes && err == 0;) {
        ssize_t n = ::write(fd, chunk.data(), std::min(chunk.size(), bytes - done));
        if (n < 0) err = errno;
        else done += static_cast<size_t>(n);
    }
    ::close(fd);
    return err;
}

}  // namespace

TEST_SUITE("volumes.local_driver") {
    TEST_CASE("volume names: Docker's [a-zA-Z0-9][a-zA-Z0-9_.-]+") {
        const std::vector<std::string> goods = {"ab", "data", "my_vol.1-x", "0a", "A.", std::string(255, 'a')};
        for (const auto& good : goods) {
            CAPTURE(good);
            CHECK(valid_volume_name(good));
            CHECK(validate_volume_name(good));
        }
        const std::vector<std::string> bads = {"", "a", ".hidden", "-x", "_x", "a/b", "..", "a b", "tmp:x", "ä1",
                                               std::string(256, 'a')};
        for (const auto& bad : bads) {
            CAPTURE(bad);
            CHECK_FALSE(valid_volume_name(bad));
        }
        auto short_name = validate_volume_name("a");
        REQUIRE_FALSE(short_name);
        CHECK(short_name.error().code == Errc::InvalidArgument);
        CHECK(short_name.error().message ==
              "volume name is too short, names should be at least two alphanumeric characters");
        auto slash = validate_volume_name("a/b");
        REQUIRE_FALSE(slash);
        CHECK(slash.error().message.find("\"a/b\" includes invalid characters for a local volume name") == 0);
    }

    TEST_CASE("mount options: flag words become flags, the rest is data") {
        struct Case {
            const char* o;
            unsigned long flags;
            unsigned long propagation;
            const char* data;
        };
        const Case cases[] = {
            {"", 0, 0, ""},
            {"size=10m", 0, 0, "size=10m"},
            {"size=10m,uid=1000,mode=0700", 0, 0, "size=10m,uid=1000,mode=0700"},
            {"bind", MS_BIND, 0, ""},
            {"rbind,ro", MS_BIND | MS_REC | MS_RDONLY, 0, ""},
            {"ro,rw", 0, 0, ""},
            {"nosuid,nodev,noexec,size=1m", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, "size=1m"},
            {"bind,rprivate", MS_BIND, MS_PRIVATE | MS_REC, ""},
            {"defaults, addr=10.0.0.1 ,vers=4", 0, 0, "addr=10.0.0.1,vers=4"},
        };
        for (const auto& c : cases) {
            CAPTURE(c.o);
            auto m = parse_mount_options(c.o);
            CHECK(m.flags == c.flags);
            CHECK(m.propagation == c.propagation);
            CHECK(m.data == c.data);
        }
    }

    TEST_CASE("option validation at create: unknown keys and incomplete sets are refused") {
        LocalDriver d("/nonexistent");
        CHECK(d.validate({}));
        CHECK(d.validate({{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=10m"}}));
        CHECK(d.validate({{"type", "none"}, {"device", "/srv/data"}, {"o", "bind"}}));
        CHECK(d.validate({{"type", "ext4"}, {"device", "/dev/sdz1"}}));

        struct Bad {
            Options opts;
            const char* message;
        };
        const Bad bad[] = {
            {{{"foo", "bar"}}, "invalid option: \"foo\" (the local driver accepts type, device and o)"},
            {{{"type", "tmpfs"}, {"device", "tmpfs"}, {"mode", "0700"}}, "invalid option: \"mode\""},
            {{{"size", "10m"}}, "quota size requested but no quota support"},
            {{{"type", "tmpfs"}}, "missing required option: \"device\""},
            {{{"device", "tmpfs"}}, "missing required option: \"type\""},
            {{{"o", "size=1m"}}, "missing required option: \""},
            {{{"type", "none"}, {"device", "relative/dir"}, {"o", "bind"}}, "it must be an absolute host path"},
            {{{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "remount"}}, "invalid mount option \"remount\""},
            {{{"type", "tmpfs"}, {"device", ""}}, "\"device\" must not be empty"},
        };
        for (const auto& b : bad) {
            CAPTURE(b.message);
            auto st = d.validate(b.opts);
            REQUIRE_FALSE(st);
            CHECK(st.error().code == Errc::InvalidArgument);
            CHECK(st.error().message.find(b.message) != std::string::npos);
        }
        CHECK_FALSE(d.needs_mount({}));
        CHECK(d.needs_mount({{"type", "tmpfs"}, {"device", "tmpfs"}}));
    }

    TEST_CASE("create, list, remove: <root>/<name>/_data, 0755, all or nothing") {
        TempDir tmp;
        LocalDriver d(tmp.path() + "/volumes");
        REQUIRE(d.init());
        CHECK(mode_of(d.root()) == 0701);
        REQUIRE(d.create("data", {}));
        CHECK(d.path("data") == tmp.path() + "/volumes/data/_data");
        CHECK(d.exists("data"));
        CHECK(mode_of(d.path("data")) == 0755);
        CHECK(mode_of(d.root() + "/data") == 0755);
        auto again = d.create("data", {});
        REQUIRE_FALSE(again);
        CHECK(again.error().code == Errc::AlreadyExists);
        CHECK_FALSE(d.create("../escape", {}));
        CHECK_FALSE(sys::exists(tmp.path() + "/escape"));

        REQUIRE(d.create("other", {}));
        write_file(d.path("other") + "/f", "x");
        auto names = d.list();
        REQUIRE(names);
        CHECK(*names == std::vector<std::string>{"data", "other"});
        CHECK(d.usage("other", {}) > 0);
        CHECK(d.usage("other", {{"type", "tmpfs"}, {"device", "tmpfs"}}) == -1);

        REQUIRE(d.remove("other"));
        CHECK_FALSE(d.exists("other"));
        CHECK(d.remove("other"));  // missing is fine
        names = d.list();
        REQUIRE(names);
        CHECK(*names == std::vector<std::string>{"data"});
    }

    TEST_CASE("sweep removes staging leftovers and volumes nobody recorded") {
        TempDir tmp;
        LocalDriver d(tmp.path() + "/volumes");
        REQUIRE(d.init());
        REQUIRE(d.create("kept", {}));
        REQUIRE(d.create("orphan", {}));
        tmp.make("volumes/.tmp-abc/_data");
        tmp.make("volumes/.rm-xyz/_data/deep");
        write_file(tmp.path() + "/volumes/.rm-xyz/_data/deep/f", "x");
        d.sweep({"kept"});
        CHECK(d.exists("kept"));
        CHECK_FALSE(d.exists("orphan"));
        CHECK_FALSE(sys::exists(tmp.path() + "/volumes/.tmp-abc"));
        CHECK_FALSE(sys::exists(tmp.path() + "/volumes/.rm-xyz"));
    }

    TEST_CASE("tmpfs volume: size limit enforced while mounted, idempotent mount and unmount") {
        if (!is_root()) return;
        TempDir tmp;
        LocalDriver d(tmp.path() + "/volumes");
        REQUIRE(d.init());
        Options opts = {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m,mode=0750"}};
        REQUIRE(d.validate(opts));
        REQUIRE(d.create("small", opts));
        CHECK_FALSE(d.mounted("small"));
        REQUIRE(d.mount("small", opts));
        CHECK(d.mounted("small"));
        REQUIRE(d.mount("small", opts));  // already mounted: nothing stacks
        CHECK(mode_of(d.path("small")) == 0750);
        CHECK(fill(d.path("small") + "/ok", 256 * 1024) == 0);
        CHECK(fill(d.path("small") + "/big", 4 * 1024 * 1024) == ENOSPC);
        REQUIRE(d.unmount("small"));
        CHECK_FALSE(d.mounted("small"));
        CHECK_FALSE(sys::exists(d.path("small") + "/ok"));  // tmpfs data ends with the mount
        REQUIRE(d.unmount("small"));
        REQUIRE(d.remove("small"));
    }

    TEST_CASE("bind volume: removing it detaches the bind and never empties the host directory") {
        if (!is_root()) return;
        TempDir tmp;
        std::string host = tmp.make("host");
        write_file(host + "/precious", "keep me");
        LocalDriver d(tmp.path() + "/volumes");
        REQUIRE(d.init());
        Options opts = {{"type", "none"}, {"device", host}, {"o", "bind"}};
        REQUIRE(d.create("hostdata", opts));
        REQUIRE(d.mount("hostdata", opts));
        CHECK(read_file(d.path("hostdata") + "/precious") == "keep me");
        write_file(d.path("hostdata") + "/written", "through the volume");
        CHECK(read_file(host + "/written") == "through the volume");
        REQUIRE(d.remove("hostdata"));  // still mounted: remove must unmount, not recurse into it
        CHECK_FALSE(d.exists("hostdata"));
        CHECK(read_file(host + "/precious") == "keep me");
        CHECK(read_file(host + "/written") == "through the volume");
    }

    TEST_CASE("read-only bind volume and mount failures") {
        if (!is_root()) return;
        TempDir tmp;
        std::string host = tmp.make("host");
        LocalDriver d(tmp.path() + "/volumes");
        REQUIRE(d.init());
        Options ro = {{"type", "none"}, {"device", host}, {"o", "bind,ro"}};
        REQUIRE(d.create("ro", ro));
        REQUIRE(d.mount("ro", ro));
        CHECK(fill(d.path("ro") + "/x", 10) == EROFS);
        REQUIRE(d.unmount("ro"));

        Options missing = {{"type", "none"}, {"device", tmp.path() + "/does-not-exist"}, {"o", "bind"}};
        REQUIRE(d.create("missing", missing));
        auto st = d.mount("missing", missing);
        REQUIRE_FALSE(st);
        CHECK(st.error().code == Errc::Internal);
        CHECK(st.error().message.find("failed to mount local volume") == 0);
        CHECK_FALSE(d.mounted("missing"));

        Options secret = {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=lots,password=hunter2,x=1"}};
        REQUIRE(d.create("secret", secret));
        auto masked = d.mount("secret", secret);
        REQUIRE_FALSE(masked);
        CHECK(masked.error().message.find("hunter2") == std::string::npos);
        CHECK(masked.error().message.find("password=********,x=1") != std::string::npos);

        Options bad_size = {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=lots"}};
        REQUIRE(d.create("badsize", bad_size));
        CHECK_FALSE(d.mount("badsize", bad_size));
        CHECK_FALSE(d.mounted("badsize"));
    }

    TEST_CASE("sweep unmounts an orphan's leftover mount before deleting it") {
        if (!is_root()) return;
        TempDir tmp;
        std::string host = tmp.make("host");
        write_file(host + "/precious", "keep me");
        LocalDriver d(tmp.path() + "/volumes");
        REQUIRE(d.init());
        Options opts = {{"type", "none"}, {"device", host}, {"o", "bind"}};
        REQUIRE(d.create("ghost", opts));
        REQUIRE(d.mount("ghost", opts));
        d.sweep({});
        CHECK_FALSE(d.exists("ghost"));
        CHECK_FALSE(is_mounted(d.path("ghost")));
        CHECK(read_file(host + "/precious") == "keep me");
    }
}
