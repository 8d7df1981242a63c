// sflow-gen — hsflowd-like sFlow traffic: N hosts × M VMs, R polling rounds, sent over UDP
// (paced, sendmmsg) or written to a pcap, with an optional JSON Lines file of what every
// sample holds. The datagrams come from generate() (gen.h); this file is options and I/O.
// See docs/sflow-gen.md.
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sflow_monitor/xdr.h"
#include "testkit/gen.h"
#include "testkit/pcap.h"

using namespace sfm;
namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

namespace {

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Dest {
    sockaddr_storage addr{};
    socklen_t len = 0;
    Address ip;  // numeric form of addr
    uint16_t port = 0;
};

// "HOST:PORT", "[IPV6]:PORT".
Dest resolve(const std::string& text) {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size())
        throw UsageError("--dest " + text + ": expected HOST:PORT or [IPV6]:PORT");
    std::string host = text.substr(0, colon), port = text.substr(colon + 1);
    if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    else if (host.find(':') != std::string::npos)
        throw UsageError("--dest " + text + ": put an IPv6 address in brackets, e.g. [::1]:6343");
    char* end = nullptr;
    unsigned long p = std::strtoul(port.c_str(), &end, 10);
    if (*end || p < 1 || p > 65535) throw UsageError("--dest " + text + ": bad port " + port);
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0) throw UsageError("--dest " + text + ": " + gai_strerror(rc));
    Dest d;
    std::memcpy(&d.addr, res->ai_addr, res->ai_addrlen);
    d.len = socklen_t(res->ai_addrlen);
    freeaddrinfo(res);
    char buf[NI_MAXHOST];
    getnameinfo(reinterpret_cast<sockaddr*>(&d.addr), d.len, buf, sizeof buf, nullptr, 0, NI_NUMERICHOST);
    d.ip = *Address::parse(buf);
    d.port = uint16_t(p);
    return d;
}

void write_pcap(const GenResult& g, const Dest& dest, const std::string& path) {
    PcapWriter pcap(path);
    Address v4_lo = *Address::parse("127.0.0.1"), v6_lo = *Address::parse("::1");
    for (const GenDatagram& d : g.datagrams) {
        // A raw-IP packet from the agent to --dest; a family mismatch goes to loopback.
        const Address& to = dest.ip.family == d.agent.family ? dest.ip : d.agent.family == 4 ? v4_lo : v6_lo;
        pcap.write(d.ts_us, d.agent.text(), uint16_t(40000 + d.host % 20000), to.text(), dest.port, d.bytes);
    }
}

// Pass p > 0 of a looped set: continue each agent's datagram sequence and uptime.
void restamp(GenDatagram& d, uint32_t pass, uint32_t per_host, uint32_t period_ms) {
    size_t at = d.agent.family == 6 ? 28 : 16;  // version, address type, address, sub-agent
    XdrWriter w(d.bytes);
    w.patch_u32(at, d.sequence + pass * per_host);
    w.patch_u32(at + 4, d.uptime + pass * period_ms);
}

struct SendOptions {
    double rate = 0;      // datagrams/s; 0: as fast as possible
    double duration = 0;  // seconds of looping; 0: one pass
    size_t batch = 64;
};

// Sends the set (looping it for `duration`), paced by the clock. Returns datagrams sent.
uint64_t send_all(GenResult& g, const Dest& dest, const SendOptions& so, uint32_t period_ms,
                  double& seconds) {
    int fd = socket(dest.addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    size_t n = g.datagrams.size();
    std::vector<iovec> iov(n);
    std::vector<mmsghdr> msgs(n);
    for (size_t i = 0; i < n; ++i) {
        iov[i] = {g.datagrams[i].bytes.data(), g.datagrams[i].bytes.size()};
        msgs[i].msg_hdr = {};
        // Not connected: nothing listening yet is not an error (no ICMP refusals).
        msgs[i].msg_hdr.msg_name = const_cast<sockaddr_storage*>(&dest.addr);
        msgs[i].msg_hdr.msg_namelen = dest.len;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    size_t batch = so.rate > 0 ? std::clamp(size_t(so.rate / 1000), size_t(1), so.batch) : so.batch;
    auto start = Clock::now();
    auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(so.duration));
    uint64_t sent = 0;
    bool done = false;
    for (uint32_t pass = 0; !done; ++pass) {
        if (pass > 0)
            for (GenDatagram& d : g.datagrams) restamp(d, pass, g.per_host[d.host], period_ms);
        for (size_t i = 0; i < n && !done;) {
            if (so.rate > 0) {
                auto due = start + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(double(sent) / so.rate));
                if (Clock::now() < due) std::this_thread::sleep_until(due);
            }
            int r = sendmmsg(fd, &msgs[i], unsigned(std::min(batch, n - i)), 0);
            if (r < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == ENOBUFS) {  // socket buffer full: wait for room
                    pollfd p{fd, POLLOUT, 0};
                    poll(&p, 1, 10);
                    continue;
                }
                int e = errno;
                close(fd);
                throw std::runtime_error(std::string("sendmmsg: ") + std::strerror(e));
            }
            i += size_t(r);
            sent += uint64_t(r);
            if (so.duration > 0 && Clock::now() >= deadline) done = true;
        }
        if (so.duration <= 0) done = true;
    }
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
    close(fd);
    return sent;
}

