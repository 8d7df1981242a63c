// Stepped series (`step`): one record per non-empty step aligned on the epoch, with the
// step's last sample and its count; with derive, rates from the sample before the step to its
// last, and the extremes of the per-interval values. Expected values computed by hand below.
#include <doctest/doctest.h>

#include "sflow_monitor/api.h"
#include "sflow_monitor/stats.h"
#include "sflow_monitor/store.h"
#include "test_util.h"
#include "testkit/encode.h"

using namespace sfm;
using sfm::test::parse_json;
using sfm::test::TempDir;

namespace {

// One host, 10.0.0.1, polled every 10 s: sample i (1..9) at 10,000·i ms.
//   per interval   i-1→i:  2    3    4    5    6    7    8    9
//   user +                 10   30   50   20   20   90   60   40
//   idle +                 90   70   50   80   80   10   40   60   → cpu_util_pct = user share
//   contexts +            100  200  300  400  500  600  700  800   → per s: 10 … 80
const uint32_t kUser[] = {0, 1000, 1010, 1040, 1090, 1110, 1130, 1220, 1280, 1320};
const uint32_t kIdle[] = {0, 5000, 5090, 5160, 5210, 5290, 5370, 5380, 5420, 5480};
const uint32_t kContexts[] = {0, 0, 100, 300, 600, 1000, 1500, 2100, 2800, 3600};

StoredSample sample(int64_t ts, uint32_t seq, uint32_t uptime, uint32_t user, uint32_t idle, uint32_t contexts) {
    StoredSample s;
    s.kind = Entity::host;
    s.name = std::string(Address::parse("10.0.0.1")->raw());
    s.meta.ts_ms = ts;
    s.meta.agent = *Address::parse("10.0.0.1");
    s.meta.sample_sequence = seq;
    s.meta.uptime = uptime;
    s.meta.source_class = 2;
    s.meta.source_index = 1;
    HostCpu cpu;
    cpu.cpu_user = user;
    cpu.cpu_idle = idle;
    cpu.cpu_contexts = contexts;
    XdrWriter(s.records_raw).u32(1);
    encode_record(s.records_raw, cpu);
    return s;
}

StoredSample poll(int i) {  // the i-th poll of the table above
    return sample(10000 * i, uint32_t(i), uint32_t(10000 * i), kUser[i], kIdle[i], kContexts[i]);
}

struct Fixture : sfm::test::TestStore {
    Api api{ApiOptions{}, store, stats};
    explicit Fixture(std::vector<int> polls = {1, 2, 3, 4, 5, 6, 7, 8, 9}) : TestStore(3650 * sfm::test::kDayMs) {
        std::vector<StoredSample> b;
        for (int i : polls) b.push_back(poll(i));
        store.write(b);
    }
    Json::Value call(const std::string& params, const char* method = "host.cpu") {
        std::string body = std::string(R"({"jsonrpc":"2.0","method":")") + method +
                           R"(","params":{"ip":"10.0.0.1",)" + params + R"(},"id":1})";
        return parse_json(api.handle(body, 1'000'000'000).body);
    }
    Json::Value result(const std::string& params) {
        Json::Value v = call(params);
        REQUIRE_MESSAGE(v.isMember("result"), v.toStyledString());
        return v["result"];
    }
};

std::vector<std::string> flags(const Json::Value& r) {
    std::vector<std::string> out;
    for (const auto& f : r["flags"]) out.push_back(f.asString());
    return out;
}

}  // namespace

