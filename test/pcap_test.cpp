// pcap_test.cpp — read_pcap over hand-built captures of every supported shape, and
// PcapWriter round trips.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

#include "testkit/pcap.h"

using namespace sfm;

namespace {

// A temporary file removed when the test ends.
struct TempFile {
    std::string path;
    TempFile() {
        char tmpl[] = "/tmp/sfm-pcap-test-XXXXXX";
        int fd = mkstemp(tmpl);
        REQUIRE(fd >= 0);
        close(fd);
        path = tmpl;
    }
    ~TempFile() { std::remove(path.c_str()); }
    void write(const std::string& bytes) const {
        std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    }
    std::string read() const {
        std::ifstream in(path, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
};

std::string be16(uint16_t v) { return {char(v >> 8), char(v)}; }
std::string be32(uint32_t v) { return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }
std::string le32(uint32_t v) { return {char(v), char(v >> 8), char(v >> 16), char(v >> 24)}; }

// Byte-order aware pcap assembly.
struct Pcap {
    bool big = false;
    bool nano = false;
    uint32_t link = 1;
    std::string body;
    std::string u32(uint32_t v) const { return big ? be32(v) : le32(v); }
    void packet(uint32_t sec, uint32_t frac, const std::string& bytes) {
        body += u32(sec) + u32(frac) + u32(uint32_t(bytes.size())) + u32(uint32_t(bytes.size()));
        body += bytes;
    }
    std::string file() const {
        std::string h = u32(nano ? 0xa1b23c4d : 0xa1b2c3d4);
        h += big ? std::string{0, 2, 0, 4} : std::string{2, 0, 4, 0};
        h += u32(0) + u32(0) + u32(65535) + u32(link);
        return h + body;
    }
};

std::string udp(uint16_t sport, uint16_t dport, const std::string& payload) {
    return be16(sport) + be16(dport) + be16(uint16_t(8 + payload.size())) + be16(0xBAD0) + payload;
}

// IPv4 header with `options` bytes of options; checksum left wrong on purpose.
std::string ipv4(const std::string& l4, uint8_t proto = 17, size_t options = 0,
                 uint16_t frag = 0) {
    std::string h{char(0x45 + options / 4), 0};
    h += be16(uint16_t(20 + options + l4.size()));
    h += be16(1) + be16(frag) + std::string{64, char(proto)} + be16(0);
    h += std::string{10, 1, 2, 3} + std::string{127, 0, 0, 1};
    h += std::string(options, '\x01');  // NOPs
    return h + l4;
}

std::string ipv6(const std::string& l4, uint8_t next = 17, const std::string& ext = "") {
    std::string h{0x60, 0, 0, 0};
    h += be16(uint16_t(ext.size() + l4.size()));
    h += std::string{char(next), 64};
    std::string src(16, '\0');
    src[0] = char(0x20), src[1] = 0x01, src[2] = 0x0d, src[3] = char(0xb8), src[15] = 7;
    h += src + std::string(15, '\0') + "\x01";
    return h + ext + l4;
}

std::string ether(uint16_t type, const std::string& l3, int vlans = 0) {
    std::string h(12, '\0');
    for (int i = 0; i < vlans; ++i) h += be16(0x8100) + be16(uint16_t(100 + i));
    return h + be16(type) + l3;
}

// What read_pcap makes of the capture p builds, written to a file.
PcapContents read_back(const Pcap& p) {
    TempFile f;
    f.write(p.file());
    return read_pcap(f.path);
}

}  // namespace

TEST_CASE("an ethernet capture yields the udp payload, ports, source and microsecond time") {
    Pcap p;
    std::string payload = "sflow bytes";
    p.packet(1700000000, 123456, ether(0x0800, ipv4(udp(40000, 6343, payload))));
    PcapContents c = read_back(p);
    REQUIRE(c.datagrams.size() == 1);
    CHECK(c.skipped == 0);
    const auto& d = c.datagrams[0];
    CHECK(d.payload == payload);
    CHECK(d.src == "10.1.2.3");
    CHECK(d.src_port == 40000);
    CHECK(d.dst_port == 6343);
    CHECK(d.ts_us == 1700000000LL * 1000000 + 123456);
}

TEST_CASE("big-endian and nanosecond captures are read alike") {
    for (bool big : {false, true})
        for (bool nano : {false, true}) {
            Pcap p;
            p.big = big;
            p.nano = nano;
            p.packet(10, nano ? 5000999 : 5000, ether(0x0800, ipv4(udp(1, 2, "x"))));
            PcapContents c = read_back(p);
            REQUIRE(c.datagrams.size() == 1);
            CHECK(c.datagrams[0].ts_us == 10 * 1000000 + 5000);
            CHECK(c.datagrams[0].payload == "x");
        }
}

TEST_CASE("vlan tags, ipv4 options and ethernet padding are handled") {
    Pcap p;
    p.packet(0, 0, ether(0x0800, ipv4(udp(1, 2, "tagged")), 2));
    p.packet(0, 0, ether(0x0800, ipv4(udp(1, 2, "opts"), 17, 8)));
    p.packet(0, 0, ether(0x0800, ipv4(udp(1, 2, "pad")) + std::string(20, '\0')));
    PcapContents c = read_back(p);
    REQUIRE(c.datagrams.size() == 3);
    CHECK(c.datagrams[0].payload == "tagged");
    CHECK(c.datagrams[1].payload == "opts");
    CHECK(c.datagrams[2].payload == "pad");
}

TEST_CASE("ipv6 with a destination-options header is read and fragments are skipped") {
    std::string dest_opts = std::string{17, 0} + std::string(6, '\0');  // next = UDP, 8 bytes
    std::string frag_hdr = std::string{17, 0} + std::string(6, '\0');
    Pcap p;
    p.packet(0, 0, ether(0x86DD, ipv6(udp(5, 6, "six"))));
    p.packet(0, 0, ether(0x86DD, ipv6(udp(5, 6, "ext"), 60, dest_opts)));
    p.packet(0, 0, ether(0x86DD, ipv6(udp(5, 6, "frag"), 44, frag_hdr)));
    PcapContents c = read_back(p);
    REQUIRE(c.datagrams.size() == 2);
    CHECK(c.datagrams[0].payload == "six");
    CHECK(c.datagrams[0].src == "2001:db8::7");
    CHECK(c.datagrams[1].payload == "ext");
    CHECK(c.skipped == 1);
}

TEST_CASE("tcp, ipv4 fragments, arp and short packets are skipped and counted") {
    Pcap p;
    p.packet(0, 0, ether(0x0800, ipv4(std::string(20, '\0'), 6)));       // TCP
    p.packet(0, 0, ether(0x0800, ipv4(udp(1, 2, "mf"), 17, 0, 0x2000))); // more fragments
    p.packet(0, 0, ether(0x0800, ipv4(udp(1, 2, "off"), 17, 0, 0x0010))); // fragment offset
    p.packet(0, 0, ether(0x0806, std::string(28, '\0')));                // ARP
    p.packet(0, 0, std::string(10, '\0'));                               // runt
    std::string cut = ether(0x0800, ipv4(udp(1, 2, "cut by snaplen")));
    p.packet(0, 0, cut.substr(0, cut.size() - 3));
    p.packet(0, 0, ether(0x0800, ipv4(udp(1, 2, "ok"))));
    PcapContents c = read_back(p);
    REQUIRE(c.datagrams.size() == 1);
    CHECK(c.datagrams[0].payload == "ok");
    CHECK(c.skipped == 6);
}

TEST_CASE("raw ip, linux cooked and sll2 link types are read") {
    std::string v4 = ipv4(udp(1, 2, "v4"));
    std::string v6 = ipv6(udp(1, 2, "v6"));
    std::string sll = std::string(14, '\0') + be16(0x0800) + v4;
    std::string sll2 = be16(0x86DD) + std::string(18, '\0') + v6;
    struct Case {
        uint32_t link;
        std::string packet, payload;
    } cases[] = {{101, v4, "v4"}, {101, v6, "v6"},  {12, v6, "v6"},    {14, v4, "v4"},
                 {228, v4, "v4"}, {229, v6, "v6"},  {113, sll, "v4"},  {276, sll2, "v6"}};
    for (const auto& k : cases) {
        CAPTURE(k.link);
        Pcap p;
        p.link = k.link;
        p.packet(0, 0, k.packet);
        PcapContents c = read_back(p);
        REQUIRE(c.datagrams.size() == 1);
        CHECK(c.datagrams[0].payload == k.payload);
    }
}

TEST_CASE("files that are not classic pcap, or are cut short, throw a clear error") {
    TempFile f;
    f.write("hello world, not a capture at all");
    CHECK_THROWS_WITH_AS(read_pcap(f.path), doctest::Contains("bad magic"), std::runtime_error);
    f.write(std::string{0x0a, 0x0d, 0x0d, 0x0a} + std::string(40, '\0'));
    CHECK_THROWS_WITH_AS(read_pcap(f.path), doctest::Contains("pcapng"), std::runtime_error);
    CHECK_THROWS_AS(read_pcap("/nonexistent/file.pcap"), std::runtime_error);

    Pcap p;
    p.packet(0, 0, ether(0x0800, ipv4(udp(1, 2, "a full packet"))));
    std::string whole = p.file();
    CHECK(read_pcap((f.write(whole), f.path)).datagrams.size() == 1);
    for (size_t cut = 1; cut < whole.size(); ++cut) {
        if (cut == 24) continue;  // a file header alone is a valid, empty capture
        CAPTURE(cut);
        f.write(whole.substr(0, cut));
        CHECK_THROWS_AS(read_pcap(f.path), std::runtime_error);
    }
    Pcap other;
    other.link = 105;  // 802.11
    f.write(other.file());
    CHECK_THROWS_WITH_AS(read_pcap(f.path), doctest::Contains("link type 105"), std::runtime_error);
}

TEST_CASE("a capture written by PcapWriter reads back the same datagrams") {
    TempFile f;
    std::string big(9000, 'z');
    {
        PcapWriter w(f.path);
        w.write(1700000000123456, "192.0.2.2", 50000, "127.0.0.1", 6343, "first");
        w.write(1700000001000000, "2001:db8::2", 50001, "::1", 6343, big);
        w.write(1700000002000001, "10.0.0.1", 1, "10.0.0.2", 2, "");
    }
    PcapContents c = read_pcap(f.path);
    REQUIRE(c.datagrams.size() == 3);
    CHECK(c.skipped == 0);
    CHECK(c.datagrams[0].ts_us == 1700000000123456);
    CHECK(c.datagrams[0].src == "192.0.2.2");
    CHECK(c.datagrams[0].src_port == 50000);
    CHECK(c.datagrams[0].dst_port == 6343);
    CHECK(c.datagrams[0].payload == "first");
    CHECK(c.datagrams[1].src == "2001:db8::2");
    CHECK(c.datagrams[1].payload == big);
    CHECK(c.datagrams[2].payload.empty());
    CHECK(c.datagrams[2].ts_us == 1700000002000001);
}

TEST_CASE("PcapWriter writes link type 101 and valid ipv4 and udp checksums") {
    TempFile f;
    { PcapWriter(f.path).write(0, "192.0.2.2", 50000, "127.0.0.1", 6343, "odd"); }
    std::string b = f.read();
    REQUIRE(b.size() == 24 + 16 + 20 + 8 + 3);
    uint32_t link = uint8_t(b[20]) | uint8_t(b[21]) << 8 | uint8_t(b[22]) << 16 | uint8_t(b[23]) << 24;
    CHECK(link == 101);
    auto sum16 = [](const std::string& s) {
        uint32_t sum = 0;
        for (size_t i = 0; i < s.size(); i += 2)
            sum += uint32_t(uint8_t(s[i])) << 8 | (i + 1 < s.size() ? uint8_t(s[i + 1]) : 0);
        while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
        return sum;
    };
    std::string ip = b.substr(40, 20), u = b.substr(60);
    CHECK(sum16(ip) == 0xFFFF);  // a correct header sums to all ones
    std::string pseudo = ip.substr(12, 8) + std::string{0, 17} + be16(uint16_t(u.size()));
    CHECK(sum16(pseudo + u) == 0xFFFF);
}

TEST_CASE("PcapWriter refuses mixed address families and unwritable paths") {
    CHECK_THROWS_AS(PcapWriter("/nonexistent/dir/x.pcap"), std::runtime_error);
    TempFile f;
    PcapWriter w(f.path);
    CHECK_THROWS_AS(w.write(0, "192.0.2.2", 1, "::1", 2, "x"), std::runtime_error);
    CHECK_THROWS_AS(w.write(0, "not-an-ip", 1, "127.0.0.1", 2, "x"), std::runtime_error);
}
