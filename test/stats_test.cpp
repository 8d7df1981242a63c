#include <doctest/doctest.h>

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
