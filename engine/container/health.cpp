// Healthchecks: Config.Healthcheck probes run as execs on their interval; State.Health keeps
// the status, the failing streak and the last five results; changes emit health_status events.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>

#include "engine/base/log.hpp"
#include "engine/base/sys.hpp"
#include "engine/container/container_service.hpp"
#include "engine/container/internal/config_merge.hpp"
#include "engine/container/spec/oci_spec.hpp"

namespace ctl::container {

namespace {

constexpr int64_t kDefaultInterval = 30'000'000'000;  // ns, Docker's defaults
constexpr int64_t kDefaultTimeout = 30'000'000'000;
constexpr int64_t kDefaultRetries = 3;
constexpr size_t kMaxOutput = 4096;

// The probe's argv, or empty when there is no healthcheck (absent, [] or ["NONE"]).
std::vector<std::string> probe_command(const Json& config) {
    const Json* hc = find_ci(config, "Healthcheck");
    if (!hc || !hc->is_object()) return {};
    const Json* test = find_ci(*hc, "Test");
    if (!test || !test->is_array() || test->empty()) return {};
    std::string kind = (*test)[0].is_string() ? (*test)[0].get<std::string>() : "";
    std::vector<std::string> rest;
    for (size_t i = 1; i < test->size(); ++i) {
        if ((*test)[i].is_string()) rest.push_back((*test)[i].get<std::string>());
    }
    if (kind == "CMD") return rest;
    if (kind == "CMD-SHELL" && !rest.empty()) return {"/bin/sh", "-c", rest[0]};
    return {};
}


}  // namespace

bool ContainerService::has_healthcheck(const Container& c) { return !probe_command(c.config).empty(); }

ContainerService::ProbeResult ContainerService::run_probe(const Container& c, const std::vector<std::string>& cmd,
                                                          int64_t timeout_ns) {
    ProbeResult result;
    auto fail = [&](const std::string& why) {
        result.exit_code = -1;
        result.output = why;
        return result;
    };
    const auto* info = runtime_info(c.runtime);
    if (!info) return fail("no runtime");
    std::string id = random_hex_id();
    std::string dir = options_.exec_root + "/execs/" + id;
    auto rootfs = driver_.mount(c.rw_layer);
    if (!rootfs) return fail(rootfs.error().message);
    spec::SpecInputs in;
    in.config = c.config;
    in.host_config = c.host_config;
    in.rootfs = *rootfs;
    in.nofile_hard_limit = options_.nofile_hard_limit;
    auto process = spec::build_exec_process(in, Json{{"Cmd", cmd}, {"AttachStdout", true}, {"AttachStderr", true}});
    (void)driver_.unmount(c.rw_layer);
    if (!process) return fail(process.error().message);
    if (!sys::mkdir_all(dir, 0700) || !sys::write_file_replace(dir + "/process.json", process->dump())) {
        return fail("cannot write the probe's process");
    }
    std::vector<std::string> argv = {options_.shim_binary, "exec", "--id", c.id, "--exec-id", id, "--process",
                                     dir + "/process.json", "--state-dir", dir};
    add_shim_runtime_args(argv, *info);
    auto started = runtime::run_command(argv, "", 30000, false, -1, info->exec_fd);
    if (!started || started->exit_code != 0) {
        std::string why = sys::read_file(dir + "/start-error").value_or("probe failed to start");
        (void)sys::remove_all(dir);
        return fail(trim(why));
    }
    int fd = connect_shim_socket(dir + "/attach.sock");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_ns);
    std::string raw;
    bool timed_out = false;
    if (fd >= 0) {
        Json hello = {{"stdin", false}, {"stdout", true}, {"stderr", true}, {"tty", false}};
        (void)sys::write_all(fd, hello.dump() + "\n");
        char buf[8192];
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                timed_out = true;
                break;
            }
            struct pollfd p {fd, POLLIN, 0};
            int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
            if (n < 0 && errno == EINTR) continue;
            if (n == 0) continue;
            ssize_t got = ::read(fd, buf, sizeof buf);
            if (got <= 0) break;
            if (raw.size() < 4 * kMaxOutput) raw.append(buf, static_cast<size_t>(got));
        }
        ::close(fd);
    }
    // Frames -> text.
    for (size_t i = 0; i + 8 <= raw.size();) {
        uint32_t n = (static_cast<uint8_t>(raw[i + 4]) << 24) | (static_cast<uint8_t>(raw[i + 5]) << 16) |
                     (static_cast<uint8_t>(raw[i + 6]) << 8) | static_cast<uint8_t>(raw[i + 7]);
        result.output += raw.substr(i + 8, n);
        i += 8 + n;
    }
    if (result.output.size() > kMaxOutput) result.output.resize(kMaxOutput);
    int shim_pid = std::atoi(sys::read_file(dir + "/shim.pid").value_or("0").c_str());
    if (timed_out) {
        int pid = std::atoi(sys::read_file(dir + "/init.pid").value_or("0").c_str());
        if (pid > 0) ::kill(pid, SIGKILL);
        result.exit_code = -1;
        result.output = "Health check exceeded timeout (" + std::to_string(timeout_ns / 1000000000) + "s)";
    }
    // The shim writes exit.json and exits right after the process; give it a moment.
    for (int i = 0; i < 200 && shim_pid > 0 && ::kill(shim_pid, 0) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!timed_out) {
        auto exit = parse_json(sys::read_file(dir + "/exit.json").value_or("null"));
        result.exit_code = exit && exit->is_object() ? static_cast<int>(int_or(*exit, "exit_code", -1)) : -1;
    }
    (void)sys::remove_all(dir);
    return result;
}

