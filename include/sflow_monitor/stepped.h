// stepped.h — a series method with `step` (docs/api.md): one record per non-empty step,
// read from the raw samples and, where a roll-up resolution divides the step, from the
// roll-ups (rollup.h), with the same answer either way.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "sflow_monitor/methods.h"

namespace sfm {

struct SteppedRange {
    Entity kind;
    std::string name;       // the entity's name in the store
    int64_t after, upto;    // after < t <= upto
    int64_t step;           // ms
    size_t limit;           // steps
    bool derive;
};

// Writes the records of type T into the open array: begin_record(meta, rec) opens a record
// and writes its leading members and fields; this adds "samples", the derived keys, closes it.
template <class T>
void stepped_series(const Call& c, const SteppedRange& r, JsonWriter& w,
                    const std::function<void(const SampleMeta&, const T&)>& begin_record);

}  // namespace sfm
