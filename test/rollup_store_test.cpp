// Roll-ups against the raw samples they summarise. The oracle is the stepped answer computed
// from the raw samples (the path that reads no roll-up, ApiOptions::rollups = false): every
// series method, with and without derive, steps that are multiples of 5 min and of 1 h, over
// sflow-gen history with counter wraps, a VM migration, an agent restart, a silence that
// leaves buckets empty, lost samples (gaps) and samples missing a record (now and then, and in
// runs that put two samples holding it further apart than an interval may be). The roll-up answer
// must be byte for byte the same, before and after the raw samples are purged, and after the
// pass that builds them was killed (SIGKILL) several times on its way.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <lmdb.h>
#include <unistd.h>

#include <cmath>
#include <map>
#include <set>

#include "sflow_monitor/api.h"
#include "sflow_monitor/ingest.h"
#include "sflow_monitor/rollup.h"
#include "sflow_monitor/rollup_pass.h"
#include "sflow_monitor/sflow.h"
#include "sflow_monitor/stats.h"
#include "sflow_monitor/store.h"
#include "sflow_monitor/store_format.h"
#include "sflow_monitor/xdr.h"
#include "test_util.h"
#include "testkit/gen.h"

using namespace sfm;
using sfm::test::parse_json;
using sfm::test::TempDir;

namespace {

constexpr int64_t kInterval = 20000;
constexpr uint32_t kRounds = 1300;  // 7.2 hours
// 2026-01-01T00:00:00Z plus 7 minutes: the history does not start on a bucket boundary
constexpr int64_t kHour0 = 1767225600000;
constexpr int64_t kStart = kHour0 + 7 * 60000;

// The records region without the records of one format.
std::string without(std::string_view raw, uint32_t format) {
    XdrReader r(raw);
    uint32_t n = r.u32();
    std::string out;
    XdrWriter w(out);
    w.u32(0);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; ++i) {
        uint32_t f = r.u32();
        uint32_t len = r.u32();
        std::string_view body = r.opaque(len, "record");
        if (f == format) continue;
        w.u32(f);
        w.u32(len);
        out.append(body);
        ++kept;
    }
    w.patch_u32(0, kept);
    return out;
}

std::vector<StoredSample> history() {
    GenOptions go;
    go.hosts = 2;
    go.vms = 2;
    go.rounds = kRounds;
    go.interval_ms = kInterval;
    go.migrate = true;           // a VM of host 1 moves to host 2 half-way
    go.start_near_wrap = true;   // 32-bit counters wrap
    GenResult g = generate(go);
    Stats stats;
    std::vector<StoredSample> all;
    int64_t first_us = g.datagrams.front().ts_us;
    for (const GenDatagram& d : g.datagrams)
        samples_to_store(decode_datagram(d.bytes), kStart + (d.ts_us - first_us) / 1000, all, stats);
    std::vector<StoredSample> out;
    std::map<std::string, int> seen;
    for (StoredSample& s : all) {
        int64_t t = s.meta.ts_ms - kStart;
        int i = seen[s.name]++;
        if (t > 2 * 3600000 && t < 2 * 3600000 + 47 * 60000) continue;  // silence: empty buckets, then a gap
        if (i % 37 == 5) continue;                                       // a lost sample: a gap
        if (s.kind == Entity::host && i % 11 == 3) s.records_raw = without(s.records_raw, HostMemory::format);
        if (s.kind == Entity::vm && i % 13 == 4) s.records_raw = without(s.records_raw, VirtDiskIo::format);
        // runs of samples without virt_disk_io: 17 samples from the one before to the one after
        // (an interval too far apart to count: derive.h, kNearSamples), across the hour 1 boundary
        // and across where the purge below cuts the raw samples too; 16 (counted)
        if (s.name == "vm-002-02" &&
            ((i >= 150 && i < 170) || (i > 200 && i < 216) || (i > 311 && i < 328) || (i >= 540 && i < 560)))
            s.records_raw = without(s.records_raw, VirtDiskIo::format);
        if (s.kind == Entity::host && s.meta.agent == *Address::parse("10.0.0.1") && t > 5 * 3600000) {
            s.meta.uptime -= 5 * 3600000;  // the agent restarted: uptime and sequence start again
            s.meta.sample_sequence -= 800;
        }
        out.push_back(std::move(s));
    }
    return out;
}

