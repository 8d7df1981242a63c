// store_rollups.cpp — the roll-ups' databases (see store_rollups.h).
#include "store_rollups.h"

#include <algorithm>

#include "sflow_monitor/log.h"
#include "sflow_monitor/store_format.h"

namespace sfm {

using namespace lmdb;
using store_format::decode_info_u64;
using store_format::encode_info_u64;
using store_format::get_be;
using store_format::kTsSize;

void RollupDb::open(const Txn& t, MDB_dbi info) {
    check(dir_, mdb_dbi_open(t.get(), "rollup_5m", MDB_CREATE, &db[0]), "open rollup_5m");
    check(dir_, mdb_dbi_open(t.get(), "rollup_1h", MDB_CREATE, &db[1]), "open rollup_1h");
    check(dir_, mdb_dbi_open(t.get(), "rollup_marks", MDB_CREATE, &marks), "open rollup_marks");
    MDB_val k = mval(store_format::kRollupFormatKey), v;
    int rc = mdb_get(t.get(), info, &k, &v);
    if (rc != MDB_NOTFOUND) check(dir_, rc, "read roll-up format");
    uint64_t have = rc == 0 ? decode_info_u64(sview(v)) : 1;
    if (rc == 0 && have == rollup::kBucketFormat) {
        Cursor c(t, marks, dir_);
        for (int r = c.get(k, v, MDB_FIRST); r == 0; r = c.get(k, v, MDB_NEXT))
            newest_mark_ = std::max(newest_mark_, int64_t(decode_info_u64(sview(v))));
        return;
    }
    uint64_t held = 0;
    for (MDB_dbi d : {db[0], db[1], marks}) {
        MDB_stat st;
        check(dir_, mdb_stat(t.get(), d, &st), "stat roll-ups");
        held += st.ms_entries;
    }
    if (held) {
        for (MDB_dbi d : {db[0], db[1], marks}) check(dir_, mdb_drop(t.get(), d, 0), "drop roll-ups");
        log_info("store %s: roll-ups of bucket format %llu dropped (%llu entries); this build writes format %u and "
                 "builds them again from the raw samples held",
                 dir_.c_str(), (unsigned long long)have, (unsigned long long)held, unsigned(rollup::kBucketFormat));
    }
    std::string val = encode_info_u64(rollup::kBucketFormat);
    MDB_val nv = mval(val);
    check(dir_, mdb_put(t.get(), info, &k, &nv, 0), "write roll-up format");
}

int RollupDb::try_write(const RollupWrite& w) {
    Txn t(env_, true, dir_);
    for (const RollupWrite::Bucket& b : w.buckets) {
        MDB_val k = mval(b.key), v = mval(b.value);
        int rc = mdb_put(t.get(), db[b.res], &k, &v, 0);
        if (rc == MDB_MAP_FULL) return rc;
        check(dir_, rc, "write roll-up");
    }
    for (const auto& [key, upto] : w.marks) {
        std::string val = encode_info_u64(uint64_t(upto));
        MDB_val k = mval(key), v = mval(val);
        int rc = mdb_put(t.get(), marks, &k, &v, 0);
        if (rc == MDB_MAP_FULL) return rc;
        check(dir_, rc, "write roll-up mark");
    }
    int rc = t.commit_or_full();
    if (rc == 0)
        for (const auto& m : w.marks) newest_mark_ = std::max(newest_mark_, m.second);
    return rc;
}

int RollupDb::lower_marks(const Txn& t, std::string_view entity_key, int64_t oldest_ms) {
    for (const rollup::Resolution& res : rollup::kResolutions) {
        std::string mk = rollup::mark_key(entity_key, res.tag);
        MDB_val k = mval(mk), v;
        int rc = mdb_get(t.get(), marks, &k, &v);
        if (rc == MDB_NOTFOUND) continue;
        check(dir_, rc, "read roll-up mark");
        int64_t start = rollup::bucket_end(oldest_ms, res.ms) - res.ms;
        if (start >= int64_t(decode_info_u64(sview(v)))) continue;  // its bucket is not built yet
        std::string val = encode_info_u64(uint64_t(start));
        MDB_val nv = mval(val);
        rc = mdb_put(t.get(), marks, &k, &nv, 0);
        if (rc == MDB_MAP_FULL) return rc;
        check(dir_, rc, "lower roll-up mark");
    }
    return 0;
}

std::optional<int64_t> RollupDb::scan(size_t res, std::string_view entity_key, int64_t after_ms, int64_t upto_ms,
                                      const Store::RollupFn& fn, bool newest_first) const {
    Txn t(env_, false, dir_);
    std::string mk = rollup::mark_key(entity_key, rollup::kResolutions[res].tag);
    MDB_val k = mval(mk), v;
    std::optional<int64_t> mark;
    if (mdb_get(t.get(), marks, &k, &v) == 0) mark = int64_t(decode_info_u64(sview(v)));
    if (upto_ms <= after_ms) return mark;
    Cursor c(t, db[res], dir_);
    std::string start = rollup::bucket_key(entity_key, newest_first ? upto_ms + 1 : after_ms + 1);
    k = mval(start);
    int rc = c.get(k, v, MDB_SET_RANGE);
    if (newest_first) rc = rc == 0 ? c.get(k, v, MDB_PREV) : c.get(k, v, MDB_LAST);
    for (; rc == 0; rc = c.get(k, v, newest_first ? MDB_PREV : MDB_NEXT)) {
        auto end = rollup::bucket_key_end(sview(k), entity_key);
        if (!end || *end <= after_ms || *end > upto_ms) break;
        if (!fn(*end, sview(v))) break;
    }
    return mark;
}

// Calls f(group, k, v) at the first key of each entity's group (its entity key); f may move
// the cursor within the group.
template <class F>
void RollupDb::each_group(Cursor& c, F&& f) const {
    MDB_val k, v;
    for (int rc = c.get(k, v, MDB_FIRST); rc == 0;) {
        std::string_view key = sview(k);
        if (key.size() <= kTsSize) break;
        std::string group(key.substr(0, key.size() - kTsSize));
        f(group, k, v);
        std::string past = group + std::string(kTsSize, '\xff');
        k = mval(past);
        rc = c.get(k, v, MDB_SET_RANGE);
        if (rc == 0 && sview(k) == past) rc = c.get(k, v, MDB_NEXT);
    }
}

std::pair<int64_t, int64_t> RollupDb::span() const {
    Txn t(env_, false, dir_);
    int64_t oldest = 0, newest = 0;
    auto end_of = [](const MDB_val& k) {
        return int64_t(get_be(static_cast<const char*>(k.mv_data) + k.mv_size - kTsSize, kTsSize));
    };
    for (size_t r = 0; r < rollup::kResolutionCount; ++r) {
        Cursor c(t, db[r], dir_);
        each_group(c, [&](const std::string& group, MDB_val& k, MDB_val&) {
            int64_t start = end_of(k) - rollup::kResolutions[r].chunk_ms;  // a chunk's span
            if (!oldest || start < oldest) oldest = start;
            std::string past = group + std::string(kTsSize, '\xff');
            MDB_val lk = mval(past), lv;
            int rc = c.get(lk, lv, MDB_SET_RANGE);
            rc = rc == 0 ? c.get(lk, lv, MDB_PREV) : c.get(lk, lv, MDB_LAST);
            if (rc == 0 && rollup::bucket_key_end(sview(lk), group)) newest = std::max(newest, end_of(lk));
        });
    }
    return {oldest, newest};
}

uint64_t RollupDb::purge(const int64_t (&cutoffs)[rollup::kResolutionCount], size_t max_per_txn) {
    uint64_t total = 0;
    for (size_t r = 0; r < rollup::kResolutionCount; ++r) {
        int64_t res = rollup::kResolutions[r].ms, res_oldest = 0, cutoff = cutoffs[r];
        for (bool done = false; !done;) {
            Txn t(env_, true, dir_);
            Cursor c(t, db[r], dir_);
            size_t n = 0;
            done = true;
            res_oldest = 0;  // what this round leaves (the last round walks every group)
            each_group(c, [&](const std::string& group, MDB_val& k, MDB_val& v) {
                for (int rc = 0; rc == 0 && n < max_per_txn;) {
                    auto end = rollup::bucket_key_end(sview(k), group);
                    if (!end) break;
                    if (*end - res >= cutoff) {  // the chunk's newest bucket is young enough: it stays
                        int64_t start = *end - rollup::kResolutions[r].chunk_ms;
                        if (!res_oldest || start < res_oldest) res_oldest = start;
                        break;
                    }
                    c.del("purge roll-up");
                    ++n;
                    rc = c.get(k, v, MDB_GET_CURRENT);
                    if (rc == EINVAL) rc = c.get(k, v, MDB_NEXT);
                }
                if (n >= max_per_txn) done = false;
            });
            c.close();
            t.commit();
            total += n;
        }
        oldest_[r] = res_oldest;
    }
    return total;
}

void RollupDb::stats(const Txn& t, StoreStats& st) const {
    MDB_stat ms;
    for (size_t r = 0; r < rollup::kResolutionCount; ++r)
        if (mdb_stat(t.get(), db[r], &ms) == 0) st.rollup_chunks[r] = ms.ms_entries;
    st.rollup_oldest_ms = 0;
    for (size_t r = 0; r < rollup::kResolutionCount; ++r) {
        int64_t o = st.rollup_oldest_res_ms[r] = oldest_[r];
        if (o && (!st.rollup_oldest_ms || o < st.rollup_oldest_ms)) st.rollup_oldest_ms = o;
    }
}

}  // namespace sfm
