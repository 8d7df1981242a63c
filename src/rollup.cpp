// rollup.cpp — building roll-up buckets from samples, and their bytes (see rollup.h).
#include "sflow_monitor/rollup.h"

#include <algorithm>
#include <numeric>
#include <type_traits>

#include "sflow_monitor/chunk.h"
#include "sflow_monitor/store_format.h"
#include "sflow_monitor/xdr.h"

namespace sfm::rollup {

using store_format::get_be;
using store_format::put_be;

const Resolution* resolution_for(int64_t step_ms) {
    for (size_t i = kResolutionCount; i-- > 0;)
        if (step_ms > 0 && step_ms % kResolutions[i].ms == 0) return &kResolutions[i];
    return nullptr;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

namespace {

template <class T>
constexpr bool kSeries = std::is_same_v<T, HostCpu> || std::is_same_v<T, HostMemory> ||
                         std::is_same_v<T, HostDiskIo> || std::is_same_v<T, HostNetIo> ||
                         std::is_same_v<T, VirtNode> || std::is_same_v<T, VirtCpu> ||
                         std::is_same_v<T, VirtMemory> || std::is_same_v<T, VirtDiskIo> ||
                         std::is_same_v<T, VirtNetIo>;

// The interval from `prev` to `cur` (records of one type) into range.
void add_interval(DerivedRange& range, const RecordValue& prev, const SampleMeta& pm, const RecordValue& cur,
                  const SampleMeta& cm) {
    std::visit(
        [&](const auto& p) {
            using T = std::decay_t<decltype(p)>;
            if constexpr (kSeries<T>)
                if (auto* c = std::get_if<T>(&cur)) range.add(p, pm, *c, cm);
        },
        prev);
}

constexpr size_t kMaxSeriesTypes = 9;
// A key index that says: this key's name is stored at the end of the value.
constexpr size_t kUnknownKey = 0xff;

// A derived value in thousandths, rounded as the API rounds it (derive.cpp's round3): the
// answer shows the rounded extremes, and rounding commutes with min and max, so keeping them
// rounded changes no answer and costs fewer bytes than a double (clamped far beyond any rate).
int64_t milli(double x) {
    double m = std::clamp(x * 1000, -9.0e18, 9.0e18);
    return int64_t(m + (m >= 0 ? 0.5 : -0.5));
}

// An extreme pair as stored: both divided by a factor, min = min' × factor exactly. Over
// intervals that are all ms long, a per-second rate in thousandths is 1000 × d / (ms / 1000)
// for a counter difference d: a multiple of 10^6 / ms when that is whole (50 for 20 s). The
// factor is that (1 when it does not divide both), the same from bucket to bucket, so it costs
// the codec nothing, and the quotients are that much shorter (as short as the differences).
struct Extremes {
    int64_t min, max;
    uint32_t factor;
};

Extremes factor(int64_t min, int64_t max, int64_t interval_ms) {
    int64_t f = interval_ms > 0 && 1000000 % interval_ms == 0 ? 1000000 / interval_ms : 1;
    if (min % f != 0 || max % f != 0) f = 1;
    return {min / f, max / f, uint32_t(f)};
}

}  // namespace

bool is_series_format(uint32_t f) {
    return (f >= HostCpu::format && f <= HostNetIo::format) || (f >= VirtNode::format && f <= VirtNetIo::format);
}

const TypeSummary* Bucket::find(uint32_t format) const {
    for (const TypeSummary& t : types)
        if (t.format == format) return &t;
    return nullptr;
}

// ---- building ----------------------------------------------------------------------------

void BucketBuilder::before(const SampleMeta& m, std::string_view raw) { sample(m, raw, false); }

std::optional<Bucket> BucketBuilder::add(const SampleMeta& m, std::string_view raw) { return sample(m, raw, true); }

std::optional<Bucket> BucketBuilder::sample(const SampleMeta& m, std::string_view raw, bool in_bucket) {
    std::optional<Bucket> done;
    int64_t end = bucket_end(m.ts_ms, res_);
    if (in_bucket && open_ && end != cur_.end_ms) done = close();
    uint64_t pos = pos_++;
    // The series records of the sample: the first good one of each format (find_record's pick).
    struct Found {
        uint32_t format;
        std::string_view bytes;
        RecordValue value;
    };
    Found found[kMaxSeriesTypes];
    size_t nfound = 0;
    try {
        XdrReader r(raw);
        uint32_t n = r.u32();
        for (uint32_t i = 0; i < n && !r.empty() && nfound < kMaxSeriesTypes; ++i) {
            size_t at = r.offset();
            uint32_t format = r.u32();
            XdrReader body = r.sub(r.u32(), "counter record");
            if (!is_series_format(format)) continue;
            bool seen = false;
            for (size_t j = 0; j < nfound; ++j) seen = seen || found[j].format == format;
            if (seen) continue;
            try {
                found[nfound].value = decode_record(format, body);
            } catch (const DecodeError&) {
                continue;
            }
            found[nfound].format = format;
            found[nfound].bytes = raw.substr(at, r.offset() - at);
            ++nfound;
        }
    } catch (const DecodeError&) {
    }
    auto prev_of = [&](uint32_t format) -> Prev* {
        for (Prev& p : prev_)
            if (p.format == format) return &p;
        return nullptr;
    };
    if (!in_bucket) {
        for (size_t j = 0; j < nfound; ++j) {
            Prev* p = prev_of(found[j].format);
            if (!p) p = &prev_.emplace_back(Prev{found[j].format, {}, {}, 0});
            *p = Prev{found[j].format, std::move(found[j].value), m, pos};
        }
        return done;
    }
    if (!open_) {
        open_ = true;
        cur_.end_ms = end;
    }
    ++cur_.total;
    if (nfound == 0) return done;
    uint64_t ord = ordinal_++;
    Slot slot{ord, {m, {}}, 0};
    XdrWriter(slot.kept.records).u32(uint32_t(nfound));
    for (size_t j = 0; j < nfound; ++j) slot.kept.records.append(found[j].bytes);
    slots_.push_back(std::move(slot));
    for (size_t j = 0; j < nfound; ++j) {
        size_t t = 0;
        while (t < cur_.types.size() && cur_.types[t].format != found[j].format) ++t;
        Prev* p = prev_of(found[j].format);
        // the interval ending here counts when the sample before holding the record is near
        bool near = p && pos - p->pos <= kNearSamples;
        if (t == cur_.types.size()) {
            cur_.types.push_back({});
            cur_.types[t].format = found[j].format;
            open_types_.push_back({near ? std::nullopt : std::optional<uint64_t>(ord), ord});
            slots_.back().refs += near ? 1 : 2;
        } else {
            Open& o = open_types_[t];
            uint64_t old = o.last_ord;
            o.last_ord = ord;
            ++slots_.back().refs;
            release(old);
        }
        if (near) {
            TypeSummary& ts = cur_.types[t];
            add_interval(ts.range, p->rec, p->meta, found[j].value, m);
            Interval iv = interval_between(p->meta, m);
            if (!iv.reset && iv.ms != ts.interval_ms) ts.interval_ms = ts.interval_ms == 0 ? iv.ms : -1;
        }
        if (!p) p = &prev_.emplace_back(Prev{found[j].format, {}, {}, 0});
        *p = Prev{found[j].format, std::move(found[j].value), m, pos};
        ++cur_.types[t].count;
    }
    return done;
}

void BucketBuilder::release(uint64_t ordinal) {
    for (size_t i = 0; i < slots_.size(); ++i)
        if (slots_[i].ordinal == ordinal) {
            if (--slots_[i].refs == 0) slots_.erase(slots_.begin() + long(i));
            return;
        }
}

Bucket BucketBuilder::close() {
    Bucket b = std::move(cur_);
    auto index = [&](uint64_t ord) {
        size_t i = 0;
        while (i < slots_.size() && slots_[i].ordinal != ord) ++i;
        return uint8_t(i);
    };
    for (size_t t = 0; t < b.types.size(); ++t) {
        const Open& o = open_types_[t];
        b.types[t].first = o.first_ord ? index(*o.first_ord) : kNoFirst;
        b.types[t].last = index(o.last_ord);
        uint64_t last_pos = 0;
        for (const Prev& p : prev_)
            if (p.format == b.types[t].format) last_pos = p.pos;
        b.types[t].tail = uint8_t(std::min<uint64_t>(pos_ - 1 - last_pos, 255));
    }
    for (Slot& s : slots_) b.kept.push_back(std::move(s.kept));
    slots_.clear();
    open_types_.clear();
    cur_ = Bucket{};
    open_ = false;
    return b;
}

std::optional<Bucket> BucketBuilder::finish() {
    if (!open_) return std::nullopt;
    return close();
}

// ---- bytes -------------------------------------------------------------------------------

// A bucket's value, all in 32-bit words so that the chunk codec's word prediction lines up
// from bucket to bucket (docs/storage.md, "Bucket value"): head, kept samples, per type a
// head and its keys (indices into derived_keys), then every key's extremes — the high words,
// then the low words of the minima, then those of the maxima — and last the names of keys
// not in derived_keys (none, unless a build adds keys the list does not know).
std::string encode_bucket(const Bucket& b) {
    std::string v;
    v.push_back(char(kBucketFormat));
    v.push_back(char(b.kept.size()));
    v.push_back(char(b.types.size()));
    v.push_back(0);
    put_be(v, std::min<uint64_t>(b.total, UINT32_MAX), 4);
    for (const Kept& k : b.kept) {
        put_be(v, uint64_t(k.meta.ts_ms), store_format::kTsSize);
        size_t at = v.size();
        v.resize(at + store_format::kMetaSize);
        store_format::encode_meta(&v[at], k.meta);
        put_be(v, k.records.size(), 4);
        v.append(k.records);
        v.resize((v.size() + 3) / 4 * 4, '\0');
    }
    std::string high, low_min, low_max, factors, names;
    for (const TypeSummary& t : b.types) {
        put_be(v, t.format, 4);
        put_be(v, std::min<uint64_t>(t.count, UINT32_MAX), 4);
        v.push_back(char(t.first));
        v.push_back(char(t.last));
        v.push_back(char((t.range.reset() ? 1 : 0) | (t.range.gap() ? 2 : 0)));
        v.push_back(char(t.tail));
        v.push_back(char(t.range.size()));
        const std::vector<std::string>& known = derived_keys(t.format);
        t.range.each([&](std::string_view key, double min, double max) {
            size_t i = size_t(std::find(known.begin(), known.end(), key) - known.begin());
            if (i >= known.size() || i >= kUnknownKey) {
                i = kUnknownKey;
                names.push_back(char(std::min<size_t>(key.size(), 255)));
                names.append(key.substr(0, 255));
            }
            v.push_back(char(i));
            Extremes e = factor(milli(min), milli(max), t.interval_ms);
            put_be(high, uint64_t(e.min) >> 32, 4);
            put_be(high, uint64_t(e.max) >> 32, 4);
            put_be(low_min, uint32_t(e.min), 4);
            put_be(low_max, uint32_t(e.max), 4);
            put_be(factors, e.factor, 4);
        });
        v.resize((v.size() + 3) / 4 * 4, '\0');
    }
    v += high;
    v += low_min;
    v += low_max;
    v += factors;
    v += names;
    return v;
}

std::optional<Bucket> decode_bucket(std::string_view v, int64_t end_ms) {
    size_t pos = 0;
    auto need = [&](size_t n) { return v.size() - pos >= n; };
    auto byte = [&] { return uint8_t(v[pos++]); };
    auto align = [&] { pos = std::min(v.size(), (pos + 3) / 4 * 4); };
    if (!need(8) || byte() != kBucketFormat) return std::nullopt;
    Bucket b;
    b.end_ms = end_ms;
    size_t nkept = byte(), ntypes = byte();
    pos = 4;
    b.total = get_be(v.data() + pos, 4);
    pos += 4;
    constexpr size_t kKeptHead = store_format::kTsSize + store_format::kMetaSize + 4;
    for (size_t i = 0; i < nkept; ++i) {
        if (!need(kKeptHead)) return std::nullopt;
        int64_t ts = int64_t(get_be(v.data() + pos, store_format::kTsSize));
        Kept k{store_format::decode_meta(v.data() + pos + store_format::kTsSize, ts), {}};
        size_t len = size_t(get_be(v.data() + pos + kKeptHead - 4, 4));
        pos += kKeptHead;
        if (!need(len)) return std::nullopt;
        k.records.assign(v.substr(pos, len));
        pos += len;
        align();
        b.kept.push_back(std::move(k));
    }
    struct Keys {
        size_t at, n;  // where the type's key indices are
    };
    std::vector<Keys> keys;
    size_t nkeys = 0;
    for (size_t i = 0; i < ntypes; ++i) {
        if (!need(13)) return std::nullopt;
        TypeSummary t;
        t.format = uint32_t(get_be(v.data() + pos, 4));
        t.count = get_be(v.data() + pos + 4, 4);
        pos += 8;
        t.first = byte();
        t.last = byte();
        uint8_t flags = byte();
        t.tail = byte();
        size_t n = byte();
        if ((t.first != kNoFirst && t.first >= b.kept.size()) || t.last >= b.kept.size() || !need(n))
            return std::nullopt;
        keys.push_back({pos, n});
        nkeys += n;
        pos += n;
        align();
        t.range.set_flags(flags & 1, flags & 2);
        b.types.push_back(std::move(t));
    }
    size_t high = pos, low_min = high + 8 * nkeys, low_max = low_min + 4 * nkeys, factors = low_max + 4 * nkeys,
           names = factors + 4 * nkeys;
    if (v.size() < names) return std::nullopt;
    pos = names;
    size_t k = 0;
    for (size_t i = 0; i < ntypes; ++i) {
        TypeSummary& t = b.types[i];
        const std::vector<std::string>& known = derived_keys(t.format);
        for (size_t j = 0; j < keys[i].n; ++j, ++k) {
            size_t index = uint8_t(v[keys[i].at + j]);
            std::string_view key;
            if (index < known.size()) {
                key = known[index];
            } else {
                if (index != kUnknownKey || !need(1)) return std::nullopt;
                size_t len = byte();
                if (!need(len)) return std::nullopt;
                key = v.substr(pos, len);
                pos += len;
            }
            auto word = [&](size_t at) { return get_be(v.data() + at, 4); };
            uint64_t f = word(factors + 4 * k);
            int64_t min = int64_t((word(high + 8 * k) << 32 | word(low_min + 4 * k)) * f);
            int64_t max = int64_t((word(high + 8 * k + 4) << 32 | word(low_max + 4 * k)) * f);
            t.range.put_extremes(key, double(min) / 1000, double(max) / 1000, index >= known.size());
        }
    }
    return b;
}

// ---- chunks ------------------------------------------------------------------------------

std::string merge_chunk(std::string_view old_chunk, int64_t keep_upto,
                        const std::vector<std::pair<int64_t, std::string>>& fresh, int level) {
    std::string buf, out;
    std::vector<chunk::Item> items;
    if (!old_chunk.empty() && !chunk::decode(old_chunk, buf, items)) items.clear();
    items.erase(std::remove_if(items.begin(), items.end(), [&](const chunk::Item& i) { return i.ts > keep_upto; }),
                items.end());
    for (const auto& [end, bytes] : fresh) items.push_back({end, bytes});
    chunk::encode(items, out, chunk::Compressor::zstd, level);
    return out;
}

bool each_bucket(std::string_view c, const std::function<bool(int64_t, std::string_view)>& f, bool newest_first,
                 int64_t upto) {
    std::string buf;
    std::vector<chunk::Item> items;
    if (!chunk::decode(c, buf, items, newest_first ? INT64_MAX : upto)) return false;
    if (newest_first) std::reverse(items.begin(), items.end());
    for (const chunk::Item& i : items)
        if (!f(i.ts, i.bytes)) break;
    return true;
}

// ---- keys --------------------------------------------------------------------------------

std::string bucket_key(std::string_view entity_key, int64_t end_ms) {
    std::string k(entity_key);
    put_be(k, uint64_t(end_ms), store_format::kTsSize);
    return k;
}

std::optional<int64_t> bucket_key_end(std::string_view key, std::string_view entity_key) {
    if (key.size() != entity_key.size() + store_format::kTsSize || key.substr(0, entity_key.size()) != entity_key)
        return std::nullopt;
    return int64_t(get_be(key.data() + entity_key.size(), store_format::kTsSize));
}

std::string mark_key(std::string_view entity_key, char tag) {
    std::string k(entity_key);
    k.push_back(tag);
    return k;
}

}  // namespace sfm::rollup
