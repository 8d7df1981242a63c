#include <doctest/doctest.h>
#include <json/json.h>

#include <cstring>
#include <memory>
#include <set>

#include "sflow_monitor/api.h"
#include "sflow_monitor/derive.h"
#include "sflow_monitor/ingest.h"
#include "test_util.h"
#include "testkit/encode.h"

using namespace sfm;
using sfm::test::TempDir;

namespace {

SampleMeta meta(int64_t ts, uint32_t seq, uint32_t uptime, const char* agent = "10.0.0.1") {
    SampleMeta m;
    m.ts_ms = ts;
    m.sample_sequence = seq;
    m.uptime = uptime;
    m.agent = *Address::parse(agent);
    return m;
}

using sfm::test::parse_json;
Json::Value parse(const std::string& s) { return parse_json(s); }

// A host with 4 CPUs at a known utilisation, and VMs, sampled every 10 s.
struct Cluster : sfm::test::TestStore {
    Api api{ApiOptions{}, store, stats};
    uint64_t bytes_start = 0;  // host bytes_in of round 0

    // Round k of host `agent`: cpu counters advance by 10 s x 4 cpus at util_pct busy.
    void host_round(const std::string& agent, int k, double util_pct, uint32_t seq_base = 0,
                    uint32_t cpu_start = 0, const std::vector<std::string>& vms = {}, int64_t t0 = 1'000'000) {
        uint32_t total = 40000;  // ms of CPU time per round: 10 s x 4 cpus
        uint32_t busy = uint32_t(total * util_pct / 100);
        HostCpu cpu;
        cpu.cpu_num = 4;
        cpu.cpu_load_one = 1.5f;
        cpu.cpu_user = cpu_start + uint32_t(k) * busy;  // modular: may wrap
        cpu.cpu_idle = uint32_t(k) * (total - busy);
        cpu.cpu_steal = 0;
        cpu.cpu_uptime = 100 + uint32_t(k) * 10;
        HostMemory mem;
        mem.mem_total = 16ull << 30;
        mem.mem_free = 4ull << 30;
        mem.mem_buffers = 1ull << 30;
        mem.mem_cached = 3ull << 30;  // used: 8 of 16 GiB
        HostNetIo net;
        net.bytes_in = bytes_start + uint64_t(k) * 10 * 125000;  // 125000 B/s, modular
        net.bytes_out = uint64_t(k) * 10 * 5000;
        HostDescr d;
        std::string hostname = "kvm-" + agent;  // Str<> views it: keep it alive until build()
        d.hostname.value = hostname;
        uint32_t seq = seq_base + uint32_t(k) + 1;
        DatagramBuilder b(*Address::parse(agent), 100001, seq, (100 + uint32_t(k) * 10) * 1000);
        b.counter_sample(seq, 2, 1).add(net).add(mem).add(cpu).add(d);
        int i = 0;
        for (auto& vm : vms) {
            VirtCpu vc;
            vc.vcpu_state = 1;
            vc.vcpu_cpu_count = 2;
            vc.vcpu_cpu_time = uint32_t(k) * 5000;  // 5 s of 20 s available: 25%
            VirtMemory vmem;
            vmem.vmem_memory = 2ull << 30;
            vmem.vmem_max_memory = 8ull << 30;
            HostDescr vd;
            vd.hostname.value = vm;
            vd.uuid.bytes[15] = uint8_t(++i);
            b.counter_sample(seq, 3, 100000 + uint32_t(i)).add(vc).add(vmem).add(vd);
        }
        std::vector<StoredSample> out;
        samples_to_store(decode_datagram(b.build()), t0 + k * 10000, out, stats);
        store.write(out);
    }
    Json::Value rpc(const std::string& method, const std::string& params, int64_t now) {
        return parse(api.handle(R"({"jsonrpc":"2.0","method":")" + method + R"(","params":)" + params +
                                    R"(,"id":1})",
                                now)
                         .body);
    }
};

}  // namespace

