#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include <lmdb.h>
#include <sys/statvfs.h>

#include "sflow_monitor/rollup_pass.h"
#include "sflow_monitor/store.h"
#include "test_util.h"
#include "testkit/encode.h"

using namespace sfm;
using sfm::test::TempDir;

namespace {

StoredSample host_sample(const std::string& ip, int64_t ts, uint32_t seq, uint32_t load_milli = 0) {
    StoredSample s;
    s.kind = Entity::host;
    s.name = std::string(Address::parse(ip)->raw());
    s.meta.ts_ms = ts;
    s.meta.agent = *Address::parse(ip);
    s.meta.sample_sequence = seq;
    s.meta.source_class = 2;
    s.meta.source_index = 1;
    HostCpu cpu;
    cpu.cpu_load_one = float(load_milli) / 1000;
    cpu.cpu_user = seq;
    std::string recs;
    XdrWriter(recs).u32(1);
    encode_record(recs, cpu);
    s.records_raw = recs;
    return s;
}

std::vector<int64_t> times(const Store& st, const std::string& ip, int64_t after, int64_t upto,
                           size_t limit = SIZE_MAX, bool newest_first = false) {
    std::vector<int64_t> out;
    st.scan(Entity::host, Address::parse(ip)->raw(), after, upto,
            [&](const SampleMeta& m, std::string_view) { out.push_back(m.ts_ms); }, limit, newest_first);
    return out;
}

}  // namespace

TEST_CASE("a window scan returns one entity's samples with after < t <= upto, oldest first") {
    TempDir dir;
    Store st({dir / "db", 64 << 20, 7 * 86400000LL});
    std::vector<StoredSample> batch;
    for (int i = 0; i < 10; ++i) batch.push_back(host_sample("10.0.0.1", 1000 + i * 100, i + 1));
    batch.push_back(host_sample("10.0.0.2", 1500, 1));
    st.write(batch);
    CHECK(times(st, "10.0.0.1", 1100, 1400) == std::vector<int64_t>{1200, 1300, 1400});
    CHECK(times(st, "10.0.0.1", 0, 1000) == std::vector<int64_t>{1000});
    CHECK(times(st, "10.0.0.2", 0, 5000) == std::vector<int64_t>{1500});
    CHECK(times(st, "10.0.0.3", 0, 5000).empty());
    CHECK(times(st, "10.0.0.1", 0, 5000, 2) == std::vector<int64_t>{1000, 1100});
    CHECK(times(st, "10.0.0.1", 0, 1650, 2, true) == std::vector<int64_t>{1600, 1500});
}

TEST_CASE("a scan hands back the sample's meta and records exactly as written") {
    TempDir dir;
    Store st({dir / "db", 64 << 20, 7 * 86400000LL});
    StoredSample s = host_sample("2001:db8::7", 5000, 42, 4620);
    s.meta.sub_agent_id = 100001;
    s.meta.datagram_sequence = 9;
    s.meta.uptime = 123456;
    st.write({s});
    int seen = 0;
    st.scan(Entity::host, s.name, 0, 6000, [&](const SampleMeta& m, std::string_view raw) {
        ++seen;
        CHECK(m.agent.text() == "2001:db8::7");
        CHECK(m.sub_agent_id == 100001);
        CHECK(m.datagram_sequence == 9);
        CHECK(m.uptime == 123456);
        CHECK(m.sample_sequence == 42);
        CHECK(raw == s.records_raw);
        CHECK(find_record<HostCpu>(raw)->cpu_load_one == 4.62f);
    });
    CHECK(seen == 1);
}

TEST_CASE("entities lists each host once with its newest sample") {
    TempDir dir;
    Store st({dir / "db", 64 << 20, 7 * 86400000LL});
    st.write({host_sample("10.0.0.2", 2000, 2), host_sample("10.0.0.1", 1000, 1)});
    st.write({host_sample("10.0.0.1", 3000, 3), host_sample("10.0.0.1", 2500, 9)});  // late arrival
    auto es = st.entities(Entity::host);
    REQUIRE(es.size() == 2);
    CHECK(Address::from_raw(es[0].name).text() == "10.0.0.1");
    CHECK(es[0].last.ts_ms == 3000);
    CHECK(es[0].last.sample_sequence == 3);
    CHECK(st.entities(Entity::vm).empty());
}

