// rollup.cpp — building roll-up buckets from samples, and their bytes (see rollup.h).
#include "sflow_monitor/rollup.h"

#include <algorithm>
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

// A derived value in thousandths, rounded as the API rounds it (derive.cpp's round3): the
// answer shows the rounded extremes, and rounding commutes with min and max, so keeping them
// rounded changes no answer and costs fewer bytes than a double (clamped far beyond any rate).
int64_t milli(double x) {
    double m = std::clamp(x * 1000, -9.0e18, 9.0e18);
    return int64_t(m + (m >= 0 ? 0.5 : -0.5));
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

std::optional<Bucket> BucketBuilder::add(const SampleMeta& m, std::string_view raw) {
    std::optional<Bucket> done;
    int64_t end = bucket_end(m.ts_ms, res_);
    if (open_ && end != cur_.end_ms) done = close();
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
    if (nfound == 0) return done;
    if (!open_) {
        open_ = true;
        cur_.end_ms = end;
    }
    uint64_t ord = ordinal_++;
    Slot slot{ord, {m, {}}, 0};
    XdrWriter(slot.kept.records).u32(uint32_t(nfound));
    for (size_t j = 0; j < nfound; ++j) slot.kept.records.append(found[j].bytes);
    slots_.push_back(std::move(slot));
    for (size_t j = 0; j < nfound; ++j) {
        size_t t = 0;
        while (t < cur_.types.size() && cur_.types[t].format != found[j].format) ++t;
        if (t == cur_.types.size()) {
            cur_.types.push_back({});
            cur_.types[t].format = found[j].format;
            open_types_.push_back({ord, ord, {}, m});
            slots_.back().refs += 2;
        } else {
            Open& o = open_types_[t];
            add_interval(cur_.types[t].range, o.last_rec, o.last_meta, found[j].value, m);
            uint64_t old = o.last_ord;
            o.last_ord = ord;
            o.last_meta = m;
            ++slots_.back().refs;
            release(old);
        }
        open_types_[t].last_rec = std::move(found[j].value);
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
        b.types[t].first = index(open_types_[t].first_ord);
        b.types[t].last = index(open_types_[t].last_ord);
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

std::string encode_bucket(const Bucket& b) {
    std::string v;
    v.push_back(char(kBucketFormat));
    v.push_back(char(b.kept.size()));
    for (const Kept& k : b.kept) {
        put_be(v, uint64_t(k.meta.ts_ms), store_format::kTsSize);
        size_t at = v.size();
        v.resize(at + store_format::kMetaSize);
        store_format::encode_meta(&v[at], k.meta);
        put_be(v, k.records.size(), 4);
        v.append(k.records);
    }
    v.push_back(char(b.types.size()));
    for (const TypeSummary& t : b.types) {
        put_be(v, t.format, 4);
        put_be(v, std::min<uint64_t>(t.count, UINT32_MAX), 4);
        v.push_back(char(t.first));
        v.push_back(char(t.last));
        v.push_back(char((t.range.reset() ? 1 : 0) | (t.range.gap() ? 2 : 0)));
        v.push_back(char(t.range.size()));
        t.range.each([&](std::string_view key, double min, double max) {
            v.push_back(char(key.size()));
            v.append(key);
            put_be(v, uint64_t(milli(min)), 8);
            put_be(v, uint64_t(milli(max)), 8);
        });
    }
    return v;
}

std::optional<Bucket> decode_bucket(std::string_view v, int64_t end_ms) {
    size_t pos = 0;
    auto need = [&](size_t n) { return v.size() - pos >= n; };
    auto byte = [&] { return uint8_t(v[pos++]); };
    if (!need(2) || byte() != kBucketFormat) return std::nullopt;
    Bucket b;
    b.end_ms = end_ms;
    size_t nkept = byte();
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
        b.kept.push_back(std::move(k));
    }
    if (!need(1)) return std::nullopt;
    size_t ntypes = byte();
    for (size_t i = 0; i < ntypes; ++i) {
        if (!need(12)) return std::nullopt;
        TypeSummary t;
        t.format = uint32_t(get_be(v.data() + pos, 4));
        t.count = get_be(v.data() + pos + 4, 4);
        pos += 8;
        t.first = byte();
        t.last = byte();
        uint8_t flags = byte();
        size_t nkeys = byte();
        if (t.first >= b.kept.size() || t.last >= b.kept.size()) return std::nullopt;
        for (size_t j = 0; j < nkeys; ++j) {
            if (!need(1)) return std::nullopt;
            size_t klen = byte();
            if (!need(klen + 16)) return std::nullopt;
            std::string_view key = v.substr(pos, klen);
            pos += klen;
            double min = double(int64_t(get_be(v.data() + pos, 8))) / 1000;
            double max = double(int64_t(get_be(v.data() + pos + 8, 8))) / 1000;
            pos += 16;
            t.range.put_extremes(key, min, max);
        }
        t.range.set_flags(flags & 1, flags & 2);
        b.types.push_back(std::move(t));
    }
    return b;
}

// ---- chunks ------------------------------------------------------------------------------

std::string merge_chunk(std::string_view old_chunk, int64_t keep_upto,
                        const std::vector<std::pair<int64_t, std::string>>& fresh) {
    std::string buf, out;
    std::vector<chunk::Item> items;
    if (!old_chunk.empty() && !chunk::decode(old_chunk, buf, items)) items.clear();
    items.erase(std::remove_if(items.begin(), items.end(), [&](const chunk::Item& i) { return i.ts > keep_upto; }),
                items.end());
    for (const auto& [end, bytes] : fresh) items.push_back({end, bytes});
    chunk::encode(items, out);
    return out;
}

bool each_bucket(std::string_view c, const std::function<bool(int64_t, std::string_view)>& f, bool newest_first) {
    std::string buf;
    std::vector<chunk::Item> items;
    if (!chunk::decode(c, buf, items)) return false;
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
