// admission.h — which datagrams ingest accepts: the allow-list of agent networks and the
// agent-is-source check, as a pure function. The one CIDR parser, shared with config.cpp.
//
// Caveats:
//  - An IPv4 network never contains an IPv6 address (and the reverse); an IPv4 peer on a
//    dual-stack socket is seen as IPv4 (the receiver unmaps it).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sflow_monitor/sflow.h"

namespace sfm {

struct Cidr {
    Address net;
    int bits = 0;
    bool contains(const Address& a) const;
    // "192.0.2.0/24", "2001:db8::/32", or one address (all bits); nullopt for anything else
    // (a prefix length that is empty, not 1-3 digits, or longer than the address).
    static std::optional<Cidr> parse(const std::string& text);
};

struct AdmissionRules {
    std::vector<Cidr> allow;            // empty: every agent
    bool require_source_match = false;  // the agent address must be the UDP source
};

enum class Admission { accepted, agent_not_allowed, agent_not_source };

Admission admit(const AdmissionRules& rules, const Address& agent, const Address& source);

}  // namespace sfm
