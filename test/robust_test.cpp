// robust_test.cpp — the decoder against hostile input: every real datagram cut at every
// byte, seeded random byte flips, and synthetic datagrams for each framing edge case.
// Inputs are copied into exact-size heap buffers so ASan sees any read past the end.
#include <doctest/doctest.h>
#include <json/json.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fuzz/targets.h"
#include "sflow_monitor/json.h"
#include "sflow_monitor/sflow.h"
#include "testkit/encode.h"
#include "testkit/pcap.h"

using namespace sfm;

namespace {

std::vector<std::string> real_datagrams() {
    const char* env = std::getenv("SFLOW_TESTDATA");
    std::string dir = env ? env : "../shared/testdata";
    std::vector<std::string> out;
    for (const char* name : {"hsflowd-host", "hsflowd-kvm", "hsflowd-kvm-ifpoll"})
        for (auto& d : read_pcap(dir + "/" + name + ".pcap").datagrams)
            out.push_back(std::move(d.payload));
    return out;
}

// An exact-size copy, so a read one byte past the end is a heap overflow ASan reports.
struct Exact {
    std::unique_ptr<char[]> p;
    size_t n;
    explicit Exact(std::string_view s) : p(new char[s.size() ? s.size() : 1]), n(s.size()) {
        std::copy(s.begin(), s.end(), p.get());
    }
    std::string_view view() const { return {p.get(), n}; }
};

// Writes every decoded record as JSON and checks it parses back: garbage in, valid JSON out.
void check_json(const Datagram& d) {
    std::string out;
    JsonWriter w(out);
    w.begin_array();
    for (const auto& s : d.samples)
        for (const auto& rec : s.records) fuzz::render_record(w, rec);  // as the decoder fuzz target does
    w.end_array();
    Json::CharReaderBuilder rb;
    std::unique_ptr<Json::CharReader> reader(rb.newCharReader());
    Json::Value v;
    std::string errs;
    CHECK_MESSAGE(reader->parse(out.data(), out.data() + out.size(), &v, &errs), errs);
}

std::string u32s(uint32_t v) {
    std::string s;
    XdrWriter(s).u32(v);
    return s;
}

Address v4() { return *Address::parse("192.0.2.2"); }

HostCpu sample_cpu() {
    HostCpu c;
    c.cpu_load_one = 0.79f;
    c.cpu_num = 2;
    c.cpu_idle = 838430;
    c.cpu_contexts = 1222773;
    return c;
}


}  // namespace

TEST_CASE("every real datagram cut at every byte offset gives a DecodeError, never a crash") {
    auto grams = real_datagrams();
    REQUIRE(grams.size() == 22 + 54 + 97);
    size_t cuts = 0;
    for (const auto& g : grams) {
        CHECK_NOTHROW(decode_datagram(Exact(g).view()));
        for (size_t cut = 0; cut < g.size(); ++cut) {
            Exact e(std::string_view(g).substr(0, cut));
            // Samples and records are framed by length, so any cut loses a whole frame.
            try {
                decode_datagram(e.view());
                FAIL_CHECK("a datagram cut to " << cut << " of " << g.size() << " bytes decoded");
            } catch (const DecodeError& err) {
                CHECK(err.offset() <= cut);
            }
            ++cuts;
        }
    }
    CHECK(cuts > 50000);
}

TEST_CASE("a real records region cut at every offset decodes cleanly or throws DecodeError") {
    // decode_records is also fed by the store: a cut there may leave a clean partial sample.
    auto grams = real_datagrams();
    const std::string& g = grams.back();
    Datagram d = decode_datagram(g);
    REQUIRE(!d.samples.empty());
    std::string raw(d.samples[0].records_raw);
    for (size_t cut = 0; cut < raw.size(); ++cut) {
        Exact e(std::string_view(raw).substr(0, cut));
        CounterSample s;
        try {
            decode_records(e.view(), s);
            CHECK(s.records.size() <= d.samples[0].records.size());
        } catch (const DecodeError&) {
        }
    }
}

