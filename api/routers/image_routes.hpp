// /images/*, /auth.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/router.hpp"
#include "api/streams.hpp"

namespace ctl::api {

using ProgressFn = std::function<bool(const Json&)>;
using SinkFn = std::function<Status(const char*, size_t)>;

// What the image routes need from the engine. Everything may block.
class ImageBackend {
public:
    virtual ~ImageBackend() = default;
    virtual Result<Json> list_images(const Filters& filters) = 0;
    virtual Result<Json> inspect_image(const std::string& name) = 0;   // NotFound "No such image: x"
    virtual Result<Json> image_history(const std::string& name) = 0;
    virtual Status tag_image(const std::string& source, const std::string& repo, const std::string& tag) = 0;
    virtual Result<Json> remove_image(const std::string& name, bool force, bool noprune) = 0;
    virtual Result<Json> prune_images(const Filters& filters) = 0;
    // `registry_auth` is the raw X-Registry-Auth header.
    virtual Status pull_image(const std::string& reference, const std::string& platform,
                              const std::string& registry_auth, const ProgressFn& progress) = 0;
    virtual Status push_image(const std::string& reference, const std::string& registry_auth,
                              const ProgressFn& progress) = 0;
    virtual Result<std::string> import_image(ReadFn body, const std::string& repo_tag,
                                             const std::vector<std::string>& changes, const std::string& message,
                                             const ProgressFn& progress) = 0;
    virtual Status load_images(ReadFn body, bool quiet, const ProgressFn& progress) = 0;
    virtual Status save_images(const std::vector<std::string>& names, const SinkFn& sink) = 0;
    // POST /auth: checks the credentials against the registry.
    virtual Result<Json> login(const Json& auth_config) = 0;
};

void register_image_routes(Router& router, ImageBackend& backend);

}  // namespace ctl::api
