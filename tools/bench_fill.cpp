// bench-fill — fills a store fast for `make bench`: the samples sflow-gen's hosts and VMs send
// in one polling round (decoded and mapped exactly as the ingest thread does), written again
// for every earlier round with Store::write in large batches, one round every --interval-ms,
// the newest at --end-ms. The service must not have the store open while this runs.
//   bench-fill --dir DIR --samples N [--hosts H] [--vms M] [--interval-ms I] [--end-ms T]
//              [--batch B] [--map-size MiB] [--history [--migrate]] [--compact]
// With --history, sflow-gen's rounds are written as generated instead (counters rising, gauges
// moving, with --migrate a VM moving host half-way), each at its own time: a store that looks
// lived-in, for the console's test and screenshots (small stores only: generated in memory).
// With --compact, every sample is then compacted (Store::compact_step, as the service does
// between batches) and a second line says what that did to the store's used bytes.
// Prints one line: "filled DIR: N samples, R rounds of S, newest at T, in X s".
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "sflow_monitor/clock.h"
#include "sflow_monitor/ingest.h"
#include "sflow_monitor/sflow.h"
#include "sflow_monitor/stats.h"
#include "sflow_monitor/store.h"
#include "testkit/gen.h"

using namespace sfm;
namespace po = boost::program_options;

namespace {

// One round of samples, as the ingest thread would store them.
std::vector<StoredSample> one_round(uint32_t hosts, uint32_t vms) {
    GenOptions go;
    go.hosts = hosts;
    go.vms = vms;
    go.rounds = 1;
    GenResult g = generate(go);
    Stats stats;
    std::vector<StoredSample> out;
    for (const GenDatagram& d : g.datagrams) samples_to_store(decode_datagram(d.bytes), 0, out, stats);
    return out;
}

// Every round of sflow-gen's traffic, each sample at the time its datagram would arrive, the
// newest at end_ms.
std::vector<StoredSample> history(uint32_t hosts, uint32_t vms, uint64_t rounds, int64_t interval_ms,
                                  bool migrate, int64_t end_ms) {
    GenOptions go;
    go.hosts = hosts;
    go.vms = vms;
    go.rounds = uint32_t(rounds);
    go.interval_ms = uint32_t(interval_ms);
    go.migrate = migrate;
    GenResult g = generate(go);
    int64_t last_us = g.datagrams.empty() ? 0 : g.datagrams.back().ts_us;
    Stats stats;
    std::vector<StoredSample> out;
    for (const GenDatagram& d : g.datagrams)
        samples_to_store(decode_datagram(d.bytes), end_ms - (last_us - d.ts_us) / 1000, out, stats);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    std::string dir;
    uint64_t samples = 1000000, batch = 100000, map_mib = 1024;
    uint32_t hosts = 100, vms = 10;
    bool lived_in = false, migrate = false, compact = false;
    int64_t interval_ms = 30000, end_ms = now_ms();
    po::options_description desc("usage: bench-fill [OPTIONS]\nOptions");
    desc.add_options()
        ("help", "this text")
        ("dir", po::value(&dir)->required(), "the store's directory (created if missing)")
        ("samples", po::value(&samples)->default_value(samples), "samples to write (whole rounds, rounded up)")
        ("hosts", po::value(&hosts)->default_value(hosts), "hypervisor hosts, as sflow-gen --hosts")
        ("vms", po::value(&vms)->default_value(vms), "VMs per host, as sflow-gen --vms")
        ("interval-ms", po::value(&interval_ms)->default_value(interval_ms), "time between rounds")
        ("end-ms", po::value(&end_ms), "timestamp of the newest round (default now)")
        ("batch", po::value(&batch)->default_value(batch), "samples per write transaction")
        ("map-size", po::value(&map_mib)->default_value(map_mib), "LMDB map size, MiB")
        ("history", po::bool_switch(&lived_in), "every round as sflow-gen makes it, not one round repeated")
        ("migrate", po::bool_switch(&migrate), "with --history: VM 1 of host 1 moves to host 2 half-way")
        ("compact", po::bool_switch(&compact), "then compact every sample; print used bytes per sample before and after");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        if (vm.count("help")) {
            std::cout << desc << "\n";
            return 0;
        }
        po::notify(vm);
    } catch (const po::error& e) {
        std::fprintf(stderr, "bench-fill: %s (see --help)\n", e.what());
        return 2;
    }
    try {
        auto started = std::chrono::steady_clock::now();
        std::vector<StoredSample> round = one_round(hosts, vms);
        uint64_t rounds = (samples + round.size() - 1) / round.size();
        StoreOptions so;
        so.dir = dir;
        so.map_size = map_mib << 20;
        so.retention_ms = int64_t(rounds + 1) * interval_ms + 86400000;
        Store store(so);
        if (lived_in) {
            std::vector<StoredSample> all = history(hosts, vms, rounds, interval_ms, migrate, end_ms);
            for (size_t i = 0; i < all.size(); i += batch) {
                std::vector<StoredSample> part(all.begin() + i, all.begin() + std::min(all.size(), size_t(i + batch)));
                store.write(part);
            }
        }
        std::vector<StoredSample> pending;
        pending.reserve(size_t(batch) + round.size());
        for (uint64_t r = 0; r < (lived_in ? 0 : rounds); ++r) {
            int64_t ts = end_ms - int64_t(rounds - 1 - r) * interval_ms;
            for (const StoredSample& s : round) {
                pending.push_back(s);
                pending.back().meta.ts_ms = ts;
                pending.back().meta.sample_sequence = uint32_t(r + 1);
                pending.back().meta.datagram_sequence = uint32_t(r + 1);
                pending.back().meta.uptime = uint32_t(r * uint64_t(interval_ms));
            }
            if (pending.size() >= batch || r + 1 == rounds) {
                store.write(pending);
                pending.clear();
            }
        }
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        std::printf("filled %s: %llu samples, %llu rounds of %zu, newest at %lld, in %.1f s\n", dir.c_str(),
                    (unsigned long long)(rounds * round.size()), (unsigned long long)rounds, round.size(),
                    (long long)end_ms, secs);
        if (compact) {
            // used bytes ÷ samples, as collector.stats' store.sample_size_bytes
            StoreStats before = store.stats();
            auto t0 = std::chrono::steady_clock::now();
            std::clock_t c0 = std::clock();
            for (CompactStep st; !(st = store.compact_step(end_ms + 1)).done;) {}
            double cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
            double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            StoreStats after = store.stats();
            std::printf("compacted %llu samples in %.1f s (%.2f us CPU per sample): used bytes %llu -> %llu, "
                        "%.1f -> %.1f bytes per sample\n",
                        (unsigned long long)after.compacted_samples, wall,
                        cpu * 1e6 / double(std::max<uint64_t>(after.compacted_samples, 1)),
                        (unsigned long long)before.used_bytes, (unsigned long long)after.used_bytes,
                        double(before.used_bytes) / double(before.samples),
                        double(after.used_bytes) / double(after.samples));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-fill: %s\n", e.what());
        return 1;
    }
    return 0;
}
