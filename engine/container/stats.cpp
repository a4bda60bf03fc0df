#include "engine/container/stats.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <sstream>

#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"

namespace ctl::container::stats {

namespace {

constexpr const char* kCgroupRoot = "/sys/fs/cgroup";

std::string read_trimmed(const std::string& path) {
    auto r = sys::read_file(path);
    return r ? trim(*r) : std::string();
}

// A cgroup file holding one number; `fallback` when missing or "max".
int64_t read_int(const std::string& path, int64_t fallback = 0) {
    std::string s = read_trimmed(path);
    if (s.empty() || s == "max") return fallback;
    try {
        return static_cast<int64_t>(std::stoull(s));
    } catch (...) {
        return fallback;
    }
}

// "key value" lines (memory.stat, cpu.stat, cpuacct.stat) as a map.
std::map<std::string, int64_t> read_kv(const std::string& path) {
    std::map<std::string, int64_t> out;
    auto text = sys::read_file(path);
    if (!text) return out;
    std::istringstream in(*text);
    std::string key;
    uint64_t value;
    while (in >> key >> value) out[key] = static_cast<int64_t>(value);
    return out;
}

int64_t host_memory() {
    std::istringstream in(sys::read_file("/proc/meminfo").value_or(""));
    std::string key, unit;
    int64_t kb;
    while (in >> key >> kb >> unit) {
        if (key == "MemTotal:") return kb * 1024;
    }
    return 0;
}

const int64_t kTicks = [] {
    long t = ::sysconf(_SC_CLK_TCK);
    return t > 0 ? static_cast<int64_t>(t) : 100;
}();

// Host CPU time in ns, as Docker computes system_cpu_usage (user..softirq of /proc/stat's cpu line).
int64_t system_cpu_usage() {
    std::istringstream in(sys::read_file("/proc/stat").value_or(""));
    std::string label;
    in >> label;
    if (label != "cpu") return 0;
    int64_t total = 0, v;
    for (int i = 0; i < 7 && (in >> v); ++i) total += v;
    return total * (1000000000 / kTicks);
}

// Where each controller of a process's cgroups lives on this host.
struct Cgroups {
    std::map<std::string, std::string> v1;  // controller -> directory
    std::string v2;                         // unified directory ("" when none)
};

Result<Cgroups> cgroups_of(int pid) {
    auto text = sys::read_file("/proc/" + std::to_string(pid) + "/cgroup");
    if (!text) return make_error(Errc::NotFound, "process " + std::to_string(pid) + " is gone");
    Cgroups out;
    for (const auto& line : split(*text, '\n')) {
        auto c1 = line.find(':');
        auto c2 = c1 == std::string::npos ? std::string::npos : line.find(':', c1 + 1);
        if (c2 == std::string::npos) continue;
        std::string controllers = line.substr(c1 + 1, c2 - c1 - 1);
        std::string path = line.substr(c2 + 1);
        if (controllers.empty()) {
            // Pure v2 mounts the unified hierarchy at the root; hybrid hosts under "unified".
            std::string base = sys::exists(std::string(kCgroupRoot) + "/cgroup.controllers") ? kCgroupRoot
                                                                                          : std::string(kCgroupRoot) + "/unified";
            out.v2 = base + path;
            continue;
        }
        for (const auto& ctrl : split(controllers, ',')) {
            if (ctrl.empty() || ctrl.rfind("name=", 0) == 0) continue;
            // Co-mounted controllers ("cpu,cpuacct") have a directory named after the list, and
            // usually a symlink per controller.
            std::string dir = std::string(kCgroupRoot) + "/" + ctrl;
            if (!sys::exists(dir)) dir = std::string(kCgroupRoot) + "/" + controllers;
            out.v1[ctrl] = dir + path;
        }
    }
    return out;
}

Json throttling(int64_t periods, int64_t throttled, int64_t time_ns) {
    return {{"periods", periods}, {"throttled_periods", throttled}, {"throttled_time", time_ns}};
}

Json blkio_shape(Json service_bytes) {
    Json b = Json::object();
    for (const char* key : {"io_serviced_recursive", "io_queue_recursive", "io_service_time_recursive",
                            "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive", "sectors_recursive"}) {
        b[key] = nullptr;
    }
    b["io_service_bytes_recursive"] = std::move(service_bytes);
    return b;
}

// "8:0 Read 4096" lines of a v1 blkio file; "Total" lines are dropped.
Json blkio_v1(const std::string& dir) {
    for (const char* file : {"blkio.io_service_bytes_recursive", "blkio.throttle.io_service_bytes_recursive",
                             "blkio.throttle.io_service_bytes"}) {
        auto text = sys::read_file(dir + "/" + file);
        if (!text) continue;
        Json entries = Json::array();
        std::istringstream in(*text);
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string dev, op;
            uint64_t value;
            if (!(fields >> dev >> op >> value)) continue;
            auto colon = dev.find(':');
            if (colon == std::string::npos) continue;
            entries.push_back({{"major", std::stoull(dev.substr(0, colon))}, {"minor", std::stoull(dev.substr(colon + 1))},
                               {"op", op}, {"value", value}});
        }
        if (!entries.empty()) return entries;
    }
    return Json::array();
}

// "8:0 rbytes=1 wbytes=2 ..." lines of io.stat.
Json blkio_v2(const std::string& dir) {
    Json entries = Json::array();
    std::istringstream in(sys::read_file(dir + "/io.stat").value_or(""));
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string dev, kv;
        if (!(fields >> dev)) continue;
        auto colon = dev.find(':');
        if (colon == std::string::npos) continue;
        uint64_t major = std::stoull(dev.substr(0, colon)), minor = std::stoull(dev.substr(colon + 1));
        while (fields >> kv) {
            auto eq = kv.find('=');
            if (eq == std::string::npos) continue;
            std::string key = kv.substr(0, eq);
            if (key != "rbytes" && key != "wbytes") continue;
            entries.push_back({{"major", major}, {"minor", minor}, {"op", key == "rbytes" ? "read" : "write"},
                               {"value", std::stoull(kv.substr(eq + 1))}});
        }
    }
    return entries;
}

