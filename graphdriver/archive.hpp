// Safe tar extraction and creation: image layers (apply and diff), later `docker cp` and the
// Dockerfile builder's COPY/ADD.
//
// Extraction never writes outside the target root: every entry is resolved from a directory fd of
// the root with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), the last component is never
// followed (O_NOFOLLOW / AT_SYMLINK_NOFOLLOW), and metadata is set on the opened inode. Names that
// climb above the root ("../x", "a/../../x"), hard links whose target climbs out, and whiteouts that
// name "." or ".." are rejected with Errc::InvalidArgument; absolute names and symlinks followed by
// later entries are confined to the root (as if the root were "/"). libarchive is used only to
// decompress and to parse; files are written here, not by archive_write_disk (it changes the
// process umask, see CVE-2023-30571).
//
// Both functions block (disk I/O, reading `read`, calling `sink`): run them on a worker thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "engine/base/result.hpp"

namespace ctl::graph {

// Pull-style input: fills buf with up to len bytes; returns the count, 0 at end, < 0 on error.
using ReadFn = std::function<long(void* buf, size_t len)>;
// Push-style output; an error stops the producer and is returned by it unchanged.
using Sink = std::function<Status(const char* data, size_t len)>;

// How OCI whiteout entries (".wh.NAME", ".wh..wh..opq") are applied.
enum class WhiteoutMode {
    Overlay,  // ".wh.NAME" -> 0/0 character device NAME; ".wh..wh..opq" -> trusted.overlay.opaque=y
    Delete,   // remove NAME / empty the directory of what earlier layers put there (vfs: full copies)
    None,     // extract the entries literally (docker cp, archives that are not layers)
};

struct ApplyOptions {
    WhiteoutMode whiteouts = WhiteoutMode::Overlay;
    // Apply the archive's uid/gid (needs CAP_CHOWN); false leaves files owned by this process.
    bool chown = true;
    // Upper bound on the uncompressed tar stream in bytes (0 = none); beyond it apply_tar fails
    // with Errc::TooLarge (decompression bombs).
    int64_t max_size = 0;
    // Extract below this directory of the root (resolved inside the root, must exist), e.g. the
    // destination of `docker cp`. Entries stay confined to the root, not to the target.
    std::string target;
};

struct ApplyStats {
    std::string diff_id;  // "sha256:<hex>" of the whole uncompressed tar stream (the OCI diffID)
    int64_t size = 0;     // bytes of file content the archive carries (sum of regular file sizes,
                          // what Docker reports as a layer's size)
};

// Extracts the tar read from `read` into the existing directory `root`. The compression (gzip,
// zstd, bzip2, xz or none) is detected from the bytes; the diffID is hashed while streaming and
// trailing bytes after the end-of-archive marker are read and hashed too. An empty stream is an
// empty layer. On error the root may hold part of the archive: callers that need all-or-nothing
// extract into a staging directory (the graph drivers do).
// Errors: InvalidArgument (corrupt or hostile archive), TooLarge (max_size), Unavailable (`read`
// failed), and the file-system error kinds of sys_error.
Result<ApplyStats> apply_tar(const std::string& root, ReadFn read, const ApplyOptions& options = {});

struct TarOptions {
    // Archive name of `path` itself. Empty: `path` must be a directory and only its contents are
    // archived, at the top of the archive ("bin/", "bin/sh", ...), as in layer tars. Non-empty: the
    // top entry is `name` and children are "name/child" (docker cp: the basename or a rename).
    std::string name;
    // Translate overlay upper-dir whiteouts back into OCI form: a 0/0 character device NAME becomes
    // an empty ".wh.NAME" file, a directory with trusted.overlay.opaque=y gets a ".wh..wh..opq" entry.
    bool overlay_whiteouts = false;
    // When set, `path` is resolved inside this root (openat2 RESOLVE_IN_ROOT): symlinks in it cannot
    // lead out of the root (docker cp from a container, CVE-2018-15664). The last component is not
    // followed: a symlink is archived as a symlink.
    std::string root;
};

// Writes a tar (ustar, PAX where needed) of `path` to `sink`: modes, owners, mtimes (whole
// seconds, as Docker writes them), xattrs (user.*, security.capability, POSIX ACLs), hard links
// within the archive, symlinks, devices, fifos. Sockets are skipped; entries are sorted by name.
// The walk is fd-based and never follows symlinks. Errors: NotFound for a missing path, the sink's
// own error, or file-system errors.
Status write_tar(const std::string& path, const Sink& sink, const TarOptions& options = {});

}  // namespace ctl::graph