ApiOptions raw_only() {
    ApiOptions o;
    o.rollups = false;
    return o;
}

struct Fixture {
    TempDir dir;
    // raw samples kept a day (purge() below drops them all), roll-ups ten years
    sfm::test::CompactingStore store{{dir / "db", 256 << 20, 86400000LL, 3650 * 86400000LL}};
    Stats stats;
    Api rollups{ApiOptions{}, store, stats};
    Api raw{raw_only(), store, stats};
    int64_t end = 0;
    Fixture() {
        std::vector<StoredSample> h = history();
        for (const auto& s : h) end = std::max(end, s.meta.ts_ms);
        for (size_t i = 0; i < h.size(); i += 500)
            store.write(std::vector<StoredSample>(h.begin() + long(i), h.begin() + long(std::min(h.size(), i + 500))));
        // small runs, which stop inside chunks: a chunk is read again and completed
        RollupPass pass(store, {60000, 1000, 5});
        int runs = 0;
        uint64_t built = 0;
        do {
            built += pass.run(end + 2 * 3600000);
            ++runs;
        } while (pass.behind() && runs < 10000);
        REQUIRE(!pass.behind());
        REQUIRE(runs > 3);
        CHECK(built > 6 * 80);  // each bucket once: 5-minute buckets of 7.2 hours less the silence
        CHECK(built < 6 * 100);
    }
    static std::string body(const std::string& method, const std::string& who, const std::string& params) {
        return R"({"jsonrpc":"2.0","method":")" + method + R"(","params":{)" + who + "," + params + R"(},"id":1})";
    }
};

const char* const kHostMethods[] = {"host.cpu", "host.memory", "host.disk", "host.net", "host.node"};
const char* const kVmMethods[] = {"virt.cpu", "virt.memory", "virt.disk", "virt.net"};
const char* const kSteps[] = {"300000", "\"10m\"", "\"35m\"", "\"1h\"", "\"2h\"", "\"3h\""};

struct Query {
    std::string method, who, params;
};

std::vector<Query> queries(int64_t end, bool aligned_only) {
    std::vector<std::string> who;
    for (const char* ip : {"10.0.0.1", "10.0.0.2"}) who.push_back(std::string(R"("ip":")") + ip + "\"");
    std::vector<std::string> vms;
    for (const char* vm : {"vm-001-01", "vm-001-02", "vm-002-01", "vm-002-02"})
        vms.push_back(std::string(R"("hostname":")") + vm + "\"");
    // ranges: all of it; starting inside a bucket; ending inside one; one in the silence's wake
    std::vector<std::pair<int64_t, int64_t>> ranges = {{kHour0 + 1, end + 3600000},
                                                       {kHour0 + 3600000 + 1, kHour0 + 6 * 3600000}};
    if (!aligned_only) {
        ranges.push_back({kStart + 3600000 + 123457, end});
        ranges.push_back({kStart + 2 * 3600000 + 4567, kStart + 4 * 3600000 + 89});
    }
    std::vector<Query> out;
    for (auto [from, to] : ranges)
        for (const char* step : kSteps)
            for (const char* derive : {"false", "true"}) {
                std::string p = "\"from\":" + std::to_string(from) + ",\"to\":" + std::to_string(to) +
                                ",\"step\":" + step + ",\"derive\":" + derive;
                for (const auto& w : who)
                    for (const char* m : kHostMethods) out.push_back({m, w, p});
                for (const auto& w : vms)
                    for (const char* m : kVmMethods) out.push_back({m, w, p});
            }
    return out;
}

}  // namespace

