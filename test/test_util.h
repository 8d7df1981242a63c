// test_util.h — small helpers shared by the unit tests.
#pragma once

#include <doctest/doctest.h>
#include <json/json.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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

// SFM_UNIT_COMPACT=1: the second run of the tests that read stored samples (test/run-tests
// gives their files), on compacted data: a CompactingStore rewrites every sample into chunks
// after each write (docs/storage.md, "Compaction"), and the answers must not change.
inline bool compact_run() {
    static const bool on = [] {
        const char* e = std::getenv("SFM_UNIT_COMPACT");
        return e && *e && std::string(e) != "0";
    }();
    return on;
}

// Runs compaction passes (Store::compact_step, the writer's own entry point) over everything
// the store holds, to the end; with `raw` (the raw samples the store held), requires that they
// rewrote that many: a compaction that does nothing fails the test instead of letting it pass
// on raw data.
inline void compact_everything(Store& store, std::optional<uint64_t> raw) {
    uint64_t before = store.stats().compacted_samples, passes = 0;
    while (!store.compact_step(INT64_MAX / 2).done) REQUIRE(++passes < 1000000);
    if (raw) REQUIRE_MESSAGE(store.stats().compacted_samples - before == *raw, "compaction left raw samples");
}

// A Store whose write() compacts everything it holds afterwards under SFM_UNIT_COMPACT (a
// test calls it as it calls Store's; the code under test sees a Store).
class CompactingStore : public Store {
public:
    using Store::Store;
    void write(const SampleBatch& batch) {
        Store::write(batch);
        if (!compact_run()) return;
        int64_t oldest = INT64_MAX, newest = newest_;
        for (size_t i = 0; i < batch.size(); ++i) {
            oldest = std::min(oldest, batch[i].meta.ts_ms);
            newest = std::max(newest, batch[i].meta.ts_ms);
        }
        // A sample older than what was compacted before it is merged only if it falls within
        // a chunk's span: the compactor walks back from the cutoff to the newest chunk and no
        // further (docs/storage.md, Compaction). Such a batch is compacted as far as it goes.
        compact_everything(*this, oldest > newest_ ? std::optional<uint64_t>(batch.size()) : std::nullopt);
        newest_ = newest;
    }
    void write(const std::vector<StoredSample>& batch) {
        SampleBatch b;
        for (const StoredSample& s : batch) b.add(s);
        write(b);
    }

private:
    int64_t newest_ = INT64_MIN;  // the newest sample written
};

// A store and its Stats in a fresh temporary directory (a 64 MiB map and a week's retention
// unless told): what the tests that store samples start from. Compacted after each write
// under SFM_UNIT_COMPACT.
struct TestStore {
    TempDir dir;
    CompactingStore store;
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
