#include "client/cli.hpp"

#include <sys/stat.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <optional>
#include <set>

#include "client/commands/commands.hpp"
#include "engine/base/util.hpp"

namespace ctl::client {

std::string resolve_host(std::string_view flag, const char* env_value) {
    if (!flag.empty()) return std::string(flag);
    if (env_value && *env_value) return env_value;
    return std::string(kDefaultHost);
}

TlsConfig resolve_tls(const GlobalOptions& o, const char* verify_env, const char* cert_path_env, const char* home_env) {
    TlsConfig tls;
    tls.verify = o.tls_verify || (verify_env && *verify_env);
    tls.enabled = tls.verify || o.tls || !o.tls_ca.empty() || !o.tls_cert.empty() || !o.tls_key.empty();
    tls.ca = o.tls_ca;
    tls.cert = o.tls_cert;
    tls.key = o.tls_key;
    if (!tls.enabled) return tls;
    std::string dir = cert_path_env && *cert_path_env ? cert_path_env
                      : home_env && *home_env         ? std::string(home_env) + "/.config/ctl"
                                                      : std::string();
    auto fill = [&](std::string& field, const char* name) {
        if (!field.empty() || dir.empty()) return;
        std::string candidate = dir + "/" + name;
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0) field = candidate;
    };
    fill(tls.ca, "ca.pem");
    fill(tls.cert, "cert.pem");
    fill(tls.key, "key.pem");
    return tls;
}

HttpClient& Context::http() {
    if (!http_) {
        http_ = std::make_unique<HttpClient>(
            resolve_host(options_.host, std::getenv("CTL_HOST")),
            resolve_tls(options_, std::getenv("CTL_TLS_VERIFY"), std::getenv("CTL_CERT_PATH"), std::getenv("HOME")));
        http_->set_debug(options_.debug);
    }
    return *http_;
}

void Context::report(const Error& e) {
    std::string msg = e.message;
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
    if (msg.empty()) msg = "error: " + std::string(errc_name(e.code));
    out_.flush();
    err_ << msg << std::endl;
    exit_code_ = kExitError;
}

void Context::run(const std::function<Status()>& body) {
    Status st = ok();
    try {
        st = body();
    } catch (const std::exception& e) {
        st = make_error(Errc::Internal, std::string("ctl: internal error: ") + e.what());
    }
    out_.flush();
    if (!st) report(st.error());
}

Result<Json> Context::get_json(const std::string& path, const Query& query) { return http().get_json(path, query); }

Result<std::string> filters_json(const std::vector<std::string>& flags) {
    if (flags.empty()) return std::string();
    std::map<std::string, std::set<std::string>> merged;
    for (const auto& f : flags) {
        auto eq = f.find('=');
        if (eq == std::string::npos) return usage_error("bad format of filter (expected name=value): " + f);
        merged[to_lower(trim(f.substr(0, eq)))].insert(trim(f.substr(eq + 1)));
    }
    Json out = Json::object();
    for (const auto& [k, values] : merged) out[k] = Json(std::vector<std::string>(values.begin(), values.end()));
    return to_line(out);
}

namespace {

// Go's time.ParseDuration: "300ms", "-1.5h", "2h45m"; nanoseconds.
std::optional<double> parse_go_duration(std::string_view s) {
    bool neg = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s == "0") return 0.0;
    if (s.empty()) return std::nullopt;
    double total = 0;
    while (!s.empty()) {
        size_t i = 0;
        double value = 0;
        bool digits = false;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
            value = value * 10 + (s[i++] - '0');
            digits = true;
        }
        if (i < s.size() && s[i] == '.') {
            ++i;
            double scale = 0.1;
            while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
                value += (s[i++] - '0') * scale;
                scale /= 10;
                digits = true;
            }
        }
        if (!digits) return std::nullopt;
        size_t u = i;
        while (u < s.size() && !std::isdigit(static_cast<unsigned char>(s[u])) && s[u] != '.') ++u;
        std::string_view unit = s.substr(i, u - i);
        double scale = 0;
        if (unit == "ns") scale = 1;
        else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") scale = 1e3;
        else if (unit == "ms") scale = 1e6;
        else if (unit == "s") scale = 1e9;
        else if (unit == "m") scale = 60e9;
        else if (unit == "h") scale = 3600e9;
        else return std::nullopt;
        total += value * scale;
        s.remove_prefix(u);
    }
    return neg ? -total : total;
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// Reads exactly `n` digits at text[pos].
std::optional<int> digits_at(std::string_view text, size_t& pos, size_t n) {
    if (pos + n > text.size() || !all_digits(text.substr(pos, n))) return std::nullopt;
    int v = std::atoi(std::string(text.substr(pos, n)).c_str());
    pos += n;
    return v;
}

