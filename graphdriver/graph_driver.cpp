#include "graphdriver/graph_driver.hpp"

#include "graphdriver/internal/overlay_driver.hpp"
#include "graphdriver/internal/vfs_driver.hpp"

namespace ctl::graph {

Result<std::unique_ptr<GraphDriver>> make_graph_driver(const std::string& name, const std::string& root) {
    if (root.empty() || root[0] != '/') return make_error(Errc::InvalidArgument, "storage root must be an absolute path");
    std::string base = root;
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    if (name == "overlay" || name == "overlay2") return internal::OverlayDriver::open(base + "/overlay2");
    if (name == "vfs") return internal::VfsDriver::open(base + "/vfs");
    return make_error(Errc::InvalidArgument, "unknown storage driver \"" + name + "\" (use overlay2 or vfs)");
}

bool overlay_supported(const std::string& root) { return internal::probe_overlay(root); }

}  // namespace ctl::graph
