// Docker's json-file log driver as ctl-shim writes it: one JSON object per line,
//   {"log":"hello\n","stream":"stdout","time":"2026-11-22T10:00:00.123456789Z"}
// with size-based rotation (FILE, FILE.1, ... FILE.<max_files-1>), and Docker's line splitting:
// a line keeps its "\n"; 16 KiB without a newline become one entry without "\n" (Docker's
// partial message), and so does an unterminated last line at EOF.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "engine/base/result.hpp"
#include "engine/base/sys.hpp"

namespace ctl::container::shim {

// One log line as Docker writes it, "\n" included; invalid UTF-8 becomes U+FFFD like Go's encoder.
std::string json_log_line(std::string_view stream, std::string_view text, int64_t time_ns);

class JsonFileLog {
public:
    // max_size: rotate once the file has reached this many bytes (-1: never). max_files counts the
    // live file: 1 truncates in place, 3 keeps FILE, FILE.1 and FILE.2. Appends to an existing file
    // (a restarted container continues its log).
    static Result<JsonFileLog> open(const std::string& path, int64_t max_size = -1, int max_files = 1);

    // Writes one entry with a single write(2). Like Docker, rotation happens before a write when
    // the file has already reached max_size, so a file may exceed it by one entry.
    Status write(std::string_view stream, std::string_view text, int64_t time_ns);

    const std::string& path() const { return path_; }

private:
    Status rotate();

    std::string path_;
    sys::UniqueFd fd_;
    int64_t max_size_ = -1;
    int max_files_ = 1;
    int64_t size_ = 0;
};

// Splits a byte stream into log entries the way Docker's copier does.
class LineSplitter {
public:
    using Emit = std::function<void(std::string_view)>;
    static constexpr size_t kMaxLine = 16 * 1024;

    // Emits every complete line (with its "\n") and 16 KiB pieces of an over-long one.
    void feed(std::string_view data, const Emit& emit);
    // At EOF: emits what is left (no trailing "\n").
    void flush(const Emit& emit);
    size_t pending() const { return buf_.size(); }

private:
    std::string buf_;
};

}  // namespace ctl::container::shim