TEST_CASE("a reopened store still holds every sample written before it was closed") {
    TempDir dir;
    {
        Store st({dir / "db", 64 << 20, 7 * 86400000LL});
        std::vector<StoredSample> batch;
        for (int i = 0; i < 500; ++i) batch.push_back(host_sample("10.0.0.1", 1000 + i, i));
        st.write(batch);
    }
    Store st({dir / "db", 64 << 20, 7 * 86400000LL});
    CHECK(times(st, "10.0.0.1", 0, 1 << 30).size() == 500);
    CHECK(st.stats().samples == 500);
}

TEST_CASE("purge drops samples older than the retention and entities left empty") {
    TempDir dir;
    Store st({dir / "db", 64 << 20, 1000});
    std::vector<StoredSample> batch;
    for (int i = 0; i < 100; ++i) batch.push_back(host_sample("10.0.0.1", 10000 + i * 100, i));
    batch.push_back(host_sample("10.0.0.9", 100, 1));
    st.write(batch);
    uint64_t n = st.purge(20000, 7);  // cutoff 19000: small transactions
    CHECK(n == 90 + 1);
    auto left = times(st, "10.0.0.1", 0, 1 << 30);
    REQUIRE(left.size() == 10);
    CHECK(left.front() == 19000);
    CHECK(st.entities(Entity::host).size() == 1);
}

TEST_CASE("a full map makes the store drop its oldest data and keep taking writes") {
    TempDir dir;
    Store st({dir / "db", 2 << 20, 365 * 86400000LL});  // 2 MiB
    int64_t ts = 1;
    for (int round = 0; round < 400; ++round) {
        std::vector<StoredSample> batch;
        for (int i = 0; i < 50; ++i, ++ts) batch.push_back(host_sample("10.0.0.1", ts, uint32_t(ts)));
        REQUIRE_NOTHROW(st.write(batch));
    }
    auto newest = times(st, "10.0.0.1", ts - 51, ts);
    CHECK(newest.size() == 50);  // the last batch is all there
    CHECK(times(st, "10.0.0.1", 0, 100).empty());  // the oldest is gone
    CHECK(st.stats().used_bytes < st.stats().map_size);
}

TEST_CASE("a full map frees space also when the roll-ups' chunks begin long before the samples") {
    // A 1-hour chunk spans 14 days aligned on the epoch, so the roll-ups' oldest time can lie
    // days before the oldest sample: a purge cut at a tenth of that span freed nothing, and the
    // write was lost (make bench's query phase, 2026-12-08).
    TempDir dir;
    Store st({dir / "db", 4 << 20, 365 * 86400000LL});  // 4 MiB
    RollupPass pass(st);
    const int64_t start = 1767225600000LL + 13 * 86400000LL;  // a day before a 14-day boundary
    int64_t ts = start;
    uint32_t seq = 0;
    for (int round = 0; round < 600; ++round) {
        std::vector<StoredSample> batch;
        for (int i = 0; i < 100; ++i, ts += 20000) batch.push_back(host_sample("10.0.0.1", ts, ++seq));
        REQUIRE_NOTHROW(st.write(batch));
        if (round % 10 == 0) pass.run(ts + 120000);
    }
    CHECK(st.stats().rollup_chunks[1] > 0);
    auto newest = times(st, "10.0.0.1", ts - 100 * 20000 - 1, ts);
    CHECK(newest.size() == 100);  // the last batch is all there
    CHECK(times(st, "10.0.0.1", 0, start + 86400000).empty());  // the oldest day is gone
    CHECK(st.stats().used_bytes < st.stats().map_size);
}