TEST_CASE("step: one record per step aligned on the epoch, the step's last sample and its count") {
    Fixture f;
    Json::Value r = f.result(R"("from":1,"to":90000,"step":30000)");
    REQUIRE(r.size() == 3);
    for (int k = 0; k < 3; ++k) {
        INFO("step " << k);
        CHECK(r[k]["timestamp"].asInt64() == 30000 * (k + 1));  // (k·30 s, (k+1)·30 s]: polls 3k+1..3k+3
        CHECK(r[k]["samples"].asUInt() == 3);
        CHECK(r[k]["cpu_user"].asUInt() == kUser[3 * k + 3]);
        CHECK(r[k]["host_ip"].asString() == "10.0.0.1");
        CHECK_FALSE(r[k].isMember("interval_ms"));  // no derive: no rates
    }
    // a duration string is the same step; a step of 1 h holds everything in one record
    CHECK(f.result(R"("from":1,"to":90000,"step":"30s")") == r);
    Json::Value hour = f.result(R"("from":1,"to":90000,"step":"1h")");
    REQUIRE(hour.size() == 1);
    CHECK(hour[0]["samples"].asUInt() == 9);
    CHECK(hour[0]["timestamp"].asInt64() == 90000);
    // a range starting inside a step counts only the samples in the range
    Json::Value clipped = f.result(R"("from":40001,"to":90000,"step":30000)");
    REQUIRE(clipped.size() == 2);
    CHECK(clipped[0]["samples"].asUInt() == 2);
    // limit: the oldest steps
    Json::Value limited = f.result(R"("from":1,"to":90000,"step":30000,"limit":2)");
    REQUIRE(limited.size() == 2);
    CHECK(limited[1]["timestamp"].asInt64() == 60000);
}

TEST_CASE("step with derive: rates across the step from the previous step's last sample, extremes within") {
    Fixture f;
    Json::Value r = f.result(R"("from":1,"to":90000,"step":30000,"derive":true)");
    REQUIRE(r.size() == 3);
    // step 0 (polls 1-3), no sample before it: from its first sample, poll 1 → 3:
    // user +40, idle +160: 20 %; contexts +300 in 20 s: 15/s
    CHECK(r[0]["interval_ms"].asInt64() == 20000);
    CHECK(r[0]["cpu_util_pct"].asDouble() == 20);
    CHECK(r[0]["cpu_contexts_per_s"].asDouble() == 15);
    CHECK(r[0]["cpu_util_pct_min"].asDouble() == 10);  // 2: 10 %, 3: 30 %
    CHECK(r[0]["cpu_util_pct_max"].asDouble() == 30);
    CHECK(r[0]["cpu_contexts_per_s_min"].asDouble() == 10);
    CHECK(r[0]["cpu_contexts_per_s_max"].asDouble() == 20);
    CHECK(flags(r[0]).empty());
    // step 1 (polls 4-6) from poll 3: user +90, idle +210: 30 %; contexts +1200 in 30 s: 40/s;
    // per interval 50, 20, 20 % and 30, 40, 50 /s
    CHECK(r[1]["interval_ms"].asInt64() == 30000);
    CHECK(r[1]["cpu_util_pct"].asDouble() == 30);
    CHECK(r[1]["cpu_contexts_per_s"].asDouble() == 40);
    CHECK(r[1]["cpu_util_pct_min"].asDouble() == 20);
    CHECK(r[1]["cpu_util_pct_max"].asDouble() == 50);
    CHECK(r[1]["cpu_contexts_per_s_min"].asDouble() == 30);
    CHECK(r[1]["cpu_contexts_per_s_max"].asDouble() == 50);
    CHECK(r[1]["cpu_idle_pct"].asDouble() == 70);
    CHECK(r[1]["cpu_idle_pct_min"].asDouble() == 50);
    CHECK(r[1]["cpu_idle_pct_max"].asDouble() == 80);
    // step 2 (polls 7-9) from poll 6: user +190, idle +110: 63.333 %; contexts +2100 in 30 s:
    // 70/s — not the mean of the intervals' 90, 60, 40 % (63.333 by chance equal: equal ticks)
    CHECK(r[2]["cpu_util_pct"].asDouble() == 63.333);
    CHECK(r[2]["cpu_contexts_per_s"].asDouble() == 70);
    CHECK(r[2]["cpu_util_pct_min"].asDouble() == 40);
    CHECK(r[2]["cpu_util_pct_max"].asDouble() == 90);
    CHECK(r[2]["cpu_contexts_per_s_min"].asDouble() == 60);
    CHECK(r[2]["cpu_contexts_per_s_max"].asDouble() == 80);
    CHECK(r[2]["samples"].asUInt() == 3);

    // a range starting after poll 3: step 1 still derives from poll 3, before the range
    Json::Value later = f.result(R"("from":30001,"to":90000,"step":30000,"derive":true)");
    REQUIRE(later.size() == 2);
    CHECK(later[0] == r[1]);
    CHECK(later[1] == r[2]);
    // a range starting inside step 1 (polls 5, 6 in it): from poll 4, the last before the range:
    // user +40, idle +160: 20 %; contexts +900 in 20 s: 45/s; both intervals 20 %
    Json::Value mid = f.result(R"("from":40001,"to":90000,"step":30000,"derive":true)");
    REQUIRE(mid.size() == 2);
    CHECK(mid[0]["samples"].asUInt() == 2);
    CHECK(mid[0]["interval_ms"].asInt64() == 20000);
    CHECK(mid[0]["cpu_util_pct"].asDouble() == 20);
    CHECK(mid[0]["cpu_contexts_per_s"].asDouble() == 45);
    CHECK(mid[0]["cpu_util_pct_min"].asDouble() == 20);
    CHECK(mid[0]["cpu_util_pct_max"].asDouble() == 20);
}

