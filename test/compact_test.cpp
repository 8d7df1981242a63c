// compact_test.cpp — compaction through LMDB (Store::compact_step): every sample's time, meta
// and records region read back identical after it, whole and through windows, limits and
// purges, on sflow-gen's hosts and VMs and on the hsflowd captures. The oracle is the list of
// samples written, not anything read from the store.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>

#include "sflow_monitor/ingest.h"
#include "sflow_monitor/stats.h"
#include "sflow_monitor/store.h"
#include "sflow_monitor/store_format.h"
#include "test_util.h"
#include "testkit/gen.h"
#include "testkit/pcap.h"

using namespace sfm;
using sfm::test::TempDir;

namespace {

// What one sample must read back as: its time, its meta's bytes and its records.
struct Want {
    int64_t ts;
    std::string meta, records;
    bool operator==(const Want& o) const { return ts == o.ts && meta == o.meta && records == o.records; }
};

std::string meta_bytes(const SampleMeta& m) {
    std::string b(store_format::kMetaSize, '\0');
    store_format::encode_meta(b.data(), m);
    return b;
}

using Key = std::pair<Entity, std::string>;

// The samples written, per entity, in the order the store must give them: by time, ties in
// the order written.
std::map<Key, std::vector<Want>> expected(const std::vector<StoredSample>& all) {
    std::map<Key, std::vector<Want>> out;
    for (const StoredSample& s : all) out[{s.kind, s.name}].push_back({s.meta.ts_ms, meta_bytes(s.meta), s.records_raw});
    for (auto& [k, v] : out)
        std::stable_sort(v.begin(), v.end(), [](const Want& a, const Want& b) { return a.ts < b.ts; });
    return out;
}

std::vector<Want> read(const Store& st, const Key& k, int64_t after, int64_t upto, size_t limit = SIZE_MAX,
                       bool newest_first = false) {
    std::vector<Want> out;
    st.scan(k.first, k.second, after, upto,
            [&](const SampleMeta& m, std::string_view rec) { out.push_back({m.ts_ms, meta_bytes(m), std::string(rec)}); },
            limit, newest_first);
    return out;
}

// sflow-gen's traffic (hosts × vms, rounds every interval_ms), each sample at its send time.
std::vector<StoredSample> generated(uint32_t hosts, uint32_t vms, uint32_t rounds, uint32_t interval_ms) {
    GenOptions go;
    go.hosts = hosts;
    go.vms = vms;
    go.rounds = rounds;
    go.interval_ms = interval_ms;
    go.migrate = hosts > 1;
    Stats stats;
    std::vector<StoredSample> out;
    for (const GenDatagram& d : generate(go).datagrams) samples_to_store(decode_datagram(d.bytes), d.ts_us / 1000, out, stats);
    return out;
}

// Every capture of the test data, replayed `times` times, each replay an hour after the last.
std::vector<StoredSample> captures(int times) {
    const char* env = std::getenv("SFLOW_TESTDATA");
    std::string dir = env ? env : "../shared/testdata";
    std::vector<StoredSample> out;
    Stats stats;
    for (const char* base : {"hsflowd-host", "hsflowd-kvm", "hsflowd-kvm-ifpoll"}) {
        std::string path = dir + "/" + base + ".pcap";
        REQUIRE_MESSAGE(std::filesystem::exists(path), "test data not found: " << path << " (set SFLOW_TESTDATA)");
        PcapContents pcap = read_pcap(path);
        for (int r = 0; r < times; ++r)
            for (const CapturedDatagram& d : pcap.datagrams)
                samples_to_store(decode_datagram(d.payload), d.ts_us / 1000 + r * 3600000LL, out, stats);
    }
    return out;
}

// Writes the samples in batches of `batch` (several samples of one entity within 10 s of
// each other become blocks).
void write_all(Store& st, const std::vector<StoredSample>& all, size_t batch) {
    for (size_t i = 0; i < all.size(); i += batch)
        st.write(std::vector<StoredSample>(all.begin() + long(i), all.begin() + long(std::min(all.size(), i + batch))));
}

// Runs compaction passes to the end, in small steps so that passes resume mid-way.
uint64_t compact_all(Store& st, int64_t cutoff, size_t max_samples = 700, size_t max_entities = 5) {
    uint64_t n = 0;
    for (int guard = 0; guard < 100000; ++guard) {
        CompactStep s = st.compact_step(cutoff, max_samples, max_entities);
        n += s.samples;
        if (s.done) return n;
    }
    FAIL("compaction did not finish");
    return n;
}

void check_all(const Store& st, const std::map<Key, std::vector<Want>>& want) {
    for (const auto& [k, v] : want) {
        auto got = read(st, k, -1, INT64_MAX / 2);
        REQUIRE(got.size() == v.size());
        for (size_t i = 0; i < v.size(); ++i) CHECK(got[i] == v[i]);
    }
}

// Windows, limits and both directions against the oracle.
void check_windows(const Store& st, const std::map<Key, std::vector<Want>>& want, uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (const auto& [k, v] : want) {
        int64_t lo = v.front().ts - 5000, hi = v.back().ts + 5000;
        for (int q = 0; q < 6; ++q) {
            int64_t a = lo + int64_t(rng() % uint64_t(hi - lo)), b = a + int64_t(rng() % 3000000);
            size_t limit = q % 3 == 0 ? SIZE_MAX : 1 + rng() % 40;
            bool newest = q % 2 == 1;
            std::vector<Want> in;
            for (const Want& w : v)
                if (w.ts > a && w.ts <= b) in.push_back(w);
            if (newest) std::reverse(in.begin(), in.end());
            if (in.size() > limit) in.resize(limit);
            auto got = read(st, k, a, b, limit, newest);
            REQUIRE_MESSAGE(got.size() == in.size(), "window (" << a << ", " << b << "] limit " << limit);
            // same times in the same order; equal times may hold different samples at a limit's edge
            for (size_t i = 0; i < in.size(); ++i) CHECK(got[i].ts == in[i].ts);
            if (limit == SIZE_MAX)
                for (size_t i = 0; i < in.size(); ++i) CHECK(got[i] == in[i]);
        }
    }
}

}  // namespace

