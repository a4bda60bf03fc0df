#include "api/byte_queue.hpp"

namespace ctl::api {

void ByteQueue::notify_locked(std::unique_lock<std::mutex>& lock) {
    auto notify = notify_;
    lock.unlock();
    cv_.notify_all();
    if (notify) notify();
}

bool ByteQueue::push(std::string chunk) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return cancelled_ || bytes_ < limit_; });
    if (cancelled_) return false;
    if (chunk.empty()) return true;
    bytes_ += chunk.size();
    chunks_.push_back(std::move(chunk));
    notify_locked(lock);
    return true;
}

bool ByteQueue::push_nowait(std::string chunk) {
    std::unique_lock lock(mutex_);
    if (cancelled_) return false;
    if (chunk.empty()) return true;
    bytes_ += chunk.size();
    chunks_.push_back(std::move(chunk));
    notify_locked(lock);
    return true;
}

bool ByteQueue::push_nowait_if_room(std::string chunk) {
    std::unique_lock lock(mutex_);
    if (cancelled_ || bytes_ >= limit_) return false;
    bytes_ += chunk.size();
    chunks_.push_back(std::move(chunk));
    notify_locked(lock);
    return true;
}

void ByteQueue::close() {
    std::unique_lock lock(mutex_);
    if (closed_) return;
    closed_ = true;
    notify_locked(lock);
}

std::optional<std::string> ByteQueue::pop() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return !chunks_.empty() || closed_ || cancelled_; });
    if (chunks_.empty()) return std::nullopt;
    std::string out = std::move(chunks_.front());
    chunks_.pop_front();
    bytes_ -= out.size();
    notify_locked(lock);
    return out;
}

ByteQueue::PopState ByteQueue::try_pop_all(std::string& out) {
    std::unique_lock lock(mutex_);
    if (chunks_.empty()) return closed_ || cancelled_ ? PopState::Closed : PopState::Empty;
    out.clear();
    for (auto& c : chunks_) out += c;
    chunks_.clear();
    bytes_ = 0;
    notify_locked(lock);
    return PopState::Data;
}

void ByteQueue::cancel() {
    std::function<void()> fn;
    {
        std::unique_lock lock(mutex_);
        if (cancelled_) return;
        cancelled_ = true;
        chunks_.clear();
        bytes_ = 0;
        fn = std::move(on_cancel_);
        notify_locked(lock);
    }
    if (fn) fn();
}

bool ByteQueue::cancelled() const {
    std::lock_guard lock(mutex_);
    return cancelled_;
}

bool ByteQueue::closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
}

void ByteQueue::set_notify(std::function<void()> notify) {
    std::lock_guard lock(mutex_);
    notify_ = std::move(notify);
}

void ByteQueue::on_cancel(std::function<void()> fn) {
    bool run_now = false;
    {
        std::lock_guard lock(mutex_);
        if (cancelled_) run_now = true;
        else on_cancel_ = std::move(fn);
    }
    if (run_now && fn) fn();
}

}  // namespace ctl::api