TEST_CASE("thousands of seeded random byte flips give results or DecodeErrors, and valid JSON") {
    auto grams = real_datagrams();
    std::mt19937 rng(20261124);
    size_t decoded = 0, rejected = 0;
    for (int i = 0; i < 5000; ++i) {
        std::string g = grams[rng() % grams.size()];
        int flips = 1 + int(rng() % 4);
        for (int k = 0; k < flips; ++k) g[rng() % g.size()] = char(rng());
        Exact e(g);
        try {
            Datagram d = decode_datagram(e.view());
            check_json(d);
            ++decoded;
        } catch (const DecodeError&) {
            ++rejected;
        }
    }
    // Both outcomes must occur, or the mutations test nothing.
    CHECK(decoded > 100);
    CHECK(rejected > 100);
}

TEST_CASE("an ipv6 agent address is decoded") {
    DatagramBuilder b(*Address::parse("2001:db8::1"), 7, 8, 9);
    b.counter_sample(1, 2, 1).add(sample_cpu());
    std::string bytes = b.build();
    Exact e(bytes);
    Datagram d = decode_datagram(e.view());
    CHECK(d.agent.family == 6);
    CHECK(d.agent.text() == "2001:db8::1");
    CHECK(d.sub_agent_id == 7);
    CHECK(d.sequence == 8);
    CHECK(d.uptime == 9);
    REQUIRE(d.samples.size() == 1);
    REQUIRE(d.samples[0].find<HostCpu>());
    CHECK(d.samples[0].find<HostCpu>()->cpu_idle == 838430);
}

TEST_CASE("a compact 0:2 sample splits its source id into class (8 bits) and index (24 bits)") {
    // Hand-built so the test does not lean on the builder's own packing.
    std::string sample = u32s(42) + u32s(0x03ABCDEF) + u32s(1);
    encode_record(sample, sample_cpu());
    DatagramBuilder b(v4(), 1, 1, 1);
    b.raw_sample(2, sample);
    std::string bytes = b.build();
    Exact e(bytes);
    Datagram d = decode_datagram(e.view());
    REQUIRE(d.samples.size() == 1);
    const CounterSample& s = d.samples[0];
    CHECK(!s.expanded);
    CHECK(s.sequence == 42);
    CHECK(s.source_class == 3);
    CHECK(s.source_index == 0xABCDEF);
    REQUIRE(s.find<HostCpu>());
}

TEST_CASE("host_cpu of 68 bytes has no steal or guest; of 80 bytes has all three") {
    HostCpu old = sample_cpu();
    HostCpu now = sample_cpu();
    now.cpu_steal = 11;
    now.cpu_guest = 12;
    now.cpu_guest_nice = 13;
    REQUIRE(record_body(old).size() == 68);
    REQUIRE(record_body(now).size() == 80);
    DatagramBuilder b(v4(), 1, 1, 1);
    b.counter_sample(1, 2, 1).add(old);
    b.counter_sample(2, 2, 1).add(now);
    std::string bytes = b.build();
    Exact e(bytes);
    Datagram d = decode_datagram(e.view());
    REQUIRE(d.samples.size() == 2);
    const HostCpu* a = d.samples[0].find<HostCpu>();
    const HostCpu* c = d.samples[1].find<HostCpu>();
    REQUIRE(a);
    REQUIRE(c);
    CHECK(!a->cpu_steal);
    CHECK(!a->cpu_guest);
    CHECK(!a->cpu_guest_nice);
    CHECK(a->cpu_contexts == 1222773);
    CHECK(c->cpu_steal == 11u);
    CHECK(c->cpu_guest == 12u);
    CHECK(c->cpu_guest_nice == 13u);
}

