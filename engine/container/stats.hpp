// Container resource usage for GET /containers/{id}/stats: one sample is read from the cgroup of
// the container's init process (cgroup v1 controllers, or the unified v2 hierarchy when no v1
// controller is attached) plus /proc/<pid>/net/dev of its network namespace, and rendered in
// Docker's StatsJSON shape. A Ticker serves every streaming client from one thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/json.hpp"
#include "engine/base/result.hpp"

namespace ctl::container::stats {

// One reading. The JSON members are in Docker's shapes (cpu_stats, memory_stats, ...).
struct Sample {
    int64_t read_ns = 0;  // 0 = never read (renders as Go's zero time)
    Json cpu = Json::object();
    Json memory = Json::object();
    Json blkio = Json::object();
    Json pids = Json::object();
    Json networks = Json::object();
};

// Docker's all-zero sample (stopped containers, the precpu of a first reading).
Sample zero();

// Reads the usage of the cgroup `pid` belongs to. Blocks on small /proc and cgroupfs reads
// (well under a millisecond). NotFound when the process is gone.
Result<Sample> collect(int pid);

// The StatsJSON document: `cur` with `prev` as precpu/preread.
Json render(const Sample& cur, const Sample& prev, const std::string& name, const std::string& id);

// What a stream needs to know about its container at each tick.
struct Target {
    bool exists = false;  // false: the container was removed, the stream ends
    int pid = 0;          // 0 while not running: nothing is sent (as Docker)
    std::string name;     // "/name"
    std::string id;
};

// Samples every subscribed stream about once a second on one thread, so a watching client costs
// no parked thread. `send` must not block (it drops a line rather than wait); it returns false
// once the client is gone, which ends the subscription, as does `gone()` (checked while the
// container is stopped and nothing is sent); `end` closes a stream whose container was removed,
// and every stream at shutdown.
class Ticker {
public:
    Ticker() = default;
    ~Ticker() { stop(); }
    Ticker(const Ticker&) = delete;
    Ticker& operator=(const Ticker&) = delete;

    void subscribe(std::function<Target()> source, std::function<bool(const std::string& line)> send,
                   std::function<bool()> gone, std::function<void()> end);
    // Ends every stream and joins the thread.
    void stop();

private:
    struct Sub {
        std::function<Target()> source;
        std::function<bool(const std::string&)> send;
        std::function<bool()> gone;
        std::function<void()> end;
        Sample prev = zero();
        int prev_pid = 0;
    };
    void loop();

    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::shared_ptr<Sub>> subs_;
    std::thread thread_;
    bool stopping_ = false;
};

}  // namespace ctl::container::stats
