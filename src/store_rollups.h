// store_rollups.h — the roll-ups' LMDB databases (private to src/): rollup_5m and rollup_1h
// (entity key | chunk end → a chunk of buckets, rollup.h) and rollup_marks (entity key | tag → u64:
// built up to). Part of Store::Impl (store.cpp); the layout: docs/storage.md, "Roll-ups".
//
// Caveats:
//  - try_write() and purge() are for the writer thread only.
//  - try_write() returns MDB_MAP_FULL instead of throwing it (Store purges and retries).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "lmdb_env.h"
#include "sflow_monitor/rollup.h"
#include "sflow_monitor/store.h"

namespace sfm {

class RollupDb {
public:
    RollupDb(const lmdb::Env& env, const std::string& dir) : env_(env), dir_(dir) {}
    // Creates the databases if missing. Roll-ups of another bucket format than this build's
    // (info's rollup_format; none: format 1) are dropped, marks included, and so built again
    // from the raw samples held (logged).
    void open(const lmdb::Txn& t, MDB_dbi info);
    int try_write(const RollupWrite& w);
    std::optional<int64_t> scan(size_t res, std::string_view entity_key, int64_t after_ms, int64_t upto_ms,
                                const Store::RollupFn& fn, bool newest_first) const;
    // Oldest bucket start and newest bucket end over both resolutions (0, 0 when none).
    std::pair<int64_t, int64_t> span() const;
    // Drops the chunks whose newest bucket starts before the cutoff of their resolution (one per
    // rollup::kResolutions), at most max_per_txn per transaction; notes the oldest chunk left
    // per resolution. Returns the number dropped.
    uint64_t purge(const int64_t (&cutoffs)[rollup::kResolutionCount], size_t max_per_txn);
    uint64_t purge(int64_t cutoff, size_t max_per_txn) {  // every resolution at one cutoff
        const int64_t cutoffs[rollup::kResolutionCount] = {cutoff, cutoff};
        return purge(cutoffs, max_per_txn);
    }
    void stats(const lmdb::Txn& t, StoreStats& st) const;
    // In the transaction that writes samples (writer thread): a sample at or before the newest
    // mark may fall into a bucket already built. lower_marks() lowers the entity's marks to the
    // start of the bucket holding oldest_ms where that bucket is built, so that the next pass
    // builds it again (and queries read it raw meanwhile), whatever restarts come between.
    // Returns 0 or MDB_MAP_FULL.
    bool may_be_late(int64_t ts_ms) const { return ts_ms <= newest_mark_; }
    int lower_marks(const lmdb::Txn& t, std::string_view entity_key, int64_t oldest_ms);

    MDB_dbi db[rollup::kResolutionCount] = {}, marks = 0;

private:
    template <class F>
    void each_group(lmdb::Cursor& c, F&& f) const;
    const lmdb::Env& env_;
    const std::string& dir_;
    std::atomic<int64_t> oldest_[rollup::kResolutionCount] = {};
    int64_t newest_mark_ = INT64_MIN;  // of every mark (noted at open, by try_write); writer's
};

}  // namespace sfm
