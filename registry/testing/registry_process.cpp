#include "registry/testing/registry_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "engine/base/sys.hpp"

extern char** environ;

namespace ctl::registry::testing {

namespace {

Result<int> free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return sys_error("socket");
    sys::UniqueFd owner(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return sys_error("bind");
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    return static_cast<int>(ntohs(addr.sin_port));
}

bool port_open(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sys::UniqueFd owner(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    return ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

std::vector<char*> argv_of(std::vector<std::string>& args) {
    std::vector<char*> out;
    for (auto& a : args) out.push_back(a.data());
    out.push_back(nullptr);
    return out;
}

}  // namespace

Result<std::string> run_capture(const std::vector<std::string>& argv_in) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return sys_error("pipe");
    sys::UniqueFd rd(pipefd[0]), wr(pipefd[1]);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, wr.get(), STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> args = argv_in;
    auto argv = argv_of(args);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return sys_error("spawning " + argv_in[0], rc);
    wr.reset();
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(rd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return make_error(Errc::Internal, argv_in[0] + " failed with status " + std::to_string(status));
    }
    return out;
}

bool RegistryProcess::available() { return ::access(kRegistryBinary, X_OK) == 0; }

Result<std::unique_ptr<RegistryProcess>> RegistryProcess::start(const RegistryOptions& options) {
    std::unique_ptr<RegistryProcess> p(new RegistryProcess());
    char tmpl[] = "/tmp/ctl-registry-test-XXXXXX";
    if (!::mkdtemp(tmpl)) return sys_error("mkdtemp");
    p->dir_ = tmpl;  // from here on the destructor removes it

    std::string auth_section;
    if (!options.username.empty()) {
        CTL_ASSIGN_OR_RETURN(auto line, run_capture({kHtpasswdBinary, "-Bbn", options.username, options.password}));
        CTL_TRY(sys::write_file_atomic(p->dir_ + "/htpasswd", line, 0600));
        auth_section = "auth:\n  htpasswd:\n    realm: ctl-test\n    path: " + p->dir_ + "/htpasswd\n";
    }

    std::string tls_section;
    if (!options.tls_cert.empty()) {
        tls_section = "  tls:\n    certificate: " + options.tls_cert + "\n    key: " + options.tls_key + "\n";
        if (!options.client_ca.empty()) tls_section += "    clientcas:\n      - " + options.client_ca + "\n";
    }

    for (int attempt = 0; attempt < 3; ++attempt) {
        CTL_ASSIGN_OR_RETURN(p->port_, free_port());
        std::string config =
            "version: 0.1\n"
            "log:\n  level: error\n  accesslog:\n    disabled: true\n"
            "storage:\n  filesystem:\n    rootdirectory: " + p->dir_ + "/data\n  delete:\n    enabled: true\n"
            "http:\n  addr: 127.0.0.1:" + std::to_string(p->port_) + "\n  secret: ctl-registry-test-secret\n" +
            tls_section + auth_section;
        CTL_TRY(sys::write_file_atomic(p->dir_ + "/config.yml", config));

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        std::string log_path = p->dir_ + "/registry.log";
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        std::vector<std::string> args = {kRegistryBinary, "serve", p->dir_ + "/config.yml"};
        auto argv = argv_of(args);
        pid_t pid = -1;
        int rc = posix_spawn(&pid, kRegistryBinary, &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) return sys_error("spawning docker-registry", rc);
        p->pid_ = pid;

        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        bool exited = false;
        while (std::chrono::steady_clock::now() < deadline) {
            if (port_open(p->port_)) return p;
            int status = 0;
            if (::waitpid(pid, &status, WNOHANG) == pid) {
                exited = true;
                p->pid_ = -1;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (!exited) {
            p->stop();
            return make_error(Errc::DeadlineExceeded, "docker-registry did not start listening within 20 s");
        }
        // Port taken between our probe and its bind: try another.
    }
    auto log = sys::read_file(p->dir_ + "/registry.log");
    return make_error(Errc::Unavailable, "docker-registry exited at start: " + (log ? *log : std::string("(no log)")));
}

void RegistryProcess::stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_ || (r < 0 && errno == ECHILD)) {
            pid_ = -1;
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
}

RegistryProcess::~RegistryProcess() {
    stop();
    if (!dir_.empty()) (void)sys::remove_all(dir_);
}

std::string RegistryProcess::blob_data_path(const std::string& digest) const {
    std::string hex = digest.substr(digest.find(':') + 1);
    return dir_ + "/data/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data";
}

}  // namespace ctl::registry::testing
