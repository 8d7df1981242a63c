// store_format_test.cpp — the store's bytes without LMDB: keys, meta, values, blocks, cuts,
// key sorting and the write plan (store_test.cpp checks them through LMDB).
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <tuple>

#include "sflow_monitor/store_format.h"

using namespace sfm;
using namespace sfm::store_format;

namespace {

SampleMeta meta_at(int64_t ts, uint32_t seq, const char* agent = "10.0.0.1") {
    SampleMeta m;
    m.ts_ms = ts;
    m.agent = *Address::parse(agent);
    m.sub_agent_id = 100001;
    m.datagram_sequence = seq * 3;
    m.uptime = 0xFFFFFFF0u + seq;
    m.sample_sequence = seq;
    m.source_class = 2;
    m.source_index = 0x00ABCDEF;
    return m;
}

bool same_meta(const SampleMeta& a, const SampleMeta& b) {
    return a.ts_ms == b.ts_ms && a.agent == b.agent && a.sub_agent_id == b.sub_agent_id &&
           a.datagram_sequence == b.datagram_sequence && a.uptime == b.uptime &&
           a.sample_sequence == b.sample_sequence && a.source_class == b.source_class &&
           a.source_index == b.source_index;
}

struct Item {
    SampleMeta meta;
    std::string records_raw;
};

std::string value_of(const std::vector<Item>& items) {
    auto at = [&](size_t j) -> const Item& { return items[j]; };
    std::string v(value_size(items.size(), at), '\x7f');
    write_value(v.data(), items.size(), at);
    return v;
}

std::vector<Item> items_of(std::string_view v, int64_t key_ts) {
    std::vector<Item> out;
    each_sample(v, key_ts, [&](int64_t ts, const char* meta, std::string_view rec) {
        out.push_back({decode_meta(meta, ts), std::string(rec)});
    });
    return out;
}

std::vector<Item> run_of(int n, int64_t from_ts, int64_t step_ms) {
    std::vector<Item> items;
    for (int i = 0; i < n; ++i)
        items.push_back({meta_at(from_ts + i * step_ms, uint32_t(i)), std::string(size_t(i * 7), char('a' + i))});
    return items;
}

}  // namespace

TEST_CASE("a sample key parses back into its entity, time and arrival; anything else is refused") {
    std::string k;
    append_sample_key(k, Entity::vm, "web01", 1494494478860, 7);
    CHECK(k.size() == kEntityKeyHead + 5 + kSampleKeySuffix);
    auto p = parse_sample_key(k);
    REQUIRE(p);
    CHECK(p->entity == entity_key(Entity::vm, "web01"));
    CHECK(p->ts_ms == 1494494478860);
    CHECK(p->arrival == 7);
    set_arrival(k, 0xFFFFFFFFu);
    CHECK(parse_sample_key(k)->arrival == 0xFFFFFFFFu);
    CHECK(parse_sample_key(k)->ts_ms == 1494494478860);
    CHECK(sample_key_from(entity_key(Entity::vm, "web01"), 1494494478860) == k.substr(0, k.size() - kArrivalSize));
    CHECK_FALSE(parse_sample_key(""));
    CHECK_FALSE(parse_sample_key(entity_key(Entity::vm, "web01")));  // an entity key
    CHECK_FALSE(parse_sample_key(k + "x"));
    CHECK_FALSE(parse_sample_key(k.substr(0, k.size() - 1)));
    // a name is cut to 255 bytes, in the key as in a batch
    std::string long_name(300, 'n');
    CHECK(entity_key(Entity::vm, long_name) == entity_key(Entity::vm, long_name.substr(0, kMaxNameLen)));
}

