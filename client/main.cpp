// ctl: the engine's command-line client. It parses docker-style arguments and turns them into
// API calls; everything else happens in ctld.
#include <cstdio>

#include "client/cli.hpp"

using namespace ctl::client;

int main(int argc, char** argv) {
    GlobalOptions options;
    Context ctx(options);
    CLI::App app{"ctl: a client for the ctld container engine", "ctl"};
    app.set_version_flag("-v,--version", std::string("ctl version ") + CTL_VERSION + ", build " + CTL_GIT_COMMIT);
    app.add_option("-H,--host", options.host, "Engine socket to connect to (default $CTL_HOST or unix:///run/ctld.sock)");
    app.add_flag("--tlsverify", options.tls.verify, "Use TLS and verify the remote");
    app.add_option("--tlscacert", options.tls.ca, "Trust certs signed only by this CA");
    app.add_option("--tlscert", options.tls.cert, "Path to TLS certificate file");
    app.add_option("--tlskey", options.tls.key, "Path to TLS key file");
    app.add_flag("-D,--debug", options.debug, "Enable debug mode");
    app.require_subcommand(1);
    app.fallthrough();

    register_system_commands(app, ctx);
    register_image_commands(app, ctx);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::fputs(app.help().c_str(), stdout);
        return 0;
    } catch (const CLI::CallForVersion&) {
        std::puts(app.version().c_str());
        return 0;
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) {
            return app.exit(e);
        }
        std::fprintf(stderr, "ctl: %s\nSee 'ctl --help'.\n", e.what());
        return kExitEngineError;
    }
    return ctx.exit_code();
}
