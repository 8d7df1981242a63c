// compactor.cpp — compaction's LMDB side (see compactor.h; the rules: docs/storage.md,
// "Compaction").
#include "compactor.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "sflow_monitor/clock.h"
#include "sflow_monitor/store_format.h"

namespace sfm {

namespace {

using namespace store_format;
using namespace lmdb;

// The sample key a cursor is on, if it is one of this entity's.
std::optional<SampleKey> entity_sample(const MDB_val& k, std::string_view entity) {
    auto key = parse_sample_key(sview(k));
    if (!key || key->entity != entity) return std::nullopt;
    return key;
}

}  // namespace

// Rewrites one entity's raw entries older than cutoff into chunks, with the chunk just
// before them when that one is not sealed or reaches past them; at most `budget` raw
// samples, the oldest first. All of it in the caller's transaction: each chunk replaces
// its entries at once. Returns the raw samples rewritten; 0 and *full on a full map.
uint64_t Compactor::entity(const Txn& t, Cursor& sc, std::string_view entity, int64_t cutoff, size_t budget,
                           bool* full, bool* unfinished) {
    // Walk back from the cutoff over the raw entries to the newest chunk before them.
    std::string from = sample_key_from(entity, cutoff);
    MDB_val k = mval(from), v;
    int r = sc.get(k, v, MDB_SET_RANGE);
    r = r == 0 ? sc.get(k, v, MDB_PREV) : sc.get(k, v, MDB_LAST);
    std::vector<std::string> keys;  // newest first, then reversed
    std::string chunk_key;
    for (; r == 0; r = sc.get(k, v, MDB_PREV)) {
        auto key = entity_sample(k, entity);
        if (!key) break;
        std::string_view val = sview(v);
        if (is_chunk(val)) {
            if (!keys.empty() && (!is_sealed(val) || newest_in(val, key->ts_ms) > parse_sample_key(keys.back())->ts_ms))
                chunk_key.assign(sview(k));
            break;
        }
        if (newest_in(val, key->ts_ms) >= cutoff) continue;  // a block reaching past: later
        keys.emplace_back(sview(k));
    }
    if (keys.empty()) return 0;
    std::reverse(keys.begin(), keys.end());
    if (!chunk_key.empty()) keys.insert(keys.begin(), chunk_key);
    // Copy the samples out (the entries' pages are reused once deleted), delete the entries.
    std::string arena;
    struct At {
        int64_t ts;
        size_t off, len;
    };
    std::vector<At> at;
    int64_t extra_before = 0;
    uint64_t taken = 0;
    for (const std::string& key : keys) {
        if (taken >= budget) {
            *unfinished = true;
            break;
        }
        MDB_val kk = mval(key), vv;
        check(p_.dir, sc.get(kk, vv, MDB_SET), "compact: read entry");
        std::string_view val = sview(vv);
        bool was_chunk = is_chunk(val);
        each_sample(val, parse_sample_key(key)->ts_ms, [&](int64_t ts, const char* meta, std::string_view rec) {
            at.push_back({ts, arena.size(), kMetaSize + rec.size()});
            arena.append(meta, kMetaSize);
            arena.append(rec);
        });
        extra_before += int64_t(samples_in(val)) - 1;
        if (!was_chunk) taken += samples_in(val);
        sc.del("compact: delete entry");
    }
    std::stable_sort(at.begin(), at.end(), [](const At& a, const At& b) { return a.ts < b.ts; });
    std::vector<chunk::Item> items;
    for (const At& a : at) items.push_back({a.ts, std::string_view(arena).substr(a.off, a.len)});
    int64_t extra_after = 0;
    std::string key;
    for (const NewChunk& c : make_chunks(items)) {
        key.assign(entity);
        put_be(key, uint64_t(c.key_ts), kTsSize);
        put_be(key, p_.next_arrival(), kArrivalSize);
        char* p = nullptr;
        if (p_.put_unique(sc, key, c.value.size(), &p) == MDB_MAP_FULL) return *full = true, 0;
        std::memcpy(p, c.value.data(), c.value.size());
        extra_after += int64_t(c.count) - 1;
    }
    int rc = extra_after != extra_before ? p_.add_extra(t, extra_after - extra_before) : 0;
    if (rc == MDB_MAP_FULL) return *full = true, 0;
    check(p_.dir, rc, "compact: sample count");
    return taken;
}

CompactStep Compactor::step(int64_t cutoff, size_t max_samples, size_t max_entities) {
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    if (resume_.empty()) {  // a pass begins
        cutoff_ = cutoff;
        spent_us_ = 0;
    }
    CompactStep step;
    bool full = false;
    {
        Txn t(p_.env, true, p_.dir);
        Cursor ec(t, p_.entities, p_.dir);
        Cursor sc(t, p_.samples, p_.dir);
        MDB_val ek = mval(resume_), ev;
        int rc = ec.get(ek, ev, resume_.empty() ? MDB_FIRST : MDB_SET_RANGE);
        size_t looked = 0;
        bool unfinished = false;  // the entity's budget ran out: it is looked at again
        while (rc == 0 && !full && !unfinished && step.samples < max_samples && looked < max_entities) {
            std::string entity(sview(ek));
            step.samples += this->entity(t, sc, entity, cutoff_, max_samples - step.samples, &full,
                                           &unfinished);
            ++looked;
            if (!unfinished) rc = ec.get(ek, ev, MDB_NEXT);
        }
        step.done = rc != 0;
        if (!step.done) resume_.assign(sview(ek));
        ec.close();
        sc.close();
        if (full) return CompactStep{};  // aborted: the writer's purge makes room
        if (t.commit_or_full() == MDB_MAP_FULL) return CompactStep{};
    }
    compacted_ += step.samples;
    spent_us_ += std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0).count();
    if (step.done) {
        resume_.clear();
        ++runs_;
        last_ms_ = now_ms();
        last_duration_ms_ = spent_us_ / 1000;
    }
    return step;
}

void Compactor::stats(StoreStats& st) const {
    st.compacted_samples = compacted_;
    st.compaction_runs = runs_;
    st.last_compaction_ms = last_ms_;
    st.last_compaction_duration_ms = last_duration_ms_;
}

}  // namespace sfm
