// admission_test.cpp — the allow-list and agent-is-source check as a pure function, and the
// one CIDR parser (config.cpp and ingest both use it).
#include <doctest/doctest.h>

#include "sflow_monitor/admission.h"

using namespace sfm;

namespace {
Address addr(const char* text) { return *Address::parse(text); }
}  // namespace

TEST_CASE("a CIDR parses as an address with a prefix length up to its width, or one address") {
    CHECK(Cidr::parse("192.0.2.0/24")->bits == 24);
    CHECK(Cidr::parse("192.0.2.7")->bits == 32);
    CHECK(Cidr::parse("2001:db8::/32")->bits == 32);
    CHECK(Cidr::parse("::1")->bits == 128);
    CHECK(Cidr::parse("10.0.0.0/0")->bits == 0);
    for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/8x",
                            "10.0.0.0/0008", "10.0.0/8", "host/8"})
        CHECK_MESSAGE(!Cidr::parse(bad), bad);
}

TEST_CASE("a network contains the addresses under its prefix, of its own family only") {
    Cidr net = *Cidr::parse("10.1.128.0/17");
    CHECK(net.contains(addr("10.1.128.0")));
    CHECK(net.contains(addr("10.1.255.255")));
    CHECK_FALSE(net.contains(addr("10.1.127.255")));
    CHECK_FALSE(net.contains(addr("::ffff:10.1.128.1")));
    CHECK(Cidr::parse("0.0.0.0/0")->contains(addr("203.0.113.9")));
    CHECK_FALSE(Cidr::parse("0.0.0.0/0")->contains(addr("2001:db8::1")));
    CHECK(Cidr::parse("2001:db8::/32")->contains(addr("2001:db8:ffff::1")));
    CHECK_FALSE(Cidr::parse("2001:db8::/32")->contains(addr("2001:db9::1")));
}

TEST_CASE("admission checks the allow-list first, then that the agent is the UDP source") {
    AdmissionRules open;
    CHECK(admit(open, addr("192.0.2.1"), addr("198.51.100.1")) == Admission::accepted);
    AdmissionRules rules{{*Cidr::parse("192.0.2.0/24")}, true};
    CHECK(admit(rules, addr("192.0.2.1"), addr("192.0.2.1")) == Admission::accepted);
    CHECK(admit(rules, addr("192.0.2.1"), addr("192.0.2.2")) == Admission::agent_not_source);
    CHECK(admit(rules, addr("198.51.100.1"), addr("198.51.100.1")) == Admission::agent_not_allowed);
    rules.require_source_match = false;
    CHECK(admit(rules, addr("192.0.2.1"), addr("192.0.2.2")) == Admission::accepted);
}
