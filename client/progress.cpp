#include "client/progress.hpp"

#include <unistd.h>

#include <algorithm>

namespace ctl::client {

bool is_terminal(FILE* f) { return ::isatty(::fileno(f)) != 0; }

ProgressPrinter::ProgressPrinter(FILE* out, bool terminal) : out_(out), terminal_(terminal) {}

Status ProgressPrinter::show(const Json& m) {
    if (const Json* detail = find_ci(m, "errorDetail")) {
        return make_error(Errc::Internal, string_or(*detail, "message", string_or(m, "error")));
    }
    if (const Json* err = find_ci(m, "error")) {
        return make_error(Errc::Internal, err->is_string() ? err->get<std::string>() : err->dump());
    }
    if (const Json* aux = find_ci(m, "aux")) {
        aux_.push_back(*aux);
        return ok();
    }
    if (const Json* stream = find_ci(m, "stream"); stream && stream->is_string()) {
        std::fputs(stream->get<std::string>().c_str(), out_);
        std::fflush(out_);
        return ok();
    }
    std::string id = string_or(m, "id");
    std::string status = string_or(m, "status");
    std::string progress = terminal_ ? string_or(m, "progress") : "";
    std::string line = id.empty() ? status : id + ": " + status + (progress.empty() ? "" : " " + progress);
    if (!terminal_ || id.empty()) {
        // Plain output skips the per-chunk "Downloading"/"Pushing" noise.
        if (!terminal_ && m.contains("progressDetail") && find_ci(m, "progressDetail")->contains("current")) return ok();
        std::fprintf(out_, "%s\n", line.c_str());
        if (terminal_ && !id.empty()) ids_.push_back(id);
        std::fflush(out_);
        return ok();
    }
    auto it = std::find(ids_.begin(), ids_.end(), id);
    if (it == ids_.end()) {
        ids_.push_back(id);
        std::fprintf(out_, "%s\x1b[K\n", line.c_str());
    } else {
        size_t up = static_cast<size_t>(ids_.end() - it);
        std::fprintf(out_, "\x1b[%zuA\r%s\x1b[K\x1b[%zuB\r", up, line.c_str(), up);
    }
    std::fflush(out_);
    return ok();
}

}  // namespace ctl::client
