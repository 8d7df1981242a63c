// rollup.h — roll-ups: per entity, one summary per 5-minute and per 1-hour bucket, built from
// the raw samples, from which a stepped query (docs/api.md, `step`) gets the same answer it
// would get from those samples. Pure: no LMDB (test/rollup_test.cpp). The LMDB side is in
// store.cpp (databases rollup_5m, rollup_1h, rollup_marks), the pass that builds them in
// rollup_pass.cpp; the bytes, byte by byte: docs/storage.md, "Roll-ups".
//
// What a bucket keeps, per record type T a series method shows (host_cpu … virt_net_io):
//  - how many samples of the bucket hold T, and how many of the bucket's samples come after
//    the last of them (`tail`); and how many samples of any kind the bucket holds (`total`):
//    with these a query counts how far apart two samples holding T are (derive.h:
//    kNearSamples);
//  - the last sample holding T: meta and the record itself, as the agent sent it (what the
//    step shows, and where its rates end);
//  - the extremes of each value derived over the intervals ending in the bucket — the one
//    from the sample before the bucket (built from the samples before the bucket's start)
//    included — and whether any of those intervals was a reset or a gap;
//  - the first sample holding T only when no interval ends there (nothing holding T among
//    the 16 samples before it: the entity's first sample, say): a step without any sample
//    before it derives from its own first sample.
// Folding buckets one after another into a step (StepFold) is then exactly what folding their
// samples one after another does.
//
// Caveats:
//  - Buckets cover (end - res, end], like steps; a step that is a multiple of res is a union
//    of whole buckets.
//  - A decoded Bucket owns its bytes; the records a TypeSummary points to live in kept[].
//  - Where the roll-ups before a bucket are gone too (older than rollup-retention), a step
//    that finds no sample before it shows no rates (the bucket has no first sample to derive
//    from), while the raw samples, when they existed, did.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sflow_monitor/derive.h"
#include "sflow_monitor/store.h"

