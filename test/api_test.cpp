#include <doctest/doctest.h>
#include <json/json.h>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "sflow_monitor/api.h"
#include "sflow_monitor/ingest.h"
#include "sflow_monitor/methods.h"
#include "test_util.h"
#include "testkit/encode.h"

using namespace sfm;
using sfm::test::TempDir;
using sfm::test::TestStore;

namespace {

using sfm::test::parse_json;
Json::Value parse(const std::string& s) { return parse_json(s); }

std::vector<std::string> keys_in_order(const std::string& object_text) {
    // jsoncpp sorts member names, so read the order from the text itself
    std::vector<std::string> keys;
    int depth = 0;
    for (size_t i = 0; i < object_text.size(); ++i) {
        char c = object_text[i];
        if (c == '{' || c == '[') ++depth;
        else if (c == '}' || c == ']') --depth;
        else if (c == '"') {
            size_t end = object_text.find('"', i + 1);
            if (depth == 1 && object_text[end + 1] == ':') keys.push_back(object_text.substr(i + 1, end - i - 1));
            i = end;
        }
    }
    return keys;
}

// A store with one host (10.12.25.25) and one VM (web01 on it) sampled at 1000, 2000, ... ms.
struct Fixture : TestStore {
    Api api;
    int32_t part_max_used = 4975;  // host_disk_io's, in hundredths of a percent (-1: unknown)
    explicit Fixture(const ApiOptions& opts = {}) : api(opts, store, stats) {}

    void ingest(const std::string& agent, int64_t ts, uint32_t seq, const std::string& vm = "web01") {
        HostCpu cpu;
        cpu.cpu_load_one = 4.62f;
        cpu.cpu_load_five = 4.93f;
        cpu.cpu_load_fifteen = 5.07f;
        cpu.cpu_num = 40;
        cpu.cpu_user = 3417511050u;
        cpu.cpu_contexts = seq;
        cpu.cpu_steal = 5;
        HostDiskIo disk;
        disk.part_max_used.value = part_max_used;
        HostDescr descr;
        descr.hostname.value = "cloud25025";
        descr.machine_type.value = 3;
        descr.os_name.value = 2;
        descr.os_release.value = "3.10.0-123.8.1.el7.x86_64";
        HostDescr vdescr;
        vdescr.hostname.value = vm;
        VirtCpu vcpu;
        vcpu.vcpu_state = 1;
        vcpu.vcpu_cpu_count = 2;
        vcpu.vcpu_cpu_time = seq * 10;
        HostParent parent;
        parent.container_type = 2;
        parent.container_index = 1;
        DatagramBuilder b(*Address::parse(agent), 100001, seq, seq * 1000);
        b.counter_sample(seq, 3, 100001).add(vcpu).add(parent).add(vdescr);
        b.counter_sample(seq, 2, 1).add(disk).add(cpu).add(descr);
        std::string bytes = b.build();
        std::vector<StoredSample> out;
        samples_to_store(decode_datagram(bytes), ts, out, stats);
        store.write(out);
    }
    std::string call(const std::string& body, int64_t now = 1'000'000) {
        HttpReply r = api.handle(body, now);
        CHECK(r.status == 200);
        return r.body;
    }
    Json::Value rpc(const std::string& body, int64_t now = 1'000'000) { return parse(call(body, now)); }
};

}  // namespace

TEST_CASE("the spec's error examples get the spec's answers") {
    Fixture f;
    CHECK(f.call(R"({"jsonrpc": "2.0", "method": "foobar", "id": "1"})") ==
          R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"1"})");
    CHECK(f.call(R"({"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz])") ==
          R"({"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null})");
    CHECK(f.call(R"({"jsonrpc": "2.0", "method": "foobar", "params": "bar"})") ==
          R"({"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null})");
}

TEST_CASE("host.cpu returns the window's records with the spec's keys in the spec's order") {
    Fixture f;
    for (int i = 1; i <= 5; ++i) f.ingest("10.12.25.25", i * 1000, uint32_t(i));
    std::string body =
        f.call(R"({"jsonrpc":"2.0","method":"host.cpu","params":{"ip":"10.12.25.25","timestamp":4000},"id":7})");
    Json::Value v = parse(body);
    REQUIRE(v["result"].size() == 4);
    CHECK(v["result"][0]["timestamp"].asInt64() == 1000);
    CHECK(v["result"][3]["timestamp"].asInt64() == 4000);
    CHECK(v["result"][3]["cpu_contexts"].asUInt() == 4);
    CHECK(v["id"].asInt() == 7);
    size_t first = body.find("{\"host_ip\"");
    std::string one = body.substr(first, body.find('}', first) - first + 1);
    CHECK(keys_in_order(one) ==
          std::vector<std::string>{"host_ip", "timestamp", "cpu_load_one", "cpu_load_five",
                                   "cpu_load_fifteen", "cpu_proc_run", "cpu_proc_total", "cpu_num",
                                   "cpu_speed", "cpu_uptime", "cpu_user", "cpu_nice", "cpu_system",
                                   "cpu_idle", "cpu_waiting_io", "cpu_intr", "cpu_sintr",
                                   "cpu_interrupts", "cpu_contexts"});
    CHECK(one.find("\"cpu_load_one\":4.62,") != std::string::npos);
    CHECK(one.find("\"cpu_user\":3417511050,") != std::string::npos);
}

