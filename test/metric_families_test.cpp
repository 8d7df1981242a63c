#include "sflow_monitor/metric_families.h"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "sflow_monitor/records.h"

using namespace sfm;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    REQUIRE_MESSAGE(f.good(), "cannot read " << path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("every metric family is in docs/prometheus.md with the sFlow field it comes from, and no other") {
    std::string doc = read_file("docs/prometheus.md");
    std::set<std::string> documented;
    std::regex row(R"(^\| `([A-Za-z_:][A-Za-z0-9_:]*)` \| (counter|gauge|histogram) \| (.*) \|$)");
    std::istringstream in(doc);
    std::string line;
    std::map<std::string, std::string> row_of;
    while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_match(line, m, row)) {
            CHECK_MESSAGE(documented.insert(m[1]).second, "listed twice: " << m[1]);
            row_of[m[1]] = line;
        }
    }
    std::set<std::string> in_code;
    for (const MetricFamily& f : metric_families()) {
        in_code.insert(f.name);
        const char* type = f.type == MetricType::counter ? "counter" : f.type == MetricType::gauge ? "gauge" : "histogram";
        auto it = row_of.find(f.name);
        if (it == row_of.end()) {
            std::string why = std::string("not in docs/prometheus.md: ") + f.name;
            FAIL_CHECK(why);
            continue;
        }
        std::string why = std::string(f.name) + ": the doc's type or source differs from the code's (" + type +
                          ", " + f.source + ")";
        CHECK_MESSAGE(it->second.find(std::string("| ") + type + " | " + f.source + " |") != std::string::npos, why);
    }
    for (const std::string& d : documented) CHECK_MESSAGE(in_code.count(d), "documented but not in the code: " << d);
}

TEST_CASE("families follow the naming rules: counters end in _total, nothing else does, units in the name") {
    for (const MetricFamily& f : metric_families()) {
        std::string n = f.name;
        bool total = n.size() > 6 && n.substr(n.size() - 6) == "_total";
        CHECK_MESSAGE(total == (f.type == MetricType::counter), n);
        CHECK_MESSAGE(std::regex_match(n, std::regex("[a-zA-Z_][a-zA-Z0-9_]*")), n);
        CHECK_MESSAGE(std::string(f.help) != "", n);
        CHECK_MESSAGE(std::string(f.source) != "", n);
    }
}

TEST_CASE("a family's source names records.h's fields, each series' label and the unit converted from") {
    // written out here, independently of how the table composes them
    CHECK(metric_family("node_memory_MemTotal_bytes").source == "host_memory.mem_total");
    CHECK(metric_family("sflow_host_cpu_speed_hertz").source == "host_cpu.cpu_speed (MHz)");
    CHECK(metric_family("node_cpu_guest_seconds_total").source == "host_cpu.cpu_guest (user), cpu_guest_nice (nice) (ms)");
    CHECK(metric_family("node_uname_info").source == "host_descr.hostname, os_release, machine_type, os_name");
    CHECK(metric_family("node_cpu_seconds_total").series.size() == 8);
    CHECK(metric_family("node_cpu_seconds_total").series[4].labels == "mode=\"iowait\"");
    CHECK(metric_family("sflow_monitor_kernel_drops_total").series.empty());
    CHECK_THROWS_AS(metric_family("node_no_such_family"), std::logic_error);
}
