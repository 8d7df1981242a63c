// derive.cpp — rates and utilisation between consecutive samples (see derive.h).
#include "sflow_monitor/derive.h"

#include <algorithm>
#include <iterator>
#include <string_view>
#include <type_traits>

namespace sfm {

Interval interval_between(const SampleMeta& p, const SampleMeta& c) {
    Interval iv;
    uint32_t seq_step = c.sample_sequence - p.sample_sequence;  // modular: the sequence wraps too
    bool uptime_wrapped = c.uptime < p.uptime && p.uptime > 0xF0000000u && seq_step == 1;
    iv.reset = !(c.agent == p.agent) || c.sub_agent_id != p.sub_agent_id ||
               c.source_index != p.source_index || seq_step == 0 || seq_step > (1u << 30) ||
               (c.uptime < p.uptime && !uptime_wrapped);
    iv.gap = !iv.reset && seq_step > 1;
    // The agent's clock (the datagrams' uptime) times the interval: it is what the counters were
    // read against, and no network or collector batching, nor a replay, bends it. Across a
    // reset it measures nothing: 0, and no rate is computed.
    iv.ms = iv.reset ? 0 : int64_t(uint32_t(c.uptime - p.uptime));
    iv.seconds = double(iv.ms) / 1000.0;
    return iv;
}

std::optional<CpuSplit> cpu_split(const HostCpu& p, const HostCpu& c) {
    double user = delta32(p.cpu_user, c.cpu_user), nice = delta32(p.cpu_nice, c.cpu_nice),
           system = delta32(p.cpu_system, c.cpu_system), idle = delta32(p.cpu_idle, c.cpu_idle),
           wio = delta32(p.cpu_waiting_io, c.cpu_waiting_io), intr = delta32(p.cpu_intr, c.cpu_intr),
           sintr = delta32(p.cpu_sintr, c.cpu_sintr),
           steal = (p.cpu_steal && c.cpu_steal) ? double(delta32(*p.cpu_steal, *c.cpu_steal)) : 0.0;
    double total = user + nice + system + idle + wio + intr + sintr + steal;
    if (total <= 0) return std::nullopt;
    auto pct = [&](double x) { return 100.0 * x / total; };
    CpuSplit s;
    s.util = pct(user + nice + system + intr + sintr + steal);
    s.user = pct(user);
    s.nice = pct(nice);
    s.system = pct(system);
    s.idle = pct(idle);
    s.waiting_io = pct(wio);
    s.intr = pct(intr);
    s.sintr = pct(sintr);
    s.steal = pct(steal);
    return s;
}

std::optional<double> vcpu_util(const VirtCpu& p, const VirtCpu& c, double seconds) {
    if (seconds <= 0 || c.vcpu_cpu_count == 0) return std::nullopt;
    double used_ms = delta32(p.vcpu_cpu_time, c.vcpu_cpu_time);
    return 100.0 * used_ms / (seconds * 1000.0 * c.vcpu_cpu_count);
}

namespace {

double round3(double x) { return double(int64_t(x * 1000 + (x >= 0 ? 0.5 : -0.5))) / 1000; }

// Where derived values go: written as JSON, or gathered for their extremes. The keys are
// derived_keys()'s names of the record type (names: its first), viewed where they are.
struct Rates {
    JsonWriter* w;
    double s;
    DerivedRange* range = nullptr;
    size_t hint = 0;
    const std::string* names = nullptr;
    void put(std::string_view k, double v) {
        if (range) return range->put(k, v, hint);
        w->member(k, round3(v));
    }
};

// The shares a record's CPU time counters (SFM_CT) become; written before the rates.
constexpr std::string_view kHostCpuShares[] = {"cpu_util_pct",       "cpu_user_pct", "cpu_nice_pct",
                                               "cpu_system_pct",     "cpu_idle_pct", "cpu_waiting_io_pct",
                                               "cpu_intr_pct",       "cpu_sintr_pct", "cpu_steal_pct"};
constexpr std::string_view kVcpuShare = "vcpu_util_pct";
template <class T>
constexpr size_t kShares = std::is_same_v<T, HostCpu> ? std::size(kHostCpuShares) : std::is_same_v<T, VirtCpu> ? 1 : 0;
template <class T>
void shares(Rates&, const T&, const T&) {}

void shares(Rates& r, const HostCpu& p, const HostCpu& c) {
    auto split = cpu_split(p, c);
    if (!split) return;
    const double v[] = {split->util,       split->user, split->nice,  split->system, split->idle,
                        split->waiting_io, split->intr, split->sintr, split->steal};
    static_assert(std::size(v) == std::size(kHostCpuShares));
    for (size_t i = 0; i < std::size(v); ++i) r.put(r.names[i], v[i]);
}

void shares(Rates& r, const VirtCpu& p, const VirtCpu& c) {
    if (auto u = vcpu_util(p, c, r.s)) r.put(r.names[0], *u);
}

// The rates visitor, over the counters records.h marks SFM_C. A first walk of the previous
// record collects its counter values in field order; a walk of the current one writes
// "name_per_s" for each, the difference taken at the counter's width.
constexpr size_t kMaxCounters = 32;

struct PrevCounters {
    uint64_t value[kMaxCounters];
    size_t n = 0;
    template <class K, class T>
    void operator()(const K&, const T&) {}
    template <class K, class T>
    void extra(const K&, const T&) {}
    template <class K, class T>
    void counter(const K&, const T& x, CounterKind kind) {
        static_assert(std::is_same_v<T, uint32_t> || std::is_same_v<T, uint64_t>, "a counter is u32 or u64");
        if (kind == CounterKind::rate && n < kMaxCounters) value[n++] = x;
    }
};

struct RateWriter {
    Rates& r;
    const PrevCounters& prev;
    const std::string* names;  // "name_per_s" of each counter, in field order
    size_t i = 0;
    template <class K, class T>
    void operator()(const K&, const T&) {}
    template <class K, class T>
    void extra(const K&, const T&) {}
    template <class K, class T>
    void counter(const K&, const T& x, CounterKind kind) {
        if (kind != CounterKind::rate || i == prev.n) return;
        double d = std::is_same_v<T, uint32_t> ? double(delta32(uint32_t(prev.value[i]), uint32_t(x)))
                                               : double(delta64(prev.value[i], x));
        ++i;
        // a per-second rate needs time to have passed (two samples received in one ms: none)
        if (r.s <= 0) return;
        r.put(names[i - 1], d / r.s);
    }
};

template <class T>
void rates(Rates& r, const T& p, const T& c) {
    const std::vector<std::string>& keys = derived_keys(T::format);
    r.names = keys.data();
    shares(r, p, c);
    PrevCounters prev;
    T::fields(p, prev);
    RateWriter w{r, prev, keys.data() + kShares<T>};
    T::fields(c, w);
}

void write_flags(JsonWriter& w, const Interval& iv) {
    w.key("flags");
    w.begin_array();
    if (iv.reset) { w.sep(); w.string("reset"); }
    if (iv.gap) { w.sep(); w.string("gap"); }
    w.end_array();
}

template <class T>
void write_interval_and_rates(JsonWriter& w, const T& prev, const T& cur, const Interval& iv) {
    if (!iv.reset) {  // across a reset the agent's clock says nothing: no interval, no rates
        w.member("interval_ms", iv.ms);
        Rates r{&w, iv.seconds};
        rates(r, prev, cur);
    }
}

}  // namespace

template <class T>
void write_derived(JsonWriter& w, const T& prev, const SampleMeta& pm, const T& cur, const SampleMeta& cm) {
    Interval iv = interval_between(pm, cm);
    write_interval_and_rates(w, prev, cur, iv);
    write_flags(w, iv);
}

Interval interval_across(const SampleMeta& p, const SampleMeta& c, bool reset_within, bool gap_within) {
    Interval iv = interval_between(p, c);
    if (reset_within && !iv.reset) {  // as interval_between has it across a reset
        iv.reset = true;
        iv.ms = 0;
        iv.seconds = 0;
    }
    iv.gap = gap_within && !iv.reset;  // the sequence steps by the samples between: not a gap
    return iv;
}

DerivedRange::DerivedRange(const DerivedRange& o) : reset_(o.reset_), gap_(o.gap_) {
    keys_.reserve(o.keys_.size());
    for (Extremes e : o.keys_) {
        if (e.copied) e.key = owned_.emplace_back(e.key);
        keys_.push_back(e);
    }
}

DerivedRange& DerivedRange::operator=(const DerivedRange& o) {
    if (this != &o) *this = DerivedRange(o);
    return *this;
}

void DerivedRange::clear() {
    keys_.clear();
    hint_ = 0;
    owned_.clear();
    reset_ = gap_ = false;
}

void DerivedRange::put(std::string_view key, double v, size_t& hint, bool copy) {
    // the keys come in one order, and from one table: the next is almost always where the last
    // one left off, the same view
    auto same = [&](size_t i) { return keys_[i].key.data() == key.data() || keys_[i].key == key; };
    size_t i = hint < keys_.size() && same(hint) ? hint : 0;
    while (i < keys_.size() && !same(i)) ++i;
    if (i == keys_.size()) {
        if (copy) key = owned_.emplace_back(key);
        keys_.push_back({key, v, v, copy});
    }
    keys_[i].min = std::min(keys_[i].min, v);
    keys_[i].max = std::max(keys_[i].max, v);
    hint = i + 1;
}

void DerivedRange::put_extremes(std::string_view key, double min, double max, bool copy) {
    put(key, min, hint_, copy);  // put leaves hint_ past the key's place
    Extremes& e = keys_[hint_ - 1];
    e.max = std::max(e.max, max);
}

void DerivedRange::merge(const DerivedRange& o) {
    for (const auto& e : o.keys_) put_extremes(e.key, e.min, e.max, e.copied);
    reset_ = reset_ || o.reset_;
    gap_ = gap_ || o.gap_;
}

namespace {

struct KeyLister {  // the "<counter>_per_s" keys of a record, in field order (as RateWriter)
    std::vector<std::string>& out;
    template <class K, class T>
    void operator()(const K&, const T&) {}
    template <class K, class T>
    void extra(const K&, const T&) {}
    template <class K, class T>
    void counter(const K& k, const T&, CounterKind kind) {
        if (kind == CounterKind::rate) out.push_back(std::string(k) + "_per_s");
    }
};

template <class T>
std::vector<std::string> keys_of(std::vector<std::string> shares) {
    KeyLister l{shares};
    const T none{};
    T::fields(none, l);
    return shares;
}

}  // namespace

const std::vector<std::string>& derived_keys(uint32_t f) {
    static const std::vector<std::string> none;
    static const std::vector<std::string> host_cpu =
        keys_of<HostCpu>({std::begin(kHostCpuShares), std::end(kHostCpuShares)});
    static const std::vector<std::string> host_memory = keys_of<HostMemory>({}), host_disk = keys_of<HostDiskIo>({}),
                                          host_net = keys_of<HostNetIo>({}), virt_node = keys_of<VirtNode>({}),
                                          virt_cpu = keys_of<VirtCpu>({std::string(kVcpuShare)}),
                                          virt_memory = keys_of<VirtMemory>({}), virt_disk = keys_of<VirtDiskIo>({}),
                                          virt_net = keys_of<VirtNetIo>({});
    switch (f) {
        case HostCpu::format: return host_cpu;
        case HostMemory::format: return host_memory;
        case HostDiskIo::format: return host_disk;
        case HostNetIo::format: return host_net;
        case VirtNode::format: return virt_node;
        case VirtCpu::format: return virt_cpu;
        case VirtMemory::format: return virt_memory;
        case VirtDiskIo::format: return virt_disk;
        case VirtNetIo::format: return virt_net;
        default: return none;
    }
}

template <class T>
void DerivedRange::add(const T& prev, const SampleMeta& pm, const T& cur, const SampleMeta& cm) {
    Interval iv = interval_between(pm, cm);
    reset_ = reset_ || iv.reset;
    gap_ = gap_ || iv.gap;
    if (iv.reset) return;
    Rates r{nullptr, iv.seconds, this};
    rates(r, prev, cur);
}

void write_extremes(JsonWriter& w, const DerivedRange& r) {
    std::string k;
    for (const auto& e : r.keys_) {
        w.member(k.assign(e.key).append("_min"), round3(e.min));
        w.member(k.assign(e.key).append("_max"), round3(e.max));
    }
}

template <class T>
void write_derived_over(JsonWriter& w, const T& prev, const T& cur, const Interval& iv, const DerivedRange& range) {
    write_interval_and_rates(w, prev, cur, iv);
    write_extremes(w, range);
    write_flags(w, iv);
}

#define SFM_DERIVED(T) \
    template void write_derived<T>(JsonWriter&, const T&, const SampleMeta&, const T&, const SampleMeta&); \
    template void DerivedRange::add<T>(const T&, const SampleMeta&, const T&, const SampleMeta&); \
    template void write_derived_over<T>(JsonWriter&, const T&, const T&, const Interval&, const DerivedRange&);
SFM_DERIVED(HostCpu)
SFM_DERIVED(HostMemory)
SFM_DERIVED(HostDiskIo)
SFM_DERIVED(HostNetIo)
SFM_DERIVED(VirtNode)
SFM_DERIVED(VirtCpu)
SFM_DERIVED(VirtMemory)
SFM_DERIVED(VirtDiskIo)
SFM_DERIVED(VirtNetIo)
#undef SFM_DERIVED

}  // namespace sfm
