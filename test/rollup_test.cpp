// Roll-up buckets without LMDB: what a bucket keeps (counts, last samples, the first ones only
// where no interval ends there, the extremes of the values derived over the intervals ending in
// it, flags), its bytes, and resolution choice. The
// expected values are worked out by hand from the table below (as in step_test.cpp).
#include <doctest/doctest.h>

#include <algorithm>

#include "sflow_monitor/rollup.h"
#include "sflow_monitor/sflow.h"
#include "testkit/encode.h"

using namespace sfm;
using namespace sfm::rollup;

namespace {

// One host polled every 10 s: sample i (1..9) at 10,000·i ms; buckets of 30 s hold 3 each.
//   per interval   i-1→i:  2    3  |  4    5    6  |  7    8    9
//   cpu_util_pct:          10   30 |  50   20   20 |  90   60   40
//   contexts per s:        10   20 |  30   40   50 |  60   70   80
const uint32_t kUser[] = {0, 1000, 1010, 1040, 1090, 1110, 1130, 1220, 1280, 1320};
const uint32_t kIdle[] = {0, 5000, 5090, 5160, 5210, 5290, 5370, 5380, 5420, 5480};
const uint32_t kContexts[] = {0, 0, 100, 300, 600, 1000, 1500, 2100, 2800, 3600};

SampleMeta meta(int i) {
    SampleMeta m;
    m.ts_ms = 10000 * i;
    m.agent = *Address::parse("10.0.0.1");
    m.sample_sequence = uint32_t(i);
    m.uptime = uint32_t(10000 * i);
    m.source_class = 2;
    m.source_index = 1;
    return m;
}

// host_descr (not a series record) and, unless without_cpu, host_cpu
std::string records(int i, bool without_cpu = false) {
    std::string raw;
    XdrWriter(raw).u32(without_cpu ? 1 : 2);
    HostDescr d;
    d.hostname.value = "hv01";
    encode_record(raw, d);
    if (!without_cpu) {
        HostCpu cpu;
        // past the table (tests of long runs) the counters go on at the last interval's pace
        auto at = [&](const uint32_t (&t)[10]) {
            return i < 10 ? t[i] : t[9] + (t[9] - t[8]) * uint32_t(i - 9);
        };
        cpu.cpu_user = at(kUser);
        cpu.cpu_idle = at(kIdle);
        cpu.cpu_contexts = at(kContexts);
        encode_record(raw, cpu);
    }
    return raw;
}

struct Extremes {
    double min = 0, max = 0;
    bool found = false;
};
Extremes extremes(const DerivedRange& r, std::string_view key) {
    Extremes e;
    r.each([&](std::string_view k, double min, double max) {
        if (k == key) e = {min, max, true};
    });
    return e;
}

// polls in order; those for which without(i) holds have no host_cpu
template <class F>
std::vector<Bucket> build(int64_t res, const std::vector<int>& polls, F without) {
    BucketBuilder b(res);
    std::vector<Bucket> out;
    for (int i : polls)
        if (auto done = b.add(meta(i), records(i, without(i)))) out.push_back(std::move(*done));
    if (auto last = b.finish()) out.push_back(std::move(*last));
    return out;
}
std::vector<Bucket> build(int64_t res, const std::vector<int>& polls, int without_cpu = 0) {
    return build(res, polls, [&](int i) { return i == without_cpu; });
}

}  // namespace