TEST_CASE("a record longer than its structure decodes, its extra bytes ignored") {
    HostMemory m;
    m.mem_total = 1ull << 40;
    m.swap_out = 77;
    DatagramBuilder b(v4(), 1, 1, 1);
    b.counter_sample(1, 2, 1).add_raw(HostMemory::format, record_body(m) + std::string(12, '\x7f'));
    b.add(sample_cpu());
    std::string bytes = b.build();
    Exact e(bytes);
    Datagram d = decode_datagram(e.view());
    REQUIRE(d.samples.size() == 1);
    const CounterSample& s = d.samples[0];
    CHECK(s.errors.empty());
    REQUIRE(s.find<HostMemory>());
    CHECK(s.find<HostMemory>()->mem_total == 1ull << 40);
    CHECK(s.find<HostMemory>()->swap_out == 77);
    CHECK(s.records[0].body.size() == 72 + 12);
    CHECK(s.find<HostCpu>());  // the next record is framed from the declared length
}

TEST_CASE("a record shorter than its structure costs that record only, with a counted error") {
    HostMemory m;
    std::string short_body = record_body(m).substr(0, 20);
    DatagramBuilder b(v4(), 1, 1, 1);
    b.counter_sample(1, 2, 1).add(sample_cpu()).add_raw(HostMemory::format, short_body);
    b.add(HostNetIo{});
    std::string bytes = b.build();
    Exact e(bytes);
    Datagram d = decode_datagram(e.view());
    REQUIRE(d.samples.size() == 1);
    const CounterSample& s = d.samples[0];
    REQUIRE(s.errors.size() == 1);
    CHECK(s.errors[0].data_format == HostMemory::format);
    CHECK(s.errors[0].message.find("2004") != std::string::npos);
    CHECK(s.errors[0].message.find("offset") != std::string::npos);
    CHECK(s.find<HostCpu>());
    CHECK(s.find<HostNetIo>());
    CHECK(!s.find<HostMemory>());
}

TEST_CASE("unknown record formats, and any other enterprise, are kept raw and counted") {
    DatagramBuilder b(v4(), 1, 1, 1);
    b.counter_sample(1, 2, 1)
        .add_raw(9999, "abcd")
        .add_raw((4300u << 12) | HostCpu::format, record_body(sample_cpu()))
        .add(sample_cpu());
    std::string bytes = b.build();
    Exact e(bytes);
    Datagram d = decode_datagram(e.view());
    const CounterSample& s = d.samples.at(0);
    CHECK(s.unknown_records == 2);
    REQUIRE(s.records.size() == 3);
    CHECK(std::holds_alternative<std::monostate>(s.records[0].value));
    CHECK(s.records[0].body == "abcd");
    CHECK(std::holds_alternative<std::monostate>(s.records[1].value));
    CHECK(std::holds_alternative<HostCpu>(s.records[2].value));
}

TEST_CASE("flow samples and unknown sample formats are skipped by length and counted") {
    DatagramBuilder b(v4(), 1, 1, 1);
    b.raw_sample(1, std::string(40, '\xff'));
    b.raw_sample(3, std::string(12, '\x01'));
    b.raw_sample(77, "");
    b.counter_sample(5, 2, 1).add(sample_cpu());
    b.raw_sample((9u << 12) | 4, std::string(8, '\0'));  // enterprise 9: not ours
    std::string bytes = b.build();
    Exact e(bytes);
    Datagram d = decode_datagram(e.view());
    CHECK(d.num_samples == 5);
    CHECK(d.flow_samples == 2);
    CHECK(d.unknown_samples == 2);
    REQUIRE(d.samples.size() == 1);
    CHECK(d.samples[0].sequence == 5);
}

