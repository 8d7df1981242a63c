// chunk_test.cpp — the chunk codec: every byte and timestamp comes back, in order, for runs
// that exercise each path of the prediction (constants, steady counters, wraps, lengths that
// change, tails shorter than a word), with and without zstd; a damaged chunk is refused.
#include <doctest/doctest.h>

#include <random>

#include "sflow_monitor/chunk.h"

using namespace sfm;

namespace {

// The runs to encode are kept as owned strings; the codec sees views of them.
struct Run {
    std::vector<int64_t> ts;
    std::vector<std::string> bytes;
    std::vector<chunk::Item> items() const {
        std::vector<chunk::Item> v;
        for (size_t i = 0; i < ts.size(); ++i) v.push_back({ts[i], bytes[i]});
        return v;
    }
};

void put32(std::string& s, uint32_t v) {
    for (int i = 3; i >= 0; --i) s.push_back(char(uint8_t(v >> (8 * i))));
}

// Encodes and decodes the run; checks each item against the run itself (the input, not
// anything the codec produced). Returns the chunk.
std::string round_trip(const Run& r, chunk::Compressor c) {
    std::string enc, buf;
    chunk::encode(r.items(), enc, c);
    std::vector<chunk::Item> back;
    REQUIRE(chunk::decode(enc, buf, back));
    REQUIRE(back.size() == r.ts.size());
    CHECK(chunk::count(enc) == r.ts.size());
    for (size_t i = 0; i < back.size(); ++i) {
        CHECK(back[i].ts == r.ts[i]);
        CHECK(back[i].bytes == r.bytes[i]);
    }
    return enc;
}

}  // namespace

TEST_CASE("chunk: an empty run and a run of empty items come back") {
    for (auto c : {chunk::Compressor::none, chunk::Compressor::zstd}) {
        round_trip(Run{}, c);
        round_trip(Run{{5, 5, -7}, {"", "", ""}}, c);
    }
}

TEST_CASE("chunk: counters, constants, wraps, odd tails and changing lengths come back") {
    Run r;
    std::mt19937_64 rng(7);
    uint32_t counter = 0xFFFFFF00u, seq = 0;
    int64_t t = 1767225600000;
    for (int i = 0; i < 300; ++i) {
        std::string b;
        put32(b, 0x0A000001);           // constant
        put32(b, ++seq);                // steady
        put32(b, counter += 97);        // steady, wraps past 2^32
        put32(b, uint32_t(rng()));      // noise
        b += "hostname-";               // constant text, then a tail of 1 to 3 bytes
        b += std::string(1 + i % 3, char('a' + i % 26));
        if (i % 50 == 49) b += std::string(40, 'x');  // a record that comes and goes
        r.bytes.push_back(b);
        t += (i % 7 == 3) ? -1500 : 20000 + int64_t(rng() % 40);  // a clock stepped back too
        r.ts.push_back(t);
    }
    r.ts[10] = r.ts[9];  // two items in one millisecond
    std::string plain = round_trip(r, chunk::Compressor::none);
    std::string packed = round_trip(r, chunk::Compressor::zstd);
    CHECK(plain[0] == char(chunk::Compressor::none));
    CHECK(packed[0] == char(chunk::Compressor::zstd));
}

TEST_CASE("chunk: a run of identical items costs a few bytes each") {
    Run r;
    std::string same(400, '\0');
    for (size_t i = 0; i < same.size(); ++i) same[i] = char(i * 31);
    for (int i = 0; i < 100; ++i) {
        r.ts.push_back(1000 + 20000 * int64_t(i));
        r.bytes.push_back(same);
    }
    std::string enc = round_trip(r, chunk::Compressor::none);
    // one full item (at most 10 bytes a word) and then, per item, time, length and one run
    CHECK(enc.size() < 1100 + 100 * 8);
}

