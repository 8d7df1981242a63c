// rollup_pass.h — builds the roll-ups (rollup.h) of closed buckets from the raw samples, in
// the store writer's thread, a bounded amount at a time (docs/storage.md, "Roll-ups").
//
// A bucket is closed once its end is grace_ms behind the clock: samples are stamped with
// their receive time and reach the store within a commit or two, so a closed bucket gets no
// new samples. Each entity has a mark per resolution: every bucket ending at or before it is
// built. A run reads the samples after an entity's mark up to the newest closed bucket's end,
// and writes the chunks holding those buckets (rollup.h: a chunk is rewritten whole, with the
// buckets it held before the mark) and the new mark in one transaction (with other entities'), so a
// kill -9 loses a run's work whole and the next run does it again: no bucket is counted twice
// or lost. A sample that arrives late anyway (its bucket already built) lowers its entity's
// marks in the transaction that stores it (store_rollups.h: lower_marks), and note_written()
// has the next run rewrite the bucket whole from the raw samples at once (after a restart, the
// first walk does).
//
// Caveats:
//  - Writer thread only (run() and note_written()).
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "sflow_monitor/store.h"

namespace sfm {

struct RollupPassOptions {
    int64_t grace_ms = 60000;        // a bucket is closed once its end is this far behind now
    size_t samples_per_run = 20000;  // a run stops at the first bucket end past this many samples read
    size_t chunks_per_txn = 1000;    // a transaction holds whole entities' chunks, about this many
};

class RollupPass {
public:
    explicit RollupPass(Store& store, RollupPassOptions opts = {}) : store_(store), opts_(opts) {}
    // Builds what is closed at now_ms and not built yet, within the run's budget. Returns the
    // number of buckets built; behind() says whether work was left for the next run.
    uint64_t run(int64_t now_ms);
    bool behind() const { return !resume_.empty() || !late_.empty(); }
    // After each batch the writer commits: entities with samples of closed buckets are built
    // again at the next run, from their marks (which the write lowered where needed).
    void note_written(const SampleBatch& batch);

private:
    // One entity at one resolution: its buckets after `from` (a mark, or -1) up to `closed`,
    // read from at most `budget` samples (whole buckets); adds them and the new mark to w.
    // Returns the samples read; *done false when it stopped at the budget.
    size_t build(const std::string& ekey, size_t res, int64_t from, int64_t closed, size_t budget,
                 RollupWrite& w, bool* done);

    Store& store_;
    RollupPassOptions opts_;
    std::string resume_;  // the entity key a run stopped at (empty: the last run finished)
    int64_t closed_ = 0;  // the newest closed bucket end (5 min) of the current walk
    std::set<std::string> late_;  // entity keys with a late sample: built again first
    uint64_t built_ = 0;                   // buckets built since start
};

}  // namespace sfm
