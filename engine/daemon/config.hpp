// ctld's configuration: command-line flags, optionally a JSON file with the same keys
// (`--config`). Flags given on the command line win over the file.
#pragma once

#include <string>
#include <vector>

#include "engine/base/result.hpp"

namespace ctl::daemon {

struct Config {
    std::vector<std::string> hosts;
    std::string data_root = "/var/lib/ctld";
    std::string exec_root = "/run/ctld";
    std::string log_level = "info";
    bool tls_verify = false;
    std::string tls_ca, tls_cert, tls_key;
    bool insecure_tcp = false;
    std::string group = "ctl";
    std::string storage_driver;   // overlay (default when supported) or vfs
    std::string default_runtime;  // crun or runc; probed when empty
    std::vector<std::string> insecure_registries;
    std::string bridge = "ctl0";  // the default network's Linux bridge
    std::string bip;              // its gateway address and prefix, e.g. 10.20.0.1/24 ("" = pick)
    std::vector<std::string> dns;  // upstream resolvers of the embedded DNS ("" = the host's)
};

// Parses argv. Returns NotModified with the text to print for --help / --version.
Result<Config> parse_args(int argc, char** argv);

}  // namespace ctl::daemon
