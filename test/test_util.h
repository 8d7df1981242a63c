// test_util.h — small helpers shared by the unit tests.
#pragma once

#include <doctest/doctest.h>
#include <json/json.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "sflow_monitor/stats.h"
#include "sflow_monitor/store.h"

namespace sfm::test {

// A fresh directory under /tmp, removed with everything in it at scope exit.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/sfm-test-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string operator/(const std::string& name) const { return path + "/" + name; }
};

constexpr int64_t kDayMs = 86400000;

// A store and its Stats in a fresh temporary directory (a 64 MiB map and a week's retention
// unless told): what the tests that store samples start from.
struct TestStore {
    TempDir dir;
    Store store;
    Stats stats;
    explicit TestStore(int64_t retention_ms = 7 * kDayMs, size_t map_bytes = 64 << 20)
        : store({dir / "db", map_bytes, retention_ms}) {}
};

// Polls cond every millisecond until it holds or timeout_ms passes; returns cond().
inline bool wait_for(const std::function<bool()>& cond, int timeout_ms = 5000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!cond()) {
        if (std::chrono::steady_clock::now() > end) return cond();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// Parses JSON text, failing the test (with the text) when it is not JSON.
inline Json::Value parse_json(const std::string& s) {
    Json::Value v;
    std::string errs;
    Json::CharReaderBuilder b;
    std::unique_ptr<Json::CharReader> r(b.newCharReader());
    REQUIRE_MESSAGE(r->parse(s.data(), s.data() + s.size(), &v, &errs), "not JSON: " << s);
    return v;
}

}  // namespace sfm::test
