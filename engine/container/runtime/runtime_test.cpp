#include "engine/container/runtime/runtime.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>

using namespace ctl::container::runtime;

TEST_CASE("a sealed copy is accepted as one and runs in place of the binary") {
    auto fd = make_sealed_copy("/bin/sh");
    REQUIRE(fd);
    CHECK(is_sealed_copy(*fd));
    // Sealed: no writes, no growth; exactly what crun/runc take as "already cloned".
    CHECK(::write(*fd, "x", 1) < 0);
    CHECK(::ftruncate(*fd, 0) != 0);
    // argv[0] only names it: the copy is what runs.
    auto r = run_command({"/nonexistent/sh", "-c", "echo ran"}, "", 5000, false, *fd);
    REQUIRE(r);
    CHECK(r->exit_code == 0);
    CHECK(r->out == "ran\n");
    ::close(*fd);
}

TEST_CASE("ordinary files and plain memfds are not sealed copies") {
    int plain = ::open("/bin/sh", O_RDONLY | O_CLOEXEC);
    CHECK_FALSE(is_sealed_copy(plain));
    ::close(plain);
    CHECK_FALSE(is_sealed_copy(-1));
    CHECK_FALSE(make_sealed_copy("/nonexistent/binary"));
}

TEST_CASE("keep_fd survives into the child; every other descriptor is closed") {
    auto fd = make_sealed_copy("/bin/true");
    REQUIRE(fd);
    int stray = ::open("/dev/null", O_RDONLY);  // not O_CLOEXEC: spawn must close it anyway
    REQUIRE(stray >= 0);
    const std::string probe = "test -e /proc/self/fd/" + std::to_string(*fd) + " && ! test -e /proc/self/fd/" +
                              std::to_string(stray);
    auto r = run_command({"/bin/sh", "-c", probe}, "", 5000, false, -1, *fd);
    REQUIRE(r);
    CHECK(r->exit_code == 0);
    ::close(stray);
    ::close(*fd);
}
