// admission.cpp — the allow-list and the agent-is-source check (see admission.h).
#include "sflow_monitor/admission.h"

#include <cstring>

namespace sfm {

bool Cidr::contains(const Address& a) const {
    if (a.family != net.family) return false;
    int full = bits / 8, rest = bits % 8;
    if (std::memcmp(a.bytes.data(), net.bytes.data(), size_t(full)) != 0) return false;
    if (!rest) return true;
    uint8_t mask = uint8_t(0xFF << (8 - rest));
    return (a.bytes[size_t(full)] & mask) == (net.bytes[size_t(full)] & mask);
}

std::optional<Cidr> Cidr::parse(const std::string& text) {
    auto slash = text.find('/');
    auto addr = Address::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    int max = addr->family == 4 ? 32 : 128;
    int bits = max;
    if (slash != std::string::npos) {
        const std::string b = text.substr(slash + 1);
        if (b.empty() || b.size() > 3 || b.find_first_not_of("0123456789") != std::string::npos ||
            std::stoi(b) > max)
            return std::nullopt;
        bits = std::stoi(b);
    }
    return Cidr{*addr, bits};
}

Admission admit(const AdmissionRules& rules, const Address& agent, const Address& source) {
    if (!rules.allow.empty()) {
        bool ok = false;
        for (const Cidr& c : rules.allow) ok = ok || c.contains(agent);
        if (!ok) return Admission::agent_not_allowed;
    }
    if (rules.require_source_match && !(agent == source)) return Admission::agent_not_source;
    return Admission::accepted;
}

}  // namespace sfm
