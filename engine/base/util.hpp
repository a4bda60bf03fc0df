// Small helpers every module needs: IDs, time stamps, strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ctl {

// 64 lowercase hex chars from the kernel's CSPRNG (container, exec and network IDs).
std::string random_hex_id();
inline std::string short_id(std::string_view id) { return std::string(id.substr(0, 12)); }

int64_t now_unix_nanos();
// RFC 3339 with nanoseconds in UTC, as Go's time.RFC3339Nano prints it ("...T10:00:00.123456789Z").
std::string rfc3339_nano(int64_t unix_nanos);
// Go's zero time as Docker reports never-set times.
inline constexpr std::string_view kZeroTime = "0001-01-01T00:00:00Z";

// Parses "1700000000", "1700000000.5", RFC3339 times; returns unix nanos or -1.
int64_t parse_timestamp(std::string_view text);

std::vector<std::string> split(std::string_view text, char sep);
std::string trim(std::string_view text);
bool starts_with(std::string_view text, std::string_view prefix);
bool ends_with(std::string_view text, std::string_view suffix);
std::string to_lower(std::string_view text);
// Lexically cleaned absolute path like Go's path.Clean on "/"+path: "." and empty parts dropped,
// ".." climbs (never above "/"). "" and "/.." become "/".
std::string clean_absolute_path(std::string_view path);

// "12.3MB"-style sizes with Docker's decimal units (docker CLI's units.HumanSize).
std::string human_size(double bytes);
// "2 hours", "About a minute", "3 seconds" (docker CLI's units.HumanDuration).
std::string human_duration(int64_t seconds);

}  // namespace ctl
