// pcap.cpp — classic pcap: the UDP payloads of a capture in, a raw-IP capture out.
// The file is read whole and every header is bounds-checked before it is read.
#include "testkit/pcap.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace sfm {

namespace {

constexpr uint32_t kMagicMicro = 0xa1b2c3d4, kMagicNano = 0xa1b23c4d;
constexpr uint32_t kMagicPcapng = 0x0a0d0d0a;
constexpr size_t kFileHeader = 24, kRecordHeader = 16;

constexpr uint32_t kLinkEthernet = 1, kLinkRaw = 101, kLinkRawBsd = 12, kLinkRawOpenbsd = 14,
                   kLinkIpv4 = 228, kLinkIpv6 = 229, kLinkSll = 113, kLinkSll2 = 276;
constexpr uint16_t kEtherIpv4 = 0x0800, kEtherIpv6 = 0x86DD, kEtherVlan = 0x8100,
                   kEtherQinq = 0x88A8;
constexpr uint8_t kProtoUdp = 17;

uint16_t be16(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }

uint32_t u32_at(const uint8_t* p, bool swapped) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return swapped ? __builtin_bswap32(v) : v;
}

// A view of one packet's bytes.
struct Bytes {
    const uint8_t* p;
    size_t n;
    Bytes from(size_t off) const { return {p + off, n - off}; }
};

// UDP inside IP: fills out and returns true, or returns false for anything we skip.
bool parse_udp(Bytes udp, CapturedDatagram& out) {
    if (udp.n < 8) return false;
    size_t len = be16(udp.p + 4);
    if (len < 8 || len > udp.n) return false;  // cut by the snap length, or nonsense
    out.src_port = be16(udp.p);
    out.dst_port = be16(udp.p + 2);
    out.payload.assign(reinterpret_cast<const char*>(udp.p + 8), len - 8);
    return true;
}

bool parse_ipv4(Bytes ip, CapturedDatagram& out) {
    if (ip.n < 20 || ip.p[0] >> 4 != 4) return false;
    size_t ihl = size_t(ip.p[0] & 0x0F) * 4;
    size_t total = be16(ip.p + 2);
    if (ihl < 20 || total < ihl || total > ip.n) return false;
    uint16_t frag = be16(ip.p + 6);
    if (frag & 0x3FFF) return false;  // more-fragments flag or a fragment offset
    if (ip.p[9] != kProtoUdp) return false;
    char buf[INET_ADDRSTRLEN];
    out.src = inet_ntop(AF_INET, ip.p + 12, buf, sizeof buf);
    return parse_udp(Bytes{ip.p + ihl, total - ihl}, out);
}

bool parse_ipv6(Bytes ip, CapturedDatagram& out) {
    if (ip.n < 40 || ip.p[0] >> 4 != 6) return false;
    size_t payload = be16(ip.p + 4);
    if (payload == 0 || 40 + payload > ip.n) return false;  // jumbogram or cut short
    uint8_t next = ip.p[6];
    Bytes rest{ip.p + 40, payload};
    // Skip the extension headers that have the generic (next, length) shape.
    while (next == 0 || next == 43 || next == 60) {  // hop-by-hop, routing, destination
        if (rest.n < 8) return false;
        size_t len = (size_t(rest.p[1]) + 1) * 8;
        if (len > rest.n) return false;
        next = rest.p[0];
        rest = rest.from(len);
    }
    if (next != kProtoUdp) return false;  // includes 44, fragments
    char buf[INET6_ADDRSTRLEN];
    out.src = inet_ntop(AF_INET6, ip.p + 8, buf, sizeof buf);
    return parse_udp(rest, out);
}

bool parse_ip_by_version(Bytes ip, CapturedDatagram& out) {
    if (ip.n < 1) return false;
    if (ip.p[0] >> 4 == 4) return parse_ipv4(ip, out);
    if (ip.p[0] >> 4 == 6) return parse_ipv6(ip, out);
    return false;
}

bool parse_by_ethertype(uint16_t type, Bytes ip, CapturedDatagram& out) {
    if (type == kEtherIpv4) return parse_ipv4(ip, out);
    if (type == kEtherIpv6) return parse_ipv6(ip, out);
    return false;
}