// "YYYY-MM-DD[THH[:MM[:SS[.frac]]]][Z|+hh:mm|-hh:mm]" as Unix nanos; no zone means local time.
std::optional<int64_t> parse_time(std::string_view text) {
    size_t pos = 0;
    struct tm tm {};
    auto year = digits_at(text, pos, 4);
    if (!year || pos >= text.size() || text[pos++] != '-') return std::nullopt;
    auto month = digits_at(text, pos, 2);
    if (!month || pos >= text.size() || text[pos++] != '-') return std::nullopt;
    auto day = digits_at(text, pos, 2);
    if (!day) return std::nullopt;
    tm.tm_year = *year - 1900;
    tm.tm_mon = *month - 1;
    tm.tm_mday = *day;
    if (*month < 1 || *month > 12 || *day < 1 || *day > 31) return std::nullopt;
    int64_t nanos = 0;
    if (pos < text.size() && text[pos] == 'T') {
        ++pos;
        auto hour = digits_at(text, pos, 2);
        if (!hour || *hour > 23) return std::nullopt;
        tm.tm_hour = *hour;
        if (pos < text.size() && text[pos] == ':') {
            ++pos;
            auto minute = digits_at(text, pos, 2);
            if (!minute || *minute > 59) return std::nullopt;
            tm.tm_min = *minute;
            if (pos < text.size() && text[pos] == ':') {
                ++pos;
                auto second = digits_at(text, pos, 2);
                if (!second || *second > 60) return std::nullopt;
                tm.tm_sec = *second;
                if (pos < text.size() && text[pos] == '.') {
                    ++pos;
                    std::string frac;
                    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) frac += text[pos++];
                    if (frac.empty()) return std::nullopt;
                    frac = frac.substr(0, 9);
                    while (frac.size() < 9) frac += '0';
                    nanos = std::atoll(frac.c_str());
                }
            }
        }
    }
    std::optional<int64_t> offset;  // seconds east of UTC
    if (pos < text.size()) {
        char z = text[pos];
        if (z == 'Z' || z == 'z') {
            offset = 0;
            ++pos;
        } else if (z == '+' || z == '-') {
            ++pos;
            auto hh = digits_at(text, pos, 2);
            if (!hh || pos >= text.size() || text[pos++] != ':') return std::nullopt;
            auto mm = digits_at(text, pos, 2);
            if (!mm) return std::nullopt;
            offset = (z == '-' ? -1 : 1) * (*hh * 3600 + *mm * 60);
        }
    }
    if (pos != text.size()) return std::nullopt;
    time_t secs;
    if (offset) {
        secs = timegm(&tm) - *offset;
    } else {
        tm.tm_isdst = -1;
        secs = mktime(&tm);
    }
    return static_cast<int64_t>(secs) * 1000000000 + nanos;
}

}  // namespace

std::optional<int64_t> go_duration_nanos(std::string_view value) {
    auto d = parse_go_duration(trim(value));
    if (!d) return std::nullopt;
    return static_cast<int64_t>(std::llround(*d));
}

