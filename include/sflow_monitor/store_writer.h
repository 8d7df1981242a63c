// store_writer.h — the store's one writer thread: it takes what the receiver hands over
// whenever it is free (so batches grow with the load while a commit runs), writes it with
// Store::write(), purges old samples every purge_every_ms, and builds the roll-ups of closed
// buckets (rollup_pass.h) between batches, a bounded amount at a time.
//
// Caveats:
//  - offer() and finish() are for the receiver thread only.
//  - A store failure is logged and counted (store_errors) and the writer carries on. Anything
//    else thrown in the thread ends it: logged once, then on_failure() is called; from then
//    on what is offered is dropped (counted) once the backlog is full, and finish() still
//    returns.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "sflow_monitor/rollup_pass.h"
#include "sflow_monitor/stats.h"
#include "sflow_monitor/store.h"

namespace sfm {

struct StoreWriterOptions {
    uint64_t backlog_bytes = 256 << 20;  // memory of samples waiting while the writer is busy
    int64_t purge_every_ms = 60000;
    int64_t compact_after_ms = 600000;  // a pass compacts samples older than this (Store::compact_step)
    int64_t compact_margin_ms = 2000;   // and older than this (the receiver may hold newer ones)
    bool test_fault = false;  // tests only: the thread throws at its first batch
};

class StoreWriter {
public:
    StoreWriter(const StoreWriterOptions& opts, Store& store, Stats& stats, std::function<void()> on_failure);
    ~StoreWriter();  // finish() if the receiver did not
    StoreWriter(const StoreWriter&) = delete;
    StoreWriter& operator=(const StoreWriter&) = delete;

    void start();  // the thread ("sfm-writer", 10 nice levels below the process)
    // Hands `pending` over (leaving it empty) if the writer is free. If it is busy and pending
    // holds backlog_bytes or more, waits until it is free (counted in receiver_pauses).
    void offer(SampleBatch& pending);
    // Waits for the writer to be free, hands it `rest`, lets it write that and end; joins.
    void finish(SampleBatch& rest);

private:
    void loop();
    void write(SampleBatch& batch);
    void maybe_purge(int64_t now);
    void roll_up(int64_t now);
    void maybe_compact(int64_t now);

    StoreWriterOptions opts_;
    Store& store_;
    Stats& stats_;
    std::function<void()> on_failure_;
    std::thread thread_;
    int64_t last_purge_ms_ = 0;  // writer only
    RollupPass rollup_{store_};  // writer only
    int64_t last_compact_ms_ = 0;  // writer only: when the last pass began
    int64_t last_compact_step_ms_ = 0;  // writer only: when the last step (transaction) ran
    bool compacting_ = false;      // writer only: a pass is in progress
    std::mutex mu_;
    std::condition_variable cv_;
    SampleBatch handoff_;
    bool busy_ = false, stopping_ = false, dead_ = false;
};

}  // namespace sfm
