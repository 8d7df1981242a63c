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
struct Cluster {
    TempDir dir;
    Store store{{dir / "db", 64 << 20, 7 * 86400000LL}};
    Stats stats;
    Api api{ApiOptions{}, store, stats};

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
        net.bytes_in = uint64_t(k) * 10 * 125000;  // 125000 B/s
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

TEST_CASE("a 32-bit counter that wrapped gives its modular difference, not a reset") {
    CHECK(delta32(0xFFFFFF00u, 0x100u) == 0x200u);
    HostCpu a, b;
    a.cpu_user = 0xFFFFF000u;
    b.cpu_user = a.cpu_user + 3000;  // wraps
    a.cpu_idle = 0;
    b.cpu_idle = 7000;
    auto s = cpu_split(a, b);
    REQUIRE(s);
    CHECK(s->util == doctest::Approx(30.0));
    CHECK(s->idle == doctest::Approx(70.0));
    Interval iv = interval_between(meta(0, 1, 1000), meta(5000, 2, 6000));
    CHECK(!iv.reset);
    CHECK(!iv.gap);
    CHECK(iv.seconds == doctest::Approx(5.0));
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
    for (int k = 0; k < 3; ++k) c.host_round("10.0.0.1", k, 25.0, 0, 0xFFFF0000u);  // user wraps
    Json::Value r = c.rpc("host.cpu", R"({"ip":"10.0.0.1","derive":true})", 1'030'000)["result"];
    REQUIRE(r.size() == 3);
    CHECK(!r[0].isMember("cpu_util_pct"));
    CHECK(r[1]["cpu_util_pct"].asDouble() == doctest::Approx(25.0));
    CHECK(r[2]["cpu_util_pct"].asDouble() == doctest::Approx(25.0));
    CHECK(r[2]["interval_ms"].asInt() == 10000);
    CHECK(r[2]["flags"].size() == 0);
    Json::Value n = c.rpc("host.net", R"({"ip":"10.0.0.1","derive":true})", 1'030'000)["result"];
    CHECK(n[1]["bytes_in_per_s"].asDouble() == doctest::Approx(125000));
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