TEST_CASE("step with derive: empty steps are left out, the next derives across them with a gap flag") {
    Fixture f({1, 2, 8, 9});
    Json::Value r = f.result(R"("from":1,"to":90000,"step":30000,"derive":true)");
    REQUIRE(r.size() == 2);  // step 1 had no sample
    CHECK(r[0]["timestamp"].asInt64() == 20000);
    CHECK(r[0]["samples"].asUInt() == 2);
    CHECK(r[1]["timestamp"].asInt64() == 90000);
    // from poll 2 to 9: user +310, idle +390 (of 700): 44.286 %; contexts +3500 in 70 s: 50/s;
    // intervals 2→8 (user +270, idle +330: 45 %, 2700/60 s = 45/s) and 8→9 (40 %, 80/s)
    CHECK(r[1]["interval_ms"].asInt64() == 70000);
    CHECK(r[1]["cpu_util_pct"].asDouble() == 44.286);
    CHECK(r[1]["cpu_contexts_per_s"].asDouble() == 50);
    CHECK(r[1]["cpu_util_pct_min"].asDouble() == 40);
    CHECK(r[1]["cpu_util_pct_max"].asDouble() == 45);
    CHECK(r[1]["cpu_contexts_per_s_min"].asDouble() == 45);
    CHECK(r[1]["cpu_contexts_per_s_max"].asDouble() == 80);
    CHECK(flags(r[1]) == std::vector<std::string>{"gap"});  // sequence 2 → 8
}

TEST_CASE("step with derive: a reset inside a step gives it no rates, only the extremes of the honest intervals") {
    Fixture f({1, 2, 3, 4, 5, 6, 7});
    // the agent restarts before poll 8: uptime and sequence start again, counters from 0
    f.store.write({sample(80000, 1, 5000, 0, 0, 0), sample(90000, 2, 15000, 50, 50, 1000)});
    Json::Value r = f.result(R"("from":1,"to":90000,"step":30000,"derive":true)");
    REQUIRE(r.size() == 3);
    CHECK(flags(r[2]) == std::vector<std::string>{"reset"});
    CHECK_FALSE(r[2].isMember("cpu_util_pct"));  // 6 → 9 crosses the restart: no honest rate
    CHECK(r[2]["cpu_util_pct_min"].asDouble() == 50);  // 8 → 9: 50 %
    CHECK(r[2]["cpu_util_pct_max"].asDouble() == 90);  // 6 → 7: 90 %
    CHECK(r[2]["cpu_contexts_per_s_min"].asDouble() == 60);
    CHECK(r[2]["cpu_contexts_per_s_max"].asDouble() == 100);  // 8 → 9: 1000 in 10 s
    CHECK(r[1]["cpu_util_pct"].asDouble() == 30);  // the steps before are untouched
    CHECK(flags(r[1]).empty());
}

