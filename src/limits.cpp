// limits.cpp — the heavy-call gate and the refusal log's rate limit (limits.h).
#include "sflow_monitor/limits.h"

namespace sfm {

const char* refusal_name(RefusalReason r) {
    switch (r) {
        case RefusalReason::body_too_large: return "body_too_large";
        case RefusalReason::batch_too_long: return "batch_too_long";
        case RefusalReason::reply_limit: return "reply_limit";
        case RefusalReason::timeout: return "timeout";
        case RefusalReason::busy: return "busy";
    }
    return "unknown";
}

HeavyGate::Entry HeavyGate::enter(SteadyClock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    if (inside_ >= max_inside_) return Entry::busy;
    ++inside_;
    if (!cv_.wait_until(lock, deadline, [&] { return running_ < slots_; })) {
        --inside_;
        return Entry::timeout;
    }
    ++running_;
    return Entry::entered;
}

void HeavyGate::leave() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        --running_;
        --inside_;
    }
    cv_.notify_one();
}

bool RefusalLog::admit(int64_t now_ms, uint64_t& skipped) {
    std::lock_guard<std::mutex> lock(mu_);
    if (in_window_ == 0 || now_ms - window_start_ >= window_ms_ || now_ms < window_start_) {
        window_start_ = now_ms;
        in_window_ = 0;
    }
    if (in_window_ >= burst_) {
        ++skipped_;
        return false;
    }
    ++in_window_;
    skipped = skipped_;
    skipped_ = 0;
    return true;
}

}  // namespace sfm