namespace {

// cpu_load_one of each sample of 10.0.0.1 in (0, 2000], in scan order
std::vector<float> loads(const Store& st) {
    std::vector<float> out;
    st.scan(Entity::host, Address::parse("10.0.0.1")->raw(), 0, 2000,
            [&](const SampleMeta&, std::string_view raw) { out.push_back(find_record<HostCpu>(raw)->cpu_load_one); });
    return out;
}

}  // namespace

TEST_CASE("samples of one entity in the same millisecond are all kept, in arrival order") {
    TempDir dir;
    Store st({dir / "db", 64 << 20, 7 * 86400000LL});
    StoredSample a = host_sample("10.0.0.1", 1000, 1, 100);
    StoredSample b = host_sample("10.0.0.1", 1000, 2, 200);
    StoredSample c = host_sample("10.0.0.1", 1000, 3, 300);
    st.write({a, b});  // one batch: one block
    st.write({c});     // a later batch, same millisecond
    st.write({a});     // received twice: stored twice
    CHECK(loads(st) == std::vector<float>{0.1f, 0.2f, 0.3f, 0.1f});
    CHECK(st.stats().samples == 4);
}

TEST_CASE("a reopened store writes into a millisecond it already holds without overwriting it") {
    // The arrival number restarts at 0 with the process: the first keys it makes are taken,
    // and the write must move on to free ones (MDB_KEYEXIST), not fail nor overwrite.
    TempDir dir;
    StoredSample a = host_sample("10.0.0.1", 1000, 1, 100), b = host_sample("10.0.0.1", 1000, 2, 200),
                 c = host_sample("10.0.0.1", 1000, 3, 300), d = host_sample("10.0.0.1", 1000, 4, 400),
                 e = host_sample("10.0.0.1", 1000, 5, 500), f = host_sample("10.0.0.1", 1000, 6, 600);
    {
        Store st({dir / "db", 64 << 20, 7 * 86400000LL});
        st.write({a, b});
        st.write({c});
    }
    Store st({dir / "db", 64 << 20, 7 * 86400000LL});
    REQUIRE_NOTHROW(st.write({d}));
    REQUIRE_NOTHROW(st.write({e, f}));
    std::vector<float> got = loads(st);
    CAPTURE(got.size());
    CHECK(st.stats().samples == 6);
    // before the restart in their order, after it in theirs (where the two interleave within
    // the millisecond is not defined: the arrival number starts again at 0)
    std::vector<float> before, after;
    for (float x : got) (x <= 0.3f ? before : after).push_back(x);
    CHECK(before == std::vector<float>{0.1f, 0.2f, 0.3f});
    CHECK(after == std::vector<float>{0.4f, 0.5f, 0.6f});
}

TEST_CASE("many samples of one entity in a batch are stored as blocks and read back exactly") {
    TempDir dir;
    Store st({dir / "db", 64 << 20, 365 * 86400000LL});
    std::vector<StoredSample> batch;
    // 300 samples 50 ms apart: several blocks (at most 64 samples and 10 s each)
    for (int i = 0; i < 300; ++i) batch.push_back(host_sample("10.0.0.1", 1000 + i * 50, i, i));
    batch.push_back(host_sample("10.0.0.2", 1000, 7));
    st.write(batch);
    CHECK(st.stats().samples == 301);
    std::vector<int64_t> want;
    for (int i = 0; i < 300; ++i) want.push_back(1000 + i * 50);
    CHECK(times(st, "10.0.0.1", 0, 1 << 30) == want);
    // boundaries inside blocks, both directions, with limits
    CHECK(times(st, "10.0.0.1", 1000 + 70 * 50, 1000 + 75 * 50) ==
          std::vector<int64_t>(want.begin() + 71, want.begin() + 76));
    CHECK(times(st, "10.0.0.1", 1000 + 63 * 50, 1 << 30, 3) ==
          std::vector<int64_t>(want.begin() + 64, want.begin() + 67));
    CHECK(times(st, "10.0.0.1", 0, 1000 + 130 * 50, 2, true) ==
          std::vector<int64_t>{1000 + 130 * 50, 1000 + 129 * 50});
    // meta and records of a sample inside a block are its own
    int seen = 0;
    st.scan(Entity::host, Address::parse("10.0.0.1")->raw(), 1000 + 99 * 50, 1000 + 100 * 50,
            [&](const SampleMeta& m, std::string_view raw) {
                ++seen;
                CHECK(m.sample_sequence == 100);
                CHECK(m.agent == *Address::parse("10.0.0.1"));
                CHECK(raw == host_sample("10.0.0.1", 0, 100, 100).records_raw);
            });
    CHECK(seen == 1);
    // a purge cutting through a block keeps exactly the newer samples
    CHECK(st.purge(1000 + 100 * 50 + 365 * 86400000LL) == 100 + 1);
    CHECK(times(st, "10.0.0.1", 0, 1 << 30) == std::vector<int64_t>(want.begin() + 100, want.end()));
    CHECK(st.stats().samples == 200);
    CHECK(st.entities(Entity::host).size() == 1);
}

