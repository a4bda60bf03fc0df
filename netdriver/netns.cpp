#include "netdriver/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

namespace ctl::net {

Status create_netns(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0) return sys_error("creating " + path);
    ::close(fd);
    // unshare() moves the calling thread only: do it on a throw-away thread and pin the result.
    Status result;
    std::thread worker([&] {
        if (::unshare(CLONE_NEWNET) != 0) {
            result = sys_error("unshare(CLONE_NEWNET)");
            return;
        }
        std::string self = "/proc/self/task/" + std::to_string(::syscall(SYS_gettid)) + "/ns/net";
        if (::mount(self.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
            result = sys_error("pinning the network namespace at " + path);
        }
    });
    worker.join();
    if (!result) ::unlink(path.c_str());
    return result;
}

Status remove_netns(const std::string& path) {
    if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
        return sys_error("unmounting " + path);
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return sys_error("removing " + path);
    return ok();
}

Result<sys::UniqueFd> open_netns(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_error("opening " + path);
    return sys::UniqueFd(fd);
}

}  // namespace ctl::net
