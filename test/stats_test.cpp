#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "sflow_monitor/stats.h"

using namespace sfm;

TEST_CASE("sequence gaps are counted modulo 2^32; a jump back or far ahead is a reset") {
    Stats st;
    Datagram d;
    d.agent = *Address::parse("10.0.0.1");
    d.sub_agent_id = 7;
    auto seen = [&](uint32_t seq) {
        d.sequence = seq;
        st.note_datagram(d, 1000);
        return st.agents_snapshot()[d.agent].sub_agents[7];
    };
    CHECK(seen(10).lost == 0);
    CHECK(seen(11).lost == 0);
    CHECK(seen(14).lost == 2);          // 12 and 13
    CHECK(seen(0xFFFFFFFEu).resets == 1);  // far ahead: not 4 billion lost datagrams
    CHECK(seen(0xFFFFFFFFu).lost == 2);
    auto s = seen(2);                   // across the wrap: 0 and 1 lost
    CHECK(s.lost == 4);
    CHECK(s.resets == 1);
    s = seen(1);                        // back: the agent restarted
    CHECK(s.resets == 2);
    CHECK(s.lost == 4);
    CHECK(seen(0xFFFFFFFDu).resets == 3);
    s = seen(1);                        // the wrap inside the gap: FFFFFFFE, FFFFFFFF and 0 lost
    CHECK(s.lost == 7);
    CHECK(s.resets == 3);
    CHECK(st.agents_snapshot()[d.agent].datagrams == 9);
}

namespace {

// Walks Stats::fields as collector.stats does, recording "group.name" paths and help texts.
struct Names {
    std::vector<std::string> paths;
    std::string prefix;
    bool every_help = true;
    void operator()(const char* k, const Counter&, const char* help) {
        paths.push_back(prefix + k);
        every_help = every_help && help && *help;
    }
    template <class G>
    void group(const char* k, const G& g) {
        prefix = std::string(k) + ".";
        G::fields(g, *this);
        prefix.clear();
    }
};

struct Addresses {
    std::set<const char*> at;
    void operator()(const char*, const Counter& c, const char*) { at.insert(reinterpret_cast<const char*>(&c)); }
    template <class G>
    void group(const char*, const G& g) { G::fields(g, *this); }
};

}  // namespace

TEST_CASE("the counter list names each counter once, with what it counts") {
    Stats st;
    Names n;
    Stats::fields(st, n);
    CHECK(n.every_help);
    std::set<std::string> unique(n.paths.begin(), n.paths.end());
    CHECK(unique.size() == n.paths.size());
    // the names the issue found drifted are the API's, in the code too
    CHECK(unique.count("samples_purged") == 1);
    CHECK(unique.count("datagrams_rejected.agent_not_source") == 1);
    CHECK(unique.count("datagrams_rejected.malformed") == 1);
    // the counters lie side by side in the struct: the list covers them with no hole, so a
    // counter declared among them but forgotten in the list fails here
    Addresses a;
    Stats::fields(st, a);
    REQUIRE(!a.at.empty());
    CHECK(size_t(*a.at.rbegin() - *a.at.begin()) == (a.at.size() - 1) * sizeof(Counter));
    CHECK(a.at.size() == n.paths.size());
}

TEST_CASE("today's storing rate: since start when younger than a day, else over the last day") {
    Stats st;
    st.started_ms = 1'000'000;
    CHECK_FALSE(st.stored_per_day(1'000'000 + 59'999));  // under a minute: no rate yet
    st.samples_stored = 1000;
    st.mark_stored(1'000'000 + 3'600'000);
    // one hour since start, 1000 samples: 24,000 a day
    CHECK(*st.stored_per_day(1'000'000 + 3'600'000) == doctest::Approx(24000));
    // marks every 10 minutes for two days, 100 samples between marks (14,400 a day)
    int64_t t = 1'000'000 + 3'600'000;
    for (int i = 0; i < 288; ++i) {
        t += Stats::kRateMarkMs;
        st.samples_stored += 100;
        st.mark_stored(t);
    }
    CHECK(*st.stored_per_day(t) == doctest::Approx(14400));
    // a mark asked for sooner than kRateMarkMs after the last is not kept: same rate
    st.mark_stored(t + 1000);
    CHECK(*st.stored_per_day(t) == doctest::Approx(14400));
    // the last day quieter: 10 samples per 10 minutes for a day (1,440 a day)
    for (int i = 0; i < 144; ++i) {
        t += Stats::kRateMarkMs;
        st.samples_stored += 10;
        st.mark_stored(t);
    }
    CHECK(*st.stored_per_day(t) == doctest::Approx(1440));
}
