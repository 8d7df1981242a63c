// store.cpp — the LMDB store. The only file that includes lmdb.h. Layout: docs/storage.md.
//
//   samples   key  kind(1) namelen(1) name ts_ms(8, BE) arrival(4, BE: order within the ms)
//             val  meta (kMetaSize bytes, below) + records_raw
//   entities  key  kind(1) namelen(1) name
//             val  ts_ms(8, BE) + meta + records_raw of the entity's newest sample
//   info      key  "schema"  val  u32 BE schema version
//             key  "map_size"  val  u64 BE: the map size last given (map-size), in bytes
#include "sflow_monitor/store.h"

#include <lmdb.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <atomic>
#include <unordered_map>
#include <cerrno>
#include <cstring>

#include "sflow_monitor/log.h"

namespace sfm {

namespace {

// 2: values may be blocks (below). A version-1 store is a version-2 store without blocks:
// it is upgraded in place on open; a build that reads only version 1 refuses it after that.
constexpr uint32_t kSchema = 2;
constexpr size_t kMetaSize = 44;
constexpr double kHighWater = 0.80, kLowWater = 0.65;  // of the map, for the size purge

// A value holds one sample (meta + records) or a block of several samples of one entity.
// Blocks are written when a batch holds several samples of an entity (a busy collector):
// one LMDB entry instead of many makes writes several times cheaper. docs/storage.md.
//   block  [0,8) newest ts_ms BE | [41] = kBlock | [44,48) count BE |
//          count x ( ts_ms BE 8 | records length BE 4 | meta kMetaSize | records )
constexpr size_t kFlagAt = 41;  // a meta's first reserved byte: 0 in a one-sample value
constexpr char kBlock = 1;
constexpr size_t kBlockHead = kMetaSize + 4;
constexpr size_t kEntryHead = 8 + 4 + kMetaSize;
constexpr size_t kMaxBlockSamples = 64;
// A block's newest sample is at most this much newer than its oldest (the key's time), so a
// scan finds every sample of (after, upto] among keys in (after - kMaxBlockSpanMs, upto].
constexpr int64_t kMaxBlockSpanMs = 10000;

void put_be(std::string& s, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) s.push_back(char(uint8_t(v >> (8 * i))));
}
uint64_t get_be(const char* p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | uint8_t(p[i]);
    return v;
}

void write_be(char* p, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i, v >>= 8) p[i] = char(uint8_t(v));
}

void append_entity_prefix(std::string& k, Entity kind, std::string_view name) {
    name = name.substr(0, 255);
    k.push_back(char(kind));
    k.push_back(char(uint8_t(name.size())));
    k.append(name);
}

std::string entity_prefix(Entity kind, std::string_view name) {
    std::string k;
    append_entity_prefix(k, kind, name);
    return k;
}

// kMetaSize bytes at p
void write_meta(char* p, const SampleMeta& m) {
    p[0] = char(m.agent.family);
    std::memcpy(p + 1, m.agent.bytes.data(), 16);
    write_be(p + 17, m.sub_agent_id, 4);
    write_be(p + 21, m.datagram_sequence, 4);
    write_be(p + 25, m.uptime, 4);
    write_be(p + 29, m.sample_sequence, 4);
    write_be(p + 33, m.source_class, 4);
    write_be(p + 37, m.source_index, 4);
    std::memset(p + 41, 0, kMetaSize - 41);  // reserved
}

SampleMeta get_meta(const char* p, int64_t ts) {
    SampleMeta m;
    m.ts_ms = ts;
    m.agent.family = uint8_t(p[0]);
    std::memcpy(m.agent.bytes.data(), p + 1, 16);
    m.sub_agent_id = uint32_t(get_be(p + 17, 4));
    m.datagram_sequence = uint32_t(get_be(p + 21, 4));
    m.uptime = uint32_t(get_be(p + 25, 4));
    m.sample_sequence = uint32_t(get_be(p + 29, 4));
    m.source_class = uint32_t(get_be(p + 33, 4));
    m.source_index = uint32_t(get_be(p + 37, 4));
    return m;
}

// A sample's key inside a batch's key buffer, and the sample's index in the batch.
struct KeyRef {
    uint32_t off, len;
    size_t i;
};