TEST_CASE("sample keys sort bytewise as (entity, time, arrival) sort numerically") {
    std::mt19937 rng(7);
    using Tuple = std::tuple<std::string, int64_t, uint32_t>;
    std::vector<std::pair<std::string, Tuple>> keys;
    for (int i = 0; i < 2000; ++i) {
        std::string entity = entity_key(Entity::host, std::string(1 + rng() % 3, char('a' + rng() % 3)));
        int64_t ts = int64_t(rng() % 4) << (8 * (rng() % 6));
        uint32_t arrival = rng() % 3 ? rng() % 300 : rng();
        std::string k = entity;
        put_be(k, uint64_t(ts), kTsSize);
        put_be(k, arrival, kArrivalSize);
        keys.push_back({k, {entity, ts, arrival}});
    }
    auto by_bytes = keys, by_numbers = keys;
    std::stable_sort(by_bytes.begin(), by_bytes.end(), [](auto& a, auto& b) { return a.first < b.first; });
    std::stable_sort(by_numbers.begin(), by_numbers.end(), [](auto& a, auto& b) { return a.second < b.second; });
    CHECK(by_bytes == by_numbers);
}

TEST_CASE("meta and entity values read back exactly what was written") {
    char buf[kMetaSize];
    SampleMeta m = meta_at(1494494478860, 42, "2001:db8::7");
    encode_meta(buf, m);
    CHECK(buf[kBlockFlagAt] == 0);
    CHECK(same_meta(decode_meta(buf, m.ts_ms), m));
    std::string v = encode_entity_value(m, "records");
    CHECK(v.size() == kEntityValueHead + 7);
    CHECK(entity_value_ts(v) == m.ts_ms);
    auto e = decode_entity_value(Entity::host, "name", v);
    REQUIRE(e);
    CHECK(e->name == "name");
    CHECK(same_meta(e->last, m));
    CHECK(e->records_raw == "records");
    CHECK_FALSE(decode_entity_value(Entity::host, "name", v.substr(0, kEntityValueHead - 1)));
    CHECK_FALSE(entity_value_ts("short"));
    CHECK(decode_schema(encode_schema(kSchema)) == kSchema);
    CHECK(decode_schema("abc") == 0);
    CHECK(decode_info_u64(encode_info_u64(1ull << 40)) == 1ull << 40);
    CHECK(decode_info_u64("1234567") == 0);
}

TEST_CASE("one sample is written in the plain form, several as a block, and read back in order") {
    auto one = run_of(1, 5000, 0);
    std::string v1 = value_of(one);
    CHECK_FALSE(is_block(v1));
    CHECK(v1.size() == kMetaSize + one[0].records_raw.size());
    CHECK(samples_in(v1) == 1);
    CHECK(newest_in(v1, 5000) == 5000);

    auto five = run_of(5, 5000, 250);
    std::string v5 = value_of(five);
    CHECK(is_block(v5));
    CHECK(samples_in(v5) == 5);
    CHECK(newest_in(v5, 5000) == 6000);
    auto back = items_of(v5, 5000);
    REQUIRE(back.size() == 5);
    for (size_t i = 0; i < 5; ++i) {
        CHECK(same_meta(back[i].meta, five[i].meta));
        CHECK(back[i].records_raw == five[i].records_raw);
    }
    // a value cut short anywhere yields fewer samples, never a read past its end
    for (size_t len = 0; len < v5.size(); ++len) {
        std::string cut = v5.substr(0, len);  // its own allocation: ASan sees any overread
        CHECK(items_of(cut, 5000).size() <= (len >= kBlockHead ? 4u : 1u));
    }
}

TEST_CASE("cutting a value keeps exactly the samples at or after the cutoff, keyed by the oldest kept") {
    auto five = run_of(5, 5000, 250);  // 5000 5250 5500 5750 6000
    std::string v = value_of(five);
    for (int kept = 0; kept <= 5; ++kept) {
        int64_t cutoff = 5000 + (5 - kept) * 250;
        INFO("cutoff " << cutoff);
        Cut c = cut_value(v, 5000, cutoff);
        CHECK(c.kept == uint64_t(kept));
        CHECK(c.dropped == uint64_t(5 - kept));
        if (kept == 0) {
            CHECK(c.value.empty());
            continue;
        }
        CHECK(c.key_ts == cutoff);
        CHECK(is_block(c.value) == (kept > 1));
        auto back = items_of(c.value, c.key_ts);
        REQUIRE(back.size() == size_t(kept));
        for (int i = 0; i < kept; ++i) {
            CHECK(same_meta(back[size_t(i)].meta, five[size_t(5 - kept + i)].meta));
            CHECK(back[size_t(i)].records_raw == five[size_t(5 - kept + i)].records_raw);
        }
    }
    Cut plain = cut_value(value_of(run_of(1, 5000, 0)), 5000, 4000);
    CHECK(plain.kept == 1);
    CHECK(plain.value == value_of(run_of(1, 5000, 0)));
}

