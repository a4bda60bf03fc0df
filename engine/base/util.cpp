#include "engine/base/util.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace ctl {

std::string random_hex_id() {
    unsigned char bytes[32];
    size_t got = 0;
    while (got < sizeof bytes) {
        ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
        if (n > 0) got += static_cast<size_t>(n);
    }
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
    return out;
}

int64_t now_unix_nanos() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string rfc3339_nano(int64_t unix_nanos) {
    time_t secs = static_cast<time_t>(unix_nanos / 1000000000);
    long nanos = static_cast<long>(unix_nanos % 1000000000);
    if (nanos < 0) {
        nanos += 1000000000;
        --secs;
    }
    struct tm tm {};
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out = base;
    if (nanos != 0) {
        char frac[16];
        snprintf(frac, sizeof frac, ".%09ld", nanos);
        std::string f = frac;
        while (!f.empty() && f.back() == '0') f.pop_back();  // Go trims trailing zeros
        out += f;
    }
    out += "Z";
    return out;
}

int64_t parse_timestamp(std::string_view text) {
    std::string t = trim(text);
    if (t.empty()) return -1;
    bool numeric = std::all_of(t.begin(), t.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-'; });
    if (numeric) {
        auto dot = t.find('.');
        try {
            int64_t secs = std::stoll(t.substr(0, dot));
            int64_t nanos = 0;
            if (dot != std::string::npos) {
                std::string frac = t.substr(dot + 1, 9);
                while (frac.size() < 9) frac.push_back('0');
                nanos = std::stoll(frac);
            }
            return secs * 1000000000 + nanos;
        } catch (...) {
            return -1;
        }
    }
    struct tm tm {};
    const char* rest = strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest) return -1;
    int64_t nanos = 0;
    if (*rest == '.') {
        ++rest;
        std::string frac;
        while (std::isdigit(static_cast<unsigned char>(*rest))) frac.push_back(*rest++);
        frac = frac.substr(0, 9);
        while (frac.size() < 9) frac.push_back('0');
        nanos = std::stoll(frac);
    }
    return static_cast<int64_t>(timegm(&tm)) * 1000000000 + nanos;
}

std::vector<std::string> split(std::string_view text, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        auto pos = text.find(sep, start);
        out.emplace_back(text.substr(start, pos - start));
        if (pos == std::string_view::npos) break;
        start = pos + 1;
    }
    return out;
}

std::string trim(std::string_view text) {
    auto b = text.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    auto e = text.find_last_not_of(" \t\r\n");
    return std::string(text.substr(b, e - b + 1));
}

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }
bool ends_with(std::string_view text, std::string_view suffix) {
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string clean_absolute_path(std::string_view path) {
    std::vector<std::string> parts;
    for (const auto& p : split(path, '/')) {
        if (p.empty() || p == ".") continue;
        if (p == "..") {
            if (!parts.empty()) parts.pop_back();
            continue;
        }
        parts.push_back(p);
    }
    std::string out;
    for (const auto& p : parts) out += "/" + p;
    return out.empty() ? std::string("/") : out;
}

std::string to_lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::string human_size(double bytes) {
    static const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    int i = 0;
    while (bytes >= 1000.0 && i < 5) {
        bytes /= 1000.0;
        ++i;
    }
    char buf[32];
    // Go's "%.4g" then unit, e.g. "1.23MB", "512B"
    snprintf(buf, sizeof buf, "%.4g%s", bytes, units[i]);
    return buf;
}

std::string human_duration(int64_t seconds) {
    char buf[64];
    if (seconds < 1) return "Less than a second";
    if (seconds == 1) return "1 second";
    if (seconds < 60) {
        snprintf(buf, sizeof buf, "%lld seconds", static_cast<long long>(seconds));
        return buf;
    }
    int64_t minutes = seconds / 60;
    if (minutes == 1) return "About a minute";
    if (minutes < 60) {
        snprintf(buf, sizeof buf, "%lld minutes", static_cast<long long>(minutes));
        return buf;
    }
    int64_t hours = static_cast<int64_t>(std::llround(seconds / 3600.0));
    if (hours == 1) return "About an hour";
    if (hours < 48) {
        snprintf(buf, sizeof buf, "%lld hours", static_cast<long long>(hours));
        return buf;
    }
    if (hours < 24 * 7 * 2) {
        snprintf(buf, sizeof buf, "%lld days", static_cast<long long>(hours / 24));
        return buf;
    }
    if (hours < 24 * 30 * 2) {
        snprintf(buf, sizeof buf, "%lld weeks", static_cast<long long>(hours / 24 / 7));
        return buf;
    }
    if (hours < 24 * 365 * 2) {
        snprintf(buf, sizeof buf, "%lld months", static_cast<long long>(hours / 24 / 30));
        return buf;
    }
    snprintf(buf, sizeof buf, "%lld years", static_cast<long long>(hours / 24 / 365));
    return buf;
}

}  // namespace ctl