// Sets prev a little below the wrap of T (2^32 or 2^64) and cur d further on, past it: cur is
// numerically smaller than prev, and only a modular difference gives d back.
template <class T>
void across_wrap(T& prev, T& cur, uint64_t d) {
    prev = T(T(0) - T(d / 2 + 1));
    cur = T(prev + T(d));
    REQUIRE(cur < prev);
}

// The derived keys write_derived adds for two samples 10 s apart on the agent's clock.
template <class T>
Json::Value derived(const T& prev, const T& cur) {
    std::string out;
    JsonWriter w(out);
    w.begin_object();
    write_derived(w, prev, meta(0, 1, 1000), cur, meta(10000, 2, 11000));
    w.end_object();
    return parse(out);
}

TEST_CASE("a 32-bit counter that wrapped gives its modular difference, not a reset") {
    CHECK(delta32(0xFFFFFF00u, 0x100u) == 0x200u);
    CHECK(delta64(0xFFFFFFFFFFFFFF00ull, 0x100ull) == 0x200ull);
    HostCpu a, b;
    across_wrap(a.cpu_user, b.cpu_user, 3000);
    across_wrap(a.cpu_idle, b.cpu_idle, 7000);
    auto s = cpu_split(a, b);
    REQUIRE(s);
    CHECK(s->util == doctest::Approx(30.0));
    CHECK(s->idle == doctest::Approx(70.0));
    Interval iv = interval_between(meta(0, 1, 1000), meta(5000, 2, 6000));
    CHECK(!iv.reset);
    CHECK(!iv.gap);
    CHECK(iv.seconds == doctest::Approx(5.0));
}

