// openrpc.h — rpc.discover: the method table (methods.h) as an OpenRPC 1.2.6 document, with
// each result's JSON Schema written from the same field lists (records.h) the results are
// written from, so the description cannot drift from the answers.
//
// Caveats:
//  - The schema writers are what a MethodSpec's result_schema points to; they write one JSON
//    value each and never fail.
#pragma once

#include <string_view>

#include "sflow_monitor/json.h"
#include "sflow_monitor/methods.h"

namespace sfm {

// A field-list visitor (records.h) that writes each field's name and JSON type.
struct SchemaWriter {
    JsonWriter& w;
    void type(const char* k, const char* t) {
        w.key(k);
        w.begin_object();
        w.key("type");
        w.raw(t);
        w.end_object();
    }
    void operator()(const char* k, uint32_t) { type(k, "\"integer\""); }
    void operator()(const char* k, uint64_t) { type(k, "\"integer\""); }
    void operator()(const char* k, float) { type(k, "\"number\""); }
    void operator()(const char* k, const Hundredths&) { type(k, "\"number\""); }
    template <class T>
    void operator()(const char* k, const T&) { type(k, "\"string\""); }
    template <class T>
    void extra(const char*, const T&) {}  // not in the API's results
};

// The properties of record type T, in its wire order.
template <class T>
void record_properties(JsonWriter& w) {
    SchemaWriter s{w};
    const T none{};
    T::fields(none, s);
}

// An array of objects whose properties are the `leading` keys (nullptr-terminated; "timestamp"
// is an integer, the others strings), then what `props` writes.
void object_schema(JsonWriter& w, const char* const* leading, void (*props)(JsonWriter&));
void any_object_schema(JsonWriter& w);  // {"type":"object"}
void any_array_schema(JsonWriter& w);   // an array of objects

// The rpc.discover method: every row of method_table(), in order.
void rpc_discover(const Call& c, JsonWriter& w);

}  // namespace sfm
