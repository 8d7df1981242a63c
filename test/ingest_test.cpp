#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sflow_monitor/ingest.h"
#include "test_util.h"
#include "testkit/encode.h"

using namespace sfm;
using sfm::test::TempDir;
using sfm::test::wait_for;

namespace {

std::string host_datagram(const std::string& agent, uint32_t seq) {
    HostCpu cpu;
    cpu.cpu_user = seq;
    HostDescr d;
    d.hostname.value = "h";
    return DatagramBuilder(*Address::parse(agent), 100001, seq, seq * 1000)
        .counter_sample(seq, 2, 1)
        .add(cpu)
        .add(d)
        .build();
}

void send_to(uint16_t port, const std::string& bytes) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    close(fd);
}

size_t stored(const Store& st, const std::string& agent) {
    size_t n = 0;
    st.scan(Entity::host, Address::parse(agent)->raw(), 0, INT64_MAX / 2,
            [&](const SampleMeta&, std::string_view) { ++n; });
    return n;
}

struct Running : sfm::test::TestStore {
    Ingest ingest;
    explicit Running(IngestOptions o) : ingest(adjust(o), store, stats) { ingest.start(); }
    static IngestOptions& adjust(IngestOptions& o) {
        o.listen = "127.0.0.1";
        o.port = 0;
        o.flush_ms = 50;
        return o;
    }
};

}  // namespace

TEST_CASE("datagrams sent over UDP become queryable samples, and a malformed one costs only itself") {
    Running r(IngestOptions{});
    send_to(r.ingest.port(), host_datagram("10.0.0.1", 1));
    std::string bad = host_datagram("10.0.0.1", 2);
    bad.resize(bad.size() - 7);  // truncated
    send_to(r.ingest.port(), bad);
    send_to(r.ingest.port(), std::string("\x00\x00\x00\x04 not sflow", 15));
    send_to(r.ingest.port(), host_datagram("10.0.0.1", 3));
    REQUIRE(wait_for([&] { return r.stats.datagrams_received == 4; }));
    REQUIRE(wait_for([&] { return stored(r.store, "10.0.0.1") == 2; }));
    CHECK(r.stats.datagrams_rejected.malformed == 1);
    CHECK(r.stats.datagrams_rejected.version == 1);
    CHECK(r.stats.datagrams_decoded == 2);
    CHECK(wait_for([&] { return r.stats.samples_stored == 2; }));  // counted just after the commit
    auto agents = r.stats.agents_snapshot();
    REQUIRE(agents.size() == 1);
    CHECK(agents.begin()->second.sub_agents[100001].lost == 1);  // sequence 2 never decoded
}

TEST_CASE("agents outside the allow-list are rejected and counted") {
    IngestOptions o;
    o.allow = {"10.1.0.0/16", "2001:db8::/32", "192.0.2.32/27"};  // whole bytes, and 3 bits of one
    Running r(o);
    const std::pair<const char*, bool> agents[] = {
        {"10.2.0.1", false}, {"10.1.200.7", true}, {"2001:db8::1", true}, {"2001:db9::1", false},
        {"192.0.2.31", false}, {"192.0.2.32", true}, {"192.0.2.63", true}, {"192.0.2.64", false}};
    for (auto [agent, _] : agents) send_to(r.ingest.port(), host_datagram(agent, 1));
    REQUIRE(wait_for([&] { return r.stats.datagrams_received == 8; }));
    REQUIRE(wait_for([&] { return r.stats.samples_stored + r.stats.datagrams_rejected.agent_not_allowed == 8; }));
    CHECK(r.stats.datagrams_rejected.agent_not_allowed == 4);
    for (auto [agent, allowed] : agents) {
        INFO(agent);
        CHECK(stored(r.store, agent) == (allowed ? 1 : 0));
    }
}

TEST_CASE("with require_source_match an agent address that is not the UDP source is rejected") {
    IngestOptions o;
    o.require_source_match = true;
    Running r(o);
    send_to(r.ingest.port(), host_datagram("10.9.9.9", 1));  // spoofed: sent from 127.0.0.1
    send_to(r.ingest.port(), host_datagram("127.0.0.1", 1));
    REQUIRE(wait_for([&] { return r.stats.datagrams_received == 2; }));
    REQUIRE(wait_for([&] { return r.stats.samples_stored == 1; }));
    CHECK(r.stats.datagrams_rejected.agent_not_source == 1);
    CHECK(stored(r.store, "127.0.0.1") == 1);
}

TEST_CASE("a bad allow-list entry is refused at start") {
    TempDir dir;
    Store store({dir / "db", 64 << 20, 1000});
    Stats stats;
    IngestOptions o;
    o.port = 0;
    o.listen = "127.0.0.1";
    o.allow = {"10.0.0.0/33"};
    Ingest in(o, store, stats);
    CHECK_THROWS(in.start());
}

TEST_CASE("VM samples are stored by hostname even before their host is seen; nameless ones are ignored") {
    HostDescr d;
    d.hostname.value = "vm-a";
    VirtMemory m;
    m.vmem_memory = 1 << 30;
    std::string bytes = DatagramBuilder(*Address::parse("10.0.0.5"), 100001, 1, 1)
                            .counter_sample(1, 3, 100007).add(m).add(d)
                            .counter_sample(1, 3, 100008).add(m)
                            .build();
    Stats stats;
    std::vector<StoredSample> out;
    samples_to_store(decode_datagram(bytes), 77, out, stats);
    REQUIRE(out.size() == 1);
    CHECK(out[0].kind == Entity::vm);
    CHECK(out[0].name == "vm-a");
    CHECK(out[0].meta.agent.text() == "10.0.0.5");
    CHECK(out[0].meta.source_index == 100007);
    CHECK(stats.samples_ignored == 1);
}

