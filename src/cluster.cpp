// cluster.cpp — the answers an operator asks for: cluster.status, host.vms, virt.history.
// Built from each host's and VM's newest samples, held in memory (current.h); rates and
// utilisation from derive.h.
#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "sflow_monitor/derive.h"
#include "sflow_monitor/methods.h"
#include "sflow_monitor/sflow.h"

namespace sfm {

namespace {

constexpr int64_t kDefaultIntervalMs = 30000;  // hsflowd's default polling, until two samples show it
constexpr int kStaleIntervals = 3, kDownIntervals = 10;
constexpr size_t kHostJsonBytes = 512, kVmJsonBytes = 320;  // about, with a few VM names

const char* const kDomainStates[] = {"nostate", "running", "blocked", "paused",
                                     "shutdown", "shutoff", "crashed", "pmsuspended"};

double round2(double x) { return std::round(x * 100) / 100; }

// The held samples of an entry that are not after `now`: the entry's own, or, when `now` lies
// before one of them (a clock stepped back), the newest up to now from the store.
template <class S, size_t N>
const Held<S, N>& upto_now(const Store& st, Entity kind, const std::string& name, const Held<S, N>& held,
                           int64_t now, Held<S, N>& own) {
    if (held.size() == 0 || held[0].meta.ts_ms <= now) return held;
    st.scan(kind, name, -1, now,
            [&](const SampleMeta& m, std::string_view raw) { own.s[own.n++] = S::from(m, raw); }, N, true);
    return own;
}

// Newest and previous record of one type among held samples (newest first), with their metas.
template <class T>
struct Pair {
    const T* cur = nullptr;
    const T* prev = nullptr;
    const SampleMeta* cur_meta = nullptr;
    const SampleMeta* prev_meta = nullptr;
};
template <class T, class S, size_t N>
Pair<T> last_two(const Held<S, N>& held, std::optional<T> S::*field) {
    Pair<T> p;
    for (size_t i = 0; i < held.size(); ++i) {
        const auto& rec = held[i].*field;
        if (!rec) continue;
        if (!p.cur) {
            p.cur = &*rec;
            p.cur_meta = &held[i].meta;
        } else {
            p.prev = &*rec;
            p.prev_meta = &held[i].meta;
            break;
        }
    }
    return p;
}

// The observed polling interval: between the two newest samples, on the agent's clock (see
// interval_between), so that datagrams bunched by the network or a replay do not make a host
// look down.
template <class S, size_t N>
int64_t polling_interval(const Held<S, N>& s) {
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

template <class S, size_t N>
Presence presence(const Held<S, N>& s, int64_t now) {
    if (s.size() == 0) return Presence::down;
    int64_t interval = polling_interval(s);
    int64_t age = now - s[0].meta.ts_ms;
    if (age > kDownIntervals * interval) return Presence::down;
    if (age > kStaleIntervals * interval) return Presence::stale;
    return Presence::up;
}

struct Vm {
    const CurrentVm* e = nullptr;  // its name, uuid, host_ip and last_seen, as text (VmText)
    const char* state = "unknown";
    Presence presence = Presence::down;
    uint32_t vcpus = 0;
    uint64_t memory = 0, max_memory = 0;
    std::optional<double> cpu_pct;
};

Vm describe_vm(const Store& st, const CurrentVm& e, int64_t now) {
    Vm vm;
    vm.e = &e;
    Held<VmSample, kVmHeld> own;
    const auto& samples = upto_now(st, Entity::vm, e.name, e.held, now, own);
    vm.presence = presence(samples, now);
    auto cpu = last_two(samples, &VmSample::cpu);
    if (cpu.cur) {
        vm.vcpus = cpu.cur->vcpu_cpu_count;
        uint32_t s = cpu.cur->vcpu_state;
        vm.state = s < std::size(kDomainStates) ? kDomainStates[s] : "unknown";
        if (cpu.prev) {
            Interval iv = interval_between(*cpu.prev_meta, *cpu.cur_meta);
            if (!iv.reset) vm.cpu_pct = vcpu_util(*cpu.prev, *cpu.cur, iv.seconds);
        }
    }
    auto mem = last_two(samples, &VmSample::mem);
    if (mem.cur) {
        vm.memory = mem.cur->vmem_memory;
        vm.max_memory = mem.cur->vmem_max_memory;
    }
    return vm;
}

std::optional<double> rounded(std::optional<double> v) {  // two decimals, null when none
    return v ? std::optional<double>(round2(*v)) : std::nullopt;
}

void write_vm(JsonWriter& w, const Vm& vm) {
    w.sep();
    w.raw(vm.e->text->head);  // {"hostname":…,"uuid":…,"host_ip":…
    w.member("state", vm.state);
    w.member("presence", presence_name(vm.presence));
    w.member("vcpu_cpu_count", vm.vcpus);
    w.member("vcpu_util_pct", rounded(vm.cpu_pct));
    w.member("vmem_memory_bytes", vm.memory);
    w.member("vmem_max_memory_bytes", vm.max_memory);
    w.member("last_seen_ms", vm.e->last.ts_ms);
    w.end_object();
}

struct Host {
    const CurrentHost* e = nullptr;  // ip, last_seen
    std::string_view hostname;
    Presence presence = Presence::down;
    std::optional<uint32_t> uptime;  // seconds
    uint32_t cpus = 0;
    uint64_t mem_total = 0;
    std::optional<double> cpu_util, load_one, mem_used, part_max_used, bytes_in_per_s,
        bytes_out_per_s;
    std::vector<const Vm*> vms;  // on it now: not down, and its newest sample came from it
    uint64_t vcpus = 0, vm_max_memory = 0;  // of those VMs
};

Host describe_host(const Store& st, const CurrentHost& e, std::vector<const Vm*> vms, int64_t now) {
    Host h;
    h.e = &e;
    Held<HostSample, kHostHeld> own;
    const auto& samples = upto_now(st, Entity::host, e.name, e.held, now, own);
    h.presence = presence(samples, now);
    h.hostname = e.described();
    auto cpu = last_two(samples, &HostSample::cpu);
    if (cpu.cur) {
        h.uptime = cpu.cur->cpu_uptime;
        h.cpus = cpu.cur->cpu_num;
        h.load_one = cpu.cur->cpu_load_one;
        if (cpu.prev && !interval_between(*cpu.prev_meta, *cpu.cur_meta).reset)
            if (auto s = cpu_split(*cpu.prev, *cpu.cur)) h.cpu_util = s->util;
    }
    auto mem = last_two(samples, &HostSample::mem);
    if (mem.cur) h.mem_total = mem.cur->mem_total;
    if (mem.cur && h.mem_total) {
        const HostMemory& m = *mem.cur;
        double used = double(m.mem_total) - double(m.mem_free) - double(m.mem_buffers) - double(m.mem_cached);
        h.mem_used = 100.0 * std::max(0.0, used) / double(m.mem_total);
    }
    auto disk = last_two(samples, &HostSample::disk);
    if (disk.cur && disk.cur->part_max_used.value >= 0) h.part_max_used = disk.cur->part_max_used.value / 100.0;
    auto net = last_two(samples, &HostSample::net);
    if (net.prev) {
        Interval iv = interval_between(*net.prev_meta, *net.cur_meta);
        if (!iv.reset && iv.seconds > 0) {
            h.bytes_in_per_s = double(delta64(net.prev->bytes_in, net.cur->bytes_in)) / iv.seconds;
            h.bytes_out_per_s = double(delta64(net.prev->bytes_out, net.cur->bytes_out)) / iv.seconds;
        }
    }
    h.vms = std::move(vms);
    for (const Vm* vm : h.vms) {
        h.vcpus += vm->vcpus;
        h.vm_max_memory += vm->max_memory;
    }
    return h;
}

std::optional<double> ratio(double part, double whole) {
    return whole ? std::optional<double>(part / whole) : std::nullopt;
}

void write_host(JsonWriter& w, const Host& h) {
    w.sep();
    w.begin_object();
    w.member("host_ip", h.e->ip);
    w.member("hostname", h.hostname);
    w.member("presence", presence_name(h.presence));
    w.member("last_seen_ms", h.e->last.ts_ms);
    w.member("cpu_uptime_s", h.uptime);
    w.member("cpu_num", h.cpus);
    w.member("cpu_util_pct", rounded(h.cpu_util));
    w.member("cpu_load_one", rounded(h.load_one));
    w.member("mem_used_pct", rounded(h.mem_used));
    w.member("part_max_used_pct", rounded(h.part_max_used));
    w.member("bytes_in_per_s", rounded(h.bytes_in_per_s));
    w.member("bytes_out_per_s", rounded(h.bytes_out_per_s));
    w.key("vms");
    w.begin_array();
    for (const Vm* vm : h.vms) {
        w.sep();
        w.raw(vm->e->text->quoted_name);
    }
    w.end_array();
    w.member("vcpu_overcommit_ratio", rounded(ratio(double(h.vcpus), h.cpus)));
    w.member("mem_overcommit_ratio", rounded(ratio(double(h.vm_max_memory), double(h.mem_total))));
    w.end_object();
}

}  // namespace

namespace {

// cluster.status's optional filters (docs/api.md): which hosts, which states, whether VMs are listed.
struct Filter {
    std::optional<std::unordered_set<std::string>> hosts;   // host_ip texts
    std::optional<std::unordered_set<std::string>> states;  // presences and domain states
    bool include_vms = true;
    bool keeps(const std::string& ip, Presence p) const {
        return (!hosts || hosts->count(ip)) && (!states || states->count(presence_name(p)));
    }
    bool keeps(const Vm& vm) const {
        return (!hosts || hosts->count(vm.e->text->host_ip)) &&
               (!states || states->count(presence_name(vm.presence)) || states->count(vm.state));
    }
};

std::string quoted(const std::string& s) {  // for an error's reason: short, whatever was sent
    return "\"" + (s.size() > 64 ? s.substr(0, 64) + "…" : s) + "\"";
}

Filter filter_of(const Call& c, std::vector<Address>& agents) {
    Filter f;
    if (const auto* list = c.args.strs("hosts")) {
        f.hosts.emplace();
        for (const std::string& h : *list) {
            auto a = Address::parse(h);
            if (!a) throw invalid_param("hosts", "not an IP address: " + quoted(h));
            if (f.hosts->insert(a->text()).second) agents.push_back(*a);
        }
    }
    if (const auto* list = c.args.strs("state")) {
        f.states.emplace();
        for (const std::string& s : *list) {
            bool known = s == "up" || s == "stale" || s == "down" || s == "unknown" ||
                         std::find(std::begin(kDomainStates), std::end(kDomainStates), s) != std::end(kDomainStates);
            if (!known)
                throw invalid_param("state", "unknown state " + quoted(s) +
                                                 ": up, stale, down, or a VM's state (running, paused, shutoff, "
                                                 "crashed, blocked, shutdown, pmsuspended, nostate, unknown)");
            f.states->insert(s);
        }
    }
    f.include_vms = c.args.flag_or("include_vms", true);
    return f;
}

bool by_ip(const Current::HostPtr& a, const Current::HostPtr& b) { return a->ip < b->ip; }
bool by_name(const Current::VmPtr& a, const Current::VmPtr& b) { return a->name < b->name; }

}  // namespace

void cluster_status(const Call& c, JsonWriter& w) {
    const Current& cur = c.store.current();
    std::vector<Address> agents;
    Filter f = filter_of(c, agents);
    std::vector<Current::HostPtr> hosts;  // by host_ip
    std::vector<Current::VmPtr> vm_entries;  // by name
    if (f.hosts) {  // only those hosts, and the VMs whose newest sample came from one of them
        for (const Address& a : agents) {
            c.budget.check();
            if (auto h = cur.host(a)) hosts.push_back(std::move(h));
            auto on = cur.vms_on(a);
            vm_entries.insert(vm_entries.end(), on.begin(), on.end());
        }
        std::sort(hosts.begin(), hosts.end(), by_ip);
        std::sort(vm_entries.begin(), vm_entries.end(), by_name);
    } else {
        hosts = cur.hosts();
        vm_entries = cur.vms();
    }
    std::vector<Vm> vms;
    vms.reserve(vm_entries.size());
    for (const auto& e : vm_entries) {
        c.budget.check();
        vms.push_back(describe_vm(c.store, *e, c.now_ms));
    }
    // which VMs are on a host now: not down, and their newest sample came from it (by name)
    std::unordered_map<std::string_view, std::vector<const Vm*>> on_host;
    for (const Vm& vm : vms)
        if (vm.presence != Presence::down) on_host[vm.e->text->host_ip].push_back(&vm);
    struct Totals {
        uint64_t hosts = 0, up = 0, stale = 0, down = 0, cpus = 0, vcpus = 0, vms = 0, vms_running = 0,
                 mem_total = 0, vm_max_memory = 0;
    } t;
    // The reply grows by about this much: room for it at once, not by doubling and copying
    // megabytes (at most the reply limit, past which the call is refused anyway).
    size_t expect = hosts.size() * kHostJsonBytes + (f.include_vms ? vms.size() * kVmJsonBytes : 0);
    w.out().reserve(w.out().size() + std::min(expect, c.opts.reply_limit));
    w.begin_object();
    w.key("hosts");
    w.begin_array();
    for (const auto& e : hosts) {
        c.budget.check();
        auto it = on_host.find(e->ip);
        Host h = describe_host(c.store, *e, it == on_host.end() ? std::vector<const Vm*>() : std::move(it->second),
                               c.now_ms);
        if (!f.keeps(e->ip, h.presence)) continue;
        write_host(w, h);
        ++t.hosts;
        ++(h.presence == Presence::up ? t.up : h.presence == Presence::stale ? t.stale : t.down);
        if (h.presence != Presence::down) {
            t.cpus += h.cpus;
            t.mem_total += h.mem_total;
        }
    }
    w.end_array();
    if (f.include_vms) {
        w.key("vms");
        w.begin_array();
    }
    for (const Vm& vm : vms) {
        c.budget.check();
        if (!f.keeps(vm)) continue;
        if (f.include_vms) write_vm(w, vm);
        ++t.vms;
        if (vm.presence != Presence::down && std::string_view(vm.state) == "running") {
            ++t.vms_running;
            t.vcpus += vm.vcpus;
            t.vm_max_memory += vm.max_memory;
        }
    }
    if (f.include_vms) w.end_array();
    w.key("totals");
    w.begin_object();
    w.member("hosts", t.hosts);
    w.member("hosts_up", t.up);
    w.member("hosts_stale", t.stale);
    w.member("hosts_down", t.down);
    w.member("vms", t.vms);
    w.member("vms_running", t.vms_running);
    w.member("cpu_num", t.cpus);
    w.member("vcpu_cpu_count", t.vcpus);
    w.member("mem_total_bytes", t.mem_total);
    w.member("vmem_max_memory_bytes", t.vm_max_memory);
    w.member("vcpu_overcommit_ratio", rounded(ratio(double(t.vcpus), double(t.cpus))));
    w.member("mem_overcommit_ratio", rounded(ratio(double(t.vm_max_memory), double(t.mem_total))));
    w.end_object();
    w.member("timestamp", c.now_ms);
    w.end_object();
}

void host_vms(const Call& c, JsonWriter& w) {
    auto addr = Address::parse(*c.args.str("ip"));
    w.begin_array();
    if (addr)
        for (const auto& e : c.store.current().vms_on(*addr)) {
            c.budget.check();
            Vm vm = describe_vm(c.store, *e, c.now_ms);
            if (vm.presence != Presence::down) write_vm(w, vm);
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
        w.member("host_ip", s.host.text());
        w.member("from", s.first);
        w.member("to", s.last);
        w.member("samples", s.samples);
        w.end_object();
    }
    w.end_array();
}

}  // namespace sfm
