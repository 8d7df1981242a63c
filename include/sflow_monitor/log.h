// log.h — one lowercase line per event to stderr: "2026-12-02T01:02:03.456Z warn: text".
// printf-style with format checking. Thread-safe (one write(2) per line).
#pragma once

namespace sfm {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

void set_log_level(LogLevel level);
bool parse_log_level(const char* text, LogLevel& out);  // "error", "warn", "info", "debug"

void log_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace sfm