// Sorts a batch's keys. A batch holds many samples of few entities, each entity's mostly in
// time order already: samples are grouped by entity (hashing the prefix), the entities sorted,
// and only a group found out of order is sorted itself. Much cheaper than comparing whole
// keys N log N times.
void sort_keys(const std::string& buf, std::vector<KeyRef>& refs) {
    auto key = [&](const KeyRef& r) { return std::string_view(buf).substr(r.off, r.len); };
    auto prefix = [&](const KeyRef& r) { return key(r).substr(0, r.len - 12); };
    std::unordered_map<std::string_view, uint32_t> group_of;
    std::vector<std::string_view> names;
    std::vector<uint32_t> group(refs.size());
    for (size_t r = 0; r < refs.size(); ++r) {
        auto [it, fresh] = group_of.try_emplace(prefix(refs[r]), uint32_t(names.size()));
        if (fresh) names.push_back(it->first);
        group[r] = it->second;
    }
    std::vector<uint32_t> order(names.size()), rank(names.size());
    for (uint32_t g = 0; g < order.size(); ++g) order[g] = g;
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return names[a] < names[b]; });
    for (uint32_t pos = 0; pos < order.size(); ++pos) rank[order[pos]] = pos;
    // by entity rank, then by position in the batch (arrival order)
    std::vector<std::pair<uint32_t, size_t>> by(refs.size());
    for (size_t r = 0; r < refs.size(); ++r) by[r] = {rank[group[r]], r};
    std::sort(by.begin(), by.end());
    std::vector<KeyRef> out(refs.size());
    std::vector<size_t> start(names.size() + 1, 0);  // where each entity's run begins in out
    for (size_t r = 0; r < by.size(); ++r) {
        out[r] = refs[by[r].second];
        start[by[r].first + 1] = r + 1;
    }
    auto less = [&](const KeyRef& a, const KeyRef& b) { return key(a) < key(b); };
    for (size_t g = 0; g + 1 < start.size(); ++g) {
        auto b = out.begin() + long(start[g]), e = out.begin() + long(start[g + 1]);
        if (!std::is_sorted(b, e, less)) std::sort(b, e, less);
    }
    refs.swap(out);
}

bool is_block(std::string_view v) { return v.size() >= kBlockHead && v[kFlagAt] == kBlock; }

// Calls f(ts, meta bytes, records) for each sample of a value whose key says key_ts.
// A value we did not write (too short, lengths past its end) yields nothing more.
template <class F>
void each_sample(std::string_view v, int64_t key_ts, F&& f) {
    if (v.size() < kMetaSize) return;
    if (!is_block(v)) return f(key_ts, v.data(), v.substr(kMetaSize));
    uint64_t n = get_be(v.data() + kMetaSize, 4);
    size_t pos = kBlockHead;
    for (uint64_t i = 0; i < n && pos + kEntryHead <= v.size(); ++i) {
        int64_t ts = int64_t(get_be(v.data() + pos, 8));
        size_t len = size_t(get_be(v.data() + pos + 8, 4));
        if (len > v.size() - pos - kEntryHead) return;
        f(ts, v.data() + pos + 12, v.substr(pos + kEntryHead, len));
        pos += kEntryHead + len;
    }
}

// A block's head (kBlockHead bytes at p).
void write_block_head(char* p, int64_t newest_ts, size_t count) {
    std::memset(p, 0, kBlockHead);
    write_be(p, uint64_t(newest_ts), 8);
    p[kFlagAt] = kBlock;
    write_be(p + kMetaSize, count, 4);
}

uint64_t samples_in(std::string_view v) { return is_block(v) ? get_be(v.data() + kMetaSize, 4) : 1; }
int64_t newest_in(std::string_view v, int64_t key_ts) {
    return is_block(v) ? int64_t(get_be(v.data(), 8)) : key_ts;
}

MDB_val mval(std::string_view s) { return {s.size(), const_cast<char*>(s.data())}; }
std::string_view sview(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

[[noreturn]] void fail(const char* what, int rc, const std::string& dir) {
    std::string hint;
    if (rc == MDB_MAP_FULL) hint = " (raise map-size or lower retention)";
    else if (rc == ENOSPC) hint = " (the disk is full)";
    else if (rc == EACCES) hint = " (check the data directory's permissions)";
    else if (rc == MDB_READERS_FULL) hint = " (too many concurrent readers)";
    throw StoreError(std::string("store ") + dir + ": " + what + ": " + mdb_strerror(rc) + hint);
}

int64_t key_ts(std::string_view key, size_t prefix_len) {
    return int64_t(get_be(key.data() + prefix_len, 8));
}

}  // namespace

struct Store::Impl {
    StoreOptions opts;
    MDB_env* env = nullptr;
    MDB_dbi samples = 0, entities = 0, info = 0;
    bool logged_map_full = false;
    std::atomic<uint64_t> purged_for_space{0};
    uint32_t arrival = 0;  // writer only

    void check(int rc, const char* what) const {
        if (rc != 0) fail(what, rc, opts.dir);
    }

