#include <doctest/doctest.h>
#include <ldns/ldns.h>

#include "netdriver/dns_server.hpp"
#include "netdriver/ipam.hpp"

using namespace ctl::net;

namespace {

std::string query(const char* name, ldns_rr_type type) {
    ldns_pkt* q = nullptr;
    REQUIRE(ldns_pkt_query_new_frm_str(&q, name, type, LDNS_RR_CLASS_IN, LDNS_RD) == LDNS_STATUS_OK);
    ldns_pkt_set_id(q, 4242);
    uint8_t* buf = nullptr;
    size_t size = 0;
    REQUIRE(ldns_pkt2wire(&buf, q, &size) == LDNS_STATUS_OK);
    std::string out(reinterpret_cast<char*>(buf), size);
    free(buf);
    ldns_pkt_free(q);
    return out;
}

}  // namespace

TEST_CASE("known names are answered from the resolver, others left for forwarding") {
    DnsServer dns(
        [](const std::string& id, const std::string& name) -> std::vector<uint32_t> {
            if (id == "c1" && name == "web") return {*parse_ip("10.1.0.5"), *parse_ip("10.1.0.6")};
            return {};
        },
        {"127.0.0.1:1"});
    std::string reply = dns.answer("c1", query("Web", LDNS_RR_TYPE_A));
    REQUIRE_FALSE(reply.empty());
    ldns_pkt* p = nullptr;
    REQUIRE(ldns_wire2pkt(&p, reinterpret_cast<const uint8_t*>(reply.data()), reply.size()) == LDNS_STATUS_OK);
    CHECK(ldns_pkt_id(p) == 4242);
    CHECK(ldns_pkt_qr(p));
    CHECK(ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR);
    REQUIRE(ldns_pkt_ancount(p) == 2);
    char* text = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 0));
    CHECK(std::string(text) == "10.1.0.5");
    free(text);
    ldns_pkt_free(p);

    // AAAA for a known name: an empty answer, so clients fall back to the A record.
    reply = dns.answer("c1", query("web", LDNS_RR_TYPE_AAAA));
    REQUIRE(ldns_wire2pkt(&p, reinterpret_cast<const uint8_t*>(reply.data()), reply.size()) == LDNS_STATUS_OK);
    CHECK(ldns_pkt_ancount(p) == 0);
    ldns_pkt_free(p);

    CHECK(dns.answer("c2", query("web", LDNS_RR_TYPE_A)).empty());      // another container's view
    CHECK(dns.answer("c1", query("example.org", LDNS_RR_TYPE_A)).empty());
    CHECK(dns.answer("c1", "garbage").empty());
}

TEST_CASE("upstream resolvers come from resolv.conf") {
    CHECK(resolvers_from("nameserver 10.0.0.2\nsearch x\nnameserver ::1\nnameserver 10.0.0.3\n") ==
          std::vector<std::string>{"10.0.0.2", "10.0.0.3"});
    CHECK(resolvers_from("") == std::vector<std::string>{"8.8.8.8", "8.8.4.4"});
}
