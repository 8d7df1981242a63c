// udp_receiver.cpp — the UDP socket of ingest (see udp_receiver.h): bind, recvmmsg, and the
// control messages that carry each datagram's arrival time and the socket's drop counter.
#include "sflow_monitor/udp_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "sflow_monitor/clock.h"
#include "sflow_monitor/log.h"

namespace sfm {

namespace {

Address from_sockaddr(const sockaddr_storage& ss) {
    Address a;
    if (ss.ss_family == AF_INET) {
        auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
        a.family = 4;
        std::memcpy(a.bytes.data(), &s4->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {  // IPv4 peer on a dual-stack socket
            a.family = 4;
            std::memcpy(a.bytes.data(), reinterpret_cast<const uint8_t*>(&s6->sin6_addr) + 12, 4);
        } else {
            a.family = 6;
            std::memcpy(a.bytes.data(), &s6->sin6_addr, 16);
        }
    }
    return a;
}

}  // namespace

UdpReceiver::UdpReceiver(const std::string& listen, uint16_t port, int rcvbuf_bytes)
    : bufs_(size_t(kBatch) * kMaxDatagram) {
    auto addr = Address::parse(listen);
    if (!addr) throw std::runtime_error("bad udp listen address '" + listen + "'");
    sockaddr_storage ss{};
    socklen_t len;
    if (addr->family == 4) {
        auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        std::memcpy(&s4->sin_addr, addr->bytes.data(), 4);
        len = sizeof *s4;
    } else {
        auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        std::memcpy(&s6->sin6_addr, addr->bytes.data(), 16);
        len = sizeof *s6;
    }
    fd_ = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("udp socket: ") + std::strerror(errno));
    int zero = 0, one = 1;
    if (addr->family == 6) setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    setsockopt(fd_, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof one);  // arrival time per datagram
    int want = rcvbuf_bytes;
    if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
        setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    int got = 0;
    socklen_t gl = sizeof got;
    getsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &got, &gl);
    if (got / 2 < want)  // Linux reports twice what it grants
        log_warn("udp receive buffer is %d bytes, not the %d asked for (raise net.core.rmem_max)",
                 got / 2, want);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        int err = errno;
        close(fd_);
        fd_ = -1;
        throw std::runtime_error("udp bind " + listen + " port " + std::to_string(port) + ": " +
                                 std::strerror(err));
    }
    sockaddr_storage bound{};
    socklen_t bl = sizeof bound;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &bl);
    port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                              : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
}

UdpReceiver::~UdpReceiver() {
    if (fd_ >= 0) close(fd_);
}

int UdpReceiver::receive(const Fn& fn) {
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    sockaddr_storage peers[kBatch];
    alignas(cmsghdr) char ctrl[kBatch][CMSG_SPACE(sizeof(uint32_t)) + CMSG_SPACE(sizeof(timeval))];
    for (int i = 0; i < kBatch; ++i) {
        iov[i] = {bufs_.data() + size_t(i) * kMaxDatagram, kMaxDatagram};
        msgs[i].msg_hdr = {};
        msgs[i].msg_hdr.msg_name = &peers[i];
        msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_control = ctrl[i];
        msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i];
    }
    int n = recvmmsg(fd_, msgs, kBatch, MSG_DONTWAIT, nullptr);
    int64_t now = now_ms();
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) log_error("udp receive: %s", std::strerror(errno));
        return 0;
    }
    for (int i = 0; i < n; ++i) {
        int64_t arrived = now;  // the kernel's receive time when it gives one
        for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
            if (c->cmsg_level != SOL_SOCKET) continue;
            if (c->cmsg_type == SO_RXQ_OVFL) {
                std::memcpy(&kernel_drops_, CMSG_DATA(c), sizeof kernel_drops_);
            } else if (c->cmsg_type == SCM_TIMESTAMP) {
                timeval tv;
                std::memcpy(&tv, CMSG_DATA(c), sizeof tv);
                arrived = int64_t(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
            }
        }
        size_t len = std::min<size_t>(msgs[i].msg_len, kMaxDatagram);
        fn(std::string_view(bufs_.data() + size_t(i) * kMaxDatagram, len), from_sockaddr(peers[i]), arrived);
    }
    return n;
}

}  // namespace sfm