TEST_CASE("the window is timestamp - 600000 < t <= timestamp, and timestamp may be a digit string") {
    Fixture f;
    f.ingest("10.0.0.1", 1'000'000, 1);
    f.ingest("10.0.0.1", 1'600'000, 2);
    auto n = [&](const std::string& ts) {
        return f.rpc(R"({"jsonrpc":"2.0","method":"host.cpu","params":{"ip":"10.0.0.1","timestamp":)" + ts +
                     R"(},"id":1})")["result"].size();
    };
    CHECK(n("1600000") == 1);      // 1000000 is exactly 600000 before: excluded
    CHECK(n("1599999") == 1);
    CHECK(n("\"1599999\"") == 1);
    CHECK(n("999999") == 0);
    CHECK(n("2199999") == 1);
    CHECK(n("2200000") == 0);
    CHECK(n("\"0000000000000000000000001599999\"") == 1);  // leading zeros do not count as digits
    CHECK(n("\"0\"") == 0);
    auto error = [&](const std::string& ts) {
        return f.rpc(R"({"jsonrpc":"2.0","method":"host.cpu","params":{"ip":"10.0.0.1","timestamp":)" + ts +
                     R"(},"id":1})")["error"]["data"]["param"].asString();
    };
    CHECK(error("\"999999999999999999\"").empty());  // 18 digits
    CHECK(error("\"0001000000000000000000\"") == "timestamp");  // 19 significant digits
    CHECK(error("\"\"") == "timestamp");
    CHECK(error("\"00x1\"") == "timestamp");
    // without timestamp: now
    CHECK(f.rpc(R"({"jsonrpc":"2.0","method":"host.cpu","params":["10.0.0.1"],"id":1})", 1'600'000)["result"].size() == 1);
}

TEST_CASE("bad parameters get -32602 naming the parameter") {
    Fixture f;
    auto err = [&](const std::string& params) {
        return f.rpc(R"({"jsonrpc":"2.0","method":"host.cpu","params":)" + params + R"(,"id":1})")["error"];
    };
    Json::Value e = err("{}");
    CHECK(e["code"].asInt() == -32602);
    CHECK(e["data"]["param"].asString() == "ip");
    CHECK(e["data"]["reason"].asString() == "missing");
    CHECK(err(R"({"ip": 10})")["data"]["param"].asString() == "ip");
    CHECK(err(R"({"ip": "10.0.0.1", "timestamp": 1.5})")["data"]["param"].asString() == "timestamp");
    CHECK(err(R"({"ip": "10.0.0.1", "timestamp": "12a"})")["data"]["param"].asString() == "timestamp");
    CHECK(err(R"({"ip": "10.0.0.1", "timestamp": -5})")["code"].asInt() == -32602);
    CHECK(err(R"(["10.0.0.1", 1, 2, 3, 4, 5])")["code"].asInt() == -32602);
    CHECK(err(R"({"ip": "10.0.0.1", "bogus": 1})")["data"]["param"].asString() == "bogus");
    CHECK(f.rpc(R"({"jsonrpc":"2.0","method":"virt.cpu","params":{},"id":1})")["error"]["data"]["param"].asString() == "hostname");
}

TEST_CASE("an unknown or unparseable ip is an empty result, not an error") {
    Fixture f;
    f.ingest("10.0.0.1", 1000, 1);
    CHECK(f.rpc(R"({"jsonrpc":"2.0","method":"host.memory","params":{"ip":"10.9.9.9"},"id":1})")["result"] == Json::Value(Json::arrayValue));
    CHECK(f.rpc(R"({"jsonrpc":"2.0","method":"host.memory","params":{"ip":"nonsense"},"id":1})")["result"] == Json::Value(Json::arrayValue));
}