Json kv_json(const std::map<std::string, int64_t>& kv) {
    Json j = Json::object();
    for (const auto& [k, v] : kv) j[k] = v;
    return j;
}

void collect_v1(const Cgroups& cg, Sample& s, int64_t mem_total) {
    auto at = [&](const char* ctrl) -> std::string {
        auto it = cg.v1.find(ctrl);
        return it == cg.v1.end() ? std::string() : it->second;
    };
    std::string cpuacct = at("cpuacct"), cpu = at("cpu"), memory = at("memory"), blkio = at("blkio"), pids = at("pids");
    Json percpu = Json::array();
    std::istringstream in(sys::read_file(cpuacct + "/cpuacct.usage_percpu").value_or(""));
    uint64_t v;
    while (in >> v) percpu.push_back(v);
    auto ticks = read_kv(cpuacct + "/cpuacct.stat");
    int64_t ns_per_tick = 1000000000 / kTicks;
    s.cpu["cpu_usage"] = {{"total_usage", read_int(cpuacct + "/cpuacct.usage")},
                          {"percpu_usage", percpu},
                          {"usage_in_kernelmode", ticks["system"] * ns_per_tick},
                          {"usage_in_usermode", ticks["user"] * ns_per_tick}};
    auto cs = read_kv(cpu + "/cpu.stat");
    s.cpu["throttling_data"] = throttling(cs["nr_periods"], cs["nr_throttled"], cs["throttled_time"]);

    int64_t limit = read_int(memory + "/memory.limit_in_bytes", mem_total);
    s.memory = {{"usage", read_int(memory + "/memory.usage_in_bytes")},
                {"max_usage", read_int(memory + "/memory.max_usage_in_bytes")},
                {"failcnt", read_int(memory + "/memory.failcnt")},
                {"limit", mem_total > 0 ? std::min(limit, mem_total) : limit},
                {"stats", kv_json(read_kv(memory + "/memory.stat"))}};
    s.blkio = blkio_shape(blkio_v1(blkio));
    s.pids = {{"current", read_int(pids + "/pids.current")}};
    if (int64_t max = read_int(pids + "/pids.max"); max > 0) s.pids["limit"] = max;
}

void collect_v2(const std::string& dir, Sample& s, int64_t mem_total) {
    auto cs = read_kv(dir + "/cpu.stat");
    s.cpu["cpu_usage"] = {{"total_usage", cs["usage_usec"] * 1000},
                          {"usage_in_kernelmode", cs["system_usec"] * 1000},
                          {"usage_in_usermode", cs["user_usec"] * 1000}};
    s.cpu["throttling_data"] = throttling(cs["nr_periods"], cs["nr_throttled"], cs["throttled_usec"] * 1000);
    int64_t limit = read_int(dir + "/memory.max", mem_total);
    s.memory = {{"usage", read_int(dir + "/memory.current")},
                {"limit", mem_total > 0 ? std::min(limit, mem_total) : limit},
                {"stats", kv_json(read_kv(dir + "/memory.stat"))}};
    s.blkio = blkio_shape(blkio_v2(dir));
    s.pids = {{"current", read_int(dir + "/pids.current")}};
    if (int64_t max = read_int(dir + "/pids.max"); max > 0) s.pids["limit"] = max;
}

// Interfaces of the process's network namespace, loopback excepted (Docker lists only the
// container's endpoints).
Json networks_of(int pid) {
    Json out = Json::object();
    std::istringstream in(sys::read_file("/proc/" + std::to_string(pid) + "/net/dev").value_or(""));
    std::string line;
    while (std::getline(in, line)) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;  // the two header lines
        std::string name = trim(line.substr(0, colon));
        if (name == "lo" || name.empty()) continue;
        std::istringstream fields(line.substr(colon + 1));
        uint64_t f[16] = {};
        for (auto& x : f) fields >> x;
        out[name] = {{"rx_bytes", f[0]}, {"rx_packets", f[1]}, {"rx_errors", f[2]}, {"rx_dropped", f[3]},
                     {"tx_bytes", f[8]}, {"tx_packets", f[9]}, {"tx_errors", f[10]}, {"tx_dropped", f[11]}};
    }
    return out;
}