TEST_CASE("a bucket keeps its count, its last sample, and the extremes of the values derived over the intervals ending in it") {
    std::vector<Bucket> bs = build(30000, {1, 2, 3, 4, 5, 6, 7, 8, 9});
    REQUIRE(bs.size() == 3);
    const int last[] = {3, 6, 9};
    // 3→4 (50) ends in bucket 1, 6→7 (90) in bucket 2: the interval into a bucket is its own
    const double util_min[] = {10, 20, 40}, util_max[] = {30, 50, 90};
    const double ctx_min[] = {10, 30, 60}, ctx_max[] = {20, 50, 80};
    for (int k = 0; k < 3; ++k) {
        INFO("bucket " << k);
        const Bucket& b = bs[size_t(k)];
        CHECK(b.end_ms == 30000 * (k + 1));
        CHECK(b.total == 3);
        REQUIRE(b.types.size() == 1);  // host_descr is not kept
        const TypeSummary* t = b.find(HostCpu::format);
        REQUIRE(t);
        CHECK(t->count == 3);
        CHECK(t->tail == 0);
        // only the entity's first sample has no interval ending at it: only there the first is kept
        if (k == 0) {
            REQUIRE(t->first != kNoFirst);
            CHECK(b.kept[t->first].meta.ts_ms == 10000);
            CHECK(b.kept.size() == 2);
        } else {
            CHECK(t->first == kNoFirst);
            CHECK(b.kept.size() == 1);
        }
        CHECK(b.kept[t->last].meta.ts_ms == 10000 * last[k]);
        CHECK(b.kept[t->last].meta.sample_sequence == uint32_t(last[k]));
        auto cpu = find_record<HostCpu>(b.kept[t->last].records);
        REQUIRE(cpu);
        CHECK(cpu->cpu_user == kUser[last[k]]);
        CHECK(cpu->cpu_contexts == kContexts[last[k]]);
        CHECK_FALSE(find_record<HostDescr>(b.kept[t->last].records));
        Extremes u = extremes(t->range, "cpu_util_pct"), c = extremes(t->range, "cpu_contexts_per_s");
        REQUIRE(u.found);
        REQUIRE(c.found);
        CHECK(u.min == doctest::Approx(util_min[k]));
        CHECK(u.max == doctest::Approx(util_max[k]));
        CHECK(c.min == doctest::Approx(ctx_min[k]));
        CHECK(c.max == doctest::Approx(ctx_max[k]));
        CHECK_FALSE(t->range.reset());
        CHECK_FALSE(t->range.gap());
    }
}

TEST_CASE("the samples before the first bucket built give the interval into it") {
    BucketBuilder b(30000);
    b.before(meta(2), records(2));
    b.before(meta(3), records(3));
    for (int i : {4, 5, 6}) CHECK_FALSE(b.add(meta(i), records(i)));
    auto done = b.finish();
    REQUIRE(done);
    const TypeSummary* t = done->find(HostCpu::format);
    REQUIRE(t);
    CHECK(t->count == 3);  // the samples before are not counted
    CHECK(done->total == 3);
    CHECK(t->first == kNoFirst);
    CHECK(extremes(t->range, "cpu_util_pct").max == doctest::Approx(50));  // 3 → 4
}

TEST_CASE("a sample without the record is not counted for it; a lost sample is a gap; one sample, one kept") {
    std::vector<Bucket> bs = build(30000, {1, 2, 3, 4, 6, 7}, 2);
    REQUIRE(bs.size() == 3);
    const TypeSummary* t0 = bs[0].find(HostCpu::format);
    REQUIRE(t0);
    CHECK(t0->count == 2);  // poll 2 has no host_cpu
    CHECK(bs[0].total == 3);
    CHECK(bs[0].kept.size() == 2);
    CHECK(extremes(t0->range, "cpu_contexts_per_s").min == doctest::Approx(15));  // 1 → 3: 300 in 20 s
    const TypeSummary* t1 = bs[1].find(HostCpu::format);
    REQUIRE(t1);
    CHECK(t1->count == 2);  // polls 4 and 6: poll 5 lost
    CHECK(t1->range.gap());
    CHECK_FALSE(t1->range.reset());
    const TypeSummary* t2 = bs[2].find(HostCpu::format);
    REQUIRE(t2);
    CHECK(t2->count == 1);
    CHECK(t2->first == kNoFirst);
    CHECK(bs[2].kept.size() == 1);
    Extremes c = extremes(t2->range, "cpu_contexts_per_s");  // 6 → 7 only: 600 in 10 s
    CHECK(c.min == doctest::Approx(60));
    CHECK(c.max == doctest::Approx(60));
    CHECK_FALSE(t2->range.gap());
}

