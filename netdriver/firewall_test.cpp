#include <doctest/doctest.h>

#include "netdriver/firewall.hpp"

using namespace ctl::net;

TEST_CASE("the ruleset NATs, publishes and isolates") {
    std::vector<BridgeNetwork> nets = {{"ctl0", *Subnet::parse("172.18.0.0/16"), false},
                                       {"br-a", *Subnet::parse("172.19.0.0/16"), true}};
    std::vector<PublishedPort> ports = {{"tcp", 0, 8080, *parse_ip("172.18.0.2"), 80},
                                        {"udp", *parse_ip("127.0.0.1"), 5353, *parse_ip("172.18.0.3"), 53}};
    std::string t = render_ruleset("ctld_test", nets, ports);
    CHECK(t.find("table ip ctld_test {") == 0);
    CHECK(t.find("tcp dport 8080 dnat to 172.18.0.2:80") != std::string::npos);
    CHECK(t.find("ip daddr 127.0.0.1 udp dport 5353 dnat to 172.18.0.3:53") != std::string::npos);
    CHECK(t.find("ip saddr 172.18.0.0/16 oifname != \"ctl0\" masquerade") != std::string::npos);
    // The internal network gets no masquerade and no way out.
    CHECK(t.find("ip saddr 172.19.0.0/16") == std::string::npos);
    CHECK(t.find("iifname \"br-a\" oifname != \"br-a\" drop") != std::string::npos);
    CHECK(t.find("iifname \"ctl0\" oifname \"br-a\" drop") != std::string::npos);
    CHECK(t.find("iifname \"br-a\" oifname \"ctl0\" drop") != std::string::npos);
    CHECK(t.find("fib daddr type local jump published") != std::string::npos);
}