TEST_CASE("compaction keeps every byte of sflow-gen's samples, and the store's count; the store shrinks") {
    TempDir dir;
    Store st({dir / "db", 256 << 20, 365 * 86400000LL});
    auto all = generated(2, 15, 400, 20000);  // over 2 hours: sealed chunks and an open one
    write_all(st, all, 1000);
    auto want = expected(all);
    StoreStats before = st.stats();
    REQUIRE(before.samples == all.size());
    int64_t newest = 0;
    for (const auto& s : all) newest = std::max(newest, s.meta.ts_ms);
    CHECK(compact_all(st, newest + 1) == all.size());
    StoreStats after = st.stats();
    CHECK(after.samples == all.size());
    CHECK(after.compacted_samples == all.size());
    CHECK(after.compaction_runs == 1);
    CHECK(after.last_compaction_ms > 0);
    CHECK(after.used_bytes * 5 < before.used_bytes);
    check_all(st, want);
    check_windows(st, want, 1);
    // nothing left to do: a second pass rewrites nothing
    CHECK(compact_all(st, newest + 1) == 0);
    CHECK(st.stats().samples == all.size());
}

TEST_CASE("compaction in several passes extends the open chunk; raw samples after the cutoff stay raw") {
    TempDir dir;
    Store st({dir / "db", 256 << 20, 365 * 86400000LL});
    auto all = generated(1, 6, 300, 20000);
    int64_t t0 = all.front().meta.ts_ms;
    write_all(st, all, 37);
    auto want = expected(all);
    uint64_t done = 0;
    for (int64_t cut = t0 + 250000; cut < t0 + 7000000; cut += 410000) {
        done += compact_all(st, cut, 50, 2);
        CHECK(st.stats().samples == all.size());
        check_windows(st, want, uint64_t(cut));
    }
    CHECK(done == all.size());
    check_all(st, want);
}

TEST_CASE("the hsflowd captures, replayed, read back identical after compaction") {
    TempDir dir;
    Store st({dir / "db", 256 << 20, 365 * 86400000LL});
    auto all = captures(3);
    write_all(st, all, 20);
    auto want = expected(all);
    int64_t newest = 0;
    for (const auto& s : all) newest = std::max(newest, s.meta.ts_ms);
    CHECK(compact_all(st, newest + 1) == all.size());
    CHECK(st.stats().samples == all.size());
    check_all(st, want);
    check_windows(st, want, 2);
}

TEST_CASE("samples that arrive after their time was compacted are merged into the chunk before them") {
    TempDir dir;
    Store st({dir / "db", 256 << 20, 365 * 86400000LL});
    auto all = generated(1, 3, 120, 20000);
    std::vector<StoredSample> early, late;
    for (size_t i = 0; i < all.size(); ++i) (i % 9 == 4 ? late : early).push_back(all[i]);
    write_all(st, early, 50);
    int64_t newest = 0;
    for (const auto& s : all) newest = std::max(newest, s.meta.ts_ms);
    compact_all(st, newest + 1);
    write_all(st, late, 50);  // keys inside the chunks' spans
    auto want = expected(all);
    check_all(st, want);  // read before they are merged: the look-back finds the chunk
    compact_all(st, newest + 1);
    CHECK(st.stats().samples == all.size());
    check_all(st, want);
    check_windows(st, want, 3);
}

TEST_CASE("purge cuts chunks exactly at the retention and drops whole ones before it") {
    TempDir dir;
    int64_t retention = 3600000;
    Store st({dir / "db", 256 << 20, retention});
    auto all = generated(1, 5, 400, 20000);
    write_all(st, all, 500);
    int64_t newest = 0;
    for (const auto& s : all) newest = std::max(newest, s.meta.ts_ms);
    compact_all(st, newest + 1);
    for (int64_t now : {newest - 1234567, newest + 1, newest + retention / 2 + 7}) {
        int64_t cutoff = now - retention;
        st.purge(now, 97);
        std::vector<StoredSample> kept;
        for (const auto& s : all)
            if (s.meta.ts_ms >= cutoff) kept.push_back(s);
        auto want = expected(kept);
        CHECK(st.stats().samples == kept.size());
        check_all(st, want);
        check_windows(st, want, uint64_t(now));
    }
}