TEST_CASE("scans give time order and exact limits whatever order batches arrived in") {
    // Random batches of samples with distinct times in random order (as after clock steps),
    // checked against a sorted list for random windows, limits and directions.
    TempDir dir;
    Store st({dir / "db", 256 << 20, 365 * 86400000LL});
    std::mt19937 rng(12345);
    std::vector<int64_t> all;
    std::vector<int64_t> pool;
    for (int i = 0; i < 3000; ++i) pool.push_back(1000 + i * 37);
    std::shuffle(pool.begin(), pool.end(), rng);
    for (size_t at = 0; at < pool.size();) {
        size_t n = std::min<size_t>(pool.size() - at, 1 + rng() % 200);
        std::vector<int64_t> ts(pool.begin() + long(at), pool.begin() + long(at + n));
        if (rng() % 2) std::sort(ts.begin(), ts.end());  // often a run in time order: blocks
        std::vector<StoredSample> batch;
        for (int64_t t : ts) batch.push_back(host_sample("10.0.0.1", t, uint32_t(t)));
        st.write(batch);
        all.insert(all.end(), ts.begin(), ts.end());
        at += n;
    }
    std::sort(all.begin(), all.end());
    CHECK(st.stats().samples == all.size());
    for (int q = 0; q < 300; ++q) {
        int64_t a = int64_t(rng() % 120000), b = a + int64_t(rng() % 40000);
        size_t limit = rng() % 3 ? 1 + rng() % 30 : SIZE_MAX;
        bool newest = rng() % 2;
        std::vector<int64_t> want;
        for (int64_t t : all)
            if (t > a && t <= b) want.push_back(t);
        if (newest) std::reverse(want.begin(), want.end());
        if (want.size() > limit) want.resize(limit);
        INFO("after " << a << " upto " << b << " limit " << limit << " newest_first " << newest);
        CHECK(times(st, "10.0.0.1", a, b, limit, newest) == want);
    }
    // and purges at random cutoffs leave exactly the newer samples
    for (int64_t cut : {5000, 40000, 90000}) {
        st.purge(cut + 365 * 86400000LL, 50);
        std::vector<int64_t> want;
        for (int64_t t : all)
            if (t >= cut) want.push_back(t);
        CHECK(times(st, "10.0.0.1", 0, 1 << 30) == want);
        CHECK(st.stats().samples == want.size());
    }
}