bool parse_link(uint32_t link, Bytes pkt, CapturedDatagram& out) {
    switch (link) {
        case kLinkEthernet: {
            if (pkt.n < 14) return false;
            size_t off = 12;
            uint16_t type = be16(pkt.p + off);
            while (type == kEtherVlan || type == kEtherQinq) {
                off += 4;
                if (pkt.n < off + 2) return false;
                type = be16(pkt.p + off);
            }
            return parse_by_ethertype(type, pkt.from(off + 2), out);
        }
        case kLinkRaw:
        case kLinkRawBsd:
        case kLinkRawOpenbsd: return parse_ip_by_version(pkt, out);
        case kLinkIpv4: return parse_ipv4(pkt, out);
        case kLinkIpv6: return parse_ipv6(pkt, out);
        case kLinkSll:  // 16 bytes; protocol at 14
            if (pkt.n < 16) return false;
            return parse_by_ethertype(be16(pkt.p + 14), pkt.from(16), out);
        case kLinkSll2:  // 20 bytes; protocol at 0
            if (pkt.n < 20) return false;
            return parse_by_ethertype(be16(pkt.p), pkt.from(20), out);
        default: return false;
    }
}

bool supported_link(uint32_t link) {
    switch (link) {
        case kLinkEthernet: case kLinkRaw: case kLinkRawBsd: case kLinkRawOpenbsd:
        case kLinkIpv4: case kLinkIpv6: case kLinkSll: case kLinkSll2: return true;
        default: return false;
    }
}

// Internet checksum over a pseudo-header and the UDP header + payload (RFC 768, RFC 8200).
uint16_t udp_checksum(const std::string& pseudo, const std::string& udp) {
    uint32_t sum = 0;
    auto add = [&sum](const std::string& s) {
        for (size_t i = 0; i < s.size(); i += 2) {
            uint32_t hi = uint8_t(s[i]);
            uint32_t lo = i + 1 < s.size() ? uint8_t(s[i + 1]) : 0;
            sum += (hi << 8) | lo;
        }
    };
    add(pseudo);
    add(udp);
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    uint16_t c = uint16_t(~sum);
    return c == 0 ? 0xFFFF : c;
}

uint16_t ipv4_checksum(const std::string& hdr) {
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < hdr.size(); i += 2)
        sum += (uint32_t(uint8_t(hdr[i])) << 8) | uint8_t(hdr[i + 1]);
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return uint16_t(~sum);
}

void put16(std::string& s, size_t at, uint16_t v) {
    s[at] = char(v >> 8);
    s[at + 1] = char(v);
}

std::string be16s(uint16_t v) { return std::string{char(v >> 8), char(v)}; }

void write_all(std::FILE* f, const void* p, size_t n) {
    if (std::fwrite(p, 1, n, f) != n)
        throw std::runtime_error(std::string("pcap write failed: ") + std::strerror(errno));
}

}  // namespace

PcapContents read_pcap(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw std::runtime_error("cannot read " + path);
    const uint8_t* base = reinterpret_cast<const uint8_t*>(data.data());
    size_t size = data.size();

    if (size < 4) throw std::runtime_error(path + ": not a pcap file (too short)");
    uint32_t magic = u32_at(base, false);
    bool swapped = false, nano = false;
    if (magic == kMagicMicro || magic == kMagicNano) {
        nano = magic == kMagicNano;
    } else if (__builtin_bswap32(magic) == kMagicMicro || __builtin_bswap32(magic) == kMagicNano) {
        swapped = true;
        nano = __builtin_bswap32(magic) == kMagicNano;
    } else if (magic == kMagicPcapng) {
        throw std::runtime_error(path + ": pcapng is not supported (convert it with editcap -F pcap)");
    } else {
        throw std::runtime_error(path + ": not a classic pcap file (bad magic)");
    }
    if (size < kFileHeader)
        throw std::runtime_error(path + ": truncated pcap file header (" + std::to_string(size) +
                                 " of 24 bytes)");
    uint32_t link = u32_at(base + 20, swapped) & 0x0FFFFFFF;  // upper bits: FCS info
    if (!supported_link(link))
        throw std::runtime_error(path + ": unsupported pcap link type " + std::to_string(link));

    PcapContents out;
    size_t off = kFileHeader;
    for (size_t index = 0; off < size; ++index) {
        if (size - off < kRecordHeader)
            throw std::runtime_error(path + ": truncated record header of packet " +
                                     std::to_string(index) + " at offset " + std::to_string(off));
        uint32_t sec = u32_at(base + off, swapped);
        uint32_t frac = u32_at(base + off + 4, swapped);
        uint32_t incl = u32_at(base + off + 8, swapped);
        if (incl > size - off - kRecordHeader)
            throw std::runtime_error(path + ": truncated packet " + std::to_string(index) +
                                     " at offset " + std::to_string(off) + ": " +
                                     std::to_string(incl) + " bytes announced, " +
                                     std::to_string(size - off - kRecordHeader) + " left");
        Bytes pkt{base + off + kRecordHeader, incl};
        off += kRecordHeader + incl;

        CapturedDatagram d;
        d.ts_us = int64_t(sec) * 1000000 + (nano ? frac / 1000 : frac);
        if (parse_link(link, pkt, d)) out.datagrams.push_back(std::move(d));
        else ++out.skipped;
    }
    return out;
}

