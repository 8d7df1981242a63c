// exposition.h — writing the Prometheus text format (0.0.4) and OpenMetrics (1.0): numbers,
// escaped labels, and families in order with their HELP and TYPE lines (docs/prometheus.md).
//
// Caveats:
//  - A family's HELP and TYPE come from the table (metric_families.h) and are written only
//    when the family gets a sample: a family with no samples is left out whole.
//  - OpenMetrics names a counter's family without `_total` in HELP and TYPE (the samples keep
//    it) and ends with `# EOF`. No exposition timestamps in either format.
#pragma once

#include <string>
#include <string_view>

#include "sflow_monitor/metric_families.h"

namespace sfm {

// A value as the exposition writes it: integers without a fraction, NaN, +Inf, -Inf.
void append_number(std::string& out, double v);

// A float as the shortest decimal that reads back as it (0.79f is 0.79, not 0.790000021...).
double from_float(float f);

// ,name="value" (no comma first in an empty list or after '{'), escaped for the exposition;
// invalid UTF-8 as U+FFFD.
void append_label(std::string& out, const char* name, std::string_view value);

class Exposition {
public:
    explicit Exposition(bool openmetrics) : om_(openmetrics) {}
    // Starts a family; its samples follow with sample().
    void begin(std::string_view name) { begin(metric_family(name)); }
    void begin(const MetricFamily& family) {
        cur_ = &family;
        pending_header_ = true;
    }
    // One sample of the current family: suffix ("" or _bucket, _sum, _count), labels without
    // braces ("" for none).
    void sample(const char* suffix, std::string_view labels, double v);
    std::string finish();

private:
    void header();
    bool om_;
    std::string out_;
    const MetricFamily* cur_ = nullptr;
    bool pending_header_ = false;
};

}  // namespace sfm
