// metrics.cpp — the Prometheus exposition (see metrics.h and docs/prometheus.md): the family
// table, the value rows that fill host and VM families from the newest sample's records, the
// collector's own figures, and the http_sd target list.
#include "sflow_monitor/metrics.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cctype>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include "sflow_monitor/api.h"
#include "sflow_monitor/derive.h"
#include "sflow_monitor/json.h"
#include "sflow_monitor/methods.h"
#include "sflow_monitor/sflow.h"

namespace sfm {

namespace {

using T = MetricType;
using S = MetricScope;

// ---- the families --------------------------------------------------------------------------

// The family of a collector.stats key: sflow_monitor_<key>_total, but for samples_counter,
// whose name promtool's lint refuses ("should not include type 'counter'").
std::string stats_family(const char* key) {
    std::string k = key;
    if (k == "samples_counter") k = "samples_decoded";  // counter samples decoded
    return "sflow_monitor_" + k + "_total";
}

// Stats' counters (stats.h), as families: each counter, and each group by reason.
struct StatsFamilies {
    std::vector<MetricFamily>& out;
    void operator()(const char* name, const Counter&, const char* help) {
        out.push_back({stats_family(name), T::counter, S::collector,
                       std::string(1, char(std::toupper(help[0]))) + (help + 1) + ".",
                       std::string("collector.stats ") + name});
    }
    template <class G>
    void group(const char* name, const G& g) {
        std::string reasons;
        struct Names {
            std::string& r;
            void operator()(const char* n, const Counter&, const char*) { r += r.empty() ? n : std::string(", ") + n; }
        } names{reasons};
        G::fields(g, names);
        out.push_back({stats_family(name), T::counter, S::collector,
                       "By reason: " + reasons + ".", std::string("collector.stats ") + name + ".*"});
    }
};

std::vector<MetricFamily> all_families() {
    std::vector<MetricFamily> f = {
    // the collector itself (GET /metrics)
    {"sflow_monitor_build_info", T::gauge, S::collector, "Always 1; the version as a label.",
     "version"},
    {"sflow_monitor_start_time_seconds", T::gauge, S::collector,
     "When the service started, seconds since the epoch.", "started_ms"},
    };
    static const Stats probe;
    StatsFamilies sf{f};
    Stats::fields(probe, sf);
    std::vector<MetricFamily> rest = {
    {"sflow_monitor_store_purged_for_space_total", T::counter, S::collector,
     "Samples dropped early because the store's map was filling up.", "store.purged_for_space"},
    {"sflow_monitor_store_map_size_bytes", T::gauge, S::collector,
     "The most the store may hold (map-size).", "store.map_size_bytes"},
    {"sflow_monitor_store_used_bytes", T::gauge, S::collector, "Bytes of the map in use.",
     "store.used_bytes"},
    {"sflow_monitor_store_samples", T::gauge, S::collector, "Samples held.", "store.samples"},
    {"sflow_monitor_store_entities", T::gauge, S::collector,
     "Hosts, VMs and interfaces held.", "store.entities"},
    {"sflow_monitor_store_oldest_sample_timestamp_seconds", T::gauge, S::collector,
     "Receive time of the oldest sample held.", "store.oldest_ms"},
    {"sflow_monitor_agent_last_seen_timestamp_seconds", T::gauge, S::collector,
     "When the agent was last heard from (every agent heard within retention).",
     "agents[].last_seen_ms; the newest stored sample of the host"},
    {"sflow_monitor_agent_datagrams_total", T::counter, S::collector,
     "Datagrams received from the agent since the service started.", "agents[].datagrams"},
    {"sflow_monitor_agent_lost_datagrams_total", T::counter, S::collector,
     "Datagrams lost, from gaps in the agent's datagram sequence numbers.",
     "agents[].sub_agents[].lost_datagrams"},
    {"sflow_monitor_agent_sequence_resets_total", T::counter, S::collector,
     "Times the agent's datagram sequence went back (agent restarts).",
     "agents[].sub_agents[].sequence_resets"},
    {"sflow_monitor_api_requests_total", T::counter, S::collector,
     "JSON-RPC requests, by method (a batch counts each request).", "(the API)"},
    {"sflow_monitor_api_errors_total", T::counter, S::collector,
     "JSON-RPC requests answered with an error, by method.", "(the API)"},
    {"sflow_monitor_api_request_duration_seconds", T::histogram, S::collector,
     "Time to answer one JSON-RPC request, by method.", "(the API)"},

    // a hypervisor (GET /metrics?target=AGENT_IP): labels host_ip, hostname
    {"node_uname_info", T::gauge, S::host,
     "Always 1; nodename, release, machine, sysname as labels.",
     "host_descr.hostname, os_release, machine_type, os_name"},
    {"node_load1", T::gauge, S::host, "1-minute load average.", "host_cpu.cpu_load_one"},
    {"node_load5", T::gauge, S::host, "5-minute load average.", "host_cpu.cpu_load_five"},
    {"node_load15", T::gauge, S::host, "15-minute load average.", "host_cpu.cpu_load_fifteen"},
    {"node_procs_running", T::gauge, S::host, "Processes running.", "host_cpu.cpu_proc_run"},
    {"sflow_host_processes", T::gauge, S::host, "Processes in all.", "host_cpu.cpu_proc_total"},
    {"sflow_host_cpus", T::gauge, S::host, "CPUs.", "host_cpu.cpu_num"},
    {"sflow_host_cpu_speed_hertz", T::gauge, S::host, "CPU speed.", "host_cpu.cpu_speed (MHz)"},
    {"sflow_host_uptime_seconds", T::gauge, S::host, "Time since the host booted.",
     "host_cpu.cpu_uptime"},
    {"node_cpu_seconds_total", T::counter, S::host,
     "CPU time in each mode, summed over all CPUs (no cpu label).",
     "host_cpu.cpu_user, cpu_nice, cpu_system, cpu_idle, cpu_waiting_io (iowait), cpu_intr (irq), "
     "cpu_sintr (softirq), cpu_steal (ms)"},
    {"node_cpu_guest_seconds_total", T::counter, S::host,
     "CPU time spent running guests (also counted in user and nice), summed over all CPUs.",
     "host_cpu.cpu_guest (user), cpu_guest_nice (nice) (ms)"},
    {"node_intr_total", T::counter, S::host, "Interrupts serviced.", "host_cpu.cpu_interrupts"},
    {"node_context_switches_total", T::counter, S::host, "Context switches.",
     "host_cpu.cpu_contexts"},
    {"node_memory_MemTotal_bytes", T::gauge, S::host, "Memory in all.", "host_memory.mem_total"},
    {"node_memory_MemFree_bytes", T::gauge, S::host, "Memory free.", "host_memory.mem_free"},
    {"node_memory_Shmem_bytes", T::gauge, S::host, "Shared memory.", "host_memory.mem_shared"},
    {"node_memory_Buffers_bytes", T::gauge, S::host, "Memory in buffers.",
     "host_memory.mem_buffers"},
    {"node_memory_Cached_bytes", T::gauge, S::host, "Memory in the page cache.",
     "host_memory.mem_cached"},
    {"node_memory_SwapTotal_bytes", T::gauge, S::host, "Swap space in all.",
     "host_memory.swap_total"},
    {"node_memory_SwapFree_bytes", T::gauge, S::host, "Swap space free.", "host_memory.swap_free"},
    {"sflow_host_pages_in_total", T::counter, S::host, "Pages paged in.", "host_memory.page_in"},
    {"sflow_host_pages_out_total", T::counter, S::host, "Pages paged out.", "host_memory.page_out"},
    {"sflow_host_swap_in_total", T::counter, S::host, "Pages swapped in.", "host_memory.swap_in"},
    {"sflow_host_swap_out_total", T::counter, S::host, "Pages swapped out.",
     "host_memory.swap_out"},
    {"sflow_host_disk_total_bytes", T::gauge, S::host, "Disk space in all.",
     "host_disk_io.disk_total"},
    {"sflow_host_disk_free_bytes", T::gauge, S::host, "Disk space free.", "host_disk_io.disk_free"},
    {"sflow_host_disk_partition_max_used_ratio", T::gauge, S::host,
     "Use of the fullest partition, 0 to 1 (absent when the agent does not know).",
     "host_disk_io.part_max_used (hundredths of a percent)"},
    {"node_disk_reads_completed_total", T::counter, S::host, "Disk reads, all disks.",
     "host_disk_io.reads"},
    {"node_disk_read_bytes_total", T::counter, S::host, "Bytes read from disk, all disks.",
     "host_disk_io.bytes_read"},
    {"node_disk_read_time_seconds_total", T::counter, S::host, "Time spent reading, all disks.",
     "host_disk_io.read_time (ms)"},
    {"node_disk_writes_completed_total", T::counter, S::host, "Disk writes, all disks.",
     "host_disk_io.writes"},
    {"node_disk_written_bytes_total", T::counter, S::host, "Bytes written to disk, all disks.",
     "host_disk_io.bytes_written"},
    {"node_disk_write_time_seconds_total", T::counter, S::host, "Time spent writing, all disks.",
     "host_disk_io.write_time (ms)"},
    {"node_network_receive_bytes_total", T::counter, S::host,
     "Bytes received, all interfaces but loopback.", "host_net_io.bytes_in"},
    {"node_network_receive_packets_total", T::counter, S::host, "Packets received.",
     "host_net_io.packets_in"},
    {"node_network_receive_errs_total", T::counter, S::host, "Receive errors.",
     "host_net_io.errs_in"},
    {"node_network_receive_drop_total", T::counter, S::host, "Received packets dropped.",
     "host_net_io.drops_in"},
    {"node_network_transmit_bytes_total", T::counter, S::host,
     "Bytes sent, all interfaces but loopback.", "host_net_io.bytes_out"},
    {"node_network_transmit_packets_total", T::counter, S::host, "Packets sent.",
     "host_net_io.packets_out"},
    {"node_network_transmit_errs_total", T::counter, S::host, "Transmit errors.",
     "host_net_io.errs_out"},
    {"node_network_transmit_drop_total", T::counter, S::host, "Packets dropped on sending.",
     "host_net_io.drops_out"},
    {"sflow_host_virt_cpu_speed_hertz", T::gauge, S::host, "CPU speed, as the hypervisor reports it.",
     "virt_node.vnode_mhz (MHz)"},
    {"sflow_host_virt_cpus", T::gauge, S::host, "CPUs the hypervisor has for guests.",
     "virt_node.vnode_cpus"},
    {"sflow_host_virt_memory_bytes", T::gauge, S::host, "Memory the hypervisor has for guests.",
     "virt_node.vnode_memory"},
    {"sflow_host_virt_memory_free_bytes", T::gauge, S::host, "Of it, free.",
     "virt_node.vnode_memory_free"},
    {"sflow_host_virt_domains", T::gauge, S::host, "Domains (VMs) on the hypervisor.",
     "virt_node.vnode_num_domains"},

    // its VMs: labels host_ip (the hypervisor it runs on now), domain, uuid
    {"libvirt_domain_info_vstate", T::gauge, S::vm,
     "Domain state: 0 nostate, 1 running, 2 blocked, 3 paused, 4 shutdown, 5 shutoff, 6 crashed, "
     "7 pmsuspended.",
     "virt_cpu.vcpu_state"},
    {"libvirt_domain_info_cpu_time_seconds_total", T::counter, S::vm, "CPU time used by the domain.",
     "virt_cpu.vcpu_cpu_time (ms)"},
    {"libvirt_domain_info_virtual_cpus", T::gauge, S::vm, "Virtual CPUs.", "virt_cpu.vcpu_cpu_count"},
    {"libvirt_domain_info_memory_usage_bytes", T::gauge, S::vm, "Memory used by the domain.",
     "virt_memory.vmem_memory"},
    {"libvirt_domain_info_maximum_memory_bytes", T::gauge, S::vm, "Memory the domain may use.",
     "virt_memory.vmem_max_memory"},
    {"libvirt_domain_block_stats_capacity_bytes", T::gauge, S::vm, "Disk capacity, all disks.",
     "virt_disk_io.vdsk_capacity"},
    {"libvirt_domain_block_stats_allocation_bytes", T::gauge, S::vm, "Disk space allocated.",
     "virt_disk_io.vdsk_allocation"},
    {"libvirt_domain_block_stats_available_bytes", T::gauge, S::vm, "Disk space available.",
     "virt_disk_io.vdsk_available"},
    {"libvirt_domain_block_stats_read_requests_total", T::counter, S::vm, "Disk read requests.",
     "virt_disk_io.vdsk_rd_req"},
    {"libvirt_domain_block_stats_read_bytes_total", T::counter, S::vm, "Bytes read.",
     "virt_disk_io.vdsk_rd_bytes"},
    {"libvirt_domain_block_stats_write_requests_total", T::counter, S::vm, "Disk write requests.",
     "virt_disk_io.vdsk_wr_req"},
    {"libvirt_domain_block_stats_write_bytes_total", T::counter, S::vm, "Bytes written.",
     "virt_disk_io.vdsk_wr_bytes"},
    {"libvirt_domain_block_stats_errors_total", T::counter, S::vm, "Disk errors.",
     "virt_disk_io.vdsk_errs"},
    {"libvirt_domain_interface_stats_receive_bytes_total", T::counter, S::vm,
     "Bytes received, all interfaces.", "virt_net_io.vnio_bytes_in"},
    {"libvirt_domain_interface_stats_receive_packets_total", T::counter, S::vm, "Packets received.",
     "virt_net_io.vnio_packets_in"},
    {"libvirt_domain_interface_stats_receive_errors_total", T::counter, S::vm, "Receive errors.",
     "virt_net_io.vnio_errs_in"},
    {"libvirt_domain_interface_stats_receive_drops_total", T::counter, S::vm,
     "Received packets dropped.", "virt_net_io.vnio_drops_in"},
    {"libvirt_domain_interface_stats_transmit_bytes_total", T::counter, S::vm, "Bytes sent.",
     "virt_net_io.vnio_bytes_out"},
    {"libvirt_domain_interface_stats_transmit_packets_total", T::counter, S::vm, "Packets sent.",
     "virt_net_io.vnio_packets_out"},
    {"libvirt_domain_interface_stats_transmit_errors_total", T::counter, S::vm, "Transmit errors.",
     "virt_net_io.vnio_errs_out"},
    {"libvirt_domain_interface_stats_transmit_drops_total", T::counter, S::vm,
     "Packets dropped on sending.", "virt_net_io.vnio_drops_out"},
    };
    f.insert(f.end(), rest.begin(), rest.end());
    return f;
}

const std::vector<MetricFamily> kFamilies = all_families();

const MetricFamily& family(std::string_view name) {
    static const auto* index = [] {
        auto* m = new std::unordered_map<std::string_view, const MetricFamily*>;
        for (const MetricFamily& f : kFamilies) (*m)[f.name] = &f;
        return m;
    }();
    auto it = index->find(name);
    if (it == index->end()) throw std::logic_error("metric family not in the table: " + std::string(name));
    return *it->second;
}

// ---- writing -------------------------------------------------------------------------------

void append_number(std::string& out, double v) {
    if (v >= 0 && v < 9007199254740992.0 && v == std::floor(v)) {
        char buf[24];
        auto r = std::to_chars(buf, buf + sizeof buf, uint64_t(v));
        out.append(buf, size_t(r.ptr - buf));
    } else if (std::isnan(v)) {
        out.append("NaN");
    } else if (std::isinf(v)) {
        out.append(v > 0 ? "+Inf" : "-Inf");
    } else {
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, v);
        out.append(buf, size_t(r.ptr - buf));
    }
}

// A float as the shortest decimal that reads back as it (0.79f is 0.79, not 0.790000021...).
double from_float(float f) {
    if (!std::isfinite(f)) return double(f);
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, f);
    double d = 0;
    std::from_chars(buf, r.ptr, d);
    return d;
}