TEST_CASE("huge num_samples, num_records and adapter counts are clean errors") {
    std::string header = u32s(5) + u32s(1) + std::string{10, 0, 0, 1} + u32s(1) + u32s(2) + u32s(3);
    std::string bytes = header + u32s(0xFFFFFFFF) + std::string(64, '\0');
    CHECK_THROWS_WITH_AS(decode_datagram(Exact(bytes).view()), doctest::Contains("num_samples"),
                         DecodeError);

    std::string sample = u32s(1) + u32s(2) + u32s(1) + u32s(0xFFFFFFF0) + std::string(16, '\0');
    bytes = header + u32s(1) + u32s(4) + u32s(uint32_t(sample.size())) + sample;
    CHECK_THROWS_WITH_AS(decode_datagram(Exact(bytes).view()), doctest::Contains("num_records"),
                         DecodeError);

    // Adapter and MAC counts cost only their record.
    DatagramBuilder b(v4(), 1, 1, 1);
    b.counter_sample(1, 2, 1)
        .add_raw(HostAdapters::format, u32s(0xFFFFFFFF) + std::string(8, '\0'))
        .add_raw(HostAdapters::format, u32s(1) + u32s(4) + u32s(0x40000000))
        .add(sample_cpu());
    bytes = b.build();
    Exact e(bytes);
    Datagram d = decode_datagram(e.view());
    const CounterSample& s = d.samples.at(0);
    REQUIRE(s.errors.size() == 2);
    CHECK(s.errors[0].message.find("count") != std::string::npos);
    CHECK(s.errors[1].message.find("count") != std::string::npos);
    CHECK(s.find<HostCpu>());
}

TEST_CASE("a string longer than its bound costs its record") {
    HostDescr h;
    std::string long_name(65, 'h');
    h.hostname.value = long_name;
    DatagramBuilder b(v4(), 1, 1, 1);
    b.counter_sample(1, 2, 1).add(h).add_raw(HostDescr::format, u32s(0xFFFFFFFF));
    std::string name64(64, 'k');
    h.hostname.value = name64;
    b.add(h);
    std::string bytes = b.build();
    Exact e(bytes);
    Datagram d = decode_datagram(e.view());
    const CounterSample& s = d.samples.at(0);
    REQUIRE(s.errors.size() == 2);
    CHECK(s.errors[0].message.find("exceeds 64") != std::string::npos);
    REQUIRE(s.find<HostDescr>());
    CHECK(s.find<HostDescr>()->hostname.value == name64);
}

TEST_CASE("sflow version 4 is rejected") {
    DatagramBuilder b(v4(), 1, 1, 1);
    std::string bytes = b.build();
    bytes[3] = 4;
    CHECK_THROWS_WITH_AS(decode_datagram(Exact(bytes).view()), doctest::Contains("version 4"),
                         DecodeError);
}

TEST_CASE("a bad agent address type is rejected with its offset in the message") {
    DatagramBuilder b(v4(), 1, 1, 1);
    std::string bytes = b.build();
    bytes[7] = 3;
    try {
        decode_datagram(Exact(bytes).view());
        FAIL("decoded");
    } catch (const DecodeError& e) {
        CHECK(e.offset() == 4);
        CHECK(std::string(e.what()).find("address type 3 at offset 4") != std::string::npos);
    }
}

TEST_CASE("a sample or record whose length overruns its container fails the datagram") {
    DatagramBuilder b(v4(), 1, 1, 1);
    b.counter_sample(1, 2, 1).add(sample_cpu());
    std::string good = b.build();
    std::string bytes = good;
    bytes[28 + 7] = char(uint8_t(bytes[28 + 7]) + 4);  // sample length, past the end
    CHECK_THROWS_AS(decode_datagram(Exact(bytes).view()), DecodeError);
    bytes = good;
    size_t rec_len_at = 28 + 8 + 12 + 4 + 4;  // header, sample frame, sample head, count, format
    bytes[rec_len_at + 3] = char(uint8_t(bytes[rec_len_at + 3]) + 4);
    CHECK_THROWS_WITH_AS(decode_datagram(Exact(bytes).view()),
                         doctest::Contains("counter record"), DecodeError);
}
