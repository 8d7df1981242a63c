// api.h — the JSON-RPC 2.0 API (../shared/spec/api.md): a request body in, an HTTP reply out.
// No I/O beyond the Store; the FastCGI server (fcgi_server.h) is the only caller in the
// service, tests and the fuzzer call it directly.
//
// Caveats:
//  - handle() never throws: every failure becomes a JSON-RPC error object.
//  - Thread-safe: any number of workers may call handle() at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sflow_monitor/stats.h"
#include "sflow_monitor/store.h"

namespace sfm {

constexpr const char* kVersion = "0.1.0";

struct ApiOptions {
    int64_t window_ms = 600000;           // the time-series window
    int64_t max_span_ms = 86400000;       // from/to ranges
    size_t body_limit = 64 * 1024;        // bytes
    int max_depth = 64;                   // JSON nesting
};

class RequestStats;  // metrics.h

struct HttpReply {
    int status = 200;  // 200, or 204 for notifications only
    std::string body;
};

class Api {
public:
    // requests: where each JSON-RPC request is counted and timed, by method (none when null)
    Api(const ApiOptions& opts, const Store& store, const Stats& stats,
        RequestStats* requests = nullptr);
    HttpReply handle(std::string_view body, int64_t now_ms) const;
    HttpReply handle(std::string_view body) const;  // now = the system clock
    // The JSON-RPC error reply for a body over the limit (the server does not read it).
    HttpReply too_large() const;
    const ApiOptions& options() const { return opts_; }

private:
    ApiOptions opts_;
    const Store& store_;
    const Stats& stats_;
    RequestStats* requests_;
};

}  // namespace sfm