    // RAII transaction
    struct Txn {
        const Impl& s;
        MDB_txn* t = nullptr;
        Txn(const Impl& impl, bool write) : s(impl) {
            s.check(mdb_txn_begin(s.env, nullptr, write ? 0 : MDB_RDONLY, &t), "begin transaction");
        }
        ~Txn() {
            if (t) mdb_txn_abort(t);
        }
        void commit() {
            int rc = mdb_txn_commit(t);
            t = nullptr;
            s.check(rc, "commit");
        }
    };

    struct Cursor {
        MDB_cursor* c = nullptr;
        Cursor(const Impl& s, MDB_txn* t, MDB_dbi d) { s.check(mdb_cursor_open(t, d, &c), "open cursor"); }
        ~Cursor() { close(); }
        // A write transaction's commit frees its cursors: close them before committing.
        void close() {
            if (c) mdb_cursor_close(c);
            c = nullptr;
        }
        int get(MDB_val& k, MDB_val& v, MDB_cursor_op op) { return mdb_cursor_get(c, &k, &v, op); }
    };

    uint64_t used_bytes(MDB_txn* t) const {
        uint64_t pages = 0;
        unsigned psize = 4096;
        for (MDB_dbi d : {MDB_dbi(0), MDB_dbi(1), samples, entities, info}) {
            MDB_stat st;
            if (mdb_stat(t, d, &st) == 0) {
                pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
                psize = st.ms_psize;
            }
        }
        return pages * psize;
    }

    // Returns MDB_MAP_FULL instead of throwing it, so write() can purge and retry.
    // Samples go in key order through one cursor: consecutive keys mostly land on the page the
    // cursor is on, which LMDB then searches alone instead of descending from the root. Values
    // are written in place (MDB_RESERVE). Each entity's record is written once per batch, from
    // its newest sample.
    int try_write(const SampleBatch& batch) {
        Txn txn(*this, true);
        // All keys in one buffer, sorted through offsets: no allocation per sample. The key's
        // last field is the arrival order within the millisecond, so samples of one entity in
        // one millisecond (a VM moving between hypervisors, a fast replay) keep their order
        // and never overwrite each other.
        std::string keybuf;
        std::vector<KeyRef> refs;
        refs.reserve(batch.size());
        for (size_t i = 0; i < batch.size(); ++i) {
            SampleView s = batch[i];
            uint32_t off = uint32_t(keybuf.size());
            append_entity_prefix(keybuf, s.kind, s.name);
            put_be(keybuf, uint64_t(s.meta.ts_ms), 8);
            put_be(keybuf, arrival++, 4);
            refs.push_back({off, uint32_t(keybuf.size() - off), i});
        }
        sort_keys(keybuf, refs);
        auto key_of = [&](const KeyRef& r) { return std::string_view(keybuf).substr(r.off, r.len); };

        Cursor c(*this, txn.t, samples);
        std::vector<size_t> newest;  // per entity (refs are sorted by entity): its newest sample
        uint64_t extra = 0;          // samples stored beyond one per entry (in blocks)
        std::string key;
        int rc;
        auto same_entity = [&](size_t a, size_t b) {
            size_t plen = refs[a].len - 12;
            return refs[b].len == refs[a].len &&
                   key_of(refs[b]).substr(0, plen) == key_of(refs[a]).substr(0, plen);
        };
        for (size_t r = 0; r < refs.size();) {
            // one entry for refs [r, e): a run of one entity within the block limits
            SampleView first = batch[refs[r].i];
            size_t e = r + 1, bytes = kMetaSize + first.records_raw.size();
            while (e < refs.size() && e - r < kMaxBlockSamples && same_entity(r, e) &&
                   batch[refs[e].i].meta.ts_ms - first.meta.ts_ms <= kMaxBlockSpanMs) {
                bytes += kEntryHead + batch[refs[e].i].records_raw.size();
                ++e;
            }
            bool block = e - r > 1;
            if (block) bytes += kBlockHead - kMetaSize + kEntryHead;
            key.assign(key_of(refs[r]));
            MDB_val k, v;
            for (;;) {
                k = mval(key);
                v.mv_size = bytes;
                v.mv_data = nullptr;
                rc = mdb_cursor_put(c.c, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);
                if (rc != MDB_KEYEXIST) break;
                key.resize(key.size() - 4);  // taken (only after a restart): the next value
                put_be(key, arrival++, 4);
            }
            if (rc == MDB_MAP_FULL) return rc;
            check(rc, "write sample");
            char* p = static_cast<char*>(v.mv_data);
            if (!block) {
                write_meta(p, first.meta);
                std::memcpy(p + kMetaSize, first.records_raw.data(), first.records_raw.size());
            } else {
                write_block_head(p, batch[refs[e - 1].i].meta.ts_ms, e - r);
                p += kBlockHead;
                for (size_t j = r; j < e; ++j) {
                    SampleView s = batch[refs[j].i];
                    write_be(p, uint64_t(s.meta.ts_ms), 8);
                    write_be(p + 8, s.records_raw.size(), 4);
                    write_meta(p + 12, s.meta);
                    std::memcpy(p + kEntryHead, s.records_raw.data(), s.records_raw.size());
                    p += kEntryHead + s.records_raw.size();
                }
                extra += e - r - 1;
            }
            // the last sample of an entity's run is its newest (keys sort by time)
            if (e == refs.size() || !same_entity(r, e)) newest.push_back(refs[e - 1].i);
            r = e;
        }
        c.close();
        std::string ekey, eval;
        for (size_t i : newest) {
            SampleView s = batch[i];
            ekey.clear();
            append_entity_prefix(ekey, s.kind, s.name);
            MDB_val ek = mval(ekey), ev;
            rc = mdb_get(txn.t, entities, &ek, &ev);
            if (rc == 0 && ev.mv_size >= 8 &&
                int64_t(get_be(static_cast<const char*>(ev.mv_data), 8)) > s.meta.ts_ms)
                continue;  // the store already has a newer one
            eval.assign(8 + kMetaSize, '\0');
            write_be(eval.data(), uint64_t(s.meta.ts_ms), 8);
            write_meta(eval.data() + 8, s.meta);
            eval += s.records_raw;
            ev = mval(eval);
            rc = mdb_put(txn.t, entities, &ek, &ev, 0);
            if (rc == MDB_MAP_FULL) return rc;
            check(rc, "write entity");
        }
        if (extra) {
            rc = add_extra(txn.t, int64_t(extra));
            if (rc == MDB_MAP_FULL) return rc;
            check(rc, "write sample count");
        }
        rc = mdb_txn_commit(txn.t);
        txn.t = nullptr;
        if (rc == MDB_MAP_FULL) return rc;
        check(rc, "commit");
        return 0;
    }

