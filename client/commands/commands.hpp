// The registry of ctl's command groups. Each group lives in its own file, commands/<group>.cpp,
// and adds its subcommands (with add_command / add_group from client/cli.hpp) to the app.
//
// Adding a group: write commands/<group>.cpp defining add_<group>_commands, declare it below,
// list it in commands.cpp, and add the file to ctl_client in client/CMakeLists.txt.
#pragma once

#include <cstdio>
#include <span>
#include <string>

#include "client/cli.hpp"

namespace ctl::client {

struct CommandGroup {
    const char* name;
    void (*add)(CLI::App& app, Context& ctx);
};

// Every group, in the order `ctl --help` lists their commands.
std::span<const CommandGroup> command_groups();

// Shared by the groups' prune and inspect commands.
// Prints `warning` and docker's "Are you sure you want to continue? [y/N]"; true for "y"/"Y"
// (surrounding blanks ignored, as docker's prompt does).
bool confirm(Context& ctx, const std::string& warning);
// GET <path_prefix><name> for each name, printed as a JSON array, one `json` line each, or through
// the --format template; a missing object is reported and the exit code becomes 125.
Status inspect_objects(Context& ctx, const std::string& path_prefix, const std::vector<std::string>& names,
                       const std::string& format);

void add_system_commands(CLI::App& app, Context& ctx);  // version, info, events, system df|info|events
void add_image_commands(CLI::App& app, Context& ctx);   // pull, push, images, rmi, tag, image *, inspect, login, ...
void add_volume_commands(CLI::App& app, Context& ctx);
void add_network_commands(CLI::App& app, Context& ctx);  // network create|ls|inspect|rm|prune|connect|disconnect, port  // volume create|ls|inspect|rm|prune
void add_container_commands(CLI::App& app, Context& ctx);  // run, create, ps, exec, logs, ..., container *
void add_container_data_commands(CLI::App& app, Context& ctx);  // cp, stats, export, diff, commit (+ container *)

// Pulls `image` (a tag or digest reference, as given) with progress on `progress` (nullptr: none);
// run and create use it for a missing image. Defined in images.cpp.
Status pull_image_for_run(Context& ctx, FILE* progress, const std::string& image, const std::string& platform);

}  // namespace ctl::client
