// metrics.cpp — the Prometheus exporter (see metrics.h and docs/prometheus.md): which hosts
// and VMs are fresh, a hypervisor's exposition from the newest samples (which VMs run on it,
// and its hostname, from the current state in memory, current.h), the http_sd target list,
// and serving the paths. The family table is metric_families.cpp, the writer exposition.cpp,
// the collector's own metrics collector_metrics.cpp.
#include "sflow_monitor/metrics.h"

#include <algorithm>
#include <map>
#include <optional>

#include "sflow_monitor/current.h"
#include "sflow_monitor/derive.h"
#include "sflow_monitor/exposition.h"
#include "sflow_monitor/json.h"
#include "sflow_monitor/methods.h"
#include "sflow_monitor/sflow.h"

namespace sfm {

namespace {

// ---- presence ------------------------------------------------------------------------------

constexpr int64_t kDefaultIntervalMs = 30000;  // hsflowd's default polling, until two samples show it
constexpr int kStaleIntervals = 3;              // as cluster.status's "stale"

struct Newest {
    bool fresh = false;
    SampleMeta meta;
    std::string raw;
};

// The newest sample of an entity, and whether it is within 3 polling intervals of now (the
// interval observed between its two newest samples, on the agent's clock).
Newest newest(const Store& st, Entity kind, std::string_view name, int64_t now) {
    Newest n;
    SampleMeta prev;
    int got = 0;
    st.scan(kind, name, -1, now,
            [&](const SampleMeta& m, std::string_view raw) {
                if (got++ == 0) {
                    n.meta = m;
                    n.raw.assign(raw);
                } else {
                    prev = m;
                }
            },
            2, true);
    if (got == 0) return n;
    int64_t interval = kDefaultIntervalMs;
    if (got == 2) {
        Interval iv = interval_between(prev, n.meta);
        if (!iv.reset && iv.ms > 0) interval = iv.ms;
    }
    n.fresh = now - n.meta.ts_ms <= kStaleIntervals * interval;
    return n;
}

std::string query_param(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        size_t amp = query.find('&');
        std::string_view part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        size_t eq = part.find('=');
        if (part.substr(0, eq) != name) continue;
        std::string_view v = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
        std::string out;
        for (size_t i = 0; i < v.size(); ++i) {
            auto hex = [](char c) {
                return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            };
            if (v[i] == '%' && i + 2 < v.size() + 0 && hex(v[i + 1]) >= 0 && hex(v[i + 2]) >= 0) {
                out.push_back(char(hex(v[i + 1]) * 16 + hex(v[i + 2])));
                i += 2;
            } else {
                out.push_back(v[i] == '+' ? ' ' : v[i]);
            }
        }
        return out;
    }
    return {};
}

bool has_param(std::string_view query, std::string_view name) {
    for (size_t at = 0; at <= query.size();) {
        size_t amp = query.find('&', at);
        std::string_view part = query.substr(at, amp == std::string_view::npos ? amp : amp - at);
        if (part.substr(0, part.find('=')) == name) return true;
        if (amp == std::string_view::npos) break;
        at = amp + 1;
    }
    return false;
}

}  // namespace

// ---- Exporter ------------------------------------------------------------------------------

struct Exporter::Impl {
    ExporterOptions opts;
    const Store& store;
    const Stats& stats;
    const RequestStats* requests;

    Impl(const ExporterOptions& o, const Store& st, const Stats& s, const RequestStats* r)
        : opts(o), store(st), stats(s), requests(r) {}

};

Exporter::Exporter(const ExporterOptions& opts, const Store& store, const Stats& stats,
                   const RequestStats* requests)
    : impl_(std::make_unique<Impl>(opts, store, stats, requests)) {}

Exporter::~Exporter() = default;

bool Exporter::serves(std::string_view path) {
    return path == "/metrics" || path == "/sflow-monitor/metrics" || path == "/prometheus/targets";
}

MetricsReply Exporter::get(std::string_view path, std::string_view query, std::string_view accept,
                           std::string_view host, int64_t now_ms) const {
    MetricsReply r;
    if (path == "/prometheus/targets") {
        r.content_type = "application/json";
        r.body = sd_targets(host, now_ms);
        return r;
    }
    bool om = accept.find("application/openmetrics-text") != std::string_view::npos;
    r.content_type = om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                        : "text/plain; version=0.0.4; charset=utf-8";
    if (!has_param(query, "target")) {
        r.body = collector_metrics(om, now_ms);
        return r;
    }
    std::string target = query_param(query, "target");
    if (!Address::parse(target)) {
        r.status = 400;
        r.content_type = "text/plain; charset=utf-8";
        r.body = "target must be an agent's IPv4 or IPv6 address\n";
        return r;
    }
    r.body = target_metrics(target, om, now_ms);
    return r;
}