TEST_CASE("ids come back with their JSON type") {
    Fixture f;
    CHECK(f.call(R"({"jsonrpc":"2.0","method":"virt.description","id":"abc"})").find("\"id\":\"abc\"") != std::string::npos);
    CHECK(f.call(R"({"jsonrpc":"2.0","method":"virt.description","id":12345678901234})").find("\"id\":12345678901234}") != std::string::npos);
    CHECK(f.call(R"({"jsonrpc":"2.0","method":"virt.description","id":1.5})").find("\"id\":1.5}") != std::string::npos);
    CHECK(f.call(R"({"jsonrpc":"2.0","method":"virt.description","id":2.0})").find("\"id\":2.0}") != std::string::npos);
    CHECK(f.call(R"({"jsonrpc":"2.0","method":"virt.description","id":null})").find("\"id\":null}") != std::string::npos);
    CHECK(f.rpc(R"({"jsonrpc":"2.0","method":"virt.description","id":[1]})")["error"]["code"].asInt() == -32600);
    CHECK(f.rpc(R"({"jsonrpc":"2.0","method":"virt.description","id":{}})")["error"]["code"].asInt() == -32600);
}

TEST_CASE("number ids are echoed as sent, also where a double or 64 bits cannot hold them") {
    Fixture f;
    for (std::string id : {"123456789012345678901234567890", "-9223372036854775809", "18446744073709551616",
                           "1e2", "-0.0", "2.50", "0"}) {
        INFO(id);
        // a result, an error from the method, and both inside a batch
        CHECK(f.call(R"({"jsonrpc":"2.0","method":"virt.description","id":)" + id + "}")
                  .find("\"id\":" + id + "}") != std::string::npos);
        CHECK(f.call(R"({"jsonrpc":"2.0","method":"nope","id":)" + id + "}") ==
              R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":)" + id + "}");
        std::string batch = f.call(R"([{"jsonrpc":"2.0","method":"nope","id":7}, {"jsonrpc":"2.0","method":"host.description","id":)" +
                                   id + "}]");
        CHECK(batch.find("\"id\":7}") != std::string::npos);
        CHECK(batch.find("\"id\":" + id + "}]") != std::string::npos);
    }
}

TEST_CASE("notifications get HTTP 204 and batches answer every request that has an id") {
    Fixture f;
    HttpReply r = f.api.handle(R"({"jsonrpc":"2.0","method":"host.description"})", 1);
    CHECK(r.status == 204);
    CHECK(r.body.empty());
    r = f.api.handle(R"([{"jsonrpc":"2.0","method":"host.description"},{"jsonrpc":"2.0","method":"nope"}])", 1);
    CHECK(r.status == 204);
    Json::Value v = f.rpc(R"([{"jsonrpc":"2.0","method":"host.description"},
                              {"jsonrpc":"2.0","method":"host.description","id":1},
                              1,
                              {"jsonrpc":"2.0","method":"nope","id":2}])");
    REQUIRE(v.isArray());
    REQUIRE(v.size() == 3);
    CHECK(v[0]["id"].asInt() == 1);
    CHECK(v[0]["result"].isArray());
    CHECK(v[1]["error"]["code"].asInt() == -32600);
    CHECK(v[2]["error"]["code"].asInt() == -32601);
    Json::Value empty = f.rpc("[]");
    CHECK(empty["error"]["code"].asInt() == -32600);
}

TEST_CASE("invalid requests of every shape get -32600 and never crash") {
    Fixture f;
    for (const char* body : {R"(1)", R"("x")", R"(null)", R"({})", R"({"jsonrpc":"1.0","method":"host.description","id":1})",
                             R"({"jsonrpc":2.0,"method":"host.description","id":1})",
                             R"({"jsonrpc":"2.0","method":5,"id":1})", R"({"jsonrpc":"2.0","id":1})",
                             R"({"jsonrpc":"2.0","method":"host.cpu","params":5,"id":1})"}) {
        CAPTURE(body);
        CHECK(f.rpc(body)["error"]["code"].asInt() == -32600);
    }
    CHECK(f.rpc("")["error"]["code"].asInt() == -32700);
    CHECK(f.rpc("{\"jsonrpc\":\"2.0\"} trailing")["error"]["code"].asInt() == -32700);
    std::string deep(100000, '[');
    CHECK(f.rpc(deep)["error"]["code"].asInt() != 0);
    std::string nested = std::string(100, '[') + std::string(100, ']');
    CHECK(f.rpc(nested)["error"]["code"].asInt() == -32600);
}