    // info "block_extra": samples stored beyond one per samples entry, i.e. the sum over
    // blocks of (count - 1); the store's sample count is entries + this.
    uint64_t extra_samples(MDB_txn* t) const {
        MDB_val k = mval("block_extra"), v;
        if (mdb_get(t, info, &k, &v) != 0 || v.mv_size != 8) return 0;
        return get_be(static_cast<const char*>(v.mv_data), 8);
    }
    int add_extra(MDB_txn* t, int64_t delta) {
        int64_t now = std::max<int64_t>(int64_t(extra_samples(t)) + delta, 0);
        char buf[8];
        write_be(buf, uint64_t(now), 8);
        MDB_val k = mval("block_extra"), v = {8, buf};
        return mdb_put(t, info, &k, &v, 0);
    }

    // Replaces the block under cursor c (key time kts) by one holding only its samples with
    // ts >= cutoff. Returns the number of samples dropped. The cursor must be positioned again.
    uint64_t rewrite_block_from(MDB_txn* t, Cursor& c, const std::string& prefix,
                                std::string_view block, int64_t kts, int64_t cutoff) {
        std::vector<std::pair<int64_t, std::string_view>> keep;  // ts, entry bytes
        uint64_t total = 0;
        each_sample(block, kts, [&](int64_t ts, const char* meta, std::string_view rec) {
            ++total;
            if (ts >= cutoff)
                keep.emplace_back(ts, std::string_view(meta - 12, kEntryHead + rec.size()));
        });
        std::string val;
        if (keep.size() == 1) {  // one sample: the plain form
            val.assign(keep[0].second.substr(12));
        } else if (!keep.empty()) {
            val.assign(kBlockHead, '\0');
            int64_t newest = 0;
            for (auto& [ts, entry] : keep) {
                newest = std::max(newest, ts);
                val.append(entry);
            }
            write_block_head(val.data(), newest, keep.size());
        }
        std::string key = prefix;
        put_be(key, uint64_t(keep.empty() ? kts : keep[0].first), 8);
        put_be(key, arrival++, 4);
        check(mdb_cursor_del(c.c, 0), "purge sample");
        for (int rc = MDB_KEYEXIST; !keep.empty() && rc == MDB_KEYEXIST;) {
            MDB_val k = mval(key), v = mval(val);
            rc = mdb_put(t, samples, &k, &v, MDB_NOOVERWRITE);
            if (rc == MDB_KEYEXIST) {  // taken: the next arrival number
                key.resize(key.size() - 4);
                put_be(key, arrival++, 4);
            } else {
                check(rc, "rewrite block");
            }
        }
        int64_t extra_before = int64_t(total) - 1, extra_after = std::max<int64_t>(int64_t(keep.size()) - 1, 0);
        if (extra_before != extra_after) check(add_extra(t, extra_after - extra_before), "purge sample count");
        return total - keep.size();
    }

