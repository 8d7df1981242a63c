// store.h — sample history in one LMDB environment. Layout byte by byte: docs/storage.md.
//
// Caveats:
//  - One writer thread (ingest) calls write()/purge*(); any number of reader threads call
//    scan()/entities()/stats() concurrently (MDB_NOTLS: read transactions are per call).
//  - Every public function throws StoreError with an operator-readable message on an LMDB
//    failure; write() handles a full map itself (purges the oldest data and retries).
//  - scan() callbacks receive views into LMDB's map, valid only during the callback.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sflow_monitor/sflow.h"

namespace sfm {

class Current;

class StoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// host: keyed by agent address; vm: by host_descr hostname; interface: agent address + ifIndex.
enum class Entity : uint8_t { host = 'H', interface = 'I', vm = 'V' };

struct StoreOptions {
    std::string dir;                 // created if missing
    // Bytes. 0: a new store gets map_size_for_disk(free space of dir's file system), an
    // existing one keeps the size it has. Given, it becomes the store's size (kept after).
    uint64_t map_size = 1ull << 30;
    int64_t retention_ms = 7 * 86400000LL;  // purge() drops samples older than this
    int64_t rollup_retention_ms = 400 * 86400000LL;  // purge() drops 1-hour roll-ups older than this
    int64_t compact_after_ms = 600000;      // compact_step() rewrites samples older than this
    int64_t rollup_5m_retention_ms = 42 * 86400000LL;  // purge() drops 5-minute roll-ups older than this
};

// Store::write's batch was committed, but the in-memory current state could not take it (out
// of memory): the samples are stored, the entities' current state is a batch behind.
struct CurrentNotUpdated : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The map size of a new store when none is given: half of free_bytes (LMDB's map is address
// space, and the file grows only as it is used), in whole MiB, at most 1 TiB, at least 16 MiB.
uint64_t map_size_for_disk(uint64_t free_bytes);

// What the datagram said about one sample, besides its records.
struct SampleMeta {
    int64_t ts_ms = 0;  // collector's receive time
    Address agent;
    uint32_t sub_agent_id = 0;
    uint32_t datagram_sequence = 0;
    uint32_t uptime = 0;  // agent uptime, ms
    uint32_t sample_sequence = 0;
    uint32_t source_class = 0;
    uint32_t source_index = 0;
};

struct StoredSample {
    Entity kind = Entity::host;
    std::string name;         // host: Address::raw(); vm: hostname; interface: raw + ifIndex (4, BE)
    SampleMeta meta;
    std::string records_raw;  // CounterSample::records_raw, as the agent sent it
};

// One sample of a SampleBatch: views into the batch, valid while it is unchanged.
struct SampleView {
    Entity kind;
    std::string_view name;
    const SampleMeta& meta;
    std::string_view records_raw;
};

// Samples packed into large chunks: what the ingest thread gathers and hands to the writer.
// No allocation per sample, and growing never copies what is already held (a receiver that
// stopped to move hundreds of MB would let the socket overflow). bytes() is what it holds.
class SampleBatch {
public:
    void add(Entity kind, std::string_view name, const SampleMeta& meta, std::string_view records_raw);
    void add(const StoredSample& s) { add(s.kind, s.name, s.meta, s.records_raw); }
    SampleView operator[](size_t i) const {
        const Item& it = items_[i];
        std::string_view c(chunks_[it.chunk]);
        return {it.kind, c.substr(it.off, it.name_len), it.meta,
                c.substr(it.off + it.name_len, it.records_len)};
    }
    size_t size() const { return items_.size(); }
    bool empty() const { return items_.empty(); }
    size_t bytes() const { return bytes_ + items_.size() * sizeof(Item); }
    void clear() {
        chunks_.clear();
        items_.clear();
        bytes_ = 0;
    }
    void swap(SampleBatch& o) {
        chunks_.swap(o.chunks_);
        items_.swap(o.items_);
        std::swap(bytes_, o.bytes_);
    }

private:
    static constexpr size_t kChunk = 1 << 20;
    struct Item {
        SampleMeta meta;
        uint32_t chunk, off;  // name, then records_raw, in chunks_[chunk] at off
        uint32_t records_len;
        uint8_t name_len;
        Entity kind;
    };
    std::vector<std::string> chunks_;  // each reserved once, never grown past it
    std::deque<Item> items_;
    size_t bytes_ = 0;
};

struct EntityInfo {
    Entity kind = Entity::host;
    std::string name;         // as in StoredSample
    SampleMeta last;          // meta of the newest sample
    std::string records_raw;  // records of the newest sample
};

struct StoreStats {
    uint64_t map_size = 0, used_bytes = 0, samples = 0, entities = 0;
    uint64_t size_purge_at = 0;  // used_bytes above which the oldest samples go (part of map_size)
    int64_t retention_ms = 0;
    int64_t oldest_ms = 0;  // 0 when empty
    uint64_t purged_for_space = 0;  // samples dropped early because the map was filling up
    uint64_t rollup_chunks[2] = {0, 0};  // chunks of buckets held per resolution (rollup::kResolutions)
    int64_t rollup_oldest_ms = 0;   // the oldest chunk's start, as the last purge found it; 0: none
    int64_t rollup_oldest_res_ms[2] = {0, 0};  // the same per resolution
    int64_t rollup_retention_ms = 0, rollup_5m_retention_ms = 0;
    // Compaction (compact_step): raw samples rewritten into chunks; passes finished; when the
    // last pass ended (0: none yet) and the time its transactions took.
    uint64_t compacted_samples = 0, compaction_runs = 0;
    int64_t last_compaction_ms = 0, last_compaction_duration_ms = 0;
};

// What one compact_step() did.
struct CompactStep {
    uint64_t samples = 0;  // raw samples rewritten into chunks
    bool done = true;      // the pass is finished (false: call again)
};

// A roll-up pass's writes, committed in one transaction (rollup_pass.h): chunks of buckets, each
// in the database of its resolution (replacing what the key held), and the entities' new marks.
struct RollupWrite {
    struct Bucket {
        size_t res;  // index into rollup::kResolutions
        std::string key, value;
    };
    std::vector<Bucket> buckets;
    std::vector<std::pair<std::string, int64_t>> marks;  // mark key, built up to (ms)
    bool empty() const { return buckets.empty() && marks.empty(); }
};

class Store {
public:
    explicit Store(const StoreOptions& opts);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Writer thread only. One transaction for the batch; on a full map, purges the oldest
    // data (logging once what it did) and retries. Throws CurrentNotUpdated when the batch is
    // stored but the current state (current()) could not take it; anything else: not stored.
    void write(const SampleBatch& batch);
    void write(const std::vector<StoredSample>& batch) {  // packs it first (tests, tools)
        SampleBatch b;
        for (const StoredSample& s : batch) b.add(s);
        write(b);
    }
    // Writer thread only. Drops samples older than now_ms - retention_ms, in transactions of
    // at most max_per_txn deletions. Returns the number of samples dropped.
    uint64_t purge(int64_t now_ms, size_t max_per_txn = 10000);
    // Writer thread only. One transaction of a compaction pass: samples older than cutoff_ms
    // are rewritten, entity by entity, into chunks (docs/storage.md), at most max_samples of
    // them and max_entities entities looked at per call. A pass starts with the call after
    // the one that finished the last (its cutoff is the one given then) and resumes where
    // the last call stopped.
    CompactStep compact_step(int64_t cutoff_ms, size_t max_samples = 5000, size_t max_entities = 2000);

    // Samples of one entity with after_ms < ts <= upto_ms, oldest first, at most limit.
    using ScanFn = std::function<void(const SampleMeta&, std::string_view records_raw)>;
    void scan(Entity kind, std::string_view name, int64_t after_ms, int64_t upto_ms,
              const ScanFn& fn, size_t limit = SIZE_MAX, bool newest_first = false) const;
    std::vector<EntityInfo> entities(Entity kind) const;  // sorted by name bytes
    // At most `limit` entity keys (store_format.h) at or after `from`, in key order.
    std::vector<std::string> entity_keys(std::string_view from, size_t limit) const;
    StoreStats stats() const;
    // Each host's and VM's newest samples, in memory (current.h): what write() committed is
    // in it when write() returns; a purge's removals when purge() (or a write's purge for
    // space) returns. Rebuilt from the store when it opens.
    const Current& current() const;

    // ---- roll-ups (rollup.h; docs/storage.md, "Roll-ups") ----
    // Writer thread only: one transaction; on a full map, purges the oldest data and retries.
    void write_rollups(const RollupWrite& w);
    // The mark of an entity at resolution `res` (every bucket ending at or before it is built),
    // and then its chunks with end_ms in (after_ms, upto_ms], oldest or newest first, in one
    // read transaction. fn(end_ms, value) gets views valid during the call; false stops.
    using RollupFn = std::function<bool(int64_t end_ms, std::string_view value)>;
    std::optional<int64_t> scan_rollups(size_t res, std::string_view entity_key, int64_t after_ms, int64_t upto_ms,
                                        const RollupFn& fn, bool newest_first = false) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// scan_streamed reads this many samples at a time (one read transaction each), so what a long
// walk holds stays bounded however long the range (stepped queries, the roll-up pass).
constexpr size_t kScanChunk = 4096;

// Calls fn(meta, records) for each sample of one entity in (after, upto], oldest first, until
// fn returns false. Samples sharing the millisecond a chunk ends in are read again by the next
// chunk and skipped there.
template <class F>
inline void scan_streamed(const Store& store, Entity kind, const std::string& name, int64_t after, int64_t upto, F&& fn) {
    int64_t lo = after;
    size_t skip = 0;  // the next chunk's first samples (at lo + 1), given already
    for (;;) {
        size_t limit = kScanChunk + skip, n = 0, at_last = 0;
        int64_t last = lo;
        bool stop = false;
        store.scan(kind, name, lo, upto,
                   [&](const SampleMeta& m, std::string_view raw) {
                       if (m.ts_ms == last) {
                           ++at_last;
                       } else {
                           last = m.ts_ms;
                           at_last = 1;
                       }
                       if (n++ < skip || stop) return;
                       stop = !fn(m, raw);
                   },
                   limit);
        if (stop || n < limit) return;
        lo = last - 1;
        skip = at_last;
    }
}

}  // namespace sfm
