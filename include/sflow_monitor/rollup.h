// rollup.h — roll-ups: per entity, one summary per 5-minute and per 1-hour bucket, built from
// the raw samples, from which a stepped query (docs/api.md, `step`) gets the same answer it
// would get from those samples. Pure: no LMDB (test/rollup_test.cpp). The LMDB side is in
// store.cpp (databases rollup_5m, rollup_1h, rollup_marks), the pass that builds them in
// rollup_pass.cpp; the bytes, byte by byte: docs/storage.md, "Roll-ups".
//
// What a bucket keeps, per record type T a series method shows (host_cpu … virt_net_io):
//  - how many samples of the bucket hold T;
//  - the first and the last of them: meta and the record itself, as the agent sent it (the
//    last one is what the step shows; the first one's counters give the derived value across
//    the bucket's start, from whatever sample came before it);
//  - the extremes of each value derived between consecutive samples inside the bucket, and
//    whether any of those intervals was a reset or a gap.
// Folding buckets one after another into a step (StepFold) is then exactly what folding their
// samples one after another does.
//
// Caveats:
//  - Buckets cover (end - res, end], like steps; a step that is a multiple of res is a union
//    of whole buckets.
//  - A decoded Bucket owns its bytes; the records a TypeSummary points to live in kept[].
#pragma once

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
    // Read also where the raw samples exist (faster than them), or only where they are gone:
    // a week of 5-minute chunks decodes slower than its raw samples (docs/performance.md).
    bool where_raw;
};
inline constexpr Resolution kResolutions[] = {{300000, '5', "5m", 6 * 3600000, false},
                                              {3600000, 'h', "1h", 7 * 86400000, true}};
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

struct TypeSummary {
    uint32_t format = 0;   // T::format
    uint64_t count = 0;    // samples of the bucket that hold T
    uint8_t first = 0, last = 0;  // indices into Bucket::kept
    DerivedRange range;    // over the intervals between consecutive T samples of the bucket
};

struct Bucket {
    int64_t end_ms = 0;  // covers (end_ms - res, end_ms]
    std::vector<Kept> kept;           // oldest first
    std::vector<TypeSummary> types;   // in the order of first appearance
    const TypeSummary* find(uint32_t format) const;
};

// Builds buckets from one entity's samples in time order (as Store::scan hands them out).
class BucketBuilder {
public:
    explicit BucketBuilder(int64_t res_ms) : res_(res_ms) {}
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
    struct Open {  // per cur_.types entry: where its first and last are, its last record
        uint64_t first_ord, last_ord;
        RecordValue last_rec;
        SampleMeta last_meta;
    };
    int64_t res_;
    bool open_ = false;
    Bucket cur_;
    std::vector<Slot> slots_;
    std::vector<Open> open_types_;
    uint64_t ordinal_ = 0;
    void release(uint64_t ordinal);
    Bucket close();
};

// ---- chunks: the buckets of one entity's chunk span, as one value (chunk.h's codec) ---------

// The end of the chunk that holds the bucket ending at bucket_end_ms.
inline int64_t chunk_end(int64_t bucket_end_ms, const Resolution& r) { return bucket_end(bucket_end_ms, r.chunk_ms); }
// A chunk's buckets: the old chunk's (empty: none) that end at or before keep_upto, then
// `fresh` (end_ms, bucket bytes; oldest first, all after keep_upto), encoded again.
std::string merge_chunk(std::string_view old_chunk, int64_t keep_upto,
                        const std::vector<std::pair<int64_t, std::string>>& fresh);
// Calls f(end_ms, bucket bytes) for each bucket of a chunk, oldest first (newest first when
// asked), until f returns false; false when the chunk is not one.
bool each_bucket(std::string_view chunk, const std::function<bool(int64_t, std::string_view)>& f,
                 bool newest_first = false);

// ---- the bytes of a bucket (docs/storage.md, "Roll-ups") -----------------------------------

constexpr uint8_t kBucketFormat = 1;
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

    void sample(T rec, const SampleMeta& m, bool derive) {
        if (derive) {
            const Held* prev = last ? &*last : base ? &*base : nullptr;
            if (prev) range.add(prev->rec, prev->meta, rec, m);
            else first = Held{rec, m};
        }
        last = Held{std::move(rec), m};
        ++count;
    }
    // A bucket's summary of T, its first and last records decoded from the bucket's kept[].
    void bucket(const TypeSummary& s, T first_rec, const SampleMeta& fm, T last_rec, const SampleMeta& lm,
                bool derive) {
        if (derive) {
            const Held* prev = last ? &*last : base ? &*base : nullptr;
            if (prev) range.add(prev->rec, prev->meta, first_rec, fm);
            else first = Held{std::move(first_rec), fm};
            range.merge(s.range);
        }
        last = Held{std::move(last_rec), lm};
        count += s.count;
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
