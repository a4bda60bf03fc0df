// ctl pull, push, images, rmi, tag, inspect, image *, history, save, load, import, login, logout.
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>

#include "client/commands/commands.hpp"
#include "client/display.hpp"
#include "client/progress.hpp"
#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"

namespace ctl::client {

namespace {

std::string base64(std::string_view in, bool url) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    out.resize(static_cast<size_t>(n));
    if (url) {
        for (auto& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    return out;
}

std::string unbase64(std::string in) {
    for (auto& c : in) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (in.size() % 4) in += '=';
    std::string out(in.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    if (n < 0) return {};
    out.resize(static_cast<size_t>(n));
    while (!in.empty() && in.back() == '=' && !out.empty()) {  // padding decoded as zero bytes
        out.pop_back();
        in.pop_back();
    }
    return out;
}

// Docker's config.json layout, kept at ~/.config/ctl/config.json.
std::string config_path() {
    const char* home = std::getenv("HOME");
    return std::string(home && *home ? home : "/root") + "/.config/ctl/config.json";
}

Json load_config() {
    auto text = sys::read_file(config_path());
    if (!text) return Json::object();
    Json doc = Json::parse(*text, nullptr, false);
    return doc.is_object() ? doc : Json::object();
}

Status save_config(const Json& doc) {
    std::string path = config_path();
    CTL_TRY(sys::mkdir_all(std::filesystem::path(path).parent_path().string(), 0700));
    return sys::write_file_atomic(path, doc.dump(1, '\t') + "\n", 0600);
}

// The registry an image name points at, in the form config.json keys it.
std::string registry_of(const std::string& image) {
    auto slash = image.find('/');
    if (slash != std::string::npos) {
        std::string first = image.substr(0, slash);
        if (first.find('.') != std::string::npos || first.find(':') != std::string::npos || first == "localhost") {
            return first;
        }
    }
    return "https://index.docker.io/v1/";
}

std::map<std::string, std::string> auth_header_for(const std::string& image) {
    std::string server = registry_of(image);
    Json cfg = load_config();
    Json auth = {{"serveraddress", server}};
    if (const Json* auths = find_ci(cfg, "auths"); auths && auths->contains(server)) {
        std::string encoded = string_or((*auths)[server], "auth");
        std::string plain = unbase64(encoded);
        auto colon = plain.find(':');
        if (colon != std::string::npos) {
            auth["username"] = plain.substr(0, colon);
            auth["password"] = plain.substr(colon + 1);
        }
    }
    return {{"X-Registry-Auth", base64(to_line(auth), true)}};
}

// Streams a JSON progress response to the terminal; an error line becomes the command's error.
Status show_progress(Context& ctx, const Request& req, bool quiet = false, std::vector<Json>* aux = nullptr) {
    ProgressPrinter printer(quiet ? nullptr : stdout, is_terminal(stdout));
    ctx.out().flush();
    Status st = ctx.http().stream_json(req, [&](const Json& m) { return quiet ? ok() : printer.show(m); });
    if (aux) *aux = printer.aux();
    return st;
}

Status pull(Context& ctx, const std::string& image, const std::string& platform, bool quiet) {
    Query q = {{"fromImage", image}};
    auto slash = image.rfind('/');
    bool has_tag = image.find(':', slash == std::string::npos ? 0 : slash) != std::string::npos;
    if (!has_tag && image.find('@') == std::string::npos) q.emplace_back("tag", "latest");
    if (!platform.empty()) q.emplace_back("platform", platform);
    if (!quiet && !has_tag && image.find('@') == std::string::npos) ctx.out() << "Using default tag: latest\n";
    Request req("POST", "/images/create", q);
    req.headers = auth_header_for(image);
    CTL_TRY(show_progress(ctx, req, quiet));
    if (quiet) ctx.out() << image << (has_tag || image.find('@') != std::string::npos ? "" : ":latest") << "\n";
    return ok();
}

Status push(Context& ctx, const std::string& image, bool quiet) {
    std::string name = image, tag;
    auto slash = image.rfind('/');
    auto colon = image.find(':', slash == std::string::npos ? 0 : slash);
    if (colon != std::string::npos) {
        name = image.substr(0, colon);
        tag = image.substr(colon + 1);
    }
    Query q;
    if (!tag.empty()) q.emplace_back("tag", tag);
    if (tag.empty()) {
        q.emplace_back("tag", "latest");
        if (!quiet) ctx.out() << "Using default tag: latest\n";
    }
    Request req("POST", "/images/" + name + "/push", q);
    req.headers = auth_header_for(image);
    return show_progress(ctx, req, quiet);
}

std::string short_image_id(const std::string& id, bool no_trunc) {
    if (no_trunc) return id;
    auto colon = id.find(':');
    return id.substr(colon == std::string::npos ? 0 : colon + 1, 12);
}

Status images(Context& ctx, const std::string& repo, bool quiet, bool all, bool no_trunc, bool digests,
              std::vector<std::string> filters, const std::string& format) {
    if (!repo.empty()) filters.push_back("reference=" + repo);
    Query q;
    if (all) q.emplace_back("all", "1");
    CTL_ASSIGN_OR_RETURN(auto filters_text, filters_json(filters));
    if (!filters_text.empty()) q.emplace_back("filters", filters_text);
    CTL_ASSIGN_OR_RETURN(auto list, ctx.get_json("/images/json", q));
    // One row per tag, like docker images.
    std::vector<Json> rows;
    for (const auto& img : list) {
        std::string id = string_or(img, "Id");
        Json tags = find_ci(img, "RepoTags") ? *find_ci(img, "RepoTags") : Json::array();
        Json dig = find_ci(img, "RepoDigests") ? *find_ci(img, "RepoDigests") : Json::array();
        if (tags.empty()) tags.push_back("<none>:<none>");
        for (const auto& t : tags) {
            std::string tag = go_print(t);
            auto colon = tag.rfind(':');
            std::string repo_name = tag.substr(0, colon), tag_name = tag.substr(colon + 1);
            std::string digest = "<none>";
            for (const auto& d : dig) {
                std::string ds = go_print(d);
                if (ds.substr(0, ds.find('@')) == repo_name) digest = ds.substr(ds.find('@') + 1);
            }
            int64_t created = int_or(img, "Created");
            rows.push_back({{"ID", short_image_id(id, no_trunc)},
                            {"Repository", repo_name},
                            {"Tag", tag_name},
                            {"Digest", digest},
                            {"CreatedSince", human_duration(now_unix_nanos() / 1000000000 - created) + " ago"},
                            {"CreatedAt", rfc3339_nano(created * 1000000000)},
                            {"Size", human_size(static_cast<double>(int_or(img, "Size")))}});
        }
    }
    if (quiet) {
        std::set<std::string> seen;
        for (const auto& r : rows) {
            if (seen.insert(r["ID"].get<std::string>()).second) ctx.out() << r["ID"].get<std::string>() << "\n";
        }
        return ok();
    }
    std::string fmt =
              digests ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
                      : "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
    CTL_ASSIGN_OR_RETURN(auto text, format_rows(format, fmt, rows,
                                                 {{"ID", "IMAGE ID"}, {"CreatedSince", "CREATED"}, {"CreatedAt", "CREATED AT"}}));
    ctx.out() << text;
    return ok();
}

Status rmi(Context& ctx, const std::vector<std::string>& names, bool force, bool no_prune) {
    Status last = ok();
    for (const auto& name : names) {
        Query q;
        if (force) q.emplace_back("force", "1");
        if (no_prune) q.emplace_back("noprune", "1");
        auto resp = ctx.http().request("DELETE", "/images/" + name, q);
        if (!resp) {
            ctx.report(resp.error());
            last = make_error(resp.error().code, "");
            continue;
        }
        Json report = Json::parse(resp->body, nullptr, false);
        if (!report.is_array()) continue;
        for (const auto& e : report) {
            if (e.contains("Untagged")) ctx.out() << "Untagged: " << go_print(e["Untagged"]) << "\n";
            if (e.contains("Deleted")) ctx.out() << "Deleted: " << go_print(e["Deleted"]) << "\n";
        }
    }
    if (!last) ctx.set_exit_code(kExitError);
    return ok();
}

Status tag(Context& ctx, const std::string& source, const std::string& target) {
    std::string repo = target, tag_name;
    auto slash = target.rfind('/');
    auto colon = target.find(':', slash == std::string::npos ? 0 : slash);
    if (colon != std::string::npos) {
        repo = target.substr(0, colon);
        tag_name = target.substr(colon + 1);
    }
    Query q = {{"repo", repo}};
    if (!tag_name.empty()) q.emplace_back("tag", tag_name);
    auto resp = ctx.http().request("POST", "/images/" + source + "/tag", q);
    return resp ? ok() : Status(resp.error());
}

Status inspect(Context& ctx, const std::vector<std::string>& names, const std::string& format, const std::string& type) {
    Json out = Json::array();
    Status last = ok();
    std::optional<Template> tmpl;
    if (!format.empty()) {
        CTL_ASSIGN_OR_RETURN(auto t, Template::parse(format));
        tmpl = std::move(t);
    }
    for (const auto& name : names) {
        // Without --type, try each kind in docker's order, moving on only on 404.
        std::vector<std::string> paths;
        if (type.empty() || type == "container") paths.push_back("/containers/" + name + "/json");
        if (type.empty() || type == "image") paths.push_back("/images/" + name + "/json");
        if (type.empty() || type == "network") paths.push_back("/networks/" + name);
        if (type.empty() || type == "volume") paths.push_back("/volumes/" + name);
        std::optional<Json> found;
        Error last_error = make_error(Errc::NotFound, "No such object: " + name);
        for (const auto& p : paths) {
            auto doc = ctx.get_json(p);
            if (doc) {
                found = *doc;
                break;
            }
            if (doc.error().code != Errc::NotFound) {
                last_error = doc.error();
                break;
            }
            if (!type.empty()) last_error = doc.error();
        }
        if (!found) {
            ctx.report(last_error);
            last = last_error;
            continue;
        }
        if (tmpl) {
            CTL_ASSIGN_OR_RETURN(auto text, tmpl->render(*found));
            ctx.out() << text << "\n";
        } else {
            out.push_back(*found);
        }
    }
    if (!tmpl) ctx.out() << out.dump(4, ' ', false, Json::error_handler_t::replace) << "\n";
    if (!last) ctx.set_exit_code(kExitError);
    return ok();
}

Status history(Context& ctx, const std::string& name, bool no_trunc, bool quiet, const std::string& format) {
    CTL_ASSIGN_OR_RETURN(auto list, ctx.get_json("/images/" + name + "/history"));
    std::vector<Json> rows;
    for (const auto& h : list) {
        std::string created_by = string_or(h, "CreatedBy");
        if (!no_trunc && created_by.size() > 45) created_by = created_by.substr(0, 44) + "…";
        std::string id = string_or(h, "Id");
        rows.push_back({{"ID", id == "<missing>" ? id : short_image_id(id, no_trunc)},
                        {"CreatedSince", human_duration(now_unix_nanos() / 1000000000 - int_or(h, "Created")) + " ago"},
                        {"CreatedBy", created_by},
                        {"Size", human_size(static_cast<double>(int_or(h, "Size")))},
                        {"Comment", string_or(h, "Comment")}});
    }
    if (quiet) {
        for (const auto& r : rows) ctx.out() << r["ID"].get<std::string>() << "\n";
        return ok();
    }
    CTL_ASSIGN_OR_RETURN(auto text, format_rows(format, "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
                                                 rows, {{"ID", "IMAGE"}, {"CreatedSince", "CREATED"}}));
    ctx.out() << text;
    return ok();
}

Status save(Context& ctx, const std::vector<std::string>& names, const std::string& output) {
    if (output.empty() && is_terminal(stdout)) {
        return usage_error("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    Query q;
    for (const auto& n : names) q.emplace_back("names", n);
    std::string tmp = output.empty() ? "" : output + ".ctl-tmp";
    int fd = output.empty() ? 1 : ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return usage_error("cannot create " + output + ": " + std::strerror(errno));
    Status write_status = ok();
    ctx.out().flush();
    auto st = ctx.http().stream(Request("GET", "/images/get", q), [&](std::string_view chunk) {
        write_status = sys::write_all(fd, chunk);
        return static_cast<bool>(write_status);
    });
    if (!output.empty()) {
        ::close(fd);
        if (!st || !write_status) {
            ::unlink(tmp.c_str());
        } else if (::rename(tmp.c_str(), output.c_str()) != 0) {
            return usage_error("cannot write " + output + ": " + std::strerror(errno));
        }
    }
    if (!st) return st.error();
    return write_status;
}

Status load(Context& ctx, const std::string& input, bool quiet) {
    if (input.empty() && is_terminal(stdin)) {
        return usage_error("requested load from stdin, but stdin is empty");
    }
    int64_t size = -1;
    CTL_ASSIGN_OR_RETURN(auto source, body_from_file(input.empty() ? "-" : input, &size));
    Query q;
    if (quiet) q.emplace_back("quiet", "1");
    else q.emplace_back("quiet", "0");
    return show_progress(ctx, Request("POST", "/images/load", q).stream_body(source, "application/x-tar", size));
}

Status import_image(Context& ctx, const std::string& file, const std::string& repo_tag,
                    const std::vector<std::string>& changes, const std::string& message) {
    int64_t size = -1;
    CTL_ASSIGN_OR_RETURN(auto source, body_from_file(file, &size));
    Query q = {{"fromSrc", "-"}};
    if (!repo_tag.empty()) {
        std::string repo = repo_tag, tag_name;
        auto slash = repo_tag.rfind('/');
        auto colon = repo_tag.find(':', slash == std::string::npos ? 0 : slash);
        if (colon != std::string::npos) {
            repo = repo_tag.substr(0, colon);
            tag_name = repo_tag.substr(colon + 1);
        }
        q.emplace_back("repo", repo);
        if (!tag_name.empty()) q.emplace_back("tag", tag_name);
    }
    for (const auto& c : changes) q.emplace_back("changes", c);
    if (!message.empty()) q.emplace_back("message", message);
    // The engine answers with {"status":"sha256:..."}: print the ID as docker import does.
    return ctx.http().stream_json(Request("POST", "/images/create", q).stream_body(source, "application/x-tar", size),
                                  [&](const Json& m) {
                                      if (m.contains("status")) ctx.out() << go_print(m["status"]) << "\n";
                                      return ok();
                                  });
}

Status login(Context& ctx, std::string server, std::string user, std::string password, bool password_stdin) {
    if (password_stdin) {
        std::getline(std::cin, password);
        while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
    }
    if (user.empty()) {
        ctx.out() << "Username: " << std::flush;
        std::getline(std::cin, user);
    }
    if (password.empty()) {
        ctx.out() << "Password: " << std::flush;
        std::getline(std::cin, password);
    }
    if (server.empty()) server = "https://index.docker.io/v1/";
    Json body = {{"username", user}, {"password", password}, {"serveraddress", server}};
    auto resp = ctx.http().request(Request("POST", "/auth").json(body));
    if (!resp) return resp.error();
    Json cfg = load_config();
    cfg["auths"][server] = {{"auth", base64(user + ":" + password, false)}};
    CTL_TRY(save_config(cfg));
    Json answer = Json::parse(resp->body, nullptr, false);
    ctx.out() << (answer.is_object() ? string_or(answer, "Status", "Login Succeeded") : "Login Succeeded") << "\n";
    return ok();
}

Status logout(Context& ctx, const std::string& server_arg) {
    std::string server = server_arg.empty() ? "https://index.docker.io/v1/" : server_arg;
    Json cfg = load_config();
    if (cfg.contains("auths") && cfg["auths"].contains(server)) {
        cfg["auths"].erase(server);
        CTL_TRY(save_config(cfg));
        ctx.out() << "Removing login credentials for " << server << "\n";
    } else {
        ctx.out() << "Not logged in to " << server << "\n";
    }
    return ok();
}

Status prune(Context& ctx, bool all, bool force, const std::vector<std::string>& filters_in) {
    const char* warning = all ? "WARNING! This will remove all images without at least one container associated to them.\n"
                              : "WARNING! This will remove all dangling images.\n";
    if (!force && !confirm(ctx, warning)) return ok();
    auto filters = filters_in;
    if (all) filters.push_back("dangling=false");
    Query q;
    CTL_ASSIGN_OR_RETURN(auto filters_text, filters_json(filters));
    if (!filters_text.empty()) q.emplace_back("filters", filters_text);
    auto resp = ctx.http().request("POST", "/images/prune", q);
    if (!resp) return resp.error();
    Json r = Json::parse(resp->body, nullptr, false);
    if (const Json* deleted = find_ci(r, "ImagesDeleted"); deleted && deleted->is_array() && !deleted->empty()) {
        ctx.out() << "Deleted Images:\n";
        for (const auto& e : *deleted) {
            if (e.contains("Untagged")) ctx.out() << "untagged: " << go_print(e["Untagged"]) << "\n";
            if (e.contains("Deleted")) ctx.out() << "deleted: " << go_print(e["Deleted"]) << "\n";
        }
        ctx.out() << "\n";
    }
    ctx.out() << "Total reclaimed space: " << human_size(static_cast<double>(int_or(r, "SpaceReclaimed"))) << "\n";
    return ok();
}

// Registers the image commands on `parent` (top level and under `image`, as docker does).
void add_image_subcommands(CLI::App* parent, Context& ctx, bool in_image_group) {
    {
        auto* c = parent->add_subcommand("pull", "Download an image from a registry");
        auto name = std::make_shared<std::string>();
        auto platform = std::make_shared<std::string>();
        auto quiet = std::make_shared<bool>(false);
        c->add_option("NAME", *name, "Image name[:tag|@digest]")->required();
        c->add_option("--platform", *platform, "Set platform if server is multi-platform capable");
        c->add_flag("-q,--quiet", *quiet, "Suppress verbose output");
        c->callback([&ctx, name, platform, quiet] { ctx.run([&] { return pull(ctx, *name, *platform, *quiet); }); });
    }
    {
        auto* c = parent->add_subcommand("push", "Upload an image to a registry");
        auto name = std::make_shared<std::string>();
        auto quiet = std::make_shared<bool>(false);
        c->add_option("NAME", *name, "Image name[:tag]")->required();
        c->add_flag("-q,--quiet", *quiet, "Suppress verbose output");
        c->callback([&ctx, name, quiet] { ctx.run([&] { return push(ctx, *name, *quiet); }); });
    }
    {
        auto* c = parent->add_subcommand(in_image_group ? "ls" : "images", "List images");
        if (in_image_group) c->alias("list");
        auto repo = std::make_shared<std::string>();
        auto quiet = std::make_shared<bool>(false);
        auto all = std::make_shared<bool>(false);
        auto no_trunc = std::make_shared<bool>(false);
        auto digests = std::make_shared<bool>(false);
        auto filters = std::make_shared<std::vector<std::string>>();
        auto format = std::make_shared<std::string>();
        c->add_option("REPOSITORY", *repo, "Repository[:tag]");
        c->add_flag("-q,--quiet", *quiet, "Only show image IDs");
        c->add_flag("-a,--all", *all, "Show all images");
        c->add_flag("--no-trunc", *no_trunc, "Don't truncate output");
        c->add_flag("--digests", *digests, "Show digests");
        c->add_option("-f,--filter", *filters, "Filter output based on conditions provided");
        c->add_option("--format", *format, "Format output using a Go template");
        c->callback([=, &ctx] {
            ctx.run([&] { return images(ctx, *repo, *quiet, *all, *no_trunc, *digests, *filters, *format); });
        });
    }
    {
        auto* c = parent->add_subcommand(in_image_group ? "rm" : "rmi", "Remove one or more images");
        if (in_image_group) c->alias("remove");
        auto names = std::make_shared<std::vector<std::string>>();
        auto force = std::make_shared<bool>(false);
        auto no_prune = std::make_shared<bool>(false);
        c->add_option("IMAGE", *names, "Images")->required();
        c->add_flag("-f,--force", *force, "Force removal of the image");
        c->add_flag("--no-prune", *no_prune, "Do not delete untagged parents");
        c->callback([=, &ctx] { ctx.run([&] { return rmi(ctx, *names, *force, *no_prune); }); });
    }
    {
        auto* c = parent->add_subcommand("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE");
        auto source = std::make_shared<std::string>();
        auto target = std::make_shared<std::string>();
        c->add_option("SOURCE_IMAGE", *source)->required();
        c->add_option("TARGET_IMAGE", *target)->required();
        c->callback([=, &ctx] { ctx.run([&] { return tag(ctx, *source, *target); }); });
    }
    {
        auto* c = parent->add_subcommand("history", "Show the history of an image");
        auto name = std::make_shared<std::string>();
        auto no_trunc = std::make_shared<bool>(false);
        auto quiet = std::make_shared<bool>(false);
        auto format = std::make_shared<std::string>();
        c->add_option("IMAGE", *name)->required();
        c->add_flag("--no-trunc", *no_trunc, "Don't truncate output");
        c->add_flag("-q,--quiet", *quiet, "Only show image IDs");
        c->add_option("--format", *format, "Format output using a Go template");
        c->callback([=, &ctx] { ctx.run([&] { return history(ctx, *name, *no_trunc, *quiet, *format); }); });
    }
    {
        auto* c = parent->add_subcommand("save", "Save one or more images to a tar archive (streamed to STDOUT by default)");
        auto names = std::make_shared<std::vector<std::string>>();
        auto output = std::make_shared<std::string>();
        c->add_option("IMAGE", *names)->required();
        c->add_option("-o,--output", *output, "Write to a file, instead of STDOUT");
        c->callback([=, &ctx] { ctx.run([&] { return save(ctx, *names, *output); }); });
    }
    {
        auto* c = parent->add_subcommand("load", "Load an image from a tar archive or STDIN");
        auto input = std::make_shared<std::string>();
        auto quiet = std::make_shared<bool>(false);
        c->add_option("-i,--input", *input, "Read from tar archive file, instead of STDIN");
        c->add_flag("-q,--quiet", *quiet, "Suppress the load output");
        c->callback([=, &ctx] { ctx.run([&] { return load(ctx, *input, *quiet); }); });
    }
    {
        auto* c = parent->add_subcommand("import", "Import the contents from a tarball to create a filesystem image");
        auto file = std::make_shared<std::string>();
        auto repo = std::make_shared<std::string>();
        auto changes = std::make_shared<std::vector<std::string>>();
        auto message = std::make_shared<std::string>();
        c->add_option("FILE", *file, "Tar file or - for STDIN")->required();
        c->add_option("REPOSITORY", *repo, "Repository[:tag]");
        c->add_option("-c,--change", *changes, "Apply Dockerfile instruction to the created image");
        c->add_option("-m,--message", *message, "Set commit message for imported image");
        c->callback([=, &ctx] { ctx.run([&] { return import_image(ctx, *file, *repo, *changes, *message); }); });
    }
    {
        auto* c = parent->add_subcommand("inspect", "Display detailed information on one or more images");
        auto names = std::make_shared<std::vector<std::string>>();
        auto format = std::make_shared<std::string>();
        c->add_option("IMAGE", *names)->required();
        c->add_option("-f,--format", *format, "Format output using a Go template");
        c->callback([=, &ctx] { ctx.run([&] { return inspect(ctx, *names, *format, "image"); }); });
    }
    if (in_image_group) {
        auto* c = parent->add_subcommand("prune", "Remove unused images");
        auto all = std::make_shared<bool>(false);
        auto force = std::make_shared<bool>(false);
        auto filters = std::make_shared<std::vector<std::string>>();
        c->add_flag("-a,--all", *all, "Remove all unused images, not just dangling ones");
        c->add_flag("-f,--force", *force, "Do not prompt for confirmation");
        c->add_option("--filter", *filters, "Provide filter values (e.g. 'until=<timestamp>')");
        c->callback([=, &ctx] { ctx.run([&] { return prune(ctx, *all, *force, *filters); }); });
    }
}

}  // namespace

Status pull_image_for_run(Context& ctx, FILE* progress, const std::string& image, const std::string& platform) {
    Query q = {{"fromImage", image}};
    if (!platform.empty()) q.emplace_back("platform", platform);
    Request req("POST", "/images/create", q);
    req.headers = auth_header_for(image);
    ProgressPrinter printer(progress, progress && is_terminal(progress));
    return ctx.http().stream_json(req, [&](const Json& m) { return printer.show(m); });
}

void add_image_commands(CLI::App& app, Context& ctx) {
    add_image_subcommands(&app, ctx, false);
    CLI::App* group = add_group(app, ctx, "image", "Manage images");
    add_image_subcommands(group, ctx, true);

    // `inspect` at the top level is generic: containers, images, networks, volumes.
    {
        auto* c = app.get_subcommand("inspect");
        app.remove_subcommand(c);
        auto* i = app.add_subcommand("inspect", "Return low-level information on engine objects");
        auto names = std::make_shared<std::vector<std::string>>();
        auto format = std::make_shared<std::string>();
        auto type = std::make_shared<std::string>();
        i->add_option("NAME", *names)->required();
        i->add_option("-f,--format", *format, "Format output using a Go template");
        i->add_option("--type", *type, "Return JSON for specified type");
        i->callback([=, &ctx] { ctx.run([&] { return inspect(ctx, *names, *format, *type); }); });
    }

    auto* login_cmd = app.add_subcommand("login", "Log in to a registry");
    auto server = std::make_shared<std::string>();
    auto user = std::make_shared<std::string>();
    auto password = std::make_shared<std::string>();
    auto password_stdin = std::make_shared<bool>(false);
    login_cmd->add_option("SERVER", *server);
    login_cmd->add_option("-u,--username", *user, "Username");
    login_cmd->add_option("-p,--password", *password, "Password");
    login_cmd->add_flag("--password-stdin", *password_stdin, "Take the password from stdin");
    login_cmd->callback([=, &ctx] { ctx.run([&] { return login(ctx, *server, *user, *password, *password_stdin); }); });

    auto* logout_cmd = app.add_subcommand("logout", "Log out from a registry");
    auto logout_server = std::make_shared<std::string>();
    logout_cmd->add_option("SERVER", *logout_server);
    logout_cmd->callback([=, &ctx] { ctx.run([&] { return logout(ctx, *logout_server); }); });
}

}  // namespace ctl::client