namespace {

// Every bucket of the history ending by `end` built, as the service's pass builds them.
void build_all(Store& store, int64_t end) {
    RollupPass pass(store, {60000, 20000, 1000});
    for (int runs = 0; runs < 1000; ++runs) {
        pass.run(end + 2 * 3600000);
        if (!pass.behind()) break;
    }
}

}  // namespace

TEST_CASE("roll-ups answer every stepped series query exactly as the raw samples do") {
    Fixture f;
    StoreStats st = f.store.stats();
    CHECK(st.rollup_chunks[0] >= 6 * 2);  // 6 entities, 7.2 hours: 6 hours of 5-minute buckets each
    CHECK(st.rollup_chunks[0] <= 6 * 3);
    CHECK(st.rollup_chunks[1] == 6);      // and 14 days of 1-hour ones
    CHECK(f.stats.rollups_built == 0);    // (the pass here is the test's own)
    size_t compared = 0, records = 0;
    std::set<std::string> flags_seen;
    for (const Query& q : queries(f.end, false)) {
        std::string b = Fixture::body(q.method, q.who, q.params);
        std::string want = f.raw.handle(b, 1'000'000'000).body;
        std::string got = f.rollups.handle(b, 1'000'000'000).body;
        INFO(b);
        REQUIRE(want == got);
        Json::Value v = parse_json(want);
        REQUIRE(v.isMember("result"));
        records += v["result"].size();
        for (const auto& r : v["result"])
            for (const auto& fl : r["flags"]) flags_seen.insert(fl.asString());
        ++compared;
    }
    CHECK(compared == 4 * 6 * 2 * (2 * 5 + 4 * 4));
    CHECK(records > 10000);  // the answers are not empty
    CHECK(flags_seen.count("reset") == 1);  // the history has what it claims to have
    CHECK(flags_seen.count("gap") == 1);
}

TEST_CASE("with the raw samples purged, the roll-ups give the answers the raw samples gave") {
    Fixture f;
    std::vector<Query> qs = queries(f.end, true);  // ranges on bucket boundaries
    std::vector<std::string> before;
    for (const Query& q : qs) before.push_back(f.raw.handle(Fixture::body(q.method, q.who, q.params), 1'000'000'000).body);
    // the raw samples go (all older than the day of retention), the roll-ups stay
    f.store.purge(f.end + 86400000LL + 1);
    CHECK(f.store.stats().samples == 0);
    CHECK(f.store.stats().rollup_chunks[0] > 0);
    for (size_t i = 0; i < qs.size(); ++i) {
        std::string b = Fixture::body(qs[i].method, qs[i].who, qs[i].params);
        INFO(b);
        CHECK(f.rollups.handle(b, 1'000'000'000).body == before[i]);
    }
}

TEST_CASE("with the older raw samples purged, roll-ups and the raw samples left give the answers all raw samples gave") {
    Fixture f;
    std::vector<Query> qs = queries(f.end, true);
    std::vector<std::string> before;
    for (const Query& q : qs) before.push_back(f.raw.handle(Fixture::body(q.method, q.who, q.params), 1'000'000'000).body);
    uint64_t all = f.store.stats().samples;
    // raw samples before a time inside a 5-minute bucket go: the 5-minute roll-ups serve up to
    // that bucket's end, the raw samples after it; the 1-hour ones serve everywhere
    f.store.purge(kStart + 3 * 3600000 + 123457 + 86400000LL);
    uint64_t left = f.store.stats().samples;
    CHECK(left > all / 3);
    CHECK(left < all * 2 / 3);
    for (size_t i = 0; i < qs.size(); ++i) {
        std::string b = Fixture::body(qs[i].method, qs[i].who, qs[i].params);
        INFO(b);
        CHECK(f.rollups.handle(b, 1'000'000'000).body == before[i]);
    }
}

TEST_CASE("rollup-5m-retention: a purge drops the older 5-minute roll-ups, keeps the 1-hour ones; a 10-minute step answers what is left") {
    Fixture f;  // raw samples kept a day, 5-minute roll-ups 42 days (StoreOptions' default), 1-hour ones ten years
    const int64_t day = 86400000LL, span = rollup::kResolutions[1].chunk_ms;
    auto ask = [&](const char* step, bool derive, int64_t now) {
        std::string b = Fixture::body("host.cpu", R"("ip":"10.0.0.1")",
                                      "\"from\":" + std::to_string(kHour0 + 1) + ",\"to\":" + std::to_string(f.end + 3600000) +
                                          ",\"step\":" + step + ",\"derive\":" + (derive ? "true" : "false"));
        Json::Value v = parse_json(f.rollups.handle(b, now).body);
        REQUIRE_MESSAGE(v.isMember("result"), b << ": " << v.toStyledString());
        return v["result"];
    };
    auto store_stats = [&](int64_t now) {
        return parse_json(f.rollups.handle(R"({"jsonrpc":"2.0","method":"collector.stats","id":1})", now).body)["result"]["store"];
    };
    Json::Value ten = ask("\"10m\"", false, 1'000'000'000), hour = ask("\"1h\"", true, 1'000'000'000);
    REQUIRE(ten.size() > 30);
    REQUIRE(hour.size() > 5);
    // 42 days and a millisecond after the end of the first 6-hour chunk of 5-minute buckets: it
    // goes (its newest bucket starts before now - 42 d), the next one stays; so do the raw samples
    const int64_t first_end = kHour0 + 6 * 3600000, hour_chunk = rollup::bucket_end(kStart, span) - span;
    int64_t now = first_end + 42 * day + 1;
    f.store.purge(now);
    StoreStats st = f.store.stats();
    CHECK(st.samples == 0);
    CHECK(st.rollup_chunks[0] == 6);  // one chunk per entity left: the hours after first_end
    CHECK(st.rollup_chunks[1] == 6);
    CHECK(st.rollup_oldest_res_ms[0] == first_end);
    CHECK(st.rollup_oldest_res_ms[1] == hour_chunk);
    CHECK(st.rollup_oldest_ms == hour_chunk);
    Json::Value s = store_stats(now);
    CHECK(s["rollup_5m_held_days"].asDouble() == 42);
    CHECK(s["rollup_1h_held_days"].asDouble() == std::round(double(now - hour_chunk) / day * 100) / 100);
    CHECK(s["rollup_held_days"] == s["rollup_1h_held_days"]);
    // the 10-minute steps of the buckets left, as before; none of those that went
    Json::Value want(Json::arrayValue);
    for (const auto& r : ten)
        if (r["timestamp"].asInt64() > first_end) want.append(r);
    CHECK(want.size() > 3);
    CHECK(want.size() < ten.size());
    CHECK(ask("\"10m\"", false, now) == want);
    CHECK(ask("\"1h\"", true, now) == hour);
    // every 5-minute roll-up older than the retention: steps of 10 and 35 minutes answer an empty
    // list (no error), whole hours as before
    now = f.end + 42 * day + 6 * 3600000;
    f.store.purge(now);
    st = f.store.stats();
    CHECK(st.rollup_chunks[0] == 0);
    CHECK(st.rollup_chunks[1] == 6);
    CHECK(st.rollup_oldest_res_ms[0] == 0);
    CHECK(store_stats(now)["rollup_5m_held_days"].isNull());
    CHECK(ask("\"10m\"", false, now).size() == 0);
    CHECK(ask("\"35m\"", true, now).size() == 0);
    CHECK(ask("\"1h\"", true, now) == hour);
}

TEST_CASE("a roll-up pass killed with SIGKILL loses and doubles no bucket: finished afterwards, it answers as the raw samples") {
    TempDir dir;
    StoreOptions so{dir / "db", 256 << 20, 3650 * 86400000LL, 3650 * 86400000LL};
    int64_t end = 0;
    {
        Store store(so);
        std::vector<StoredSample> h = history();
        for (const auto& s : h) end = std::max(end, s.meta.ts_ms);
        for (size_t i = 0; i < h.size(); i += 500)
            store.write(std::vector<StoredSample>(h.begin() + long(i), h.begin() + long(std::min(h.size(), i + 500))));
    }
    int64_t now = end + 2 * 3600000;
    // progress: the marks' sum, which each committed run raises; complete: every mark at the
    // newest closed bucket of its resolution
    auto progress = [&](const Store& store) {
        int64_t sum = 0;
        for (const std::string& e : store.entity_keys("", 100))
            for (size_t r = 0; r < rollup::kResolutionCount; ++r)
                sum += store.scan_rollups(r, e, 0, 0, [](int64_t, std::string_view) { return false; }).value_or(0);
        return sum;
    };
    int64_t closed = rollup::floor_div(now - 60000, 300000) * 300000, complete = 0;
    for (const auto& r : rollup::kResolutions) complete += 6 * (rollup::floor_div(closed, r.ms) * r.ms);
    int64_t seen = 0;
    for (int round = 0; round < 12; ++round) {
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {  // the writer: small runs, each ending in a commit, until killed
            try {
                Store store(so);
                RollupPass pass(store, {60000, 50, 1});
                for (;;) pass.run(now);
            } catch (...) {
            }
            _exit(1);
        }
        {
            // kill it once it has committed more chunks than before: somewhere inside a run
            Store store(so);
            CHECK(sfm::test::wait_for([&] {
                int64_t p = progress(store);
                return p > seen || p == complete || round == 11;
            }, 20000));
            seen = progress(store);
        }
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status));
    }
    Store store(so);
    CHECK(progress(store) < complete);  // the kills left work: the pass below finishes it
    RollupPass pass(store, {60000, 5000, 50});
    for (int runs = 0; runs < 1000; ++runs) {
        pass.run(now);
        if (!pass.behind()) break;
    }
    Stats stats;
    Api rollups{ApiOptions{}, store, stats}, raw{raw_only(), store, stats};
    size_t compared = 0;
    for (const Query& q : queries(end, false)) {
        if (q.params.find("true") == std::string::npos) continue;  // with derive: every key
        std::string b = Fixture::body(q.method, q.who, q.params);
        INFO(b);
        REQUIRE(raw.handle(b, 1'000'000'000).body == rollups.handle(b, 1'000'000'000).body);
        ++compared;
    }
    CHECK(progress(store) == complete);
    CHECK(compared > 300);
}

TEST_CASE("a sample that arrives for a bucket already built has the bucket rebuilt whole") {
    Fixture f;  // every bucket built
    // one more sample of 10.0.0.2, an hour before the end, between two of its polls
    std::vector<StoredSample> h = history();
    StoredSample late;
    for (const StoredSample& s : h)
        if (s.kind == Entity::host && s.meta.agent == *Address::parse("10.0.0.2") && s.meta.ts_ms < f.end - 3600000)
            late = s;
    late.meta.ts_ms += kInterval / 2;
    const char* q = R"("from":1767225600001,"to":1767254400000,"step":"5m","derive":true)";
    std::string b = Fixture::body("host.cpu", R"("ip":"10.0.0.2")", q);
    std::string before = f.rollups.handle(b, 1'000'000'000).body;
    REQUIRE(before == f.raw.handle(b, 1'000'000'000).body);
    SampleBatch batch;
    batch.add(late);
    f.store.write(batch);
    CHECK(f.raw.handle(b, 1'000'000'000).body != before);  // the raw answer changed
    RollupPass pass(f.store, {60000, 1000, 5});
    pass.run(f.end + 2 * 3600000);  // its walk: every bucket was built, nothing to do
    pass.note_written(batch);
    CHECK(pass.behind());
    for (int runs = 0; runs < 100 && pass.behind(); ++runs) pass.run(f.end + 2 * 3600000);
    // purge the raw samples: the 5-minute roll-ups alone must now give the new raw answer
    std::string want = f.raw.handle(b, 1'000'000'000).body;
    f.store.purge(f.end + 86400000LL + 1);
    CHECK(f.store.stats().samples == 0);
    CHECK(f.rollups.handle(b, 1'000'000'000).body == want);
}

TEST_CASE("a late sample's bucket is read raw at once and rebuilt after a restart: its mark is lowered with the sample") {
    TempDir dir;
    StoreOptions so{dir / "db", 256 << 20, 86400000LL, 3650 * 86400000LL};  // raw samples a day
    std::vector<StoredSample> h = history();
    int64_t end = 0;
    for (const auto& s : h) end = std::max(end, s.meta.ts_ms);
    auto build = [&](Store& store) { build_all(store, end); };
    std::string host = store_format::entity_key(Entity::host, Address::parse("10.0.0.2")->raw());
    auto mark = [&](const Store& store, size_t res) {
        return store.scan_rollups(res, host, 0, 0, [](int64_t, std::string_view) { return false; });
    };
    StoredSample late;  // one more sample of 10.0.0.2, two hours before the end, between two polls
    for (const StoredSample& s : h)
        if (s.kind == Entity::host && s.meta.agent == *Address::parse("10.0.0.2") && s.meta.ts_ms < end - 2 * 3600000)
            late = s;
    late.meta.ts_ms += kInterval / 2;
    int64_t late_5m = rollup::bucket_end(late.meta.ts_ms, 300000) - 300000;
    int64_t late_1h = rollup::bucket_end(late.meta.ts_ms, 3600000) - 3600000;
    std::vector<Query> qs;
    for (const char* step : {"\"5m\"", "\"35m\"", "\"1h\""})
        for (const char* m : kHostMethods)
            qs.push_back({m, R"("ip":"10.0.0.2")",
                          std::string(R"("from":1767225600001,"to":1767254400000,"derive":true,"step":)") + step});
    auto same = [&](const Store& store) {
        Stats stats;
        Api rollups{ApiOptions{}, store, stats}, raw{raw_only(), store, stats};
        for (const Query& q : qs) {
            std::string b = Fixture::body(q.method, q.who, q.params);
            INFO(b);
            CHECK(raw.handle(b, 1'000'000'000).body == rollups.handle(b, 1'000'000'000).body);
        }
    };
    std::string before;
    {
        Store store(so);
        for (size_t i = 0; i < h.size(); i += 500)
            store.write(std::vector<StoredSample>(h.begin() + long(i), h.begin() + long(std::min(h.size(), i + 500))));
        build(store);
        REQUIRE(mark(store, 0) > late_5m);
        REQUIRE(mark(store, 1) > late_1h);
    }
    {
        Store store(so);  // opened again: the newest mark is found among the stored ones
        SampleBatch batch;
        batch.add(late);
        store.write(batch);
        CHECK(mark(store, 0) == late_5m);  // lowered with the sample
        CHECK(mark(store, 1) == late_1h);
        same(store);  // the answers are right at once: the raw samples from the mark on
    }  // a restart before any pass ran
    Store store(so);
    CHECK(mark(store, 0) == late_5m);
    build(store);  // a new pass's first walk
    CHECK(mark(store, 0) > late_5m);
    CHECK(mark(store, 1) > late_1h);
    same(store);
    // the roll-ups alone give the answers the raw samples gave, the late sample included
    Stats stats;
    Api raw{raw_only(), store, stats}, rollups{ApiOptions{}, store, stats};
    std::vector<std::string> want;
    for (const Query& q : qs) want.push_back(raw.handle(Fixture::body(q.method, q.who, q.params), 1'000'000'000).body);
    store.purge(end + 86400000LL + 1);
    REQUIRE(store.stats().samples == 0);
    for (size_t i = 0; i < qs.size(); ++i) {
        INFO(qs[i].params);
        CHECK(rollups.handle(Fixture::body(qs[i].method, qs[i].who, qs[i].params), 1'000'000'000).body == want[i]);
    }
}

TEST_CASE("roll-ups of an older bucket format (1, 2) are dropped when the store opens, and built again from the raw samples") {
    TempDir dir;
    StoreOptions so{dir / "db", 256 << 20, 3650 * 86400000LL, 3650 * 86400000LL};
    std::vector<StoredSample> h = history();
    int64_t end = 0;
    for (const auto& s : h) end = std::max(end, s.meta.ts_ms);
    auto build = [&](Store& store) { build_all(store, end); };
    std::string vm = store_format::entity_key(Entity::vm, "vm-001-02");
    auto mark = [&](const Store& store) {
        return store.scan_rollups(1, vm, 0, 0, [](int64_t, std::string_view) { return false; });
    };
    {
        Store store(so);
        for (size_t i = 0; i < h.size(); i += 500)
            store.write(std::vector<StoredSample>(h.begin() + long(i), h.begin() + long(std::min(h.size(), i + 500))));
        build(store);
        REQUIRE(mark(store));
    }
    // what a store written by a build before holds: roll-ups, and no rollup_format in info
    // (format 1) or an older one (older: 0 removes it, anything else is written; -1 reads only)
    auto info = [&](int older, uint64_t* format) {
        MDB_env* env = nullptr;
        REQUIRE(mdb_env_create(&env) == 0);
        mdb_env_set_maxdbs(env, 16);
        REQUIRE(mdb_env_open(env, (dir / "db").c_str(), 0, 0640) == 0);
        MDB_txn* txn = nullptr;
        MDB_dbi db;
        REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
        REQUIRE(mdb_dbi_open(txn, "info", 0, &db) == 0);
        MDB_val k{13, const_cast<char*>("rollup_format")}, v;
        int rc = mdb_get(txn, db, &k, &v);
        *format = rc == 0 ? store_format::decode_info_u64({static_cast<const char*>(v.mv_data), v.mv_size}) : 0;
        std::string val = store_format::encode_info_u64(uint64_t(older));
        MDB_val nv{val.size(), val.data()};
        if (older == 0) REQUIRE(mdb_del(txn, db, &k, nullptr) == 0);
        if (older > 0) REQUIRE(mdb_put(txn, db, &k, &nv, 0) == 0);
        REQUIRE(mdb_txn_commit(txn) == 0);
        mdb_env_close(env);
    };
    uint64_t format = 0;
    for (int older : {0, 2}) {  // format 1 (no rollup_format), then format 2
        CAPTURE(older);
        info(older, &format);
        CHECK(format == rollup::kBucketFormat);
        Store store(so);
        CHECK_FALSE(mark(store));  // dropped
        CHECK(store.stats().rollup_chunks[0] == 0);
        CHECK(store.stats().rollup_chunks[1] == 0);
        build(store);  // built again from the raw samples
        REQUIRE(mark(store));
        Stats stats;
        Api rollups{ApiOptions{}, store, stats}, raw{raw_only(), store, stats};
        for (const Query& q : queries(end, true)) {
            std::string b = Fixture::body(q.method, q.who, q.params);
            INFO(b);
            REQUIRE(raw.handle(b, 1'000'000'000).body == rollups.handle(b, 1'000'000'000).body);
        }
    }
    info(-1, &format);
    CHECK(format == rollup::kBucketFormat);
    Store store(so);
    CHECK(mark(store));  // this build's roll-ups stay
}