    // Deletes samples with ts < cutoff, at most max_per_txn per transaction; drops entities
    // left with no samples. Returns the number of samples deleted.
    uint64_t purge_before(int64_t cutoff, size_t max_per_txn) {
        uint64_t total = 0;
        std::string resume;  // entity key to continue from
        for (;;) {
            Txn txn(*this, true);
            Cursor ec(*this, txn.t, entities);
            Cursor sc(*this, txn.t, samples);
            size_t n = 0;
            MDB_val ek = mval(resume), ev;
            int rc = ec.get(ek, ev, resume.empty() ? MDB_FIRST : MDB_SET_RANGE);
            bool done = true;
            while (rc == 0) {
                std::string prefix(sview(ek));
                // oldest-first scan of this entity's samples
                MDB_val k = mval(prefix), v;
                int r = sc.get(k, v, MDB_SET_RANGE);
                bool kept_part = false;
                while (r == 0 && n < max_per_txn) {
                    std::string_view key = sview(k);
                    if (key.size() != prefix.size() + 12 || key.compare(0, prefix.size(), prefix) != 0)
                        break;
                    int64_t kts = key_ts(key, prefix.size());
                    if (kts >= cutoff) break;
                    uint64_t count = samples_in(sview(v));
                    if (newest_in(sview(v), kts) >= cutoff) {
                        // a block reaching past the cutoff: its newer samples are kept as a
                        // new entry, keyed by the oldest of them (>= cutoff: later in the walk)
                        std::string at(key);
                        n += rewrite_block_from(txn.t, sc, prefix, sview(v), kts, cutoff);
                        kept_part = true;
                        k = mval(at);
                        r = sc.get(k, v, MDB_SET_RANGE);
                        continue;
                    }
                    check(mdb_cursor_del(sc.c, 0), "purge sample");
                    n += count;
                    if (count > 1) check(add_extra(txn.t, -int64_t(count - 1)), "purge sample count");
                    r = sc.get(k, v, MDB_GET_CURRENT);
                    if (r == EINVAL) r = sc.get(k, v, MDB_NEXT);  // cursor past the end
                }
                if (n >= max_per_txn) {
                    resume = prefix;
                    done = false;
                    break;
                }
                // entity now empty of samples?
                bool empty = !kept_part;
                if (r == 0 && !kept_part) {
                    std::string_view key = sview(k);
                    empty = !(key.size() == prefix.size() + 12 &&
                              key.compare(0, prefix.size(), prefix) == 0);
                }
                if (empty) check(mdb_cursor_del(ec.c, 0), "purge entity");
                rc = ec.get(ek, ev, empty ? MDB_GET_CURRENT : MDB_NEXT);
                if (empty && rc == EINVAL) rc = ec.get(ek, ev, MDB_NEXT);
            }
            ec.close();
            sc.close();
            txn.commit();
            total += n;
            if (done) break;
        }
        return total;
    }

    // Oldest and newest sample timestamps across all entities (0, 0 when empty).
    std::pair<int64_t, int64_t> time_span() const {
        Txn txn(*this, false);
        Cursor ec(*this, txn.t, entities);
        Cursor sc(*this, txn.t, samples);
        int64_t oldest = 0, newest = 0;
        MDB_val ek, ev;
        for (int rc = ec.get(ek, ev, MDB_FIRST); rc == 0; rc = ec.get(ek, ev, MDB_NEXT)) {
            std::string prefix(sview(ek));
            MDB_val k = mval(prefix), v;
            if (sc.get(k, v, MDB_SET_RANGE) == 0) {
                std::string_view key = sview(k);
                if (key.size() == prefix.size() + 12 && key.compare(0, prefix.size(), prefix) == 0) {
                    int64_t t = key_ts(key, prefix.size());
                    if (!oldest || t < oldest) oldest = t;
                }
            }
            if (ev.mv_size >= 8) newest = std::max(newest, int64_t(get_be(static_cast<const char*>(ev.mv_data), 8)));
        }
        return {oldest, newest};
    }