// name="value", escaped for the exposition; invalid UTF-8 as U+FFFD.
void append_label(std::string& out, const char* name, std::string_view value) {
    if (out.size() && out.back() != '{') out.push_back(',');
    out.append(name);
    out.append("=\"");
    std::string valid;
    append_valid_utf8(valid, value);
    for (char c : valid) {
        if (c == '\\') out.append("\\\\");
        else if (c == '"') out.append("\\\"");
        else if (c == '\n') out.append("\\n");
        else out.push_back(c);
    }
    out.push_back('"');
}

// The exposition being written: families in table order, HELP and TYPE before each (only for
// a family with samples), counters named without _total in OpenMetrics' TYPE lines.
class Expo {
public:
    explicit Expo(bool openmetrics) : om_(openmetrics) {}
    // Starts family `name`; its samples follow with sample().
    void begin(std::string_view name) {
        cur_ = &family(name);
        pending_header_ = true;
    }
    // One sample of the current family: suffix ("" or _bucket, _sum, _count), labels without
    // braces ("" for none).
    void sample(const char* suffix, std::string_view labels, double v) {
        if (pending_header_) header();
        out_.append(cur_->name);
        out_.append(suffix);
        if (!labels.empty()) {
            out_.push_back('{');
            out_.append(labels);
            out_.push_back('}');
        }
        out_.push_back(' ');
        append_number(out_, v);
        out_.push_back('\n');
    }
    std::string finish() {
        if (om_) out_.append("# EOF\n");
        return std::move(out_);
    }

private:
    void header() {
        pending_header_ = false;
        std::string_view name = cur_->name;
        if (om_ && cur_->type == T::counter && name.size() > 6 &&
            name.substr(name.size() - 6) == "_total")
            name.remove_suffix(6);
        const char* type = cur_->type == T::counter ? "counter" : cur_->type == T::gauge ? "gauge" : "histogram";
        out_.append("# HELP ").append(name).push_back(' ');
        out_.append(cur_->help).push_back('\n');
        out_.append("# TYPE ").append(name).push_back(' ');
        out_.append(type).push_back('\n');
    }
    bool om_;
    std::string out_;
    const MetricFamily* cur_ = nullptr;
    bool pending_header_ = false;
};

