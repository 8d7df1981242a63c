#include "sflow_monitor/metrics.h"

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <sstream>

#include "sflow_monitor/api.h"
#include "testkit/encode.h"
#include "testkit/gen.h"
#include "sflow_monitor/ingest.h"
#include "sflow_monitor/methods.h"
#include "test_util.h"

using namespace sfm;
using sfm::test::TempDir;

namespace {

std::vector<std::string> method_names() {
    std::vector<std::string> v;
    for (const MethodSpec& m : method_table()) v.push_back(m.name);
    return v;
}

// sflow-gen's fleet written into a store, each datagram at its capture time.
struct Fixture {
    TempDir dir;
    Store store{{dir / "db", 64 << 20, 7 * 86400000LL}};
    Stats stats;
    RequestStats requests{method_names()};
    Exporter exporter{ExporterOptions{}, store, stats, &requests};
    GenResult gen;
    int64_t last_ms = 0;

    explicit Fixture(GenOptions o = {}) {
        gen = generate(o);
        std::vector<StoredSample> out;
        for (const GenDatagram& d : gen.datagrams) {
            Datagram dg = decode_datagram(d.bytes);
            stats.note_datagram(dg, d.ts_us / 1000);
            samples_to_store(dg, d.ts_us / 1000, out, stats);
            last_ms = d.ts_us / 1000;
        }
        store.write(out);
    }
};

// sflow-gen's options for a fleet of `hosts` hypervisors with `vms` VMs each, `rounds` polls.
GenOptions fleet(uint32_t hosts, uint32_t vms, uint32_t rounds) {
    GenOptions o;
    o.hosts = hosts;
    o.vms = vms;
    o.rounds = rounds;
    return o;
}

// name{labels} -> value, from a text exposition; fails on a line that is not a comment or a sample.
std::map<std::string, double> samples(const std::string& text) {
    std::map<std::string, double> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        size_t sp = line.rfind(' ');
        REQUIRE_MESSAGE(sp != std::string::npos, line);
        out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
    }
    return out;
}

// The names of the table's families that `want` accepts.
template <class Pred>
std::set<std::string> families_where(Pred want) {
    std::set<std::string> out;
    for (const MetricFamily& m : metric_families())
        if (want(m.scope)) out.insert(m.name);
    return out;
}

std::set<std::string> typed_families(const std::string& text) {
    std::set<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("# TYPE ", 0) == 0) out.insert(line.substr(7, line.find(' ', 7) - 7));
    return out;
}

}  // namespace

TEST_CASE("one hypervisor's exposition holds every host and VM family, with node_exporter units") {
    GenOptions o = fleet(2, 3, 3);
    o.expect = true;
    Fixture f(o);
    std::string text = f.exporter.target_metrics("10.0.0.1", false, f.last_ms + 1000);
    CHECK(typed_families(text) == families_where([](MetricScope sc) { return sc != MetricScope::collector; }));
    auto s = samples(text);
    // the newest host sample of 10.0.0.1, from the expect file (the last host line of agent 1)
    Json::Value host, vm;
    for (const std::string& line : f.gen.expect) {
        Json::Value v = sfm::test::parse_json(line);
        if (v["agent"] != "10.0.0.1") continue;
        if (v["kind"] == "host") host = v["records"];
        if (v["name"] == "vm-001-02") vm = v["records"];
    }
    std::string hl = "{host_ip=\"10.0.0.1\",hostname=\"kvm-001\"";
    CHECK(s[hl + "}"] == 0);  // no series without a family name: the map's default
    CHECK(s["node_memory_MemTotal_bytes" + hl + "}"] == host["host_memory"]["mem_total"].asDouble());
    CHECK(s["node_load1" + hl + "}"] == doctest::Approx(host["host_cpu"]["cpu_load_one"].asDouble()).epsilon(1e-12));
    CHECK(s["node_cpu_seconds_total" + hl + ",mode=\"user\"}"] ==
          doctest::Approx(host["host_cpu"]["cpu_user"].asDouble() / 1000).epsilon(1e-12));
    CHECK(s["node_cpu_seconds_total" + hl + ",mode=\"iowait\"}"] ==
          doctest::Approx(host["host_cpu"]["cpu_waiting_io"].asDouble() / 1000).epsilon(1e-12));
    CHECK(s["sflow_host_cpu_speed_hertz" + hl + "}"] == host["host_cpu"]["cpu_speed"].asDouble() * 1e6);
    CHECK(s["node_network_receive_bytes_total" + hl + "}"] == host["host_net_io"]["bytes_in"].asDouble());
    CHECK(s["sflow_host_disk_partition_max_used_ratio" + hl + "}"] ==
          doctest::Approx(host["host_disk_io"]["part_max_used"].asDouble() / 100));
    std::string vl = "{host_ip=\"10.0.0.1\",domain=\"vm-001-02\",uuid=\"" +
                     vm["host_descr"]["uuid"].asString() + "\"}";
    CHECK(s["libvirt_domain_info_cpu_time_seconds_total" + vl] ==
          doctest::Approx(vm["virt_cpu"]["vcpu_cpu_time"].asDouble() / 1000).epsilon(1e-12));
    CHECK(s["libvirt_domain_info_maximum_memory_bytes" + vl] == vm["virt_memory"]["vmem_max_memory"].asDouble());
    CHECK(s["libvirt_domain_info_vstate" + vl] == 1);
    // three VMs of host 1 and none of host 2; no hostname label on a VM series
    int vms = 0;
    for (auto& [k, v] : s)
        if (k.rfind("libvirt_domain_info_virtual_cpus{", 0) == 0) {
            ++vms;
            CHECK(k.find("hostname=") == std::string::npos);
            CHECK(k.find("vm-001-") != std::string::npos);
        }
    CHECK(vms == 3);
    CHECK(text.find(" # ") == std::string::npos);
}

