// ctl: the engine's command-line client. It turns docker-style arguments into API calls;
// everything else happens in ctld.
#include "client/cli.hpp"

int main(int argc, char** argv) { return ctl::client::run_cli(argc, argv); }
