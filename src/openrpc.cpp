// openrpc.cpp — rpc.discover and the results' JSON Schemas (see openrpc.h).
#include "sflow_monitor/openrpc.h"

namespace sfm {

void object_schema(JsonWriter& w, const char* const* leading, void (*props)(JsonWriter&)) {
    w.begin_object();
    w.member("type", "array");
    w.key("items");
    w.begin_object();
    w.member("type", "object");
    w.key("properties");
    w.begin_object();
    SchemaWriter s{w};
    for (const char* const* k = leading; *k; ++k)
        s.type(*k, std::string_view(*k) == "timestamp" ? "\"integer\"" : "\"string\"");
    props(w);
    w.end_object();
    w.end_object();
    w.end_object();
}

void any_object_schema(JsonWriter& w) { w.raw("{\"type\":\"object\"}"); }
void any_array_schema(JsonWriter& w) { w.raw("{\"type\":\"array\",\"items\":{\"type\":\"object\"}}"); }

namespace {

const char* type_schema(ParamType t) {
    switch (t) {
        case ParamType::string: return "{\"type\":\"string\"}";
        case ParamType::time:
            return "{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"string\",\"pattern\":\"^[0-9]+$\"}]}";
        case ParamType::count: return "{\"type\":\"integer\",\"minimum\":1}";
        case ParamType::flag: return "{\"type\":\"boolean\"}";
        case ParamType::duration:
            return "{\"oneOf\":[{\"type\":\"integer\",\"minimum\":1},{\"type\":\"string\",\"pattern\":\"^[0-9]+(ms|s|m|h|d)?$\"}]}";
        case ParamType::strings:
            return "{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"array\",\"items\":{\"type\":\"string\"}}]}";
    }
    return "{}";
}

}  // namespace

void rpc_discover(const Call&, JsonWriter& w) {
    w.begin_object();
    w.member("openrpc", "1.2.6");
    w.key("info");
    w.begin_object();
    w.member("title", "sflow-monitor");
    w.member("version", kVersion);
    w.end_object();
    w.key("methods");
    w.begin_array();
    for (const MethodSpec& m : method_table()) {
        w.sep();
        w.begin_object();
        w.member("name", m.name);
        w.member("summary", m.summary);
        w.member("paramStructure", "either");
        w.key("params");
        w.begin_array();
        for (const ParamSpec& p : m.params) {
            w.sep();
            w.begin_object();
            w.member("name", p.name);
            w.member("description", p.description);
            w.member("required", p.required);
            w.key("schema");
            w.raw(type_schema(p.type));
            w.end_object();
        }
        w.end_array();
        w.key("result");
        w.begin_object();
        w.member("name", "result");
        w.key("schema");
        m.result_schema(w);
        w.end_object();
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

}  // namespace sfm