std::string Exporter::collector_metrics(bool om, int64_t now) const {
    CollectorFigures fig{impl_->stats, impl_->store.stats(), impl_->requests, {},
                         now - impl_->opts.retention_ms};
    const Current& cur = impl_->store.current();
    for (const Address& agent : cur.vm_agents()) fig.stored_hosts_last_ms[agent] = 0;  // VMs' only
    for (const auto& h : cur.hosts()) fig.stored_hosts_last_ms[Address::from_raw(h->name)] = h->last.ts_ms;
    return write_collector_metrics(fig, om);
}

std::string Exporter::target_metrics(const std::string& agent_ip, bool om, int64_t now) const {
    Exposition e(om);
    auto addr = Address::parse(agent_ip);
    if (!addr) return e.finish();
    const Current& cur = impl_->store.current();
    Current::HostPtr entry = cur.host(*addr);  // the table: its hostname, and the VMs on it now
    struct Ent {
        bool host;
        std::string labels;
        Newest n;
        CounterSample s;
    };
    std::vector<Ent> ents;
    std::string ip = addr->text();
    Newest h = newest(impl_->store, Entity::host, addr->raw(), now);
    if (h.fresh) {
        Ent x{true, {}, std::move(h), {}};
        decode_records(x.n.raw, x.s);
        std::string hostname = entry ? std::string(entry->described()) : std::string();
        if (const HostDescr* d = x.s.find<HostDescr>()) hostname = std::string(d->hostname.value);
        append_label(x.labels, "host_ip", ip);
        append_label(x.labels, "hostname", hostname);
        ents.push_back(std::move(x));
    }
    for (const auto& on : cur.vms_on(*addr)) {
        const std::string& vm = on->name;
        Newest n = newest(impl_->store, Entity::vm, vm, now);
        if (!n.fresh || !(n.meta.agent == *addr)) continue;  // up to now, its newest came from elsewhere
        Ent x{false, {}, std::move(n), {}};
        decode_records(x.n.raw, x.s);
        const HostDescr* d = x.s.find<HostDescr>();
        append_label(x.labels, "host_ip", ip);
        append_label(x.labels, "domain", vm);
        append_label(x.labels, "uuid", d ? d->uuid.text() : std::string());
        ents.push_back(std::move(x));
    }
    std::string labels;
    for (const MetricFamily& fam : metric_families()) {
        if (fam.scope == MetricScope::collector) continue;
        e.begin(fam);
        for (const MetricSeries& r : fam.series)
            for (const Ent& x : ents) {
                if (x.host != (fam.scope == MetricScope::host)) continue;
                std::optional<double> v = r.value(x.s);
                if (!v) continue;
                labels = x.labels;
                if (!r.labels.empty()) labels.append(",").append(r.labels);
                if (r.more_labels) r.more_labels(x.s, labels);
                e.sample("", labels, *v);
            }
    }
    return e.finish();
}

std::string Exporter::sd_targets(std::string_view host, int64_t /*now: the table is current*/) const {
    std::string out;
    JsonWriter w(out);
    auto group = [&](const std::string* agent, const std::string* hostname) {
        w.sep();
        w.begin_object();
        w.key("targets");
        w.begin_array();
        w.sep();
        w.string(host);
        w.end_array();
        w.key("labels");
        w.begin_object();
        w.key("__metrics_path__");
        w.string("/metrics");
        if (agent) {
            w.key("__param_target");
            w.string(*agent);
            w.key("instance");
            w.string(*agent);
            w.key("__meta_sflow_hostname");
            w.string(*hostname);
        } else {
            w.key("job");
            w.string("sflow-monitor");
        }
        w.end_object();
        w.end_object();
    };
    w.begin_array();
    group(nullptr, nullptr);
    std::vector<std::pair<Address, Current::HostPtr>> hosts;  // by address, as before the table
    for (auto& h : impl_->store.current().hosts()) hosts.emplace_back(Address::from_raw(h->name), std::move(h));
    std::sort(hosts.begin(), hosts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [addr, h] : hosts) {
        std::string hostname(h->described());
        group(&h->ip, &hostname);
    }
    w.end_array();
    out.push_back('\n');
    return out;
}

}  // namespace sfm
