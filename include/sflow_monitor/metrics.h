// metrics.h — Prometheus exposition (docs/prometheus.md): the collector's own metrics, one
// hypervisor and its VMs as node_exporter / libvirt-exporter metrics (the multi-target
// exporter pattern: GET /metrics?target=AGENT_IP), and the http_sd target list.
//
// Caveats:
//  - metric_families() is the one list of every family any exposition writes; the writer
//    looks each family up there by name, and docs/prometheus.md is checked against it.
//  - No exposition timestamps: Prometheus stamps each scrape itself, so its staleness handling
//    works. A host or VM whose newest sample is older than 3 polling intervals is left out.
//  - Which VMs run on which hypervisor is indexed for at most ExporterOptions::index_ms (an
//    agent the index does not hold yet makes it rebuild, at most once a second; one thread
//    rebuilds while the others use the index they have): a VM that moved shows under its new
//    hypervisor within that time, and never under two (each VM's newest sample is checked).
//  - Thread-safe: any number of workers may call get() at once.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sflow_monitor/stats.h"
#include "sflow_monitor/store.h"

namespace sfm {

enum class MetricType { counter, gauge, histogram };
enum class MetricScope { collector, host, vm };

struct MetricFamily {
    std::string name;    // as exposed in the text format (counters end in _total)
    MetricType type;
    MetricScope scope;
    std::string help;
    std::string source;  // the sFlow field (record.field) or the collector counter it comes from
};

// Every family, in exposition order. The collector's counters come from Stats' field list
// (stats.h): sflow_monitor_<collector.stats key>_total, a group as one family by reason.
const std::vector<MetricFamily>& metric_families();

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

struct ExporterOptions {
    int64_t retention_ms = 7 * 86400000LL;  // agents heard within it get a last-seen series
    int64_t index_ms = 5000;                // the VM-to-hypervisor index is rebuilt this often
};

struct MetricsReply {
    int status = 200;
    std::string content_type;
    std::string body;
};

class Exporter {
public:
    Exporter(const ExporterOptions& opts, const Store& store, const Stats& stats,
             const RequestStats* requests = nullptr);
    ~Exporter();
    Exporter(const Exporter&) = delete;
    Exporter& operator=(const Exporter&) = delete;

    // True for the paths get() answers: /metrics, /sflow-monitor/metrics, /prometheus/targets.
    static bool serves(std::string_view path);
    // GET path?query. accept: the request's Accept header (OpenMetrics when it asks for it);
    // host: its Host header (the address Prometheus reached us at, for http_sd).
    MetricsReply get(std::string_view path, std::string_view query, std::string_view accept,
                     std::string_view host, int64_t now_ms) const;

    // The parts, for tests.
    std::string collector_metrics(bool openmetrics, int64_t now_ms) const;
    std::string target_metrics(const std::string& agent_ip, bool openmetrics, int64_t now_ms) const;
    std::string sd_targets(std::string_view host, int64_t now_ms) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sfm
