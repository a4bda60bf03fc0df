#include "client/commands/commands.hpp"

namespace ctl::client {

std::span<const CommandGroup> command_groups() {
    static const CommandGroup groups[] = {
        {"system", add_system_commands},
        {"image", add_image_commands},
        {"volume", add_volume_commands},
    };
    return groups;
}

}  // namespace ctl::client
