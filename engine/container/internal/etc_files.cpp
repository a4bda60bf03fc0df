#include "engine/container/internal/etc_files.hpp"

#include <cctype>

#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"

namespace ctl::container::internal {

namespace {

std::vector<std::string> strings_of(const Json& obj, const char* key) {
    std::vector<std::string> out;
    const Json* v = find_ci(obj, key);
    if (v && v->is_array()) {
        for (const auto& s : *v) {
            if (s.is_string()) out.push_back(s.get<std::string>());
        }
    }
    return out;
}

}  // namespace

std::string container_resolv_conf(const std::string& host_resolv, const std::vector<std::string>& dns,
                                  const std::vector<std::string>& search, const std::vector<std::string>& options,
                                  bool host_network) {
    std::vector<std::string> nameservers, searches, opts;
    for (const auto& raw : split(host_resolv, '\n')) {
        std::string line = trim(raw);
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        auto words = split(line, ' ');
        if (words.size() < 2) continue;
        if (words[0] == "nameserver") {
            std::string ns = trim(words[1]);
            bool loopback = starts_with(ns, "127.") || ns == "::1";
            if (host_network || !loopback) nameservers.push_back(ns);
        } else if (words[0] == "search" || words[0] == "domain") {
            for (size_t i = 1; i < words.size(); ++i) {
                if (!trim(words[i]).empty()) searches.push_back(trim(words[i]));
            }
        } else if (words[0] == "options") {
            for (size_t i = 1; i < words.size(); ++i) {
                if (!trim(words[i]).empty()) opts.push_back(trim(words[i]));
            }
        }
    }
    if (!dns.empty()) nameservers = dns;
    if (!search.empty()) searches = search;
    if (!options.empty()) opts = options;
    if (nameservers.empty()) nameservers = {"8.8.8.8", "8.8.4.4"};
    std::string out;
    for (const auto& ns : nameservers) out += "nameserver " + ns + "\n";
    if (!searches.empty()) {
        out += "search";
        for (const auto& s : searches) out += " " + s;
        out += "\n";
    }
    if (!opts.empty()) {
        out += "options";
        for (const auto& o : opts) out += " " + o;
        out += "\n";
    }
    return out;
}

Status write_etc_files(const Container& c, bool host_network, const std::string& host_gateway) {
    std::string hostname = string_or(c.config, "Hostname", c.short_id());
    std::string domain = string_or(c.config, "Domainname", "");
    if (host_network) {
        auto host = sys::read_file("/etc/hostname");
        if (host) hostname = trim(*host);
    }
    CTL_TRY(sys::write_file_replace(c.hostname_path, hostname + "\n"));

    std::string hosts;
    if (host_network) {
        hosts = sys::read_file("/etc/hosts").value_or("127.0.0.1\tlocalhost\n");
    } else {
        hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
                "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";
    }
    for (const auto& entry : strings_of(c.host_config, "ExtraHosts")) {
        auto colon = entry.find(':');
        if (colon == std::string::npos) return make_error(Errc::InvalidArgument, "invalid extra host: " + entry);
        std::string name = entry.substr(0, colon), ip = entry.substr(colon + 1);
        if (ip == "host-gateway") ip = host_gateway.empty() ? "127.0.0.1" : host_gateway;
        hosts += ip + "\t" + name + "\n";
    }
    CTL_TRY(sys::write_file_replace(c.hosts_path, hosts));

    std::string host_resolv = sys::read_file("/etc/resolv.conf").value_or("");
    CTL_TRY(sys::write_file_replace(
        c.resolv_conf_path,
        container_resolv_conf(host_resolv, strings_of(c.host_config, "Dns"), strings_of(c.host_config, "DnsSearch"),
                              strings_of(c.host_config, "DnsOptions"), host_network)));
    (void)domain;
    return ok();
}

Result<int64_t> parse_size(const std::string& raw) {
    std::string s = to_lower(trim(raw));
    if (s.empty()) return make_error(Errc::InvalidArgument, "invalid size: empty");
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) return make_error(Errc::InvalidArgument, "invalid size: '" + raw + "'");
    double number = std::stod(s.substr(0, i));
    std::string unit = s.substr(i);
    if (!unit.empty() && unit.back() == 'b') unit.pop_back();
    if (!unit.empty() && unit.back() == 'i') unit.pop_back();
    double mult = 1;
    if (unit == "k") mult = 1024;
    else if (unit == "m") mult = 1024.0 * 1024;
    else if (unit == "g") mult = 1024.0 * 1024 * 1024;
    else if (unit == "t") mult = 1024.0 * 1024 * 1024 * 1024;
    else if (!unit.empty()) return make_error(Errc::InvalidArgument, "invalid size: '" + raw + "'");
    return static_cast<int64_t>(number * mult);
}

}  // namespace ctl::container::internal