namespace {

// A chunk value of these samples (meta | records, as compaction writes them).
std::string chunk_of(const std::vector<Item>& items) {
    std::vector<std::string> bytes;
    for (const Item& it : items) {
        std::string b(kMetaSize, '\0');
        encode_meta(b.data(), it.meta);
        bytes.push_back(b + it.records_raw);
    }
    std::vector<chunk::Item> ci;
    for (size_t i = 0; i < items.size(); ++i) ci.push_back({items[i].meta.ts_ms, bytes[i]});
    return encode_chunk_value(ci, true);
}

struct Walked {
    std::vector<std::pair<int64_t, std::string>> out;  // (ts, records) as handed out
    size_t most_buffers = 0;                            // decoded chunks held at once
};

// The values (key time, value), in key order, walked as Store::scan walks them.
Walked walk(const std::vector<std::pair<int64_t, std::string>>& values, int64_t after, int64_t upto,
            size_t limit, bool newest_first) {
    Walked w;
    Store::ScanFn fn = [&](const SampleMeta& m, std::string_view rec) { w.out.emplace_back(m.ts_ms, rec); };
    WindowGather g(after, upto, limit, newest_first, fn);
    for (size_t i = 0; i < values.size(); ++i) {
        const auto& [kts, v] = values[newest_first ? values.size() - 1 - i : i];
        if (!newest_first && kts < g.start_ts() - kMaxChunkSpanMs) continue;
        if (!g.wants(kts)) {
            if (newest_first && is_chunk(v)) g.add(v, kts);  // it may reach into the window
            break;
        }
        g.add(v, kts);
        w.most_buffers = std::max(w.most_buffers, g.buffers());
    }
    g.finish();
    return w;
}

}  // namespace

