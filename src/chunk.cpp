// chunk.cpp — the chunk codec (see chunk.h; the format: docs/storage.md, "Chunks").
#include "sflow_monitor/chunk.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>

namespace sfm::chunk {

namespace {

// ---- varints (LEB128, 7 bits a byte, low first) and zig-zag ---------------------------------

void put_varint(std::string& s, uint64_t v) {
    while (v >= 0x80) {
        s.push_back(char(uint8_t(v) | 0x80));
        v >>= 7;
    }
    s.push_back(char(uint8_t(v)));
}

bool get_varint(std::string_view s, size_t& pos, uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (pos >= s.size()) return false;
        uint8_t b = uint8_t(s[pos++]);
        v |= uint64_t(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

uint64_t zigzag(int64_t v) { return (uint64_t(v) << 1) ^ uint64_t(v >> 63); }
int64_t unzigzag(uint64_t v) { return int64_t(v >> 1) ^ -int64_t(v & 1); }

// ---- zstd's contexts: one of each per thread, kept (allocating one costs more than a chunk) --

ZSTD_DCtx* dctx() {
    thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> c(ZSTD_createDCtx(), ZSTD_freeDCtx);
    if (!c) throw std::bad_alloc();
    return c.get();
}

ZSTD_CCtx* cctx() {
    thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> c(ZSTD_createCCtx(), ZSTD_freeCCtx);
    if (!c) throw std::bad_alloc();
    return c.get();
}

// ---- words ----------------------------------------------------------------------------------

size_t words_of(size_t len) { return (len + 3) / 4; }

// The bytes as big-endian words, the tail padded with zeros.
void to_words(std::string_view b, std::vector<uint32_t>& w) {
    w.assign(words_of(b.size()), 0);
    const unsigned char* p = reinterpret_cast<const unsigned char*>(b.data());
    size_t full = b.size() / 4;
    for (size_t j = 0; j < full; ++j)
        w[j] = uint32_t(p[4 * j]) << 24 | uint32_t(p[4 * j + 1]) << 16 | uint32_t(p[4 * j + 2]) << 8 | p[4 * j + 3];
    for (size_t i = 4 * full; i < b.size(); ++i) w[i / 4] |= uint32_t(p[i]) << (8 * (3 - i % 4));
}

// Four words at a time (SSE2, or what the target has): the loops below are most of a decode.
typedef uint32_t Vec4 __attribute__((vector_size(16)));
Vec4 load4(const uint32_t* p) {
    Vec4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// The predictions of an item's nw words, into w: from the same word of the two items before
// for the first n2 words, of the one before for the next up to n1, 0 for the rest.
void predict_words(uint32_t* __restrict w, const uint32_t* __restrict p1, const uint32_t* __restrict p2,
                   size_t n2, size_t n1, size_t nw) {
    size_t j = 0;
    for (; j + 4 <= n2; j += 4) {
        Vec4 a = load4(p1 + j), b = load4(p2 + j);
        Vec4 v = a + a - b;
        std::memcpy(w + j, &v, sizeof v);
    }
    for (; j < n2; ++j) w[j] = 2 * p1[j] - p2[j];
    for (; j < n1; ++j) w[j] = p1[j];
    for (; j < nw; ++j) w[j] = 0;
}

// The n words, big-endian, at out: 4·n bytes, of which the item's length keeps what it has
// (the rest of the last word lands in the next item's place or the buffer's slack).
void store_words(const uint32_t* __restrict w, size_t n, char* __restrict out) {
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        Vec4 v = load4(w + j);
        v = (v << 24) | ((v & 0xff00) << 8) | ((v >> 8) & 0xff00) | (v >> 24);
        std::memcpy(out + 4 * j, &v, sizeof v);
    }
    for (; j < n; ++j) {
        uint32_t v = __builtin_bswap32(w[j]);
        std::memcpy(out + 4 * j, &v, 4);
    }
}

// A varint at p, before end: false when cut short or longer than 64 bits. Most are one byte;
// away from the end, the bytes of a longer one are read without checking the end each time.
inline bool read_varint(const unsigned char*& p, const unsigned char* end, uint64_t& v) {
    if (p < end && *p < 0x80) {
        v = *p++;
        return true;
    }
    if (end - p >= 5) {  // the differences (32-bit, zig-zagged) take at most 5 bytes
        uint64_t r = p[0] & 0x7f, b = p[1];
        r |= (b & 0x7f) << 7;
        if (b < 0x80) return p += 2, v = r, true;
        b = p[2];
        r |= (b & 0x7f) << 14;
        if (b < 0x80) return p += 3, v = r, true;
        b = p[3];
        r |= (b & 0x7f) << 21;
        if (b < 0x80) return p += 4, v = r, true;
        b = p[4];
        r |= (b & 0x7f) << 28;
        if (b < 0x80) return p += 5, v = r, true;
    }
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (p >= end) return false;
        uint8_t b = *p++;
        v |= uint64_t(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

// What a thread's decodes reuse: the plain form zstd unpacks, and the words of the item being
// decoded and of the two before it. Kept between calls while small (a store chunk's plain
// form is ~30 KB, its items' words ~1 KB); anything larger is freed after the call.
constexpr size_t kKeepPlain = 1u << 20;
constexpr size_t kSlack = 4;  // whole words written past an item's last byte
using Words = std::vector<uint32_t>;
struct Scratch {
    std::unique_ptr<char[]> plain_;
    size_t cap_ = 0;
    Words words[3];
    char* plain(size_t n) {
        if (n > cap_) {
            plain_.reset(new char[n]);
            cap_ = n;
        }
        return plain_.get();
    }
    bool keeps_too_much() const {
        size_t w = 0;
        for (const Words& x : words) w += x.capacity() * sizeof(uint32_t);
        return w > kKeepPlain;
    }
};
Scratch& scratch() {
    thread_local Scratch s;
    return s;
}

int64_t predict_ts(int64_t t1, int64_t t2, size_t seen) {
    return seen == 0 ? 0 : seen == 1 ? t1 : int64_t(2 * uint64_t(t1) - uint64_t(t2));
}

}  // namespace

void encode(const std::vector<Item>& items, std::string& out, Compressor c, int level) {
    size_t total = 0;
    for (const Item& it : items) total += it.bytes.size();
    if (total > kMaxRaw) throw std::length_error("chunk: items larger than kMaxRaw");
    std::string plain;
    plain.reserve(total / 2 + items.size() * 4);
    std::vector<uint32_t> w, pred, p1, p2;
    int64_t t1 = 0, t2 = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        const Item& it = items[i];
        put_varint(plain, zigzag(int64_t(uint64_t(it.ts) - uint64_t(predict_ts(t1, t2, i)))));
        put_varint(plain, it.bytes.size());
        to_words(it.bytes, w);
        pred.resize(w.size());
        size_t n1 = i >= 1 ? std::min(w.size(), p1.size()) : 0, n2 = i >= 2 ? std::min(n1, p2.size()) : 0;
        predict_words(pred.data(), p1.data(), p2.data(), n2, n1, pred.size());
        // runs: zero differences counted, then one non-zero difference
        size_t zeros = 0;
        for (size_t j = 0; j < w.size(); ++j) {
            uint32_t d = w[j] - pred[j];
            if (d == 0) {
                ++zeros;
                continue;
            }
            put_varint(plain, zeros);
            put_varint(plain, zigzag(int32_t(d)));
            zeros = 0;
        }
        if (zeros) put_varint(plain, zeros);  // a trailing run (the decoder knows the length)
        p2.swap(p1);
        p1.swap(w);
        t2 = t1;
        t1 = it.ts;
    }
    out.push_back(char(c));
    put_varint(out, items.size());
    put_varint(out, plain.size());
    put_varint(out, total);
    if (c == Compressor::none) {
        out += plain;
        return;
    }
    size_t at = out.size();
    out.resize(at + ZSTD_compressBound(plain.size()));
    size_t n = ZSTD_compressCCtx(cctx(), out.data() + at, out.size() - at, plain.data(), plain.size(), level);
    if (ZSTD_isError(n)) throw std::runtime_error(std::string("chunk: zstd: ") + ZSTD_getErrorName(n));
    out.resize(at + n);
}

uint64_t count(std::string_view chunk) {
    size_t pos = 1;
    uint64_t n = 0;
    if (chunk.empty() || uint8_t(chunk[0]) > uint8_t(Compressor::zstd) || !get_varint(chunk, pos, n)) return 0;
    return n;
}

bool decode(std::string_view chunk, std::string& buf, std::vector<Item>& items, int64_t upto) {
    items.clear();
    size_t pos = 1;
    uint64_t n = 0, plain_len = 0, total = 0;
    if (chunk.empty() || !get_varint(chunk, pos, n) || !get_varint(chunk, pos, plain_len) ||
        !get_varint(chunk, pos, total)) {
        buf.clear();
        return false;
    }
    // Each item costs at least two bytes of the plain form (time, length) and at most 20 more
    // than its words, each word at most 10 (a run length and a difference): a chunk claiming
    // more is not one of ours, and nothing is allocated for it.
    if (total > kMaxRaw || plain_len > 8 * kMaxRaw + 64 || n > plain_len / 2 ||
        plain_len > 30 * n + 3 * total + 64) {
        buf.clear();
        return false;
    }
    Scratch& s = scratch();
    std::unique_ptr<char[]> big;  // a plain form larger than the thread keeps
    const unsigned char* p = nullptr;
    switch (Compressor(uint8_t(chunk[0]))) {
    case Compressor::none:
        if (chunk.size() - pos != plain_len) {
            buf.clear();
            return false;
        }
        p = reinterpret_cast<const unsigned char*>(chunk.data() + pos);
        break;
    case Compressor::zstd: {
        char* to = plain_len <= kKeepPlain ? s.plain(plain_len) : (big.reset(new char[plain_len]), big.get());
        size_t got = ZSTD_decompressDCtx(dctx(), to, plain_len, chunk.data() + pos, chunk.size() - pos);
        if (ZSTD_isError(got) || got != plain_len) {
            buf.clear();
            return false;
        }
        p = reinterpret_cast<const unsigned char*>(to);
        break;
    }
    default:
        buf.clear();
        return false;
    }
    const unsigned char* end = p + plain_len;
    // Room for whole words past the last item's tail (cut off again below); a buffer reused
    // is not cleared first, so only what it grows by is zeroed.
    buf.resize(total + kSlack);
    Words* w = &s.words[0];   // this item's words
    Words* p1 = &s.words[1];  // the item before's
    Words* p2 = &s.words[2];  // and the one before that
    size_t n1w = 0, n2w = 0;  // their lengths in words
    int64_t t1 = 0, t2 = 0;
    size_t at = 0;
    bool ok = true;
    for (uint64_t i = 0; i < n; ++i) {
        uint64_t dts = 0, len = 0;
        if (!read_varint(p, end, dts) || !read_varint(p, end, len) || len > total - at) {
            ok = false;
            break;
        }
        int64_t ts = int64_t(uint64_t(predict_ts(t1, t2, i)) + uint64_t(unzigzag(dts)));
        if (ts > upto) break;  // the caller needs nothing newer
        size_t nw = words_of(len);
        if (w->size() < nw) w->resize(nw);
        uint32_t* wd = w->data();
        size_t n1 = i >= 1 ? std::min(nw, n1w) : 0, n2 = i >= 2 ? std::min(n1, n2w) : 0;
        predict_words(wd, p1->data(), p2->data(), n2, n1, nw);
        for (size_t j = 0; j < nw;) {
            uint64_t zeros = 0, d = 0;
            if (!read_varint(p, end, zeros) || zeros > nw - j) {
                ok = false;
                break;
            }
            j += zeros;
            if (j == nw) break;
            if (!read_varint(p, end, d) || d > 0xffffffffu) {
                ok = false;
                break;
            }
            wd[j++] += uint32_t(int32_t(unzigzag(d)));
        }
        if (!ok) break;
        store_words(wd, nw, buf.data() + at);
        items.push_back({ts, std::string_view(buf.data() + at, len)});
        at += len;
        std::swap(p2, p1);
        std::swap(p1, w);
        n2w = n1w;
        n1w = nw;
        t2 = t1;
        t1 = ts;
    }
    buf.resize(total);
    if (s.keeps_too_much()) s = Scratch();
    if (!ok) return false;
    if (items.size() < n) return true;  // stopped at upto
    return p == end && at == total;
}

}  // namespace sfm::chunk