TEST_CASE("OpenMetrics: counters are typed without _total, samples keep it, and # EOF ends it") {
    Fixture f;
    std::string text = f.exporter.target_metrics("10.0.0.2", true, f.last_ms + 1000);
    CHECK(text.find("# TYPE node_cpu_seconds counter\n") != std::string::npos);
    CHECK(text.find("\nnode_cpu_seconds_total{") != std::string::npos);
    CHECK(text.find("# TYPE node_load1 gauge\n") != std::string::npos);
    CHECK(text.size() > 6);
    CHECK(text.substr(text.size() - 6) == "# EOF\n");
    std::string own = f.exporter.collector_metrics(true, f.last_ms + 1000);
    CHECK(own.find("# TYPE sflow_monitor_api_request_duration_seconds histogram\n") != std::string::npos);
    CHECK(own.substr(own.size() - 6) == "# EOF\n");

    MetricsReply r = f.exporter.get("/metrics", "target=10.0.0.2", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5", "", f.last_ms + 1000);
    CHECK(r.content_type == "application/openmetrics-text; version=1.0.0; charset=utf-8");
    r = f.exporter.get("/metrics", "target=10.0.0.2", "", "", f.last_ms + 1000);
    CHECK(r.content_type == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(r.body.find("# EOF") == std::string::npos);
}

TEST_CASE("a host or VM silent for 3 polling intervals is left out; a silent agent gets an empty exposition") {
    GenOptions o = fleet(1, 1, 3);
    o.interval_ms = 5000;
    Fixture f(o);
    CHECK(!f.exporter.target_metrics("10.0.0.1", false, f.last_ms + 15000).empty());
    CHECK(f.exporter.target_metrics("10.0.0.1", false, f.last_ms + 15001).empty());
    MetricsReply r = f.exporter.get("/metrics", "target=10.0.0.1", "", "", f.last_ms + 60000);
    CHECK(r.status == 200);
    CHECK(r.body.empty());
    CHECK(f.exporter.get("/metrics", "target=192.0.2.99", "", "", f.last_ms).body.empty());
    // ... while the collector's own metrics still say when it was last heard from
    auto own = samples(f.exporter.collector_metrics(false, f.last_ms + 60000));
    CHECK(own["sflow_monitor_agent_last_seen_timestamp_seconds{agent=\"10.0.0.1\"}"] ==
          doctest::Approx(double(f.last_ms) / 1000).epsilon(1e-12));
    // beyond retention it is gone
    own = samples(f.exporter.collector_metrics(false, f.last_ms + 8 * 86400000LL));
    CHECK(!own.count("sflow_monitor_agent_last_seen_timestamp_seconds{agent=\"10.0.0.1\"}"));
}

TEST_CASE("a VM that moved is shown under its new hypervisor only") {
    GenOptions o = fleet(2, 1, 4);
    o.migrate = true;
    Fixture f(o);
    auto one = samples(f.exporter.target_metrics("10.0.0.1", false, f.last_ms + 1000));
    auto two = samples(f.exporter.target_metrics("10.0.0.2", false, f.last_ms + 1000));
    auto has = [](const std::map<std::string, double>& s, const std::string& vm) {
        for (auto& [k, v] : s)
            if (k.rfind("libvirt_domain_info_vstate{", 0) == 0 && k.find("domain=\"" + vm + "\"") != std::string::npos)
                return true;
        return false;
    };
    CHECK(!has(one, "vm-001-01"));
    CHECK(has(two, "vm-001-01"));
    CHECK(has(two, "vm-002-01"));
}

TEST_CASE("target: IPv6 percent-encoded, and a bad target is HTTP 400") {
    GenOptions o = fleet(1, 0, 2);
    o.agent_base = *Address::parse("2001:db8::1");
    Fixture f(o);
    MetricsReply r = f.exporter.get("/metrics", "target=2001%3Adb8%3A%3A1", "", "", f.last_ms + 1000);
    CHECK(r.status == 200);
    CHECK(r.body.find("host_ip=\"2001:db8::1\"") != std::string::npos);
    CHECK(f.exporter.get("/metrics", "target=kvm-001", "", "", f.last_ms).status == 400);
    CHECK(f.exporter.get("/metrics", "target=", "", "", f.last_ms).status == 400);
    CHECK(f.exporter.get("/metrics", "x=1&target=2001:db8::1", "", "", f.last_ms + 1000).body == r.body);
}

TEST_CASE("the collector's own metrics: counters from Stats and the store, per-agent gaps, per-method requests") {
    Fixture f;
    f.stats.kernel_drops += 7;
    f.stats.receiver_pauses += 2;
    Api api(ApiOptions{}, f.store, f.stats, &f.requests);
    api.handle(R"({"jsonrpc":"2.0","method":"host.description","id":1})", f.last_ms);
    api.handle(R"([{"jsonrpc":"2.0","method":"host.cpu","id":1},{"jsonrpc":"2.0","method":"nope","id":2}])",
               f.last_ms);
    std::string text = f.exporter.collector_metrics(false, f.last_ms + 1000);
    auto s = samples(text);
    CHECK(s["sflow_monitor_datagrams_received_total"] == 0);  // counted by the ingest, not note_datagram
    CHECK(s["sflow_monitor_kernel_drops_total"] == 7);
    f.stats.datagrams_rejected.agent_not_source += 3;
    CHECK(samples(f.exporter.collector_metrics(false, f.last_ms))
              ["sflow_monitor_datagrams_rejected_total{reason=\"agent_not_source\"}"] == 3);
    CHECK(s["sflow_monitor_receiver_pauses_total"] == 2);
    CHECK(s["sflow_monitor_store_samples"] == double(f.store.stats().samples));
    CHECK(s["sflow_monitor_agent_datagrams_total{agent=\"10.0.0.3\"}"] == 10);
    CHECK(s["sflow_monitor_agent_lost_datagrams_total{agent=\"10.0.0.3\",sub_agent=\"100001\"}"] == 0);
    CHECK(s["sflow_monitor_api_requests_total{method=\"host.description\"}"] == 1);
    CHECK(s["sflow_monitor_api_requests_total{method=\"host.cpu\"}"] == 1);
    CHECK(s["sflow_monitor_api_errors_total{method=\"host.cpu\"}"] == 1);  // ip missing
    CHECK(s["sflow_monitor_api_requests_total{method=\"other\"}"] == 1);
    CHECK(s["sflow_monitor_api_request_duration_seconds_count{method=\"host.description\"}"] == 1);
    CHECK(s["sflow_monitor_api_request_duration_seconds_bucket{method=\"host.description\",le=\"+Inf\"}"] == 1);
    CHECK(s["sflow_monitor_build_info{version=\"" + std::string(kVersion) + "\"}"] == 1);
    CHECK(s["sflow_monitor_store_compacted_samples_total"] == 0);
    CHECK(s.count("sflow_monitor_store_last_compaction_timestamp_seconds") == 0);  // no pass yet
    // a compaction pass over everything: its figures, and now every collector family
    while (!f.store.compact_step(f.last_ms + 1).done) {
    }
    StoreStats st = f.store.stats();
    REQUIRE(st.compacted_samples > 0);
    text = f.exporter.collector_metrics(false, f.last_ms + 1000);
    s = samples(text);
    CHECK(s["sflow_monitor_store_compacted_samples_total"] == double(st.compacted_samples));
    CHECK(s["sflow_monitor_store_compaction_runs_total"] == double(st.compaction_runs));
    CHECK(s["sflow_monitor_store_last_compaction_timestamp_seconds"] == double(st.last_compaction_ms) / 1000.0);
    CHECK(s["sflow_monitor_store_rollup_chunks{resolution=\"5m\"}"] == double(st.rollup_chunks[0]));
    CHECK(s["sflow_monitor_store_rollup_chunks{resolution=\"1h\"}"] == double(st.rollup_chunks[1]));
    CHECK(typed_families(text) == families_where([](MetricScope sc) { return sc == MetricScope::collector; }));
}

TEST_CASE("/prometheus/targets: the collector, then one group per hypervisor, at the address asked") {
    Fixture f;
    MetricsReply r = f.exporter.get("/prometheus/targets", "", "", "collector.example.net:8080", f.last_ms);
    CHECK(r.status == 200);
    CHECK(r.content_type == "application/json");
    Json::Value v = sfm::test::parse_json(r.body);
    REQUIRE(v.size() == 4);
    CHECK(v[0]["labels"]["job"] == "sflow-monitor");
    CHECK(!v[0]["labels"].isMember("__param_target"));
    for (Json::ArrayIndex i = 0; i < v.size(); ++i) {
        CHECK(v[i]["targets"].size() == 1);
        CHECK(v[i]["targets"][0] == "collector.example.net:8080");
        CHECK(v[i]["labels"]["__metrics_path__"] == "/metrics");
    }
    CHECK(v[1]["labels"]["__param_target"] == "10.0.0.1");
    CHECK(v[1]["labels"]["instance"] == "10.0.0.1");
    CHECK(v[1]["labels"]["__meta_sflow_hostname"] == "kvm-001");
    CHECK(v[3]["labels"]["__param_target"] == "10.0.0.3");
}

TEST_CASE("label values are escaped and valid UTF-8") {
    TempDir dir;
    Store store({dir / "db", 16 << 20, 7 * 86400000LL});
    Stats stats;
    Exporter ex(ExporterOptions{}, store, stats);
    DatagramBuilder b(*Address::parse("192.0.2.1"), 1, 1, 1000);
    HostDescr d;
    d.hostname.value = "a\"b\\c\nd\xff";
    HostMemory m;
    m.mem_total = 42;
    b.counter_sample(1, 2, 1).add(m).add(d);
    std::string bytes = b.build();
    std::vector<StoredSample> out;
    samples_to_store(decode_datagram(bytes), 5000, out, stats);
    store.write(out);
    std::string text = ex.target_metrics("192.0.2.1", false, 6000);
    CHECK(text.find("node_memory_MemTotal_bytes{host_ip=\"192.0.2.1\",hostname=\"a\\\"b\\\\c\\nd\xEF\xBF\xBD\"} 42\n") !=
          std::string::npos);
}

TEST_CASE("RequestStats: buckets are cumulative, unknown names count as other") {
    RequestStats r({"a", "b"});
    CHECK(r.index("a") == 0);
    CHECK(r.index("zzz") == 2);
    r.observe(0, 0.0001, false);
    r.observe(0, 0.003, true);
    r.observe(0, 100, false);
    auto s = r.snapshot();
    REQUIRE(s.size() == 3);
    CHECK(s[2].method == "other");
    CHECK(s[0].requests == 3);
    CHECK(s[0].errors == 1);
    CHECK(s[0].buckets[0] == 1);                                 // <= 0.0005
    CHECK(s[0].buckets[3] == 2);                                 // <= 0.005
    CHECK(s[0].buckets[RequestStats::kBuckets.size() - 1] == 2);  // <= 2.5: the 100 s one is only in +Inf
    CHECK(s[0].seconds_sum == doctest::Approx(100.0031));
}

TEST_CASE("a VM's move shows in the next scrape: the hypervisors' VMs come from the current state") {
    Fixture f(fleet(2, 1, 4));
    int64_t now = f.last_ms + 1000;
    auto domains = [&](const char* target) {
        std::set<std::string> out;
        std::string text = f.exporter.get("/metrics", std::string("target=") + target, "", "h", now).body;
        for (size_t at = text.find("domain=\""); at != std::string::npos; at = text.find("domain=\"", at + 1))
            out.insert(text.substr(at + 8, text.find('"', at + 8) - at - 8));
        return out;
    };
    CHECK(domains("10.0.0.1") == std::set<std::string>{"vm-001-01"});
    CHECK(domains("10.0.0.2") == std::set<std::string>{"vm-002-01"});
    // vm-001-01 reported by the second hypervisor, a moment later: scraped at the same time
    VirtCpu cpu;
    cpu.vcpu_state = 1;
    HostDescr d;
    d.hostname.value = "vm-001-01";
    DatagramBuilder b(*Address::parse("10.0.0.2"), kGenSubAgent, 99, 99000);
    b.counter_sample(99, 3, 100009).add(cpu).add(d);
    std::vector<StoredSample> out;
    samples_to_store(decode_datagram(b.build()), f.last_ms + 500, out, f.stats);
    f.store.write(out);
    CHECK(domains("10.0.0.1").empty());
    CHECK(domains("10.0.0.2") == std::set<std::string>{"vm-001-01", "vm-002-01"});
}
