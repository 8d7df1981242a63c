// stats.cpp — per-agent datagram accounting (sequence gaps per sub-agent).
#include "sflow_monitor/stats.h"

namespace sfm {

void Stats::note_datagram(const Datagram& d, int64_t now_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    AgentStats& a = agents_[d.agent];
    a.last_seen_ms = now_ms;
    ++a.datagrams;
    auto [it, fresh] = a.sub_agents.try_emplace(d.sub_agent_id);
    AgentStats::Sub& sub = it->second;
    if (!fresh) {
        uint32_t expected = sub.last_sequence + 1;
        if (d.sequence == expected) {
        } else if (d.sequence > expected && d.sequence - expected < (1u << 30)) {
            sub.lost += d.sequence - expected;  // datagrams that never arrived
        } else {
            ++sub.resets;  // the agent restarted (or a datagram came very late)
        }
    }
    sub.last_sequence = d.sequence;
}

std::map<Address, AgentStats> Stats::agents_snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return agents_;
}

}  // namespace sfm
