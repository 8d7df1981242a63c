// cluster.cpp — the answers an operator asks for: cluster.status, host.vms, virt.history.
// Built from each host's and VM's newest samples; rates and utilisation from derive.h.
#include <algorithm>
#include <cmath>
#include <map>

#include "sflow_monitor/derive.h"
#include "sflow_monitor/methods.h"
#include "sflow_monitor/sflow.h"

namespace sfm {

namespace {

constexpr int64_t kDefaultIntervalMs = 30000;  // hsflowd's default polling, until two samples show it
constexpr int kStaleIntervals = 3, kDownIntervals = 10;

const char* const kDomainStates[] = {"nostate", "running", "blocked", "paused",
                                     "shutdown", "shutoff", "crashed", "pmsuspended"};

double round2(double x) { return std::round(x * 100) / 100; }

struct Sample {
    SampleMeta meta;
    std::string raw;
};

// The newest n samples of an entity up to now, newest first.
std::vector<Sample> newest(const Store& st, Entity kind, const std::string& name, int64_t now, size_t n) {
    std::vector<Sample> out;
    st.scan(kind, name, -1, now,
            [&](const SampleMeta& m, std::string_view raw) { out.push_back({m, std::string(raw)}); }, n,
            true);
    return out;
}

// Newest and previous record of type T among samples (newest first), with their metas.
template <class T>
struct Pair {
    std::optional<T> cur, prev;
    SampleMeta cur_meta, prev_meta;
};
template <class T>
Pair<T> last_two(const std::vector<Sample>& samples) {
    Pair<T> p;
    for (const Sample& s : samples) {
        auto rec = find_record<T>(s.raw);
        if (!rec) continue;
        if (!p.cur) {
            p.cur = std::move(rec);
            p.cur_meta = s.meta;
        } else {
            p.prev = std::move(rec);
            p.prev_meta = s.meta;
            break;
        }
    }
    return p;
}

// The observed polling interval: between the two newest samples, on the agent's clock (see
// interval_between), so that datagrams bunched by the network or a replay do not make a host
// look down.
int64_t polling_interval(const std::vector<Sample>& s) {
    if (s.size() < 2) return kDefaultIntervalMs;
    Interval between = interval_between(s[1].meta, s[0].meta);
    int64_t iv = between.reset ? s[0].meta.ts_ms - s[1].meta.ts_ms : between.ms;  // no agent clock across a reset
    return iv > 0 ? iv : kDefaultIntervalMs;
}

enum class Presence { up, stale, down };

const char* presence_name(Presence p) {
    switch (p) {
        case Presence::up: return "up";
        case Presence::stale: return "stale";
        case Presence::down: return "down";
    }
    return "down";
}

Presence presence(const std::vector<Sample>& s, int64_t now) {
    if (s.empty()) return Presence::down;
    int64_t interval = polling_interval(s);
    int64_t age = now - s[0].meta.ts_ms;
    if (age > kDownIntervals * interval) return Presence::down;
    if (age > kStaleIntervals * interval) return Presence::stale;
    return Presence::up;
}

struct Vm {
    std::string name, uuid, host_ip, state = "unknown";
    Presence presence = Presence::down;
    int64_t last_seen = 0;
    uint32_t vcpus = 0;
    uint64_t memory = 0, max_memory = 0;
    std::optional<double> cpu_pct;
};

Vm describe_vm(const Store& st, const EntityInfo& e, int64_t now) {
    Vm vm;
    vm.name = e.name;
    auto samples = newest(st, Entity::vm, e.name, now, 2);
    vm.presence = presence(samples, now);
    vm.host_ip = e.last.agent.text();
    vm.last_seen = e.last.ts_ms;
    if (auto d = find_record<HostDescr>(e.records_raw)) vm.uuid = d->uuid.text();
    auto cpu = last_two<VirtCpu>(samples);
    if (cpu.cur) {
        vm.vcpus = cpu.cur->vcpu_cpu_count;
        uint32_t s = cpu.cur->vcpu_state;
        vm.state = s < std::size(kDomainStates) ? kDomainStates[s] : "unknown";
        if (cpu.prev) {
            Interval iv = interval_between(cpu.prev_meta, cpu.cur_meta);
            if (!iv.reset) vm.cpu_pct = vcpu_util(*cpu.prev, *cpu.cur, iv.seconds);
        }
    }
    auto mem = last_two<VirtMemory>(samples);
    if (mem.cur) {
        vm.memory = mem.cur->vmem_memory;
        vm.max_memory = mem.cur->vmem_max_memory;
    }
    return vm;
}

void write_opt(JsonWriter& w, const char* k, std::optional<double> v) {
    w.key(k);
    if (v) w.number(round2(*v));
    else w.null();
}

void write_vm(JsonWriter& w, const Vm& vm) {
    w.sep();
    w.begin_object();
    w.key("hostname");
    w.string(vm.name);
    w.key("uuid");
    w.string(vm.uuid);
    w.key("host_ip");
    w.string(vm.host_ip);
    w.key("state");
    w.string(vm.state);
    w.key("presence");
    w.string(presence_name(vm.presence));
    w.key("vcpu_cpu_count");
    w.number(vm.vcpus);
    write_opt(w, "vcpu_util_pct", vm.cpu_pct);
    w.key("vmem_memory_bytes");
    w.number(vm.memory);
    w.key("vmem_max_memory_bytes");
    w.number(vm.max_memory);
    w.key("last_seen_ms");
    w.number(vm.last_seen);
    w.end_object();
}

std::vector<Vm> all_vms(const Call& c) {
    std::vector<Vm> vms;
    for (auto& e : c.store.entities(Entity::vm)) {
        c.budget.check();
        vms.push_back(describe_vm(c.store, e, c.now_ms));
    }
    return vms;
}

// A VM counts as on a host while it is not down and its newest sample came from that host.
bool on_host(const Vm& vm, const std::string& ip) {
    return vm.host_ip == ip && vm.presence != Presence::down;
}

struct Host {
    std::string ip, hostname;
    Presence presence = Presence::down;
    int64_t last_seen = 0;
    std::optional<uint32_t> uptime;  // seconds
    uint32_t cpus = 0;
    uint64_t mem_total = 0;
    std::optional<double> cpu_util, load_one, mem_used, part_max_used, bytes_in_per_s,
        bytes_out_per_s;
    std::vector<std::string> vms;  // on it now (on_host)
    uint64_t vcpus = 0, vm_max_memory = 0;  // of those VMs
};

Host describe_host(const Store& st, const EntityInfo& e, std::string ip, const std::vector<Vm>& vms,
                   int64_t now) {
    Host h;
    h.ip = std::move(ip);
    auto samples = newest(st, Entity::host, e.name, now, 3);
    h.presence = presence(samples, now);
    std::string keep;
    h.hostname = host_descr(st, e, keep).hostname.value;
    h.last_seen = e.last.ts_ms;
    auto cpu = last_two<HostCpu>(samples);
    if (cpu.cur) {
        h.uptime = cpu.cur->cpu_uptime;
        h.cpus = cpu.cur->cpu_num;
        h.load_one = cpu.cur->cpu_load_one;
        if (cpu.prev && !interval_between(cpu.prev_meta, cpu.cur_meta).reset)
            if (auto s = cpu_split(*cpu.prev, *cpu.cur)) h.cpu_util = s->util;
    }
    auto mem = last_two<HostMemory>(samples);
    if (mem.cur) h.mem_total = mem.cur->mem_total;
    if (mem.cur && h.mem_total) {
        const HostMemory& m = *mem.cur;
        double used = double(m.mem_total) - double(m.mem_free) - double(m.mem_buffers) - double(m.mem_cached);
        h.mem_used = 100.0 * std::max(0.0, used) / double(m.mem_total);
    }
    auto disk = last_two<HostDiskIo>(samples);
    if (disk.cur && disk.cur->part_max_used.value >= 0) h.part_max_used = disk.cur->part_max_used.value / 100.0;
    auto net = last_two<HostNetIo>(samples);
    if (net.prev) {
        Interval iv = interval_between(net.prev_meta, net.cur_meta);
        if (!iv.reset && iv.seconds > 0) {
            h.bytes_in_per_s = double(delta64(net.prev->bytes_in, net.cur->bytes_in)) / iv.seconds;
            h.bytes_out_per_s = double(delta64(net.prev->bytes_out, net.cur->bytes_out)) / iv.seconds;
        }
    }
    for (const Vm& vm : vms)
        if (on_host(vm, h.ip)) {
            h.vms.push_back(vm.name);
            h.vcpus += vm.vcpus;
            h.vm_max_memory += vm.max_memory;
        }
    return h;
}

std::optional<double> ratio(double part, double whole) {
    return whole ? std::optional<double>(part / whole) : std::nullopt;
}

void write_host(JsonWriter& w, const Host& h) {
    w.sep();
    w.begin_object();
    w.key("host_ip");
    w.string(h.ip);
    w.key("hostname");
    w.string(h.hostname);
    w.key("presence");
    w.string(presence_name(h.presence));
    w.key("last_seen_ms");
    w.number(h.last_seen);
    w.key("cpu_uptime_s");
    if (h.uptime) w.number(*h.uptime); else w.null();
    w.key("cpu_num");
    w.number(h.cpus);
    write_opt(w, "cpu_util_pct", h.cpu_util);
    write_opt(w, "cpu_load_one", h.load_one);
    write_opt(w, "mem_used_pct", h.mem_used);
    write_opt(w, "part_max_used_pct", h.part_max_used);
    write_opt(w, "bytes_in_per_s", h.bytes_in_per_s);
    write_opt(w, "bytes_out_per_s", h.bytes_out_per_s);
    w.key("vms");
    w.begin_array();
    for (const std::string& name : h.vms) {
        w.sep();
        w.string(name);
    }
    w.end_array();
    write_opt(w, "vcpu_overcommit_ratio", ratio(double(h.vcpus), h.cpus));
    write_opt(w, "mem_overcommit_ratio", ratio(double(h.vm_max_memory), double(h.mem_total)));
    w.end_object();
}

}  // namespace

void cluster_status(const Call& c, JsonWriter& w) {
    std::vector<Vm> vms = all_vms(c);
    struct Totals {
        uint64_t hosts = 0, up = 0, stale = 0, down = 0, cpus = 0, vcpus = 0, vms = 0, vms_running = 0,
                 mem_total = 0, vm_max_memory = 0;
    } t;
    w.begin_object();
    w.key("hosts");
    w.begin_array();
    auto hosts = c.store.entities(Entity::host);
    std::vector<std::pair<std::string, const EntityInfo*>> order;
    for (auto& e : hosts) order.emplace_back(Address::from_raw(e.name).text(), &e);
    std::sort(order.begin(), order.end(), [](auto& a, auto& b) { return a.first < b.first; });
    for (auto& [ip, e] : order) {
        c.budget.check();
        Host h = describe_host(c.store, *e, ip, vms, c.now_ms);
        write_host(w, h);
        ++t.hosts;
        ++(h.presence == Presence::up ? t.up : h.presence == Presence::stale ? t.stale : t.down);
        if (h.presence != Presence::down) {
            t.cpus += h.cpus;
            t.mem_total += h.mem_total;
        }
    }
    w.end_array();
    w.key("vms");
    w.begin_array();
    for (const Vm& vm : vms) {
        c.budget.check();
        write_vm(w, vm);
        ++t.vms;
        if (vm.presence != Presence::down && vm.state == "running") {
            ++t.vms_running;
            t.vcpus += vm.vcpus;
            t.vm_max_memory += vm.max_memory;
        }
    }
    w.end_array();
    w.key("totals");
    w.begin_object();
    auto n = [&](const char* k, uint64_t v) { w.key(k); w.number(v); };
    n("hosts", t.hosts);
    n("hosts_up", t.up);
    n("hosts_stale", t.stale);
    n("hosts_down", t.down);
    n("vms", t.vms);
    n("vms_running", t.vms_running);
    n("cpu_num", t.cpus);
    n("vcpu_cpu_count", t.vcpus);
    n("mem_total_bytes", t.mem_total);
    n("vmem_max_memory_bytes", t.vm_max_memory);
    write_opt(w, "vcpu_overcommit_ratio", ratio(double(t.vcpus), double(t.cpus)));
    write_opt(w, "mem_overcommit_ratio", ratio(double(t.vm_max_memory), double(t.mem_total)));
    w.end_object();
    w.key("timestamp");
    w.number(c.now_ms);
    w.end_object();
}

void host_vms(const Call& c, JsonWriter& w) {
    auto addr = Address::parse(*c.args.str("ip"));
    w.begin_array();
    if (addr) {
        std::string ip = addr->text();
        for (const Vm& vm : all_vms(c))
            if (on_host(vm, ip)) write_vm(w, vm);
    }
    w.end_array();
}

void virt_history(const Call& c, JsonWriter& w) {
    int64_t to = c.args.num("to").value_or(c.now_ms);
    int64_t from = c.args.num("from").value_or(to - c.opts.max_span_ms);
    if (from > to) throw invalid_param("from", "after to");
    if (to - from > c.opts.max_span_ms)
        throw invalid_param("to", "span over the maximum of " + std::to_string(c.opts.max_span_ms) + " ms");
    struct Stay {
        Address host;
        int64_t first = 0, last = 0;
        uint64_t samples = 0;
    };
    std::vector<Stay> stays;
    c.store.scan(Entity::vm, *c.args.str("hostname"), from - 1, to,
                 [&](const SampleMeta& m, std::string_view) {
                     c.budget.check();
                     if (stays.empty() || !(stays.back().host == m.agent))
                         stays.push_back({m.agent, m.ts_ms, m.ts_ms, 0});
                     stays.back().last = m.ts_ms;
                     ++stays.back().samples;
                 });
    w.begin_array();
    for (const Stay& s : stays) {
        w.sep();
        w.begin_object();
        w.key("host_ip");
        w.string(s.host.text());
        w.key("from");
        w.number(s.first);
        w.key("to");
        w.number(s.last);
        w.key("samples");
        w.number(s.samples);
        w.end_object();
    }
    w.end_array();
}

}  // namespace sfm
