// store_format.cpp — the store's bytes without LMDB (see store_format.h, docs/storage.md),
// and SampleBatch, the packed samples a write takes.
#include "sflow_monitor/store_format.h"

#include <cstring>
#include <unordered_map>

namespace sfm {

void SampleBatch::add(Entity kind, std::string_view name, const SampleMeta& meta,
                      std::string_view records_raw) {
    name = name.substr(0, store_format::kMaxNameLen);  // as in the key
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

uint64_t map_size_for_disk(uint64_t free_bytes) {
    constexpr uint64_t kMiB = 1 << 20, kMost = 1ull << 40, kLeast = 16 * kMiB;
    return std::max(std::min(free_bytes / 2 / kMiB * kMiB, kMost), kLeast);
}

namespace store_format {

void put_be(std::string& s, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) s.push_back(char(uint8_t(v >> (8 * i))));
}

void write_be(char* p, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i, v >>= 8) p[i] = char(uint8_t(v));
}

uint64_t get_be(const char* p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | uint8_t(p[i]);
    return v;
}

// ---- info values ---------------------------------------------------------------------------

std::string encode_schema(uint32_t version) {
    std::string v;
    put_be(v, version, 4);
    return v;
}

uint32_t decode_schema(std::string_view v) { return v.size() == 4 ? uint32_t(get_be(v.data(), 4)) : 0; }

std::string encode_info_u64(uint64_t n) {
    std::string v;
    put_be(v, n, 8);
    return v;
}

uint64_t decode_info_u64(std::string_view v) { return v.size() == 8 ? get_be(v.data(), 8) : 0; }

// ---- keys ----------------------------------------------------------------------------------

void append_entity_key(std::string& k, Entity kind, std::string_view name) {
    name = name.substr(0, kMaxNameLen);
    k.push_back(char(kind));
    k.push_back(char(uint8_t(name.size())));
    k.append(name);
}

std::string entity_key(Entity kind, std::string_view name) {
    std::string k;
    append_entity_key(k, kind, name);
    return k;
}

void append_sample_key(std::string& k, Entity kind, std::string_view name, int64_t ts_ms,
                       uint32_t arrival) {
    append_entity_key(k, kind, name);
    put_be(k, uint64_t(ts_ms), kTsSize);
    put_be(k, arrival, kArrivalSize);
}

std::string sample_key_from(std::string_view entity_key, int64_t ts_ms) {
    std::string k(entity_key);
    put_be(k, uint64_t(ts_ms), kTsSize);
    return k;
}

void set_arrival(std::string& sample_key, uint32_t arrival) {
    write_be(sample_key.data() + sample_key.size() - kArrivalSize, arrival, kArrivalSize);
}

std::optional<SampleKey> parse_sample_key(std::string_view key) {
    if (key.size() < kEntityKeyHead ||
        key.size() != kEntityKeyHead + uint8_t(key[1]) + kSampleKeySuffix)
        return std::nullopt;
    size_t entity_len = key.size() - kSampleKeySuffix;
    SampleKey k;
    k.entity = key.substr(0, entity_len);
    k.ts_ms = int64_t(get_be(key.data() + entity_len, kTsSize));
    k.arrival = uint32_t(get_be(key.data() + entity_len + kTsSize, kArrivalSize));
    return k;
}

// ---- meta and entity values ----------------------------------------------------------------

void encode_meta(char* p, const SampleMeta& m) {
    p[0] = char(m.agent.family);
    std::memcpy(p + 1, m.agent.bytes.data(), 16);
    write_be(p + 17, m.sub_agent_id, 4);
    write_be(p + 21, m.datagram_sequence, 4);
    write_be(p + 25, m.uptime, 4);
    write_be(p + 29, m.sample_sequence, 4);
    write_be(p + 33, m.source_class, 4);
    write_be(p + 37, m.source_index, 4);
    std::memset(p + kBlockFlagAt, 0, kMetaSize - kBlockFlagAt);  // reserved
}

SampleMeta decode_meta(const char* p, int64_t ts_ms) {
    SampleMeta m;
    m.ts_ms = ts_ms;
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

std::string encode_entity_value(const SampleMeta& m, std::string_view records_raw) {
    std::string v(kEntityValueHead, '\0');
    write_be(v.data(), uint64_t(m.ts_ms), kTsSize);
    encode_meta(v.data() + kTsSize, m);
    v += records_raw;
    return v;
}

std::optional<int64_t> entity_value_ts(std::string_view v) {
    if (v.size() < kTsSize) return std::nullopt;
    return int64_t(get_be(v.data(), kTsSize));
}

std::optional<EntityInfo> decode_entity_value(Entity kind, std::string_view key_name, std::string_view v) {
    if (v.size() < kEntityValueHead) return std::nullopt;
    EntityInfo e;
    e.kind = kind;
    e.name = std::string(key_name);
    e.last = decode_meta(v.data() + kTsSize, int64_t(get_be(v.data(), kTsSize)));
    e.records_raw = std::string(v.substr(kEntityValueHead));
    return e;
}

// ---- sample values -------------------------------------------------------------------------

bool is_block(std::string_view v) { return v.size() >= kBlockHead && v[kBlockFlagAt] == kBlockFlag; }
bool is_chunk(std::string_view v) { return v.size() >= kBlockHead && v[kBlockFlagAt] == kChunkFlag; }
bool is_sealed(std::string_view v) { return is_chunk(v) && v[kChunkSealedAt] == 1; }

uint64_t samples_in(std::string_view v) {
    return is_block(v) || is_chunk(v) ? get_be(v.data() + kMetaSize, 4) : 1;
}

int64_t newest_in(std::string_view v, int64_t key_ts) {
    return is_block(v) || is_chunk(v) ? int64_t(get_be(v.data(), kTsSize)) : key_ts;
}

std::string encode_chunk_value(const std::vector<chunk::Item>& samples, bool sealed) {
    std::string v(kBlockHead, '\0');
    write_block_head(v.data(), samples.empty() ? 0 : samples.back().ts, samples.size());
    v[kBlockFlagAt] = kChunkFlag;
    v[kChunkSealedAt] = sealed ? 1 : 0;
    chunk::encode(samples, v);
    return v;
}

bool decode_chunk_value(std::string_view v, std::string& buf, std::vector<chunk::Item>& items, int64_t upto) {
    if (!is_chunk(v) || !chunk::decode(v.substr(kBlockHead), buf, items, upto)) return false;
    return upto != INT64_MAX || items.size() == samples_in(v);
}

void write_block_head(char* p, int64_t newest_ts, size_t count) {
    std::memset(p, 0, kBlockHead);
    write_be(p, uint64_t(newest_ts), kTsSize);
    p[kBlockFlagAt] = kBlockFlag;
    write_be(p + kMetaSize, count, 4);
}

Cut cut_value(std::string_view v, int64_t key_ts, int64_t cutoff) {
    struct Kept {
        SampleMeta meta;
        std::string_view records_raw;
        const char* meta_bytes;
    };
    std::vector<Kept> keep;
    Cut cut;
    std::string hold;  // a chunk's samples
    each_sample(v, key_ts, [&](int64_t ts, const char* meta, std::string_view records) {
        if (ts >= cutoff) keep.push_back({decode_meta(meta, ts), records, meta});
        else ++cut.dropped;
    }, &hold);
    cut.kept = keep.size();
    cut.key_ts = keep.empty() ? key_ts : keep[0].meta.ts_ms;
    if (keep.size() > 1 && is_chunk(v)) {  // a chunk stays a chunk, with a new head
        std::vector<chunk::Item> items;
        for (const Kept& k : keep)
            items.push_back({k.meta.ts_ms, std::string_view(k.meta_bytes, kMetaSize + k.records_raw.size())});
        cut.value = encode_chunk_value(items, is_sealed(v));
    } else if (!keep.empty()) {
        auto at = [&](size_t j) -> const Kept& { return keep[j]; };
        cut.value.resize(value_size(keep.size(), at));
        write_value(cut.value.data(), keep.size(), at);
    }
    return cut;
}

// ---- compaction ------------------------------------------------------------------------------

namespace {

// Bytes of LMDB pages a value of this size takes as an overflow value (its 16-byte page
// header first), and the part of them it fills.
size_t overflow_pages(size_t bytes) { return (bytes + 16 + kPageSize - 1) / kPageSize; }

}  // namespace

std::vector<NewChunk> make_chunks(const std::vector<chunk::Item>& samples) {
    std::vector<NewChunk> out;
    auto emit = [&](size_t from, size_t to, bool sealed) {
        std::vector<chunk::Item> part(samples.begin() + long(from), samples.begin() + long(to));
        out.push_back({samples[from].ts, encode_chunk_value(part, sealed), to - from});
    };
    for (size_t i = 0; i < samples.size();) {
        size_t j = i;
        while (j < samples.size() && j - i < kMaxChunkSamples && samples[j].ts - samples[i].ts <= kMaxChunkSpanMs) ++j;
        if (j == samples.size()) {  // the newest: open, later samples may join it
            emit(i, j, false);
            break;
        }
        emit(i, j, true);
        // A sealed chunk that spills a little into one more overflow page gives up samples to
        // the next chunk so that it fits one page less (a page is ~100 samples' worth of
        // VM chunk: the waste would cost more than the head of one more chunk).
        size_t pages = overflow_pages(out.back().value.size());
        for (int tries = 0; pages >= 2 && tries < 4; ++tries) {
            size_t size = out.back().value.size(), fit = (pages - 1) * kPageSize - 16;
            if (size <= fit || double(size + 16) > 0.9 * double(pages * kPageSize)) break;
            size_t n = out.back().count;
            size_t less = std::max<size_t>(1, size_t(double(n) * double(fit) / double(size) * 0.98));
            if (less >= n) less = n - 1;
            if (less == 0) break;
            out.pop_back();
            j = i + less;
            emit(i, j, true);
        }
        i = j;
    }
    return out;
}

// ---- reading a window ----------------------------------------------------------------------

WindowGather::WindowGather(int64_t after_ms, int64_t upto_ms, size_t limit, bool newest_first,
                           const Store::ScanFn& fn)
    : after_(after_ms), upto_(upto_ms), limit_(limit), newest_first_(newest_first), fn_(fn) {}

int64_t WindowGather::start_ts() const {
    return newest_first_ ? upto_ + 1 : std::max<int64_t>(after_ + 1 - kMaxBlockSpanMs, 0);
}

bool WindowGather::wants(int64_t kts) const {
    bool full = best_.size() == limit_;
    if (!newest_first_) return kts <= upto_ && given_ < limit_ && !(full && kts > best_.front());  // later keys: later samples
    return kts > after_ - kMaxBlockSpanMs && !(full && kts + kMaxBlockSpanMs < best_.front());
}

namespace {
bool hit_before(int64_t ats, int64_t arank, uint32_t aj, int64_t bts, int64_t brank, uint32_t bj) {
    return ats != bts ? ats < bts : arank != brank ? arank < brank : aj < bj;
}
}  // namespace

void WindowGather::add(std::string_view value, int64_t key_ts) {
    auto worse = [&](int64_t a, int64_t b) { return newest_first_ ? a > b : a < b; };
    uint32_t j = 0;
    int32_t buf = -1;
    auto note = [&](int64_t ts, const char* meta, std::string_view rec) {
        if (ts > after_ && ts <= upto_) {
            hits_.push_back({ts, rank_, j, buf, meta, rec});
            if (buf >= 0) ++refs_[size_t(buf)];
            if (limit_ != SIZE_MAX) {
                best_.push_back(ts);
                std::push_heap(best_.begin(), best_.end(), worse);
                if (best_.size() > limit_) {
                    std::pop_heap(best_.begin(), best_.end(), worse);
                    best_.pop_back();
                }
            }
        }
        ++j;
    };
    if (is_chunk(value)) {
        if (newest_in(value, key_ts) > after_ && key_ts <= upto_) {  // else nothing for the window
            if (!newest_first_) release(key_ts);
            auto free_buf = std::find(refs_.begin(), refs_.end(), 0u);
            buf = int32_t(free_buf - refs_.begin());
            if (free_buf == refs_.end()) {
                decoded_.emplace_back();
                refs_.push_back(0);
            }
            decode_chunk_value(value, decoded_[size_t(buf)], items_, upto_);
            for (const chunk::Item& it : items_)
                if (it.bytes.size() >= kMetaSize) note(it.ts, it.bytes.data(), it.bytes.substr(kMetaSize));
        }
    } else {
        each_sample(value, key_ts, note);
    }
    rank_ += newest_first_ ? -1 : 1;  // walking back: earlier keys rank lower
}

void WindowGather::release(int64_t before_ts) {
    auto first_after = [&] {
        return std::partition(hits_.begin(), hits_.end(), [&](const Hit& h) { return h.ts < before_ts; });
    };
    size_t n = size_t(first_after() - hits_.begin());
    if (n == 0) return;
    std::stable_sort(hits_.begin(), hits_.begin() + long(n), [](const Hit& a, const Hit& b) {
        return hit_before(a.ts, a.rank, a.j, b.ts, b.rank, b.j);
    });
    hand_out(n);
    hits_.erase(hits_.begin(), hits_.begin() + long(n));
}

void WindowGather::hand_out(size_t n) {
    n = std::min(n, limit_ - given_);
    constexpr size_t kAhead = 8;  // a long window waits on memory: fetch the samples to come
    size_t size = hits_.size();
    for (size_t i = 0; i < n; ++i) {
        if (i + kAhead < n) {
            const Hit& a = newest_first_ ? hits_[size - 1 - i - kAhead] : hits_[i + kAhead];
            __builtin_prefetch(a.meta);
            __builtin_prefetch(a.records.data() + 64);
            __builtin_prefetch(a.records.data() + 128);
        }
        const Hit& h = newest_first_ ? hits_[size - 1 - i] : hits_[i];
        if (h.buf >= 0) --refs_[size_t(h.buf)];
        fn_(decode_meta(h.meta, h.ts), h.records);
    }
    given_ += n;
}

void WindowGather::finish() {
    std::sort(hits_.begin(), hits_.end(), [](const Hit& a, const Hit& b) {
        return hit_before(a.ts, a.rank, a.j, b.ts, b.rank, b.j);
    });
    hand_out(hits_.size());
    hits_.clear();
}

// ---- the plan of a write -------------------------------------------------------------------

void sort_keys(const std::string& buf, std::vector<KeyRef>& refs) {
    auto key = [&](const KeyRef& r) { return std::string_view(buf).substr(r.off, r.len); };
    auto entity = [&](const KeyRef& r) { return key(r).substr(0, r.len - kSampleKeySuffix); };
    std::unordered_map<std::string_view, uint32_t> group_of;
    std::vector<std::string_view> names;
    std::vector<uint32_t> group(refs.size());
    for (size_t r = 0; r < refs.size(); ++r) {
        auto [it, fresh] = group_of.try_emplace(entity(refs[r]), uint32_t(names.size()));
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

WritePlan plan_write(const SampleBatch& batch, uint32_t& arrival) {
    // All keys in one buffer, sorted through offsets: no allocation per sample. The key's
    // last field is the arrival order within the millisecond, so samples of one entity in
    // one millisecond (a VM moving between hypervisors, a fast replay) keep their order
    // and never overwrite each other.
    WritePlan p;
    p.refs.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
        SampleView s = batch[i];
        uint32_t off = uint32_t(p.keybuf.size());
        append_sample_key(p.keybuf, s.kind, s.name, s.meta.ts_ms, arrival++);
        p.refs.push_back({off, uint32_t(p.keybuf.size() - off), i});
    }
    sort_keys(p.keybuf, p.refs);
    auto same_entity = [&](size_t a, size_t b) {
        return p.refs[b].len == p.refs[a].len &&
               p.key(b).substr(0, p.refs[a].len - kSampleKeySuffix) ==
                   p.key(a).substr(0, p.refs[a].len - kSampleKeySuffix);
    };
    for (size_t r = 0; r < p.refs.size();) {
        // one entry for refs [r, e): a run of one entity within the block limits
        int64_t first_ts = batch[p.refs[r].i].meta.ts_ms;
        size_t e = r + 1;
        while (e < p.refs.size() && e - r < kMaxBlockSamples && same_entity(r, e) &&
               batch[p.refs[e].i].meta.ts_ms - first_ts <= kMaxBlockSpanMs)
            ++e;
        p.entries.push_back({r, e});
        p.extra += e - r - 1;
        // the last sample of an entity's run is its newest (keys sort by time)
        if (e == p.refs.size() || !same_entity(r, e)) p.newest.push_back(p.refs[e - 1].i);
        r = e;
    }
    return p;
}

}  // namespace store_format
}  // namespace sfm
