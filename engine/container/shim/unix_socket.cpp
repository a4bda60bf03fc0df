#include "engine/container/shim/unix_socket.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace ctl::container::shim {

namespace {

// Fills addr with path, or with /proc/self/fd/<dirfd>/<name> when path is too long; dir keeps the
// directory open until the caller has used the address.
Status make_address(const std::string& path, sockaddr_un& addr, sys::UniqueFd& dir) {
    std::memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    std::string target = path;
    if (path.size() >= sizeof addr.sun_path) {
        auto slash = path.rfind('/');
        if (slash == std::string::npos) return make_error(Errc::InvalidArgument, "socket path too long: " + path);
        std::string parent = slash == 0 ? "/" : path.substr(0, slash);
        dir.reset(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!dir.valid()) return sys_error("open " + parent);
        target = "/proc/self/fd/" + std::to_string(dir.get()) + path.substr(slash);
        if (target.size() >= sizeof addr.sun_path) {
            return make_error(Errc::InvalidArgument, "socket name too long: " + path);
        }
    }
    std::memcpy(addr.sun_path, target.c_str(), target.size());
    return ok();
}

}  // namespace

Result<sys::UniqueFd> listen_unix(const std::string& path, int mode) {
    sockaddr_un addr{};
    sys::UniqueFd dir;
    CTL_TRY(make_address(path, addr, dir));
    sys::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) return sys_error("socket");
    ::unlink(path.c_str());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return sys_error("bind " + path);
    // The state dir is 0700 already; the mode keeps the socket private even if it is not.
    if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) return sys_error("chmod " + path);
    if (::listen(fd.get(), 64) != 0) return sys_error("listen " + path);
    return fd;
}

Result<sys::UniqueFd> connect_unix(const std::string& path) {
    sockaddr_un addr{};
    sys::UniqueFd dir;
    CTL_TRY(make_address(path, addr, dir));
    sys::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return sys_error("socket");
    int rc;
    do {
        rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) return sys_error("connect " + path);
    return fd;
}

Result<sys::UniqueFd> recv_fd(int sock) {
    char byte;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do {
        n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return sys_error("recvmsg");
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
            return sys::UniqueFd(fd);
        }
    }
    return make_error(Errc::Internal, "no file descriptor received on the console socket");
}

}  // namespace ctl::container::shim
