// rollup_pass.cpp — building the roll-ups of closed buckets (see rollup_pass.h).
#include "sflow_monitor/rollup_pass.h"

#include <algorithm>

#include "sflow_monitor/derive.h"
#include "sflow_monitor/rollup.h"
#include "sflow_monitor/store_format.h"

namespace sfm {

namespace {
constexpr size_t kKeysPerRead = 256;
constexpr size_t kMaxLate = 100000;  // entities noted late at once; more wait for the next walk
}  // namespace

size_t RollupPass::build(const std::string& ekey, size_t res, int64_t from, int64_t closed, size_t budget,
                         RollupWrite& w, bool* done) {
    const rollup::Resolution& r = rollup::kResolutions[res];
    Entity kind = Entity(ekey[0]);
    std::string name = ekey.substr(store_format::kEntityKeyHead);
    rollup::BucketBuilder builder(r.ms);
    // the samples just before: the intervals into the first bucket start there
    std::vector<std::pair<SampleMeta, std::string>> before;
    if (from >= 0)
        store_.scan(kind, name, -1, from, [&](const SampleMeta& m, std::string_view raw) { before.emplace_back(m, raw); },
                    kNearSamples, true);
    for (size_t i = before.size(); i-- > 0;) builder.before(before[i].first, before[i].second);
    size_t n = 0;
    int64_t mark = from;
    // the buckets built, per chunk: a chunk is written whole, with the buckets it held up to
    // `from` (built before) and these
    std::vector<std::pair<int64_t, std::string>> fresh;
    auto flush_chunk = [&] {
        if (fresh.empty()) return;
        int64_t end = rollup::chunk_end(fresh.front().first, r);
        std::string old;
        if (end - r.chunk_ms < from)  // the chunk began before this build: keep what it holds
            store_.scan_rollups(res, ekey, end - 1, end, [&](int64_t, std::string_view v) {
                old.assign(v);
                return false;
            });
        w.buckets.push_back({res, rollup::bucket_key(ekey, end), rollup::merge_chunk(old, from, fresh, r.zstd_level)});
        fresh.clear();
    };
    auto put = [&](const rollup::Bucket& b) {
        if (!fresh.empty() && rollup::chunk_end(b.end_ms, r) != rollup::chunk_end(fresh.front().first, r))
            flush_chunk();
        fresh.emplace_back(b.end_ms, rollup::encode_bucket(b));
        mark = b.end_ms;
        ++built_;
    };
    *done = true;
    scan_streamed(store_, kind, name, from, closed, [&](const SampleMeta& m, std::string_view raw) {
        ++n;
        auto b = builder.add(m, raw);
        if (!b) return true;
        put(*b);
        if (n <= budget) return true;
        *done = false;  // the sample just read opened the next bucket: built by the next run
        return false;
    });
    if (*done) {
        if (auto b = builder.finish()) put(*b);
        mark = closed;
    }
    flush_chunk();
    if (mark > from) w.marks.emplace_back(rollup::mark_key(ekey, r.tag), mark);
    return n;
}

uint64_t RollupPass::run(int64_t now_ms) {
    int64_t step = rollup::kResolutions[0].ms;
    int64_t closed = rollup::floor_div(now_ms - opts_.grace_ms, step) * step;
    if (closed > closed_) {  // a bucket closed: walk every entity (again, if a walk is under way)
        closed_ = closed;
        resume_.assign(1, '\0');  // the first entity key is at or after it
    }
    if (resume_.empty() && late_.empty()) return 0;
    RollupWrite w;
    uint64_t built = built_;
    size_t read = 0;
    auto commit = [&] {
        store_.write_rollups(w);
        w = RollupWrite{};
    };
    // One entity: every resolution from its mark (a late sample's store write lowered it).
    auto entity = [&](const std::string& ekey) {
        bool done = true;
        for (size_t res = 0; res < rollup::kResolutionCount && done; ++res) {
            int64_t len = rollup::kResolutions[res].ms;
            int64_t upto = rollup::floor_div(closed_, len) * len;
            auto mark = store_.scan_rollups(res, ekey, 0, 0, [](int64_t, std::string_view) { return false; });
            int64_t from = mark ? *mark : -1;
            if (from >= upto) continue;
            read += build(ekey, res, from, upto, opts_.samples_per_run - std::min(read, opts_.samples_per_run), w,
                          &done);
        }
        if (w.buckets.size() >= opts_.chunks_per_txn) commit();
        return done;
    };
    while (!late_.empty() && read < opts_.samples_per_run) {
        std::string ekey = late_.extract(late_.begin()).value();
        if (!entity(ekey)) late_.insert(std::move(ekey));  // stopped at the budget: again next run
    }
    if (!w.empty()) commit();  // the walk below reads the chunks these wrote
    if (late_.empty() && !resume_.empty()) {
        for (bool walked = false; !walked && read < opts_.samples_per_run;) {
            auto keys = store_.entity_keys(resume_, kKeysPerRead);
            walked = keys.size() < kKeysPerRead;
            for (const std::string& ekey : keys) {
                if (read >= opts_.samples_per_run) {
                    resume_ = ekey;
                    walked = false;
                    break;
                }
                bool done = ekey.size() <= store_format::kEntityKeyHead ||
                            (Entity(ekey[0]) != Entity::host && Entity(ekey[0]) != Entity::vm) ||
                            entity(ekey);
                resume_ = done ? ekey + '\0' : ekey;
                if (!done) {
                    walked = false;
                    break;
                }
            }
            if (walked) resume_.clear();
        }
    }
    if (!w.empty()) commit();
    return built_ - built;
}

void RollupPass::note_written(const SampleBatch& batch) {
    if (closed_ == 0) return;
    for (size_t i = 0; i < batch.size(); ++i) {
        SampleView s = batch[i];
        if (s.meta.ts_ms > closed_ || (s.kind != Entity::host && s.kind != Entity::vm)) continue;
        if (late_.size() < kMaxLate) late_.insert(store_format::entity_key(s.kind, s.name));
    }
}

}  // namespace sfm
