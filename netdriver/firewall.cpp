#include "netdriver/firewall.hpp"

#include <fcntl.h>
#include <nftables/libnftables.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <sstream>

#include "engine/base/sys.hpp"
#include "engine/base/util.hpp"

namespace ctl::net {

namespace {

// /proc/sys files cannot be replaced by rename: write in place.
Status write_proc(const std::string& path, const std::string& value) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return sys_error("opening " + path);
    sys::UniqueFd owned(fd);
    return sys::write_all(fd, value);
}

std::string quote(const std::string& name) { return "\"" + name + "\""; }

// iptables with the arguments; its exit status (127 when it is not installed).
int run_iptables(const std::vector<std::string>& args) {
    pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        std::vector<char*> argv;
        static std::string name = "iptables";
        argv.push_back(name.data());
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        int devnull = ::open("/dev/null", O_RDWR);
        ::dup2(devnull, 0);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
        ::execvp("iptables", argv.data());
        _exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<std::vector<std::string>> forward_rules(const std::string& bridge, const std::string& table) {
    std::string comment = "ctld " + table;
    return {{"-i", bridge, "-m", "comment", "--comment", comment, "-j", "ACCEPT"},
            {"-o", bridge, "-m", "comment", "--comment", comment, "-j", "ACCEPT"}};
}

}  // namespace

std::string render_ruleset(const std::string& table, const std::vector<BridgeNetwork>& networks,
                           const std::vector<PublishedPort>& ports) {
    std::ostringstream t;
    t << "table ip " << table << " {\n";
    // DNAT for published ports: from outside (prerouting) and from the host itself (output),
    // only for packets addressed to one of the host's own addresses.
    t << "  chain published {\n";
    for (const auto& p : ports) {
        t << "    ";
        if (p.host_ip != 0) t << "ip daddr " << ip_to_string(p.host_ip) << " ";
        t << p.protocol << " dport " << p.host_port << " dnat to " << ip_to_string(p.container_ip) << ":"
          << p.container_port << "\n";
    }
    t << "  }\n";
    t << "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n"
         "    fib daddr type local jump published\n  }\n";
    t << "  chain output {\n    type nat hook output priority -100; policy accept;\n"
         "    fib daddr type local jump published\n  }\n";
    // Masquerade what leaves a network for elsewhere, and localhost traffic DNATed into a bridge
    // (its source 127.0.0.1 would not be routable from the container).
    t << "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n";
    for (const auto& n : networks) {
        if (n.internal) continue;
        t << "    ip saddr " << n.subnet.str() << " oifname != " << quote(n.bridge) << " masquerade\n";
        t << "    ip saddr 127.0.0.0/8 oifname " << quote(n.bridge) << " masquerade\n";
    }
    t << "  }\n";
    // Isolation: no traffic between two networks; an internal network talks to nobody outside.
    t << "  chain forward {\n    type filter hook forward priority filter; policy accept;\n";
    for (const auto& a : networks) {
        for (const auto& b : networks) {
            if (a.bridge != b.bridge) t << "    iifname " << quote(a.bridge) << " oifname " << quote(b.bridge) << " drop\n";
        }
        if (a.internal) {
            t << "    iifname " << quote(a.bridge) << " oifname != " << quote(a.bridge) << " drop\n";
            t << "    oifname " << quote(a.bridge) << " iifname != " << quote(a.bridge) << " drop\n";
        }
    }
    t << "  }\n}\n";
    return t.str();
}

Status Firewall::run(const std::string& commands) {
    std::unique_ptr<nft_ctx, decltype(&nft_ctx_free)> ctx(nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
    if (!ctx) return make_error(Errc::Internal, "nftables: cannot create a context");
    nft_ctx_buffer_output(ctx.get());
    nft_ctx_buffer_error(ctx.get());
    if (nft_run_cmd_from_buffer(ctx.get(), commands.c_str()) != 0) {
        std::string why = trim(nft_ctx_get_error_buffer(ctx.get()));
        return make_error(Errc::Internal, "nftables: " + (why.empty() ? std::string("command failed") : why));
    }
    return ok();
}

Status Firewall::apply(const std::vector<BridgeNetwork>& networks, const std::vector<PublishedPort>& ports) {
    // "add" then "delete" makes the delete succeed whether or not the table existed; the new
    // table follows in the same transaction.
    return run("add table ip " + table_ + "\ndelete table ip " + table_ + "\n" + render_ruleset(table_, networks, ports));
}

Status Firewall::remove() { return run("add table ip " + table_ + "\ndelete table ip " + table_ + "\n"); }

Status Firewall::allow_forwarding(const std::string& bridge) {
    for (auto rule : forward_rules(bridge, table_)) {
        std::vector<std::string> check = {"-w", "-C", "FORWARD"};
        check.insert(check.end(), rule.begin(), rule.end());
        int rc = run_iptables(check);
        if (rc == 0) continue;   // already there
        if (rc == 127) return ok();  // no iptables: nothing can drop our traffic there either
        std::vector<std::string> insert = {"-w", "-I", "FORWARD", "1"};
        insert.insert(insert.end(), rule.begin(), rule.end());
        if (run_iptables(insert) != 0) return make_error(Errc::Internal, "iptables: cannot allow forwarding for " + bridge);
    }
    return ok();
}

Status Firewall::drop_forwarding(const std::string& bridge) {
    for (auto rule : forward_rules(bridge, table_)) {
        std::vector<std::string> del = {"-w", "-D", "FORWARD"};
        del.insert(del.end(), rule.begin(), rule.end());
        while (run_iptables(del) == 0) {
        }
    }
    return ok();
}

Status enable_forwarding() {
    auto current = sys::read_file("/proc/sys/net/ipv4/ip_forward");
    if (current && trim(*current) == "1") return ok();
    return write_proc("/proc/sys/net/ipv4/ip_forward", "1\n");
}

Status enable_route_localnet(const std::string& bridge) {
    return write_proc("/proc/sys/net/ipv4/conf/" + bridge + "/route_localnet", "1\n");
}

}  // namespace ctl::net
