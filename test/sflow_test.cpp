#include <doctest/doctest.h>

#include "sflow_monitor/sflow.h"
#include "testkit/encode.h"

using namespace sfm;

TEST_CASE("a host_cpu record encoded by the field list decodes back to the same values") {
    HostCpu cpu;
    cpu.cpu_load_one = 4.62f;
    cpu.cpu_idle = 0xFFFFFFF0u;
    cpu.cpu_steal = 7;
    cpu.cpu_guest = 8;
    cpu.cpu_guest_nice = 9;
    HostCpu partial = cpu;  // steal only: 72 bytes, short of the optional group (80)
    partial.cpu_guest.reset();
    partial.cpu_guest_nice.reset();
    DatagramBuilder b(*Address::parse("10.0.0.1"), 100001, 9, 1234);
    b.counter_sample(1, 2, 1).add(cpu);
    b.counter_sample(2, 2, 1).add(partial);
    std::string bytes = b.build();
    Datagram d = decode_datagram(bytes);
    CHECK(d.agent.text() == "10.0.0.1");
    REQUIRE(d.samples.size() == 2);
    const HostCpu* got = d.samples[0].find<HostCpu>();
    REQUIRE(got);
    CHECK(got->cpu_load_one == 4.62f);
    CHECK(got->cpu_idle == 0xFFFFFFF0u);
    CHECK(got->cpu_steal == 7u);
    CHECK(got->cpu_guest == 8u);
    CHECK(got->cpu_guest_nice == 9u);
    const HostCpu* short_one = d.samples[1].find<HostCpu>();
    REQUIRE(short_one);
    CHECK(short_one->cpu_idle == 0xFFFFFFF0u);
    CHECK(!short_one->cpu_steal);
    CHECK(d.samples[1].errors.empty());
}
