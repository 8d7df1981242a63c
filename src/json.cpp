// json.cpp — string escaping and number formatting for JsonWriter.
#include "sflow_monitor/json.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace sfm {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not one (overlong forms,
// surrogates and code points above U+10FFFF are invalid).
size_t utf8_len(std::string_view s, size_t i) {
    auto c = [&](size_t k) { return uint8_t(s[i + k]); };
    auto cont = [&](size_t k) { return i + k < s.size() && (c(k) & 0xC0) == 0x80; };
    uint8_t b = c(0);
    if (b >= 0xC2 && b <= 0xDF) return cont(1) ? 2 : 0;
    if (b >= 0xE0 && b <= 0xEF) {
        if (!cont(1) || !cont(2)) return 0;
        if (b == 0xE0 && c(1) < 0xA0) return 0;  // overlong
        if (b == 0xED && c(1) >= 0xA0) return 0;  // surrogate
        return 3;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        if (!cont(1) || !cont(2) || !cont(3)) return 0;
        if (b == 0xF0 && c(1) < 0x90) return 0;  // overlong
        if (b == 0xF4 && c(1) >= 0x90) return 0;  // above U+10FFFF
        return 4;
    }
    return 0;
}

}  // namespace

void JsonWriter::string(std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out_.push_back('"');
    for (size_t i = 0; i < s.size();) {
        size_t run = i;  // plain printable ASCII, the common case: one append
        while (run < s.size() && uint8_t(s[run]) >= 0x20 && uint8_t(s[run]) < 0x7F && s[run] != '"' &&
               s[run] != '\\')
            ++run;
        if (run > i) {
            out_.append(s.data() + i, run - i);
            i = run;
            continue;
        }
        uint8_t b = uint8_t(s[i]);
        if (b < 0x80) {
            if (b == '"' || b == '\\') {
                out_.push_back('\\');
                out_.push_back(char(b));
            } else if (b < 0x20 || b == 0x7F) {
                char esc[6] = {'\\', 'u', '0', '0', hex[b >> 4], hex[b & 15]};
                out_.append(esc, 6);
            } else {
                out_.push_back(char(b));
            }
            ++i;
        } else if (size_t n = utf8_len(s, i)) {
            out_.append(s.substr(i, n));
            i += n;
        } else {
            out_.append("\xEF\xBF\xBD");  // U+FFFD for each invalid byte
            ++i;
        }
    }
    out_.push_back('"');
}

void append_valid_utf8(std::string& out, std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        if (uint8_t(s[i]) < 0x80) {
            out.push_back(s[i++]);
        } else if (size_t n = utf8_len(s, i)) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out.append("\xEF\xBF\xBD");  // as JsonWriter::string writes it
            ++i;
        }
    }
}

const char kDigitPairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

void JsonWriter::number(uint64_t v) {
    char buf[24];
    out_.append(buf, size_t(put_uint(buf, v) - buf));
}

void JsonWriter::number(int64_t v) {
    char buf[24];
    char* p = buf;
    if (v < 0) *p++ = '-';
    out_.append(buf, size_t(put_uint(p, v < 0 ? 0 - uint64_t(v) : uint64_t(v)) - buf));
}

void JsonWriter::number(float v) {
    char buf[32];
    out_.append(buf, size_t(float_chars(buf, buf + sizeof buf, v) - buf));
}

void JsonWriter::number(double v) {
    if (!std::isfinite(v)) return null();
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, size_t(r.ptr - buf));
}

// Load averages and the like carry two decimals, and std::to_chars spends most of a
// request's float time finding that out. The fast path: a positive float in [0.001, 1e5) that
// a decimal with at most three fractional digits reads back as is written as that decimal,
// found by rounding v * 10^d for d = 0..3. This is the text to_chars writes: v * 10^d is exact
// in a double, the first d that reads back has the fewest significant digits, the nearest
// such decimal is to_chars' choice, and in this range fixed notation is never longer than
// scientific (to_chars prefers fixed on a tie). An exact half (two nearest decimals) goes to
// to_chars. Checked against to_chars in test/json_test.cpp.
char* JsonWriter::float_chars(char* p, char* end, float v) {
    if (!std::isfinite(v)) {
        std::memcpy(p, "null", 4);
        return p + 4;
    }
    if (!std::signbit(v) && v < 1e5f && (v == 0 || v >= 0.001f)) {
        static const double kPow10[] = {1, 10, 100, 1000};
        static const uint32_t kPow10i[] = {1, 10, 100, 1000};
        for (int d = 0; d <= 3; ++d) {
            double scaled = double(v) * kPow10[d];
            double r = double(uint64_t(scaled + 0.5));  // floor: positive, below 2^53
            if (r - scaled == 0.5) break;  // a tie: to_chars decides
            if (float(r / kPow10[d]) != v) continue;
            uint32_t n = uint32_t(r), whole = n / kPow10i[d], frac = n % kPow10i[d];
            p = put_uint(p, whole);
            if (d > 0) {
                *p++ = '.';
                for (int i = d - 1; i >= 0; --i, frac /= 10) p[i] = char('0' + frac % 10);
                p += d;
            }
            return p;
        }
    }
    return std::to_chars(p, end, v).ptr;
}

char* JsonWriter::hundredths_chars(char* p, const Hundredths& v) {
    // Exact decimal: 4975 -> 49.75, 5 -> 0.05, 100 -> 1, and sFlow's -1 ("unknown") -> -0.01,
    // as the original service wrote it (../shared/spec/api.md: clients compare it as a number)
    int64_t x = v.value;
    if (x < 0) {
        *p++ = '-';
        x = -x;
    }
    int64_t whole = x / 100, frac = x % 100;
    p = put_uint(p, uint64_t(whole));
    if (frac) {
        *p++ = '.';
        *p++ = char('0' + frac / 10);
        if (frac % 10) *p++ = char('0' + frac % 10);
    }
    return p;
}

}  // namespace sfm
