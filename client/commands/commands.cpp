#include "client/commands/commands.hpp"

namespace ctl::client {

std::span<const CommandGroup> command_groups() {
    static const CommandGroup groups[] = {
        {"system", add_system_commands},
        {"image", add_image_commands},
    };
    return groups;
}

}  // namespace ctl::client
