// Stream helpers for layer blobs: decompression (gzip, zstd, bzip2, xz or none, detected from
// the bytes) through libarchive, and readers over files and strings.
#pragma once

#include <functional>
#include <string>

#include "engine/base/result.hpp"
#include "graphdriver/archive.hpp"

namespace ctl::image {

using Sink = std::function<Status(const char*, size_t)>;

// Decompresses whatever `read` yields into `sink` (plain data passes through).
Status decompress(graph::ReadFn read, const Sink& sink);
// Reads a file from the start; the reader owns the descriptor.
Result<graph::ReadFn> file_reader(const std::string& path);
// A reader that also hands every byte it returns to `tee` (e.g. to keep the raw blob).
graph::ReadFn tee_reader(graph::ReadFn read, std::function<bool(const char*, size_t)> tee);

}  // namespace ctl::image
