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

// The predictions of every word of an item of w.size() words, into w.
void predict_all(const std::vector<uint32_t>& p1, const std::vector<uint32_t>& p2, size_t seen,
                 std::vector<uint32_t>& w) {
    size_t n = w.size(), n1 = seen >= 1 ? std::min(n, p1.size()) : 0;
    size_t n2 = seen >= 2 ? std::min(n1, p2.size()) : 0;
    for (size_t j = 0; j < n2; ++j) w[j] = 2 * p1[j] - p2[j];
    for (size_t j = n2; j < n1; ++j) w[j] = p1[j];
    for (size_t j = n1; j < n; ++j) w[j] = 0;
}

// The first len bytes of the words, big-endian, at out.
void write_words(const std::vector<uint32_t>& w, size_t len, char* out) {
    size_t full = len / 4;
    for (size_t j = 0; j < full; ++j) {
        out[4 * j] = char(uint8_t(w[j] >> 24));
        out[4 * j + 1] = char(uint8_t(w[j] >> 16));
        out[4 * j + 2] = char(uint8_t(w[j] >> 8));
        out[4 * j + 3] = char(uint8_t(w[j]));
    }
    for (size_t i = 4 * full; i < len; ++i) out[i] = char(uint8_t(w[i / 4] >> (8 * (3 - i % 4))));
}

int64_t predict_ts(int64_t t1, int64_t t2, size_t seen) {
    return seen == 0 ? 0 : seen == 1 ? t1 : int64_t(2 * uint64_t(t1) - uint64_t(t2));
}

}  // namespace

void encode(const std::vector<Item>& items, std::string& out, Compressor c) {
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
        predict_all(p1, p2, i, pred);
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
    size_t n = ZSTD_compressCCtx(cctx(), out.data() + at, out.size() - at, plain.data(), plain.size(), kZstdLevel);
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
    buf.clear();
    size_t pos = 1;
    uint64_t n = 0, plain_len = 0, total = 0;
    if (chunk.empty() || !get_varint(chunk, pos, n) || !get_varint(chunk, pos, plain_len) ||
        !get_varint(chunk, pos, total))
        return false;
    // Each item costs at least two bytes of the plain form (time, length) and at most 20 more
    // than its words, each word at most 10 (a run length and a difference): a chunk claiming
    // more is not one of ours, and nothing is allocated for it.
    if (total > kMaxRaw || plain_len > 8 * kMaxRaw + 64 || n > plain_len / 2 ||
        plain_len > 30 * n + 3 * total + 64)
        return false;
    std::string unpacked;
    std::string_view plain;
    switch (Compressor(uint8_t(chunk[0]))) {
    case Compressor::none:
        plain = chunk.substr(pos);
        if (plain.size() != plain_len) return false;
        break;
    case Compressor::zstd: {
        unpacked.resize(plain_len);
        size_t got = ZSTD_decompressDCtx(dctx(), unpacked.data(), unpacked.size(), chunk.data() + pos,
                                         chunk.size() - pos);
        if (ZSTD_isError(got) || got != plain_len) return false;
        plain = unpacked;
        break;
    }
    default:
        return false;
    }
    buf.resize(total);
    std::vector<uint32_t> w, p1, p2;
    int64_t t1 = 0, t2 = 0;
    size_t p = 0, at = 0;
    for (uint64_t i = 0; i < n; ++i) {
        uint64_t dts = 0, len = 0;
        if (!get_varint(plain, p, dts) || !get_varint(plain, p, len) || len > total - at) return false;
        int64_t ts = int64_t(uint64_t(predict_ts(t1, t2, i)) + uint64_t(unzigzag(dts)));
        if (ts > upto) return true;  // the caller needs nothing newer
        size_t nw = words_of(len);
        w.resize(nw);
        predict_all(p1, p2, i, w);
        for (size_t j = 0; j < nw;) {
            uint64_t zeros = 0, d = 0;
            if (!get_varint(plain, p, zeros) || zeros > nw - j) return false;
            j += zeros;
            if (j == nw) break;
            if (!get_varint(plain, p, d) || d > 0xffffffffu) return false;
            w[j++] += uint32_t(int32_t(unzigzag(d)));
        }
        write_words(w, len, buf.data() + at);
        items.push_back({ts, std::string_view(buf).substr(at, len)});
        at += len;
        p2.swap(p1);
        p1.swap(w);
        t2 = t1;
        t1 = ts;
    }
    if (p != plain.size() || at != total) return false;
    return true;
}

}  // namespace sfm::chunk
