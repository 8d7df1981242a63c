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
        // modular at 32 bits: 0xFFFFFFFE then 1 lost two datagrams (0xFFFFFFFF and 0)
        uint32_t gap = d.sequence - (sub.last_sequence + 1u);
        if (gap == 0) {
        } else if (gap < (1u << 30)) {
            sub.lost += gap;  // datagrams that never arrived
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
