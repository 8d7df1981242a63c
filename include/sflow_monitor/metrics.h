// metrics.h — Prometheus exposition (docs/prometheus.md): the collector's own metrics, one
// hypervisor and its VMs as node_exporter / libvirt-exporter metrics (the multi-target
// exporter pattern: GET /metrics?target=AGENT_IP), and the http_sd target list.
//
// Caveats:
//  - The parts: the family table (metric_families.h, the one list of every family any
//    exposition writes), the text/OpenMetrics writer (exposition.h), the collector's own
//    metrics (collector_metrics.h); this file is the exporter that serves them.
//  - No exposition timestamps: Prometheus stamps each scrape itself, so its staleness handling
//    works. A host or VM whose newest sample is older than 3 polling intervals is left out.
//  - Which VMs run on which hypervisor, and the hosts and their hostnames, come from the
//    store's current state in memory (current.h): a VM that moved shows under its new
//    hypervisor as soon as the sample that says so is committed, and never under two (each
//    VM's newest sample is checked).
//  - Thread-safe: any number of workers may call get() at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sflow_monitor/collector_metrics.h"
#include "sflow_monitor/metric_families.h"
#include "sflow_monitor/stats.h"
#include "sflow_monitor/store.h"

namespace sfm {

struct ExporterOptions {
    int64_t retention_ms = 7 * 86400000LL;  // agents heard within it get a last-seen series
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
