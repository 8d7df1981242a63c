// collector_metrics.cpp — the collector's own metrics (see collector_metrics.h): RequestStats
// and the GET /metrics exposition.
#include "sflow_monitor/collector_metrics.h"

#include <algorithm>

#include "sflow_monitor/api.h"
#include "sflow_monitor/exposition.h"
#include "sflow_monitor/metric_families.h"

namespace sfm {

// ---- RequestStats --------------------------------------------------------------------------

RequestStats::RequestStats(std::vector<std::string> methods)
    : names_(std::move(methods)), slots_(new Slot[names_.size() + 1]) {
    names_.push_back("other");
}

size_t RequestStats::index(std::string_view method) const {
    for (size_t i = 0; i + 1 < names_.size(); ++i)
        if (names_[i] == method) return i;
    return names_.size() - 1;
}

void RequestStats::observe(size_t method, double seconds, bool error) {
    Slot& s = slots_[std::min(method, names_.size() - 1)];
    s.requests.fetch_add(1, std::memory_order_relaxed);
    if (error) s.errors.fetch_add(1, std::memory_order_relaxed);
    s.nanos.fetch_add(uint64_t(std::max(0.0, seconds) * 1e9), std::memory_order_relaxed);
    for (size_t b = 0; b < kBuckets.size(); ++b)
        if (seconds <= kBuckets[b]) {
            s.le[b].fetch_add(1, std::memory_order_relaxed);
            break;
        }
}

std::vector<RequestStats::Snapshot> RequestStats::snapshot() const {
    std::vector<Snapshot> out;
    for (size_t i = 0; i < names_.size(); ++i) {
        const Slot& s = slots_[i];
        Snapshot n;
        n.method = names_[i];
        n.requests = s.requests.load(std::memory_order_relaxed);
        n.errors = s.errors.load(std::memory_order_relaxed);
        n.seconds_sum = double(s.nanos.load(std::memory_order_relaxed)) / 1e9;
        uint64_t cum = 0;
        for (size_t b = 0; b < kBuckets.size(); ++b) n.buckets[b] = cum += s.le[b].load(std::memory_order_relaxed);
        // read separately from the buckets: keep the histogram consistent for the scraper
        n.requests = std::max(n.requests, cum);
        out.push_back(std::move(n));
    }
    return out;
}

// ---- the exposition ------------------------------------------------------------------------

namespace {

struct Reasons {
    Exposition& e;
    std::string& labels;
    void operator()(const char* reason, const Counter& c, const char*) {
        labels.clear();
        append_label(labels, "reason", reason);
        e.sample("", labels, double(c.load(std::memory_order_relaxed)));
    }
};

// Writes Stats' counters (stats.h) by their field list.
struct StatsWriter {
    Exposition& e;
    std::string& labels;
    void operator()(const char* name, const Counter& c, const char*) {
        e.begin(stats_family(name));
        e.sample("", "", double(c.load(std::memory_order_relaxed)));
    }
    template <class G>
    void group(const char* name, const G& g) {
        e.begin(stats_family(name));
        Reasons r{e, labels};
        G::fields(g, r);
    }
};

}  // namespace

std::string write_collector_metrics(const CollectorFigures& fig, bool om) {
    const Stats& s = fig.stats;
    Exposition e(om);
    std::string labels;
    auto one = [&](const char* fam, double v) {
        e.begin(fam);
        e.sample("", "", v);
    };
    auto by = [&](const char* label, const std::string& value, double v) {
        labels.clear();
        append_label(labels, label, value);
        e.sample("", labels, v);
    };
    e.begin("sflow_monitor_build_info");
    by("version", kVersion, 1);
    one("sflow_monitor_start_time_seconds", double(s.started_ms) / 1000.0);
    StatsWriter counters{e, labels};
    Stats::fields(s, counters);
    const StoreStats& st = fig.store;
    one("sflow_monitor_store_purged_for_space_total", double(st.purged_for_space));
    one("sflow_monitor_store_map_size_bytes", double(st.map_size));
    one("sflow_monitor_store_used_bytes", double(st.used_bytes));
    one("sflow_monitor_store_samples", double(st.samples));
    one("sflow_monitor_store_entities", double(st.entities));
    if (st.oldest_ms) one("sflow_monitor_store_oldest_sample_timestamp_seconds", double(st.oldest_ms) / 1000.0);
    one("sflow_monitor_store_compacted_samples_total", double(st.compacted_samples));
    one("sflow_monitor_store_compaction_runs_total", double(st.compaction_runs));
    if (st.last_compaction_ms) {
        one("sflow_monitor_store_last_compaction_timestamp_seconds", double(st.last_compaction_ms) / 1000.0);
        one("sflow_monitor_store_last_compaction_duration_seconds", double(st.last_compaction_duration_ms) / 1000.0);
    }
    e.begin("sflow_monitor_store_rollup_chunks");
    by("resolution", "5m", double(st.rollup_chunks[0]));
    by("resolution", "1h", double(st.rollup_chunks[1]));

    // agents: heard since start (Stats) or stored (hosts in the store), within retention
    auto agents = s.agents_snapshot();
    std::map<Address, int64_t> last_seen;
    for (auto& [addr, a] : agents) last_seen[addr] = a.last_seen_ms;
    for (auto& [addr, ms] : fig.stored_hosts_last_ms) {
        int64_t& t = last_seen[addr];
        t = std::max(t, ms);
    }
    e.begin("sflow_monitor_agent_last_seen_timestamp_seconds");
    for (auto& [addr, t] : last_seen)
        if (t >= fig.last_seen_since_ms) by("agent", addr.text(), double(t) / 1000.0);
    e.begin("sflow_monitor_agent_datagrams_total");
    for (auto& [addr, a] : agents) by("agent", addr.text(), double(a.datagrams));
    for (bool lost : {true, false}) {
        e.begin(lost ? "sflow_monitor_agent_lost_datagrams_total" : "sflow_monitor_agent_sequence_resets_total");
        for (auto& [addr, a] : agents)
            for (auto& [id, sub] : a.sub_agents) {
                labels.clear();
                append_label(labels, "agent", addr.text());
                append_label(labels, "sub_agent", std::to_string(id));
                e.sample("", labels, double(lost ? sub.lost : sub.resets));
            }
    }
    if (fig.requests) {
        auto snap = fig.requests->snapshot();
        e.begin("sflow_monitor_api_requests_total");
        for (auto& m : snap) by("method", m.method, double(m.requests));
        e.begin("sflow_monitor_api_errors_total");
        for (auto& m : snap) by("method", m.method, double(m.errors));
        e.begin("sflow_monitor_api_request_duration_seconds");
        for (auto& m : snap) {
            for (size_t b = 0; b <= RequestStats::kBuckets.size(); ++b) {
                labels.clear();
                append_label(labels, "method", m.method);
                std::string le;
                if (b < RequestStats::kBuckets.size()) append_number(le, RequestStats::kBuckets[b]);
                else le = "+Inf";
                append_label(labels, "le", le);
                e.sample("_bucket", labels, double(b < RequestStats::kBuckets.size() ? m.buckets[b] : m.requests));
            }
            labels.clear();
            append_label(labels, "method", m.method);
            e.sample("_sum", labels, m.seconds_sum);
            e.sample("_count", labels, double(m.requests));
        }
    }
    return e.finish();
}

}  // namespace sfm
