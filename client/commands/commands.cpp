#include "client/commands/commands.hpp"

namespace ctl::client {

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
