// json.h — appending JSON to a string, fast and always valid.
//
// The API writes its responses with this writer, not with a Json::Value tree (10x cheaper).
// Caveats:
//  - Strings are bytes from the network: invalid UTF-8 is written as U+FFFD, control
//    characters as \u00XX, so the output is valid JSON whatever the input.
//  - Floats are written as the shortest decimal that reads back as the same 32-bit float.
//  - The writer does not check structure (commas are the caller's, via key()/member()/sep()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sflow_monitor/records.h"

namespace sfm {

class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : out_(out) {}
    std::string& out() { return out_; }

    void raw(std::string_view s) { out_.append(s); }
    void string(std::string_view s);  // quoted and escaped
    void number(uint64_t v);
    void number(int64_t v);
    void number(uint32_t v) { number(uint64_t(v)); }
    void number(int v) { number(int64_t(v)); }
    void number(float v);   // shortest round-trip form; NaN/Inf as null
    void number(double v);  // shortest round-trip form; NaN/Inf as null
    void null() { out_.append("null"); }
    void boolean(bool b) { out_.append(b ? "true" : "false"); }

    // Object helpers: begin_object(); key("a"); ...; end_object(). key() writes the comma.
    void begin_object() { out_.push_back('{'); first_ = true; }
    void end_object() { out_.push_back('}'); first_ = false; }
    void begin_array() { out_.push_back('['); first_ = true; }
    void end_array() { out_.push_back(']'); first_ = false; }
    void key(std::string_view k) {
        sep();
        string(k);
        out_.push_back(':');
    }
    void sep() {  // before an array element or object key
        if (!first_) out_.push_back(',');
        first_ = false;
    }

    // One member of the open object, "k":v, with key()'s comma. v is a string (std::string,
    // string_view, const char*), a number (the types number() takes), a bool, nullptr (null)
    // or a std::optional of one of those (null when empty). An object or array value: key(),
    // then begin_object()/begin_array(); a value that is already JSON text: key(), then raw().
    template <class V>
    void member(std::string_view k, const V& v) {
        key(k);
        value(v);
    }

    // The JSON visitor: writes a record's fields as "key":value pairs into the open object.
    // api_fields(): only those the API's result objects show (no v.extra() fields).
    template <class T>
    void fields(const T& rec) {
        Staged s(*this);
        T::fields(rec, s);
        s.flush();
    }
    template <class T>
    void api_fields(const T& rec) {
        api_only_ = true;
        fields(rec);
        api_only_ = false;
    }

    // The value of a member() (or of an array element, after sep()): the overloads above.
    void value(std::string_view s) { string(s); }
    void value(const char* s) { string(s); }
    void value(const std::string& s) { string(s); }
    void value(bool b) { boolean(b); }
    void value(std::nullptr_t) { null(); }
    void value(uint64_t v) { number(v); }
    void value(int64_t v) { number(v); }
    void value(uint32_t v) { number(v); }
    void value(int v) { number(v); }
    void value(float v) { number(v); }
    void value(double v) { number(v); }
    template <class T>
    void value(const std::optional<T>& v) {
        if (v) value(*v);
        else null();
    }

    // Record field names: records.h passes each as a literal, a plain identifier (never
    // escaped) whose length is known at compile time.
    static constexpr size_t kMaxFieldName = 64;

private:
    // The visitor fields() hands to T::fields: numeric fields (the bulk of every record) are
    // formatted into a buffer on the stack and reach the string in one append per record, since
    // an append costs more than the twenty-odd bytes it copies; other fields go through the
    // writer's own calls, after what is staged so far.
    class Staged {
    public:
        explicit Staged(JsonWriter& w) : w_(w) {}
        void flush() {
            w_.out_.append(buf_, size_t(p_ - buf_));
            p_ = buf_;
        }
        template <size_t N, class T>
        void extra(const char (&k)[N], const T& v) {
            if (!w_.api_only_) (*this)(k, v);
        }
        template <size_t N>
        void operator()(const char (&k)[N], uint32_t v) { (*this)(k, uint64_t(v)); }
        template <size_t N>
        void operator()(const char (&k)[N], uint64_t v) {
            char* p = key(k, 20);
            p_ = put_uint(p, v);
        }
        template <size_t N>
        void operator()(const char (&k)[N], const std::optional<uint32_t>& v) {
            if (v) (*this)(k, uint64_t(*v));  // absent on the wire: absent in JSON
        }
        template <size_t N>
        void operator()(const char (&k)[N], float v) {
            char* p = key(k, 32);
            p_ = float_chars(p, p + 32, v);
        }
        template <size_t N>
        void operator()(const char (&k)[N], const Hundredths& v) {
            p_ = hundredths_chars(key(k, 16), v);
        }
        template <size_t N, class T>
        void operator()(const char (&k)[N], const T& v) {  // strings, enums, lists: the writer's
            flush();
            w_(k, v);
        }

