// collector_metrics.h — the collector's own metrics (GET /metrics, docs/prometheus.md): the
// per-method request counts and latencies the API records, and the writer of the exposition
// from them, Stats' counters and the store's figures.
//
// Caveats:
//  - RequestStats is written by every worker at once (one relaxed atomic add each); a
//    snapshot is exact per counter, not across counters (the histogram's count is kept at
//    least its buckets' sum, so the scraper sees a consistent histogram).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sflow_monitor/stats.h"
#include "sflow_monitor/store.h"

namespace sfm {

// Per JSON-RPC method: requests, errors and a latency histogram. Written by the API (one
// relaxed atomic add each), read by the exposition.
class RequestStats {
public:
    static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                        0.05,   0.1,   0.25,   0.5,   1,    2.5};
    // method names: the API's table plus "other" (unknown methods, invalid requests)
    explicit RequestStats(std::vector<std::string> methods);
    // index of a method name (the last index, "other", for any name not in the list)
    size_t index(std::string_view method) const;
    void observe(size_t method, double seconds, bool error);

    struct Snapshot {
        std::string method;
        uint64_t requests = 0, errors = 0;
        double seconds_sum = 0;
        std::array<uint64_t, kBuckets.size()> buckets{};  // cumulative counts per bound
    };
    std::vector<Snapshot> snapshot() const;

private:
    struct Slot {
        std::atomic<uint64_t> requests{0}, errors{0}, nanos{0};
        std::array<std::atomic<uint64_t>, kBuckets.size()> le{};  // per bucket, not cumulative
    };
    std::vector<std::string> names_;
    std::unique_ptr<Slot[]> slots_;
};

// What the collector's exposition is written from.
struct CollectorFigures {
    const Stats& stats;
    StoreStats store;
    const RequestStats* requests = nullptr;          // none: no request families
    std::map<Address, int64_t> stored_hosts_last_ms;  // each host in the store: its newest sample
    int64_t last_seen_since_ms = 0;                   // agents last heard before this are left out
};

// The collector's own metrics, in the text format (OpenMetrics with `openmetrics`).
std::string write_collector_metrics(const CollectorFigures& figures, bool openmetrics);

}  // namespace sfm