    // Frees space by dropping the oldest tenth of the stored time span.
    uint64_t purge_oldest(const char* why) {
        auto [oldest, newest] = time_span();
        if (!oldest) return 0;
        int64_t cutoff = oldest + std::max<int64_t>((newest - oldest) / 10, 1);
        uint64_t n = purge_before(cutoff, 10000);
        purged_for_space += n;
        if (!logged_map_full) {
            log_warn("store %s: %s: purged %llu samples older than %lld ms; further purges are counted "
                     "in collector.stats (raise map-size or lower retention)",
                     opts.dir.c_str(), why, (unsigned long long)n, (long long)cutoff);
            logged_map_full = true;
        }
        return n;
    }
};

uint64_t map_size_for_disk(uint64_t free_bytes) {
    constexpr uint64_t kMiB = 1 << 20, kMost = 1ull << 40, kLeast = 16 * kMiB;
    return std::max(std::min(free_bytes / 2 / kMiB * kMiB, kMost), kLeast);
}

Store::Store(const StoreOptions& opts) : impl_(std::make_unique<Impl>()) {
    impl_->opts = opts;
    auto& s = *impl_;
    if (mkdir(opts.dir.c_str(), 0750) != 0 && errno != EEXIST)
        throw StoreError("store " + opts.dir + ": cannot create directory: " + std::strerror(errno));
    // The map size: given; else kept by an existing store (LMDB reads it from the file when
    // none is set); else derived from the disk.
    uint64_t map_size = opts.map_size;
    const char* how = "map-size";
    struct stat data_file;
    if (map_size == 0 && stat((opts.dir + "/data.mdb").c_str(), &data_file) == 0 && data_file.st_size > 0) {
        how = "the store's own; map-size changes it";
    } else if (map_size == 0) {
        struct statvfs fs;
        if (statvfs(opts.dir.c_str(), &fs) != 0)
            throw StoreError("store " + opts.dir + ": cannot read the file system's free space: " +
                             std::strerror(errno));
        uint64_t free_bytes = uint64_t(fs.f_bavail) * fs.f_frsize;
        map_size = map_size_for_disk(free_bytes);
        how = "half the free space of its file system, at most 1 TiB";
        if (map_size > free_bytes / 2)
            log_warn("store %s: only %llu MiB free on its file system", opts.dir.c_str(),
                     (unsigned long long)(free_bytes >> 20));
    }
    s.check(mdb_env_create(&s.env), "create environment");
    int rc = map_size ? mdb_env_set_mapsize(s.env, map_size) : 0;
    if (rc == 0) rc = mdb_env_set_maxdbs(s.env, 4);
    if (rc == 0) rc = mdb_env_set_maxreaders(s.env, 256);
    if (rc == 0) rc = mdb_env_open(s.env, opts.dir.c_str(), MDB_NOTLS, 0640);
    if (rc != 0) {
        mdb_env_close(s.env);
        s.env = nullptr;
        fail("open", rc, opts.dir);
    }
    int dead = 0;
    mdb_reader_check(s.env, &dead);  // slots left by a killed process
    MDB_envinfo info;
    mdb_env_info(s.env, &info);
    s.opts.map_size = info.me_mapsize;  // LMDB raises a size below what the store already uses
    (opts.map_size ? log_debug : log_info)("store %s: map size %llu MiB (%s)", opts.dir.c_str(),
                                           (unsigned long long)(s.opts.map_size >> 20), how);
    try {
        Impl::Txn txn(s, true);
        s.check(mdb_dbi_open(txn.t, "samples", MDB_CREATE, &s.samples), "open samples");
        s.check(mdb_dbi_open(txn.t, "entities", MDB_CREATE, &s.entities), "open entities");
        s.check(mdb_dbi_open(txn.t, "info", MDB_CREATE, &s.info), "open info");
        MDB_val k = mval("schema"), v;
        rc = mdb_get(txn.t, s.info, &k, &v);
        if (rc == MDB_NOTFOUND) {
            std::string ver;
            put_be(ver, kSchema, 4);
            v = mval(ver);
            s.check(mdb_put(txn.t, s.info, &k, &v, 0), "write schema");
        } else {
            s.check(rc, "read schema");
            uint32_t have = v.mv_size == 4 ? uint32_t(get_be(static_cast<const char*>(v.mv_data), 4)) : 0;
            if (have == 1) {
                std::string ver;
                put_be(ver, kSchema, 4);
                MDB_val nv = mval(ver);
                s.check(mdb_put(txn.t, s.info, &k, &nv, 0), "write schema");
                log_info("store %s: schema version 1 upgraded to %u (no data rewritten)", opts.dir.c_str(),
                         kSchema);
            } else if (have != kSchema) {
                throw StoreError("store " + opts.dir + ": schema version " + std::to_string(have) +
                                 ", this build reads 1 and " + std::to_string(kSchema));
            }
        }
        // LMDB keeps a map size in the file only from a commit that wrote something: a given
        // size is recorded here, so that it is the store's own from now on.
        if (opts.map_size) {
            MDB_val mk = mval("map_size"), mv;
            if (mdb_get(txn.t, s.info, &mk, &mv) != 0 || mv.mv_size != 8 ||
                get_be(static_cast<const char*>(mv.mv_data), 8) != s.opts.map_size) {
                char buf[8];
                write_be(buf, s.opts.map_size, 8);
                mv = {8, buf};
                s.check(mdb_put(txn.t, s.info, &mk, &mv, 0), "write map size");
            }
        }
        txn.commit();
    } catch (...) {
        mdb_env_close(s.env);
        throw;
    }
}

