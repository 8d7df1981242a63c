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
