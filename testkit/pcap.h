// pcap.h — classic pcap files: read the UDP payloads of a capture, write one.
//
// Caveats:
//  - read_pcap accepts link types Ethernet (1, with 802.1Q tags), raw IP (101, 12, 14,
//    228/229) and Linux cooked (113, 276); IPv4 and IPv6; both byte orders and the
//    nanosecond variant. UDP checksums are not checked (loopback captures have bad ones).
//  - Packets that are not UDP, or are IP fragments, are skipped and counted.
//  - Throws std::runtime_error for a file that is not a classic pcap or is cut short in
//    a header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sfm {

struct CapturedDatagram {
    int64_t ts_us = 0;   // capture time
    std::string src;     // source address text
    uint16_t src_port = 0, dst_port = 0;
    std::string payload; // the UDP payload (the sFlow datagram)
};

struct PcapContents {
    std::vector<CapturedDatagram> datagrams;
    uint64_t skipped = 0;  // packets that were not UDP datagrams we could read
};

PcapContents read_pcap(const std::string& path);

// Writes UDP payloads as a classic pcap (link type raw IPv4/IPv6 = 101).
class PcapWriter {
public:
    explicit PcapWriter(const std::string& path);  // throws on open failure
    ~PcapWriter();
    PcapWriter(const PcapWriter&) = delete;  // one owner of the file: two copies would close it twice
    PcapWriter& operator=(const PcapWriter&) = delete;
    void write(int64_t ts_us, const std::string& src_ip, uint16_t src_port,
               const std::string& dst_ip, uint16_t dst_port, const std::string& payload);

private:
    void* f_;
};

}  // namespace sfm
