// store_format.h — the bytes of the store, without LMDB: keys, meta, entity values, blocks,
// and the plan of a write. docs/storage.md describes the same things section for section;
// store.cpp puts them into LMDB. Pure functions: testable without an environment
// (test/store_format_test.cpp).
//
// Caveats:
//  - Every integer is big-endian, so that LMDB's byte-wise key order is numeric order.
//  - Readers of values (each_sample, samples_in, decode_entity_value) never read past the
//    value they are given: a value we did not write yields fewer samples, not a crash.
//  - Names longer than kMaxNameLen bytes are cut to it (in keys and in SampleBatch alike).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sflow_monitor/chunk.h"
#include "sflow_monitor/store.h"

namespace sfm::store_format {

// ---- Databases: "info" ---------------------------------------------------------------------

// 2: values may be blocks. A version-1 store is a version-2 store without blocks.
constexpr uint32_t kSchema = 2;
constexpr std::string_view kSchemaKey = "schema";            // value: u32 version
constexpr std::string_view kBlockExtraKey = "block_extra";   // value: u64, see docs/storage.md
constexpr std::string_view kMapSizeKey = "map_size";         // value: u64, the map size given
constexpr std::string_view kRollupFormatKey = "rollup_format";  // value: u64, the roll-ups' bucket format
std::string encode_schema(uint32_t version);
uint32_t decode_schema(std::string_view v);  // 0 when it is not one
std::string encode_info_u64(uint64_t n);
uint64_t decode_info_u64(std::string_view v);  // 0 when it is not one

// ---- Big-endian integers --------------------------------------------------------------------

void put_be(std::string& s, uint64_t v, int bytes);  // appends
void write_be(char* p, uint64_t v, int bytes);       // in place
uint64_t get_be(const char* p, int bytes);

// ---- Entity key: kind (1) | name length (1) | name ----------------------------------------

constexpr size_t kEntityKeyHead = 2;  // kind, name length
constexpr size_t kMaxNameLen = 255;
void append_entity_key(std::string& k, Entity kind, std::string_view name);
std::string entity_key(Entity kind, std::string_view name);

// ---- Sample key: entity key | ts_ms (8) | arrival (4) -------------------------------------

constexpr size_t kTsSize = 8, kArrivalSize = 4;
constexpr size_t kSampleKeySuffix = kTsSize + kArrivalSize;

void append_sample_key(std::string& k, Entity kind, std::string_view name, int64_t ts_ms,
                       uint32_t arrival);
// The key of the first sample of an entity at or after ts_ms (for MDB_SET_RANGE).
std::string sample_key_from(std::string_view entity_key, int64_t ts_ms);
// Replaces the arrival field of a sample key (the last kArrivalSize bytes).
void set_arrival(std::string& sample_key, uint32_t arrival);

struct SampleKey {
    std::string_view entity;  // the entity key it starts with
    int64_t ts_ms = 0;
    uint32_t arrival = 0;
};
// The one parser of sample keys: nullopt for anything that is not one (wrong length).
std::optional<SampleKey> parse_sample_key(std::string_view key);

// ---- Meta (kMetaSize bytes) ---------------------------------------------------------------

constexpr size_t kMetaSize = 44;
constexpr size_t kBlockFlagAt = 41;  // the meta's first reserved byte: 0, kBlockFlag or kChunkFlag
constexpr char kBlockFlag = 1;
constexpr char kChunkFlag = 2;
void encode_meta(char* p, const SampleMeta& m);  // writes kMetaSize bytes
SampleMeta decode_meta(const char* p, int64_t ts_ms);

// ---- Entity value: ts_ms (8) | meta | records of the newest sample ------------------------

constexpr size_t kEntityValueHead = kTsSize + kMetaSize;
std::string encode_entity_value(const SampleMeta& m, std::string_view records_raw);
// The newest sample's time, or nullopt when the value is too short to hold one.
std::optional<int64_t> entity_value_ts(std::string_view v);
// nullopt when the value is too short to be an entity value.
std::optional<EntityInfo> decode_entity_value(Entity kind, std::string_view key_name, std::string_view v);

// ---- Sample value: one sample (meta | records), a block, or a chunk ------------------------
//   block  [0,8) newest ts_ms | [kBlockFlagAt] = kBlockFlag | [44,48) count |
//          count x ( ts_ms 8 | records length 4 | meta | records ), oldest first
//   chunk  [0,8) newest ts_ms | [kBlockFlagAt] = kChunkFlag | [42] 1: sealed | [44,48) count |
//          a chunk (chunk.h) of count items: ts_ms, meta | records; in time order

constexpr size_t kBlockHead = kMetaSize + 4;
constexpr size_t kBlockEntryHead = kTsSize + 4 + kMetaSize;
constexpr size_t kMaxBlockSamples = 64;
// A block's newest sample is at most this much newer than its oldest (the key's time), so a
// scan finds every sample of (after, upto] among keys in (after - kMaxBlockSpanMs, upto].
constexpr int64_t kMaxBlockSpanMs = 10000;

// Chunks (compacted samples, see docs/storage.md): at most kMaxChunkSamples samples spanning
// at most kMaxChunkSpanMs. A sealed chunk is not extended by later compactions.
constexpr size_t kChunkSealedAt = 42;
constexpr size_t kMaxChunkSamples = 240;
constexpr int64_t kMaxChunkSpanMs = 3600000;

bool is_block(std::string_view v);
bool is_chunk(std::string_view v);
bool is_sealed(std::string_view v);  // a sealed chunk
uint64_t samples_in(std::string_view v);                 // 1 for a one-sample value
int64_t newest_in(std::string_view v, int64_t key_ts);  // the newest sample's time

// A chunk value of samples (ts, meta | records), in time order.
std::string encode_chunk_value(const std::vector<chunk::Item>& samples, bool sealed);
// The samples of a chunk value, their bytes (meta | records) views into buf; false when it is
// not one we wrote (items then holds those before the fault).
// With upto: only the samples up to that time (see chunk::decode).
bool decode_chunk_value(std::string_view v, std::string& buf, std::vector<chunk::Item>& items,
                        int64_t upto = INT64_MAX);

// Calls f(ts_ms, meta bytes (kMetaSize), records) for each sample of a value whose key says
// key_ts, oldest first. Stops at the first entry that does not fit in the value. The views
// are valid during f only, unless `hold` is given: a chunk's samples are decoded into *hold,
// and stay valid while it is unchanged. With upto, a chunk's samples newer than that may be
// left out (not decoded).
template <class F>
void each_sample(std::string_view v, int64_t key_ts, F&& f, std::string* hold = nullptr,
                 int64_t upto = INT64_MAX) {
    if (v.size() < kMetaSize) return;
    if (is_chunk(v)) {
        std::string own;
        std::vector<chunk::Item> items;
        decode_chunk_value(v, hold ? *hold : own, items, upto);
        for (const chunk::Item& it : items)
            if (it.bytes.size() >= kMetaSize) f(it.ts, it.bytes.data(), it.bytes.substr(kMetaSize));
        return;
    }
    if (!is_block(v)) return f(key_ts, v.data(), v.substr(kMetaSize));
    uint64_t n = get_be(v.data() + kMetaSize, 4);
    size_t pos = kBlockHead;
    for (uint64_t i = 0; i < n && pos + kBlockEntryHead <= v.size(); ++i) {
        int64_t ts = int64_t(get_be(v.data() + pos, kTsSize));
        size_t len = size_t(get_be(v.data() + pos + kTsSize, 4));
        if (len > v.size() - pos - kBlockEntryHead) return;
        f(ts, v.data() + pos + kTsSize + 4, v.substr(pos + kBlockEntryHead, len));
        pos += kBlockEntryHead + len;
    }
}

// Writing a value for n samples of one entity, oldest first: at(j) gives the j-th as
// anything with .meta (SampleMeta) and .records_raw (string_view); one sample is written in
// the plain form, several as a block. value_size() first (LMDB reserves it), then write_value().
template <class At>
size_t value_size(size_t n, At at) {
    if (n == 1) return kMetaSize + at(0).records_raw.size();
    size_t bytes = kBlockHead;
    for (size_t j = 0; j < n; ++j) bytes += kBlockEntryHead + at(j).records_raw.size();
    return bytes;
}
void write_block_head(char* p, int64_t newest_ts, size_t count);
template <class At>
void write_value(char* p, size_t n, At at) {
    if (n == 1) {
        auto s = at(0);
        encode_meta(p, s.meta);
        std::copy(s.records_raw.begin(), s.records_raw.end(), p + kMetaSize);
        return;
    }
    write_block_head(p, at(n - 1).meta.ts_ms, n);
    p += kBlockHead;
    for (size_t j = 0; j < n; ++j) {
        auto s = at(j);
        write_be(p, uint64_t(s.meta.ts_ms), kTsSize);
        write_be(p + kTsSize, s.records_raw.size(), 4);
        encode_meta(p + kTsSize + 4, s.meta);
        std::copy(s.records_raw.begin(), s.records_raw.end(), p + kBlockEntryHead);
        p += kBlockEntryHead + s.records_raw.size();
    }
}

// Cutting a value at a time: what remains of it when the samples older than cutoff go.
struct Cut {
    uint64_t dropped = 0, kept = 0;
    int64_t key_ts = 0;  // the remaining value's key time: its oldest sample's
    std::string value;   // the plain form for one sample kept, a block (of a block) or a chunk
                         // (of a chunk) for several; empty for none
};
Cut cut_value(std::string_view v, int64_t key_ts, int64_t cutoff);

// ---- Compaction: samples of one entity into chunks ----------------------------------------

// A chunk to write: its key's time (its oldest sample's), its value, how many samples.
struct NewChunk {
    int64_t key_ts = 0;
    std::string value;
    size_t count = 0;
};
// Cuts one entity's samples (ts, meta | records), in time order, into chunk values: each at most
// kMaxChunkSamples and kMaxChunkSpanMs. A chunk cut by a limit is sealed, and shortened so that
// it fills LMDB's overflow pages (kPageSize) rather than spilling a little into one more; the
// last one, which later samples may extend, is not sealed.
constexpr size_t kPageSize = 4096;  // LMDB's page: the system's page size
std::vector<NewChunk> make_chunks(const std::vector<chunk::Item>& samples);

// ---- Reading a window ----------------------------------------------------------------------

// The samples of one entity in (after, upto], gathered from the values of a cursor walk over
// its keys and handed out in time order: a block may reach kMaxBlockSpanMs past its key, and
// after a clock step a later key may hold older samples, so key order alone is not time
// order. With a limit, wants() turns false once no further key can hold a sample that beats
// the limit-th best so far (a heap of the best `limit` timestamps, worst on top).
//
// Oldest first, a value's samples are never older than its key, so before a chunk is decoded
// every sample gathered that is older than the chunk's key is handed out: a compacted walk
// holds one decoded chunk at a time (its buffer reused by the next), not the whole window's.
// Raw values are handed out at the end (or before the next chunk), prefetched ahead.
class WindowGather {
public:
    WindowGather(int64_t after_ms, int64_t upto_ms, size_t limit, bool newest_first, const Store::ScanFn& fn);
    // Oldest first: walk forward from the first key at or after this time. Newest first:
    // walk back from the last key before it.
    int64_t start_ts() const;
    bool wants(int64_t key_ts) const;  // false: stop the walk
    // A value under a key of time key_ts, in walking order. It must stay valid until finish().
    // May call fn (oldest first, before decoding a chunk) for the samples known to be next.
    void add(std::string_view value, int64_t key_ts);
    // Calls fn for the rest, at most `limit` samples in all, in the direction asked for.
    void finish();
    // Decoded chunks held at once (one per chunk, newest first; oldest first they are reused).
    size_t buffers() const { return decoded_.size(); }

private:
    struct Hit {
        int64_t ts;
        int64_t rank;  // key order (ties keep it), then order within a block
        uint32_t j;
        int32_t buf;   // the decoded chunk it points into, or -1
        const char* meta;
        std::string_view records;
    };
    void release(int64_t before_ts);  // hands out the samples older than before_ts
    void hand_out(size_t n);          // the first n of hits_ (sorted), in the direction asked for
    int64_t after_, upto_;
    size_t limit_;
    bool newest_first_;
    const Store::ScanFn& fn_;
    int64_t rank_ = 0;
    size_t given_ = 0;  // samples handed out
    std::vector<Hit> hits_;
    std::deque<std::string> decoded_;  // chunks' samples, which hits_ point into
    std::vector<uint32_t> refs_;       // per decoded chunk, the hits pointing into it
    std::vector<chunk::Item> items_;
    std::vector<int64_t> best_;
};

// ---- The plan of a write -------------------------------------------------------------------

// A sample's key inside a plan's key buffer, and the sample's index in the batch.
struct KeyRef {
    uint32_t off, len;
    size_t i;
};

// Sorts a batch's keys. A batch holds many samples of few entities, each entity's mostly in
// time order already: samples are grouped by entity (hashing the entity key), the entities
// sorted, and only a group found out of order is sorted itself. Much cheaper than comparing
// whole keys N log N times. The result is the order of std::sort over the whole keys.
void sort_keys(const std::string& keybuf, std::vector<KeyRef>& refs);

// What write() puts, in key order: entries (one sample or a block: a run of one entity within
// kMaxBlockSamples and kMaxBlockSpanMs), and the newest sample of each entity.
struct WritePlan {
    std::string keybuf;
    std::vector<KeyRef> refs;  // sorted
    struct Entry {
        size_t from, to;  // refs[from, to)
    };
    std::vector<Entry> entries;
    std::vector<size_t> newest;  // batch indices, one per entity
    uint64_t extra = 0;          // samples beyond one per entry (the info "block_extra" delta)
    std::string_view key(size_t r) const { return std::string_view(keybuf).substr(refs[r].off, refs[r].len); }
};
// arrival: the writer's counter, advanced by one per sample.
WritePlan plan_write(const SampleBatch& batch, uint32_t& arrival);

}  // namespace sfm::store_format