TEST_CASE("every rate and share the derive table computes is modular at its counter's width") {
    // Each counter crosses 2^32 or 2^64 between the two samples, each by its own amount, so a
    // difference that is not modular, or taken at the wrong width, or from another field, shows.
    HostCpu cp, cc;
    across_wrap(cp.cpu_user, cc.cpu_user, 1000);
    across_wrap(cp.cpu_nice, cc.cpu_nice, 2000);
    across_wrap(cp.cpu_system, cc.cpu_system, 3000);
    across_wrap(cp.cpu_idle, cc.cpu_idle, 4000);
    across_wrap(cp.cpu_waiting_io, cc.cpu_waiting_io, 5000);
    across_wrap(cp.cpu_intr, cc.cpu_intr, 6000);
    across_wrap(cp.cpu_sintr, cc.cpu_sintr, 7000);
    uint32_t sp, sc;
    across_wrap(sp, sc, 8000);
    cp.cpu_steal = sp;
    cc.cpu_steal = sc;
    across_wrap(cp.cpu_interrupts, cc.cpu_interrupts, 50000);
    across_wrap(cp.cpu_contexts, cc.cpu_contexts, 70000);
    Json::Value c = derived(cp, cc);
    CAPTURE(c.toStyledString());
    // 36000 ms of CPU time in all; busy: all but idle and waiting_io
    CHECK(c["cpu_util_pct"].asDouble() == doctest::Approx(75.0));
    const std::pair<const char*, double> shares[] = {
        {"cpu_user_pct", 1000}, {"cpu_nice_pct", 2000}, {"cpu_system_pct", 3000},
        {"cpu_idle_pct", 4000}, {"cpu_waiting_io_pct", 5000}, {"cpu_intr_pct", 6000},
        {"cpu_sintr_pct", 7000}, {"cpu_steal_pct", 8000}};
    for (auto [k, ms] : shares) CHECK(c[k].asDouble() == doctest::Approx(100.0 * ms / 36000).epsilon(1e-4));
    CHECK(c["cpu_interrupts_per_s"].asDouble() == 5000);
    CHECK(c["cpu_contexts_per_s"].asDouble() == 7000);

    HostMemory mp, mc;
    across_wrap(mp.page_in, mc.page_in, 10);
    across_wrap(mp.page_out, mc.page_out, 20);
    across_wrap(mp.swap_in, mc.swap_in, 30);
    across_wrap(mp.swap_out, mc.swap_out, 40);
    Json::Value m = derived(mp, mc);
    CHECK(m["page_in_per_s"].asDouble() == 1);
    CHECK(m["page_out_per_s"].asDouble() == 2);
    CHECK(m["swap_in_per_s"].asDouble() == 3);
    CHECK(m["swap_out_per_s"].asDouble() == 4);

    HostDiskIo dp, dc;
    across_wrap(dp.reads, dc.reads, 1000);
    across_wrap(dp.bytes_read, dc.bytes_read, 5'000'000'000ull);  // more than 2^32 in 10 s
    across_wrap(dp.writes, dc.writes, 2000);
    across_wrap(dp.bytes_written, dc.bytes_written, 40'000'000);
    across_wrap(dp.read_time, dc.read_time, 3000);
    across_wrap(dp.write_time, dc.write_time, 4000);
    Json::Value d = derived(dp, dc);
    CHECK(d["reads_per_s"].asDouble() == 100);
    CHECK(d["bytes_read_per_s"].asDouble() == 500'000'000);
    CHECK(d["writes_per_s"].asDouble() == 200);
    CHECK(d["bytes_written_per_s"].asDouble() == 4'000'000);
    CHECK(d["read_time_per_s"].asDouble() == 300);
    CHECK(d["write_time_per_s"].asDouble() == 400);

    HostNetIo np, nc;
    across_wrap(np.bytes_in, nc.bytes_in, 12'500'000'000ull);
    across_wrap(np.packets_in, nc.packets_in, 100);
    across_wrap(np.errs_in, nc.errs_in, 200);
    across_wrap(np.drops_in, nc.drops_in, 300);
    across_wrap(np.bytes_out, nc.bytes_out, 400'000);
    across_wrap(np.packets_out, nc.packets_out, 500);
    across_wrap(np.errs_out, nc.errs_out, 600);
    across_wrap(np.drops_out, nc.drops_out, 700);
    Json::Value n = derived(np, nc);
    CHECK(n["bytes_in_per_s"].asDouble() == 1'250'000'000);
    CHECK(n["packets_in_per_s"].asDouble() == 10);
    CHECK(n["errs_in_per_s"].asDouble() == 20);
    CHECK(n["drops_in_per_s"].asDouble() == 30);
    CHECK(n["bytes_out_per_s"].asDouble() == 40'000);
    CHECK(n["packets_out_per_s"].asDouble() == 50);
    CHECK(n["errs_out_per_s"].asDouble() == 60);
    CHECK(n["drops_out_per_s"].asDouble() == 70);

    VirtCpu vp, vc;
    vp.vcpu_cpu_count = vc.vcpu_cpu_count = 2;
    across_wrap(vp.vcpu_cpu_time, vc.vcpu_cpu_time, 5000);  // 5 s of 20 s
    CHECK(derived(vp, vc)["vcpu_util_pct"].asDouble() == 25);

    VirtDiskIo xp, xc;
    across_wrap(xp.vdsk_rd_req, xc.vdsk_rd_req, 110);
    across_wrap(xp.vdsk_rd_bytes, xc.vdsk_rd_bytes, 6'000'000'000ull);
    across_wrap(xp.vdsk_wr_req, xc.vdsk_wr_req, 220);
    across_wrap(xp.vdsk_wr_bytes, xc.vdsk_wr_bytes, 3'300'000);
    across_wrap(xp.vdsk_errs, xc.vdsk_errs, 40);
    Json::Value x = derived(xp, xc);
    CHECK(x["vdsk_rd_req_per_s"].asDouble() == 11);
    CHECK(x["vdsk_rd_bytes_per_s"].asDouble() == 600'000'000);
    CHECK(x["vdsk_wr_req_per_s"].asDouble() == 22);
    CHECK(x["vdsk_wr_bytes_per_s"].asDouble() == 330'000);
    CHECK(x["vdsk_errs_per_s"].asDouble() == 4);

    VirtNetIo yp, yc;
    across_wrap(yp.vnio_bytes_in, yc.vnio_bytes_in, 7'000'000'000ull);
    across_wrap(yp.vnio_packets_in, yc.vnio_packets_in, 10);
    across_wrap(yp.vnio_errs_in, yc.vnio_errs_in, 20);
    across_wrap(yp.vnio_drops_in, yc.vnio_drops_in, 30);
    across_wrap(yp.vnio_bytes_out, yc.vnio_bytes_out, 8'000'000'000ull);
    across_wrap(yp.vnio_packets_out, yc.vnio_packets_out, 50);
    across_wrap(yp.vnio_errs_out, yc.vnio_errs_out, 60);
    across_wrap(yp.vnio_drops_out, yc.vnio_drops_out, 70);
    Json::Value y = derived(yp, yc);
    CHECK(y["vnio_bytes_in_per_s"].asDouble() == 700'000'000);
    CHECK(y["vnio_packets_in_per_s"].asDouble() == 1);
    CHECK(y["vnio_errs_in_per_s"].asDouble() == 2);
    CHECK(y["vnio_drops_in_per_s"].asDouble() == 3);
    CHECK(y["vnio_bytes_out_per_s"].asDouble() == 800'000'000);
    CHECK(y["vnio_packets_out_per_s"].asDouble() == 5);
    CHECK(y["vnio_errs_out_per_s"].asDouble() == 6);
    CHECK(y["vnio_drops_out_per_s"].asDouble() == 7);
}

TEST_CASE("uptime going back or the sequence restarting is a reset; a skipped sequence is a gap") {
    CHECK(interval_between(meta(0, 10, 50000), meta(5000, 11, 2000)).reset);  // agent restarted
    CHECK(interval_between(meta(0, 10, 50000), meta(5000, 1, 55000)).reset);  // sequence back to 1
    CHECK(interval_between(meta(0, 10, 50000), meta(5000, 11, 55000, "10.0.0.2")).reset);  // moved
    Interval g = interval_between(meta(0, 10, 50000), meta(15000, 13, 65000));
    CHECK(!g.reset);
    CHECK(g.gap);
    // uptime is a 32-bit ms counter: its wrap with a continuing sequence is not a reset
    CHECK(!interval_between(meta(0, 10, 0xFFFFF000u), meta(5000, 11, 0x1000u)).reset);
}

TEST_CASE("derive adds cpu utilisation and rates to each record after the first") {
    Cluster c;
    c.bytes_start = 0ull - 1'500'000;  // bytes_in crosses 2^64 between rounds 1 and 2
    for (int k = 0; k < 3; ++k) c.host_round("10.0.0.1", k, 25.0, 0, 0u - 15000u);  // user too
    Json::Value r = c.rpc("host.cpu", R"({"ip":"10.0.0.1","derive":true})", 1'030'000)["result"];
    REQUIRE(r.size() == 3);
    CHECK(!r[0].isMember("cpu_util_pct"));
    CHECK(r[1]["cpu_util_pct"].asDouble() == doctest::Approx(25.0));
    CHECK(r[2]["cpu_util_pct"].asDouble() == doctest::Approx(25.0));
    CHECK(r[2]["interval_ms"].asInt() == 10000);
    CHECK(r[2]["flags"].size() == 0);
    Json::Value n = c.rpc("host.net", R"({"ip":"10.0.0.1","derive":true})", 1'030'000)["result"];
    CHECK(n[1]["bytes_in_per_s"].asDouble() == doctest::Approx(125000));
    CHECK(n[2]["bytes_in_per_s"].asDouble() == doctest::Approx(125000));
    Json::Value plain = c.rpc("host.cpu", R"({"ip":"10.0.0.1"})", 1'030'000)["result"];
    CHECK(!plain[1].isMember("cpu_util_pct"));
    CHECK(!plain[1].isMember("flags"));
}

TEST_CASE("derive flags missing samples as a gap and still gives the average rate over it") {
    Cluster c;
    c.host_round("10.0.0.1", 0, 50.0);
    c.host_round("10.0.0.1", 1, 50.0);
    c.host_round("10.0.0.1", 3, 50.0);  // round 2 lost
    c.host_round("10.0.0.1", 4, 50.0, 1000);  // sequence jumps far: still a gap
    Json::Value r = c.rpc("host.cpu", R"({"ip":"10.0.0.1","derive":true})", 1'050'000)["result"];
    REQUIRE(r.size() == 4);
    CHECK(r[2]["flags"][0].asString() == "gap");
    CHECK(r[2]["cpu_util_pct"].asDouble() == doctest::Approx(50.0));
    CHECK(r[3]["flags"][0].asString() == "gap");
}

TEST_CASE("cluster.status reports utilisation, memory, network, VMs and over-commit from known inputs") {
    Cluster c;
    for (int k = 0; k < 3; ++k) c.host_round("10.0.0.1", k, 40.0, 0, 0, {"vm-a", "vm-b"});
    for (int k = 0; k < 3; ++k) c.host_round("10.0.0.2", k, 10.0, 0, 0, {}, 500'000);  // long gone
    Json::Value full = c.rpc("cluster.status", "{}", 1'025'000);
    Json::Value s = full["result"];
    CAPTURE(full.toStyledString());
    REQUIRE(s["hosts"].size() == 2);
    Json::Value h = s["hosts"][0];
    CHECK(h["host_ip"].asString() == "10.0.0.1");
    CHECK(h["presence"].asString() == "up");
    CHECK(h["cpu_util_pct"].asDouble() == doctest::Approx(40.0));
    CHECK(h["mem_used_pct"].asDouble() == doctest::Approx(50.0));
    CHECK(h["bytes_in_per_s"].asDouble() == doctest::Approx(125000));
    CHECK(h["vms"].size() == 2);
    CHECK(h["vcpu_overcommit_ratio"].asDouble() == doctest::Approx(1.0));  // 2 x 2 vCPUs / 4 cpus
    CHECK(h["mem_overcommit_ratio"].asDouble() == doctest::Approx(1.0));   // 2 x 8 GiB / 16 GiB
    CHECK(s["hosts"][1]["presence"].asString() == "down");
    REQUIRE(s["vms"].size() == 2);
    CHECK(s["vms"][0]["hostname"].asString() == "vm-a");
    CHECK(s["vms"][0]["state"].asString() == "running");
    CHECK(s["vms"][0]["vcpu_util_pct"].asDouble() == doctest::Approx(25.0));
    CHECK(s["vms"][0]["uuid"].asString() == "00000000-0000-0000-0000-000000000001");
    CHECK(s["totals"]["hosts_up"].asInt() == 1);
    CHECK(s["totals"]["hosts_down"].asInt() == 1);
    CHECK(s["totals"]["vms_running"].asInt() == 2);
    // 35 s after the last sample (interval 10 s): stale
    Json::Value later = c.rpc("cluster.status", "{}", 1'020'000 + 35'000)["result"];
    CHECK(later["hosts"][0]["presence"].asString() == "stale");
}

TEST_CASE("host.vms lists a host's VMs and virt.history shows a live migration") {
    Cluster c;
    c.host_round("10.0.0.1", 0, 10.0, 0, 0, {"vm-a"});
    c.host_round("10.0.0.1", 1, 10.0, 0, 0, {"vm-a"});
    c.host_round("10.0.0.2", 2, 10.0, 0, 0, {"vm-a"});
    c.host_round("10.0.0.2", 3, 10.0, 0, 0, {"vm-a"});
    CHECK(c.rpc("host.vms", R"({"ip":"10.0.0.1"})", 1'030'000)["result"].size() == 0);
    Json::Value v = c.rpc("host.vms", R"(["10.0.0.2"])", 1'030'000)["result"];
    REQUIRE(v.size() == 1);
    CHECK(v[0]["hostname"].asString() == "vm-a");
    Json::Value h = c.rpc("virt.history", R"({"hostname":"vm-a","from":0,"to":1030000})", 1'030'000)["result"];
    REQUIRE(h.size() == 2);
    CHECK(h[0]["host_ip"].asString() == "10.0.0.1");
    CHECK(h[0]["from"].asInt64() == 1'000'000);
    CHECK(h[0]["to"].asInt64() == 1'010'000);
    CHECK(h[1]["host_ip"].asString() == "10.0.0.2");
    CHECK(h[1]["samples"].asInt() == 2);
    // the series across the move: a reset, not a rate from another hypervisor's counters
    Json::Value s = c.rpc("virt.cpu", R"({"hostname":"vm-a","derive":true})", 1'030'000)["result"];
    REQUIRE(s.size() == 4);
    CHECK(s[1]["vcpu_util_pct"].asDouble() == doctest::Approx(25.0));
    CHECK(s[2]["flags"][0].asString() == "reset");
    CHECK(!s[2].isMember("vcpu_util_pct"));
    CHECK(!s[2].isMember("interval_ms"));  // no interval on the agent's clock across a reset
}

TEST_CASE("samples received in one burst still give true rates and state, timed by the agent's uptime") {
    Cluster c;
    for (int k = 0; k < 3; ++k) c.host_round("10.0.0.1", k, 30.0, 0, 0, {}, 1'000'000 - k * 10000);  // all at 1,000,000
    Json::Value s = c.rpc("cluster.status", "{}", 1'020'000)["result"];
    REQUIRE(s["hosts"].size() == 1);
    CHECK(s["hosts"][0]["presence"].asString() == "up");  // 20 s after, with a 10 s polling interval
    CHECK(s["hosts"][0]["cpu_util_pct"].asDouble() == doctest::Approx(30.0));
    CHECK(s["hosts"][0]["bytes_in_per_s"].asDouble() == doctest::Approx(125000));  // agent's clock: 10 s
    Json::Value r = c.rpc("host.cpu", R"({"ip":"10.0.0.1","derive":true})", 1'020'000)["result"];
    REQUIRE(r.size() == 3);
    CHECK(r[2]["cpu_util_pct"].asDouble() == doctest::Approx(30.0));
    CHECK(r[2]["interval_ms"].asInt() == 10000);
    CHECK(r[2]["flags"].size() == 0);
}

namespace {

// The names of the counters records.h marks for rates (SFM_C), in field order.
struct RateCounterNames {
    std::vector<std::string> names;
    template <class K, class T>
    void operator()(const K&, const T&) {}
    template <class K, class T>
    void extra(const K&, const T&) {}
    template <class T>
    void counter(const char* k, const T&, CounterKind kind) {
        if (kind == CounterKind::rate) names.push_back(k);
    }
};

// Sets the i-th rate counter to base + step * (i + 1), at its width (a u32 wraps).
struct SetCounters {
    uint64_t base, step;
    int i = 0;
    template <class K, class T>
    void operator()(const K&, T&) {}
    template <class K, class T>
    void extra(const K&, T&) {}
    template <class T>
    void counter(const char*, T& x, CounterKind kind) {
        if (kind == CounterKind::rate) x = T(base + step * uint64_t(++i));
    }
};

template <class T>
void check_rates() {
    RateCounterNames n;
    const T none{};
    T::fields(none, n);
    T prev{}, cur{};
    SetCounters a{0xFFFFFFFF00000000ull - 1000, 0}, b{0xFFFFFFFF00000000ull - 1000, 0};
    a.step = 0;  // prev: base for all; cur: base + 100 * (i + 1) * 10 s, wrapping at 32 bits
    b.step = 1000;
    T::fields(prev, a);
    T::fields(cur, b);
    SampleMeta pm, cm;
    pm.sample_sequence = 1, cm.sample_sequence = 2;
    pm.uptime = 5000, cm.uptime = 15000;  // 10 s on the agent's clock
    std::string out;
    JsonWriter w(out);
    w.begin_object();
    write_derived(w, prev, pm, cur, cm);
    w.end_object();
    Json::Value v = parse(out);
    CAPTURE(out);
    CHECK(v["interval_ms"].asInt() == 10000);
    for (size_t i = 0; i < n.names.size(); ++i)
        CHECK(v[n.names[i] + "_per_s"].asDouble() == doctest::Approx(100.0 * double(i + 1)));
}

}  // namespace

TEST_CASE("derive gives name_per_s for every counter records.h marks, modular at the counter's width") {
    check_rates<HostCpu>();
    check_rates<HostMemory>();
    check_rates<HostDiskIo>();
    check_rates<HostNetIo>();
    check_rates<VirtDiskIo>();
    check_rates<VirtNetIo>();
    RateCounterNames disk;
    const HostDiskIo none{};
    HostDiskIo::fields(none, disk);
    CHECK(disk.names == std::vector<std::string>{"reads", "bytes_read", "read_time", "writes",
                                                 "bytes_written", "write_time"});
}

TEST_CASE("every key of cluster.status and host.vms names its unit, or is a name, a count or a state") {
    Cluster c;
    for (int k = 0; k < 3; ++k) c.host_round("10.0.0.1", k, 40.0, 0, 0, {"vm-a"});
    Json::Value s = c.rpc("cluster.status", "{}", 1'025'000)["result"];
    const std::set<std::string> unitless = {
        "hosts", "vms", "totals", "timestamp",                      // containers; the spec's time
        "host_ip", "hostname", "uuid", "state", "presence",         // names and states
        "hosts_up", "hosts_stale", "hosts_down", "vms_running",     // counts
        "cpu_num", "vcpu_cpu_count", "cpu_load_one"};               // record fields without a unit
    const char* const units[] = {"_pct", "_ms", "_s", "_per_s", "_bytes", "_ratio"};
    auto check = [&](const Json::Value& o) {
        for (const std::string& k : o.getMemberNames()) {
            bool ok = unitless.count(k) > 0;
            for (const char* u : units)
                ok = ok || (k.size() > std::strlen(u) && k.compare(k.size() - std::strlen(u), std::string::npos, u) == 0);
            CHECK_MESSAGE(ok, "key without a unit: " << k);
        }
    };
    REQUIRE(s["hosts"].size() == 1);
    REQUIRE(s["vms"].size() == 1);
    check(s);
    check(s["hosts"][0]);
    check(s["vms"][0]);
    check(s["totals"]);
    Json::Value vms = c.rpc("host.vms", R"({"ip":"10.0.0.1"})", 1'025'000)["result"];
    REQUIRE(vms.size() == 1);
    check(vms[0]);
}

TEST_CASE("a DerivedRange keeps the names it was given to copy, through copies, moves and merges") {
    auto listed = [](const DerivedRange& r) {
        std::string out;
        r.each([&](std::string_view k, double mn, double mx) {
            out += std::string(k) + "=" + std::to_string(int(mn)) + ".." + std::to_string(int(mx)) + ";";
        });
        return out;
    };
    DerivedRange copy, moved, merged;
    {
        std::string name = "made_up_per_s";  // gone after this block
        DerivedRange r;
        r.put_extremes("cpu_util_pct", 1, 2);  // a name that outlives it: viewed
        r.put_extremes(name, -3, 4, true);
        r.put_extremes(name, -5, 1, true);  // the same key again: its extremes widen
        name.assign(name.size(), 'x');        // what r holds is its own copy
        CHECK(listed(r) == "cpu_util_pct=1..2;made_up_per_s=-5..4;");
        copy = r;
        merged.put_extremes("made_up_per_s", 0, 9);
        merged.merge(r);
        moved = std::move(r);
    }
    std::string filler(4096, 'y');  // reuse what the block freed
    CHECK(listed(copy) == "cpu_util_pct=1..2;made_up_per_s=-5..4;");
    CHECK(listed(moved) == "cpu_util_pct=1..2;made_up_per_s=-5..4;");
    CHECK(listed(merged) == "made_up_per_s=-5..9;cpu_util_pct=1..2;");
    DerivedRange again(copy);
    copy.clear();
    CHECK(listed(copy).empty());
    CHECK(listed(again) == "cpu_util_pct=1..2;made_up_per_s=-5..4;");
}