TEST_CASE("a window walk over chunks hands out samples in time order, one decoded chunk held at a time") {
    // three chunks of an hour each, 20 s apart; between them raw entries: a late sample inside
    // the first chunk's span, a block reaching 5 s past the second chunk's key, a sample sharing
    // a time with one of the third chunk's
    auto all = run_of(540, 1000000, 20000);
    std::vector<Item> a(all.begin(), all.begin() + 180), b(all.begin() + 180, all.begin() + 360),
        c(all.begin() + 360, all.end());
    int64_t bkey = b[0].meta.ts_ms, ckey = c[0].meta.ts_ms;
    std::vector<Item> late = {{meta_at(a[50].meta.ts_ms + 7, 9000), "late"}};
    std::vector<Item> block = {{meta_at(bkey - 5000, 9001), "block0"}, {meta_at(bkey + 5000, 9002), "block1"}};
    std::vector<Item> tie = {{meta_at(c[3].meta.ts_ms, 9003), "tie"}};
    std::vector<std::pair<int64_t, std::string>> values = {
        {a[0].meta.ts_ms, chunk_of(a)}, {late[0].meta.ts_ms, value_of(late)}, {bkey - 5000, value_of(block)},
        {bkey, chunk_of(b)},            {ckey, chunk_of(c)},                  {tie[0].meta.ts_ms, value_of(tie)}};
    // what a sort of every sample by (time, key order, place in its value) gives
    std::vector<std::pair<int64_t, std::string>> want;
    for (const auto& [kts, v] : values)
        for (const Item& it : items_of(v, kts))
            want.emplace_back(it.meta.ts_ms, it.records_raw);
    std::stable_sort(want.begin(), want.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    REQUIRE(want.size() == 544);
    auto between = [&](int64_t after, int64_t upto) {
        std::vector<std::pair<int64_t, std::string>> w;
        for (const auto& x : want)
            if (x.first > after && x.first <= upto) w.push_back(x);
        return w;
    };
    for (auto [after, upto] : {std::pair<int64_t, int64_t>{0, INT64_MAX / 2}, {a[30].meta.ts_ms, c[100].meta.ts_ms},
                               {bkey - 1, bkey + 5000}, {a[179].meta.ts_ms, ckey}}) {
        INFO("window (" << after << ", " << upto << "]");
        auto expect = between(after, upto);
        Walked w = walk(values, after, upto, SIZE_MAX, false);
        CHECK(w.out == expect);
        CHECK(w.most_buffers <= 1);  // each chunk's buffer reused by the next
        for (size_t limit : {size_t(1), size_t(179), size_t(181), size_t(300)}) {
            Walked l = walk(values, after, upto, limit, false);
            auto head = std::vector<std::pair<int64_t, std::string>>(
                expect.begin(), expect.begin() + long(std::min(limit, expect.size())));
            CHECK(l.out == head);
            Walked back = walk(values, after, upto, limit, true);
            auto tail = std::vector<std::pair<int64_t, std::string>>(
                expect.rbegin(), expect.rbegin() + long(std::min(limit, expect.size())));
            CHECK(back.out == tail);
        }
        Walked back = walk(values, after, upto, SIZE_MAX, true);
        CHECK(back.out == std::vector<std::pair<int64_t, std::string>>(expect.rbegin(), expect.rend()));
    }
}

TEST_CASE("sort_keys gives the order of sorting the whole keys") {
    std::mt19937 rng(99);
    for (int round = 0; round < 50; ++round) {
        std::string buf;
        std::vector<KeyRef> refs;
        size_t n = 1 + rng() % 300;
        for (size_t i = 0; i < n; ++i) {
            uint32_t off = uint32_t(buf.size());
            std::string name(1 + rng() % 4, char('a' + rng() % 4));
            // mostly in time order per entity, as a batch is; sometimes not
            int64_t ts = rng() % 5 ? int64_t(1000 + i * 10) : int64_t(rng() % 5000);
            append_sample_key(buf, rng() % 2 ? Entity::host : Entity::vm, name, ts, uint32_t(i));
            refs.push_back({off, uint32_t(buf.size() - off), i});
        }
        auto want = refs;
        auto key = [&](const KeyRef& r) { return std::string_view(buf).substr(r.off, r.len); };
        std::sort(want.begin(), want.end(), [&](auto& a, auto& b) { return key(a) < key(b); });
        sort_keys(buf, refs);
        REQUIRE(refs.size() == want.size());
        for (size_t i = 0; i < n; ++i) CHECK(refs[i].i == want[i].i);
    }
}

TEST_CASE("a write plan puts runs of one entity in blocks of at most 64 samples and 10 s") {
    SampleBatch batch;
    std::string rec = "r";
    // 100 samples of A 50 ms apart (5 s): blocks of 64 and 36; 3 of B 6 s apart: 2 + 1; 1 of C
    for (int i = 0; i < 100; ++i) batch.add(Entity::host, "A", meta_at(1000 + i * 50, uint32_t(i)), rec);
    for (int i = 0; i < 3; ++i) batch.add(Entity::host, "B", meta_at(1000 + i * 6000, uint32_t(i)), rec);
    batch.add(Entity::vm, "C", meta_at(500, 0), rec);
    uint32_t arrival = 10;
    WritePlan plan = plan_write(batch, arrival);
    CHECK(arrival == 10 + batch.size());
    std::vector<size_t> sizes;
    for (auto& e : plan.entries) sizes.push_back(e.to - e.from);
    CHECK(sizes == std::vector<size_t>{64, 36, 2, 1, 1});
    CHECK(plan.extra == 63 + 35 + 1);
    // the newest sample of each entity, in key order
    CHECK(plan.newest == std::vector<size_t>{99, 102, 103});
    for (size_t r = 1; r < plan.refs.size(); ++r) CHECK(plan.key(r - 1) < plan.key(r));
}