Store::~Store() {
    if (impl_->env) mdb_env_close(impl_->env);
}

void SampleBatch::add(Entity kind, std::string_view name, const SampleMeta& meta,
                      std::string_view records_raw) {
    name = name.substr(0, 255);  // as in the key
    size_t need = name.size() + records_raw.size();
    if (chunks_.empty() || chunks_.back().capacity() - chunks_.back().size() < need) {
        chunks_.emplace_back();
        chunks_.back().reserve(std::max(kChunk, need));
        bytes_ += chunks_.back().capacity();
    }
    std::string& c = chunks_.back();
    items_.push_back({meta, uint32_t(chunks_.size() - 1), uint32_t(c.size()),
                      uint32_t(records_raw.size()), uint8_t(name.size()), kind});
    c.append(name);
    c.append(records_raw);
}

void Store::write(const std::vector<StoredSample>& batch) {
    SampleBatch b;
    for (const StoredSample& s : batch) b.add(s);
    write(b);
}

void Store::write(const SampleBatch& batch) {
    auto& s = *impl_;
    if (batch.empty()) return;
    for (int attempt = 0;; ++attempt) {
        int rc = s.try_write(batch);
        if (rc == 0) break;
        // map full: drop the oldest data and retry; a batch larger than the map is split
        if (attempt >= 8 || s.purge_oldest("map full") == 0) {
            if (batch.size() > 1) {
                SampleBatch half[2];
                for (size_t i = 0; i < batch.size(); ++i) {
                    SampleView v = batch[i];
                    half[i < batch.size() / 2].add(v.kind, v.name, v.meta, v.records_raw);
                }
                write(half[1]);
                write(half[0]);
                return;
            }
            fail("write", MDB_MAP_FULL, s.opts.dir);
        }
    }
    // keep headroom: purge before LMDB has to refuse a write
    uint64_t used;
    {
        Impl::Txn txn(s, false);
        used = s.used_bytes(txn.t);
    }
    if (used > uint64_t(kHighWater * double(s.opts.map_size))) {
        for (int i = 0; i < 10; ++i) {
            if (s.purge_oldest("map above 80%") == 0) break;
            Impl::Txn t2(s, false);
            if (s.used_bytes(t2.t) < uint64_t(kLowWater * double(s.opts.map_size))) break;
        }
    }
}

uint64_t Store::purge(int64_t now_ms, size_t max_per_txn) {
    return impl_->purge_before(now_ms - impl_->opts.retention_ms, max_per_txn);
}