TEST_CASE("a VM without a hostname is named by its UUID, and one with the unknown (zero) UUID is ignored") {
    HostDescr by_uuid, unknown;
    for (size_t i = 0; i < 16; ++i) by_uuid.uuid.bytes[i] = uint8_t(i + 1);
    VirtMemory m;
    std::string bytes = DatagramBuilder(*Address::parse("10.0.0.5"), 100001, 1, 1)
                            .counter_sample(1, 3, 100001).add(m).add(unknown)
                            .counter_sample(1, 3, 100002).add(m).add(by_uuid)
                            .counter_sample(1, 3, 100003).add(m).add(unknown)
                            .build();
    Stats stats;
    std::vector<StoredSample> out;
    samples_to_store(decode_datagram(bytes), 77, out, stats);
    REQUIRE(out.size() == 1);  // the two unknown ones were not merged into one VM "00000000-…"
    CHECK(out[0].name == "01020304-0506-0708-090a-0b0c0d0e0f10");
    CHECK(stats.samples_ignored == 2);
}

TEST_CASE("stop returns and leaves every received sample in the store") {
    IngestOptions o;
    o.flush_ms = 60000;
    Running r(o);
    for (uint32_t i = 1; i <= 50; ++i) send_to(r.ingest.port(), host_datagram("10.0.0.1", i));
    REQUIRE(wait_for([&] { return r.stats.datagrams_received == 50; }));
    r.ingest.stop();
    CHECK(stored(r.store, "10.0.0.1") == 50);
}

TEST_CASE("with the backlog full the receiver waits for the writer and loses nothing it accepted") {
    IngestOptions o;
    o.backlog_bytes = 1;  // full as soon as one sample waits: every busy commit pauses the receiver
    Running r(o);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(r.ingest.port());
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Bursts of 200 (well within the 8 MiB receive buffer: the kernel drops none), each sent
    // once the one before is received, while the writer is most likely still committing it,
    // until the receiver has paused. (One burst of everything can be read whole by a receiver
    // that got no CPU while it was sent, and handed to an idle writer without a pause.)
    uint32_t n = 0;
    for (int burst = 0; burst < 100 && r.stats.receiver_pauses == 0; ++burst) {
        for (int k = 0; k < 200; ++k) {
            std::string d = host_datagram("10.0.0.1", ++n);
            sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
        }
        REQUIRE(wait_for([&] { return r.stats.datagrams_received == n; }));
    }
    close(fd);
    REQUIRE(wait_for([&] { return r.stats.samples_stored == n; }));
    CHECK(stored(r.store, "10.0.0.1") == n);
    CHECK(r.store.stats().samples == n);
    CHECK(r.stats.kernel_drops == 0);
    CHECK(r.stats.receiver_pauses > 0);
}

namespace {
// nice of each of this process's threads named `name` (/proc/self/task/*/stat, field 19)
std::vector<int> nice_of_threads(const std::string& name) {
    std::vector<int> out;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream comm(task.path() / "comm");
        std::string c;
        std::getline(comm, c);
        if (c != name) continue;
        std::ifstream st(task.path() / "stat");
        std::string line;
        std::getline(st, line);
        std::istringstream rest(line.substr(line.rfind(')') + 2));  // after "(comm) "
        std::string field;
        for (int i = 3; i <= 19 && rest >> field; ++i) {}
        out.push_back(std::stoi(field));
    }
    return out;
}
}  // namespace

TEST_CASE("the store writer runs 10 nice levels below the receiver, each thread under its own name") {
    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0);  // this thread's, which the threads inherit
    REQUIRE(errno == 0);
    int writer = std::min(base + 10, 19);
    CHECK(nice_of_threads("sfm-writer").empty());
    Running r(IngestOptions{});
    REQUIRE(wait_for([&] {
        return nice_of_threads("sfm-writer").size() == 1 && nice_of_threads("sfm-receiver").size() == 1;
    }));
    CHECK(nice_of_threads("sfm-writer") == std::vector<int>{writer});  // set before the name
    CHECK(nice_of_threads("sfm-receiver") == std::vector<int>{base});
    r.ingest.stop();
    CHECK(nice_of_threads("sfm-writer").empty());
}

TEST_CASE("a receiver or writer thread that throws is logged, reported through on_failure, and stop() returns") {
    for (const char* thread : {"receiver", "writer"}) {
        INFO(thread);
        std::atomic<int> failures{0};
        IngestOptions o;
        o.test_fault = thread;
        o.on_failure = [&] { ++failures; };
        Running r(o);
        CHECK_FALSE(r.ingest.failed());
        // the writer gets a batch only from a decoded datagram
        send_to(r.ingest.port(), host_datagram("10.0.0.1", 1));
        REQUIRE(wait_for([&] { return failures == 1; }));
        CHECK(r.ingest.failed());
        r.ingest.stop();  // returns: neither thread waits for the dead one
        CHECK(failures == 1);
        CHECK(r.stats.samples_stored == 0);
    }
}