TEST_CASE("an interval counts only when the sample before holding the record is among the 16 before it") {
    std::vector<int> polls;
    for (int i = 1; i <= 60; ++i) polls.push_back(i);
    // far: 17 samples without host_cpu between polls 2 and 20 (18 apart); near: 15 between 30 and 46
    auto without = [](int i) { return (i > 2 && i < 20) || (i > 30 && i < 46); };
    std::vector<Bucket> bs = build(10000, polls, without);  // one poll a bucket
    REQUIRE(bs.size() == 60);  // samples without any series record make buckets too (their count)
    CHECK(bs[2].types.empty());
    CHECK(bs[2].total == 1);
    const TypeSummary* far = bs[19].find(HostCpu::format);
    REQUIRE(far);
    CHECK(far->first != kNoFirst);  // nothing near before it: its first is kept
    CHECK(far->range.size() == 0);
    const TypeSummary* near = bs[45].find(HostCpu::format);
    REQUIRE(near);
    CHECK(near->first == kNoFirst);
    CHECK(near->range.size() > 0);
    // the bucket of 30 s holding polls 28..30 ends with poll 30; the one of 31..33 has no host_cpu
    std::vector<Bucket> wide = build(30000, polls, [&](int i) { return without(i) || i == 30; });
    const TypeSummary* t = wide[9].find(HostCpu::format);
    REQUIRE(t);
    CHECK(wide[9].total == 3);
    CHECK(t->count == 2);
    CHECK(t->tail == 1);
}

TEST_CASE("a bucket's bytes decode to the same bucket, and a value cut short decodes to none") {
    std::vector<Bucket> bs = build(30000, {1, 2, 3, 4, 6, 7}, 2);
    for (const Bucket& b : bs) {
        std::string v = encode_bucket(b);
        CHECK(v.size() % 4 == 0);  // whole words, so that the chunk codec's prediction lines up
        auto d = decode_bucket(v, b.end_ms);
        REQUIRE(d);
        CHECK(d->end_ms == b.end_ms);
        CHECK(d->total == b.total);
        REQUIRE(d->kept.size() == b.kept.size());
        for (size_t i = 0; i < b.kept.size(); ++i) {
            CHECK(d->kept[i].records == b.kept[i].records);
            CHECK(d->kept[i].meta.ts_ms == b.kept[i].meta.ts_ms);
            CHECK(d->kept[i].meta.uptime == b.kept[i].meta.uptime);
            CHECK(d->kept[i].meta.sample_sequence == b.kept[i].meta.sample_sequence);
            CHECK(d->kept[i].meta.agent == b.kept[i].meta.agent);
        }
        REQUIRE(d->types.size() == b.types.size());
        for (size_t t = 0; t < b.types.size(); ++t) {
            CHECK(d->types[t].count == b.types[t].count);
            CHECK(d->types[t].first == b.types[t].first);
            CHECK(d->types[t].last == b.types[t].last);
            CHECK(d->types[t].tail == b.types[t].tail);
            CHECK(d->types[t].range.gap() == b.types[t].range.gap());
            std::vector<std::tuple<std::string, double, double>> want, got;
            b.types[t].range.each([&](std::string_view k, double lo, double hi) { want.emplace_back(k, lo, hi); });
            d->types[t].range.each([&](std::string_view k, double lo, double hi) { got.emplace_back(k, lo, hi); });
            REQUIRE(got.size() == want.size());  // kept in thousandths, as the answer rounds them
            for (size_t i = 0; i < got.size(); ++i) {
                CHECK(std::get<0>(got[i]) == std::get<0>(want[i]));
                CHECK(std::get<1>(got[i]) == double(int64_t(std::get<1>(want[i]) * 1000 + 0.5)) / 1000);
                CHECK(std::get<2>(got[i]) == double(int64_t(std::get<2>(want[i]) * 1000 + 0.5)) / 1000);
            }
        }
        for (size_t n = 0; n < v.size(); ++n) CHECK_FALSE(decode_bucket(v.substr(0, n), b.end_ms));
        std::string other = v;
        other[0] = 9;  // another format
        CHECK_FALSE(decode_bucket(other, b.end_ms));
        other[0] = 1;  // the first format, which kept other things
        CHECK_FALSE(decode_bucket(other, b.end_ms));
    }
}

