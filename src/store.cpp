// store.cpp — the LMDB side of the store: the environment, and what write, purge, scan and
// entities do with it (the wrappers: lmdb_env.h; the roll-ups' databases: store_rollups.cpp).
// The bytes it puts and reads are store_format.h's; the layout, section for section:
// docs/storage.md.
//
// Over 500 lines on purpose: this is the whole LMDB side of the samples (opening, writing,
// purging, reading), kept in one file (the roll-ups and compaction apart: store_rollups.cpp,
// compactor.cpp); everything that needs no LMDB is in store_format.cpp.
#include "sflow_monitor/store.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <map>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstring>

#include "sflow_monitor/current.h"
#include "sflow_monitor/log.h"
#include "sflow_monitor/store_format.h"
#include "lmdb_env.h"
#include "compactor.h"
#include "store_rollups.h"

namespace sfm {

namespace {

using namespace store_format;
using namespace lmdb;

constexpr double kHighWater = 0.80, kLowWater = 0.65;  // of the map, for the size purge
constexpr size_t kSpacePurgePerTxn = 10000;
// Raw entries a forward scan steps back over to find a chunk reaching into its window: samples
// that arrived after their time was compacted, until the next pass merges them (storage.md).
constexpr int kLookBack = 8;

// The map size to open with (0: the existing store's own), and why, for the log.
uint64_t choose_map_size(const StoreOptions& opts, const char** how) {
    *how = "map-size";
    if (opts.map_size) return opts.map_size;
    struct stat data_file;
    *how = "the store's own; map-size changes it";
    if (stat((opts.dir + "/data.mdb").c_str(), &data_file) == 0 && data_file.st_size > 0) return 0;
    struct statvfs fs;
    if (statvfs(opts.dir.c_str(), &fs) != 0)
        throw StoreError("store " + opts.dir + ": cannot read the file system's free space: " +
                         std::strerror(errno));
    uint64_t free_bytes = uint64_t(fs.f_bavail) * fs.f_frsize;
    *how = "half the free space of its file system, at most 1 TiB";
    uint64_t size = map_size_for_disk(free_bytes);
    if (size > free_bytes / 2)
        log_warn("store %s: only %llu MiB free on its file system", opts.dir.c_str(),
                 (unsigned long long)(free_bytes >> 20));
    return size;
}


// The sample key a cursor is on, if it is one of this entity's.
std::optional<SampleKey> entity_sample(const MDB_val& k, std::string_view entity) {
    auto key = parse_sample_key(sview(k));
    if (!key || key->entity != entity) return std::nullopt;
    return key;
}

}  // namespace

struct Store::Impl {
    StoreOptions opts;
    Env env;
    MDB_dbi samples = 0, entities = 0, info = 0;
    bool logged_map_full = false;
    std::atomic<uint64_t> purged_for_space{0};
    uint32_t arrival = 0;  // writer only
    Current current;       // written by the writer after each commit and purge

    RollupDb rollups{env, opts.dir};  // store_rollups.cpp
    Compactor compactor{{env, opts.dir, samples, entities,
                         [this](Cursor& c, std::string& key, size_t size, char** out) {
                             return put_unique(c, key, size, out);
                         },
                         [this](const Txn& t, int64_t delta) { return add_extra(t, delta); },
                         [this] { return arrival++; }}};  // compactor.cpp

    Impl(const StoreOptions& o, uint64_t map_size) : opts(o), env(o.dir, map_size) {
        opts.map_size = env.map_size();
    }

    void check(int rc, const char* what) const { lmdb::check(opts.dir, rc, what); }

    // ---- opening ----------------------------------------------------------------------------

