// How the docker CLI shows sizes, IDs, times and long strings; shared by every command's output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ctl::client {

// units.HumanSizeWithPrecision: decimal units ("1.23MB"), `precision` significant digits.
std::string human_size_precision(double bytes, int precision);
// units.BytesSize: binary units with 4 significant digits ("3.821GiB").
std::string bytes_size(double bytes);
// stringid.TruncateID: drops an "algo:" prefix and keeps 12 characters.
std::string truncate_id(std::string_view id);
// formatter.Ellipsis: at most `width` code points, the last one "…" when cut.
std::string ellipsis(std::string_view text, size_t width);
// "3 hours ago" for a Unix time in seconds, as docker's CreatedSince / RunningFor.
std::string time_ago(int64_t unix_seconds);
// An RFC 3339 time ("2024-05-01T10:00:00.5Z") in Go's time.ANSIC form ("Wed May  1 10:00:00 2024"),
// as `docker version` prints build times; other text is returned unchanged.
std::string ansic_time(std::string_view rfc3339);
// Unix nanoseconds in local time as Go's "2006-01-02T15:04:05.000000000Z07:00" (docker events).
std::string local_time_nano(int64_t unix_nanos);

}  // namespace ctl::client
