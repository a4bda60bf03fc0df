#include "client/display.hpp"

#include <cstdio>
#include <ctime>
#include <vector>

#include "engine/base/util.hpp"

namespace ctl::client {

std::string human_size_precision(double bytes, int precision) {
    static const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
    size_t i = 0;
    while (bytes >= 1000.0 && i + 1 < sizeof units / sizeof units[0]) {
        bytes /= 1000.0;
        ++i;
    }
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.*g%s", precision, bytes, units[i]);
    return buf;
}

std::string bytes_size(double bytes) {
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
    size_t i = 0;
    while (bytes >= 1024.0 && i + 1 < sizeof units / sizeof units[0]) {
        bytes /= 1024.0;
        ++i;
    }
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.4g%s", bytes, units[i]);
    return buf;
}

std::string truncate_id(std::string_view id) {
    auto colon = id.find(':');
    if (colon != std::string_view::npos) id.remove_prefix(colon + 1);
    return std::string(id.substr(0, 12));
}

std::string ellipsis(std::string_view text, size_t width) {
    std::vector<std::string_view> points;
    for (size_t i = 0; i < text.size();) {
        size_t n = 1;
        while (i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) ++n;
        points.push_back(text.substr(i, n));
        i += n;
    }
    if (points.size() <= width) return std::string(text);
    if (width == 0) return {};
    std::string out;
    for (size_t i = 0; i + 1 < width; ++i) out += points[i];
    return out + (width == 1 ? std::string(points[0]) : "…");
}

std::string time_ago(int64_t unix_seconds) {
    int64_t now = now_unix_nanos() / 1000000000;
    return human_duration(now - unix_seconds) + " ago";
}

std::string ansic_time(std::string_view rfc3339) {
    std::string text(rfc3339);
    if (text.size() < 20 || text[4] != '-' || text[10] != 'T' || (text.back() != 'Z' && text.back() != 'z')) return text;
    int64_t ns = parse_timestamp(text.substr(0, text.size() - 1));
    if (ns < 0) return text;
    time_t secs = static_cast<time_t>(ns / 1000000000);
    struct tm tm {};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
    return buf;
}

std::string local_time_nano(int64_t unix_nanos) {
    time_t secs = static_cast<time_t>(unix_nanos / 1000000000);
    long nanos = static_cast<long>(unix_nanos % 1000000000);
    if (nanos < 0) {
        nanos += 1000000000;
        --secs;
    }
    struct tm tm {};
    localtime_r(&secs, &tm);
    char base[32];
    std::strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[64];
    long off = tm.tm_gmtoff;
    if (off == 0) {
        std::snprintf(out, sizeof out, "%s.%09ldZ", base, nanos);
    } else {
        char sign = off < 0 ? '-' : '+';
        off = off < 0 ? -off : off;
        std::snprintf(out, sizeof out, "%s.%09ld%c%02ld:%02ld", base, nanos, sign, off / 3600, (off % 3600) / 60);
    }
    return out;
}

}  // namespace ctl::client