    private:
        // ,"k": for a literal k, with room for `value` more bytes after it
        template <size_t N>
        char* key(const char (&k)[N], size_t value) {
            static_assert(N - 1 <= kMaxFieldName, "a record field name this long needs key()");
            if (size_t(buf_ + sizeof buf_ - p_) < N + 3 + value) flush();
            char* p = p_;
            if (!w_.first_) *p++ = ',';
            w_.first_ = false;
            *p++ = '"';
            std::memcpy(p, k, N - 1);
            p += N - 1;
            *p++ = '"';
            *p++ = ':';
            return p;
        }
        JsonWriter& w_;
        char buf_[2048];
        char* p_ = buf_;
    };

    // Record fields of the kinds Staged does not format itself.
    void operator()(const char* k, const MachineType& v) { key(k); string(v.name()); }
    void operator()(const char* k, const OsName& v) { key(k); string(v.name()); }
    template <size_t N>
    void operator()(const char* k, const Str<N>& v) { key(k); string(v.value); }
    void operator()(const char* k, const Uuid& v) { key(k); string(v.text()); }
    void operator()(const char* k, const Mac& v) { key(k); string(v.text()); }
    void operator()(const char* k, const std::vector<Mac>& v) {
        key(k);
        begin_array();
        for (auto& m : v) { sep(); string(m.text()); }
        end_array();
    }
    template <class T>
    void operator()(const char* k, const std::vector<T>& v) {
        key(k);
        begin_array();
        for (auto& x : v) {
            sep();
            begin_object();
            fields(x);
            end_object();
        }
        end_array();
    }

    // Formatting into a buffer; each returns the end of what it wrote.
    static char* put_uint(char* p, uint64_t v);  // up to 20 digits
    static char* float_chars(char* p, char* end, float v);         // NaN/Inf as null
    static char* hundredths_chars(char* p, const Hundredths& v);  // value / 100; -1 (unknown) as -0.01

private:
    std::string& out_;
    bool first_ = true;
    bool api_only_ = false;
};

// s with each byte that is not part of valid UTF-8 replaced by U+FFFD, as JsonWriter::string
// shows it: names that must be found again by what the API showed (VM hostnames).
void append_valid_utf8(std::string& out, std::string_view s);

// The decimal digits of v, as std::to_chars writes them (two at a time from a table; the
// length from the bit length first), inline: integers are most of every response.
extern const char kDigitPairs[201];
inline char* JsonWriter::put_uint(char* p, uint64_t v) {
    static constexpr uint64_t kPow10[20] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull,
        1000000ull, 10000000ull, 100000000ull, 1000000000ull, 10000000000ull, 100000000000ull,
        1000000000000ull, 10000000000000ull, 100000000000000ull, 1000000000000000ull,
        10000000000000000ull, 100000000000000000ull, 1000000000000000000ull,
        10000000000000000000ull};
    if (v < 10) {
        *p = char('0' + v);
        return p + 1;
    }
    unsigned t = unsigned(64 - __builtin_clzll(v)) * 1233 >> 12;  // log10(2) ~ 1233/4096
    char* end = p + t + (v >= kPow10[t]);
    char* q = end;
    for (; v >> 32; v /= 100) std::memcpy(q -= 2, kDigitPairs + v % 100 * 2, 2);
    uint32_t u = uint32_t(v);
    for (; u >= 100; u /= 100) std::memcpy(q -= 2, kDigitPairs + u % 100 * 2, 2);
    if (u >= 10)
        std::memcpy(q - 2, kDigitPairs + u * 2, 2);
    else
        q[-1] = char('0' + u);
    return end;
}

}  // namespace sfm