    void open_databases(bool given_map_size) {
        Txn t(env, true, opts.dir);
        check(mdb_dbi_open(t.get(), "samples", MDB_CREATE, &samples), "open samples");
        check(mdb_dbi_open(t.get(), "entities", MDB_CREATE, &entities), "open entities");
        check(mdb_dbi_open(t.get(), "info", MDB_CREATE, &info), "open info");
        rollups.open(t, info);
        MDB_val k = mval(kSchemaKey), v;
        int rc = mdb_get(t.get(), info, &k, &v);
        if (rc != MDB_NOTFOUND) check(rc, "read schema");
        uint32_t have = rc == 0 ? decode_schema(sview(v)) : 0;
        if (rc == 0 && have != 1 && have != kSchema)
            throw StoreError("store " + opts.dir + ": schema version " + std::to_string(have) +
                             ", this build reads 1 and " + std::to_string(kSchema));
        if (have != kSchema) {  // a new store, or version 1: a version-2 store without blocks
            std::string ver = encode_schema(kSchema);
            MDB_val nv = mval(ver);
            check(mdb_put(t.get(), info, &k, &nv, 0), "write schema");
            if (have == 1)
                log_info("store %s: schema version 1 upgraded to %u (no data rewritten)", opts.dir.c_str(),
                         kSchema);
        }
        // LMDB keeps a map size in the file only from a commit that wrote something: a given
        // size is recorded here, so that it is the store's own from now on.
        MDB_val mk = mval(kMapSizeKey), mv;
        if (given_map_size && (mdb_get(t.get(), info, &mk, &mv) != 0 || decode_info_u64(sview(mv)) != opts.map_size)) {
            std::string size = encode_info_u64(opts.map_size);
            mv = mval(size);
            check(mdb_put(t.get(), info, &mk, &mv, 0), "write map size");
        }
        t.commit();
    }

    // ---- info "block_extra" -------------------------------------------------------------------

    uint64_t extra_samples(const Txn& t) const {
        MDB_val k = mval(kBlockExtraKey), v;
        return mdb_get(t.get(), info, &k, &v) == 0 ? decode_info_u64(sview(v)) : 0;
    }
    int add_extra(const Txn& t, int64_t delta) {
        std::string now = encode_info_u64(uint64_t(std::max<int64_t>(int64_t(extra_samples(t)) + delta, 0)));
        MDB_val k = mval(kBlockExtraKey), v = mval(now);
        return mdb_put(t.get(), info, &k, &v, 0);
    }

    uint64_t used_bytes(const Txn& t) const {
        uint64_t pages = 0;
        unsigned psize = 4096;
        for (MDB_dbi d : {MDB_dbi(0), MDB_dbi(1), samples, entities, info, rollups.db[0], rollups.db[1], rollups.marks}) {
            MDB_stat st;
            if (mdb_stat(t.get(), d, &st) == 0) {
                pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
                psize = st.ms_psize;
            }
        }
        return pages * psize;
    }

    // ---- writing ------------------------------------------------------------------------------

    // Reserves `size` bytes under sample key `key` through cursor c and returns where to write
    // them in *out. A key already taken (the arrival counter starts again at 0 after a
    // restart) moves on to the next arrival number. Returns 0 or MDB_MAP_FULL; throws the rest.
    int put_unique(Cursor& c, std::string& key, size_t size, char** out) {
        for (;;) {
            MDB_val k = mval(key), v{size, nullptr};
            int rc = mdb_cursor_put(c.get(), &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);
            if (rc == MDB_KEYEXIST) {
                set_arrival(key, arrival++);
                continue;
            }
            if (rc == MDB_MAP_FULL) return rc;
            check(rc, "write sample");
            *out = static_cast<char*>(v.mv_data);
            return 0;
        }
    }

    // The plan's entries, in key order through one cursor: consecutive keys mostly land on the
    // page the cursor is on, which LMDB then searches alone instead of descending from the
    // root. Values are written in place (MDB_RESERVE).
    int put_samples(const Txn& t, const SampleBatch& batch, const WritePlan& plan) {
        Cursor c(t, samples, opts.dir);
        std::string key;
        for (const WritePlan::Entry& e : plan.entries) {
            auto at = [&](size_t j) { return batch[plan.refs[e.from + j].i]; };
            size_t n = e.to - e.from;
            key.assign(plan.key(e.from));
            char* p = nullptr;
            if (int rc = put_unique(c, key, value_size(n, at), &p)) return rc;
            write_value(p, n, at);
        }
        return 0;
    }

    // Each entity's record, once per batch, from its newest sample (unless the store already
    // has a newer one).
    int update_entities(const Txn& t, const SampleBatch& batch, const std::vector<size_t>& newest) {
        std::string ekey;
        for (size_t i : newest) {
            SampleView s = batch[i];
            ekey.clear();
            append_entity_key(ekey, s.kind, s.name);
            MDB_val ek = mval(ekey), ev;
            if (mdb_get(t.get(), entities, &ek, &ev) == 0) {
                auto have = entity_value_ts(sview(ev));
                if (have && *have > s.meta.ts_ms) continue;
            }
            std::string eval = encode_entity_value(s.meta, s.records_raw);
            ev = mval(eval);
            int rc = mdb_put(t.get(), entities, &ek, &ev, 0);
            if (rc == MDB_MAP_FULL) return rc;
            check(rc, "write entity");
        }
        return 0;
    }