TEST_CASE("a schema-1 store is upgraded on open and keeps its samples; an unknown schema is refused") {
    TempDir dir;
    {
        Store st({dir / "db", 64 << 20, 365 * 86400000LL});
        st.write(std::vector<StoredSample>{host_sample("10.0.0.1", 1000, 1)});
    }
    auto schema = [&]() {
        MDB_env* env = nullptr;
        REQUIRE(mdb_env_create(&env) == 0);
        mdb_env_set_maxdbs(env, 4);
        REQUIRE(mdb_env_open(env, (dir / "db").c_str(), MDB_RDONLY, 0640) == 0);
        MDB_txn* txn = nullptr;
        MDB_dbi info;
        REQUIRE(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0);
        REQUIRE(mdb_dbi_open(txn, "info", 0, &info) == 0);
        MDB_val k{6, const_cast<char*>("schema")}, v;
        REQUIRE(mdb_get(txn, info, &k, &v) == 0);
        REQUIRE(v.mv_size == 4);
        auto* b = static_cast<const unsigned char*>(v.mv_data);
        uint32_t version = uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
        mdb_txn_abort(txn);
        mdb_env_close(env);
        return version;
    };
    CHECK(schema() == 2);
    auto set_schema = [&](uint32_t version) {
        MDB_env* env = nullptr;
        REQUIRE(mdb_env_create(&env) == 0);
        mdb_env_set_maxdbs(env, 4);
        REQUIRE(mdb_env_open(env, (dir / "db").c_str(), 0, 0640) == 0);
        MDB_txn* txn = nullptr;
        MDB_dbi info;
        REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
        REQUIRE(mdb_dbi_open(txn, "info", 0, &info) == 0);
        unsigned char be[4] = {uint8_t(version >> 24), uint8_t(version >> 16), uint8_t(version >> 8),
                               uint8_t(version)};
        MDB_val k{6, const_cast<char*>("schema")}, v{4, be};
        REQUIRE(mdb_put(txn, info, &k, &v, 0) == 0);
        REQUIRE(mdb_txn_commit(txn) == 0);
        mdb_env_close(env);
    };
    set_schema(1);
    {
        Store st({dir / "db", 64 << 20, 365 * 86400000LL});
        CHECK(times(st, "10.0.0.1", 0, 1 << 30) == std::vector<int64_t>{1000});
    }
    CHECK(schema() == 2);  // upgraded in place
    set_schema(3);
    bool refused = false;
    try {
        Store st({dir / "db", 64 << 20, 365 * 86400000LL});
    } catch (const StoreError& e) {
        refused = std::string(e.what()).find("schema version 3") != std::string::npos;
    }
    CHECK(refused);
}

TEST_CASE("the map size of a new store without one is half the free disk, in MiB, 16 MiB to 1 TiB") {
    constexpr uint64_t MiB = 1 << 20;
    CHECK(map_size_for_disk(101 * MiB) == 50 * MiB);
    CHECK(map_size_for_disk(101 * MiB + 12345) == 50 * MiB);
    CHECK(map_size_for_disk(3ull << 40) == 1ull << 40);
    CHECK(map_size_for_disk(2ull << 40) == 1ull << 40);
    CHECK(map_size_for_disk((2ull << 40) - 3 * MiB) == (1ull << 40) - 2 * MiB);
    CHECK(map_size_for_disk(20 * MiB) == 16 * MiB);
    CHECK(map_size_for_disk(0) == 16 * MiB);
}

TEST_CASE("without a map size a new store takes it from the disk and an existing store keeps its own") {
    TempDir dir;
    auto free_now = [&] {
        struct statvfs fs;
        REQUIRE(statvfs(dir.path.c_str(), &fs) == 0);
        return uint64_t(fs.f_bavail) * fs.f_frsize;
    };
    auto map_size = [&](const std::string& d, uint64_t given) { return Store({d, given, 86400000}).stats().map_size; };
    // other processes write to this disk too: within 10% of what it had free just before
    uint64_t expect = map_size_for_disk(free_now());
    uint64_t derived = map_size(dir / "new", 0);
    CHECK(derived > expect / 10 * 9);
    CHECK(derived < expect / 10 * 11);
    CHECK(map_size(dir / "new", 0) == derived);  // reopened: kept exactly
    // given, it is the store's size from then on, also when nothing was written
    CHECK(map_size(dir / "given", 32 << 20) == 32u << 20);
    CHECK(map_size(dir / "given", 0) == 32u << 20);
    CHECK(map_size(dir / "given", 48 << 20) == 48u << 20);
    CHECK(map_size(dir / "given", 0) == 48u << 20);
    Store st({dir / "given", 0, 86400000});
    st.write({host_sample("10.0.0.1", 1000, 1)});
    CHECK(st.stats().map_size == 48u << 20);
    CHECK(st.stats().size_purge_at == uint64_t(0.8 * (48u << 20)));
}