std::string time_or_zero(int64_t ns) { return ns > 0 ? rfc3339_nano(ns) : std::string(kZeroTime); }

}  // namespace

Sample zero() {
    Sample s;
    s.cpu = {{"cpu_usage", {{"total_usage", 0}, {"usage_in_kernelmode", 0}, {"usage_in_usermode", 0}}},
             {"throttling_data", throttling(0, 0, 0)}};
    s.blkio = blkio_shape(nullptr);
    return s;
}

Result<Sample> collect(int pid) {
    CTL_ASSIGN_OR_RETURN(auto cg, cgroups_of(pid));
    Sample s;
    s.read_ns = now_unix_nanos();
    int64_t mem_total = host_memory();
    // A v1 memory or cpuacct controller means the v2 tree (if any) carries no controllers.
    if (cg.v1.count("memory") || cg.v1.count("cpuacct")) collect_v1(cg, s, mem_total);
    else if (!cg.v2.empty()) collect_v2(cg.v2, s, mem_total);
    else return make_error(Errc::Unavailable, "no cgroup found for process " + std::to_string(pid));
    s.cpu["system_cpu_usage"] = system_cpu_usage();
    long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    s.cpu["online_cpus"] = cpus > 0 ? cpus : 1;
    s.networks = networks_of(pid);
    // The process may have exited while we read: the numbers would be of an empty cgroup.
    if (!sys::exists("/proc/" + std::to_string(pid))) return make_error(Errc::NotFound, "process exited");
    return s;
}

Json render(const Sample& cur, const Sample& prev, const std::string& name, const std::string& id) {
    Json j = {{"read", time_or_zero(cur.read_ns)},
              {"preread", time_or_zero(prev.read_ns)},
              {"pids_stats", cur.pids},
              {"blkio_stats", cur.blkio},
              {"num_procs", 0},
              {"storage_stats", Json::object()},
              {"cpu_stats", cur.cpu},
              {"precpu_stats", prev.cpu},
              {"memory_stats", cur.memory},
              {"name", name},
              {"id", id}};
    if (cur.read_ns > 0) j["networks"] = cur.networks;
    return j;
}

// ---- Ticker ----

void Ticker::subscribe(std::function<Target()> source, std::function<bool(const std::string&)> send,
                       std::function<bool()> gone, std::function<void()> end) {
    auto sub = std::make_shared<Sub>();
    sub->source = std::move(source);
    sub->send = std::move(send);
    sub->gone = std::move(gone);
    sub->end = std::move(end);
    // The baseline makes the first line's precpu_stats a real reading, so its CPU % is meaningful.
    Target t = sub->source();
    if (t.pid > 0) {
        if (auto s = collect(t.pid)) {
            sub->prev = std::move(*s);
            sub->prev_pid = t.pid;
        }
    }
    std::lock_guard lock(mu_);
    if (stopping_) {
        sub->end();
        return;
    }
    subs_.push_back(std::move(sub));
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
    cv_.notify_all();
}

void Ticker::stop() {
    std::vector<std::shared_ptr<Sub>> subs;
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        subs.swap(subs_);
        cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    for (auto& s : subs) s->end();
}

void Ticker::loop() {
    using Clock = std::chrono::steady_clock;
    auto next = Clock::now() + std::chrono::seconds(1);
    for (;;) {
        std::vector<std::shared_ptr<Sub>> subs;
        {
            std::unique_lock lock(mu_);
            cv_.wait_until(lock, next, [&] { return stopping_; });
            if (stopping_) return;
            subs = subs_;
        }
        next += std::chrono::seconds(1);
        if (next < Clock::now()) next = Clock::now() + std::chrono::seconds(1);
        std::vector<std::shared_ptr<Sub>> done;
        for (auto& sub : subs) {
            Target t = sub->source();
            if (sub->gone()) {
                done.push_back(sub);
                continue;
            }
            if (!t.exists) {
                sub->end();
                done.push_back(sub);
                continue;
            }
            if (t.pid <= 0) {  // stopped or restarting: Docker sends nothing until it runs again
                sub->prev = zero();
                sub->prev_pid = 0;
                continue;
            }
            auto s = collect(t.pid);
            if (!s) continue;
            if (sub->prev_pid != t.pid) sub->prev = zero();  // restarted: a new cgroup
            if (!sub->send(to_line(render(*s, sub->prev, t.name, t.id)) + "\n")) {
                done.push_back(sub);
                continue;
            }
            sub->prev = std::move(*s);
            sub->prev_pid = t.pid;
        }
        if (!done.empty()) {
            std::lock_guard lock(mu_);
            std::erase_if(subs_, [&](const auto& s) { return std::find(done.begin(), done.end(), s) != done.end(); });
        }
    }
}

}  // namespace ctl::container::stats
