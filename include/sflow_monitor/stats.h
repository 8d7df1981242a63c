// stats.h — the collector's counters: written by the ingest thread, read by API workers.
// Plain relaxed atomics: each counter is exact, a snapshot across counters is not atomic.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "sflow_monitor/sflow.h"

namespace sfm {

struct AgentStats {
    int64_t last_seen_ms = 0;
    uint64_t datagrams = 0;
    // per sub-agent: last datagram sequence number and datagrams lost (sequence gaps)
    struct Sub {
        uint32_t last_sequence = 0;
        uint64_t lost = 0;
        uint64_t resets = 0;  // sequence went back (agent restart)
    };
    std::map<uint32_t, Sub> sub_agents;
};

struct Stats {
    using Counter = std::atomic<uint64_t>;
    int64_t started_ms = 0;
    Counter datagrams_received{0};
    Counter datagrams_decoded{0};
    // rejected, by reason
    Counter rejected_malformed{0};     // DecodeError
    Counter rejected_version{0};       // version != 5 (also counted as malformed? no: only here)
    Counter rejected_not_allowed{0};   // agent outside the allow-list
    Counter rejected_spoofed{0};       // agent address != UDP source (when required)
    Counter kernel_drops{0};           // SO_RXQ_OVFL: datagrams the kernel dropped
    Counter samples_counter{0};        // counter samples decoded
    Counter samples_flow_skipped{0};
    Counter samples_unknown_skipped{0};
    Counter samples_ignored{0};        // counter samples neither host (2:*) nor VM (3:* with host_descr)
    Counter records_unknown{0};
    Counter records_malformed{0};
    Counter samples_stored{0};
    Counter samples_backlog_dropped{0};  // the store writer had died: dropped before writing
    Counter receiver_pauses{0};  // the backlog was full: the receiver waited for the writer
    Counter store_commits{0};
    Counter store_errors{0};
    Counter purged_samples{0};

    // per-agent figures (under mutex: touched once per datagram)
    void note_datagram(const Datagram& d, int64_t now_ms);
    std::map<Address, AgentStats> agents_snapshot() const;

private:
    mutable std::mutex mu_;
    std::map<Address, AgentStats> agents_;
};

}  // namespace sfm
