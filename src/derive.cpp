// derive.cpp — rates and utilisation between consecutive samples (see derive.h).
#include "sflow_monitor/derive.h"

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
    // reset there is no rate to compute; the receive times then stand in for interval_ms.
    iv.ms = iv.reset ? c.ts_ms - p.ts_ms : int64_t(uint32_t(c.uptime - p.uptime));
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

struct Rates {
    JsonWriter& w;
    double s;
    void put(const char* k, double v) {
        w.key(k);
        w.number(round3(v));
    }
    // per-second rates need time to have passed (two samples received in one ms: none)
    void r32(const char* k, uint32_t p, uint32_t c) {
        if (s > 0) put(k, delta32(p, c) / s);
    }
    void r64(const char* k, uint64_t p, uint64_t c) {
        if (s > 0) put(k, double(delta64(p, c)) / s);
    }
};

void rates(Rates& r, const HostCpu& p, const HostCpu& c) {
    auto split = cpu_split(p, c);
    if (!split) return;
    r.put("cpu_util_pct", split->util);
    r.put("cpu_user_pct", split->user);
    r.put("cpu_nice_pct", split->nice);
    r.put("cpu_system_pct", split->system);
    r.put("cpu_idle_pct", split->idle);
    r.put("cpu_waiting_io_pct", split->waiting_io);
    r.put("cpu_intr_pct", split->intr);
    r.put("cpu_sintr_pct", split->sintr);
    r.put("cpu_steal_pct", split->steal);
    r.r32("cpu_interrupts_per_s", p.cpu_interrupts, c.cpu_interrupts);
    r.r32("cpu_contexts_per_s", p.cpu_contexts, c.cpu_contexts);
}

void rates(Rates& r, const HostMemory& p, const HostMemory& c) {
    r.r32("page_in_per_s", p.page_in, c.page_in);
    r.r32("page_out_per_s", p.page_out, c.page_out);
    r.r32("swap_in_per_s", p.swap_in, c.swap_in);
    r.r32("swap_out_per_s", p.swap_out, c.swap_out);
}

void rates(Rates& r, const HostDiskIo& p, const HostDiskIo& c) {
    r.r32("reads_per_s", p.reads, c.reads);
    r.r64("bytes_read_per_s", p.bytes_read, c.bytes_read);
    r.r32("writes_per_s", p.writes, c.writes);
    r.r64("bytes_written_per_s", p.bytes_written, c.bytes_written);
}

void rates(Rates& r, const HostNetIo& p, const HostNetIo& c) {
    r.r64("bytes_in_per_s", p.bytes_in, c.bytes_in);
    r.r32("packets_in_per_s", p.packets_in, c.packets_in);
    r.r32("errs_in_per_s", p.errs_in, c.errs_in);
    r.r32("drops_in_per_s", p.drops_in, c.drops_in);
    r.r64("bytes_out_per_s", p.bytes_out, c.bytes_out);
    r.r32("packets_out_per_s", p.packets_out, c.packets_out);
    r.r32("errs_out_per_s", p.errs_out, c.errs_out);
    r.r32("drops_out_per_s", p.drops_out, c.drops_out);
}

void rates(Rates&, const VirtNode&, const VirtNode&) {}  // gauges only
void rates(Rates&, const VirtMemory&, const VirtMemory&) {}

void rates(Rates& r, const VirtCpu& p, const VirtCpu& c) {
    if (auto u = vcpu_util(p, c, r.s)) r.put("vcpu_util_pct", *u);
}

void rates(Rates& r, const VirtDiskIo& p, const VirtDiskIo& c) {
    r.r32("vdsk_rd_req_per_s", p.vdsk_rd_req, c.vdsk_rd_req);
    r.r64("vdsk_rd_bytes_per_s", p.vdsk_rd_bytes, c.vdsk_rd_bytes);
    r.r32("vdsk_wr_req_per_s", p.vdsk_wr_req, c.vdsk_wr_req);
    r.r64("vdsk_wr_bytes_per_s", p.vdsk_wr_bytes, c.vdsk_wr_bytes);
    r.r32("vdsk_errs_per_s", p.vdsk_errs, c.vdsk_errs);
}

void rates(Rates& r, const VirtNetIo& p, const VirtNetIo& c) {
    r.r64("vnio_bytes_in_per_s", p.vnio_bytes_in, c.vnio_bytes_in);
    r.r32("vnio_packets_in_per_s", p.vnio_packets_in, c.vnio_packets_in);
    r.r32("vnio_errs_in_per_s", p.vnio_errs_in, c.vnio_errs_in);
    r.r32("vnio_drops_in_per_s", p.vnio_drops_in, c.vnio_drops_in);
    r.r64("vnio_bytes_out_per_s", p.vnio_bytes_out, c.vnio_bytes_out);
    r.r32("vnio_packets_out_per_s", p.vnio_packets_out, c.vnio_packets_out);
    r.r32("vnio_errs_out_per_s", p.vnio_errs_out, c.vnio_errs_out);
    r.r32("vnio_drops_out_per_s", p.vnio_drops_out, c.vnio_drops_out);
}

}  // namespace

template <class T>
void write_derived(JsonWriter& w, const T& prev, const SampleMeta& pm, const T& cur, const SampleMeta& cm) {
    Interval iv = interval_between(pm, cm);
    w.key("interval_ms");
    w.number(iv.ms);
    if (!iv.reset) {
        Rates r{w, iv.seconds};
        rates(r, prev, cur);
    }
    w.key("flags");
    w.begin_array();
    if (iv.reset) { w.sep(); w.string("reset"); }
    if (iv.gap) { w.sep(); w.string("gap"); }
    w.end_array();
}

#define SFM_DERIVED(T) \
    template void write_derived<T>(JsonWriter&, const T&, const SampleMeta&, const T&, const SampleMeta&);
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
