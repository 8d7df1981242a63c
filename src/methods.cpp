// methods.cpp — the API methods of ../shared/spec/api.md (and the additions in docs/api.md),
// one table row each. Series methods are one template over the record type they return.
#include "sflow_monitor/methods.h"

#include <algorithm>

#include "sflow_monitor/derive.h"
#include "sflow_monitor/openrpc.h"
#include "sflow_monitor/sflow.h"
#include "sflow_monitor/stepped.h"

namespace sfm {

RpcError invalid_param(const std::string& param, const std::string& reason) {
    std::string data;
    JsonWriter w(data);
    w.begin_object();
    w.member("param", param);
    w.member("reason", reason);
    w.end_object();
    return RpcError(-32602, "Invalid params", data);
}

const std::string* Args::str(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : std::get_if<std::string>(&it->second);
}

std::optional<int64_t> Args::num(const std::string& name) const {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    if (auto* p = std::get_if<int64_t>(&it->second)) return *p;
    return std::nullopt;
}

bool Args::flag(const std::string& name) const { return flag_or(name, false); }

bool Args::flag_or(const std::string& name, bool absent) const {
    auto it = values.find(name);
    if (it == values.end()) return absent;
    auto* p = std::get_if<bool>(&it->second);
    return p && *p;
}

const std::vector<std::string>* Args::strs(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : std::get_if<std::vector<std::string>>(&it->second);
}

namespace {

// ---- the results' JSON Schemas (openrpc.h writes them) ---------------------------------

const char* const kHostKeys[] = {"host_ip", "timestamp", nullptr};
const char* const kVmKeys[] = {"host_ip", "timestamp", "hostname", nullptr};
const char* const kHostDescrKeys[] = {"host_ip", nullptr};
const char* const kVmDescrKeys[] = {"host_ip", "hostname", nullptr};

template <class T>
void host_series_schema(JsonWriter& w) { object_schema(w, kHostKeys, record_properties<T>); }
template <class T>
void vm_series_schema(JsonWriter& w) { object_schema(w, kVmKeys, record_properties<T>); }
void host_description_schema(JsonWriter& w) {
    object_schema(w, kHostDescrKeys, record_properties<HostDescr>);
}
void no_properties(JsonWriter&) {}
void vm_description_schema(JsonWriter& w) { object_schema(w, kVmDescrKeys, no_properties); }

// ---- series ------------------------------------------------------------------------------

struct Window {
    int64_t after, upto;  // after < t <= upto
    size_t limit = SIZE_MAX;
    int64_t step = 0;  // ms; 0: every sample
};

// A stepped query may cover the whole retention, in at most this many steps.
constexpr int64_t kMaxSteps = 2000;

int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

Window window(const Call& c) {
    auto ts = c.args.num("timestamp");
    auto from = c.args.num("from"), to = c.args.num("to");
    auto step = c.args.num("step");
    Window w{};
    if (from || to) {
        if (ts) throw invalid_param("timestamp", "use either timestamp or from/to");
        int64_t upto = to ? *to : c.now_ms;
        int64_t start = from ? *from : upto - c.opts.window_ms + 1;
        if (start > upto) throw invalid_param("from", "after to");
        if (!step && upto - start > c.opts.max_span_ms)  // a stepped query is bounded by its steps
            throw invalid_param("to", "span over the maximum of " + std::to_string(c.opts.max_span_ms) + " ms");
        w = {start - 1, upto};
    } else {
        int64_t t = ts ? *ts : c.now_ms;
        w = {t - c.opts.window_ms, t};
    }
    if (auto l = c.args.num("limit")) w.limit = size_t(*l);
    if (step) {
        int64_t steps = ceil_div(w.upto, *step) - floor_div(w.after, *step);
        if (steps > kMaxSteps)
            throw invalid_param("step", std::to_string(steps) + " steps in the range: at most " +
                                            std::to_string(kMaxSteps));
        w.step = *step;
    }
    return w;
}

std::string host_key(const Call& c) {
    auto addr = Address::parse(*c.args.str("ip"));
    return addr ? std::string(addr->raw()) : std::string();  // unparseable: unknown, []
}

// One series method: the records of type T of one host (Entity::host) or VM in the window,
// oldest first; with "derive", each record after the first also gets its rates. With "step",
// one record per non-empty step (docs/api.md).
template <Entity kind, class T>
void series(const Call& c, JsonWriter& w) {
    Window win = window(c);
    bool derive = c.args.flag("derive");
    std::string name, ip;
    if (kind == Entity::host) {
        name = host_key(c);
        ip = Address::from_raw(name).text();
    } else {
        name = *c.args.str("hostname");
    }
    // Each record starts with the same members: written (and escaped) once per request, and
    // again for a VM only when its host_ip changes (a migration).
    std::string lead, vm_name;  // "host_ip":"…","timestamp":   ,"hostname":"…"
    Address lead_agent;
    auto make_lead = [&](const std::string& host_ip) {
        lead.clear();
        JsonWriter l(lead);
        l.member("host_ip", host_ip);
        l.key("timestamp");
    };
    if (kind == Entity::host) {
        make_lead(ip);
    } else {
        JsonWriter n(vm_name);
        n.sep();  // as after a member: key() starts with the comma
        n.member("hostname", name);
    }
    // opens a record and writes its leading members and its fields
    auto begin_record = [&](const SampleMeta& m, const T& rec) {
        if (kind == Entity::vm && (lead.empty() || !(m.agent == lead_agent))) {
            make_lead(m.agent.text());
            lead_agent = m.agent;
        }
        w.sep();
        w.begin_object();
        w.sep();
        w.raw(lead);
        w.number(m.ts_ms);
        w.raw(vm_name);
        w.api_fields(rec);
    };
    w.begin_array();
    if (name.empty()) {
    } else if (!win.step) {
        std::optional<std::pair<T, SampleMeta>> prev;
        c.store.scan(kind, name, win.after, win.upto,
                     [&](const SampleMeta& m, std::string_view raw) {
                         c.budget.check();
                         auto rec = find_record<T>(raw);
                         if (!rec) return;
                         begin_record(m, *rec);
                         if (derive) {
                             if (prev) write_derived(w, prev->first, prev->second, *rec, m);
                             prev.emplace(std::move(*rec), m);
                         }
                         w.end_object();
                     },
                     win.limit);
    } else {
        stepped_series<T>(c, {kind, name, win.after, win.upto, win.step, win.limit, derive}, w, begin_record);
    }
    w.end_array();
}

// ---- descriptions ------------------------------------------------------------------------

void host_description(const Call& c, JsonWriter& w) {
    w.begin_array();
    for (const auto& e : c.store.current().hosts()) {  // sorted by host_ip
        c.budget.check();
        if (e->has_descr && e->descr_newer < kDescrLookback) {
            w.sep();
            w.raw(*e->description);  // rendered by write_host_description when it changed
        } else {
            write_host_description(w, e->ip, HostDescr{});
        }
    }
    w.end_array();
}

void vm_description(const Call& c, JsonWriter& w) {
    // sorted by hostname bytes; rendered once per change of any VM's agent or uuid (current.h)
    auto list = c.store.current().vm_descriptions();
    c.budget.check();
    w.begin_array();
    w.raw(*list);
    w.end_array();
}

// ---- the collector itself ----------------------------------------------------------------

// The JSON visitor over Stats::fields: each counter as "name":value, a group as an object.
struct StatsJson {
    JsonWriter& w;
    void operator()(const char* k, const Counter& v, const char* /*help*/) { w.member(k, uint64_t(v)); }
    template <class G>
    void group(const char* k, const G& g) {
        w.key(k);
        w.begin_object();
        G::fields(g, *this);
        w.end_object();
    }
};

void collector_stats(const Call& c, JsonWriter& w) {
    const Stats& s = c.stats;
    w.begin_object();
    w.member("version", kVersion);
    w.member("uptime_ms", c.now_ms - s.started_ms);
    StatsJson counters{w};
    Stats::fields(s, counters);
    StoreStats st = c.store.stats();
    w.key("store");
    w.begin_object();
    w.member("map_size_bytes", st.map_size);
    w.member("used_bytes", st.used_bytes);
    w.member("map_used_pct", st.map_size ? 100.0 * double(st.used_bytes) / double(st.map_size) : 0.0);
    w.member("samples", st.samples);
    w.member("entities", st.entities);
    w.member("oldest_ms", uint64_t(st.oldest_ms));
    w.member("purged_for_space", st.purged_for_space);
    w.member("compacted_samples", st.compacted_samples);
    w.member("compaction_runs", st.compaction_runs);
    w.member("last_compaction_ms", st.last_compaction_ms ? std::optional<uint64_t>(st.last_compaction_ms) : std::nullopt);
    w.member("last_compaction_duration_ms", uint64_t(st.last_compaction_duration_ms));
    // How long raw samples last at today's rate: the map's share below the size purge over
    // (bytes per sample × samples per day), and that or retention, whichever is shorter.
    std::optional<double> per_sample, per_day = s.stored_per_day(c.now_ms), map_days;
    if (st.samples) per_sample = double(st.used_bytes) / double(st.samples);
    if (per_sample && per_day && *per_day > 0) map_days = double(st.size_purge_at) / *per_sample / *per_day;
    auto rounded = [](std::optional<double> v, double unit) -> std::optional<double> {
        if (v) return double(int64_t(*v / unit + 0.5)) * unit;
        return v;
    };
    w.member("sample_size_bytes", rounded(per_sample, 1));
    w.member("samples_per_day", rounded(per_day, 1));
    w.member("raw_map_holds_days", rounded(map_days, 0.01));
    w.member("raw_held_days", rounded(map_days ? std::min(*map_days, double(st.retention_ms) / 86400000)
                                               : map_days, 0.01));
    // The roll-ups (docs/storage.md): chunks held per resolution (6 hours of 5-minute buckets, 14
    // days of 1-hour ones), and how many days back the oldest reaches, of either and of each (as
    // the last purge, once a minute, found it; null before it ran or with none).
    w.member("rollup_chunks_5m", st.rollup_chunks[0]);
    w.member("rollup_chunks_1h", st.rollup_chunks[1]);
    auto held_days = [&](int64_t oldest_ms) {
        return rounded(oldest_ms ? std::optional<double>(double(c.now_ms - oldest_ms) / 86400000) : std::nullopt, 0.01);
    };
    w.member("rollup_held_days", held_days(st.rollup_oldest_ms));
    // per resolution: the 5-minute ones are kept rollup-5m-retention, the 1-hour ones rollup-retention
    w.member("rollup_5m_held_days", held_days(st.rollup_oldest_res_ms[0]));
    w.member("rollup_1h_held_days", held_days(st.rollup_oldest_res_ms[1]));
    w.end_object();
    w.key("agents");
    w.begin_array();
    for (auto& [addr, a] : s.agents_snapshot()) {
        w.sep();
        w.begin_object();
        w.member("agent", addr.text());
        w.member("last_seen_ms", uint64_t(a.last_seen_ms));
        w.member("datagrams", a.datagrams);
        w.key("sub_agents");
        w.begin_array();
        for (auto& [id, sub] : a.sub_agents) {
            w.sep();
            w.begin_object();
            w.member("sub_agent_id", id);
            w.member("last_sequence", sub.last_sequence);
            w.member("lost_datagrams", sub.lost);
            w.member("sequence_resets", sub.resets);
            w.end_object();
        }
        w.end_array();
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

// ---- cost: which calls wait for a heavy-call slot (limits.h) -----------------------------

bool always(const Call&) { return true; }

// A series over an explicit from/to range longer than the window.
bool long_range(const Call& c) {
    auto from = c.args.num("from"), to = c.args.num("to");
    if (!from && !to) return false;
    int64_t upto = to ? *to : c.now_ms;
    return (from ? upto - *from : c.opts.window_ms) > c.opts.window_ms;
}

// virt.history: its range (max-span unless from/to narrow it) longer than the window.
bool history_range(const Call& c) {
    auto from = c.args.num("from"), to = c.args.num("to");
    int64_t upto = to ? *to : c.now_ms;
    return (from ? upto - *from : c.opts.max_span_ms) > c.opts.window_ms;
}

// ---- the table ---------------------------------------------------------------------------

const ParamSpec kIp{"ip", ParamType::string, true, "agent address of the host"};
const ParamSpec kHostname{"hostname", ParamType::string, true, "the VM's host_descr hostname"};
const ParamSpec kTimestamp{"timestamp", ParamType::time, false,
                           "end of the window, ms (default now): timestamp - window < t <= timestamp"};
const ParamSpec kFrom{"from", ParamType::time, false, "range start, ms, inclusive (instead of timestamp)"};
const ParamSpec kTo{"to", ParamType::time, false, "range end, ms, inclusive (default now)"};
const ParamSpec kLimit{"limit", ParamType::count, false, "at most this many records, oldest first"};
const ParamSpec kDerive{"derive", ParamType::flag, false,
                        "add per-interval rates and reset/gap flags to each record after the first"};
const ParamSpec kStep{"step", ParamType::duration, false,
                      "one record per step of this length (ms or e.g. \"5m\"), aligned on the epoch: "
                      "the step's last sample and how many it had; at most 2000 steps, no max-span"};

const ParamSpec kHosts{"hosts", ParamType::strings, false,
                       "only these hosts (agent addresses) and the VMs whose newest sample came from them"};
const ParamSpec kState{"state", ParamType::strings, false,
                       "only the hosts whose presence, and the VMs whose presence or state, is one of these "
                       "(up, stale, down; running, paused, shutoff, crashed, …)"};
const ParamSpec kIncludeVms{"include_vms", ParamType::flag, false,
                            "false: leave out the list of VMs (default true; totals still count them)"};

#define SFM_HOST_SERIES(name, T, summary) \
    {name, summary, {kIp, kTimestamp, kFrom, kTo, kLimit, kDerive, kStep}, series<Entity::host, T>, \
     host_series_schema<T>, long_range}
#define SFM_VM_SERIES(name, T, summary) \
    {name, summary, {kHostname, kTimestamp, kFrom, kTo, kLimit, kDerive, kStep}, series<Entity::vm, T>, \
     vm_series_schema<T>, long_range}

const std::vector<MethodSpec> kMethods = {
    {"host.description", "every physical host known, sorted by host_ip", {}, host_description,
     host_description_schema, always},
    SFM_HOST_SERIES("host.cpu", HostCpu, "a host's host_cpu records in the window"),
    SFM_HOST_SERIES("host.memory", HostMemory, "a host's host_memory records in the window"),
    SFM_HOST_SERIES("host.disk", HostDiskIo, "a host's host_disk_io records in the window"),
    SFM_HOST_SERIES("host.net", HostNetIo, "a host's host_net_io records in the window"),
    SFM_HOST_SERIES("host.node", VirtNode, "a hypervisor's virt_node records in the window"),
    {"virt.description", "every virtual machine known, sorted by hostname", {}, vm_description,
     vm_description_schema, always},
    SFM_VM_SERIES("virt.cpu", VirtCpu, "a VM's virt_cpu records in the window"),
    SFM_VM_SERIES("virt.memory", VirtMemory, "a VM's virt_memory records in the window"),
    SFM_VM_SERIES("virt.disk", VirtDiskIo, "a VM's virt_disk_io records in the window"),
    SFM_VM_SERIES("virt.net", VirtNetIo, "a VM's virt_net_io records in the window"),
    {"cluster.status",
     "the whole cluster now: every host (state, cpu, memory, disk, network, VMs, over-commit), "
     "every VM, and totals; optionally only some hosts, states, or no VM list",
     {kHosts, kState, kIncludeVms}, cluster_status, any_object_schema, always},
    {"host.vms", "the VMs on a host now", {kIp}, host_vms, any_array_schema, always},
    {"virt.history", "which hypervisors a VM ran on and when (live migration made visible)",
     {kHostname, kFrom, kTo}, virt_history, any_array_schema, history_range},
    {"collector.stats", "the collector's own counters, per-agent datagram accounting, store use", {},
     collector_stats, any_object_schema},
    {"rpc.discover", "this API as an OpenRPC document", {}, rpc_discover, any_object_schema},
};

#undef SFM_HOST_SERIES
#undef SFM_VM_SERIES

}  // namespace

const std::vector<MethodSpec>& method_table() { return kMethods; }

const MethodSpec* find_method(const std::string& name) {
    for (const MethodSpec& m : kMethods)
        if (name == m.name) return &m;
    return nullptr;
}

}  // namespace sfm
