// Test-only: runs Debian's docker-registry (the CNCF distribution registry) on 127.0.0.1 with
// a free port, filesystem storage in its own temp dir, optionally behind htpasswd auth. The
// object owns the process and the directory: the destructor stops the registry (SIGTERM, then
// SIGKILL) and removes the directory, also when a test check failed.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/base/result.hpp"

namespace ctl::registry::testing {

inline constexpr const char* kRegistryBinary = "/usr/bin/docker-registry";
inline constexpr const char* kHtpasswdBinary = "/usr/bin/htpasswd";

struct RegistryOptions {
    std::string username;  // non-empty: htpasswd auth with this user
    std::string password;
    // Non-empty: serve HTTPS with this certificate and key; with `client_ca`, require client
    // certificates signed by it.
    std::string tls_cert;
    std::string tls_key;
    std::string client_ca;
};

class RegistryProcess {
public:
    static bool available();
    static Result<std::unique_ptr<RegistryProcess>> start(const RegistryOptions& options = {});
    ~RegistryProcess();
    RegistryProcess(const RegistryProcess&) = delete;
    RegistryProcess& operator=(const RegistryProcess&) = delete;

    std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
    const std::string& dir() const { return dir_; }
    // Where the registry keeps a blob's bytes (filesystem driver layout).
    std::string blob_data_path(const std::string& digest) const;
    pid_t pid() const { return pid_; }

private:
    RegistryProcess() = default;
    void stop();

    std::string dir_;
    int port_ = 0;
    pid_t pid_ = -1;
};

// Runs argv to completion, stdout captured (stderr dropped); an error unless it exits 0.
Result<std::string> run_capture(const std::vector<std::string>& argv);

}  // namespace ctl::registry::testing
