#include "engine/container/shim/json_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/base/json.hpp"
#include "engine/base/util.hpp"

namespace ctl::container::shim {

std::string json_log_line(std::string_view stream, std::string_view text, int64_t time_ns) {
    // Written by hand so the key order is Docker's (log, stream, time) and nothing is re-parsed.
    std::string line = "{\"log\":";
    line += Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
    line += ",\"stream\":\"";
    line += stream;
    line += "\",\"time\":\"";
    line += rfc3339_nano(time_ns);
    line += "\"}\n";
    return line;
}

Result<JsonFileLog> JsonFileLog::open(const std::string& path, int64_t max_size, int max_files) {
    JsonFileLog log;
    log.path_ = path;
    log.max_size_ = max_size > 0 ? max_size : -1;
    log.max_files_ = max_files < 1 ? 1 : max_files;
    log.fd_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
    if (!log.fd_.valid()) return sys_error("open log " + path);
    struct stat st {};
    if (::fstat(log.fd_.get(), &st) != 0) return sys_error("stat log " + path);
    log.size_ = st.st_size;
    return log;
}

Status JsonFileLog::write(std::string_view stream, std::string_view text, int64_t time_ns) {
    if (max_size_ > 0 && size_ >= max_size_) CTL_TRY(rotate());
    std::string line = json_log_line(stream, text, time_ns);
    CTL_TRY(sys::write_all(fd_.get(), line));
    size_ += static_cast<int64_t>(line.size());
    return ok();
}

Status JsonFileLog::rotate() {
    if (max_files_ <= 1) {
        // Docker truncates in place when only one file is kept.
        if (::ftruncate(fd_.get(), 0) != 0) return sys_error("truncate log " + path_);
        size_ = 0;
        return ok();
    }
    // FILE.(n-2) -> FILE.(n-1) ... FILE.1 -> FILE.2, FILE -> FILE.1: the oldest is overwritten.
    for (int i = max_files_ - 1; i > 1; --i) {
        std::string from = path_ + "." + std::to_string(i - 1), to = path_ + "." + std::to_string(i);
        if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) return sys_error("rotate log " + from);
    }
    if (::rename(path_.c_str(), (path_ + ".1").c_str()) != 0) return sys_error("rotate log " + path_);
    sys::UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640));
    if (!fd.valid()) return sys_error("open log " + path_);
    fd_ = std::move(fd);
    size_ = 0;
    return ok();
}

void LineSplitter::feed(std::string_view data, const Emit& emit) {
    while (!data.empty()) {
        size_t nl = data.find('\n');
        size_t take = nl == std::string_view::npos ? data.size() : nl + 1;
        // Never hold more than kMaxLine: an over-long line goes out in kMaxLine pieces.
        take = std::min(take, kMaxLine - buf_.size());
        buf_.append(data.substr(0, take));
        data.remove_prefix(take);
        if (buf_.back() == '\n' || buf_.size() == kMaxLine) {
            emit(buf_);
            buf_.clear();
        }
    }
}

void LineSplitter::flush(const Emit& emit) {
    if (buf_.empty()) return;
    emit(buf_);
    buf_.clear();
}

}  // namespace ctl::container::shim
