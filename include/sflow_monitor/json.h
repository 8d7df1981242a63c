// json.h — appending JSON to a string, fast and always valid.
//
// The API writes its responses with this writer, not with a Json::Value tree (10x cheaper).
// Caveats:
//  - Strings are bytes from the network: invalid UTF-8 is written as U+FFFD, control
//    characters as \u00XX, so the output is valid JSON whatever the input.
//  - Floats are written as the shortest decimal that reads back as the same 32-bit float.
//  - The writer does not check structure (commas are the caller's, via key()/sep()).
#pragma once

#include <cstdint>
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

    // The JSON visitor: writes a record's fields as "key":value pairs into the open object.
    // api_fields(): only those the API's result objects show (no v.extra() fields).
    template <class T>
    void fields(const T& rec) { T::fields(rec, *this); }
    template <class T>
    void api_fields(const T& rec) {
        api_only_ = true;
        T::fields(rec, *this);
        api_only_ = false;
    }
    template <class T>
    void extra(const char* k, const T& v) {
        if (!api_only_) (*this)(k, v);
    }

    // Record fields (records.h passes each name as a literal: its length is known here).
    static constexpr size_t kMaxFieldName = 64;
    template <size_t N>
    void operator()(const char (&k)[N], uint32_t v) { (*this)(k, uint64_t(v)); }
    template <size_t N>
    void operator()(const char (&k)[N], uint64_t v) {
        static_assert(N - 1 <= kMaxFieldName, "a record field name this long needs key()");
        field(k, N - 1, v);
    }
    template <size_t N>
    void operator()(const char (&k)[N], float v) {
        static_assert(N - 1 <= kMaxFieldName, "a record field name this long needs key()");
        field_key(k, N - 1);
        number(v);
    }
    void operator()(const char* k, const Hundredths& v);
    void operator()(const char* k, const MachineType& v) { key(k); string(v.name()); }
    void operator()(const char* k, const OsName& v) { key(k); string(v.name()); }
    template <size_t N>
    void operator()(const char* k, const Str<N>& v) { key(k); string(v.value); }
    void operator()(const char* k, const Uuid& v) { key(k); string(v.text()); }
    void operator()(const char* k, const Mac& v) { key(k); string(v.text()); }
    void operator()(const char* k, const std::optional<uint32_t>& v) {
        if (v) {  // absent on the wire: absent in JSON
            key(k);
            number(*v);
        }
    }
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
            T::fields(x, *this);
            end_object();
        }
        end_array();
    }

    // A record field's name (records.h: a plain identifier of n <= kMaxFieldName bytes, never
    // escaped) with its comma, quotes and colon in one append; field() adds an integer value
    // to the same append.
    void field_key(const char* k, size_t n);
    void field(const char* k, size_t n, uint64_t v);

private:
    std::string& out_;
    bool first_ = true;
    bool api_only_ = false;
};

}  // namespace sfm
