// limits.h — what bounds the cost of one request (docs/api.md, Errors; docs/reliability.md):
// the reply's size and a deadline (Budget, one per request), a share of the workers for heavy
// calls (HeavyGate, one per Api), and one rate-limited log line per refused request
// (RefusalLog). The batch length is checked in api.cpp, before anything runs.
//
// Caveats:
//  - Budget::check() throws Refusal; only api.cpp catches it, and turns it into the error
//    of the call that was running (refusal_error()).
//  - A Budget is used by the one thread that handles its request; HeavyGate and RefusalLog
//    are shared by every worker (a mutex each, taken once or twice per request).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>

namespace sfm {

using SteadyClock = std::chrono::steady_clock;

// Why a request (or the rest of a batch) was refused; each has its own JSON-RPC error
// (docs/api.md) and its own counter in collector.stats' requests_refused.
enum class RefusalReason { body_too_large, batch_too_long, reply_limit, timeout, busy };
const char* refusal_name(RefusalReason r);  // the counter's key: "reply_limit", ...

struct Refusal : std::exception {
    RefusalReason reason;
    explicit Refusal(RefusalReason r) : reason(r) {}
    const char* what() const noexcept override { return refusal_name(reason); }
};

// A request's allowance: its reply may grow to `reply_limit` bytes and it may run until
// `deadline`. Handlers call check() once per item (sample, host, VM) of any loop whose length
// the store decides; it throws Refusal when either is spent.
class Budget {
public:
    Budget(const std::string& reply, size_t reply_limit, SteadyClock::time_point deadline)
        : reply_(reply), limit_(reply_limit), deadline_(deadline) {}
    void check() const {
        if (reply_.size() > limit_) throw Refusal(RefusalReason::reply_limit);
        if (SteadyClock::now() >= deadline_) throw Refusal(RefusalReason::timeout);
    }
    bool expired() const { return SteadyClock::now() >= deadline_; }
    SteadyClock::time_point deadline() const { return deadline_; }

private:
    const std::string& reply_;
    size_t limit_;
    SteadyClock::time_point deadline_;
};

// At most `slots` heavy calls run at once; a heavy call that finds them taken waits for one
// until its deadline. So that light calls always find a free worker, at most `max_inside`
// requests are in the gate (running or waiting): one more is refused at once (busy).
class HeavyGate {
public:
    HeavyGate(int slots, int max_inside) : slots_(slots), max_inside_(max_inside) {}
    enum class Entry { entered, busy, timeout };
    Entry enter(SteadyClock::time_point deadline);
    void leave();  // after enter() == entered

private:
    std::mutex mu_;
    std::condition_variable cv_;
    int slots_, max_inside_;
    int running_ = 0, inside_ = 0;
};

// One log line per refused request, at most `burst` of them per `window_ms`; the next line
// logged after a quiet spell says how many were left out.
class RefusalLog {
public:
    explicit RefusalLog(int burst = 10, int64_t window_ms = 60000) : burst_(burst), window_ms_(window_ms) {}
    // Whether to log a refusal seen at now_ms; `skipped` gets how many were not logged since
    // the previous line that was.
    bool admit(int64_t now_ms, uint64_t& skipped);

private:
    std::mutex mu_;
    int burst_;
    int64_t window_ms_, window_start_ = INT64_MIN;
    int in_window_ = 0;
    uint64_t skipped_ = 0;
};

}  // namespace sfm
