// Change detection and export shared by the drivers.
//
// Naive diff (vfs): compares a layer tree with its parent's tree the way moby's
// archive.ChangesDirs does: a non-directory changed if mode, owner, rdev, size or mtime differ (or
// its security.capability); a directory only if mode, owner or rdev differ, and it is also listed
// as modified when something inside it changed (so its attributes travel with the diff). Deleted
// directories are reported once, not their contents.
//
// Overlay: the upper dir already is the change set; whether an entry is added or modified depends
// on whether the lower layers show that path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/base/result.hpp"
#include "graphdriver/archive.hpp"
#include "graphdriver/graph_driver.hpp"

namespace ctl::graph::internal {

// Changes of layer_dir relative to parent_dir ("" = an empty parent), in tree order (a directory
// before its contents, siblings sorted).
Result<std::vector<Change>> naive_changes(const std::string& layer_dir, const std::string& parent_dir);

// Tar of `changes` taken from layer_dir: added/modified entries as they are there (directories
// without their contents), deletions as ".wh.NAME" markers. Sorted by path, hard links kept.
Status export_changes(const std::string& layer_dir, const std::vector<Change>& changes, const Sink& sink);

// Bytes of the added/modified non-directories of `changes` in layer_dir (hard links once).
Result<int64_t> changes_size(const std::string& layer_dir, const std::vector<Change>& changes);

// Changes recorded in an overlay upper dir over `lowers` (diff dirs, nearest first): 0/0 character
// devices are deletions; an opaque directory also deletes what the lowers had inside it.
Result<std::vector<Change>> overlay_changes(const std::string& upper, const std::vector<std::string>& lowers);

// Bytes of the non-directories in an overlay upper dir, whiteouts excluded, hard links once.
Result<int64_t> upper_size(const std::string& upper);

}  // namespace ctl::graph::internal
