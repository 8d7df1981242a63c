// stats.cpp — per-agent datagram accounting (sequence gaps per sub-agent); today's storing rate.
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

namespace {
constexpr int64_t kDayMs = 86400000;
}

void Stats::mark_stored(int64_t now_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stored_marks_.empty() || now_ms - stored_marks_.back().first >= kRateMarkMs)
        stored_marks_.emplace_back(now_ms, samples_stored.load());
    // the front stays the newest mark at least a day old (when there is one)
    while (stored_marks_.size() >= 2 && now_ms - stored_marks_[1].first >= kDayMs) stored_marks_.pop_front();
}

std::optional<double> Stats::stored_per_day(int64_t now_ms) const {
    std::pair<int64_t, uint64_t> base{started_ms, 0};
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!stored_marks_.empty() && now_ms - stored_marks_.front().first >= kDayMs) base = stored_marks_.front();
    }
    int64_t ms = now_ms - base.first;
    if (ms < 60000) return std::nullopt;
    return double(samples_stored.load() - base.second) * kDayMs / double(ms);
}

std::map<Address, AgentStats> Stats::agents_snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return agents_;
}

}  // namespace sfm
