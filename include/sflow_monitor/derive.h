// derive.h — what an operator wants from raw counters: rates and utilisation between two
// samples, computed with modular arithmetic at each counter's width, and the flags that say
// when no honest value exists (reset) or samples are missing (gap).
//
// Caveats:
//  - A reset (agent restart: uptime or sample sequence went back; a VM that moved to another
//    hypervisor) yields no rates at all: a difference across it would be invented.
//  - After a gap the rates are averages over the longer interval; a 32-bit counter could
//    have wrapped more than once in it, so the record is flagged "gap".
//  - Intervals are measured on the agent's clock (datagram uptime), so bunched or replayed
//    datagrams still give true rates; an interval of 0 gives shares but no per-second rates.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sflow_monitor/json.h"
#include "sflow_monitor/store.h"

namespace sfm {

struct Interval {
    int64_t ms = 0;  // by the agent's uptime clock; 0 across a reset
    double seconds = 0;
    bool reset = false;
    bool gap = false;
};

// How the sample `cur` follows `prev` of the same host or VM.
Interval interval_between(const SampleMeta& prev, const SampleMeta& cur);

// Modular differences at the counter's width: a wrap is not a reset.
inline uint32_t delta32(uint32_t prev, uint32_t cur) { return cur - prev; }
inline uint64_t delta64(uint64_t prev, uint64_t cur) { return cur - prev; }

// CPU time split between two host_cpu samples, in percent of all modes (steal included).
struct CpuSplit {
    double util = 0;  // busy: user + nice + system + intr + sintr + steal
    double user = 0, nice = 0, system = 0, idle = 0, waiting_io = 0, intr = 0, sintr = 0, steal = 0;
};
std::optional<CpuSplit> cpu_split(const HostCpu& prev, const HostCpu& cur);

// A VM's CPU use in percent of its own vCPUs over the interval.
std::optional<double> vcpu_util(const VirtCpu& prev, const VirtCpu& cur, double seconds);

// Writes the derived keys for record type T into the open object: "interval_ms", the CPU
// shares and the per-second rates of the counters records.h marks, then "flags". A reset
// record has only "flags": no interval on the agent's clock, no rates.
template <class T>
void write_derived(JsonWriter& w, const T& prev, const SampleMeta& pm, const T& cur, const SampleMeta& cm);

// ---- over several samples (a `step` of a series) --------------------------------------------

// A step's extremes and flags cover the intervals ending in it, each from the sample before
// that holds the record, when that one is among the kNearSamples samples before it (of the
// entity's samples, whatever records they hold); the same bound as the look-back for the
// sample before a stepped query's range, so that raw samples and roll-ups agree (rollup.h).
constexpr uint64_t kNearSamples = 16;

// The derived keys a DerivedRange may hold for record format f (shares, then per-second rates,
// in the order they come): a roll-up stores a key as its index here. Empty for other formats.
const std::vector<std::string>& derived_keys(uint32_t format);

// From `prev` to `cur` with samples between them: interval_between(prev, cur), a reset as well
// when any interval between them was one (a counter difference across a reset is invented),
// a gap when any was one (the sequence numbers of the samples between are not a gap).
Interval interval_across(const SampleMeta& prev, const SampleMeta& cur, bool reset_within, bool gap_within);

// The extremes of each derived value of T over several intervals. add() each interval (its
// reset and gap flags are kept), then write_derived_over() writes them.
class DerivedRange {
public:
    DerivedRange() = default;
    DerivedRange(DerivedRange&&) = default;
    DerivedRange& operator=(DerivedRange&&) = default;
    DerivedRange(const DerivedRange& o);  // its keys may view its own copies of names
    DerivedRange& operator=(const DerivedRange& o);

    template <class T>
    void add(const T& prev, const SampleMeta& pm, const T& cur, const SampleMeta& cm);
    bool reset() const { return reset_; }
    bool gap() const { return gap_; }
    void clear();
    // One value of a key (derive.cpp's rates). The key is viewed, not copied: it must outlive
    // the range (derive.cpp's static names, derived_keys()); a key from elsewhere is given with
    // copy = true (a roll-up's unknown key name).
    void put(std::string_view key, double v, size_t& hint, bool copy = false);
    // As if the intervals `o` was built from were add()ed after these (roll-ups, rollup.h).
    void merge(const DerivedRange& o);
    // A key's extremes and the flags, as a roll-up stores them (rollup.cpp).
    void put_extremes(std::string_view key, double min, double max, bool copy = false);
    void set_flags(bool reset, bool gap) { reset_ = reset; gap_ = gap; }
    template <class F>
    void each(F&& f) const {  // f(key, min, max), in the order the keys came
        for (const auto& e : keys_) f(e.key, e.min, e.max);
    }
    size_t size() const { return keys_.size(); }

private:
    struct Extremes {
        std::string_view key;
        double min, max;
        bool copied;  // key views owned_
    };
    std::vector<Extremes> keys_;  // in the order the values come (the same each interval)
    std::deque<std::string> owned_;  // copied key names (a deque: they stay where they are)
    size_t hint_ = 0;                // put_extremes's place in keys_
    bool reset_ = false, gap_ = false;
    friend void write_extremes(JsonWriter& w, const DerivedRange& r);
};

// The derived keys of a step whose last record is `cur`, the one before it being `prev`:
// "interval_ms" and the rates over iv (none on a reset), then "<key>_min" and "<key>_max" from
// `range`, then "flags" (iv's, which should include the range's: interval_across).
template <class T>
void write_derived_over(JsonWriter& w, const T& prev, const T& cur, const Interval& iv,
                        const DerivedRange& range);

}  // namespace sfm
