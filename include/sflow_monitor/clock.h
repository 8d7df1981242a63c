// clock.h — the one wall clock the service reads: ms since the epoch (system_clock).
// Receive times, "now" of a query and the purge deadline all come from here.
#pragma once

#include <chrono>
#include <cstdint>

namespace sfm {

inline int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace sfm