namespace {

// A bucket of two samples that keeps the first, and a host_cpu summary of both, its extremes
// to be added.
Bucket two_samples() {
    Bucket b;
    b.end_ms = 300000;
    b.total = 2;
    b.kept.push_back({meta(1), records(1)});
    return b;
}

TypeSummary cpu_of_both() {
    TypeSummary t;
    t.format = HostCpu::format;
    t.count = 2;
    t.last = 0;
    return t;
}

}  // namespace

TEST_CASE("a derived key the list does not know is kept by name; extremes beyond 32 bits") {
    Bucket b = two_samples();
    TypeSummary t = cpu_of_both();
    t.tail = 3;
    t.range.put_extremes("cpu_util_pct", 1.5, 2.25);
    t.range.put_extremes("made_up_per_s", -4000000000.125, 9000000000.5);  // beyond 32 bits in thousandths
    t.range.put_extremes("cpu_contexts_per_s", 0, 7);
    t.range.set_flags(true, false);
    b.types.push_back(t);
    std::string v = encode_bucket(b);
    auto d = decode_bucket(v, b.end_ms);
    REQUIRE(d);
    REQUIRE(d->types.size() == 1);
    std::vector<std::tuple<std::string, double, double>> got;
    d->types[0].range.each([&](std::string_view k, double lo, double hi) { got.emplace_back(k, lo, hi); });
    CHECK(got == std::vector<std::tuple<std::string, double, double>>{{"cpu_util_pct", 1.5, 2.25},
                                                                         {"made_up_per_s", -4000000000.125, 9000000000.5},
                                                                         {"cpu_contexts_per_s", 0, 7}});
    CHECK(d->types[0].range.reset());
    CHECK_FALSE(d->types[0].range.gap());
    CHECK(d->types[0].first == kNoFirst);
    CHECK(d->types[0].tail == 3);
    CHECK(d->total == 2);
}

TEST_CASE("extremes over intervals of one length are stored divided by 10^6 / its ms where that divides them, and decode to the same thousandths") {
    // the builder notes the intervals' length: 10 s here (every poll), none alike with one missing
    std::vector<Bucket> even = build(30000, {1, 2, 3, 4, 5, 6}), odd = build(30000, {1, 2, 3, 5, 6});
    CHECK(even[1].types[0].interval_ms == 10000);
    CHECK(odd[1].types[0].interval_ms == -1);  // 20 s into sample 5, then 10 s
    CHECK(odd[1].types[0].range.size() > 0);
    Bucket b = two_samples();
    TypeSummary t = cpu_of_both();
    t.range.put_extremes("cpu_contexts_per_s", 2.5, 1234567.85);          // 2,500 and 1,234,567,850: 50 × …
    t.range.put_extremes("cpu_interrupts_per_s", -150.05, 0);              // -150,050 (50 × -3,001) and 0
    t.range.put_extremes("cpu_util_pct", 33.333, 66.65);                   // 33,333 is not: both kept as they are
    t.range.put_extremes("made_up_per_s", 8000000000000.5, 9000000000000.0);  // beyond 32 bits, 50 × …
    b.types.push_back(t);
    auto extremes_of = [](const Bucket& x) {
        std::vector<std::tuple<std::string, double, double>> out;
        x.types[0].range.each([&](std::string_view k, double lo, double hi) { out.emplace_back(k, lo, hi); });
        return out;
    };
    const std::vector<std::tuple<std::string, double, double>> want = extremes_of(b);
    auto words = [](const std::string& v) {  // the value's big-endian 32-bit words
        std::vector<uint32_t> w;
        for (size_t i = 0; i + 4 <= v.size(); i += 4)
            w.push_back(uint32_t(uint8_t(v[i])) << 24 | uint32_t(uint8_t(v[i + 1])) << 16 |
                        uint32_t(uint8_t(v[i + 2])) << 8 | uint8_t(v[i + 3]));
        return w;
    };
    auto has = [](const std::vector<uint32_t>& w, uint32_t x) { return std::find(w.begin(), w.end(), x) != w.end(); };
    for (int64_t ms : {int64_t(20000), int64_t(0), int64_t(-1), int64_t(30000), int64_t(3000000)}) {
        CAPTURE(ms);
        b.types[0].interval_ms = ms;
        std::string v = encode_bucket(b);
        auto d = decode_bucket(v, b.end_ms);
        REQUIRE(d);
        CHECK(extremes_of(*d) == want);  // every one exactly, divided or not
        std::vector<uint32_t> w = words(v);
        CHECK(has(w, 33333));     // never divided: 50 does not divide it
        CHECK(has(w, 66650));
        CHECK(has(w, 1234567850u / 50) == (ms == 20000));  // divided by 50 only for 20 s intervals
        CHECK(has(w, 1234567850u) == (ms != 20000));
        CHECK(has(w, uint32_t(-3001)) == (ms == 20000));
        CHECK(has(w, 50) == (ms == 20000));  // the factor itself
    }
}

