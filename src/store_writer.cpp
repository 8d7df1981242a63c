// store_writer.cpp — the store's one writer thread (see store_writer.h). The catch site for
// store failures (logged, counted) and for the thread's own end.
#include "sflow_monitor/store_writer.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <stdexcept>

#include "sflow_monitor/clock.h"
#include "sflow_monitor/log.h"

namespace sfm {

namespace {
constexpr int kWriterNice = 10;  // added to the nice the process runs at (at most 19)
constexpr size_t kCompactPerStep = 2000;  // raw samples per compaction transaction (~5-10 ms)
// A writer that always finds a batch waiting has no idle turn: compaction then takes one step
// this often anyway (at most ~4 % of the writer's time; 8,000 samples/s, five times what 1,000
// hypervisors with 30 VMs send at 20 s polling), so a store under a steady load still compacts.
constexpr int64_t kCompactBusyEveryMs = 250;
}

StoreWriter::StoreWriter(const StoreWriterOptions& opts, Store& store, Stats& stats,
                         std::function<void()> on_failure)
    : opts_(opts), store_(store), stats_(stats), on_failure_(std::move(on_failure)) {}

StoreWriter::~StoreWriter() {
    SampleBatch none;
    finish(none);
}

void StoreWriter::start() {
    thread_ = std::thread([this] {
        // Below the receiver and the API workers: a busy writer only lets the backlog grow
        // (bounded by `backlog`), while a starved receiver loses datagrams. Linux applies
        // nice per thread. Relative: a service started under `nice` keeps its writer below it.
        pid_t tid = pid_t(syscall(SYS_gettid));
        errno = 0;
        int own = getpriority(PRIO_PROCESS, tid);  // -1 is a valid nice: errno tells
        if (errno == 0) setpriority(PRIO_PROCESS, tid, std::min(own + kWriterNice, 19));
        pthread_setname_np(pthread_self(), "sfm-writer");  // as top -H and ps -L show it
        try {
            loop();
        } catch (const std::exception& e) {  // nothing escapes the thread
            log_error("store writer stopped: %s", e.what());
            {
                std::lock_guard<std::mutex> lock(mu_);
                dead_ = true;
                busy_ = false;
                handoff_.clear();
            }
            cv_.notify_all();
            if (on_failure_) on_failure_();
            return;
        }
        cv_.notify_all();
    });
}

void StoreWriter::offer(SampleBatch& pending) {
    {
        std::unique_lock<std::mutex> lock(mu_);
        if (busy_ || !handoff_.empty()) {
            if (pending.bytes() < opts_.backlog_bytes) return;
            // The store cannot keep up. Stop reading until the writer is free: what we
            // accepted is kept, memory stays bounded, and the kernel drops (and counts,
            // SO_RXQ_OVFL) what we could not accept.
            ++stats_.receiver_pauses;
            cv_.wait(lock, [&] { return dead_ || (!busy_ && handoff_.empty()); });
            if (dead_) {
                stats_.samples_backlog_dropped += pending.size();
                pending.clear();
                return;
            }
        }
        handoff_.swap(pending);
        busy_ = true;
    }
    cv_.notify_all();
}

void StoreWriter::finish(SampleBatch& rest) {
    if (!thread_.joinable()) return;
    {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return dead_ || (!busy_ && handoff_.empty()); });
        if (dead_) stats_.samples_backlog_dropped += rest.size();
        else handoff_.swap(rest);
        stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void StoreWriter::write(SampleBatch& batch) {
    bool stored = true;
    try {
        store_.write(batch);
    } catch (const CurrentNotUpdated& e) {
        ++stats_.store_errors;
        log_error("%s; the %zu samples are stored", e.what(), batch.size());
    } catch (const std::exception& e) {
        ++stats_.store_errors;
        log_error("%s; %zu samples lost", e.what(), batch.size());
        stored = false;
    }
    if (stored) {
        stats_.samples_stored += batch.size();
        ++stats_.store_commits;
        try {
            rollup_.note_written(batch);
        } catch (const std::exception& e) {
            ++stats_.store_errors;
            log_error("roll-ups: %s (late samples not noted: their buckets are built again at the next walk)", e.what());
        }
    }
    batch.clear();
}

void StoreWriter::loop() {
    SampleBatch batch;
    last_purge_ms_ = last_compact_ms_ = now_ms();
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mu_);
            busy_ = false;
            cv_.notify_all();  // the receiver may be waiting for an idle writer (stop)
            // roll-ups left behind or a compaction pass in progress: go on with them as soon as
            // no batch waits
            cv_.wait_for(lock, std::chrono::milliseconds(rollup_.behind() || compacting_ ? 0 : 500),
                         [&] { return !handoff_.empty() || stopping_; });
            if (handoff_.empty() && stopping_) return;
            batch.swap(handoff_);
            busy_ = !batch.empty();
        }
        if (opts_.test_fault && !batch.empty()) throw std::runtime_error("test fault injected in the writer");
        bool idle = batch.empty();
        if (!idle) write(batch);
        int64_t now = now_ms();
        maybe_purge(now);
        roll_up(now);
        // compaction takes the writer's idle turns (no batch was waiting), and under a load that
        // leaves none, one step every kCompactBusyEveryMs: the backlog absorbs that step
        if (idle || now - last_compact_step_ms_ >= kCompactBusyEveryMs) maybe_compact(now);
    }
}

void StoreWriter::roll_up(int64_t now) {
    try {
        stats_.rollups_built += rollup_.run(now);
    } catch (const std::exception& e) {
        ++stats_.store_errors;
        log_error("roll-ups: %s", e.what());
    }
}

// One short transaction of a compaction pass per idle turn of the loop (or every
// kCompactBusyEveryMs when there is none), so that batches go in
// between. A pass starts every compact_after / 2 (at least 1 s, at most 5 min apart).
void StoreWriter::maybe_compact(int64_t now) {
    int64_t every = std::clamp<int64_t>(opts_.compact_after_ms / 2, 1000, 300000);
    if (!compacting_ && now - last_compact_ms_ < every) return;
    if (!compacting_) last_compact_ms_ = now;
    last_compact_step_ms_ = now;
    try {
        CompactStep step = store_.compact_step(now - std::max(opts_.compact_after_ms, opts_.compact_margin_ms),
                                               kCompactPerStep);
        compacting_ = !step.done;
    } catch (const std::exception& e) {
        compacting_ = false;
        ++stats_.store_errors;
        log_error("compaction: %s", e.what());
    }
}

void StoreWriter::maybe_purge(int64_t now) {
    if (now - last_purge_ms_ < opts_.purge_every_ms) return;
    last_purge_ms_ = now;
    stats_.mark_stored(now);
    try {
        stats_.samples_purged += store_.purge(now);
    } catch (const std::exception& e) {
        ++stats_.store_errors;
        log_error("purge: %s", e.what());
    }
}

}  // namespace sfm
