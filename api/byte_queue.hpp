// A bounded, thread-safe queue of byte chunks between a producer and a consumer that may live on
// different threads: the HTTP session (async, on the io thread) and a handler (blocking, on the
// worker pool), in either direction. Used for streamed responses and streamed request bodies.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace ctl::api {

class ByteQueue {
public:
    explicit ByteQueue(size_t limit_bytes = 1 << 20) : limit_(limit_bytes) {}

    // --- producer side ---
    // Blocks while the queue holds more than the limit. False once the consumer is gone.
    bool push(std::string chunk);
    // Never blocks (for async producers such as event subscribers); false once the consumer is gone.
    bool push_nowait(std::string chunk);
    // Queues only while under the limit; false when full or the consumer is gone (the caller
    // waits for a notify and retries; check cancelled() to tell the two apart).
    bool push_nowait_if_room(std::string chunk);
    // No more data; the consumer drains what is queued and then sees the end.
    void close();

    // --- consumer side ---
    // Blocks until data arrives or the producer closed (nullopt at the end).
    std::optional<std::string> pop();
    enum class PopState { Data, Empty, Closed };
    // Takes everything queued without blocking.
    PopState try_pop_all(std::string& out);
    // The consumer is gone: producers' push() returns false from now on.
    void cancel();

    bool cancelled() const;
    bool closed() const;
    // Called (outside the lock) after every state change, so an async side can wake up.
    void set_notify(std::function<void()> notify);
    // Called once when the consumer cancels (e.g. to unsubscribe from an event bus).
    void on_cancel(std::function<void()> fn);

private:
    void notify_locked(std::unique_lock<std::mutex>& lock);

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::string> chunks_;
    size_t bytes_ = 0;
    size_t limit_;
    bool closed_ = false;
    bool cancelled_ = false;
    std::function<void()> notify_;
    std::function<void()> on_cancel_;
};

}  // namespace ctl::api
