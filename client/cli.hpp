// What every ctl command shares: the engine connection, output helpers and the exit-code rules
// (docker's: 125 for engine and usage errors, the container's own code for `run`).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>

#include "client/format.hpp"
#include "client/http_client.hpp"

namespace ctl::client {

inline constexpr int kExitEngineError = 125;

struct GlobalOptions {
    std::string host;  // -H; falls back to CTL_HOST, then the default socket
    TlsConfig tls;
    bool debug = false;
};

// Resolves the engine address: -H, then $CTL_HOST, then unix:///run/ctld.sock.
std::string resolve_host(const std::string& flag, const char* env_value);

class Context {
public:
    explicit Context(GlobalOptions& options) : options_(options) {}
    HttpClient& http();
    GlobalOptions& options() { return options_; }

    // Runs a command body: an error prints one line on stderr and sets exit code 125.
    void run(const std::function<Status()>& body);
    void set_exit_code(int code) { exit_code_ = code; }
    int exit_code() const { return exit_code_; }

    // GET a JSON document.
    Result<Json> get_json(const std::string& path, const std::vector<std::pair<std::string, std::string>>& query = {});
    // Prints `value` through --format when given (a parse error is an error), else calls `plain`.
    Status print_formatted(const std::string& format, const Json& value, const std::function<void()>& plain);

private:
    GlobalOptions& options_;
    std::unique_ptr<HttpClient> http_;
    int exit_code_ = 0;
};

// A mistake in how ctl was called (printed as "ctl: <message>", not as the engine's error).
inline Error usage_error(std::string message) { return Error{Errc::InvalidArgument, std::move(message), -1}; }

// "Error response from daemon: <message>" or the connection message, on one line.
void print_error(const Error& e);

// Each command group registers its subcommands on the app.
void register_system_commands(CLI::App& app, Context& ctx);
void register_image_commands(CLI::App& app, Context& ctx);

// Turns repeated --filter k=v flags into the engine's filters JSON ({"k":["v",...]}).
std::string filters_json(const std::vector<std::string>& filters);

}  // namespace ctl::client
