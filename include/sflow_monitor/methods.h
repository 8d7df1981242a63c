// methods.h — the API's methods, as one table: name, parameters, handler. api.cpp validates
// and binds parameters against this table; rpc.discover describes it. One row per method.
//
// Caveats:
//  - Handlers write only the result value; they throw RpcError for invalid parameter values
//    and let StoreError through (api.cpp turns it into -32603).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "sflow_monitor/api.h"
#include "sflow_monitor/current.h"
#include "sflow_monitor/json.h"
#include "sflow_monitor/limits.h"

namespace sfm {

struct RpcError : std::runtime_error {
    int code;
    std::string data_json;  // the error's "data" member, raw JSON; empty for none
    RpcError(int c, const std::string& message, std::string data = "")
        : std::runtime_error(message), code(c), data_json(std::move(data)) {}
};

// -32602 with error.data {"param": param, "reason": reason}
RpcError invalid_param(const std::string& param, const std::string& reason);

enum class ParamType {
    string,  // JSON string
    time,    // ms since the epoch: JSON integer, or a string of digits
    count,   // positive JSON integer
    flag,    // JSON boolean
    duration,  // ms: positive JSON integer, or a string such as "5m", "300s", "1h", "1d", "500ms", "500"
    strings,   // a JSON array of strings, or one string (as an array of one)
};

struct ParamSpec {
    const char* name;
    ParamType type;
    bool required;
    const char* description;
};

// Parameters after validation, by name.
struct Args {
    std::map<std::string, std::variant<std::string, int64_t, bool, std::vector<std::string>>> values;
    const std::string* str(const std::string& name) const;
    const std::vector<std::string>* strs(const std::string& name) const;  // null when absent
    std::optional<int64_t> num(const std::string& name) const;
    bool flag(const std::string& name) const;               // false when absent
    bool flag_or(const std::string& name, bool absent) const;
};

struct Call {
    const Store& store;
    const Stats& stats;
    const ApiOptions& opts;
    int64_t now_ms;
    const Args& args;
    const Budget& budget;  // check() once per item of any loop the store's contents size
};

struct MethodSpec {
    const char* name;
    const char* summary;
    std::vector<ParamSpec> params;  // in positional order
    void (*run)(const Call&, JsonWriter&);
    void (*result_schema)(JsonWriter&);  // writes the result's JSON Schema, for rpc.discover
    // Whether this call, with its arguments, is heavy (waits for a HeavyGate slot): it walks
    // every host or VM, or a range longer than the window. nullptr: never.
    bool (*heavy)(const Call&) = nullptr;
};

const std::vector<MethodSpec>& method_table();

// Handlers that live in cluster.cpp.
void cluster_status(const Call& c, JsonWriter& w);
void host_vms(const Call& c, JsonWriter& w);
void virt_history(const Call& c, JsonWriter& w);
const MethodSpec* find_method(const std::string& name);

}  // namespace sfm
