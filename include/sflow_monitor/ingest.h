// ingest.h — sFlow ingest: a receiver thread (udp_receiver.h → decode → admission.h) and
// the store's one writer thread (store_writer.h: batched Store::write(), periodic purge). The
// receiver hands the writer everything it holds whenever the writer is free, so batches grow
// with the load and the socket is drained while a commit runs.
//
// Caveats:
//  - start() binds the socket (throws std::runtime_error with the reason on failure) and
//    starts the threads; stop() makes them flush what they hold and join. stop() returns
//    also after a thread died.
//  - Nothing escapes the threads: a bad datagram is counted in Stats and dropped, a store
//    failure is logged and counted, and the threads carry on. Anything else that ends a
//    thread (bad_alloc, a system_error) is logged once, failed() turns true and
//    on_failure() is called from that thread: the service then stops with a non-zero exit.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sflow_monitor/stats.h"
#include "sflow_monitor/store.h"

namespace sfm {

struct IngestOptions {
    std::string listen = "0.0.0.0";  // "::" listens on IPv6 and IPv4
    uint16_t port = 6343;            // 0: any free port (see Ingest::port())
    int rcvbuf_bytes = 8 << 20;
    int flush_ms = 1000;             // bound on arrival → visible
    size_t max_batch = 100000;       // hand over at this many samples even if more are waiting
    uint64_t backlog_bytes = 256 << 20;  // memory of samples waiting while the writer is busy
    int64_t purge_every_ms = 60000;
    int64_t compact_after_ms = 600000;  // samples older than this are compacted (a pass at most
                                        // every compact_after_ms / 2, at least 1 s apart, 5 min at most)
    std::vector<std::string> allow;  // CIDRs; empty = every agent
    bool require_source_match = false;  // agent address must equal the UDP source
    std::function<void()> on_failure;   // called once a thread died (from that thread)
    std::string test_fault;  // tests only: "receiver" or "writer" throws at its first datagram or batch
};

class Ingest {
public:
    Ingest(const IngestOptions& opts, Store& store, Stats& stats);
    ~Ingest();
    void start();
    void stop();
    uint16_t port() const;  // the bound port
    bool failed() const;    // a thread died (see on_failure)

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Turns one decoded datagram into the samples to store (hosts by agent address, VMs by
// host_descr hostname), counting what it ignores. Pure; exposed for tests.
void samples_to_store(const Datagram& d, int64_t now_ms, SampleBatch& out, Stats& stats);
void samples_to_store(const Datagram& d, int64_t now_ms, std::vector<StoredSample>& out,
                      Stats& stats);  // the same, unpacked (tests, tools)

}  // namespace sfm
