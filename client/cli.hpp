// What every ctl command shares: global flags, the engine connection, output streams, error
// reporting and exit codes, and the helpers that turn docker-style flags into API parameters.
//
// Exit codes (kept the same for every command):
//   0    success
//   125  any error: the engine answered with an error ("Error response from daemon: ..."), the
//        engine could not be reached ("cannot connect to the engine at ...: is ctld running?"),
//        a usage error (unknown command or flag, bad flag value), a --format template error.
//        One line on stderr says which.
//   Commands that run something (run, exec, start -a, wait) will return its exit code instead.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/format.hpp"
#include "client/http_client.hpp"

namespace ctl::client {

inline constexpr int kExitError = 125;

struct GlobalOptions {
    std::string host;         // -H; empty: $CTL_HOST, then kDefaultHost
    bool tls = false;         // --tls
    bool tls_verify = false;  // --tlsverify
    std::string tls_ca, tls_cert, tls_key;
    bool debug = false;       // -D
};

// The engine address: the -H flag, then the CTL_HOST environment value, then the default socket.
std::string resolve_host(std::string_view flag, const char* env_value);

// TLS settings from the flags, as docker reads them: --tlsverify (or CTL_TLS_VERIFY set) means
// TLS with verification; --tls or any certificate flag means TLS; file flags left empty default
// to ca.pem / cert.pem / key.pem in $CTL_CERT_PATH (else ~/.config/ctl) when those files exist.
TlsConfig resolve_tls(const GlobalOptions& options, const char* verify_env, const char* cert_path_env, const char* home_env);

class Context {
public:
    explicit Context(const GlobalOptions& options, std::ostream& out = std::cout, std::ostream& err = std::cerr)
        : options_(options), out_(out), err_(err) {}

    // The engine client, made from the global flags on first use.
    HttpClient& http();
    const GlobalOptions& options() const { return options_; }
    std::ostream& out() { return out_; }
    std::ostream& err() { return err_; }

    // Runs a command body; an error (or exception) is reported and the exit code becomes 125.
    void run(const std::function<Status()>& body);
    // Prints one error line and sets exit code 125, for commands that go on with the next
    // object (rmi a b c).
    void report(const Error& e);
    void set_exit_code(int code) { exit_code_ = code; }
    int exit_code() const { return exit_code_; }

    // GET a JSON document from the engine.
    Result<Json> get_json(const std::string& path, const Query& query = {});

private:
    const GlobalOptions& options_;
    std::ostream& out_;
    std::ostream& err_;
    std::unique_ptr<HttpClient> http_;
    int exit_code_ = 0;
};

// A mistake in how ctl was called; printed as given.
inline Error usage_error(std::string message) { return make_error(Errc::InvalidArgument, std::move(message)); }

// Repeated `--filter key=value` flags as the engine's `filters` JSON ({"key":["v1","v2"]}); keys
// are lower-cased and trimmed, values trimmed, duplicates dropped, as docker does. Empty input
// gives "". A flag without "=" is a usage error.
Result<std::string> filters_json(const std::vector<std::string>& flags);

// The `since` / `until` value docker sends for a flag value: a Go duration ("10m", "1h30m") is
// that long before `now_nanos` (Unix seconds); RFC 3339 times and dates ("2024-05-01",
// "2024-05-01T10:00", with or without a zone; no zone means local time) become "secs.nanos";
// Unix timestamps pass unchanged. Anything else is a usage error naming `flag`.
Result<std::string> api_timestamp(std::string_view value, int64_t now_nanos, std::string_view flag = "--since");

// A Go duration ("1m30s", "500ms") in nanoseconds; nullopt when it isn't one (--health-interval).
std::optional<int64_t> go_duration_nanos(std::string_view value);

// Adds a subcommand whose flags live in an `Opts` owned by the command: `define(cmd, opts)`
// declares them, `run(ctx, opts)` does the work after parsing. Returns the subcommand.
//   struct DfOptions { bool verbose = false; std::string format; };
//   add_command<DfOptions>(*system, ctx, "df", "Show disk usage",
//       [](CLI::App& c, DfOptions& o) { c.add_flag("-v,--verbose", o.verbose, "..."); },
//       [](Context& ctx, const DfOptions& o) -> Status { ... });
template <typename Opts, typename Define, typename Run>
CLI::App* add_command(CLI::App& parent, Context& ctx, const std::string& name, const std::string& description,
                      Define define, Run run) {
    auto opts = std::make_shared<Opts>();
    CLI::App* cmd = parent.add_subcommand(name, description);
    define(*cmd, *opts);
    cmd->callback([&ctx, opts, run] { ctx.run([&]() -> Status { return run(ctx, *opts); }); });
    return cmd;
}

// Adds a command group ("system", "image"): its subcommands come from the caller; given alone
// it prints its help, as docker does.
CLI::App* add_group(CLI::App& parent, Context& ctx, const std::string& name, const std::string& description);

// The whole command line: parses argv, runs the command, returns the exit code.
int run_cli(int argc, const char* const* argv, std::ostream& out = std::cout, std::ostream& err = std::cerr);

}  // namespace ctl::client