void Store::scan(Entity kind, std::string_view name, int64_t after_ms, int64_t upto_ms,
                 const ScanFn& fn, size_t limit, bool newest_first) const {
    auto& s = *impl_;
    if (upto_ms <= after_ms || upto_ms < 0 || limit == 0) return;
    std::string prefix = entity_prefix(kind, name);
    Impl::Txn txn(s, false);
    Impl::Cursor c(s, txn.t, s.samples);
    // Samples in (after, upto] are gathered, then given in time order: a block may reach
    // kMaxBlockSpanMs past its key, and after a clock step a later key may hold older
    // samples, so key order alone is not time order.
    struct Hit {
        int64_t ts;
        int64_t rank;  // key order (ties keep it), then order within a block
        uint32_t j;
        const char* meta;
        std::string_view records;
    };
    std::vector<Hit> hits;
    // With a limit the walk stops once no further key can hold a sample that beats the
    // limit-th best so far (a heap of the best `limit` timestamps; worst on top).
    auto worse = [&](int64_t a, int64_t b) { return newest_first ? a > b : a < b; };
    std::vector<int64_t> best;
    auto take = [&](int64_t ts) {
        if (limit == SIZE_MAX) return;
        best.push_back(ts);
        std::push_heap(best.begin(), best.end(), worse);
        if (best.size() > limit) {
            std::pop_heap(best.begin(), best.end(), worse);
            best.pop_back();
        }
    };
    int64_t rank = 0;
    auto gather = [&](const MDB_val& v, int64_t key_ts) {
        uint32_t j = 0;
        each_sample(sview(v), key_ts, [&](int64_t ts, const char* meta, std::string_view rec) {
            if (ts > after_ms && ts <= upto_ms) {
                hits.push_back({ts, rank, j, meta, rec});
                take(ts);
            }
            ++j;
        });
    };
    auto entity_key_ts = [&](const MDB_val& k, int64_t& ts) {
        std::string_view key = sview(k);
        if (key.size() != prefix.size() + 12 || key.compare(0, prefix.size(), prefix) != 0)
            return false;
        ts = key_ts(key, prefix.size());
        return true;
    };
    std::string start = prefix;
    MDB_val k, v;
    int64_t kts = 0;
    if (!newest_first) {
        put_be(start, uint64_t(std::max<int64_t>(after_ms + 1 - kMaxBlockSpanMs, 0)), 8);
        k = mval(start);
        for (int rc = c.get(k, v, MDB_SET_RANGE); rc == 0 && entity_key_ts(k, kts) && kts <= upto_ms;
             rc = c.get(k, v, MDB_NEXT)) {
            if (best.size() == limit && kts > best.front()) break;  // later keys hold later samples
            gather(v, kts);
            ++rank;
        }
    } else {
        put_be(start, uint64_t(upto_ms + 1), 8);
        k = mval(start);
        int rc = c.get(k, v, MDB_SET_RANGE);
        rc = rc == 0 ? c.get(k, v, MDB_PREV) : c.get(k, v, MDB_LAST);
        for (; rc == 0 && entity_key_ts(k, kts) && kts > after_ms - kMaxBlockSpanMs;
             rc = c.get(k, v, MDB_PREV)) {
            if (best.size() == limit && kts + kMaxBlockSpanMs < best.front()) break;
            gather(v, kts);
            --rank;  // walking back: earlier keys rank lower
        }
    }
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
        return a.ts != b.ts ? a.ts < b.ts : a.rank != b.rank ? a.rank < b.rank : a.j < b.j;
    });
    size_t n = std::min(limit, hits.size());
    for (size_t i = 0; i < n; ++i) {
        const Hit& h = newest_first ? hits[hits.size() - 1 - i] : hits[i];
        fn(get_meta(h.meta, h.ts), h.records);
    }
}

std::vector<EntityInfo> Store::entities(Entity kind) const {
    auto& s = *impl_;
    std::vector<EntityInfo> out;
    Impl::Txn txn(s, false);
    Impl::Cursor c(s, txn.t, s.entities);
    std::string start(1, char(kind));
    MDB_val k = mval(start), v;
    for (int rc = c.get(k, v, MDB_SET_RANGE); rc == 0; rc = c.get(k, v, MDB_NEXT)) {
        std::string_view key = sview(k);
        if (key.empty() || key[0] != char(kind)) break;
        if (key.size() < 2 || v.mv_size < 8 + kMetaSize) continue;
        EntityInfo e;
        e.kind = kind;
        e.name = std::string(key.substr(2));
        const char* p = static_cast<const char*>(v.mv_data);
        e.last = get_meta(p + 8, int64_t(get_be(p, 8)));
        e.records_raw.assign(p + 8 + kMetaSize, v.mv_size - 8 - kMetaSize);
        out.push_back(std::move(e));
    }
    // keys order by name length first (the length byte): sorted as promised, by name bytes
    std::sort(out.begin(), out.end(),
              [](const EntityInfo& a, const EntityInfo& b) { return a.name < b.name; });
    return out;
}

StoreStats Store::stats() const {
    auto& s = *impl_;
    StoreStats st;
    st.map_size = s.opts.map_size;
    st.size_purge_at = uint64_t(kHighWater * double(s.opts.map_size));
    st.retention_ms = s.opts.retention_ms;
    Impl::Txn txn(s, false);
    st.used_bytes = s.used_bytes(txn.t);
    MDB_stat ms;
    if (mdb_stat(txn.t, s.samples, &ms) == 0) st.samples = ms.ms_entries + s.extra_samples(txn.t);
    if (mdb_stat(txn.t, s.entities, &ms) == 0) st.entities = ms.ms_entries;
    st.oldest_ms = s.time_span().first;
    st.purged_for_space = s.purged_for_space;
    return st;
}

}  // namespace sfm