struct Reasons {
    Expo& e;
    std::string& labels;
    void operator()(const char* reason, const Counter& c, const char*) {
        labels.clear();
        append_label(labels, "reason", reason);
        e.sample("", labels, double(c.load(std::memory_order_relaxed)));
    }
};

// Writes Stats' counters (stats.h) by their field list.
struct StatsWriter {
    Expo& e;
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

// ---- host and VM rows ----------------------------------------------------------------------

using Value = std::optional<double>;

double num(uint32_t v) { return v; }
double num(uint64_t v) { return double(v); }
double num(float v) { return from_float(v); }

// The value of member M of record R in the sample, times Mul / Div.
template <class R, auto M, int Mul = 1, int Div = 1>
Value field(const CounterSample& s) {
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

struct Row {
    const char* family;
    const char* labels;  // extra labels, e.g. mode="user"; "" for none
    Value (*value)(const CounterSample&);
    void (*more_labels)(const CounterSample&, std::string&) = nullptr;
};

// One row per series an entity can have, grouped by family in the table's order.
const std::vector<Row> kRows = {
    {"node_uname_info", "", one_if_descr, uname_labels},
    {"node_load1", "", field<HostCpu, &HostCpu::cpu_load_one>},
    {"node_load5", "", field<HostCpu, &HostCpu::cpu_load_five>},
    {"node_load15", "", field<HostCpu, &HostCpu::cpu_load_fifteen>},
    {"node_procs_running", "", field<HostCpu, &HostCpu::cpu_proc_run>},
    {"sflow_host_processes", "", field<HostCpu, &HostCpu::cpu_proc_total>},
    {"sflow_host_cpus", "", field<HostCpu, &HostCpu::cpu_num>},
    {"sflow_host_cpu_speed_hertz", "", field<HostCpu, &HostCpu::cpu_speed, 1000000>},
    {"sflow_host_uptime_seconds", "", field<HostCpu, &HostCpu::cpu_uptime>},
    {"node_cpu_seconds_total", "mode=\"user\"", field<HostCpu, &HostCpu::cpu_user, 1, 1000>},
    {"node_cpu_seconds_total", "mode=\"nice\"", field<HostCpu, &HostCpu::cpu_nice, 1, 1000>},
    {"node_cpu_seconds_total", "mode=\"system\"", field<HostCpu, &HostCpu::cpu_system, 1, 1000>},
    {"node_cpu_seconds_total", "mode=\"idle\"", field<HostCpu, &HostCpu::cpu_idle, 1, 1000>},
    {"node_cpu_seconds_total", "mode=\"iowait\"", field<HostCpu, &HostCpu::cpu_waiting_io, 1, 1000>},
    {"node_cpu_seconds_total", "mode=\"irq\"", field<HostCpu, &HostCpu::cpu_intr, 1, 1000>},
    {"node_cpu_seconds_total", "mode=\"softirq\"", field<HostCpu, &HostCpu::cpu_sintr, 1, 1000>},
    {"node_cpu_seconds_total", "mode=\"steal\"", field<HostCpu, &HostCpu::cpu_steal, 1, 1000>},
    {"node_cpu_guest_seconds_total", "mode=\"user\"", field<HostCpu, &HostCpu::cpu_guest, 1, 1000>},
    {"node_cpu_guest_seconds_total", "mode=\"nice\"", field<HostCpu, &HostCpu::cpu_guest_nice, 1, 1000>},
    {"node_intr_total", "", field<HostCpu, &HostCpu::cpu_interrupts>},
    {"node_context_switches_total", "", field<HostCpu, &HostCpu::cpu_contexts>},
    {"node_memory_MemTotal_bytes", "", field<HostMemory, &HostMemory::mem_total>},
    {"node_memory_MemFree_bytes", "", field<HostMemory, &HostMemory::mem_free>},
    {"node_memory_Shmem_bytes", "", field<HostMemory, &HostMemory::mem_shared>},
    {"node_memory_Buffers_bytes", "", field<HostMemory, &HostMemory::mem_buffers>},
    {"node_memory_Cached_bytes", "", field<HostMemory, &HostMemory::mem_cached>},
    {"node_memory_SwapTotal_bytes", "", field<HostMemory, &HostMemory::swap_total>},
    {"node_memory_SwapFree_bytes", "", field<HostMemory, &HostMemory::swap_free>},
    {"sflow_host_pages_in_total", "", field<HostMemory, &HostMemory::page_in>},
    {"sflow_host_pages_out_total", "", field<HostMemory, &HostMemory::page_out>},
    {"sflow_host_swap_in_total", "", field<HostMemory, &HostMemory::swap_in>},
    {"sflow_host_swap_out_total", "", field<HostMemory, &HostMemory::swap_out>},
    {"sflow_host_disk_total_bytes", "", field<HostDiskIo, &HostDiskIo::disk_total>},
    {"sflow_host_disk_free_bytes", "", field<HostDiskIo, &HostDiskIo::disk_free>},
    {"sflow_host_disk_partition_max_used_ratio", "", part_max_used},
    {"node_disk_reads_completed_total", "", field<HostDiskIo, &HostDiskIo::reads>},
    {"node_disk_read_bytes_total", "", field<HostDiskIo, &HostDiskIo::bytes_read>},
    {"node_disk_read_time_seconds_total", "", field<HostDiskIo, &HostDiskIo::read_time, 1, 1000>},
    {"node_disk_writes_completed_total", "", field<HostDiskIo, &HostDiskIo::writes>},
    {"node_disk_written_bytes_total", "", field<HostDiskIo, &HostDiskIo::bytes_written>},
    {"node_disk_write_time_seconds_total", "", field<HostDiskIo, &HostDiskIo::write_time, 1, 1000>},
    {"node_network_receive_bytes_total", "", field<HostNetIo, &HostNetIo::bytes_in>},
    {"node_network_receive_packets_total", "", field<HostNetIo, &HostNetIo::packets_in>},
    {"node_network_receive_errs_total", "", field<HostNetIo, &HostNetIo::errs_in>},
    {"node_network_receive_drop_total", "", field<HostNetIo, &HostNetIo::drops_in>},
    {"node_network_transmit_bytes_total", "", field<HostNetIo, &HostNetIo::bytes_out>},
    {"node_network_transmit_packets_total", "", field<HostNetIo, &HostNetIo::packets_out>},
    {"node_network_transmit_errs_total", "", field<HostNetIo, &HostNetIo::errs_out>},
    {"node_network_transmit_drop_total", "", field<HostNetIo, &HostNetIo::drops_out>},
    {"sflow_host_virt_cpu_speed_hertz", "", field<VirtNode, &VirtNode::vnode_mhz, 1000000>},
    {"sflow_host_virt_cpus", "", field<VirtNode, &VirtNode::vnode_cpus>},
    {"sflow_host_virt_memory_bytes", "", field<VirtNode, &VirtNode::vnode_memory>},
    {"sflow_host_virt_memory_free_bytes", "", field<VirtNode, &VirtNode::vnode_memory_free>},
    {"sflow_host_virt_domains", "", field<VirtNode, &VirtNode::vnode_num_domains>},
    {"libvirt_domain_info_vstate", "", field<VirtCpu, &VirtCpu::vcpu_state>},
    {"libvirt_domain_info_cpu_time_seconds_total", "", field<VirtCpu, &VirtCpu::vcpu_cpu_time, 1, 1000>},
    {"libvirt_domain_info_virtual_cpus", "", field<VirtCpu, &VirtCpu::vcpu_cpu_count>},
    {"libvirt_domain_info_memory_usage_bytes", "", field<VirtMemory, &VirtMemory::vmem_memory>},
    {"libvirt_domain_info_maximum_memory_bytes", "", field<VirtMemory, &VirtMemory::vmem_max_memory>},
    {"libvirt_domain_block_stats_capacity_bytes", "", field<VirtDiskIo, &VirtDiskIo::vdsk_capacity>},
    {"libvirt_domain_block_stats_allocation_bytes", "", field<VirtDiskIo, &VirtDiskIo::vdsk_allocation>},
    {"libvirt_domain_block_stats_available_bytes", "", field<VirtDiskIo, &VirtDiskIo::vdsk_available>},
    {"libvirt_domain_block_stats_read_requests_total", "", field<VirtDiskIo, &VirtDiskIo::vdsk_rd_req>},
    {"libvirt_domain_block_stats_read_bytes_total", "", field<VirtDiskIo, &VirtDiskIo::vdsk_rd_bytes>},
    {"libvirt_domain_block_stats_write_requests_total", "", field<VirtDiskIo, &VirtDiskIo::vdsk_wr_req>},
    {"libvirt_domain_block_stats_write_bytes_total", "", field<VirtDiskIo, &VirtDiskIo::vdsk_wr_bytes>},
    {"libvirt_domain_block_stats_errors_total", "", field<VirtDiskIo, &VirtDiskIo::vdsk_errs>},
    {"libvirt_domain_interface_stats_receive_bytes_total", "", field<VirtNetIo, &VirtNetIo::vnio_bytes_in>},
    {"libvirt_domain_interface_stats_receive_packets_total", "", field<VirtNetIo, &VirtNetIo::vnio_packets_in>},
    {"libvirt_domain_interface_stats_receive_errors_total", "", field<VirtNetIo, &VirtNetIo::vnio_errs_in>},
    {"libvirt_domain_interface_stats_receive_drops_total", "", field<VirtNetIo, &VirtNetIo::vnio_drops_in>},
    {"libvirt_domain_interface_stats_transmit_bytes_total", "", field<VirtNetIo, &VirtNetIo::vnio_bytes_out>},
    {"libvirt_domain_interface_stats_transmit_packets_total", "", field<VirtNetIo, &VirtNetIo::vnio_packets_out>},
    {"libvirt_domain_interface_stats_transmit_errors_total", "", field<VirtNetIo, &VirtNetIo::vnio_errs_out>},
    {"libvirt_domain_interface_stats_transmit_drops_total", "", field<VirtNetIo, &VirtNetIo::vnio_drops_out>},
};

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

// ---- the hypervisor index ------------------------------------------------------------------

struct HostEntry {
    std::string hostname;
    int64_t last_ms = 0;
    std::vector<std::string> vms;  // VM names whose newest sample came from this agent
};
using HostIndex = std::map<Address, HostEntry>;

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

const std::vector<MetricFamily>& metric_families() { return kFamilies; }

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

// ---- Exporter ------------------------------------------------------------------------------

struct Exporter::Impl {
    ExporterOptions opts;
    const Store& store;
    const Stats& stats;
    const RequestStats* requests;

    Impl(const ExporterOptions& o, const Store& st, const Stats& s, const RequestStats* r)
        : opts(o), store(st), stats(s), requests(r) {}

    mutable std::mutex mu;  // guards index, built_ms and rebuilding
    mutable std::shared_ptr<const HostIndex> index;
    mutable int64_t built_ms = 0;
    mutable bool rebuilding = false;

    HostIndex build() const {
        HostIndex fresh;
        for (const EntityInfo& e : store.entities(Entity::host)) {
            HostEntry& h = fresh[Address::from_raw(e.name)];
            std::string keep;
            h.hostname = std::string(host_descr(store, e, keep).hostname.value);
            h.last_ms = e.last.ts_ms;
        }
        for (const EntityInfo& e : store.entities(Entity::vm)) fresh[e.last.agent].vms.push_back(e.name);
        return fresh;
    }

    // The index, rebuilt when older than index_ms, or (at most once a second) when asked for
    // an agent it does not hold yet. One thread rebuilds; the others go on with the index
    // they have meanwhile (scrapes never wait for a rebuild but the very first).
    std::shared_ptr<const HostIndex> host_index(int64_t now, const Address* want = nullptr) const {
        {
            std::unique_lock<std::mutex> lock(mu);
            bool stale = !index || now - built_ms >= opts.index_ms || now < built_ms ||
                         (want && !index->count(*want) && now - built_ms >= 1000);
            if (!stale || (rebuilding && index)) return index;
            if (!rebuilding) {
                rebuilding = true;
                lock.unlock();
                std::shared_ptr<const HostIndex> fresh;
                try {
                    fresh = std::make_shared<const HostIndex>(build());
                } catch (...) {
                    std::lock_guard<std::mutex> again(mu);
                    rebuilding = false;
                    throw;
                }
                std::lock_guard<std::mutex> again(mu);
                index = std::move(fresh);
                built_ms = now;
                rebuilding = false;
                return index;
            }
        }
        // no index yet and another thread is building the first: build one of our own
        return std::make_shared<const HostIndex>(build());
    }
};

Exporter::Exporter(const ExporterOptions& opts, const Store& store, const Stats& stats,
                   const RequestStats* requests)
    : impl_(std::make_unique<Impl>(opts, store, stats, requests)) {
    for (const Row& r : kRows) family(r.family);  // every row's family is in the table
}

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
    const Stats& s = impl_->stats;
    Expo e(om);
    std::string labels;
    auto one = [&](const char* fam, double v) {
        e.begin(fam);
        e.sample("", "", v);
    };
    auto by = [&](const char* label, const char* value, double v) {
        labels.clear();
        append_label(labels, label, value);
        e.sample("", labels, v);
    };
    e.begin("sflow_monitor_build_info");
    labels.clear();
    append_label(labels, "version", kVersion);
    e.sample("", labels, 1);
    one("sflow_monitor_start_time_seconds", double(s.started_ms) / 1000.0);
    StatsWriter counters{e, labels};
    Stats::fields(s, counters);
    StoreStats st = impl_->store.stats();
    one("sflow_monitor_store_purged_for_space_total", double(st.purged_for_space));
    one("sflow_monitor_store_map_size_bytes", double(st.map_size));
    one("sflow_monitor_store_used_bytes", double(st.used_bytes));
    one("sflow_monitor_store_samples", double(st.samples));
    one("sflow_monitor_store_entities", double(st.entities));
    if (st.oldest_ms) one("sflow_monitor_store_oldest_sample_timestamp_seconds", double(st.oldest_ms) / 1000.0);

    // agents: heard since start (Stats) or stored (hosts in the store), within retention
    auto agents = s.agents_snapshot();
    std::map<Address, int64_t> last_seen;
    for (auto& [addr, a] : agents) last_seen[addr] = a.last_seen_ms;
    for (auto& [addr, h] : *impl_->host_index(now)) {
        int64_t& t = last_seen[addr];
        t = std::max(t, h.last_ms);
    }
    int64_t since = now - impl_->opts.retention_ms;
    e.begin("sflow_monitor_agent_last_seen_timestamp_seconds");
    for (auto& [addr, t] : last_seen)
        if (t >= since) by("agent", addr.text().c_str(), double(t) / 1000.0);
    e.begin("sflow_monitor_agent_datagrams_total");
    for (auto& [addr, a] : agents) by("agent", addr.text().c_str(), double(a.datagrams));
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
    if (impl_->requests) {
        auto snap = impl_->requests->snapshot();
        e.begin("sflow_monitor_api_requests_total");
        for (auto& m : snap) by("method", m.method.c_str(), double(m.requests));
        e.begin("sflow_monitor_api_errors_total");
        for (auto& m : snap) by("method", m.method.c_str(), double(m.errors));
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

std::string Exporter::target_metrics(const std::string& agent_ip, bool om, int64_t now) const {
    Expo e(om);
    auto addr = Address::parse(agent_ip);
    if (!addr) return e.finish();
    auto index = impl_->host_index(now, &*addr);
    struct Ent {
        bool host;
        std::string labels;
        Newest n;
        CounterSample s;
    };
    std::vector<Ent> ents;
    std::string ip = addr->text();
    const HostEntry* entry = nullptr;
    if (auto it = index->find(*addr); it != index->end()) entry = &it->second;
    Newest h = newest(impl_->store, Entity::host, addr->raw(), now);
    if (h.fresh) {
        Ent x{true, {}, std::move(h), {}};
        decode_records(x.n.raw, x.s);
        std::string hostname = entry ? entry->hostname : std::string();
        if (const HostDescr* d = x.s.find<HostDescr>()) hostname = std::string(d->hostname.value);
        append_label(x.labels, "host_ip", ip);
        append_label(x.labels, "hostname", hostname);
        ents.push_back(std::move(x));
    }
    if (entry)
        for (const std::string& vm : entry->vms) {
            Newest n = newest(impl_->store, Entity::vm, vm, now);
            if (!n.fresh || !(n.meta.agent == *addr)) continue;  // moved away since the index was built
            Ent x{false, {}, std::move(n), {}};
            decode_records(x.n.raw, x.s);
            const HostDescr* d = x.s.find<HostDescr>();
            append_label(x.labels, "host_ip", ip);
            append_label(x.labels, "domain", vm);
            append_label(x.labels, "uuid", d ? d->uuid.text() : std::string());
            ents.push_back(std::move(x));
        }
    std::string labels;
    const char* cur = nullptr;
    for (const Row& r : kRows) {
        if (!cur || std::strcmp(cur, r.family) != 0) {
            e.begin(r.family);
            cur = r.family;
        }
        bool host_row = family(r.family).scope == S::host;
        for (const Ent& x : ents) {
            if (x.host != host_row) continue;
            Value v = r.value(x.s);
            if (!v) continue;
            labels = x.labels;
            if (*r.labels) labels.append(",").append(r.labels);
            if (r.more_labels) r.more_labels(x.s, labels);
            e.sample("", labels, *v);
        }
    }
    return e.finish();
}

std::string Exporter::sd_targets(std::string_view host, int64_t now) const {
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
    for (auto& [addr, h] : *impl_->host_index(now)) {
        if (h.last_ms == 0) continue;  // VMs of a hypervisor never heard from itself
        std::string ip = addr.text();
        group(&ip, &h.hostname);
    }
    w.end_array();
    out.push_back('\n');
    return out;
}

}  // namespace sfm
