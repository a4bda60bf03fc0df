#include <doctest/doctest.h>

#include "netdriver/ipam.hpp"

using namespace ctl::net;

TEST_CASE("subnets parse, print and compare like Docker's") {
    auto s = Subnet::parse("172.18.0.0/16");
    REQUIRE(s);
    CHECK(s->str() == "172.18.0.0/16");
    CHECK(s->contains(*parse_ip("172.18.255.254")));
    CHECK_FALSE(s->contains(*parse_ip("172.19.0.1")));
    CHECK(ip_to_string(s->broadcast()) == "172.18.255.255");
    CHECK_FALSE(Subnet::parse("172.18.0.1/16"));  // host bits set
    CHECK_FALSE(Subnet::parse("172.18.0.0"));
    CHECK_FALSE(Subnet::parse("172.18.0.0/33"));
    CHECK_FALSE(Subnet::parse("nope/8"));
    CHECK(Subnet::parse("10.0.0.0/8")->overlaps(*Subnet::parse("10.1.2.0/24")));
    CHECK_FALSE(Subnet::parse("10.0.0.0/24")->overlaps(*Subnet::parse("10.0.1.0/24")));
}

TEST_CASE("addresses are the lowest free ones and never the network, broadcast or a taken one") {
    auto s = *Subnet::parse("10.9.0.0/29");  // .1-.6 usable
    std::set<uint32_t> taken = {*parse_ip("10.9.0.1")};  // the gateway
    auto a = allocate_address(s, taken);
    REQUIRE(a);
    CHECK(ip_to_string(*a) == "10.9.0.2");
    for (int i = 2; i <= 6; ++i) taken.insert(*parse_ip("10.9.0." + std::to_string(i)));
    CHECK_FALSE(allocate_address(s, taken));
    taken.erase(*parse_ip("10.9.0.4"));
    CHECK(ip_to_string(*allocate_address(s, taken)) == "10.9.0.4");
}

TEST_CASE("choose_subnet skips pools that clash with routes and networks") {
    auto pools = default_pools();
    REQUIRE(pools.front().str() == "172.17.0.0/16");
    auto chosen = choose_subnet(pools, {*Subnet::parse("172.17.0.0/16"), *Subnet::parse("172.18.5.0/24")});
    REQUIRE(chosen);
    CHECK(chosen->str() == "172.19.0.0/16");
    CHECK_FALSE(choose_subnet({*Subnet::parse("10.0.0.0/8")}, {*Subnet::parse("10.2.0.0/16")}));
}
