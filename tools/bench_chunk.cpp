// bench-chunk — what the chunk codec (chunk.h) makes of real sample bytes: bytes per sample
// and CPU per sample, with zstd and without, for host and VM samples of sflow-gen's traffic
// (1 host × 30 VMs by default, 20 s polling) and of the hsflowd captures. The codec alone: the
// store's own overhead (keys, pages) comes on top (docs/storage.md, "Chunks").
//   bench-chunk [--hosts H] [--vms M] [--rounds R] [--interval-ms I] [--chunk N] [--repeat K] [PCAP ...]
// (--repeat: each chunk decoded K times, the fastest counted: steadier on a shared machine)
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
#include "sflow_monitor/sflow.h"
#include "sflow_monitor/stats.h"
#include "sflow_monitor/store_format.h"
#include "testkit/gen.h"
#include "testkit/pcap.h"

using namespace sfm;
namespace po = boost::program_options;

namespace {

struct Series {
    std::vector<int64_t> ts;
    std::vector<std::string> bytes;  // meta (44) + records, as the store keeps them
};
using ByEntity = std::map<std::string, Series>;  // kind byte + name

void add(ByEntity& out, const std::vector<StoredSample>& samples) {
    for (const StoredSample& s : samples) {
        std::string b(store_format::kMetaSize, '\0');
        store_format::encode_meta(b.data(), s.meta);
        b += s.records_raw;
        Series& e = out[std::string(1, char(s.kind)) + s.name];
        e.ts.push_back(s.meta.ts_ms);
        e.bytes.push_back(std::move(b));
    }
}

struct Result {
    uint64_t samples = 0, raw = 0, packed = 0;
    double encode_ns = 0, decode_ns = 0;
};

size_t repeat = 1;

void measure(const ByEntity& all, char kind, size_t per_chunk, chunk::Compressor c, Result& r) {
    using clk = std::chrono::steady_clock;
    std::string out, buf;
    std::vector<chunk::Item> items, back;
    for (const auto& [name, e] : all) {
        if (name[0] != kind) continue;
        for (size_t from = 0; from < e.bytes.size(); from += per_chunk) {
            items.clear();
            for (size_t i = from; i < std::min(e.bytes.size(), from + per_chunk); ++i) {
                items.push_back({e.ts[i], e.bytes[i]});
                r.raw += e.bytes[i].size();
            }
            out.clear();
            auto t0 = clk::now();
            chunk::encode(items, out, c);
            auto t1 = clk::now();
            bool ok = chunk::decode(out, buf, back);
            auto t2 = clk::now();
            double best = std::chrono::duration<double, std::nano>(t2 - t1).count();
            for (size_t k = 1; k < repeat; ++k) {
                auto a = clk::now();
                ok = chunk::decode(out, buf, back) && ok;
                best = std::min(best, std::chrono::duration<double, std::nano>(clk::now() - a).count());
            }
            if (!ok || back.size() != items.size()) throw std::runtime_error("decode failed");
            for (size_t i = 0; i < items.size(); ++i)
                if (back[i].ts != items[i].ts || back[i].bytes != items[i].bytes)
                    throw std::runtime_error("decode differs");
            r.samples += items.size();
            r.packed += out.size();
            r.encode_ns += std::chrono::duration<double, std::nano>(t1 - t0).count();
            r.decode_ns += best;
        }
    }
}

void report(const char* what, const ByEntity& all, size_t per_chunk) {
    for (char kind : {'H', 'V'}) {
        for (auto c : {chunk::Compressor::none, chunk::Compressor::zstd}) {
            Result r;
            measure(all, kind, per_chunk, c, r);
            if (!r.samples) continue;
            std::printf("%-28s %s %-4s samples %7llu  raw %6.1f B  chunk %6.1f B/sample (%5.1fx)  "
                        "encode %6.0f ns  decode %6.0f ns per sample\n",
                        what, kind == 'H' ? "host" : "vm  ", c == chunk::Compressor::zstd ? "zstd" : "none",
                        (unsigned long long)r.samples, double(r.raw) / double(r.samples),
                        double(r.packed) / double(r.samples), double(r.raw) / double(r.packed),
                        r.encode_ns / double(r.samples), r.decode_ns / double(r.samples));
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    uint32_t hosts = 1, vms = 30, rounds = 540, interval_ms = 20000;
    size_t per_chunk = 180;
    std::vector<std::string> pcaps;
    po::options_description desc("usage: bench-chunk [OPTIONS] [PCAP ...]\nOptions");
    desc.add_options()("help", "this text")("hosts", po::value(&hosts)->default_value(hosts), "sflow-gen hosts")(
        "vms", po::value(&vms)->default_value(vms), "sflow-gen VMs per host")(
        "rounds", po::value(&rounds)->default_value(rounds), "sflow-gen polling rounds")(
        "interval-ms", po::value(&interval_ms)->default_value(interval_ms), "sflow-gen polling interval")(
        "chunk", po::value(&per_chunk)->default_value(per_chunk), "samples per chunk")(
        "repeat", po::value(&repeat)->default_value(repeat), "decode each chunk this many times, count the fastest")(
        "pcap", po::value(&pcaps), "hsflowd captures (each one run of chunks)");
    po::positional_options_description pos;
    pos.add("pcap", -1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
        if (vm.count("help")) {
            std::cout << desc;
            return 0;
        }
        po::notify(vm);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-chunk: %s\n", e.what());
        return 2;
    }
    Stats stats;
    GenOptions go;
    go.hosts = hosts;
    go.vms = vms;
    go.rounds = rounds;
    go.interval_ms = interval_ms;
    ByEntity gen;
    for (const GenDatagram& d : generate(go).datagrams) {
        std::vector<StoredSample> s;
        samples_to_store(decode_datagram(d.bytes), d.ts_us / 1000, s, stats);
        add(gen, s);
    }
    report("sflow-gen", gen, per_chunk);
    for (const std::string& p : pcaps) {
        ByEntity cap;
        for (const CapturedDatagram& d : read_pcap(p).datagrams) {
            std::vector<StoredSample> s;
            samples_to_store(decode_datagram(d.payload), d.ts_us / 1000, s, stats);
            add(cap, s);
        }
        std::string base = p.substr(p.rfind('/') + 1);
        report(base.c_str(), cap, per_chunk);
    }
    return 0;
}
