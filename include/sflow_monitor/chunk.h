// chunk.h — the chunk codec: a run of byte strings, each with a timestamp (a store's samples of
// one entity, a roll-up's rows), encoded each against the ones before it and then compressed
// with zstd. Lossless: decode gives back every byte and timestamp, in the order given. Pure (no
// LMDB, no store types): the store wraps a chunk in a value of its own (store_format.h), and
// anything else that keeps similar rows may use it. The format byte by byte, and why it is
// this one (measured with and without the compressor): docs/storage.md, "Chunks".
//
// How it encodes: each item's bytes are read as big-endian 32-bit words (XDR is all 32-bit
// words; a tail shorter than 4 bytes is padded with zeros and cut again on decode). Each word
// is predicted from the same word of the two items before it (a counter rising at a steady
// rate, a constant, a sequence number: prediction p = 2·prev − prev2, or prev when only one
// item came before; 0 for the first item, or a word beyond the earlier items' length); what
// is stored is the difference, modulo 2^32, zig-zagged: zero for every constant word and
// every counter with a steady rate, a small number for the rest. Runs of zero differences are
// counted, not written. Timestamps are stored the same way (difference of differences).
//
// Caveats:
//  - decode() never reads past the chunk nor writes more than kMaxRaw bytes: a chunk we did
//    not write gives false, not a crash.
//  - Items must each be shorter than 4 GiB and the whole run at most kMaxRaw bytes (encode
//    throws std::length_error beyond).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sfm::chunk {

struct Item {
    int64_t ts = 0;
    std::string_view bytes;
};

// The compressor after the word prediction (the chunk's first byte).
enum class Compressor : uint8_t { none = 0, zstd = 1 };

constexpr size_t kMaxRaw = 16u << 20;  // most bytes a chunk's items may hold together
constexpr int kZstdLevel = 1;          // compacted samples' (measured: docs/storage.md)

// Appends the chunk of items (in the order given) to out, compressed at zstd level `level`
// (decoding does not depend on it: any level reads back the same way).
void encode(const std::vector<Item>& items, std::string& out, Compressor c = Compressor::zstd,
            int level = kZstdLevel);

// Decodes a chunk into items whose bytes are views into buf (valid while buf is unchanged).
// False when it is not a well-formed chunk (items then holds what was decoded before the fault).
// With upto: stops before the first item newer than upto (true; for items in time order, every
// item up to upto and nothing after: a window's reader need not decode the rest).
bool decode(std::string_view chunk, std::string& buf, std::vector<Item>& items, int64_t upto = INT64_MAX);

// The number of items a chunk holds without decoding it, or 0 when it is not a chunk.
uint64_t count(std::string_view chunk);

}  // namespace sfm::chunk