TEST_CASE("step: at most 2000 steps, whatever max-span; bad steps are -32602") {
    Fixture f;
    // 30 days in 1 h steps: 720 steps, over max-span (24 h) but allowed
    Json::Value ok = f.call(R"("from":1,"to":2592000000,"step":"1h")");
    REQUIRE(ok.isMember("result"));
    CHECK(ok["result"].size() == 1);
    Json::Value raw = f.call(R"("from":1,"to":2592000000)");
    CHECK(raw["error"]["code"].asInt() == -32602);
    CHECK(raw["error"]["data"]["param"].asString() == "to");
    // 2000 steps exactly pass, 2001 do not
    CHECK(f.call(R"("from":1,"to":2000000,"step":1000)").isMember("result"));
    Json::Value over = f.call(R"("from":1,"to":2001000,"step":1000)");
    CHECK(over["error"]["code"].asInt() == -32602);
    CHECK(over["error"]["data"]["param"].asString() == "step");
    for (const char* bad : {"0", "-5", "1.5", "\"soon\"", "\"5 m\"", "\"\"", "true"}) {
        INFO(bad);
        Json::Value e = f.call(std::string(R"("from":1,"to":90000,"step":)") + bad);
        CHECK(e["error"]["code"].asInt() == -32602);
        CHECK(e["error"]["data"]["param"].asString() == "step");
    }
}

TEST_CASE("step reads a long range in bounded chunks: samples sharing a millisecond across a chunk's end count once") {
    TempDir dir;
    sfm::test::CompactingStore store({dir / "db", 256 << 20, 3650 * 86400000LL});
    Stats stats;
    Api api(ApiOptions{}, store, stats);
    // 3,000 ms with 3 samples each (9,000: more than two chunks, which end inside a millisecond)
    std::vector<StoredSample> b;
    uint32_t seq = 0;
    for (int ms = 1; ms <= 3000; ++ms)
        for (int j = 0; j < 3; ++j, ++seq) b.push_back(sample(ms, seq + 1, seq * 10, seq, 0, 0));
    store.write(b);
    Json::Value r = parse_json(api.handle(
        R"({"jsonrpc":"2.0","method":"host.cpu","params":{"ip":"10.0.0.1","from":1,"to":3000,"step":1000},"id":1})",
        1'000'000'000).body)["result"];
    REQUIRE(r.size() == 3);
    for (int k = 0; k < 3; ++k) {
        CHECK(r[k]["samples"].asUInt() == 3000);
        CHECK(r[k]["timestamp"].asInt64() == 1000 * (k + 1));
        CHECK(r[k]["cpu_user"].asUInt() == 3000u * (k + 1) - 1);  // the last of the step's last ms
    }
}

TEST_CASE("a stepped query honours request-timeout and reply-limit as it reads") {
    TempDir dir;
    sfm::test::CompactingStore store({dir / "db", 64 << 20, 3650 * 86400000LL});
    std::vector<StoredSample> b;
    for (int i = 1; i <= 9; ++i) b.push_back(poll(i));
    store.write(b);
    Stats stats;
    const char* body =
        R"({"jsonrpc":"2.0","method":"host.cpu","params":{"ip":"10.0.0.1","from":1,"to":90000,"step":10000,"derive":true},"id":1})";
    ApiOptions late;
    late.request_timeout_ms = 0;
    Api timed_out(late, store, stats);
    CHECK(parse_json(timed_out.handle(body, 1'000'000'000).body)["error"]["code"].asInt() == -32002);
    ApiOptions small;
    small.reply_limit = 1000;  // nine steps of about 900 bytes each
    Api too_big(small, store, stats);
    CHECK(parse_json(too_big.handle(body, 1'000'000'000).body)["error"]["code"].asInt() == -32001);
    Api fine(ApiOptions{}, store, stats);
    CHECK(parse_json(fine.handle(body, 1'000'000'000).body)["result"].size() == 9);
}
