#include "client/commands/commands.hpp"

#include <iostream>
#include <optional>

#include "engine/base/util.hpp"

namespace ctl::client {

bool confirm(Context& ctx, const std::string& warning) {
    ctx.out() << warning << "Are you sure you want to continue? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    answer = trim(answer);
    return answer == "y" || answer == "Y";
}

Status inspect_objects(Context& ctx, const std::string& path_prefix, const std::vector<std::string>& names,
                       const std::string& format) {
    std::optional<Template> tmpl;
    if (!format.empty() && format != "json") {
        CTL_ASSIGN_OR_RETURN(auto t, Template::parse(format));
        tmpl = std::move(t);
    }
    Json found = Json::array();
    bool failed = false;
    for (const auto& name : names) {
        auto doc = ctx.get_json(path_prefix + name);
        if (!doc) {
            ctx.report(doc.error());
            failed = true;
            continue;
        }
        if (format == "json") {
            ctx.out() << to_line(*doc) << "\n";
        } else if (tmpl) {
            CTL_ASSIGN_OR_RETURN(auto text, tmpl->render(*doc));
            ctx.out() << text << "\n";
        } else {
            found.push_back(*doc);
        }
    }
    if (format.empty()) ctx.out() << found.dump(4, ' ', false, Json::error_handler_t::replace) << "\n";
    if (failed) ctx.set_exit_code(kExitError);
    return ok();
}

std::span<const CommandGroup> command_groups() {
    static const CommandGroup groups[] = {
        {"system", add_system_commands},
        {"image", add_image_commands},
        {"volume", add_volume_commands},
        {"network", add_network_commands},
        {"container", add_container_commands},
        {"container-data", add_container_data_commands},  // after "container": joins its group
    };
    return groups;
}

}  // namespace ctl::client