TEST_CASE("a step reads the coarsest roll-up that divides it") {
    CHECK(resolution_for(300000)->name == std::string("5m"));
    CHECK(resolution_for(35 * 60000)->name == std::string("5m"));
    CHECK(resolution_for(3600000)->name == std::string("1h"));
    CHECK(resolution_for(86400000)->name == std::string("1h"));
    CHECK(resolution_for(2016000) == nullptr);  // 7 days / 300
    CHECK(resolution_for(60000) == nullptr);
    CHECK(bucket_end(1, 300000) == 300000);
    CHECK(bucket_end(300000, 300000) == 300000);  // (k·res, (k+1)·res]
    CHECK(bucket_end(300001, 300000) == 600000);
}

TEST_CASE("a chunk is rewritten whole: the buckets built before keep_upto stay, the rest is what was built now") {
    auto bucket = [](int i) { return std::string("bucket ") + char('0' + i); };
    std::string c = merge_chunk("", 0, {{100, bucket(1)}, {200, bucket(2)}, {300, bucket(3)}}, 1);
    // rebuilt from 100 on: 200 anew, 300 gone (now empty), 400 new
    std::string d = merge_chunk(c, 100, {{200, bucket(5)}, {400, bucket(4)}}, 19);
    std::vector<std::pair<int64_t, std::string>> got, back;
    CHECK(each_bucket(d, [&](int64_t end, std::string_view b) {
        got.emplace_back(end, std::string(b));
        return true;
    }));
    CHECK(got == std::vector<std::pair<int64_t, std::string>>{{100, bucket(1)}, {200, bucket(5)}, {400, bucket(4)}});
    CHECK(each_bucket(d, [&](int64_t end, std::string_view b) {
        back.emplace_back(end, std::string(b));
        return back.size() < 2;  // stops when asked
    }, true));
    CHECK(back == std::vector<std::pair<int64_t, std::string>>{{400, bucket(4)}, {200, bucket(5)}});
    got.clear();
    CHECK(each_bucket(d, [&](int64_t end, std::string_view b) {  // none after upto
        got.emplace_back(end, std::string(b));
        return true;
    }, false, 399));
    CHECK(got == std::vector<std::pair<int64_t, std::string>>{{100, bucket(1)}, {200, bucket(5)}});
    CHECK_FALSE(each_bucket("not a chunk", [](int64_t, std::string_view) { return true; }));
    CHECK(chunk_end(300000, kResolutions[0]) == 6 * 3600000);  // 5-minute buckets: 6 hours a chunk
    CHECK(chunk_end(6 * 3600000, kResolutions[0]) == 6 * 3600000);
    CHECK(chunk_end(3600000, kResolutions[1]) == 14 * 86400000);  // 1-hour buckets: 14 days a chunk
}
