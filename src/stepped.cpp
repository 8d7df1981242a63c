// stepped.cpp — series with `step` (see stepped.h): the steps folded from raw samples and
// from roll-up buckets (rollup.h: StepFold), and which parts of the range each serves.
#include "sflow_monitor/stepped.h"

#include <algorithm>

#include "sflow_monitor/derive.h"
#include "sflow_monitor/rollup.h"
#include "sflow_monitor/store_format.h"

namespace sfm {

namespace {

// How many samples (or buckets) before a stepped query's range are searched for the one its
// first step derives from (newest first, the first that holds the record asked for).
constexpr size_t kBaseLookback = kNearSamples;  // derive.h: the same bound as for an interval

int64_t step_of(int64_t ts, int64_t step) { return rollup::floor_div(ts - 1, step); }
int64_t floor_to(int64_t t, int64_t len) { return rollup::floor_div(t, len) * len; }
int64_t ceil_to(int64_t t, int64_t len) { return -floor_to(-t, len); }

// The parts of a stepped range: raw samples in (after, raw_head], buckets ending in
// (buckets_from, buckets_upto], raw samples in (max(raw_head, buckets_upto), upto].
struct Parts {
    int64_t raw_head, buckets_from, buckets_upto;
    size_t res = 0;
    bool base_from_rollups = false;  // the raw samples before the range are gone
};

// Roll-ups serve the whole buckets they hold (up to the entity's mark); the raw samples the
// rest: a bucket the range's start cuts, while the raw samples there exist, and what came
// after the newest bucket built. Where the raw samples are gone, a cut bucket is served whole.
Parts parts(const Call& c, const SteppedRange& r) {
    Parts p{r.after, r.after, r.after};
    const rollup::Resolution* res = c.opts.rollups ? rollup::resolution_for(r.step) : nullptr;
    if (!res) return p;
    p.res = size_t(res - rollup::kResolutions);
    std::string ekey = store_format::entity_key(r.kind, r.name);
    auto mark = c.store.scan_rollups(p.res, ekey, 0, 0, [](int64_t, std::string_view) { return false; });
    if (!mark) return p;
    std::optional<int64_t> oldest_raw;  // raw samples are complete from it on
    c.store.scan(r.kind, r.name, -1, INT64_MAX / 2, [&](const SampleMeta& m, std::string_view) { oldest_raw = m.ts_ms; },
                 1);
    bool raw_at_start = oldest_raw && *oldest_raw <= r.after + 1;
    int64_t from = raw_at_start ? ceil_to(r.after, res->ms) : floor_to(r.after, res->ms);
    int64_t upto = std::min(*mark, floor_to(r.upto, res->ms));
    if (upto <= from) return p;
    p.raw_head = raw_at_start ? from : r.after;
    p.buckets_from = raw_at_start ? from : floor_to(r.after, res->ms);
    p.buckets_upto = upto;
    p.base_from_rollups = !(oldest_raw && *oldest_raw <= r.after);
    return p;
}

}  // namespace

template <class T>
void stepped_series(const Call& c, const SteppedRange& r, JsonWriter& w,
                    const std::function<void(const SampleMeta&, const T&)>& begin_record) {
    // Per step: its last sample, how many it had, and (derive) the extremes of the values
    // derived between consecutive samples; the step's own rates run from the sample before
    // the step (`base`: the previous step's last, or the last before the range) to its last.
    rollup::StepFold<T> f;
    int64_t step_k = 0;
    size_t written = 0;
    Parts p = parts(c, r);
    std::string ekey = store_format::entity_key(r.kind, r.name);
    auto decode = [](std::string_view value, int64_t end) -> std::optional<rollup::Bucket> {
        return rollup::decode_bucket(value, end);
    };
    // fn(end, bucket bytes) for the buckets ending in (from, upto] (both on bucket boundaries),
    // read from the chunks holding them, until fn returns false
    const rollup::Resolution& res = rollup::kResolutions[p.res];
    auto buckets = [&](int64_t from, int64_t upto, const std::function<bool(int64_t, std::string_view)>& fn,
                       bool newest_first) {
        bool go = true;
        c.store.scan_rollups(p.res, ekey, from, rollup::chunk_end(upto, res), [&](int64_t, std::string_view chunk) {
            rollup::each_bucket(chunk, [&](int64_t end, std::string_view b) {
                if (end <= from || end > upto) return true;
                return go = fn(end, b);
            }, newest_first, upto);
            return go;
        }, newest_first);
    };
    // the sample before the range holding T, and how many samples lie between it and the range
    if (r.derive && !p.base_from_rollups) {
        uint64_t n = 0;
        c.store.scan(r.kind, r.name, -1, r.after,
                     [&](const SampleMeta& m, std::string_view raw) {
                         if (f.base) return;
                         if (auto rec = find_record<T>(raw)) {
                             f.base = typename rollup::StepFold<T>::Held{std::move(*rec), m};
                             f.since = n;
                         }
                         ++n;
                     },
                     kBaseLookback, true);
    }
    if (r.derive && p.base_from_rollups) {
        size_t n = 0;
        uint64_t between = 0;
        buckets(-1, floor_to(r.after, res.ms), [&](int64_t end, std::string_view value) {
            auto b = decode(value, end);
            const rollup::TypeSummary* s = b ? b->find(T::format) : nullptr;
            if (s)
                if (auto rec = find_record<T>(b->kept[s->last].records)) {
                    f.base = typename rollup::StepFold<T>::Held{std::move(*rec), b->kept[s->last].meta};
                    f.since = between + s->tail;
                }
            if (b) between += b->total;
            return !f.base && ++n < kBaseLookback;
        }, true);
    }
    auto flush = [&] {
        begin_record(f.last->meta, f.last->rec);
        w.key("samples");
        w.number(f.count);
        auto* from = f.base ? &*f.base : f.first ? &*f.first : nullptr;
        if (r.derive && from && f.count > (f.base ? 0u : 1u))
            write_derived_over(w, from->rec, f.last->rec,
                               interval_across(from->meta, f.last->meta, f.range.reset(), f.range.gap()), f.range);
        w.end_object();
        f.next();
        ++written;
    };
    // Moves to the step of time ts; false once the limit is reached.
    auto enter = [&](int64_t ts) {
        int64_t k = step_of(ts, r.step);
        if (f.count && k != step_k) {
            flush();
            if (written == r.limit) return false;
        }
        step_k = k;
        return true;
    };
    auto raw = [&](int64_t after, int64_t upto) {
        bool more = true;
        scan_streamed(c.store, r.kind, r.name, after, upto, [&](const SampleMeta& m, std::string_view raw) {
            c.budget.check();
            auto rec = find_record<T>(raw);
            if (!rec) {
                f.skip();
                return true;
            }
            if (!(more = enter(m.ts_ms))) return false;
            f.sample(std::move(*rec), m, r.derive);
            return true;
        });
        return more;
    };
    bool more = raw(r.after, p.raw_head);
    if (more && p.buckets_upto > p.buckets_from)
        buckets(p.buckets_from, p.buckets_upto, [&](int64_t end, std::string_view value) {
            c.budget.check();
            auto b = decode(value, end);
            const rollup::TypeSummary* s = b ? b->find(T::format) : nullptr;
            auto last = s ? find_record<T>(b->kept[s->last].records) : std::nullopt;
            if (!last) {
                if (b) f.skip(b->total);
                return true;
            }
            bool kept_first = s->first != rollup::kNoFirst;
            auto first = kept_first ? find_record<T>(b->kept[s->first].records) : std::nullopt;
            const SampleMeta& lm = b->kept[s->last].meta;
            if (!(more = enter(lm.ts_ms))) return false;
            f.bucket(*s, std::move(first), kept_first ? &b->kept[s->first].meta : nullptr, std::move(*last), lm,
                     r.derive);
            return true;
        }, false);
    if (more) raw(std::max(p.raw_head, p.buckets_upto), r.upto);
    if (f.count && written < r.limit) flush();
}

#define SFM_STEPPED(T)                                                                  \
    template void stepped_series<T>(const Call&, const SteppedRange&, JsonWriter&, \
                                    const std::function<void(const SampleMeta&, const T&)>&);
SFM_STEPPED(HostCpu)
SFM_STEPPED(HostMemory)
SFM_STEPPED(HostDiskIo)
SFM_STEPPED(HostNetIo)
SFM_STEPPED(VirtNode)
SFM_STEPPED(VirtCpu)
SFM_STEPPED(VirtMemory)
SFM_STEPPED(VirtDiskIo)
SFM_STEPPED(VirtNetIo)
#undef SFM_STEPPED

}  // namespace sfm