int run(int argc, char** argv) {
    GenOptions go;
    SendOptions so;
    std::string dest_text, pcap_path, expect_path, agent_base;
    bool ipv6 = false, quiet = false;
    po::options_description desc(
        "usage: sflow-gen [OPTIONS]\n"
        "Generates hsflowd-like sFlow v5 counter datagrams (hosts with VMs) and sends them\n"
        "over UDP, or writes them to a pcap. Options");
    desc.add_options()
        ("help", "this text")
        ("hosts", po::value(&go.hosts)->value_name("N")->default_value(go.hosts), "hypervisor hosts (agents)")
        ("vms", po::value(&go.vms)->value_name("M")->default_value(go.vms), "VMs per host")
        ("rounds", po::value(&go.rounds)->value_name("R")->default_value(go.rounds), "polling rounds")
        ("interval", po::value(&go.interval_ms)->value_name("MS")->default_value(go.interval_ms), "polling interval, ms")
        ("seed", po::value(&go.seed)->value_name("S")->default_value(go.seed), "random seed (same seed: same bytes)")
        ("agent-base", po::value(&agent_base)->value_name("ADDR"), "address of the first agent (default 10.0.0.1, "
                                               "with --ipv6 2001:db8::1)")
        ("ipv6", po::bool_switch(&ipv6), "IPv6 agent addresses")
        ("start-near-wrap", po::bool_switch(&go.start_near_wrap), "32-bit counters wrap within 2-4 rounds")
        ("migrate", po::bool_switch(&go.migrate), "halfway through, VM 1 of host 1 moves to host 2")
        ("dest", po::value(&dest_text)->value_name("HOST:PORT")->default_value("127.0.0.1:6343"), "HOST:PORT or [IPV6]:PORT")
        ("rate", po::value(&so.rate)->value_name("D")->default_value(0), "datagrams/s (0: as fast as possible)")
        ("duration", po::value(&so.duration)->value_name("S")->default_value(0), "seconds to loop the set (0: one pass)")
        ("batch", po::value(&so.batch)->value_name("N")->default_value(so.batch), "datagrams per sendmmsg call")
        ("pcap", po::value(&pcap_path)->value_name("FILE"), "write a pcap FILE instead of sending")
        ("expect", po::value(&expect_path)->value_name("FILE"), "write what each sample holds to FILE (JSON Lines)")
        ("quiet", po::bool_switch(&quiet), "no summary line");
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        throw UsageError(e.what());
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    if (agent_base.empty()) agent_base = ipv6 ? "2001:db8::1" : "10.0.0.1";
    auto base = Address::parse(agent_base);
    if (!base) throw UsageError("--agent-base " + agent_base + ": not an IP address");
    if (ipv6 && base->family != 6) throw UsageError("--ipv6 with an IPv4 --agent-base");
    go.agent_base = *base;
    if (so.rate < 0 || so.duration < 0) throw UsageError("--rate and --duration must not be negative");
    if (so.batch < 1 || so.batch > 1024) throw UsageError("--batch must be 1 to 1024");
    if (!pcap_path.empty() && (so.rate > 0 || so.duration > 0))
        throw UsageError("--rate and --duration apply to sending, not to --pcap");
    Dest dest = resolve(dest_text);
    go.expect = !expect_path.empty();

    GenResult g;
    try {
        g = generate(go);
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    if (go.expect) {
        std::ofstream out(expect_path, std::ios::binary);
        for (const std::string& line : g.expect) out << line << '\n';
        if (!out.flush()) throw std::runtime_error("cannot write " + expect_path);
    }
    if (!pcap_path.empty()) {
        write_pcap(g, dest, pcap_path);
        return 0;
    }
    double seconds = 0;
    uint64_t sent = send_all(g, dest, so, go.rounds * go.interval_ms, seconds);
    if (!quiet)
        std::fprintf(stderr, "sflow-gen: sent %llu datagrams in %.3f s (%.0f datagrams/s)\n",
                     static_cast<unsigned long long>(sent), seconds,
                     seconds > 0 ? double(sent) / seconds : 0.0);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const UsageError& e) {
        std::fprintf(stderr, "sflow-gen: %s (see --help)\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sflow-gen: %s\n", e.what());
        return 1;
    }
}