    // One transaction: plan → put → update entities. Returns MDB_MAP_FULL instead of
    // throwing it, so write() can purge and retry.
    // Samples late for a bucket already built (a clock stepped back, a backlog older than the
    // pass's grace): their entities' roll-up marks go back, in the samples' transaction.
    int lower_rollup_marks(const Txn& t, const SampleBatch& batch) {
        std::map<std::string, int64_t> late;  // entity key → its oldest such sample
        for (size_t i = 0; i < batch.size(); ++i) {
            SampleView s = batch[i];
            if (!rollups.may_be_late(s.meta.ts_ms) || (s.kind != Entity::host && s.kind != Entity::vm)) continue;
            auto [it, fresh] = late.emplace(entity_key(s.kind, s.name), s.meta.ts_ms);
            if (!fresh) it->second = std::min(it->second, s.meta.ts_ms);
        }
        for (const auto& [ekey, ts] : late)
            if (int rc = rollups.lower_marks(t, ekey, ts)) return rc;
        return 0;
    }

    int try_write(const SampleBatch& batch) {
        WritePlan plan = plan_write(batch, arrival);
        Txn t(env, true, opts.dir);
        if (int rc = put_samples(t, batch, plan)) return rc;
        if (int rc = update_entities(t, batch, plan.newest)) return rc;
        if (int rc = lower_rollup_marks(t, batch)) return rc;
        if (plan.extra) {
            int rc = add_extra(t, int64_t(plan.extra));
            if (rc == MDB_MAP_FULL) return rc;
            check(rc, "write sample count");
        }
        return t.commit_or_full();
    }

    // ---- purging ------------------------------------------------------------------------------

    // Replaces the value under cursor c (sample key `key`) by what remains of it after cutoff.
    // Returns the number of samples dropped. The cursor must be positioned again.
    uint64_t cut_entry(const Txn& t, Cursor& c, const SampleKey& key, std::string_view value,
                       int64_t cutoff) {
        Cut cut = cut_value(value, key.ts_ms, cutoff);
        std::string new_key(key.entity);
        put_be(new_key, uint64_t(cut.key_ts), kTsSize);
        put_be(new_key, arrival++, kArrivalSize);
        c.del("purge sample");
        if (cut.kept) {
            char* p = nullptr;
            check(put_unique(c, new_key, cut.value.size(), &p), "rewrite block");
            std::memcpy(p, cut.value.data(), cut.value.size());
        }
        int64_t extra_before = int64_t(cut.dropped + cut.kept) - 1;
        int64_t extra_after = std::max<int64_t>(int64_t(cut.kept) - 1, 0);
        if (extra_before != extra_after) check(add_extra(t, extra_after - extra_before), "purge sample count");
        return cut.dropped;
    }

    struct EntityPurge {
        uint64_t deleted = 0;
        bool finished = true;  // false: stopped at the budget, samples before cutoff may remain
        bool empty = false;    // the entity has no sample left
    };

    // Deletes one entity's samples with ts < cutoff, oldest first, at most `budget`.
    EntityPurge purge_entity(const Txn& t, Cursor& sc, std::string_view entity, int64_t cutoff,
                             size_t budget) {
        EntityPurge p;
        std::string start(entity);
        MDB_val k = mval(start), v;
        int r = sc.get(k, v, MDB_SET_RANGE);
        bool kept_part = false;  // a block was cut: the entity keeps samples
        while (r == 0) {
            if (p.deleted >= budget) {
                p.finished = false;
                return p;
            }
            auto key = entity_sample(k, entity);
            if (!key || key->ts_ms >= cutoff) break;
            std::string_view value = sview(v);
            if (newest_in(value, key->ts_ms) >= cutoff) {
                // a block reaching past the cutoff: its newer samples are kept as a new entry,
                // keyed by the oldest of them (>= cutoff: later in the walk)
                std::string at(sview(k));
                p.deleted += cut_entry(t, sc, *key, value, cutoff);
                kept_part = true;
                k = mval(at);
                r = sc.get(k, v, MDB_SET_RANGE);
                continue;
            }
            uint64_t count = samples_in(value);
            sc.del("purge sample");
            p.deleted += count;
            if (count > 1) check(add_extra(t, -int64_t(count - 1)), "purge sample count");
            r = sc.get(k, v, MDB_GET_CURRENT);
            if (r == EINVAL) r = sc.get(k, v, MDB_NEXT);  // cursor past the end
        }
        p.empty = !kept_part && (r != 0 || !entity_sample(k, entity));
        return p;
    }

