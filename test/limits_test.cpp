#include <doctest/doctest.h>

#include "sflow_monitor/limits.h"

using namespace sfm;

TEST_CASE("Budget::check throws reply_limit past the size, timeout past the deadline") {
    std::string reply(100, 'x');
    Budget fits(reply, 100, SteadyClock::time_point::max());
    CHECK_NOTHROW(fits.check());
    reply.push_back('x');
    try {
        fits.check();
        FAIL("no refusal");
    } catch (const Refusal& r) {
        CHECK(r.reason == RefusalReason::reply_limit);
    }
    Budget late(reply, 1000, SteadyClock::now());
    CHECK(late.expired());
    try {
        late.check();
        FAIL("no refusal");
    } catch (const Refusal& r) {
        CHECK(r.reason == RefusalReason::timeout);
        CHECK(std::string(r.what()) == "timeout");
    }
}

TEST_CASE("HeavyGate runs at most its slots, lets a few wait, and refuses past that") {
    HeavyGate gate(1, 2);
    auto never = SteadyClock::time_point::max();
    CHECK(gate.enter(never) == HeavyGate::Entry::entered);
    // a second one would wait for the slot: with its deadline already past, it times out
    CHECK(gate.enter(SteadyClock::now()) == HeavyGate::Entry::timeout);
    gate.leave();
    CHECK(gate.enter(never) == HeavyGate::Entry::entered);
    gate.leave();

    HeavyGate full(1, 1);  // one worker may hold heavy calls: a second is refused at once
    CHECK(full.enter(never) == HeavyGate::Entry::entered);
    CHECK(full.enter(never) == HeavyGate::Entry::busy);
    full.leave();
    CHECK(full.enter(never) == HeavyGate::Entry::entered);
    full.leave();
}

TEST_CASE("RefusalLog admits a burst per window and then says how many it left out") {
    RefusalLog log(2, 1000);
    uint64_t skipped = 99;
    CHECK(log.admit(5000, skipped));
    CHECK(skipped == 0);
    CHECK(log.admit(5100, skipped));
    CHECK(!log.admit(5200, skipped));
    CHECK(!log.admit(5900, skipped));
    CHECK(log.admit(6000, skipped));  // a new window
    CHECK(skipped == 2);
    CHECK(log.admit(6001, skipped));
    CHECK(skipped == 0);
}
