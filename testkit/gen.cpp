// gen.cpp — synthetic hsflowd host and VM counter samples (see gen.h, docs/sflow-gen.md).
//
// Each host and VM owns its record structs and a private random stream; every round the
// counters advance by (interval × a rate drawn from that stream) in modular arithmetic at
// their own width, so 32-bit counters wrap like real ones. One function per entity lists
// the counters once: called with `init` it sets the starting values, otherwise it advances.
#include "testkit/gen.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "sflow_monitor/json.h"
#include "testkit/encode.h"

namespace sfm {
namespace {

struct Rng {  // splitmix64: tiny, and its output is the same everywhere
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    double unit() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)
    double between(double lo, double hi) { return lo + (hi - lo) * unit(); }
    template <size_t N, class T>
    T pick(const T (&xs)[N]) { return xs[next() % N]; }
};

Rng stream(uint64_t seed, uint64_t a, uint64_t b) {
    Rng r{seed ^ (a * 0xd1b54a32d192ed03ull) ^ (b * 0x8cb92ba72f3d8dd7ull)};
    r.next();
    return r;
}

Uuid random_uuid(Rng& rng) {
    Uuid u;
    for (auto& b : u.bytes) b = uint8_t(rng.next());
    u.bytes[6] = uint8_t((u.bytes[6] & 0x0f) | 0x40);  // version 4
    u.bytes[8] = uint8_t((u.bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
    return u;
}

Mac random_mac(Rng& rng, uint8_t a, uint8_t b, uint8_t c) {
    Mac m;
    m.bytes = {a, b, c, uint8_t(rng.next()), uint8_t(rng.next()), uint8_t(rng.next())};
    return m;
}

float two_decimals(double x) { return float(std::round(x * 100) / 100); }

// Sets a counter's starting value (init) or advances it by per_round.
struct Ticker {
    bool init;
    bool near_wrap;
    double rounds_up;  // rounds the agent has been up at round 0
    Rng& rng;

    template <class T>
    T add(T& x, double per_round) {
        T inc = T(per_round);
        if (!init) x += inc;  // unsigned: wraps at the field's width
        else if (std::is_same_v<T, uint32_t> && near_wrap) x = T(0) - T(per_round * 2);
        else x = T(uint64_t(per_round * rounds_up));
        return inc;
    }
    template <class T>
    T jit(T& x, double mean) { return add(x, mean * rng.between(0.8, 1.2)); }
};

struct Host {
    uint32_t index = 0;
    std::string hostname, os_release;
    Uuid uuid;
    Mac mac;
    Address agent;
    uint32_t cpus = 0, mhz = 0;
    double util = 0, mem_free_frac = 0;
    uint32_t uptime0 = 0;  // ms at round 0
    Rng rng{0};
    HostCpu cpu;
    HostMemory mem;
    HostDiskIo disk;
    HostNetIo net;
    Mib2Ip ip;
    Mib2Icmp icmp;
    Mib2Tcp tcp;
    Mib2Udp udp;
    VirtNode node;
    std::vector<uint32_t> vms;  // indexes into the VM list, in sending order
    uint32_t sample_seq = 0, datagram_seq = 0;
};

struct Vm {
    std::string name;
    Uuid uuid;
    Mac mac;
    uint32_t host = 0, ds_index = 0, sample_seq = 0, vcpus = 0;
    double util = 0;
    Rng rng{0};
    VirtCpu cpu;
    VirtMemory mem;
    VirtDiskIo disk;
    VirtNetIo net;
};

void tick_host(Host& h, Ticker t, uint32_t dt, size_t num_vms) {
    Rng& r = h.rng;
    double s = dt / 1000.0;  // seconds per round
    double busy = t.init ? h.util : std::min(0.95, h.util * r.between(0.85, 1.15));
    double total = double(dt) * h.cpus, b = total * busy;
    HostCpu& c = h.cpu;
    uint32_t used = t.add(c.cpu_user, b * 0.62) + t.add(c.cpu_nice, b * 0.02) +
                    t.add(c.cpu_system, b * 0.22) + t.add(c.cpu_waiting_io, b * 0.04) +
                    t.add(c.cpu_intr, b * 0.01) + t.add(c.cpu_sintr, b * 0.04);
    uint32_t steal = 0, guest = 0, guest_nice = 0;
    if (c.cpu_steal) steal = *c.cpu_steal, guest = *c.cpu_guest, guest_nice = *c.cpu_guest_nice;
    used += t.add(steal, b * 0.05);
    t.add(guest, b * 0.45);  // guest time is part of user time
    t.add(guest_nice, 0.0);
    c.cpu_steal = steal, c.cpu_guest = guest, c.cpu_guest_nice = guest_nice;
    t.add(c.cpu_idle, double(uint32_t(total) - used));
    t.jit(c.cpu_interrupts, s * h.cpus * 1500);
    t.jit(c.cpu_contexts, s * h.cpus * 4000);
    double load = h.cpus * busy * r.between(0.9, 1.1);
    c.cpu_load_one = two_decimals(load);
    c.cpu_load_five = two_decimals(t.init ? load : 0.8 * c.cpu_load_five + 0.2 * load);
    c.cpu_load_fifteen = two_decimals(t.init ? load : 0.93 * c.cpu_load_fifteen + 0.07 * load);
    c.cpu_proc_run = 1 + uint32_t(h.cpus * busy);
    c.cpu_proc_total = uint32_t(300 + 12 * num_vms + r.next() % 40);
    c.cpu_num = h.cpus;
    c.cpu_speed = h.mhz;

    HostMemory& m = h.mem;
    h.mem_free_frac = std::clamp(h.mem_free_frac + r.between(-0.01, 0.01), 0.05, 0.9);
    m.mem_free = uint64_t(double(m.mem_total) * h.mem_free_frac) & ~uint64_t(4095);
    m.mem_shared = m.mem_total / 100;
    m.mem_buffers = m.mem_total / 50;
    m.mem_cached = uint64_t(double(m.mem_total) * r.between(0.18, 0.22)) & ~uint64_t(4095);
    m.swap_free = m.swap_total - (uint64_t(r.next() % 1024) << 12);
    t.jit(m.page_in, s * 400);
    t.jit(m.page_out, s * 900);
    t.jit(m.swap_in, s * 0.5);
    t.jit(m.swap_out, s * 1);

    HostDiskIo& d = h.disk;
    if (!t.init && d.disk_free > (uint64_t(1) << 30)) d.disk_free -= r.next() % (uint64_t(1) << 24);
    d.part_max_used.value = std::clamp(d.part_max_used.value + int32_t(r.next() % 3) - 1, 1, 9999);
    uint32_t reads = t.jit(d.reads, s * 120), writes = t.jit(d.writes, s * 300);
    t.add(d.bytes_read, reads * 24576.0);
    t.add(d.read_time, reads * 0.4);
    t.add(d.bytes_written, writes * 12288.0);
    t.add(d.write_time, writes * 0.9);

    HostNetIo& n = h.net;
    double rx = s * 40e6 * h.util, tx = s * 25e6 * h.util;  // bytes per round
    uint32_t pin = t.add(n.packets_in, rx / 900), pout = t.add(n.packets_out, tx / 700);
    t.jit(n.bytes_in, rx);
    t.jit(n.bytes_out, tx);
    t.jit(n.drops_in, s * 0.2);

    Mib2Ip& ip = h.ip;
    ip.ipForwarding = 1;
    ip.ipDefaultTTL = 64;
    t.add(ip.ipInReceives, pin);
    t.add(ip.ipInDelivers, pin * 0.98);
    t.add(ip.ipForwDatagrams, pin * 0.02);
    t.add(ip.ipOutRequests, pout);
    t.jit(ip.ipInDiscards, s * 0.1);
    Mib2Icmp& ic = h.icmp;
    uint32_t echo = t.jit(ic.icmpInEchos, s * 2);
    t.add(ic.icmpOutEchoReps, echo);
    uint32_t unreach_in = t.jit(ic.icmpInDestUnreachs, s * 1), unreach_out = t.jit(ic.icmpOutDestUnreachs, s * 3);
    t.add(ic.icmpInMsgs, double(echo) + unreach_in);
    t.add(ic.icmpOutMsgs, double(echo) + unreach_out);
    Mib2Tcp& tcp = h.tcp;
    tcp.tcpRtoAlgorithm = 1;
    tcp.tcpRtoMin = 200;
    tcp.tcpRtoMax = 120000;
    tcp.tcpMaxConn = 0xFFFFFFFFu;  // -1: no limit
    tcp.tcpCurrEstab = uint32_t(40 + r.next() % 400);
    t.jit(tcp.tcpActiveOpens, s * 6);
    t.jit(tcp.tcpPassiveOpens, s * 25);
    t.jit(tcp.tcpAttemptFails, s * 0.3);
    t.jit(tcp.tcpEstabResets, s * 0.5);
    uint32_t segs_out = t.jit(tcp.tcpOutSegs, pout * 0.9);
    t.jit(tcp.tcpInSegs, pin * 0.9);
    t.add(tcp.tcpRetransSegs, segs_out * 0.002);
    t.jit(tcp.tcpOutRsts, s * 1.5);
    Mib2Udp& u = h.udp;
    t.jit(u.udpInDatagrams, pin * 0.08);
    t.jit(u.udpOutDatagrams, pout * 0.1);
    t.jit(u.udpNoPorts, s * 0.5);

    h.node.vnode_mhz = h.mhz;
    h.node.vnode_cpus = h.cpus;
    h.node.vnode_memory = m.mem_total;
    h.node.vnode_memory_free = m.mem_free;
}

void tick_vm(Vm& v, Ticker t, uint32_t dt) {
    Rng& r = v.rng;
    double s = dt / 1000.0;
    double busy = t.init ? v.util : std::min(1.0, v.util * r.between(0.8, 1.2));
    v.cpu.vcpu_state = 1;  // running
    v.cpu.vcpu_cpu_count = v.vcpus;
    t.add(v.cpu.vcpu_cpu_time, double(dt) * v.vcpus * busy);
    VirtDiskIo& d = v.disk;
    if (!t.init && d.vdsk_allocation + (1u << 20) < d.vdsk_capacity) d.vdsk_allocation += r.next() % (1u << 20);
    d.vdsk_available = d.vdsk_capacity - d.vdsk_allocation;
    uint32_t rd = t.jit(d.vdsk_rd_req, s * 30 * busy), wr = t.jit(d.vdsk_wr_req, s * 60 * busy);
    t.add(d.vdsk_rd_bytes, rd * 32768.0);
    t.add(d.vdsk_wr_bytes, wr * 16384.0);
    VirtNetIo& n = v.net;
    double rx = s * 2e6 * busy, tx = s * 1.5e6 * busy;
    t.jit(n.vnio_bytes_in, rx);
    t.jit(n.vnio_bytes_out, tx);
    t.jit(n.vnio_packets_in, rx / 800);
    t.jit(n.vnio_packets_out, tx / 600);
}

// A sample's records in hsflowd's wire order (2000 last), each passed to f.
template <class F>
void host_records(const Host& h, F&& f) {
    HostAdapters ad;
    ad.adapters.push_back(Adapter{2, {h.mac}});
    HostDescr d;
    d.hostname.value = h.hostname;
    d.uuid = h.uuid;
    d.machine_type.value = 3;  // x86_64
    d.os_name.value = 2;       // linux
    d.os_release.value = h.os_release;
    f(h.node); f(ad); f(h.udp); f(h.tcp); f(h.icmp); f(h.ip); f(h.disk); f(h.mem); f(h.cpu);
    f(h.net); f(d);
}

template <class F>
void vm_records(const Vm& v, F&& f) {
    HostAdapters ad;
    ad.adapters.push_back(Adapter{0, {v.mac}});  // 0: no host interface has the guest's MAC
    HostParent parent;
    parent.container_type = 2;   // the host's data source 2:1
    parent.container_index = 1;
    HostDescr d;
    d.hostname.value = v.name;
    d.uuid = v.uuid;  // machine_type, os_name unknown (0), os_release empty, as hsflowd
    f(ad); f(v.disk); f(v.mem); f(v.cpu); f(v.net); f(parent); f(d);
}

// Packs one agent's samples of one round into datagrams of at most kMaxDatagram bytes.
class Packer {
public:
    Packer(GenResult& out, Host& h, uint32_t uptime, int64_t ts_us, bool expect)
        : out_(out), h_(h), uptime_(uptime), ts_us_(ts_us), expect_(expect) {}

    template <class Records>
    void sample(uint32_t cls, uint32_t index, uint32_t seq, const char* kind,
                const std::string& name, const Records& records) {
        auto add_all = [&](DatagramBuilder& b) {
            b.counter_sample(seq, cls, index);
            records([&](const auto& rec) { b.add(rec); });
        };
        DatagramBuilder probe(h_.agent, kGenSubAgent, 0, 0);
        size_t header = probe.size_if_built();
        add_all(probe);
        if (b_ && b_->size_if_built() + probe.size_if_built() - header > kMaxDatagram) flush();
        if (!b_) b_.emplace(h_.agent, kGenSubAgent, ++h_.datagram_seq, uptime_);
        add_all(*b_);
        if (!expect_) return;
        std::string tail;
        JsonWriter w(tail);
        w.member("source", std::to_string(cls) + ":" + std::to_string(index));
        w.member("sample_sequence", seq);
        w.member("kind", kind);
        w.member("name", name);
        w.key("records");
        w.begin_object();
        records([&](const auto& rec) {
            w.key(std::decay_t<decltype(rec)>::name);
            w.begin_object();
            w.fields(rec);
            w.end_object();
        });
        w.end_object();
        pending_.push_back(std::move(tail));
    }

    void flush() {
        if (!b_) return;
        GenDatagram g;
        g.bytes = b_->build();
        g.host = h_.index;
        g.agent = h_.agent;
        g.sequence = h_.datagram_seq;
        g.uptime = uptime_;
        g.ts_us = ts_us_ + int64_t(sent_++);
        b_.reset();
        for (auto& tail : pending_) {
            std::string line;
            JsonWriter w(line);
            w.begin_object();
            w.member("datagram", uint64_t(out_.datagrams.size()));
            w.member("agent", g.agent.text());
            w.member("sub_agent_id", kGenSubAgent);
            w.member("datagram_sequence", g.sequence);
            w.member("uptime", g.uptime);
            w.raw(",");
            w.raw(tail);
            w.end_object();
            out_.expect.push_back(std::move(line));
        }
        pending_.clear();
        out_.datagrams.push_back(std::move(g));
        ++out_.per_host[h_.index];
    }

private:
    GenResult& out_;
    Host& h_;
    uint32_t uptime_;
    int64_t ts_us_;
    bool expect_;
    std::optional<DatagramBuilder> b_;
    std::vector<std::string> pending_;
    uint32_t sent_ = 0;
};

Address nth_address(const Address& base, uint32_t n) {
    Address a = base;
    size_t last = a.family == 6 ? 15 : 3;
    uint64_t carry = n;
    for (size_t i = last + 1; i-- > 0 && carry;) {
        carry += a.bytes[i];
        a.bytes[i] = uint8_t(carry);
        carry >>= 8;
    }
    if (carry) throw std::invalid_argument("agent addresses overflow from " + base.text());
    return a;
}

void check(const GenOptions& o) {
    auto fail = [](const std::string& m) { throw std::invalid_argument(m); };
    if (o.hosts < 1 || o.hosts > 1000000) fail("hosts must be between 1 and 1000000");
    if (o.vms > 10000) fail("vms must be at most 10000 per host");
    if (o.rounds < 1) fail("rounds must be at least 1");
    if (o.interval_ms < 1 || o.interval_ms > 3600000) fail("interval must be 1 to 3600000 ms");
    if (double(o.hosts) * (o.vms + 1.0) * o.rounds > 1e8) fail("more than 1e8 samples to prebuild");
    if (o.agent_base.family != 4 && o.agent_base.family != 6) fail("agent base address missing");
    if (o.migrate && (o.hosts < 2 || o.vms < 1 || o.rounds < 2))
        fail("migrate needs at least 2 hosts, 1 vm and 2 rounds");
    nth_address(o.agent_base, o.hosts - 1);
}

}  // namespace

GenResult generate(const GenOptions& o) {
    check(o);
    const char* releases[] = {"5.15.0-91-generic", "6.1.0-18-amd64", "6.8.0-45-generic"};
    const uint32_t cpus[] = {8, 16, 24, 32, 48, 64}, mhz[] = {2095, 2400, 2600, 3000};
    const uint64_t mem_gib[] = {64, 128, 256, 384, 512}, disk_gb[] = {480, 960, 1920};
    const uint32_t vcpus[] = {1, 2, 2, 4, 8}, vm_gib[] = {1, 2, 4, 8, 16}, vdisk_gib[] = {20, 40, 80, 160};
    char buf[64];

    std::vector<Host> hosts(o.hosts);
    std::vector<Vm> vms(size_t(o.hosts) * o.vms);
    for (uint32_t i = 0; i < o.hosts; ++i) {
        Host& h = hosts[i];
        h.index = i;
        h.rng = stream(o.seed, i + 1, 0);
        std::snprintf(buf, sizeof buf, "kvm-%03u", i + 1);
        h.hostname = buf;
        h.os_release = h.rng.pick(releases);
        h.uuid = random_uuid(h.rng);
        h.mac = random_mac(h.rng, 0x0c, 0xc4, 0x7a);
        h.agent = nth_address(o.agent_base, i);
        h.cpus = h.rng.pick(cpus);
        h.mhz = h.rng.pick(mhz);
        h.util = h.rng.between(0.05, 0.6);
        h.mem_free_frac = h.rng.between(0.2, 0.6);
        h.uptime0 = uint32_t(h.rng.between(3.6e6, 1.7e9));  // 1 hour to about 20 days
        h.mem.mem_total = h.rng.pick(mem_gib) << 30;
        h.mem.swap_total = uint64_t(8) << 30;
        h.disk.disk_total = h.rng.pick(disk_gb) * 1000000000ull;
        h.disk.disk_free = uint64_t(double(h.disk.disk_total) * h.rng.between(0.3, 0.7));
        h.disk.part_max_used.value = int32_t(2000 + h.rng.next() % 7000);
        for (uint32_t k = 0; k < o.vms; ++k) {
            uint32_t vi = i * o.vms + k;
            Vm& v = vms[vi];
            v.rng = stream(o.seed, i + 1, k + 1);
            std::snprintf(buf, sizeof buf, "vm-%03u-%02u", i + 1, k + 1);
            v.name = buf;
            v.uuid = random_uuid(v.rng);
            v.mac = random_mac(v.rng, 0x52, 0x54, 0x00);
            v.host = i;
            v.ds_index = 100000 + k + 1;
            v.vcpus = v.rng.pick(vcpus);
            v.util = v.rng.between(0.02, 0.8);
            v.mem.vmem_max_memory = uint64_t(v.rng.pick(vm_gib)) << 30;
            v.mem.vmem_memory = v.rng.unit() < 0.8 ? v.mem.vmem_max_memory : v.mem.vmem_max_memory / 2;
            v.disk.vdsk_capacity = uint64_t(v.rng.pick(vdisk_gib)) << 30;
            v.disk.vdsk_allocation = uint64_t(double(v.disk.vdsk_capacity) * v.rng.between(0.1, 0.8));
            h.vms.push_back(vi);
        }
        double rounds_up = double(h.uptime0) / o.interval_ms;
        tick_host(h, Ticker{true, o.start_near_wrap, rounds_up, h.rng}, o.interval_ms, o.vms);
        for (uint32_t vi : h.vms)
            tick_vm(vms[vi], Ticker{true, o.start_near_wrap, rounds_up, vms[vi].rng}, o.interval_ms);
    }

    GenResult out;
    out.per_host.assign(o.hosts, 0);
    for (uint32_t round = 0; round < o.rounds; ++round) {
        if (o.migrate && round == o.rounds / 2) {  // VM 1 of host 1 moves to host 2
            Vm& v = vms[0];
            hosts[0].vms.erase(hosts[0].vms.begin());
            hosts[1].vms.push_back(0);
            v.host = 1;
            v.ds_index = 100000 + o.vms + 1;  // the next free index on the new host
            v.sample_seq = 0;                 // a new data source of that agent
        }
        for (Host& h : hosts) {
            if (round > 0) {
                tick_host(h, Ticker{false, false, 0, h.rng}, o.interval_ms, h.vms.size());
                for (uint32_t vi : h.vms) tick_vm(vms[vi], Ticker{false, false, 0, vms[vi].rng}, o.interval_ms);
            }
            uint32_t uptime = h.uptime0 + round * o.interval_ms;
            h.cpu.cpu_uptime = uptime / 1000;
            h.node.vnode_num_domains = uint32_t(h.vms.size());
            int64_t ts = o.start_us + int64_t(round) * o.interval_ms * 1000 +
                         int64_t(h.index) * o.interval_ms * 1000 / o.hosts;
            Packer p(out, h, uptime, ts, o.expect);
            for (uint32_t vi : h.vms) {
                const Vm& v = vms[vi];
                p.sample(3, v.ds_index, ++vms[vi].sample_seq, "vm", v.name,
                         [&](auto&& f) { vm_records(v, f); });
            }
            p.sample(2, 1, ++h.sample_seq, "host", h.hostname,
                     [&](auto&& f) { host_records(h, f); });
            p.flush();
        }
    }
    return out;
}

}  // namespace sfm