    // Deletes samples with ts < cutoff, entity by entity, at most max_per_txn per transaction;
    // drops entities left with no samples. Returns the number of samples deleted.
    uint64_t purge_before(int64_t cutoff, size_t max_per_txn) {
        uint64_t total = 0;
        std::string resume;  // entity key to continue from
        for (bool done = false; !done;) {
            Txn t(env, true, opts.dir);
            Cursor ec(t, entities, opts.dir);
            Cursor sc(t, samples, opts.dir);
            size_t n = 0;
            MDB_val ek = mval(resume), ev;
            int rc = ec.get(ek, ev, resume.empty() ? MDB_FIRST : MDB_SET_RANGE);
            done = true;
            while (rc == 0) {
                std::string entity(sview(ek));
                EntityPurge p = purge_entity(t, sc, entity, cutoff, max_per_txn - n);
                n += p.deleted;
                if (!p.finished) {
                    resume = entity;
                    done = false;
                    break;
                }
                if (p.empty) ec.del("purge entity");
                rc = ec.get(ek, ev, p.empty ? MDB_GET_CURRENT : MDB_NEXT);
                if (p.empty && rc == EINVAL) rc = ec.get(ek, ev, MDB_NEXT);
            }
            ec.close();
            sc.close();
            t.commit();
            total += n;
        }
        current.purged_before(cutoff);
        return total;
    }

    // Oldest and newest sample timestamps across all entities (0, 0 when empty).
    std::pair<int64_t, int64_t> time_span() const {
        Txn t(env, false, opts.dir);
        Cursor ec(t, entities, opts.dir);
        Cursor sc(t, samples, opts.dir);
        int64_t oldest = 0, newest = 0;
        MDB_val ek, ev;
        for (int rc = ec.get(ek, ev, MDB_FIRST); rc == 0; rc = ec.get(ek, ev, MDB_NEXT)) {
            std::string entity(sview(ek));
            MDB_val k = mval(entity), v;
            if (sc.get(k, v, MDB_SET_RANGE) == 0)
                if (auto key = entity_sample(k, entity))
                    if (!oldest || key->ts_ms < oldest) oldest = key->ts_ms;
            if (auto ts = entity_value_ts(sview(ev))) newest = std::max(newest, *ts);
        }
        return {oldest, newest};
    }

    // Frees space by dropping the oldest tenth of the time span of everything stored, oldest
    // first whatever it is: roll-ups reach further back, so they go first, and raw samples
    // once the cut reaches them (docs/storage.md, Bounding). Returns what went (samples and
    // buckets).
    uint64_t purge_oldest(const char* why) {
        auto [oldest, newest] = time_span();
        auto [r_oldest, r_newest] = rollups.span();
        int64_t lo = oldest && r_oldest ? std::min(oldest, r_oldest) : oldest ? oldest : r_oldest;
        if (!lo) return 0;
        int64_t hi = std::max(newest, r_newest), cutoff = lo;
        uint64_t buckets = 0, n = 0;
        // a tenth of the span held at a time, until something goes: the roll-ups' span begins at
        // their oldest chunk's start (a 1-hour chunk: 14 days), which may lie days before any data
        for (int tenth = 0; tenth < 10 && buckets + n == 0 && cutoff < hi; ++tenth) {
            cutoff += std::max<int64_t>((hi - lo) / 10, 1);
            buckets = r_oldest && r_oldest < cutoff ? rollups.purge(cutoff, kSpacePurgePerTxn) : 0;
            n = oldest && oldest < cutoff ? purge_before(cutoff, kSpacePurgePerTxn) : 0;
        }
        purged_for_space += n;
        if (!logged_map_full) {
            log_warn("store %s: %s: purged %llu samples and %llu roll-ups older than %lld ms; further purges "
                     "are counted in collector.stats (raise map-size or lower retention)",
                     opts.dir.c_str(), why, (unsigned long long)n, (unsigned long long)buckets, (long long)cutoff);
            logged_map_full = true;
        }
        return n + buckets;
    }