TEST_CASE("chunk: a damaged or truncated chunk is refused, never read past") {
    Run r;
    for (int i = 0; i < 20; ++i) {
        std::string b;
        for (int w = 0; w < 30; ++w) put32(b, uint32_t(i * w * 1000 + w));
        r.bytes.push_back(b);
        r.ts.push_back(i * 1000);
    }
    for (auto c : {chunk::Compressor::none, chunk::Compressor::zstd}) {
        std::string enc = round_trip(r, c), buf;
        std::vector<chunk::Item> back;
        for (size_t cut = 0; cut < enc.size(); ++cut)
            CHECK_FALSE(chunk::decode(std::string_view(enc).substr(0, cut), buf, back));
        std::string more = enc + "x";
        CHECK_FALSE(chunk::decode(more, buf, back));
        std::string other = enc;
        other[0] = 9;  // no such compressor
        CHECK_FALSE(chunk::decode(other, buf, back));
        CHECK(chunk::count(other) == 0);
        // flipping any byte either is refused or decodes to exactly as many bytes as claimed
        for (size_t at = 1; at < enc.size(); ++at) {
            std::string bad = enc;
            bad[at] = char(bad[at] ^ 0x5a);
            if (chunk::decode(bad, buf, back)) {
                size_t sum = 0;
                for (const auto& it : back) sum += it.bytes.size();
                CHECK(sum == buf.size());
            }
        }
    }
}

TEST_CASE("chunk: a chunk claiming more than kMaxRaw bytes is refused before allocating") {
    std::string enc;
    enc.push_back(char(chunk::Compressor::zstd));
    for (uint64_t v : {uint64_t(1), uint64_t(1) << 40, uint64_t(1) << 40}) {
        while (v >= 0x80) {
            enc.push_back(char(uint8_t(v) | 0x80));
            v >>= 7;
        }
        enc.push_back(char(v));
    }
    std::string buf;
    std::vector<chunk::Item> back;
    CHECK_FALSE(chunk::decode(enc, buf, back));
}

TEST_CASE("chunk: decoding up to a time gives the items up to it, of a run in time order") {
    Run r;
    for (int i = 0; i < 50; ++i) {
        std::string b;
        put32(b, uint32_t(i * 7));
        put32(b, 0xABCD);
        r.bytes.push_back(b);
        r.ts.push_back(1000 + 100 * int64_t(i / 2));  // pairs of equal times
    }
    std::string enc, buf;
    chunk::encode(r.items(), enc);
    std::vector<chunk::Item> back;
    for (int64_t upto : {int64_t(0), int64_t(999), int64_t(1000), int64_t(1250), int64_t(3400), int64_t(99999)}) {
        REQUIRE(chunk::decode(enc, buf, back, upto));
        size_t want = 0;
        while (want < r.ts.size() && r.ts[want] <= upto) ++want;
        REQUIRE(back.size() == want);
        for (size_t i = 0; i < want; ++i) CHECK(back[i].bytes == r.bytes[i]);
    }
}

TEST_CASE("chunk: decodes one after another reuse their buffers and give every item back each time") {
    // a chunk whose plain form is larger than what a thread keeps between decodes (random
    // words: about 10 bytes each), a small one, items of other lengths, and the large one again,
    // each decoded into the buffer of the one before (larger, then smaller)
    std::mt19937_64 rng(11);
    auto run_of = [&](int items, size_t words, int64_t t0) {
        Run r;
        for (int i = 0; i < items; ++i) {
            std::string b;
            for (size_t w = 0; w < words + size_t(i % 3); ++w) put32(b, uint32_t(rng()));
            b.resize(b.size() - size_t(i % 4));  // tails of 0 to 3 bytes
            r.bytes.push_back(b);
            r.ts.push_back(t0 + 20000 * int64_t(i));
        }
        return r;
    };
    Run big = run_of(60, 4000, 1000), small = run_of(7, 3, 5), mid = run_of(180, 190, 77);
    std::string ebig, esmall, emid, buf;
    chunk::encode(big.items(), ebig);
    chunk::encode(small.items(), esmall);
    chunk::encode(mid.items(), emid, chunk::Compressor::none);
    REQUIRE(ebig.size() > (1u << 20));  // zstd cannot shrink random words
    std::vector<chunk::Item> back;
    for (const Run* r : {&big, &small, &mid, &big, &mid, &small}) {
        const std::string& enc = r == &big ? ebig : r == &small ? esmall : emid;
        REQUIRE(chunk::decode(enc, buf, back));
        REQUIRE(back.size() == r->ts.size());
        size_t sum = 0;
        for (size_t i = 0; i < back.size(); ++i) {
            CHECK(back[i].ts == r->ts[i]);
            CHECK(back[i].bytes == r->bytes[i]);
            sum += back[i].bytes.size();
        }
        CHECK(buf.size() == sum);
        // and up to a time: the items before it, from the same buffer
        REQUIRE(chunk::decode(enc, buf, back, r->ts[r->ts.size() / 2]));
        REQUIRE(back.size() == r->ts.size() / 2 + 1);
        CHECK(back.back().bytes == r->bytes[r->ts.size() / 2]);
    }
}
