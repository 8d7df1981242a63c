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

namespace {
// ,"k": into p (room for JsonWriter::kMaxFieldName + 4 bytes); returns the end
char* put_field_key(char* p, bool first, const char* k, size_t n) {
    if (!first) *p++ = ',';
    *p++ = '"';
    std::memcpy(p, k, n);
    p += n;
    *p++ = '"';
    *p++ = ':';
    return p;
}
}  // namespace

// Each field is one append: a call to append costs more than the bytes it copies.
void JsonWriter::field_key(const char* k, size_t n) {
    char buf[kMaxFieldName + 4];
    out_.append(buf, size_t(put_field_key(buf, first_, k, n) - buf));
    first_ = false;
}

void JsonWriter::field(const char* k, size_t n, uint64_t v) {
    char buf[kMaxFieldName + 4 + 24];
    char* p = put_field_key(buf, first_, k, n);
    p = std::to_chars(p, buf + sizeof buf, v).ptr;
    out_.append(buf, size_t(p - buf));
    first_ = false;
}

void JsonWriter::number(uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, size_t(r.ptr - buf));
}

void JsonWriter::number(int64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, size_t(r.ptr - buf));
}

void JsonWriter::number(float v) {
    if (!std::isfinite(v)) return null();
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, size_t(r.ptr - buf));
}

void JsonWriter::number(double v) {
    if (!std::isfinite(v)) return null();
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, size_t(r.ptr - buf));
}

void JsonWriter::operator()(const char* k, const Hundredths& v) {
    key(k);
    if (v.value < 0) return null();  // -1: unknown
    // Exact decimal: 4975 -> 49.75, 5 -> 0.05, 100 -> 1
    int32_t whole = v.value / 100, frac = v.value % 100;
    number(int64_t(whole));
    if (frac) {
        out_.push_back('.');
        out_.push_back(char('0' + frac / 10));
        if (frac % 10) out_.push_back(char('0' + frac % 10));
    }
}

}  // namespace sfm
