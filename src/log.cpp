// log.cpp — stderr logging; the level is the one process-wide setting (set once at start-up).
#include "sflow_monitor/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace sfm {

namespace {
std::atomic<int> g_level{int(LogLevel::info)};
const char* const names[] = {"error", "warn", "info", "debug"};

void vlog(LogLevel level, const char* fmt, va_list ap) {
    if (int(level) > g_level.load(std::memory_order_relaxed)) return;
    char buf[2048];
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t;
    gmtime_r(&ts.tv_sec, &t);
    int n = int(strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t));
    n += snprintf(buf + n, sizeof buf - n, ".%03ldZ %s: ", ts.tv_nsec / 1000000, names[int(level)]);
    int m = vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
    n = m < 0 ? n : std::min<int>(n + m, int(sizeof buf) - 2);
    buf[n++] = '\n';
    ssize_t w = write(2, buf, size_t(n));
    (void)w;
}
}  // namespace

void set_log_level(LogLevel level) { g_level = int(level); }

bool parse_log_level(const char* text, LogLevel& out) {
    for (int i = 0; i < 4; ++i)
        if (std::strcmp(text, names[i]) == 0) {
            out = LogLevel(i);
            return true;
        }
    return false;
}

#define SFM_LOG_FN(fn, level)         \
    void fn(const char* fmt, ...) {   \
        va_list ap;                   \
        va_start(ap, fmt);            \
        vlog(level, fmt, ap);         \
        va_end(ap);                   \
    }
SFM_LOG_FN(log_error, LogLevel::error)
SFM_LOG_FN(log_warn, LogLevel::warn)
SFM_LOG_FN(log_info, LogLevel::info)
SFM_LOG_FN(log_debug, LogLevel::debug)

}  // namespace sfm