    // After a commit: keep headroom, purging before LMDB has to refuse a write.
    void keep_headroom() {
        auto used = [&] {
            Txn t(env, false, opts.dir);
            return used_bytes(t);
        };
        if (used() <= uint64_t(kHighWater * double(opts.map_size))) return;
        for (int i = 0; i < 10; ++i) {
            if (purge_oldest("map above 80%") == 0) break;
            if (used() < uint64_t(kLowWater * double(opts.map_size))) break;
        }
    }
};

Store::Store(const StoreOptions& opts) {
    if (mkdir(opts.dir.c_str(), 0750) != 0 && errno != EEXIST)
        throw StoreError("store " + opts.dir + ": cannot create directory: " + std::strerror(errno));
    const char* how = nullptr;
    uint64_t map_size = choose_map_size(opts, &how);
    impl_ = std::make_unique<Impl>(opts, map_size);
    (opts.map_size ? log_debug : log_info)("store %s: map size %llu MiB (%s)", opts.dir.c_str(),
                                           (unsigned long long)(impl_->opts.map_size >> 20), how);
    impl_->open_databases(opts.map_size != 0);
    impl_->current.rebuild(*this);
}

Store::~Store() = default;

void Store::write(const SampleBatch& batch) {
    auto& s = *impl_;
    if (batch.empty()) return;
    for (int attempt = 0;; ++attempt) {
        if (s.try_write(batch) == 0) {
            try {
                s.current.apply(batch);
            } catch (const std::exception& e) {
                throw CurrentNotUpdated(std::string("current state not updated: ") + e.what());
            }
            break;
        }
        // map full: drop the oldest data and retry; a batch larger than the map is split
        if (attempt >= 8 || s.purge_oldest("map full") == 0) {
            if (batch.size() > 1) {
                SampleBatch half[2];
                for (size_t i = 0; i < batch.size(); ++i) {
                    SampleView v = batch[i];
                    half[i < batch.size() / 2].add(v.kind, v.name, v.meta, v.records_raw);
                }
                std::optional<CurrentNotUpdated> behind;  // both halves are written all the same
                for (const SampleBatch* h : {&half[1], &half[0]}) try {
                        write(*h);
                    } catch (const CurrentNotUpdated& e) {
                        behind = e;
                    }
                if (behind) throw *behind;
                return;
            }
            fail(s.opts.dir, "write", MDB_MAP_FULL);
        }
    }
    s.keep_headroom();
}

CompactStep Store::compact_step(int64_t cutoff_ms, size_t max_samples, size_t max_entities) {
    return impl_->compactor.step(cutoff_ms, max_samples, max_entities);
}

uint64_t Store::purge(int64_t now_ms, size_t max_per_txn) {
    const int64_t cutoffs[rollup::kResolutionCount] = {now_ms - impl_->opts.rollup_5m_retention_ms,
                                                       now_ms - impl_->opts.rollup_retention_ms};
    impl_->rollups.purge(cutoffs, max_per_txn);
    return impl_->purge_before(now_ms - impl_->opts.retention_ms, max_per_txn);
}

void Store::write_rollups(const RollupWrite& w) {
    auto& s = *impl_;
    if (w.empty()) return;
    for (int attempt = 0;; ++attempt) {
        if (s.rollups.try_write(w) == 0) break;
        if (attempt >= 8 || s.purge_oldest("map full") == 0) fail(s.opts.dir, "write roll-ups", MDB_MAP_FULL);
    }
    s.keep_headroom();
}

std::optional<int64_t> Store::scan_rollups(size_t res, std::string_view entity_key, int64_t after_ms,
                                           int64_t upto_ms, const RollupFn& fn, bool newest_first) const {
    return impl_->rollups.scan(res, entity_key, after_ms, upto_ms, fn, newest_first);
}

void Store::scan(Entity kind, std::string_view name, int64_t after_ms, int64_t upto_ms,
                 const ScanFn& fn, size_t limit, bool newest_first) const {
    auto& s = *impl_;
    if (upto_ms <= after_ms || upto_ms < 0 || limit == 0) return;
    std::string entity = entity_key(kind, name);
    Txn t(s.env, false, s.opts.dir);
    Cursor c(t, s.samples, s.opts.dir);
    WindowGather window(after_ms, upto_ms, limit, newest_first, fn);
    std::string start = sample_key_from(entity, window.start_ts());
    MDB_val k = mval(start), v;
    int rc = c.get(k, v, MDB_SET_RANGE);
    if (!newest_first) {
        // A chunk (up to kMaxChunkSpanMs long) before the start may reach into the window: the
        // newest chunk before it, over any raw entries between (docs/storage.md, "Reading").
        int r = rc == 0 ? c.get(k, v, MDB_PREV) : c.get(k, v, MDB_LAST);
        for (int n = 0; r == 0 && n < kLookBack; r = c.get(k, v, MDB_PREV), ++n) {
            auto key = entity_sample(k, entity);
            if (!key || key->ts_ms < window.start_ts() - kMaxChunkSpanMs) break;
            if (is_chunk(sview(v))) {
                window.add(sview(v), key->ts_ms);
                break;
            }
        }
        k = mval(start);
        rc = c.get(k, v, MDB_SET_RANGE);
    } else {
        rc = rc == 0 ? c.get(k, v, MDB_PREV) : c.get(k, v, MDB_LAST);
    }
    for (; rc == 0; rc = c.get(k, v, newest_first ? MDB_PREV : MDB_NEXT)) {
        auto key = entity_sample(k, entity);
        if (!key) break;
        if (!window.wants(key->ts_ms)) {
            // walking back: the entry it stops at is the last that may reach into the window
            if (newest_first && is_chunk(sview(v))) window.add(sview(v), key->ts_ms);
            break;
        }
        window.add(sview(v), key->ts_ms);
    }
    window.finish();
}

std::vector<EntityInfo> Store::entities(Entity kind) const {
    auto& s = *impl_;
    std::vector<EntityInfo> out;
    Txn t(s.env, false, s.opts.dir);
    Cursor c(t, s.entities, s.opts.dir);
    std::string start(1, char(kind));
    MDB_val k = mval(start), v;
    for (int rc = c.get(k, v, MDB_SET_RANGE); rc == 0; rc = c.get(k, v, MDB_NEXT)) {
        std::string_view key = sview(k);
        if (key.empty() || key[0] != char(kind)) break;
        if (key.size() < kEntityKeyHead) continue;
        if (auto e = decode_entity_value(kind, key.substr(kEntityKeyHead), sview(v)))
            out.push_back(std::move(*e));
    }
    // keys order by name length first (the length byte): sorted as promised, by name bytes
    std::sort(out.begin(), out.end(),
              [](const EntityInfo& a, const EntityInfo& b) { return a.name < b.name; });
    return out;
}

const Current& Store::current() const { return impl_->current; }

std::vector<std::string> Store::entity_keys(std::string_view from, size_t limit) const {
    auto& s = *impl_;
    std::vector<std::string> out;
    Txn t(s.env, false, s.opts.dir);
    Cursor c(t, s.entities, s.opts.dir);
    MDB_val k = mval(from), v;
    int rc = c.get(k, v, from.empty() ? MDB_FIRST : MDB_SET_RANGE);
    for (; rc == 0 && out.size() < limit; rc = c.get(k, v, MDB_NEXT)) out.emplace_back(sview(k));
    return out;
}

StoreStats Store::stats() const {
    auto& s = *impl_;
    StoreStats st;
    st.map_size = s.opts.map_size;
    st.size_purge_at = uint64_t(kHighWater * double(s.opts.map_size));
    st.retention_ms = s.opts.retention_ms;
    Txn t(s.env, false, s.opts.dir);
    st.used_bytes = s.used_bytes(t);
    MDB_stat ms;
    if (mdb_stat(t.get(), s.samples, &ms) == 0) st.samples = ms.ms_entries + s.extra_samples(t);
    if (mdb_stat(t.get(), s.entities, &ms) == 0) st.entities = ms.ms_entries;
    st.oldest_ms = s.time_span().first;
    st.purged_for_space = s.purged_for_space;
    s.rollups.stats(t, st);
    st.rollup_retention_ms = s.opts.rollup_retention_ms;
    st.rollup_5m_retention_ms = s.opts.rollup_5m_retention_ms;
    s.compactor.stats(st);
    return st;
}

}  // namespace sfm
