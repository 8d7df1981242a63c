// bench-rollup — what a roll-up chunk costs: sflow-gen's history (1 host × 30 VMs by default,
// polled every 20 s after 2026-01-01T00:00Z, 14 days by default: exactly one 1-hour chunk) folded
// into buckets by the BucketBuilder, each entity's buckets encoded as the store encodes them
// (encode_bucket, then merge_chunk: the roll-ups' chunk codec and zstd level), and measured: bytes
// per bucket from the codec alone, and with LMDB's overflow pages (a value over ~2 KB takes
// whole 4 KiB pages, 16 bytes of header in the first), the CPU of encoding and of decoding a
// whole chunk, and of a write as the roll-up pass makes one (the chunk so far decoded, one
// bucket added, encoded again), averaged over the chunk's life. The store's keys and branch
// pages come on top (docs/performance.md, "Roll-ups").
//   bench-rollup [--hosts H] [--vms M] [--days D] [--interval-ms I] [--level L] [--chunk-days C] [--repeat K]
// (--level: the zstd level to write with, instead of the resolution's own; --chunk-days: the
// 1-hour chunks' span instead of theirs; --repeat: each chunk encoded and decoded K times, the
// fastest counted)
#include <boost/program_options.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "sflow_monitor/chunk.h"
#include "sflow_monitor/ingest.h"
#include "sflow_monitor/rollup.h"
#include "sflow_monitor/sflow.h"
#include "sflow_monitor/stats.h"
#include "testkit/gen.h"

using namespace sfm;
namespace po = boost::program_options;

namespace {

using Buckets = std::vector<std::pair<int64_t, std::string>>;  // end_ms, bucket bytes

struct Result {
    uint64_t chunks = 0, buckets = 0, plain = 0, packed = 0, paged = 0;
    double encode_ns = 0, decode_ns = 0, write_ns = 0;  // write: one bucket added, as the pass does
};

constexpr size_t kPage = 4096, kPageHead = 16;

template <class F>
double best_ns(size_t repeat, F&& f) {
    using clk = std::chrono::steady_clock;
    double best = 1e300;
    for (size_t k = 0; k < std::max<size_t>(repeat, 1); ++k) {
        auto t0 = clk::now();
        f();
        best = std::min(best, std::chrono::duration<double, std::nano>(clk::now() - t0).count());
    }
    return best;
}

void measure(const Buckets& all, int64_t chunk_ms, int level, size_t repeat, Result& r) {
    for (size_t from = 0; from < all.size();) {
        int64_t end = rollup::bucket_end(all[from].first, chunk_ms);
        size_t to = from;
        while (to < all.size() && all[to].first <= end) ++to;
        Buckets fresh(all.begin() + long(from), all.begin() + long(to));
        std::string out;
        r.encode_ns += best_ns(repeat, [&] { out = rollup::merge_chunk({}, INT64_MIN, fresh, level); });
        size_t n = 0;
        r.decode_ns += best_ns(repeat, [&] {
            n = 0;
            rollup::each_bucket(out, [&](int64_t, std::string_view) { return ++n, true; });
        });
        if (n != fresh.size()) throw std::runtime_error("decode failed");
        size_t i = 0;
        rollup::each_bucket(out, [&](int64_t e, std::string_view b) {
            if (e != fresh[i].first || b != fresh[i].second) throw std::runtime_error("decode differs");
            return ++i, true;
        });
        // as the roll-up pass writes it: rewritten whole with each bucket closed (the old one decoded)
        std::string grown;
        for (const auto& f : fresh) {
            std::string old = grown;
            r.write_ns += best_ns(repeat, [&] { grown = rollup::merge_chunk(old, f.first - 1, {f}, level); });
        }
        if (grown != out) throw std::runtime_error("grown chunk differs");
        for (const auto& f : fresh) r.plain += f.second.size();
        r.chunks += 1;
        r.buckets += fresh.size();
        r.packed += out.size();
        r.paged += out.size() <= 2000 ? out.size() : (out.size() + kPageHead + kPage - 1) / kPage * kPage;
        from = to;
    }
}

}  // namespace

