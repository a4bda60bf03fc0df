#include "api/streams.hpp"

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

namespace ctl::api {

ReadFn queue_reader(std::shared_ptr<ByteQueue> queue) {
    auto pending = std::make_shared<std::string>();
    auto offset = std::make_shared<size_t>(0);
    return [queue, pending, offset](void* buf, size_t len) -> long {
        while (*offset >= pending->size()) {
            auto chunk = queue->pop();
            if (!chunk) return 0;
            *pending = std::move(*chunk);
            *offset = 0;
        }
        size_t n = std::min(len, pending->size() - *offset);
        std::memcpy(buf, pending->data() + *offset, n);
        *offset += n;
        return static_cast<long>(n);
    };
}

ReadFn body_reader(const Request& req) {
    if (req.body_stream) return queue_reader(req.body_stream);
    auto body = std::make_shared<std::string>(req.body);
    auto offset = std::make_shared<size_t>(0);
    return [body, offset](void* buf, size_t len) -> long {
        size_t n = std::min(len, body->size() - *offset);
        std::memcpy(buf, body->data() + *offset, n);
        *offset += n;
        return static_cast<long>(n);
    };
}

namespace {

// Shared between the worker thread and the request handler waiting for the first output.
struct LazyState {
    std::mutex mutex;
    std::condition_variable cv;
    bool wrote = false;
    bool done = false;
    Status result;
    std::shared_ptr<ByteQueue> buffer = std::make_shared<ByteQueue>(4u << 20);

    void mark_wrote() {
        std::lock_guard lock(mutex);
        if (!wrote) {
            wrote = true;
            cv.notify_all();
        }
    }
};

// Waits for the first output or the end; then either an error response or a stream that
// forwards the buffered output.
Response finish_lazy(const std::shared_ptr<LazyState>& state, std::string content_type) {
    std::unique_lock lock(state->mutex);
    state->cv.wait(lock, [&] { return state->wrote || state->done; });
    if (!state->wrote && state->done && !state->result) return Response::error(state->result.error());
    lock.unlock();
    return Response::streaming(std::move(content_type), [state](std::shared_ptr<ByteQueue> out) {
        while (auto chunk = state->buffer->pop()) {
            if (!out->push(std::move(*chunk))) {
                state->buffer->cancel();
                return;
            }
        }
        // A cancelled buffer means the work failed mid-way on a raw stream: end without the
        // final chunk so the client sees a truncated body rather than a complete one.
        if (state->buffer->cancelled()) out->cancel();
        else out->close();
    });
}

}  // namespace

Response lazy_json_stream(std::function<Status(JsonStream&)> work, std::string content_type) {
    auto state = std::make_shared<LazyState>();
    std::thread([state, work = std::move(work)] {
        JsonStream stream(state->buffer, [state] { state->mark_wrote(); });
        Status st;
        try {
            st = work(stream);
        } catch (const std::exception& e) {
            st = make_error(Errc::Internal, e.what());
        }
        bool wrote;
        {
            std::lock_guard lock(state->mutex);
            wrote = state->wrote;
        }
        // After output began, the error travels in-band (moby's error-after-flush rule).
        if (!st && wrote) stream.write_error(st.error().message);
        state->buffer->close();
        std::lock_guard lock(state->mutex);
        state->done = true;
        state->result = st;
        state->cv.notify_all();
    }).detach();
    return finish_lazy(state, std::move(content_type));
}

Response lazy_raw_stream(std::string content_type,
                         std::function<Status(const std::function<Status(const char*, size_t)>&)> work) {
    auto state = std::make_shared<LazyState>();
    std::thread([state, work = std::move(work)] {
        auto sink = [state](const char* data, size_t size) -> Status {
            if (!state->buffer->push(std::string(data, size))) return make_error(Errc::Cancelled, "client went away");
            state->mark_wrote();
            return ok();
        };
        Status st;
        try {
            st = work(sink);
        } catch (const std::exception& e) {
            st = make_error(Errc::Internal, e.what());
        }
        bool wrote;
        {
            std::lock_guard lock(state->mutex);
            wrote = state->wrote;
        }
        // A raw stream cannot carry an error: cut it so the client sees a truncated body.
        if (!st && wrote) state->buffer->cancel();
        else state->buffer->close();
        std::lock_guard lock(state->mutex);
        state->done = true;
        state->result = st;
        state->cv.notify_all();
    }).detach();
    return finish_lazy(state, std::move(content_type));
}

}  // namespace ctl::api