Result<std::string> api_timestamp(std::string_view value, int64_t now_nanos, std::string_view flag) {
    std::string v = trim(value);
    if (v != "0") {
        if (auto d = parse_go_duration(v)) {
            double at = static_cast<double>(now_nanos) - *d;
            return std::to_string(static_cast<int64_t>(std::floor(at / 1e9)));
        }
    }
    if (auto t = parse_time(v)) {
        int64_t secs = *t / 1000000000, nanos = *t % 1000000000;
        if (nanos < 0) {
            nanos += 1000000000;
            --secs;
        }
        char buf[48];
        std::snprintf(buf, sizeof buf, "%lld.%09lld", static_cast<long long>(secs), static_cast<long long>(nanos));
        return std::string(buf);
    }
    auto dot = v.find('.');
    if (v.find('-') == std::string::npos && all_digits(v.substr(0, dot)) &&
        (dot == std::string::npos || all_digits(v.substr(dot + 1)))) {
        return v;  // already Unix seconds
    }
    return usage_error("invalid value \"" + v + "\" for " + std::string(flag) +
                       ": failed to parse value as time or duration");
}

CLI::App* add_group(CLI::App& parent, Context& ctx, const std::string& name, const std::string& description) {
    CLI::App* group = parent.add_subcommand(name, description);
    group->callback([group, &ctx, prefix = parent.get_parent() ? "" : parent.get_name()] {
        if (group->get_subcommands().empty()) ctx.out() << group->help(prefix);
    });
    return group;
}

namespace {

// The deepest subcommand the parser reached, and its full name ("ctl system df").
std::pair<CLI::App*, std::string> selected_command(CLI::App& app) {
    CLI::App* cur = &app;
    std::string path = app.get_name();
    for (;;) {
        auto subs = cur->get_subcommands();
        if (subs.empty()) break;
        cur = subs.front();
        path += " " + cur->get_name();
    }
    return {cur, path};
}

// docker's flags take one value per occurrence (`-f a=b -f c=d IMAGE`): stop CLI11's vector
// options from swallowing the arguments that follow them.
void one_value_per_flag(CLI::App& app) {
    for (CLI::Option* opt : app.get_options([](CLI::Option* o) { return o->nonpositional(); })) opt->allow_extra_args(false);
    for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) one_value_per_flag(*sub);
}

}  // namespace

int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
    GlobalOptions options;
    Context ctx(options, out, err);
    CLI::App app{"A client for the ctld container engine", "ctl"};
    app.set_help_flag("-h,--help", "Print usage");
    app.set_version_flag("-v,--version", std::string("ctl version ") + CTL_VERSION + ", build " + CTL_GIT_COMMIT,
                         "Print version information and quit");
    app.add_option("-H,--host", options.host, "Engine socket to connect to (default $CTL_HOST, else unix:///run/ctld.sock)");
    app.add_flag("--tls", options.tls, "Use TLS; implied by --tlsverify");
    app.add_flag("--tlsverify", options.tls_verify, "Use TLS and verify the remote");
    app.add_option("--tlscacert", options.tls_ca, "Trust certs signed only by this CA");
    app.add_option("--tlscert", options.tls_cert, "Path to TLS certificate file");
    app.add_option("--tlskey", options.tls_key, "Path to TLS key file");
    app.add_flag("-D,--debug", options.debug, "Enable debug mode");
    app.fallthrough();
    for (const auto& group : command_groups()) group.add(app, ctx);
    one_value_per_flag(app);

    if (argc <= 1) {
        out << app.help();
        return 0;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        out << app.help();
        return 0;
    } catch (const CLI::CallForAllHelp&) {
        out << app.help("", CLI::AppFormatMode::All);
        return 0;
    } catch (const CLI::CallForVersion& e) {
        out << e.what() << "\n";
        return 0;
    } catch (const CLI::ParseError& e) {
        auto [cmd, path] = selected_command(app);
        auto extras = app.remaining(true);
        if (dynamic_cast<const CLI::ExtrasError*>(&e) && !extras.empty() && !cmd->get_subcommands([](CLI::App*) { return true; }).empty() &&
            !starts_with(extras.front(), "-")) {
            err << "ctl: unknown command: " << path << " " << extras.front() << "\n\nRun '" << path
                << " --help' for more information\n";
        } else {
            err << "ctl: " << e.what() << "\nSee '" << path << " --help'.\n";
        }
        return kExitError;
    }
    return ctx.exit_code();
}

}  // namespace ctl::client
