// stats.h — the collector's counters: written by the ingest thread, read by API workers.
//
// Every counter is named once, here, by its key in collector.stats (docs/api.md), with what it
// counts: `fields(self, visitor)` lists them in the order the API shows them, as
// `v(name, counter, help)`, and `v.group(name, sub)` for a nested object of counters (one
// quantity by reason). collector.stats writes them with a visitor over that list; nothing
// else may spell a counter's name.
//
// Caveats:
//  - Plain relaxed atomics: each counter is exact, a snapshot across counters is not atomic.
//  - Adding a counter: a member and a line in fields(); the API shows it (docs/api.md lists it).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
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

using Counter = std::atomic<uint64_t>;

#define SFM_COUNTER(member, help) v(#member, s.member, help)

// Datagrams refused before their samples were looked at, by reason.
struct DatagramsRejected {
    Counter malformed{0}, version{0}, agent_not_allowed{0}, agent_not_source{0};
    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_COUNTER(malformed, "not a well-formed sFlow v5 datagram");
        SFM_COUNTER(version, "an sFlow version other than 5");
        SFM_COUNTER(agent_not_allowed, "agent address outside every allow-agent network");
        SFM_COUNTER(agent_not_source, "agent address other than the UDP source (require-source-match)");
    }
};

// API requests refused by a limit (limits.h), one count per request, by the reason of its
// first refusal (docs/api.md, Errors). Api::refused() indexes them by RefusalReason.
struct RequestsRefused {
    Counter body_too_large{0}, batch_too_long{0}, reply_limit{0}, timeout{0}, busy{0};
    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_COUNTER(body_too_large, "requests whose body was over body-limit");
        SFM_COUNTER(batch_too_long, "batches of more calls than max-batch, refused whole");
        SFM_COUNTER(reply_limit, "requests whose reply would have passed reply-limit");
        SFM_COUNTER(timeout, "requests that ran past request-timeout");
        SFM_COUNTER(busy, "requests with a heavy call refused because heavy-calls were busy");
    }
};

struct Stats {
    int64_t started_ms = 0;
    Counter datagrams_received{0};
    Counter datagrams_decoded{0};
    DatagramsRejected datagrams_rejected;
    Counter kernel_drops{0};
    Counter samples_counter{0};
    Counter samples_flow_skipped{0};
    Counter samples_unknown_skipped{0};
    Counter samples_ignored{0};
    Counter records_unknown{0};
    Counter records_malformed{0};
    Counter samples_stored{0};
    Counter samples_backlog_dropped{0};
    Counter receiver_pauses{0};
    Counter store_commits{0};
    Counter store_errors{0};
    Counter samples_purged{0};
    Counter rollups_built{0};
    RequestsRefused requests_refused;

    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_COUNTER(datagrams_received, "UDP datagrams read from the socket");
        SFM_COUNTER(datagrams_decoded, "datagrams decoded and accepted");
        v.group("datagrams_rejected", s.datagrams_rejected);
        SFM_COUNTER(kernel_drops, "datagrams the kernel dropped because the socket buffer was full (SO_RXQ_OVFL)");
        SFM_COUNTER(samples_counter, "counter samples decoded");
        SFM_COUNTER(samples_flow_skipped, "flow samples, counted and skipped");
        SFM_COUNTER(samples_unknown_skipped, "samples of an unknown format, skipped");
        SFM_COUNTER(samples_ignored, "counter samples neither of a host (2:*) nor of a VM (3:* with host_descr)");
        SFM_COUNTER(records_unknown, "counter records of an unknown format, skipped");
        SFM_COUNTER(records_malformed, "counter records that did not decode (the rest of their sample is kept)");
        SFM_COUNTER(samples_stored, "samples written to the store");
        SFM_COUNTER(samples_backlog_dropped, "samples dropped unwritten because the store writer had died");
        SFM_COUNTER(receiver_pauses, "times the receiver waited for the writer because the backlog was full");
        SFM_COUNTER(store_commits, "store write transactions committed");
        SFM_COUNTER(store_errors, "store writes and purges that failed");
        SFM_COUNTER(samples_purged, "samples purged for being older than retention");
        SFM_COUNTER(rollups_built, "roll-up buckets built (5-minute and 1-hour; rebuilt ones again)");
        v.group("requests_refused", s.requests_refused);
    }

    // per-agent figures (under mutex: touched once per datagram)
    void note_datagram(const Datagram& d, int64_t now_ms);
    std::map<Address, AgentStats> agents_snapshot() const;

    // Today's rate of samples_stored, per day: over the last 24 h (up to kRateMarkMs more), or
    // since started_ms when the service is younger; none before a minute has passed. The
    // writer calls mark_stored() regularly (it keeps one mark per kRateMarkMs).
    static constexpr int64_t kRateMarkMs = 600000;
    void mark_stored(int64_t now_ms);
    std::optional<double> stored_per_day(int64_t now_ms) const;

private:
    mutable std::mutex mu_;
    std::map<Address, AgentStats> agents_;
    std::deque<std::pair<int64_t, uint64_t>> stored_marks_;  // (ms, samples_stored), under mu_
};

#undef SFM_COUNTER

}  // namespace sfm
