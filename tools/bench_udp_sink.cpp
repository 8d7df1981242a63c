// bench-udp-sink — the ingest ceiling for `make bench`: a bare UDP receiver that only counts.
// It opens its socket the way the service's ingest thread does (same receive buffer, the
// SO_RXQ_OVFL drop counter, recvmmsg of 64 datagrams into 64 KiB buffers) and does nothing
// with what it receives, so what it cannot take is what the kernel, the sender and the
// loopback cost on this machine.
//   bench-udp-sink [--listen ADDR] [--port N] [--rcvbuf BYTES]
// Prints "listening on port N" on stdout once bound; on SIGTERM or SIGINT it drains what the
// socket still holds (it was received, not dropped), sends itself one probe datagram (not
// counted) to read the drop count as of then, and prints one line:
//   received D datagrams B bytes kernel_drops K
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sflow_monitor/sflow.h"

using namespace sfm;

namespace {

constexpr int kBatch = 64;               // as src/ingest.cpp
constexpr size_t kMaxDatagram = 65536;   // as src/ingest.cpp

struct Totals {
    unsigned long long datagrams = 0, bytes = 0;
    uint32_t drops = 0;
};

int open_socket(const std::string& listen, uint16_t port, int rcvbuf) {
    auto addr = Address::parse(listen);
    if (!addr || addr->family != 4) {
        std::fprintf(stderr, "bench-udp-sink: --listen takes an IPv4 address\n");
        std::exit(2);
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    std::memcpy(&sa.sin_addr, addr->bytes.data(), 4);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        std::fprintf(stderr, "bench-udp-sink: bind %s port %u: %s\n", listen.c_str(), unsigned(port),
                     std::strerror(errno));
        std::exit(1);
    }
    socklen_t len = sizeof sa;
    getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    std::printf("listening on port %u\n", unsigned(ntohs(sa.sin_port)));
    std::fflush(stdout);
    return fd;
}

// One recvmmsg; returns the number received (0 when the socket is empty).
int receive(int fd, std::vector<char>& bufs, Totals& t) {
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    alignas(cmsghdr) char ctrl[kBatch][CMSG_SPACE(sizeof(uint32_t))];
    for (int i = 0; i < kBatch; ++i) {
        iov[i] = {bufs.data() + size_t(i) * kMaxDatagram, kMaxDatagram};
        msgs[i].msg_hdr = {};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_control = ctrl[i];
        msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i];
    }
    int n = recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return 0;
    for (int i = 0; i < n; ++i) {
        t.bytes += msgs[i].msg_len;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL)
                std::memcpy(&t.drops, CMSG_DATA(c), sizeof t.drops);
    }
    t.datagrams += unsigned(n);
    return n;
}

}  // namespace

int main(int argc, char** argv) {
    std::string listen = "127.0.0.1";
    long port = 0, rcvbuf = 8 << 20;  // the service's default udp-rcvbuf
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (i + 1 < argc && a == "--listen") listen = argv[++i];
        else if (i + 1 < argc && a == "--port") port = std::strtol(argv[++i], nullptr, 10);
        else if (i + 1 < argc && a == "--rcvbuf") rcvbuf = std::strtol(argv[++i], nullptr, 10);
        else {
            std::fprintf(stderr, "usage: bench-udp-sink [--listen ADDR] [--port N] [--rcvbuf BYTES]\n");
            return 2;
        }
    }
    // The stop signals stay blocked; the loop looks for them with sigtimedwait between reads.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, nullptr);
    int fd = open_socket(listen, uint16_t(port), int(rcvbuf));
    std::vector<char> bufs(size_t(kBatch) * kMaxDatagram);
    Totals t;
    timespec zero{0, 0};
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        poll(&p, 1, 50);
        while (receive(fd, bufs, t) == kBatch) {}
        if (sigtimedwait(&stop, nullptr, &zero) > 0) break;
    }
    while (receive(fd, bufs, t) > 0) {}  // what is queued was received, not dropped
    // Then a last datagram to ourselves: it carries the socket's drop count as of now, which the
    // ones before it may not (the count rides on datagrams received).
    sockaddr_in self{};
    socklen_t len = sizeof self;
    getsockname(fd, reinterpret_cast<sockaddr*>(&self), &len);
    int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    char byte = 0;
    bool probed = sendto(probe, &byte, 1, 0, reinterpret_cast<sockaddr*>(&self), len) == 1;
    close(probe);
    for (int idle = 0; idle < 20;) {  // until the probe is in and 200 ms pass quietly
        if (receive(fd, bufs, t) > 0) idle = 0;
        else {
            ++idle;
            pollfd p{fd, POLLIN, 0};
            poll(&p, 1, 10);
        }
    }
    if (probed && t.datagrams > 0) {
        t.datagrams -= 1;
        t.bytes -= 1;
    }
    std::printf("received %llu datagrams %llu bytes kernel_drops %u\n", t.datagrams, t.bytes, t.drops);
    close(fd);
    return 0;
}