TEST_CASE("host.description and virt.description describe what was seen, sorted") {
    Fixture f;
    f.ingest("10.0.0.2", 1000, 1, "web02");
    f.ingest("10.0.0.1", 1000, 1, "web01");
    f.ingest("10.0.0.3", 2000, 2, "web01");  // web01 migrated to 10.0.0.3
    std::string body = f.call(R"({"jsonrpc":"2.0","method":"host.description","id":1})");
    Json::Value h = parse(body)["result"];
    REQUIRE(h.size() == 3);
    CHECK(h[0]["host_ip"].asString() == "10.0.0.1");
    CHECK(h[0]["hostname"].asString() == "cloud25025");
    CHECK(h[0]["machine_type"].asString() == "x86_64");
    CHECK(h[0]["os_name"].asString() == "linux");
    CHECK(h[0]["os_release"].asString() == "3.10.0-123.8.1.el7.x86_64");
    size_t at = body.find("{\"host_ip\"");
    CHECK(keys_in_order(body.substr(at, body.find('}', at) - at + 1)) ==
          std::vector<std::string>{"host_ip", "hostname", "machine_type", "os_name", "os_release"});
    Json::Value v = f.rpc(R"({"jsonrpc":"2.0","method":"virt.description","id":1})")["result"];
    REQUIRE(v.size() == 2);
    CHECK(v[0]["hostname"].asString() == "web01");
    CHECK(v[0]["host_ip"].asString() == "10.0.0.3");
    CHECK(v[1]["host_ip"].asString() == "10.0.0.2");
    Json::Value c = f.rpc(R"({"jsonrpc":"2.0","method":"virt.cpu","params":["web01", 2000],"id":1})")["result"];
    REQUIRE(c.size() == 2);
    CHECK(c[0]["host_ip"].asString() == "10.0.0.1");
    CHECK(c[1]["host_ip"].asString() == "10.0.0.3");
    CHECK(c[1]["hostname"].asString() == "web01");
    CHECK(c[1]["vcpu_cpu_time"].asUInt() == 20);
}

TEST_CASE("virt.description is sorted by hostname, whatever the names' lengths") {
    Fixture f;
    uint32_t seq = 0;
    for (const char* vm : {"web01", "db", "ctl-long-name-0001", "a", "web1"}) {
        ++seq;
        f.ingest("10.0.0.1", 1000 + seq, seq, vm);
    }
    std::vector<std::string> names;
    Json::Value result = f.rpc(R"({"jsonrpc":"2.0","method":"virt.description","id":1})")["result"];
    for (const auto& v : result) names.push_back(v["hostname"].asString());
    std::string listed;
    for (const auto& n : names) listed += n + " ";
    INFO(listed);
    CHECK(names == std::vector<std::string>{"a", "ctl-long-name-0001", "db", "web01", "web1"});
}

