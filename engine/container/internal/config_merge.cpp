#include "engine/container/internal/config_merge.hpp"

#include <signal.h>

#include <ctime>
#include <map>
#include <random>

#include "engine/base/util.hpp"

namespace ctl::container::internal {

namespace {

const Json* field(const Json& obj, const char* key) {
    const Json* v = find_ci(obj, key);
    return v && !v->is_null() ? v : nullptr;
}

std::string env_key(const std::string& entry) { return entry.substr(0, entry.find('=')); }

Json merge_env(const Json* image_env, const Json* request_env) {
    std::vector<std::string> out;
    std::map<std::string, size_t> index;
    auto add = [&](const Json* list) {
        if (!list || !list->is_array()) return;
        for (const auto& e : *list) {
            if (!e.is_string()) continue;
            std::string s = e.get<std::string>();
            std::string k = env_key(s);
            if (auto it = index.find(k); it != index.end()) {
                out[it->second] = s;
            } else {
                index[k] = out.size();
                out.push_back(s);
            }
        }
    };
    add(image_env);
    add(request_env);
    return out;
}

Json unite(const Json* a, const Json* b) {
    Json out = Json::object();
    for (const Json* src : {a, b}) {
        if (!src || !src->is_object()) continue;
        for (auto it = src->begin(); it != src->end(); ++it) out[it.key()] = it.value();
    }
    return out;
}

}  // namespace

Result<Json> merge_config(const Json& image, const Json& req, const std::string& image_ref) {
    Json c = Json::object();
    auto pick = [&](const char* key, Json fallback) {
        if (const Json* v = field(req, key)) c[key] = *v;
        else if (const Json* v = field(image, key)) c[key] = *v;
        else c[key] = std::move(fallback);
    };
    auto from_request = [&](const char* key, Json fallback) {
        const Json* v = field(req, key);
        c[key] = v ? *v : std::move(fallback);
    };
    from_request("Hostname", "");
    from_request("Domainname", "");
    pick("User", "");
    from_request("AttachStdin", false);
    from_request("AttachStdout", false);
    from_request("AttachStderr", false);
    Json ports = unite(field(image, "ExposedPorts"), field(req, "ExposedPorts"));
    if (!ports.empty()) c["ExposedPorts"] = ports;
    from_request("Tty", false);
    from_request("OpenStdin", false);
    from_request("StdinOnce", false);
    c["Env"] = merge_env(field(image, "Env"), field(req, "Env"));
    const Json* cmd = field(req, "Cmd");
    const Json* entrypoint = field(req, "Entrypoint");
    // moby's merge: with no Entrypoint in the request (absent or []), an empty Cmd takes the
    // image's; an absent Entrypoint takes the image's.
    bool entrypoint_empty = !entrypoint || (entrypoint->is_array() && entrypoint->empty());
    bool cmd_empty = !cmd || (cmd->is_array() && cmd->empty());
    if (cmd && cmd->is_string()) c["Cmd"] = Json::array({*cmd});
    else if (!cmd_empty) c["Cmd"] = *cmd;
    else if (entrypoint_empty && field(image, "Cmd")) c["Cmd"] = *field(image, "Cmd");
    else c["Cmd"] = cmd ? *cmd : Json(nullptr);
    if (const Json* hc = field(req, "Healthcheck")) c["Healthcheck"] = *hc;
    else if (const Json* hc = field(image, "Healthcheck")) c["Healthcheck"] = *hc;
    c["Image"] = image_ref;
    Json volumes = unite(field(image, "Volumes"), field(req, "Volumes"));
    c["Volumes"] = volumes.empty() ? Json(nullptr) : volumes;
    pick("WorkingDir", "");
    if (entrypoint && entrypoint->is_string()) c["Entrypoint"] = Json::array({*entrypoint});
    else if (entrypoint) c["Entrypoint"] = *entrypoint;
    else if (const Json* e = field(image, "Entrypoint")) c["Entrypoint"] = *e;
    else c["Entrypoint"] = nullptr;
    pick("OnBuild", nullptr);
    c["Labels"] = unite(field(image, "Labels"), field(req, "Labels"));
    pick("StopSignal", nullptr);
    if (c["StopSignal"].is_null()) c.erase("StopSignal");
    if (const Json* t = field(req, "StopTimeout")) c["StopTimeout"] = *t;
    if (const Json* m = field(req, "MacAddress")) c["MacAddress"] = *m;
    for (const char* list : {"Cmd", "Entrypoint", "Env"}) {
        if (c[list].is_null()) continue;
        if (!c[list].is_array()) return make_error(Errc::InvalidArgument, std::string(list) + " must be a list of strings");
        for (const auto& v : c[list]) {
            if (!v.is_string()) return make_error(Errc::InvalidArgument, std::string(list) + " must be a list of strings");
        }
    }
    return c;
}

Status command_of(const Json& config, std::string& path, std::vector<std::string>& args) {
    std::vector<std::string> full;
    if (const Json* e = field(config, "Entrypoint"); e && e->is_array()) {
        bool reset = e->size() == 1 && (*e)[0].is_string() && (*e)[0].get<std::string>().empty();
        if (!reset) {
            for (const auto& v : *e) full.push_back(v.get<std::string>());
        }
    }
    if (const Json* cmd = field(config, "Cmd"); cmd && cmd->is_array()) {
        for (const auto& v : *cmd) full.push_back(v.get<std::string>());
    }
    if (full.empty()) return make_error(Errc::InvalidArgument, "No command specified");
    path = full.front();
    args.assign(full.begin() + 1, full.end());
    return ok();
}

std::string generate_name(const std::function<bool(const std::string&)>& taken) {
    static const char* kAdjectives[] = {"brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen",
                                        "lucid", "merry", "nimble", "proud", "quiet", "rapid", "sharp", "tidy",
                                        "vivid", "witty", "zesty", "bold"};
    static const char* kNouns[] = {"otter", "falcon", "badger", "heron", "lynx", "marten", "osprey", "puffin",
                                   "raven", "stoat", "tern", "vole", "wren", "yak", "bison", "crane",
                                   "dingo", "egret", "gecko", "ibis"};
    std::random_device rd;
    std::mt19937 rng(rd());
    for (int attempt = 0;; ++attempt) {
        std::string name = std::string(kAdjectives[rng() % 20]) + "_" + kNouns[rng() % 20];
        if (attempt > 20) name += std::to_string(rng() % 1000);
        if (!taken(name)) return name;
    }
}

std::string rfc3339_fixed(int64_t unix_nanos) {
    time_t secs = static_cast<time_t>(unix_nanos / 1000000000);
    long nanos = static_cast<long>(unix_nanos % 1000000000);
    struct tm tm {};
    gmtime_r(&secs, &tm);
    char buf[48];
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%09ldZ", nanos);
    return buf;
}

Result<int> parse_signal(const std::string& raw) {
    static const std::map<std::string, int> kSignals = {
        {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},   {"TRAP", SIGTRAP},
        {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},   {"FPE", SIGFPE},   {"KILL", SIGKILL},
        {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},     {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
        {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
        {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU}, {"URG", SIGURG},   {"XCPU", SIGXCPU},
        {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
        {"POLL", SIGPOLL}, {"PWR", SIGPWR},       {"SYS", SIGSYS}};
    std::string s = trim(raw);
    if (s.empty()) return make_error(Errc::InvalidArgument, "invalid signal: empty");
    bool digits = std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (digits) {
        int n = std::stoi(s.substr(0, 3));
        if (n <= 0 || n > 64) return make_error(Errc::InvalidArgument, "Invalid signal: " + raw);
        return n;
    }
    std::string up;
    for (char ch : s) up += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (starts_with(up, "SIG")) up = up.substr(3);
    if (auto it = kSignals.find(up); it != kSignals.end()) return it->second;
    if (starts_with(up, "RTMIN")) return SIGRTMIN + (up.size() > 6 ? std::atoi(up.c_str() + 6) : 0);
    if (starts_with(up, "RTMAX")) return SIGRTMAX - (up.size() > 6 ? std::atoi(up.c_str() + 6) : 0);
    return make_error(Errc::InvalidArgument, "Invalid signal: " + raw);
}

}  // namespace ctl::container::internal
