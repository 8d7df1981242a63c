// metric_families.cpp — the table of Prometheus metric families (see metric_families.h and
// docs/prometheus.md): the collector's own, a hypervisor's (node_exporter's names) and a VM's
// (libvirt-exporter's), each host and VM family with the records.h fields its series read.
#include "sflow_monitor/metric_families.h"

#include <cctype>
#include <stdexcept>
#include <unordered_map>

#include "sflow_monitor/exposition.h"
#include "sflow_monitor/stats.h"

namespace sfm {

std::string stats_family(const char* key) {
    // promtool's lint refuses samples_counter ("should not include type 'counter'")
    std::string k = key;
    if (k == "samples_counter") k = "samples_decoded";  // counter samples decoded
    return "sflow_monitor_" + k + "_total";
}

namespace {

using T = MetricType;
using S = MetricScope;
using Value = std::optional<double>;

// ---- records.h's field names ---------------------------------------------------------------

// Finds the name of the field at address `want` in a record's field list (records.h).
struct FindField {
    const void* want;
    const char* found = nullptr;
    template <class X>
    void operator()(const char* name, const X& x) {
        if (static_cast<const void*>(&x) == want) found = name;
    }
    template <class X>
    void extra(const char* name, const X& x) {
        (*this)(name, x);
    }
};

// The name records.h gives member M of record R.
template <class R, auto M>
std::string field_name() {
    static const R probe{};
    FindField v{&(probe.*M)};
    R::fields(probe, v);
    if (!v.found) throw std::logic_error(std::string("a member of ") + R::name + " not in its field list");
    return v.found;
}

// ---- series --------------------------------------------------------------------------------

double num(uint32_t v) { return v; }
double num(uint64_t v) { return double(v); }
double num(float v) { return from_float(v); }

// The value of member M of record R in the sample, times Mul / Div.
template <class R, auto M, int Mul, int Div>
Value field_value(const CounterSample& s) {
    const R* r = s.find<R>();
    if (!r) return std::nullopt;
    const auto& x = r->*M;
    if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::optional<uint32_t>>) {
        if (!x) return std::nullopt;
        return double(*x) * Mul / Div;
    } else {
        return num(x) * Mul / Div;
    }
}

// A series and where it comes from, for the family's source.
struct Part {
    MetricSeries series;
    std::string record, field, unit, label_value;
};

// Member M of record R as one series, converted to the family's unit: MHz → Hz (Mul 10^6),
// ms → s (Div 1000). label/value: the series' own label (e.g. mode="user"), or none.
template <class R, auto M, int Mul = 1, int Div = 1>
Part f(const char* label = nullptr, const char* value = nullptr) {
    static_assert((Mul == 1 && Div == 1) || (Mul == 1000000 && Div == 1) || (Mul == 1 && Div == 1000),
                  "a unit conversion the source column does not name");
    Part p{{"", field_value<R, M, Mul, Div>}, R::name, field_name<R, M>(),
           Mul == 1000000 ? "MHz" : Div == 1000 ? "ms" : "", value ? value : ""};
    if (label) p.series.labels = std::string(label) + "=\"" + value + "\"";
    return p;
}

// host_disk_io.part_max_used: hundredths of a percent as a ratio; -1 (unknown) as no series.
Value part_max_used(const CounterSample& s) {
    const HostDiskIo* d = s.find<HostDiskIo>();
    if (!d || d->part_max_used.value < 0) return std::nullopt;
    return d->part_max_used.value / 10000.0;
}

Value one_if_descr(const CounterSample& s) { return s.find<HostDescr>() ? Value(1) : std::nullopt; }

void uname_labels(const CounterSample& s, std::string& out) {
    const HostDescr* d = s.find<HostDescr>();
    append_label(out, "machine", d->machine_type.name());
    append_label(out, "nodename", d->hostname.value);
    append_label(out, "release", d->os_release.value);
    append_label(out, "sysname", d->os_name.name());
}

// A family of scope `scope` whose series are `parts`; its source: "record.field (label value),
// field … (unit)".
MetricFamily family(S scope, T type, const char* name, const char* help, std::vector<Part> parts) {
    MetricFamily fam{name, type, scope, help, parts.at(0).record + ".", {}};
    for (size_t i = 0; i < parts.size(); ++i) {
        const Part& p = parts[i];
        if (p.record != parts[0].record || p.unit != parts[0].unit)
            throw std::logic_error(std::string("one record and one unit per family: ") + name);
        if (i) fam.source += ", ";
        fam.source += p.field;
        if (!p.label_value.empty()) fam.source += " (" + p.label_value + ")";
        fam.series.push_back(p.series);
    }
    if (!parts[0].unit.empty()) fam.source += " (" + parts[0].unit + ")";
    return fam;
}

MetricFamily host(T type, const char* name, const char* help, std::vector<Part> parts) {
    return family(S::host, type, name, help, std::move(parts));
}
MetricFamily vm(T type, const char* name, const char* help, std::vector<Part> parts) {
    return family(S::vm, type, name, help, std::move(parts));
}

// ---- the table -----------------------------------------------------------------------------

// Stats' counters (stats.h), as families: each counter, and each group by reason.
struct StatsFamilies {
    std::vector<MetricFamily>& out;
    void operator()(const char* name, const Counter&, const char* help) {
        out.push_back({stats_family(name), T::counter, S::collector,
                       std::string(1, char(std::toupper(help[0]))) + (help + 1) + ".",
                       std::string("collector.stats ") + name, {}});
    }
    template <class G>
    void group(const char* name, const G& g) {
        std::string reasons;
        struct Names {
            std::string& r;
            void operator()(const char* n, const Counter&, const char*) { r += r.empty() ? n : std::string(", ") + n; }
        } names{reasons};
        G::fields(g, names);
        out.push_back({stats_family(name), T::counter, S::collector, "By reason: " + reasons + ".",
                       std::string("collector.stats ") + name + ".*", {}});
    }
};

MetricFamily collector(T type, const char* name, const char* help, const char* source) {
    return {name, type, S::collector, help, source, {}};
}

std::vector<MetricFamily> all_families() {
    using HC = HostCpu;
    using HM = HostMemory;
    using HD = HostDiskIo;
    using HN = HostNetIo;
    using VN = VirtNode;
    using VC = VirtCpu;
    using VM = VirtMemory;
    using VD = VirtDiskIo;
    using VI = VirtNetIo;
    const T c = T::counter, g = T::gauge;
    // the collector itself (GET /metrics)
    std::vector<MetricFamily> t = {
        collector(g, "sflow_monitor_build_info", "Always 1; the version as a label.", "version"),
        collector(g, "sflow_monitor_start_time_seconds", "When the service started, seconds since the epoch.",
                  "started_ms"),
    };
    static const Stats probe;
    StatsFamilies sf{t};
    Stats::fields(probe, sf);
    std::vector<MetricFamily> rest = {
        collector(c, "sflow_monitor_store_purged_for_space_total",
                  "Samples dropped early because the store's map was filling up.", "store.purged_for_space"),
        collector(g, "sflow_monitor_store_map_size_bytes", "The most the store may hold (map-size).",
                  "store.map_size_bytes"),
        collector(g, "sflow_monitor_store_used_bytes", "Bytes of the map in use.", "store.used_bytes"),
        collector(g, "sflow_monitor_store_samples", "Samples held.", "store.samples"),
        collector(g, "sflow_monitor_store_entities", "Hosts, VMs and interfaces held.", "store.entities"),
        collector(g, "sflow_monitor_store_oldest_sample_timestamp_seconds", "Receive time of the oldest sample held.",
                  "store.oldest_ms"),
        collector(c, "sflow_monitor_store_compacted_samples_total",
                  "Raw samples rewritten into compressed chunks since the service started.",
                  "store.compacted_samples"),
        collector(c, "sflow_monitor_store_compaction_runs_total", "Compaction passes finished since the service started.",
                  "store.compaction_runs"),
        collector(g, "sflow_monitor_store_last_compaction_timestamp_seconds", "When the last compaction pass ended.",
                  "store.last_compaction_ms"),
        collector(g, "sflow_monitor_store_last_compaction_duration_seconds",
                  "Time the last compaction pass spent in its write transactions.",
                  "store.last_compaction_duration_ms"),
        collector(g, "sflow_monitor_store_rollup_chunks", "Chunks of roll-up buckets held, by resolution (5m, 1h).",
                  "store.rollup_chunks_5m, store.rollup_chunks_1h"),
        collector(g, "sflow_monitor_agent_last_seen_timestamp_seconds",
                  "When the agent was last heard from (every agent heard within retention).",
                  "agents[].last_seen_ms; the newest stored sample of the host"),
        collector(c, "sflow_monitor_agent_datagrams_total",
                  "Datagrams received from the agent since the service started.", "agents[].datagrams"),
        collector(c, "sflow_monitor_agent_lost_datagrams_total",
                  "Datagrams lost, from gaps in the agent's datagram sequence numbers.",
                  "agents[].sub_agents[].lost_datagrams"),
        collector(c, "sflow_monitor_agent_sequence_resets_total",
                  "Times the agent's datagram sequence went back (agent restarts).",
                  "agents[].sub_agents[].sequence_resets"),
        collector(c, "sflow_monitor_api_requests_total",
                  "JSON-RPC requests, by method (a batch counts each request).", "(the API)"),
        collector(c, "sflow_monitor_api_errors_total", "JSON-RPC requests answered with an error, by method.",
                  "(the API)"),
        collector(T::histogram, "sflow_monitor_api_request_duration_seconds",
                  "Time to answer one JSON-RPC request, by method.", "(the API)"),

        // a hypervisor (GET /metrics?target=AGENT_IP): labels host_ip, hostname
        {"node_uname_info", g, S::host, "Always 1; nodename, release, machine, sysname as labels.",
         std::string(HostDescr::name) + "." + field_name<HostDescr, &HostDescr::hostname>() + ", " +
             field_name<HostDescr, &HostDescr::os_release>() + ", " +
             field_name<HostDescr, &HostDescr::machine_type>() + ", " + field_name<HostDescr, &HostDescr::os_name>(),
         {{"", one_if_descr, uname_labels}}},
        host(g, "node_load1", "1-minute load average.", {f<HC, &HC::cpu_load_one>()}),
        host(g, "node_load5", "5-minute load average.", {f<HC, &HC::cpu_load_five>()}),
        host(g, "node_load15", "15-minute load average.", {f<HC, &HC::cpu_load_fifteen>()}),
        host(g, "node_procs_running", "Processes running.", {f<HC, &HC::cpu_proc_run>()}),
        host(g, "sflow_host_processes", "Processes in all.", {f<HC, &HC::cpu_proc_total>()}),
        host(g, "sflow_host_cpus", "CPUs.", {f<HC, &HC::cpu_num>()}),
        host(g, "sflow_host_cpu_speed_hertz", "CPU speed.", {f<HC, &HC::cpu_speed, 1000000>()}),
        host(g, "sflow_host_uptime_seconds", "Time since the host booted.", {f<HC, &HC::cpu_uptime>()}),
        host(c, "node_cpu_seconds_total", "CPU time in each mode, summed over all CPUs (no cpu label).",
             {f<HC, &HC::cpu_user, 1, 1000>("mode", "user"), f<HC, &HC::cpu_nice, 1, 1000>("mode", "nice"),
              f<HC, &HC::cpu_system, 1, 1000>("mode", "system"), f<HC, &HC::cpu_idle, 1, 1000>("mode", "idle"),
              f<HC, &HC::cpu_waiting_io, 1, 1000>("mode", "iowait"), f<HC, &HC::cpu_intr, 1, 1000>("mode", "irq"),
              f<HC, &HC::cpu_sintr, 1, 1000>("mode", "softirq"), f<HC, &HC::cpu_steal, 1, 1000>("mode", "steal")}),
        host(c, "node_cpu_guest_seconds_total",
             "CPU time spent running guests (also counted in user and nice), summed over all CPUs.",
             {f<HC, &HC::cpu_guest, 1, 1000>("mode", "user"), f<HC, &HC::cpu_guest_nice, 1, 1000>("mode", "nice")}),
        host(c, "node_intr_total", "Interrupts serviced.", {f<HC, &HC::cpu_interrupts>()}),
        host(c, "node_context_switches_total", "Context switches.", {f<HC, &HC::cpu_contexts>()}),
        host(g, "node_memory_MemTotal_bytes", "Memory in all.", {f<HM, &HM::mem_total>()}),
        host(g, "node_memory_MemFree_bytes", "Memory free.", {f<HM, &HM::mem_free>()}),
        host(g, "node_memory_Shmem_bytes", "Shared memory.", {f<HM, &HM::mem_shared>()}),
        host(g, "node_memory_Buffers_bytes", "Memory in buffers.", {f<HM, &HM::mem_buffers>()}),
        host(g, "node_memory_Cached_bytes", "Memory in the page cache.", {f<HM, &HM::mem_cached>()}),
        host(g, "node_memory_SwapTotal_bytes", "Swap space in all.", {f<HM, &HM::swap_total>()}),
        host(g, "node_memory_SwapFree_bytes", "Swap space free.", {f<HM, &HM::swap_free>()}),
        host(c, "sflow_host_pages_in_total", "Pages paged in.", {f<HM, &HM::page_in>()}),
        host(c, "sflow_host_pages_out_total", "Pages paged out.", {f<HM, &HM::page_out>()}),
        host(c, "sflow_host_swap_in_total", "Pages swapped in.", {f<HM, &HM::swap_in>()}),
        host(c, "sflow_host_swap_out_total", "Pages swapped out.", {f<HM, &HM::swap_out>()}),
        host(g, "sflow_host_disk_total_bytes", "Disk space in all.", {f<HD, &HD::disk_total>()}),
        host(g, "sflow_host_disk_free_bytes", "Disk space free.", {f<HD, &HD::disk_free>()}),
        host(g, "sflow_host_disk_partition_max_used_ratio",
             "Use of the fullest partition, 0 to 1 (absent when the agent does not know).",
             {{{"", part_max_used}, HD::name, field_name<HD, &HD::part_max_used>(), "hundredths of a percent", ""}}),
        host(c, "node_disk_reads_completed_total", "Disk reads, all disks.", {f<HD, &HD::reads>()}),
        host(c, "node_disk_read_bytes_total", "Bytes read from disk, all disks.", {f<HD, &HD::bytes_read>()}),
        host(c, "node_disk_read_time_seconds_total", "Time spent reading, all disks.",
             {f<HD, &HD::read_time, 1, 1000>()}),
        host(c, "node_disk_writes_completed_total", "Disk writes, all disks.", {f<HD, &HD::writes>()}),
        host(c, "node_disk_written_bytes_total", "Bytes written to disk, all disks.", {f<HD, &HD::bytes_written>()}),
        host(c, "node_disk_write_time_seconds_total", "Time spent writing, all disks.",
             {f<HD, &HD::write_time, 1, 1000>()}),
        host(c, "node_network_receive_bytes_total", "Bytes received, all interfaces but loopback.",
             {f<HN, &HN::bytes_in>()}),
        host(c, "node_network_receive_packets_total", "Packets received.", {f<HN, &HN::packets_in>()}),
        host(c, "node_network_receive_errs_total", "Receive errors.", {f<HN, &HN::errs_in>()}),
        host(c, "node_network_receive_drop_total", "Received packets dropped.", {f<HN, &HN::drops_in>()}),
        host(c, "node_network_transmit_bytes_total", "Bytes sent, all interfaces but loopback.",
             {f<HN, &HN::bytes_out>()}),
        host(c, "node_network_transmit_packets_total", "Packets sent.", {f<HN, &HN::packets_out>()}),
        host(c, "node_network_transmit_errs_total", "Transmit errors.", {f<HN, &HN::errs_out>()}),
        host(c, "node_network_transmit_drop_total", "Packets dropped on sending.", {f<HN, &HN::drops_out>()}),
        host(g, "sflow_host_virt_cpu_speed_hertz", "CPU speed, as the hypervisor reports it.",
             {f<VN, &VN::vnode_mhz, 1000000>()}),
        host(g, "sflow_host_virt_cpus", "CPUs the hypervisor has for guests.", {f<VN, &VN::vnode_cpus>()}),
        host(g, "sflow_host_virt_memory_bytes", "Memory the hypervisor has for guests.", {f<VN, &VN::vnode_memory>()}),
        host(g, "sflow_host_virt_memory_free_bytes", "Of it, free.", {f<VN, &VN::vnode_memory_free>()}),
        host(g, "sflow_host_virt_domains", "Domains (VMs) on the hypervisor.", {f<VN, &VN::vnode_num_domains>()}),

        // its VMs: labels host_ip (the hypervisor it runs on now), domain, uuid
        vm(g, "libvirt_domain_info_vstate",
           "Domain state: 0 nostate, 1 running, 2 blocked, 3 paused, 4 shutdown, 5 shutoff, 6 crashed, "
           "7 pmsuspended.",
           {f<VC, &VC::vcpu_state>()}),
        vm(c, "libvirt_domain_info_cpu_time_seconds_total", "CPU time used by the domain.",
           {f<VC, &VC::vcpu_cpu_time, 1, 1000>()}),
        vm(g, "libvirt_domain_info_virtual_cpus", "Virtual CPUs.", {f<VC, &VC::vcpu_cpu_count>()}),
        vm(g, "libvirt_domain_info_memory_usage_bytes", "Memory used by the domain.", {f<VM, &VM::vmem_memory>()}),
        vm(g, "libvirt_domain_info_maximum_memory_bytes", "Memory the domain may use.",
           {f<VM, &VM::vmem_max_memory>()}),
        vm(g, "libvirt_domain_block_stats_capacity_bytes", "Disk capacity, all disks.", {f<VD, &VD::vdsk_capacity>()}),
        vm(g, "libvirt_domain_block_stats_allocation_bytes", "Disk space allocated.",
           {f<VD, &VD::vdsk_allocation>()}),
        vm(g, "libvirt_domain_block_stats_available_bytes", "Disk space available.", {f<VD, &VD::vdsk_available>()}),
        vm(c, "libvirt_domain_block_stats_read_requests_total", "Disk read requests.", {f<VD, &VD::vdsk_rd_req>()}),
        vm(c, "libvirt_domain_block_stats_read_bytes_total", "Bytes read.", {f<VD, &VD::vdsk_rd_bytes>()}),
        vm(c, "libvirt_domain_block_stats_write_requests_total", "Disk write requests.", {f<VD, &VD::vdsk_wr_req>()}),
        vm(c, "libvirt_domain_block_stats_write_bytes_total", "Bytes written.", {f<VD, &VD::vdsk_wr_bytes>()}),
        vm(c, "libvirt_domain_block_stats_errors_total", "Disk errors.", {f<VD, &VD::vdsk_errs>()}),
        vm(c, "libvirt_domain_interface_stats_receive_bytes_total", "Bytes received, all interfaces.",
           {f<VI, &VI::vnio_bytes_in>()}),
        vm(c, "libvirt_domain_interface_stats_receive_packets_total", "Packets received.",
           {f<VI, &VI::vnio_packets_in>()}),
        vm(c, "libvirt_domain_interface_stats_receive_errors_total", "Receive errors.", {f<VI, &VI::vnio_errs_in>()}),
        vm(c, "libvirt_domain_interface_stats_receive_drops_total", "Received packets dropped.",
           {f<VI, &VI::vnio_drops_in>()}),
        vm(c, "libvirt_domain_interface_stats_transmit_bytes_total", "Bytes sent.", {f<VI, &VI::vnio_bytes_out>()}),
        vm(c, "libvirt_domain_interface_stats_transmit_packets_total", "Packets sent.",
           {f<VI, &VI::vnio_packets_out>()}),
        vm(c, "libvirt_domain_interface_stats_transmit_errors_total", "Transmit errors.",
           {f<VI, &VI::vnio_errs_out>()}),
        vm(c, "libvirt_domain_interface_stats_transmit_drops_total", "Packets dropped on sending.",
           {f<VI, &VI::vnio_drops_out>()}),
    };
    t.insert(t.end(), std::make_move_iterator(rest.begin()), std::make_move_iterator(rest.end()));
    return t;
}

}  // namespace

const std::vector<MetricFamily>& metric_families() {
    static const std::vector<MetricFamily> families = all_families();
    return families;
}

const MetricFamily& metric_family(std::string_view name) {
    static const auto* index = [] {
        auto* m = new std::unordered_map<std::string_view, const MetricFamily*>;
        for (const MetricFamily& fam : metric_families()) (*m)[fam.name] = &fam;
        return m;
    }();
    auto it = index->find(name);
    if (it == index->end()) throw std::logic_error("metric family not in the table: " + std::string(name));
    return *it->second;
}

}  // namespace sfm