int main(int argc, char** argv) {
    uint32_t hosts = 1, vms = 30, days = 14, interval_ms = 20000, chunk_days = 0;
    int level = -1;
    size_t repeat = 1;
    po::options_description desc("usage: bench-rollup [OPTIONS]\nOptions");
    desc.add_options()("help", "this text")("hosts", po::value(&hosts)->default_value(hosts), "sflow-gen hosts")(
        "vms", po::value(&vms)->default_value(vms), "sflow-gen VMs per host")(
        "days", po::value(&days)->default_value(days), "days of history from 2026-01-01")(
        "interval-ms", po::value(&interval_ms)->default_value(interval_ms), "sflow-gen polling interval")(
        "level", po::value(&level)->default_value(level), "zstd level of the chunks (-1: each resolution's own)")(
        "chunk-days", po::value(&chunk_days)->default_value(chunk_days), "span of a 1-hour chunk (0: its own)")(
        "repeat", po::value(&repeat)->default_value(repeat), "encode and decode each chunk this many times");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        if (vm.count("help")) {
            std::cout << desc;
            return 0;
        }
        po::notify(vm);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-rollup: %s\n", e.what());
        return 2;
    }
    Stats stats;
    GenOptions go;
    go.hosts = hosts;
    go.vms = vms;
    go.rounds = uint32_t(uint64_t(days) * 86400000 / interval_ms);
    go.interval_ms = interval_ms;
    go.start_us += int64_t(interval_ms) * 1000;  // the first sample after 00:00, the last at the 7th day's end
    GenResult gen = generate(go);
    for (const rollup::Resolution& res : rollup::kResolutions) {
        std::map<std::string, std::pair<rollup::BucketBuilder, Buckets>> by_entity;  // kind + name
        auto put = [&](Buckets& b, std::optional<rollup::Bucket> done) {
            if (done) b.emplace_back(done->end_ms, rollup::encode_bucket(*done));
        };
        std::vector<StoredSample> s;
        for (const GenDatagram& d : gen.datagrams) {
            s.clear();
            samples_to_store(decode_datagram(d.bytes), d.ts_us / 1000, s, stats);
            for (const StoredSample& x : s) {
                if (x.kind == Entity::interface) continue;
                auto it = by_entity.try_emplace(char(x.kind) + x.name, rollup::BucketBuilder(res.ms), Buckets{}).first;
                put(it->second.second, it->second.first.add(x.meta, x.records_raw));
            }
        }
        for (char kind : {'H', 'V'}) {
            Result r;
            for (auto& [name, e] : by_entity) {
                if (name[0] != kind) continue;
                put(e.second, e.first.finish());
                int64_t span = res.tag == 'h' && chunk_days ? int64_t(chunk_days) * 86400000 : res.chunk_ms;
                measure(e.second, span, level < 0 ? res.zstd_level : level, repeat, r);
            }
            if (!r.buckets) continue;
            double b = double(r.buckets);
            std::printf("%s buckets, %s, zstd %d: %6llu buckets in %4llu chunks  plain %6.1f B  chunk %6.1f B  "
                        "with pages %6.1f B per bucket  encode %7.1f us  decode %6.1f us per chunk  "
                        "a write (one bucket added) %6.1f us\n",
                        res.name, kind == 'H' ? "host" : "vm  ", level < 0 ? res.zstd_level : level, (unsigned long long)r.buckets,
                        (unsigned long long)r.chunks, double(r.plain) / b, double(r.packed) / b, double(r.paged) / b,
                        r.encode_ns / 1000 / double(r.chunks), r.decode_ns / 1000 / double(r.chunks),
                        r.write_ns / 1000 / b);
        }
    }
    return 0;
}
