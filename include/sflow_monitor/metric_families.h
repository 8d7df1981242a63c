// metric_families.h — the one table of Prometheus metric families (docs/prometheus.md): each
// family's name, TYPE, HELP and the sFlow field or collector counter it comes from, and, for a
// hypervisor's and a VM's families, the series an entity's newest sample fills.
//
// Caveats:
//  - The writers (exposition.h) look families up here by name; a name not in the table is a
//    logic_error, so no exposition can write a family that docs/prometheus.md does not list
//    (test/metric_families_test.cpp checks the doc against this table).
//  - A host or VM family's `source` is made from records.h's own field names (the record's
//    name, its fields in series order, each series' label value in parentheses where it has
//    one, then the unit the value is converted from); no field name is spelled twice.
//  - The collector's counters come from Stats' field list (stats.h):
//    sflow_monitor_<collector.stats key>_total, a group of counters as one family by reason.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sflow_monitor/sflow.h"

namespace sfm {

enum class MetricType { counter, gauge, histogram };
enum class MetricScope { collector, host, vm };

// One series of a host or VM family: the value it takes from a decoded sample.
struct MetricSeries {
    std::string labels;  // extra labels of this series, e.g. mode="user"; empty for none
    std::optional<double> (*value)(const CounterSample&);  // none: the sample lacks it
    void (*more_labels)(const CounterSample&, std::string&) = nullptr;  // labels from the sample
};

struct MetricFamily {
    std::string name;    // as exposed in the text format (counters end in _total)
    MetricType type;
    MetricScope scope;
    std::string help;
    std::string source;  // the sFlow field (record.field) or the collector counter it comes from
    std::vector<MetricSeries> series;  // host and VM families: every series an entity can have
};

// Every family, in exposition order.
const std::vector<MetricFamily>& metric_families();

// The family named so; throws std::logic_error for a name not in the table.
const MetricFamily& metric_family(std::string_view name);

// The family of a collector.stats counter or group (stats.h) named `key`.
std::string stats_family(const char* key);

}  // namespace sfm