void ContainerService::start_health_monitor(Entry& e) {
    auto cmd = probe_command(e.c.config);
    if (cmd.empty()) {
        e.c.state.health = nullptr;
        return;
    }
    e.c.state.health = {{"Status", "starting"}, {"FailingStreak", 0}, {"Log", Json::array()}};
    const Json& hc = *find_ci(e.c.config, "Healthcheck");
    int64_t interval = int_or(hc, "Interval", 0);
    int64_t timeout = int_or(hc, "Timeout", 0);
    int64_t retries = int_or(hc, "Retries", 0);
    int64_t start_period = int_or(hc, "StartPeriod", 0);
    if (interval <= 0) interval = kDefaultInterval;
    if (timeout <= 0) timeout = kDefaultTimeout;
    if (retries <= 0) retries = kDefaultRetries;
    std::string id = e.c.id;
    uint64_t generation = e.starts + 1;  // the start in progress
    std::lock_guard lock(timers_mu_);
    timers_.emplace_back([this, id, cmd, interval, timeout, retries, start_period, generation] {
        auto started = std::chrono::steady_clock::now();
        for (;;) {
            auto next = std::chrono::steady_clock::now() + std::chrono::nanoseconds(interval);
            while (!stopping_ && std::chrono::steady_clock::now() < next) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            if (stopping_) return;
            auto e = find(id);
            if (!e) return;
            Container snapshot;
            {
                std::lock_guard l((*e)->mu);
                if ((*e)->removed || !(*e)->c.state.running || (*e)->starts != generation) return;
                if ((*e)->c.state.paused) continue;
                snapshot = (*e)->c;
            }
            std::string begin = internal::rfc3339_fixed(now_unix_nanos());
            ProbeResult r = run_probe(snapshot, cmd, timeout);
            std::string end = internal::rfc3339_fixed(now_unix_nanos());
            std::unique_lock l((*e)->mu);
            if ((*e)->removed || !(*e)->c.state.running || (*e)->starts != generation) return;
            Json& health = (*e)->c.state.health;
            if (!health.is_object()) return;
            std::string before = string_or(health, "Status", "starting");
            Json& log = health["Log"];
            log.push_back({{"Start", begin}, {"End", end}, {"ExitCode", r.exit_code}, {"Output", r.output}});
            while (log.size() > 5) log.erase(log.begin());
            bool in_start_period = std::chrono::steady_clock::now() - started < std::chrono::nanoseconds(start_period);
            if (r.exit_code == 0) {
                health["Status"] = "healthy";
                health["FailingStreak"] = 0;
            } else if (!in_start_period) {
                int64_t streak = int_or(health, "FailingStreak", 0) + 1;
                health["FailingStreak"] = streak;
                if (streak >= retries) health["Status"] = "unhealthy";
            }
            (void)persist((*e)->c);
            std::string after = string_or(health, "Status", "starting");
            if (after != before) emit((*e)->c, "health_status: " + after);
        }
    });
}

}  // namespace ctl::container