TEST_CASE("a host whose newest samples carry no host_descr keeps the one it sent before") {
    Fixture f;
    f.ingest("10.0.0.1", 1000, 1);  // with host_descr (hostname cloud25025)
    auto cpu_only = [&](int64_t ts, uint32_t seq, const std::string& hostname = "") {
        HostCpu cpu;
        cpu.cpu_user = seq;
        DatagramBuilder b(*Address::parse("10.0.0.1"), 100001, seq, seq * 1000);
        auto& sample = b.counter_sample(seq, 2, 1).add(cpu);
        if (!hostname.empty()) {  // then a second source without it, newer in the store
            HostDescr d;
            d.hostname.value = hostname;
            sample.add(d);
            b.counter_sample(seq, 2, 2).add(cpu);
        }
        std::vector<StoredSample> out;
        samples_to_store(decode_datagram(b.build()), ts, out, f.stats);
        f.store.write(out);
    };
    for (uint32_t i = 2; i <= 10; ++i) cpu_only(1000 + 30000 * i, i);
    auto described = [&] {
        Json::Value h = f.rpc(R"({"jsonrpc":"2.0","method":"host.description","id":1})")["result"];
        REQUIRE(h.size() == 1);
        return h[0];
    };
    CHECK(described()["hostname"].asString() == "cloud25025");
    CHECK(described()["os_release"].asString() == "3.10.0-123.8.1.el7.x86_64");
    Json::Value c = f.rpc(R"({"jsonrpc":"2.0","method":"cluster.status","id":1})", 400'000)["result"];
    CHECK(c["hosts"][0]["hostname"].asString() == "cloud25025");
    // a newer host_descr wins over the older one, also from another source of the same agent
    cpu_only(500'000, 11, "renamed");
    cpu_only(600'000, 12);
    CHECK(described()["hostname"].asString() == "renamed");
    // beyond the look-back, nothing is known, as for a host that never sent one
    for (uint32_t i = 0; i <= kDescrLookback; ++i) cpu_only(700'000 + 30000 * int64_t(i), 13 + i);
    CHECK(described()["hostname"].asString() == "");
    CHECK(described()["machine_type"].asString() == "unknown");
}

TEST_CASE("part_max_used is written as a percentage with two decimals") {
    Fixture f;
    f.ingest("10.0.0.1", 1000, 1);
    std::string body = f.call(R"({"jsonrpc":"2.0","method":"host.disk","params":{"ip":"10.0.0.1","timestamp":1000},"id":1})");
    CHECK(body.find("\"part_max_used\":49.75,") != std::string::npos);
}

TEST_CASE("host.disk shows sFlow's unknown part_max_used (-1) as -0.01, as the original service did; cluster.status as null") {
    Fixture f;
    f.part_max_used = -1;
    f.ingest("10.0.0.1", 1000, 1);
    f.ingest("10.0.0.1", 2000, 2);
    for (const char* params : {R"("timestamp":2000)", R"("timestamp":2000,"derive":true)"}) {
        CAPTURE(params);
        std::string body = f.call(std::string(R"({"jsonrpc":"2.0","method":"host.disk","params":{"ip":"10.0.0.1",)") +
                                  params + R"(},"id":1})");
        Json::Value r = parse(body)["result"];
        REQUIRE(r.size() == 2);
        for (const Json::Value& rec : r) {
            CHECK(rec["part_max_used"].isDouble());  // a number: clients compare it with one
            CHECK(rec["part_max_used"].asDouble() == -0.01);
        }
        CHECK(body.find("\"part_max_used\":-0.01,") != std::string::npos);  // as the spec writes it
    }
    Json::Value host = f.rpc(R"({"jsonrpc":"2.0","method":"cluster.status","id":1})", 3000)["result"]["hosts"][0];
    CHECK(host.isMember("part_max_used_pct"));
    CHECK(host["part_max_used_pct"].isNull());  // the additions say "unknown" as null
}

TEST_CASE("a hostname that is not valid UTF-8 still comes out as valid JSON") {
    Fixture f;
    f.ingest("10.0.0.1", 1000, 1, std::string("bad\xff\x01\"name", 10));
    Json::Value v = f.rpc(R"({"jsonrpc":"2.0","method":"virt.description","id":1})");
    REQUIRE(v["result"].size() == 1);
    std::string shown = v["result"][0]["hostname"].asString();
    CHECK(shown == "bad\xEF\xBF\xBD\x01\"name");  // U+FFFD for the invalid byte
    // and the VM is found by the name shown, as a client sends it back
    Json::Value q;
    q["jsonrpc"] = "2.0";
    q["method"] = "virt.cpu";
    q["params"]["hostname"] = shown;
    q["params"]["timestamp"] = 1000;
    q["id"] = 1;
    Json::Value c = f.rpc(Json::FastWriter().write(q));
    REQUIRE(c["result"].size() == 1);
    CHECK(c["result"][0]["hostname"].asString() == shown);
}

TEST_CASE("from/to ranges and limit select records; spans over the maximum are refused") {
    Fixture f;
    for (int i = 1; i <= 10; ++i) f.ingest("10.0.0.1", i * 1000, uint32_t(i));
    auto res = [&](const std::string& p) {
        return f.rpc(R"({"jsonrpc":"2.0","method":"host.cpu","params":{"ip":"10.0.0.1",)" + p + R"(},"id":1})");
    };
    CHECK(res(R"("from":2000,"to":5000)")["result"].size() == 4);
    CHECK(res(R"("from":2000,"to":5000,"limit":2)")["result"][1]["timestamp"].asInt64() == 3000);
    CHECK(res(R"("from":5000,"to":2000)")["error"]["code"].asInt() == -32602);
    CHECK(res(R"("from":0,"to":100000000)")["error"]["data"]["param"].asString() == "to");
    CHECK(res(R"("from":2000,"timestamp":5000)")["error"]["code"].asInt() == -32602);
    CHECK(res(R"("limit":0)")["error"]["data"]["param"].asString() == "limit");
}

TEST_CASE("round trip: rpc.discover lists every method of the table it is built from") {
    Fixture f;
    Json::Value d = f.rpc(R"({"jsonrpc":"2.0","method":"rpc.discover","id":1})")["result"];
    CHECK(d["openrpc"].asString() == "1.2.6");
    std::set<std::string> names;
    for (auto& m : d["methods"]) names.insert(m["name"].asString());
    for (auto& m : method_table()) CHECK(names.count(m.name) == 1);
    // independently: the methods ../shared/spec/api.md and docs/api.md name, written out here
    for (const char* m : {"host.description", "host.cpu", "host.memory", "host.disk", "host.net",
                          "host.node", "virt.description", "virt.cpu", "virt.memory", "virt.disk",
                          "virt.net", "cluster.status", "host.vms", "virt.history", "collector.stats"})
        CHECK_MESSAGE(names.count(m) == 1, m);
    std::map<std::string, std::vector<std::string>> params;
    for (auto& m : d["methods"])
        for (auto& p : m["params"]) params[m["name"].asString()].push_back(p["name"].asString());
    REQUIRE(params["host.cpu"].size() >= 2);
    CHECK(params["host.cpu"][0] == "ip");  // positional order, as the spec lists them
    CHECK(params["host.cpu"][1] == "timestamp");
    REQUIRE(params["virt.cpu"].size() >= 2);
    CHECK(params["virt.cpu"][0] == "hostname");
    CHECK(params["virt.cpu"][1] == "timestamp");
}

TEST_CASE("a body over the limit is refused with a JSON-RPC error") {
    Fixture f;
    std::string big(70000, ' ');
    Json::Value v = parse(f.api.handle(big, 1).body);
    CHECK(v["error"]["code"].asInt() == -32600);
}

TEST_CASE("a body that is not JSON is -32700 at any depth, also where jsoncpp alone is lenient") {
    Fixture f;
    const int deep = ApiOptions{}.max_depth + 6;
    auto code = [&](const std::string& body) { return f.rpc(body)["error"]["code"].asInt(); };
    auto wrapped = [&](const std::string& x, const std::string& open, const std::string& close) {
        std::string s;
        for (int i = 0; i < deep; ++i) s += open;
        s += x;
        for (int i = 0; i < deep; ++i) s += close;
        return s;
    };
    std::vector<std::string> json = {"1", "-0", "0.5e-3", "1E+5", "[]", "{}", "true", "false", "null",
                                     R"("a")", R"("\u00e9\n\"\\\/\b\f\r\t")", R"("\ud83d\ude00")",
                                     R"([1,{"b":[null]}])", " [ 1 , { \"b\" : null } ] ", R"({"a":1,"a":2})",
                                     "\"\xc3\xbc\"", "\r\n\t 7 \r\n\t"};
    std::vector<std::string> not_json = {"01", "-01", "1.", ".5", "-", "1e", "1e+", "+1", "tru", "nul", "True",
                                         R"("\x")", R"("\u00g9")", R"("\u00e)", "\"tab\there\"",
                                         "\"new\nline\"", std::string("\"nul\0\"", 6), R"("unterminated)",
                                         R"("\")", "[1,]", "[,1]", "[1 2]", "{\"a\"}", "{a:1}", R"({"a":1,})",
                                         R"({"a":1 "b":2})", R"({"a" 1})", R"({1:2})", "[1]]", R"({"a":[})",
                                         "'a'", "1 2", "NaN", "Infinity", "[1", "{", "{}\xef\xbb\xbf"};
    auto shapes = {std::pair<std::string, std::string>{"[", "]"}, {"{\"k\":", "}"}, {"[1,{\"k\":", "}]"}};
    for (const auto& x : not_json) {
        INFO(x);
        CHECK(code(x) == -32700);
        for (auto [open, close] : shapes) CHECK(code(wrapped(x, open, close)) == -32700);
    }
    for (const auto& x : json) {
        INFO(x);
        CHECK(f.call(x).find("-32700") == std::string::npos);
        for (auto [open, close] : shapes) {
            Json::Value e = f.rpc(wrapped(x, open, close))["error"];
            CHECK(e["code"].asInt() == -32600);
            CHECK(e["data"]["reason"].asString() == "nested deeper than 64");
        }
    }
    // a request that jsoncpp would read with its lenient number is refused as not JSON
    CHECK(code(R"({"jsonrpc":"2.0","method":"host.description","id":01})") == -32700);
    CHECK(code(R"({"jsonrpc":"2.0","method":"host.cpu","params":{"ip":"10.0.0.1","timestamp":+5},"id":1})") == -32700);
    // a UTF-8 byte order mark may lead the body (RFC 8259 lets a parser skip it), nowhere else
    CHECK(f.rpc("\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"method\":\"host.description\",\"id\":3}")["id"].asInt() == 3);
    CHECK(code("\xef\xbb\xbf" + wrapped("1", "[", "]")) == -32600);
    // unclosed, or closed and followed by something
    CHECK(code(std::string(64, '[')) == -32700);
    CHECK(code(wrapped("1", "[", "]") + "x") == -32700);
    CHECK(code(wrapped("1", "[", "]") + "]") == -32700);
    CHECK(code(wrapped("1", "[", "]") + " \n") == -32600);
}

namespace {

// Every key Stats::fields names: the collector's counters and their groups.
struct CounterNames {
    std::set<std::string>& names;
    void operator()(const char* k, const Counter&, const char*) { names.insert(k); }
    template <class G>
    void group(const char* k, const G& g) {
        names.insert(k);
        G::fields(g, *this);
    }
};

}  // namespace

TEST_CASE("every key of collector.stats names its unit, or is a name, a count or a state") {
    Fixture f;
    for (int i = 1; i <= 3; ++i) f.ingest("10.12.25.25", i * 1000, uint32_t(i));
    f.stats.note_datagram(decode_datagram(DatagramBuilder(*Address::parse("10.12.25.25"), 100001, 1, 1000).build()), 3000);
    f.stats.started_ms = 1'000'000 - 86400000;  // old enough for every store figure
    f.stats.samples_stored = 6;
    Json::Value s = f.rpc(R"({"jsonrpc":"2.0","method":"collector.stats","id":1})")["result"];
    std::set<std::string> unitless = {
        "version", "store", "agents", "sub_agents",                            // containers, a name
        "agent", "sub_agent_id", "last_sequence",                              // names, as sent
        "samples", "entities", "purged_for_space", "datagrams", "lost_datagrams",
        "sequence_resets", "rollup_chunks_5m", "rollup_chunks_1h", "compacted_samples",
        "compaction_runs"};                                                    // counts
    CounterNames counters{unitless};
    Stats::fields(f.stats, counters);
    const char* const units[] = {"_pct", "_ms", "_s", "_days", "_per_s", "_per_day", "_bytes", "_ratio"};
    size_t keys = 0;
    std::function<void(const Json::Value&)> check = [&](const Json::Value& v) {
        if (v.isArray())
            for (const Json::Value& x : v) check(x);
        if (!v.isObject()) return;
        for (const std::string& k : v.getMemberNames()) {
            ++keys;
            bool ok = unitless.count(k) > 0;
            for (const char* u : units)
                ok = ok || (k.size() > std::strlen(u) && k.compare(k.size() - std::strlen(u), std::string::npos, u) == 0);
            CHECK_MESSAGE(ok, "key without a unit: " << k);
            check(v[k]);
        }
    };
    REQUIRE(s["agents"].size() == 1);
    REQUIRE(!s["store"]["raw_held_days"].isNull());  // every figure is there to be checked
    check(s);
    CHECK(keys > 40);
}

TEST_CASE("collector.stats says how many days of raw samples the store holds at today's rate") {
    Fixture f;
    for (int i = 1; i <= 20; ++i) f.ingest("10.12.25.25", i * 1000, uint32_t(i));
    const int64_t now = 10 * 86400000LL;
    auto store = [&] { return f.rpc(R"({"jsonrpc":"2.0","method":"collector.stats","id":1})", now)["result"]["store"]; };
    f.stats.started_ms = now - 30000;  // too young for a rate
    Json::Value s = store();
    CHECK(s["samples"].asUInt64() == 40);
    CHECK(s["sample_size_bytes"].asDouble() == std::round(s["used_bytes"].asDouble() / 40));
    CHECK(s["samples_per_day"].isNull());
    CHECK(s["raw_map_holds_days"].isNull());
    CHECK(s["raw_held_days"].isNull());

    f.stats.started_ms = now - 86400000;  // a day, 86,400 samples stored: the map is the limit
    f.stats.samples_stored = 86400;
    s = store();
    CHECK(s["samples_per_day"].asDouble() == 86400);
    double per_sample = s["used_bytes"].asDouble() / 40;
    double days = 0.8 * s["map_size_bytes"].asDouble() / per_sample / 86400;
    CHECK(days < 7);
    CHECK(std::abs(s["raw_map_holds_days"].asDouble() - days) <= 0.005);  // in hundredths of a day
    CHECK(s["raw_held_days"].asDouble() == s["raw_map_holds_days"].asDouble());

    f.stats.samples_stored = 864;  // a hundredth of that: retention (7 days) is the limit
    s = store();
    CHECK(std::abs(s["raw_map_holds_days"].asDouble() - days * 100) <= 0.005);
    CHECK(s["raw_held_days"].asDouble() == 7);
}

// ---- limits (limits.h): each refusal has its documented error and its counter -------------

namespace {
std::string cpu_call(int id, const std::string& extra = "") {
    return R"({"jsonrpc":"2.0","method":"host.cpu","params":{"ip":"10.0.0.1","timestamp":20000)" + extra +
           R"(},"id":)" + std::to_string(id) + "}";
}
}  // namespace

TEST_CASE("a batch longer than max-batch is refused whole with -32600 naming the limit") {
    ApiOptions o;
    o.max_batch = 3;
    Fixture f(o);
    f.ingest("10.0.0.1", 1000, 1);
    Json::Value ok = f.rpc("[" + cpu_call(1) + "," + cpu_call(2) + "," + cpu_call(3) + "]");
    REQUIRE(ok.isArray());
    CHECK(ok.size() == 3);
    Json::Value v = f.rpc("[" + cpu_call(1) + "," + cpu_call(2) + "," + cpu_call(3) + "," + cpu_call(4) + "]");
    REQUIRE(v.isObject());  // one error for the request, not one per call: nothing ran
    CHECK(v["error"]["code"].asInt() == -32600);
    CHECK(v["error"]["data"]["max_batch"].asInt() == 3);
    CHECK(v["id"].isNull());
    CHECK(f.stats.requests_refused.batch_too_long == 1);
    CHECK(f.rpc(R"({"jsonrpc":"2.0","method":"collector.stats","id":1})")["result"]["requests_refused"]
              ["batch_too_long"].asInt() == 1);
}

TEST_CASE("the call whose result would pass reply-limit gets -32001; earlier calls keep their answers") {
    ApiOptions o;
    o.reply_limit = 3000;
    Fixture f(o);
    for (int i = 1; i <= 10; ++i) f.ingest("10.0.0.1", i * 1000, uint32_t(i));
    std::string body = f.call("[" + cpu_call(1, R"(,"limit":1)") + "," + cpu_call(2) + "," +
                              cpu_call(3, R"(,"limit":1)") + "]");
    Json::Value v = parse(body);
    REQUIRE(v.size() == 3);
    CHECK(v[0]["result"].size() == 1);  // answered before the limit: kept
    CHECK(v[1]["error"]["code"].asInt() == -32001);
    CHECK(v[1]["error"]["message"].asString() == "Reply too large");
    CHECK(v[1]["error"]["data"]["reply_limit_bytes"].asInt() == 3000);
    Json::Value narrow = v[1]["error"]["data"]["narrow_with"];
    REQUIRE(narrow.size() == 4);
    CHECK(narrow[0].asString() == "from");
    CHECK(narrow[2].asString() == "limit");
    CHECK(narrow[3].asString() == "step");
    CHECK(v[2]["error"]["code"].asInt() == -32001);  // not run, though it would have fitted
    CHECK(v[1]["id"].asInt() == 2);
    CHECK(v[2]["id"].asInt() == 3);
    CHECK(body.size() < 3000 + 2 * 1000);  // results within the limit, plus two error objects
    CHECK(f.stats.requests_refused.reply_limit == 1);  // one request, counted once
    // the same call alone, narrowed, fits
    CHECK(f.rpc(cpu_call(4, R"(,"limit":2)"))["result"].size() == 2);
}

TEST_CASE("a call past request-timeout gets -32002, and so does the rest of its batch") {
    ApiOptions o;
    o.request_timeout_ms = 0;  // the deadline has passed when the first call starts
    Fixture f(o);
    f.ingest("10.0.0.1", 1000, 1);
    Json::Value v = f.rpc("[" + cpu_call(1) + "," + R"({"jsonrpc":"2.0","method":"cluster.status","id":2}])");
    REQUIRE(v.size() == 2);
    for (const Json::Value& r : v) {
        CHECK(r["error"]["code"].asInt() == -32002);
        CHECK(r["error"]["message"].asString() == "Request timeout");
        CHECK(r["error"]["data"]["request_timeout_ms"].asInt() == 0);
    }
    CHECK(f.stats.requests_refused.timeout == 1);
    // invalid params are still told as such: the limits apply to work, not to validation
    CHECK(f.rpc(R"({"jsonrpc":"2.0","method":"host.cpu","params":{},"id":3})")["error"]["code"].asInt() ==
          -32602);
}

TEST_CASE("a body over body-limit is counted as a refusal") {
    Fixture f;
    f.api.too_large("192.0.2.1");
    CHECK(f.stats.requests_refused.body_too_large == 1);
}

TEST_CASE("heavy calls are those that walk every host or VM, or a range longer than the window") {
    Fixture f;
    Store& st = f.store;
    ApiOptions o;
    Budget b(std::string(), SIZE_MAX, SteadyClock::time_point::max());
    auto heavy = [&](const char* method, Args a) {
        const MethodSpec* m = find_method(method);
        REQUIRE(m);
        return m->heavy && m->heavy(Call{st, f.stats, o, 10'000'000, a, b});
    };
    Args none;
    for (const char* m : {"cluster.status", "host.vms", "host.description", "virt.description"})
        CHECK(heavy(m, none));
    for (const char* m : {"host.cpu", "virt.memory", "collector.stats", "rpc.discover"}) CHECK(!heavy(m, none));
    Args day, ten_minutes;
    day.values["from"] = int64_t(10'000'000 - 86'400'000 / 2);
    ten_minutes.values["from"] = int64_t(10'000'000 - 600'000);
    CHECK(heavy("host.cpu", day));
    CHECK(!heavy("host.cpu", ten_minutes));
    CHECK(heavy("virt.history", none));  // max-span by default
    CHECK(!heavy("virt.history", ten_minutes));
}
