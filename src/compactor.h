// compactor.h — compaction's LMDB side (private to src/): an entity's raw entries rewritten into
// chunks, and a pass of that over every entity in bounded transactions. Part of Store::Impl
// (store.cpp); the chunks' bytes are store_format.h's and chunk.h's; the rules:
// docs/storage.md, "Compaction".
//
// Caveats:
//  - step() is for the writer thread only; stats() may be called from any thread.
//  - Each chunk replaces its entries in the transaction that writes it: a kill at any point
//    leaves one or the other.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "lmdb_env.h"
#include "sflow_monitor/store.h"

namespace sfm {

class Compactor {
public:
    // What the store lends compaction: its databases (opened later, so by reference), and the
    // one place that puts a sample key and the one that adjusts the sample count.
    struct Parts {
        const lmdb::Env& env;
        const std::string& dir;
        const MDB_dbi& samples;
        const MDB_dbi& entities;
        // Store::Impl::put_unique: reserves `size` bytes under a free sample key at or after key
        std::function<int(lmdb::Cursor&, std::string& key, size_t size, char** out)> put_unique;
        // Store::Impl::add_extra: adds to info "block_extra"
        std::function<int(const lmdb::Txn&, int64_t delta)> add_extra;
        std::function<uint32_t()> next_arrival;
    };
    explicit Compactor(Parts parts) : p_(std::move(parts)) {}

    // One transaction of a pass (see Store::compact_step).
    CompactStep step(int64_t cutoff, size_t max_samples, size_t max_entities);
    void stats(StoreStats& st) const;

private:
    uint64_t entity(const lmdb::Txn& t, lmdb::Cursor& sc, std::string_view entity, int64_t cutoff,
                    size_t budget, bool* full, bool* unfinished);

    Parts p_;
    std::string resume_;  // entity key to continue from; empty: a pass begins
    int64_t cutoff_ = 0, spent_us_ = 0;
    std::atomic<uint64_t> compacted_{0}, runs_{0};
    std::atomic<int64_t> last_ms_{0}, last_duration_ms_{0};
};

}  // namespace sfm
