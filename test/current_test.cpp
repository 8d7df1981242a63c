// The current state in memory (current.h): what cluster.status, host.vms, host.description and
// virt.description answer from it is compared, byte for byte, with answers computed by an
// oracle that reads the store itself (its `entities` database and each entity's newest samples
// by Store::scan, as these methods did before the table existed): after every batch, around a
// migration, a purge, a restart (the table rebuilt), with descriptions found in older samples
// and with `now` before the newest samples.
#include <doctest/doctest.h>
#include <json/json.h>

#include <algorithm>
#include <cstdlib>
#include <new>
#include <atomic>
#include <cmath>
#include <optional>
#include <set>
#include <thread>

#include "sflow_monitor/api.h"
#include "sflow_monitor/current.h"
#include "sflow_monitor/derive.h"
#include "sflow_monitor/ingest.h"
#include "sflow_monitor/json.h"
#include "sflow_monitor/methods.h"
#include "test_util.h"
#include "testkit/encode.h"
#include "testkit/gen.h"

using namespace sfm;
using sfm::test::TempDir;

// Allocation failures on demand, for this test binary: the n-th operator new of the thread
// after fail_new_in = n throws bad_alloc (-1: never). Only the test below sets it.
namespace {
thread_local long fail_new_in = -1;
}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // both replaced here: malloc and free
void* operator new(std::size_t n) {
    if (fail_new_in >= 0 && fail_new_in-- == 0) throw std::bad_alloc();
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
// the other forms too, so that everything new'd here is malloc'd and every delete frees it
// (ASan checks that they match: std::stable_sort's buffer is new(nothrow), deleted sized)
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return ::operator new(n);
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return ::operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace {

// ---- the oracle: the store read directly ------------------------------------------------------

namespace oracle {

struct Sample {
    SampleMeta meta;
    std::string raw;
};

std::vector<Sample> newest(const Store& st, Entity kind, const std::string& name, int64_t upto, size_t n) {
    std::vector<Sample> out;
    st.scan(kind, name, -1, upto, [&](const SampleMeta& m, std::string_view raw) { out.push_back({m, std::string(raw)}); },
            n, true);
    return out;
}

// host_descr of the entity's newest record, else of the newest of its last 256 samples with one
HostDescr descr(const Store& st, const EntityInfo& e, std::string& keep) {
    keep = e.records_raw;
    if (find_record<HostDescr>(keep)) return *find_record<HostDescr>(keep);
    for (const Sample& s : newest(st, Entity::host, e.name, INT64_MAX / 2, 256))
        if (find_record<HostDescr>(s.raw)) {
            keep = s.raw;
            return *find_record<HostDescr>(keep);
        }
    return HostDescr{};
}

template <class T>
void two(const std::vector<Sample>& s, std::optional<T>& cur, std::optional<T>& prev, SampleMeta& cm, SampleMeta& pm) {
    for (const Sample& x : s)
        if (auto r = find_record<T>(x.raw)) {
            if (!cur) cur = r, cm = x.meta;
            else {
                prev = r, pm = x.meta;
                break;
            }
        }
}

const char* presence(const std::vector<Sample>& s, int64_t now) {
    if (s.empty()) return "down";
    int64_t iv = 30000;
    if (s.size() >= 2) {
        Interval b = interval_between(s[1].meta, s[0].meta);
        int64_t x = b.reset ? s[0].meta.ts_ms - s[1].meta.ts_ms : b.ms;
        if (x > 0) iv = x;
    }
    int64_t age = now - s[0].meta.ts_ms;
    return age > 10 * iv ? "down" : age > 3 * iv ? "stale" : "up";
}

void opt(JsonWriter& w, const char* k, std::optional<double> v) {
    w.key(k);
    if (v) w.number(std::round(*v * 100) / 100);
    else w.null();
}

struct Vm {
    std::string name, uuid, ip, state = "unknown", presence;
    int64_t seen = 0;
    uint32_t vcpus = 0;
    uint64_t mem = 0, max = 0;
    std::optional<double> pct;
};

std::vector<Vm> vms(const Store& st, int64_t now) {
    static const char* const states[] = {"nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed",
                                         "pmsuspended"};
    std::vector<Vm> out;
    for (const EntityInfo& e : st.entities(Entity::vm)) {
        Vm v;
        v.name = e.name;
        v.ip = e.last.agent.text();
        v.seen = e.last.ts_ms;
        if (auto d = find_record<HostDescr>(e.records_raw)) v.uuid = d->uuid.text();
        auto s = newest(st, Entity::vm, e.name, now, 2);
        v.presence = presence(s, now);
        std::optional<VirtCpu> c, pc;
        std::optional<VirtMemory> m, pmem;
        SampleMeta cm, pm, mm, pmm;
        two(s, c, pc, cm, pm);
        two(s, m, pmem, mm, pmm);
        if (c) {
            v.vcpus = c->vcpu_cpu_count;
            if (c->vcpu_state < 8) v.state = states[c->vcpu_state];
            if (pc && !interval_between(pm, cm).reset) v.pct = vcpu_util(*pc, *c, interval_between(pm, cm).seconds);
        }
        if (m) v.mem = m->vmem_memory, v.max = m->vmem_max_memory;
        out.push_back(v);
    }
    return out;
}

void write_vm(JsonWriter& w, const Vm& v) {
    w.sep();
    w.begin_object();
    w.key("hostname"), w.string(v.name);
    w.key("uuid"), w.string(v.uuid);
    w.key("host_ip"), w.string(v.ip);
    w.key("state"), w.string(v.state);
    w.key("presence"), w.string(v.presence);
    w.key("vcpu_cpu_count"), w.number(v.vcpus);
    opt(w, "vcpu_util_pct", v.pct);
    w.key("vmem_memory_bytes"), w.number(v.mem);
    w.key("vmem_max_memory_bytes"), w.number(v.max);
    w.key("last_seen_ms"), w.number(v.seen);
    w.end_object();
}

std::string cluster_status(const Store& st, int64_t now) {
    std::vector<Vm> all = vms(st, now);
    std::string out;
    JsonWriter w(out);
    uint64_t n = 0, up = 0, stale = 0, down = 0, cpus = 0, mem_total = 0;
    std::vector<std::pair<std::string, EntityInfo>> hosts;
    for (auto& e : st.entities(Entity::host)) hosts.emplace_back(Address::from_raw(e.name).text(), e);
    std::sort(hosts.begin(), hosts.end(), [](auto& a, auto& b) { return a.first < b.first; });
    w.begin_object();
    w.key("hosts");
    w.begin_array();
    for (auto& [ip, e] : hosts) {
        auto s = newest(st, Entity::host, e.name, now, 3);
        std::string keep;
        std::string p = presence(s, now);
        std::optional<HostCpu> c, pc;
        std::optional<HostMemory> m, pm_;
        std::optional<HostDiskIo> d, pd;
        std::optional<HostNetIo> net, pnet;
        SampleMeta a, b, x, y, dm, pdm, nm, pnm;
        two(s, c, pc, a, b);
        two(s, m, pm_, x, y);
        two(s, d, pd, dm, pdm);
        two(s, net, pnet, nm, pnm);
        w.sep();
        w.begin_object();
        w.key("host_ip"), w.string(ip);
        w.key("hostname"), w.string(descr(st, e, keep).hostname.value);
        w.key("presence"), w.string(p);
        w.key("last_seen_ms"), w.number(e.last.ts_ms);
        w.key("cpu_uptime_s");
        if (c) w.number(c->cpu_uptime);
        else w.null();
        w.key("cpu_num"), w.number(c ? c->cpu_num : 0u);
        std::optional<double> util, used, part, bin, bout;
        if (c && pc && !interval_between(b, a).reset)
            if (auto sp = cpu_split(*pc, *c)) util = sp->util;
        opt(w, "cpu_util_pct", util);
        opt(w, "cpu_load_one", c ? std::optional<double>(c->cpu_load_one) : std::nullopt);
        if (m && m->mem_total)
            used = 100.0 * std::max(0.0, double(m->mem_total) - double(m->mem_free) - double(m->mem_buffers) -
                                             double(m->mem_cached)) /
                   double(m->mem_total);
        opt(w, "mem_used_pct", used);
        if (d && d->part_max_used.value >= 0) part = d->part_max_used.value / 100.0;
        opt(w, "part_max_used_pct", part);
        if (pnet) {
            Interval iv = interval_between(pnm, nm);
            if (!iv.reset && iv.seconds > 0) {
                bin = double(net->bytes_in - pnet->bytes_in) / iv.seconds;
                bout = double(net->bytes_out - pnet->bytes_out) / iv.seconds;
            }
        }
        opt(w, "bytes_in_per_s", bin);
        opt(w, "bytes_out_per_s", bout);
        w.key("vms");
        w.begin_array();
        uint64_t vcpus = 0, vmax = 0;
        for (const Vm& v : all)
            if (v.ip == ip && v.presence != "down") {
                w.sep(), w.string(v.name);
                vcpus += v.vcpus, vmax += v.max;
            }
        w.end_array();
        uint64_t hc = c ? c->cpu_num : 0, hm = m ? m->mem_total : 0;
        opt(w, "vcpu_overcommit_ratio", hc ? std::optional<double>(double(vcpus) / double(hc)) : std::nullopt);
        opt(w, "mem_overcommit_ratio", hm ? std::optional<double>(double(vmax) / double(hm)) : std::nullopt);
        w.end_object();
        ++n;
        ++(p == "up" ? up : p == "stale" ? stale : down);
        if (p != "down") cpus += hc, mem_total += hm;
    }
    w.end_array();
    w.key("vms");
    w.begin_array();
    uint64_t running = 0, vcpus = 0, vmax = 0;
    for (const Vm& v : all) {
        write_vm(w, v);
        if (v.presence != "down" && v.state == "running") ++running, vcpus += v.vcpus, vmax += v.max;
    }
    w.end_array();
    w.key("totals");
    w.begin_object();
    for (auto [k, v] : std::vector<std::pair<const char*, uint64_t>>{
             {"hosts", n}, {"hosts_up", up}, {"hosts_stale", stale}, {"hosts_down", down}, {"vms", all.size()},
             {"vms_running", running}, {"cpu_num", cpus}, {"vcpu_cpu_count", vcpus}, {"mem_total_bytes", mem_total},
             {"vmem_max_memory_bytes", vmax}})
        w.key(k), w.number(v);
    opt(w, "vcpu_overcommit_ratio", cpus ? std::optional<double>(double(vcpus) / double(cpus)) : std::nullopt);
    opt(w, "mem_overcommit_ratio", mem_total ? std::optional<double>(double(vmax) / double(mem_total)) : std::nullopt);
    w.end_object();
    w.key("timestamp"), w.number(now);
    w.end_object();
    return out;
}

std::string host_vms(const Store& st, const std::string& ip, int64_t now) {
    std::string out;
    JsonWriter w(out);
    w.begin_array();
    for (const Vm& v : vms(st, now))
        if (v.ip == ip && v.presence != "down") write_vm(w, v);
    w.end_array();
    return out;
}

std::string host_description(const Store& st) {
    std::vector<std::pair<std::string, EntityInfo>> hosts;
    for (auto& e : st.entities(Entity::host)) hosts.emplace_back(Address::from_raw(e.name).text(), e);
    std::sort(hosts.begin(), hosts.end(), [](auto& a, auto& b) { return a.first < b.first; });
    std::string out;
    JsonWriter w(out);
    w.begin_array();
    for (auto& [ip, e] : hosts) {
        std::string keep;
        HostDescr d = descr(st, e, keep);
        w.sep();
        w.begin_object();
        w.key("host_ip"), w.string(ip);
        w.api_fields(d);
        w.end_object();
    }
    w.end_array();
    return out;
}

std::string virt_description(const Store& st) {
    std::string out;
    JsonWriter w(out);
    w.begin_array();
    for (auto& e : st.entities(Entity::vm)) {
        w.sep();
        w.begin_object();
        w.key("host_ip"), w.string(e.last.agent.text());
        w.key("hostname"), w.string(e.name);
        w.end_object();
    }
    w.end_array();
    return out;
}

}  // namespace oracle

// ---- the service's answers --------------------------------------------------------------------

std::string result_of(const Api& api, const std::string& method, const std::string& params, int64_t now) {
    std::string body = api.handle(R"({"jsonrpc":"2.0","method":")" + method + R"(","params":)" + params + R"(,"id":1})", now)
                           .body;
    const std::string head = R"({"jsonrpc":"2.0","result":)", tail = R"(,"id":1})";
    REQUIRE_MESSAGE(body.compare(0, head.size(), head) == 0, body);
    REQUIRE_MESSAGE(body.size() >= head.size() + tail.size(), body);
    return body.substr(head.size(), body.size() - head.size() - tail.size());
}

// Every summary method, from the table and from the oracle, at these times.
void same_answers(const Store& st, const std::vector<int64_t>& nows) {
    Stats stats;
    ApiOptions opts;
    opts.reply_limit = size_t(1) << 30;
    Api api(opts, st, stats);
    CHECK(result_of(api, "host.description", "{}", nows.front()) == oracle::host_description(st));
    CHECK(result_of(api, "virt.description", "{}", nows.front()) == oracle::virt_description(st));
    for (int64_t now : nows) {
        CAPTURE(now);
        CHECK(result_of(api, "cluster.status", "{}", now) == oracle::cluster_status(st, now));
        for (const EntityInfo& h : st.entities(Entity::host)) {
            std::string ip = Address::from_raw(h.name).text();
            CHECK(result_of(api, "host.vms", R"({"ip":")" + ip + R"("})", now) == oracle::host_vms(st, ip, now));
        }
    }
}

// sflow-gen's datagrams, stored at their own times, several rounds per batch (or one each).
struct Traffic {
    GenResult gen;
    Stats stats;
    size_t next = 0;
    explicit Traffic(const GenOptions& o) : gen(generate(o)) {}
    int64_t ts(size_t i) const { return gen.datagrams[i].ts_us / 1000; }
    // Writes the next n datagrams' samples as one batch; returns the newest time written.
    template <class S>  // Store, or CompactingStore (compacted after each write under SFM_UNIT_COMPACT)
    int64_t write(S& st, size_t n) {
        SampleBatch b;
        int64_t last = 0;
        for (; n && next < gen.datagrams.size(); --n, ++next) {
            samples_to_store(decode_datagram(gen.datagrams[next].bytes), ts(next), b, stats);
            last = ts(next);
        }
        st.write(b);
        return last;
    }
    bool done() const { return next == gen.datagrams.size(); }
};

StoreOptions store_at(const TempDir& dir) { return {dir / "db", 64 << 20, 7 * 86400000LL}; }

}  // namespace

TEST_CASE("the table answers as the store does, batch after batch, through a migration") {
    TempDir dir;
    sfm::test::CompactingStore st(store_at(dir));
    GenOptions o;
    o.hosts = 4;
    o.vms = 3;
    o.rounds = 12;
    o.migrate = true;  // VM 1 of host 1 moves to host 2 halfway
    Traffic t(o);
    size_t sizes[] = {1, 3, 7, 2, 11};
    for (size_t k = 0; !t.done(); ++k) {
        int64_t last = t.write(st, sizes[k % std::size(sizes)]);
        // just after, later (stale, down), and before the newest samples (the store's path)
        same_answers(st, {last, last + 40'000, last + 3'600'000, last - 2'500});
    }
    // the migrated VM is listed under its new host only
    Stats stats;
    Api api(ApiOptions{}, st, stats);
    std::string on2 = result_of(api, "host.vms", R"({"ip":"10.0.0.2"})", t.ts(t.next - 1));
    std::string on3 = result_of(api, "host.vms", R"({"ip":"10.0.0.3"})", t.ts(t.next - 1));
    CHECK(on2.find("\"host_ip\":\"10.0.0.2\"") != std::string::npos);
    CHECK(on3.find("\"host_ip\":\"10.0.0.2\"") == std::string::npos);
}

TEST_CASE("the table rebuilt when the store opens answers as before the restart") {
    TempDir dir;
    GenOptions o;
    o.hosts = 3;
    o.vms = 2;
    o.rounds = 6;
    o.migrate = true;
    Traffic t(o);
    std::vector<std::string> before;
    int64_t last = 0;
    auto answers = [&](const Store& st) {
        Stats stats;
        Api api(ApiOptions{}, st, stats);
        std::vector<std::string> a;
        for (const char* m : {"cluster.status", "host.description", "virt.description"})
            a.push_back(result_of(api, m, "{}", last + 1000));
        a.push_back(result_of(api, "host.vms", R"({"ip":"10.0.0.3"})", last + 1000));
        return a;
    };
    {
        sfm::test::CompactingStore st(store_at(dir));
        while (!t.done()) last = t.write(st, 5);
        before = answers(st);
        same_answers(st, {last + 1000});
    }
    Store again(store_at(dir));
    CHECK(again.current().size() == 3 + 3 * 2);
    CHECK(answers(again) == before);
    same_answers(again, {last + 1000, last - 1, last + 600'000});
}

TEST_CASE("a purge removes what it removed from the store from the table too") {
    TempDir dir;
    sfm::test::CompactingStore st(store_at(dir));
    GenOptions o;
    o.hosts = 2;
    o.vms = 2;
    o.rounds = 4;
    o.interval_ms = 20000;
    Traffic t(o);
    while (!t.done()) t.write(st, 4);
    int64_t first = t.ts(0), last = t.ts(t.next - 1);
    // a host and a VM that sent only long ago, and a younger one of each
    GenOptions old = o;
    old.agent_base = *Address::parse("10.9.0.1");
    old.hosts = 3;  // its VMs vm-003-* are its own; vm-001-*, vm-002-* have younger samples too
    old.rounds = 1;
    old.start_us = (first - 6 * 86400000LL) * 1000;
    Traffic t2(old);
    t2.write(st, 100);
    CHECK(st.current().size() == 2 + 4 + 3 + 2);
    same_answers(st, {last});
    // retention 7 d: cut between the old round and the rest, then inside the rest
    st.purge(first + 86400000LL + 20000);
    CHECK(st.current().size() == 2 + 4);
    same_answers(st, {last, last + 120'000});
    st.purge(last + 7 * 86400000LL - 30000);  // keeps only the last round or two
    same_answers(st, {last, last + 120'000});
    st.purge(last + 7 * 86400000LL + 1);  // everything
    CHECK(st.current().size() == 0);
    same_answers(st, {last});
}

TEST_CASE("an allocation failing anywhere in a write loses no stored sample and leaves no entity behind") {
    // Every allocation of one batch's write, in turn, fails: before the commit the batch is not
    // stored (and says so); after it, in the current state's update, it is stored
    // (CurrentNotUpdated), and the entities it touched show their next batches as usual.
    size_t in_table = 0, before_commit = 0;
    for (long n = 0;; ++n) {
        REQUIRE(n < 20000);
        CAPTURE(n);
        TempDir dir;
        Store st(store_at(dir));
        GenOptions o;
        o.hosts = 2;
        o.vms = 2;
        o.rounds = 8;
        Traffic t(o);
        t.write(st, 6);
        uint64_t stored = st.stats().samples;
        SampleBatch b;
        for (size_t k = 0; k < 6; ++k, ++t.next)
            samples_to_store(decode_datagram(t.gen.datagrams[t.next].bytes), t.ts(t.next), b, t.stats);
        bool committed = true;
        fail_new_in = n;
        try {
            st.write(b);
        } catch (const CurrentNotUpdated&) {
            ++in_table;
        } catch (const std::bad_alloc&) {
            ++before_commit;
            committed = false;
        }
        bool fired = fail_new_in < 0;
        fail_new_in = -1;
        CHECK(st.stats().samples == stored + (committed ? b.size() : 0));
        int64_t last = 0;
        while (!t.done()) last = t.write(st, 4);  // three rounds or more for every entity
        same_answers(st, {last, last + 40'000});
        if (!fired) break;  // the write needed fewer than n allocations: every one has failed once
    }
    MESSAGE("allocations failed in the table's update: " << in_table << ", before the commit: " << before_commit);
    CHECK(in_table > 10);  // the failures reached the table's update, and before it
    CHECK(before_commit > 0);
}

TEST_CASE("a description found in an older sample, within the last 256 and beyond, as the store has it") {
    TempDir dir;
    std::optional<sfm::test::CompactingStore> store(std::in_place, store_at(dir));
    Stats stats;
    uint32_t seq = 0;
    auto reopen = [&] {  // the table rebuilt from the store
        store.reset();
        store.emplace(store_at(dir));
    };
    auto sample = [&](const char* agent, int64_t ts, const char* hostname, bool second_source = false) {
        ++seq;
        HostCpu cpu;
        cpu.cpu_user = seq * 100;
        cpu.cpu_idle = seq * 300;
        cpu.cpu_num = 2;
        DatagramBuilder b(*Address::parse(agent), 100001, seq, seq * 1000);
        auto& s = b.counter_sample(seq, 2, 1).add(cpu);
        if (hostname) {
            HostDescr d;
            d.hostname.value = hostname;
            d.os_release.value = "6.1";
            s.add(d);
        }
        if (second_source) b.counter_sample(seq, 2, 2).add(cpu);  // same host, newer, no description
        std::vector<StoredSample> out;
        samples_to_store(decode_datagram(b.build()), ts, out, stats);
        store->write(out);
    };
    const Store& st = *store;
    sample("10.0.0.1", 1000, "first");
    sample("10.0.0.2", 1000, nullptr);  // never described
    for (int i = 1; i <= 5; ++i) sample("10.0.0.1", 1000 + 20000 * i, nullptr);
    same_answers(st, {200'000});
    sample("10.0.0.1", 200'000, "second", true);
    same_answers(st, {200'000});
    // out of order: an older described sample does not replace a newer description
    sample("10.0.0.1", 150'000, "older");
    same_answers(st, {200'000});
    reopen();
    same_answers(*store, {200'000});
    for (int i = 1; i <= 254; ++i) sample("10.0.0.1", 200'000 + 20000 * i, nullptr);
    same_answers(*store, {200'000 + 20000 * 254});  // 255 newer: still found
    reopen();
    same_answers(*store, {200'000 + 20000 * 254});
    sample("10.0.0.1", 200'000 + 20000 * 255, nullptr);
    same_answers(*store, {200'000 + 20000 * 255});  // 256 newer: beyond the look-back
    reopen();
    same_answers(*store, {200'000 + 20000 * 255});
    sample("10.0.0.1", 200'000 + 20000 * 256, "third");
    same_answers(*store, {200'000 + 20000 * 256});
}

TEST_CASE("readers never see a torn entry while the writer commits") {
    TempDir dir;
    Store st(store_at(dir));
    GenOptions o;
    o.hosts = 3;
    o.vms = 4;
    o.rounds = 40;
    Traffic t(o);
    t.write(st, 3);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> reads{0}, torn{0}, failed{0};
    std::thread reader([&] {
        Stats stats;
        Api api(ApiOptions{}, st, stats);
        while (!stop) {
            // every entry's fields agree with each other: a VM's host_ip is its newest sample's agent
            for (const auto& vm : st.current().vms())
                if (vm->held.size() == 0 || vm->text->host_ip != vm->last.agent.text() ||
                    vm->held[0].meta.ts_ms != vm->last.ts_ms ||
                    vm->text->description.find(vm->text->host_ip) == std::string::npos ||
                    vm->text->head.find(vm->text->host_ip) == std::string::npos)
                    ++torn;
            for (const auto& h : st.current().hosts())
                if (h->ip != Address::from_raw(h->name).text() || h->held[0].meta.ts_ms != h->last.ts_ms) ++torn;
            std::string body = api.handle(R"({"jsonrpc":"2.0","method":"cluster.status","id":1})", INT64_MAX / 4).body;
            if (body.find("\"result\"") == std::string::npos) ++failed;
            ++reads;
        }
    });
    while (!t.done()) t.write(st, 2);
    stop = true;
    reader.join();
    CHECK(reads > 0);
    CHECK(torn == 0);
    CHECK(failed == 0);
    same_answers(st, {t.ts(t.next - 1)});
}

namespace {

// The totals cluster.status gives for these hosts and VMs (the whole answer's, recounted).
Json::Value totals_of(const Json::Value& hosts, const Json::Value& vms) {
    uint64_t up = 0, stale = 0, down = 0, cpus = 0, mem = 0, running = 0, vcpus = 0, vmax = 0;
    for (const Json::Value& h : hosts) {
        std::string p = h["presence"].asString();
        ++(p == "up" ? up : p == "stale" ? stale : down);
        if (p != "down") {
            cpus += h["cpu_num"].asUInt64();
            // mem_total is not in a host's entry: its share of the whole answer's is checked below
        }
    }
    for (const Json::Value& v : vms)
        if (v["presence"].asString() != "down" && v["state"].asString() == "running") {
            ++running;
            vcpus += v["vcpu_cpu_count"].asUInt64();
            vmax += v["vmem_max_memory_bytes"].asUInt64();
        }
    Json::Value t;
    t["hosts"] = Json::UInt64(hosts.size());
    t["hosts_up"] = Json::UInt64(up);
    t["hosts_stale"] = Json::UInt64(stale);
    t["hosts_down"] = Json::UInt64(down);
    t["vms"] = Json::UInt64(vms.size());
    t["vms_running"] = Json::UInt64(running);
    t["cpu_num"] = Json::UInt64(cpus);
    t["vcpu_cpu_count"] = Json::UInt64(vcpus);
    t["vmem_max_memory_bytes"] = Json::UInt64(vmax);
    (void)mem;
    return t;
}

void same_totals(const Json::Value& got, const Json::Value& want) {
    for (const std::string& k : want.getMemberNames()) CHECK_MESSAGE(got[k].asUInt64() == want[k].asUInt64(), k);
}

}  // namespace

TEST_CASE("cluster.status filters keep exactly the hosts and VMs of the whole answer that pass them") {
    TempDir dir;
    Store st(store_at(dir));
    GenOptions o;
    o.hosts = 5;
    o.vms = 3;
    o.rounds = 6;
    o.migrate = true;
    Traffic t(o);
    while (!t.done()) t.write(st, 4);
    // some hosts and VMs stop sending: stale and down ones to filter
    GenOptions more = o;
    more.hosts = 2;
    more.rounds = 30;
    more.start_us = (t.ts(0) + 6 * 5000) * 1000;  // carries on after the rounds above
    Traffic t2(more);
    while (!t2.done()) t2.write(st, 6);
    int64_t now = t2.ts(t2.next - 1) + 2000;
    Stats stats;
    Api api(ApiOptions{}, st, stats);
    auto status = [&](const std::string& params) {
        return sfm::test::parse_json(result_of(api, "cluster.status", params, now));
    };
    Json::Value full = status("{}");
    REQUIRE(full["hosts"].size() == 5);
    std::set<std::string> presences;
    for (const Json::Value& h : full["hosts"]) presences.insert(h["presence"].asString());
    CHECK(presences.size() >= 2);  // the filters below have something to tell apart
    auto pick = [](const Json::Value& list, auto keep) {
        Json::Value out(Json::arrayValue);
        for (const Json::Value& x : list)
            if (keep(x)) out.append(x);
        return out;
    };
    // hosts
    for (std::vector<std::string> ips : std::vector<std::vector<std::string>>{
             {"10.0.0.2"}, {"10.0.0.5", "10.0.0.1"}, {"10.0.0.3", "192.0.2.1"}, {}}) {
        std::string list;
        for (auto& ip : ips) list += (list.empty() ? "\"" : ",\"") + ip + "\"";
        CAPTURE(list);
        Json::Value got = status(R"({"hosts":[)" + list + "]}");
        auto listed = [&](const std::string& ip) { return std::count(ips.begin(), ips.end(), ip) > 0; };
        Json::Value hosts = pick(full["hosts"], [&](const Json::Value& h) { return listed(h["host_ip"].asString()); });
        Json::Value vms = pick(full["vms"], [&](const Json::Value& v) { return listed(v["host_ip"].asString()); });
        CHECK(got["hosts"] == hosts);
        CHECK(got["vms"] == vms);
        same_totals(got["totals"], totals_of(hosts, vms));
    }
    // state
    for (std::vector<std::string> states : std::vector<std::vector<std::string>>{
             {"up"}, {"down"}, {"stale", "down"}, {"running"}, {"up", "shutoff"}, {"crashed"}}) {
        std::string list;
        for (auto& s : states) list += (list.empty() ? "\"" : ",\"") + s + "\"";
        CAPTURE(list);
        Json::Value got = status(R"({"state":[)" + list + "]}");
        auto listed = [&](const Json::Value& v) { return std::count(states.begin(), states.end(), v.asString()) > 0; };
        Json::Value hosts = pick(full["hosts"], [&](const Json::Value& h) { return listed(h["presence"]); });
        Json::Value vms = pick(full["vms"], [&](const Json::Value& v) { return listed(v["presence"]) || listed(v["state"]); });
        CHECK(got["hosts"] == hosts);
        CHECK(got["vms"] == vms);
        same_totals(got["totals"], totals_of(hosts, vms));
    }
    // both, positionally, without the VM list
    Json::Value got = status(R"([["10.0.0.1","10.0.0.4"],"up",false])");
    CHECK(!got.isMember("vms"));
    Json::Value hosts = pick(full["hosts"], [&](const Json::Value& h) {
        return (h["host_ip"] == "10.0.0.1" || h["host_ip"] == "10.0.0.4") && h["presence"] == "up";
    });
    Json::Value vms = pick(full["vms"], [&](const Json::Value& v) {
        return (v["host_ip"] == "10.0.0.1" || v["host_ip"] == "10.0.0.4") && v["presence"] == "up";
    });
    CHECK(got["hosts"] == hosts);
    same_totals(got["totals"], totals_of(hosts, vms));
    CHECK(status(R"({"include_vms":true})") == full);
    // rpc.discover describes them
    Json::Value d = sfm::test::parse_json(result_of(api, "rpc.discover", "{}", now));
    for (const Json::Value& m : d["methods"])
        if (m["name"] == "cluster.status") {
            REQUIRE(m["params"].size() == 3);
            CHECK(m["params"][0]["name"] == "hosts");
            CHECK(m["params"][0]["schema"]["oneOf"][1]["type"] == "array");
            CHECK(m["params"][1]["name"] == "state");
            CHECK(m["params"][2]["name"] == "include_vms");
            CHECK(m["params"][2]["schema"]["type"] == "boolean");
        }
}
