// xdr.h — bounds-checked big-endian (XDR) reader and writer.
//
// Caveats:
//  - XdrReader never reads outside [begin, end): every accessor checks the remaining length
//    first and throws DecodeError (with the absolute offset) when it would overrun.
//  - The reader does not own the bytes; string_views it returns point into them.
//  - XDR pads every item to 4 bytes; string() and opaque() consume the padding.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sfm {

// Thrown before any out-of-bounds read, or for a value the format forbids.
// `offset` is the byte offset from the start of the datagram (or buffer) being decoded.
class DecodeError : public std::runtime_error {
public:
    DecodeError(size_t offset, const std::string& what)
        : std::runtime_error(what + " at offset " + std::to_string(offset)), offset_(offset) {}
    size_t offset() const { return offset_; }

private:
    size_t offset_;
};

class XdrReader {
public:
    XdrReader(const uint8_t* data, size_t size, size_t base_offset = 0)
        : p_(data), end_(data + size), base_(base_offset), start_(data) {}
    explicit XdrReader(std::string_view s, size_t base_offset = 0)
        : XdrReader(reinterpret_cast<const uint8_t*>(s.data()), s.size(), base_offset) {}

    size_t remaining() const { return size_t(end_ - p_); }
    size_t offset() const { return base_ + size_t(p_ - start_); }  // absolute offset
    bool empty() const { return p_ == end_; }

    uint32_t u32() {
        need(4, "u32");
        uint32_t v = (uint32_t(p_[0]) << 24) | (uint32_t(p_[1]) << 16) | (uint32_t(p_[2]) << 8) |
                     uint32_t(p_[3]);
        p_ += 4;
        return v;
    }
    int32_t i32() { return int32_t(u32()); }
    uint64_t u64() {
        need(8, "u64");
        uint64_t hi = u32();
        return (hi << 32) | u32();
    }
    float f32() {
        uint32_t bits = u32();
        float f;
        std::memcpy(&f, &bits, 4);
        return f;
    }
    // Fixed-length opaque of n bytes, padded to 4.
    std::string_view opaque(size_t n, const char* what) {
        size_t padded = (n + 3) & ~size_t(3);
        need(padded, what);
        std::string_view v(reinterpret_cast<const char*>(p_), n);
        p_ += padded;
        return v;
    }
    // Variable-length string: u32 length (at most max_len) + bytes + padding.
    std::string_view string(size_t max_len, const char* what) {
        size_t at = offset();
        uint32_t n = u32();
        if (n > max_len)
            throw DecodeError(at, std::string(what) + " length " + std::to_string(n) +
                                      " exceeds " + std::to_string(max_len));
        return opaque(n, what);
    }
    void skip(size_t n, const char* what) {
        need(n, what);
        p_ += n;
    }
    // A reader over the next n bytes, which this reader then skips.
    XdrReader sub(size_t n, const char* what) {
        need(n, what);
        XdrReader r(p_, n, offset());
        p_ += n;
        return r;
    }
    std::string_view view() const {
        return std::string_view(reinterpret_cast<const char*>(p_), remaining());
    }

private:
    // The check is inline and the throw out of line, so the hot path stays a compare.
    void need(size_t n, const char* what) const {
        if (__builtin_expect(remaining() < n, 0)) overrun(n, what);
    }
    [[noreturn]] __attribute__((noinline, cold)) void overrun(size_t n, const char* what) const {
        throw DecodeError(offset(), std::string("truncated ") + what + ": need " +
                                        std::to_string(n) + " bytes, have " +
                                        std::to_string(remaining()));
    }
    const uint8_t* p_;
    const uint8_t* end_;
    size_t base_;
    const uint8_t* start_;
};

// Appends XDR to a string. Used by the test encoder and by sflow-gen.
class XdrWriter {
public:
    explicit XdrWriter(std::string& out) : out_(out) {}
    void u32(uint32_t v) {
        char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
        out_.append(b, 4);
    }
    void i32(int32_t v) { u32(uint32_t(v)); }
    void u64(uint64_t v) {
        u32(uint32_t(v >> 32));
        u32(uint32_t(v));
    }
    void f32(float f) {
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        u32(bits);
    }
    void opaque(std::string_view bytes) {
        out_.append(bytes);
        out_.append((4 - bytes.size() % 4) % 4, '\0');
    }
    void string(std::string_view s) {
        u32(uint32_t(s.size()));
        opaque(s);
    }
    size_t size() const { return out_.size(); }
    // Overwrite a u32 written earlier at byte position pos (for lengths known afterwards).
    void patch_u32(size_t pos, uint32_t v) {
        out_[pos] = char(v >> 24);
        out_[pos + 1] = char(v >> 16);
        out_[pos + 2] = char(v >> 8);
        out_[pos + 3] = char(v);
    }

private:
    std::string& out_;
};

}  // namespace sfm