PcapWriter::PcapWriter(const std::string& path) : f_(std::fopen(path.c_str(), "wb")) {
    if (!f_) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
    // Host byte order throughout, as libpcap writes: magic, version 2.4, zone, sigfigs,
    // snaplen, link type.
    uint32_t hdr[6] = {kMagicMicro, 0, 0, 0, 65535, kLinkRaw};
    uint16_t version[2] = {2, 4};
    std::memcpy(&hdr[1], version, 4);
    write_all(static_cast<std::FILE*>(f_), hdr, sizeof hdr);
}

PcapWriter::~PcapWriter() {
    if (f_) std::fclose(static_cast<std::FILE*>(f_));
}

void PcapWriter::write(int64_t ts_us, const std::string& src_ip, uint16_t src_port,
                       const std::string& dst_ip, uint16_t dst_port, const std::string& payload) {
    uint8_t src[16], dst[16];
    bool v4 = inet_pton(AF_INET, src_ip.c_str(), src) == 1 &&
              inet_pton(AF_INET, dst_ip.c_str(), dst) == 1;
    bool v6 = !v4 && inet_pton(AF_INET6, src_ip.c_str(), src) == 1 &&
              inet_pton(AF_INET6, dst_ip.c_str(), dst) == 1;
    if (!v4 && !v6)
        throw std::runtime_error("pcap write: addresses " + src_ip + " and " + dst_ip +
                                 " are not both IPv4 or both IPv6");
    size_t udp_len = 8 + payload.size();
    if (udp_len > 65535 - (v4 ? 20 : 0))
        throw std::runtime_error("pcap write: payload of " + std::to_string(payload.size()) +
                                 " bytes does not fit a UDP datagram");

    std::string udp = be16s(src_port) + be16s(dst_port) + be16s(uint16_t(udp_len)) + be16s(0);
    udp += payload;
    std::string alen(reinterpret_cast<const char*>(src), v4 ? 4 : 16);
    std::string blen(reinterpret_cast<const char*>(dst), v4 ? 4 : 16);
    std::string pseudo = alen + blen;
    if (v4) pseudo += std::string{0, char(kProtoUdp)} + be16s(uint16_t(udp_len));
    else pseudo += std::string{0, 0, char(udp_len >> 8), char(udp_len), 0, 0, 0, char(kProtoUdp)};
    put16(udp, 6, udp_checksum(pseudo, udp));

    std::string ip;
    if (v4) {
        ip = std::string{0x45, 0} + be16s(uint16_t(20 + udp_len)) + std::string(4, '\0') +
             std::string{64, char(kProtoUdp), 0, 0} + alen + blen;
        put16(ip, 10, ipv4_checksum(ip));
    } else {
        ip = std::string{0x60, 0, 0, 0} + be16s(uint16_t(udp_len)) +
             std::string{char(kProtoUdp), 64} + alen + blen;
    }
    ip += udp;

    int64_t sec = ts_us / 1000000, usec = ts_us % 1000000;
    if (usec < 0) {
        usec += 1000000;
        --sec;
    }
    uint32_t rec[4] = {uint32_t(sec), uint32_t(usec), uint32_t(ip.size()), uint32_t(ip.size())};
    auto* f = static_cast<std::FILE*>(f_);
    write_all(f, rec, sizeof rec);
    write_all(f, ip.data(), ip.size());
    if (std::fflush(f) != 0)
        throw std::runtime_error(std::string("pcap write failed: ") + std::strerror(errno));
}

}  // namespace sfm
