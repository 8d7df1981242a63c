// api.h — the JSON-RPC 2.0 API (../shared/spec/api.md): a request body in, an HTTP reply out.
// No I/O beyond the Store; the FastCGI server (fcgi_server.h) is the only caller in the
// service, tests and the fuzzer call it directly.
//
// Caveats:
//  - handle() never throws: every failure becomes a JSON-RPC error object.
//  - Thread-safe: any number of workers may call handle() at once.
//  - Every request's cost is bounded (limits.h): at most max_batch calls, a reply of at most
//    reply_limit bytes (plus the error objects of the calls refused), request_timeout_ms of
//    work, and heavy calls in at most heavy_calls workers at once. A refused request is
//    counted in Stats::requests_refused and logged (one line, rate-limited).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sflow_monitor/limits.h"
#include "sflow_monitor/stats.h"
#include "sflow_monitor/store.h"

namespace sfm {

// The service's version: --version, collector.stats and rpc.discover's info.version. Its minor
// number goes up when an answer's keys change (0.2.0: the additions' names and units; 0.3.0:
// collector.stats' store sizing keys follow them too).
constexpr const char* kVersion = "0.3.0";

struct ApiOptions {
    int64_t window_ms = 600000;           // the time-series window
    int64_t max_span_ms = 86400000;       // from/to ranges
    size_t body_limit = 64 * 1024;        // bytes
    int max_depth = 64;                   // JSON nesting
    size_t max_batch = 100;               // calls in one batch
    size_t reply_limit = 32 << 20;        // bytes of results in one reply
    int64_t request_timeout_ms = 10000;   // from the body's arrival to the last call's end
    int heavy_calls = 1;                  // heavy calls running at once
    int workers = 8;                      // the server's: at most workers - 1 hold heavy calls
    bool rollups = true;                  // stepped queries read roll-ups (tests compare without)
};

class RequestStats;  // metrics.h

struct HttpReply {
    int status = 200;  // 200, or 204 for notifications only
    std::string body;
};

class Api {
public:
    // requests: where each JSON-RPC request is counted and timed, by method (none when null)
    Api(const ApiOptions& opts, const Store& store, Stats& stats, RequestStats* requests = nullptr);
    ~Api();
    // `client` names the peer in the log line of a refused request.
    HttpReply handle(std::string_view body, int64_t now_ms, std::string_view client = {}) const;
    HttpReply handle(std::string_view body) const;  // now = the system clock
    // The JSON-RPC error reply for a body over the limit (the server does not read it);
    // counted and logged as a refusal.
    HttpReply too_large(std::string_view client = {}) const;
    const ApiOptions& options() const { return opts_; }

private:
    void refused(RefusalReason why, std::string_view client, const std::string& detail) const;

    ApiOptions opts_;
    const Store& store_;
    Stats& stats_;
    RequestStats* requests_;
    std::unique_ptr<HeavyGate> gate_;
    std::unique_ptr<RefusalLog> refusal_log_;
};

}  // namespace sfm
