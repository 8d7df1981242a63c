// udp_receiver.h — the UDP socket of ingest: bound once, then read in batches with recvmmsg.
// Each datagram comes out as its bytes, its UDP source and its arrival time (the kernel's
// receive time, SO_TIMESTAMP, when it gives one); the socket's drop counter (SO_RXQ_OVFL)
// is kept as last seen.
//
// Caveats:
//  - The constructor binds (std::runtime_error with the reason on failure) and warns once
//    when the kernel grants a smaller receive buffer than asked for.
//  - receive() never blocks (MSG_DONTWAIT); poll fd() first. One thread at a time.
//  - The views handed to the callback are valid during the call only.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "sflow_monitor/sflow.h"

namespace sfm {

class UdpReceiver {
public:
    static constexpr int kBatch = 64;  // datagrams per recvmmsg
    static constexpr size_t kMaxDatagram = 65536;

    UdpReceiver(const std::string& listen, uint16_t port, int rcvbuf_bytes);
    ~UdpReceiver();
    UdpReceiver(const UdpReceiver&) = delete;
    UdpReceiver& operator=(const UdpReceiver&) = delete;

    int fd() const { return fd_; }
    uint16_t port() const { return port_; }  // the bound port (port 0 asks for any free one)

    using Fn = std::function<void(std::string_view bytes, const Address& source, int64_t arrived_ms)>;
    // Reads what is waiting, up to kBatch datagrams; returns how many (0 after an error, which
    // is logged).
    int receive(const Fn& fn);
    uint32_t kernel_drops() const { return kernel_drops_; }

private:
    int fd_ = -1;
    uint16_t port_ = 0;
    uint32_t kernel_drops_ = 0;
    std::vector<char> bufs_;
};

}  // namespace sfm