namespace sfm::rollup {

// The resolutions, finest first. A stepped query uses the coarsest that divides its step.
struct Resolution {
    int64_t ms;
    char tag;          // in keys and in collector.stats: '5' (5 minutes), 'h' (1 hour)
    const char* name;  // "5m", "1h"
    int64_t chunk_ms;  // the buckets of this span (aligned like them) are stored as one chunk
    // The zstd level its chunks are written at (compacted samples keep chunk::kZstdLevel, 1).
    // A 1-hour chunk is written once an hour per entity, and a level costs nothing when reading:
    // 9 takes 3-4 % off the bytes for 2-3x the CPU of a write (docs/performance.md, "Roll-ups").
    int zstd_level;
};
// Both are read wherever they exist, also where the raw samples do: a bucket is faster to
// read than its samples, and compacted samples slower still (docs/performance.md).
// 1-hour chunks span 14 days: a 7-day one (~13 KB for a VM) wasted a fifth of its last 4 KiB
// page on average, 14 days halve that per bucket (docs/performance.md, "A year, extrapolated").
inline constexpr Resolution kResolutions[] = {{300000, '5', "5m", 6 * 3600000, 1},
                                              {3600000, 'h', "1h", 14 * 86400000, 9}};
constexpr size_t kResolutionCount = 2;
// The coarsest resolution that divides step_ms, or nullptr.
const Resolution* resolution_for(int64_t step_ms);

int64_t floor_div(int64_t a, int64_t b);
// The end of the bucket (or step) of length len holding time ts: buckets are (k·len, (k+1)·len].
inline int64_t bucket_end(int64_t ts, int64_t len) { return (floor_div(ts - 1, len) + 1) * len; }

// Series record formats (host_cpu 2003 … virt_net_io 2104): the records a roll-up keeps.
bool is_series_format(uint32_t data_format);

// A sample reduced to what the series methods read: its meta and a records region holding
// only its series records (the first good one of each format, as find_record picks them),
// bytes as sent.
struct Kept {
    SampleMeta meta;
    std::string records;
};

// TypeSummary::first when the bucket does not keep its first sample holding T: an interval
// ends there, and it is in `range`.
constexpr uint8_t kNoFirst = 0xff;

struct TypeSummary {
    uint32_t format = 0;   // T::format
    uint64_t count = 0;    // samples of the bucket that hold T
    uint8_t first = kNoFirst, last = 0;  // indices into Bucket::kept
    uint8_t tail = 0;      // samples of the bucket after the last one holding T (at most 255)
    DerivedRange range;    // over the intervals ending at the bucket's samples holding T
    // The length of those intervals (resets aside) when they are all as long, -1 when not, 0
    // when none: what encode_bucket divides the rates' extremes by (not stored: decoded, 0).
    int64_t interval_ms = 0;
};

struct Bucket {
    int64_t end_ms = 0;  // covers (end_ms - res, end_ms]
    uint64_t total = 0;  // samples of the entity in the bucket, whatever records they hold
    std::vector<Kept> kept;           // oldest first
    std::vector<TypeSummary> types;   // in the order of first appearance
    const TypeSummary* find(uint32_t format) const;
};

// Builds buckets from one entity's samples in time order (as Store::scan hands them out).
class BucketBuilder {
public:
    explicit BucketBuilder(int64_t res_ms) : res_(res_ms) {}
    // The samples just before the first bucket built (the kNearSamples before it, oldest
    // first): where the intervals into the first bucket start.
    void before(const SampleMeta& m, std::string_view records_raw);
    // Adds a sample. When it falls after the open bucket, that bucket is complete and is
    // returned (the sample opens the next one).
    std::optional<Bucket> add(const SampleMeta& m, std::string_view records_raw);
    std::optional<Bucket> finish();  // the open bucket, if any
    int64_t open_end() const { return open_ ? cur_.end_ms : 0; }

private:
    struct Slot {  // a sample some TypeSummary points to
        uint64_t ordinal;
        Kept kept;
        int refs;
    };
    struct Open {  // per cur_.types entry: where its first (if kept) and last are
        std::optional<uint64_t> first_ord;
        uint64_t last_ord;
    };
    struct Prev {  // per format: the last sample holding it, and its position
        uint32_t format;
        RecordValue rec;
        SampleMeta meta;
        uint64_t pos;
    };
    int64_t res_;
    bool open_ = false;
    Bucket cur_;
    std::vector<Slot> slots_;
    std::vector<Open> open_types_;
    std::vector<Prev> prev_;
    uint64_t ordinal_ = 0;
    uint64_t pos_ = 0;  // the position of the next sample among the entity's samples read
    std::optional<Bucket> sample(const SampleMeta& m, std::string_view raw, bool in_bucket);
    void release(uint64_t ordinal);
    Bucket close();
};

// ---- chunks: the buckets of one entity's chunk span, as one value (chunk.h's codec) ---------

// The end of the chunk that holds the bucket ending at bucket_end_ms.
inline int64_t chunk_end(int64_t bucket_end_ms, const Resolution& r) { return bucket_end(bucket_end_ms, r.chunk_ms); }
// A chunk's buckets: the old chunk's (empty: none) that end at or before keep_upto, then
// `fresh` (end_ms, bucket bytes; oldest first, all after keep_upto), encoded again.
// Written at zstd level `level` (the resolution's zstd_level).
std::string merge_chunk(std::string_view old_chunk, int64_t keep_upto,
                        const std::vector<std::pair<int64_t, std::string>>& fresh, int level);
// Calls f(end_ms, bucket bytes) for each bucket of a chunk, oldest first (newest first when
// asked), until f returns false; false when the chunk is not one. Oldest first, the buckets
// ending after upto are not decoded (nor given to f).
bool each_bucket(std::string_view chunk, const std::function<bool(int64_t, std::string_view)>& f,
                 bool newest_first = false, int64_t upto = INT64_MAX);

// ---- the bytes of a bucket (docs/storage.md, "Roll-ups") -----------------------------------

constexpr uint8_t kBucketFormat = 3;
std::string encode_bucket(const Bucket& b);
// nullopt when the value is not a bucket this build reads.
std::optional<Bucket> decode_bucket(std::string_view v, int64_t end_ms);

// Keys: entity key | chunk end (8) in the database of the resolution; the mark of an entity is
// entity key | tag (1) in rollup_marks, its value u64: every bucket ending at or before it is
// built (rebuilt whole when a sample arrives late; see rollup_pass.h).
std::string bucket_key(std::string_view entity_key, int64_t end_ms);
std::optional<int64_t> bucket_key_end(std::string_view key, std::string_view entity_key);
std::string mark_key(std::string_view entity_key, char tag);

// ---- a step folded from samples and buckets ------------------------------------------------

// The state of one step of a stepped series over record type T: fed with samples or with
// whole buckets (in time order, each inside the step), it ends with what the step shows.
template <class T>
struct StepFold {
    struct Held {
        T rec;
        SampleMeta meta;
    };
    std::optional<Held> base, first, last;  // base: the previous step's last (or before the range)
    uint64_t count = 0;
    DerivedRange range;
    // Samples read since the last one holding T (last, else base): an interval ends at the
    // next one holding T when this is below kNearSamples.
    uint64_t since = UINT32_MAX;

    // A sample without T, or n of them.
    void skip(uint64_t n = 1) { since = std::min<uint64_t>(since + n, UINT32_MAX); }
    void sample(T rec, const SampleMeta& m, bool derive) {
        if (derive) {
            const Held* prev = last ? &*last : base ? &*base : nullptr;
            if (!prev) first = Held{rec, m};
            else if (since < kNearSamples) range.add(prev->rec, prev->meta, rec, m);
        }
        last = Held{std::move(rec), m};
        ++count;
        since = 0;
    }
    // A bucket's summary of T, its last record (and its first, when it keeps it) decoded from
    // the bucket's kept[]. The interval into the bucket is in its range (the builder saw the
    // sample before), or there was none within reach (kept first).
    void bucket(const TypeSummary& s, std::optional<T> first_rec, const SampleMeta* fm, T last_rec,
                const SampleMeta& lm, bool derive) {
        if (derive) {
            if (first_rec && !last && !base) first = Held{std::move(*first_rec), *fm};
            range.merge(s.range);
        }
        last = Held{std::move(last_rec), lm};
        count += s.count;
        since = s.tail;
    }
    // After the step is written: its last becomes the next step's base.
    void next() {
        base = std::move(last);
        first.reset();
        last.reset();
        count = 0;
        range.clear();
    }
};

}  // namespace sfm::rollup
