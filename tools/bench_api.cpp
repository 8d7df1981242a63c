// bench-api — the service's own cost of one request, without HTTP: Api::handle on a store
// (one filled by bench-fill, say) in a loop, as one FastCGI worker runs it.
//   bench-api --dir DIR --body JSON [--seconds S | --requests N] [--map-size MiB]
// (--requests: a fixed count, for instruction counts under valgrind --tool=callgrind)
// Prints "N requests in S s: X us/request, reply B bytes", then the median and the fastest and
// slowest request ("median X us, min Y us, max Z us"): on a shared machine the median is the
// figure to compare.
#include <boost/program_options.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "sflow_monitor/api.h"
#include "sflow_monitor/stats.h"
#include "sflow_monitor/store.h"

using namespace sfm;
namespace po = boost::program_options;

int main(int argc, char** argv) {
    std::string dir, body;
    double seconds = 3;
    uint64_t requests = 0;
    uint64_t map_mib = 0;  // the store's own
    po::options_description desc("bench-api options");
    desc.add_options()("dir", po::value(&dir)->required(), "store directory")(
        "body", po::value(&body)->required(), "the JSON-RPC request")(
        "seconds", po::value(&seconds), "how long to run")(
        "requests", po::value(&requests), "run this many requests instead")(
        "map-size", po::value(&map_mib), "LMDB map size, MiB (default: the store's own)");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const std::exception& e) {
        std::cerr << "bench-api: " << e.what() << "\n" << desc;
        return 2;
    }
    StoreOptions so;
    so.dir = dir;
    so.map_size = map_mib << 20;
    so.retention_ms = int64_t(1) << 60;
    Store store(so);
    Stats stats;
    Api api(ApiOptions{}, store, stats);
    size_t bytes = api.handle(body).body.size();
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    double elapsed = 0;
    uint64_t n = 0;
    std::vector<double> each;  // us per request, up to the first million
    while (requests ? n < requests : elapsed < seconds) {
        uint64_t k = requests ? std::min<uint64_t>(1000, requests - n) : 1000;
        for (uint64_t i = 0; i < k; ++i) {
            auto a = clock::now();
            bytes = api.handle(body).body.size();
            if (each.size() < 1000000) each.push_back(std::chrono::duration<double, std::micro>(clock::now() - a).count());
            elapsed = std::chrono::duration<double>(clock::now() - t0).count();
            if (!requests && elapsed >= seconds) {
                k = i + 1;
                break;
            }
        }
        n += k;
    }
    std::printf("%llu requests in %.2f s: %.2f us/request, reply %zu bytes\n",
                (unsigned long long)n, elapsed, 1e6 * elapsed / double(n), bytes);
    std::sort(each.begin(), each.end());
    if (!each.empty())
        std::printf("median %.2f us, min %.2f us, max %.2f us\n", each[each.size() / 2], each.front(), each.back());
}
