// ingest.cpp — the ingest thread: recvmmsg → decode_datagram → batched Store::write().
// The catch site for bad datagrams (counted, dropped) and store failures (logged, counted).
#include "sflow_monitor/ingest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstring>
#include <stdexcept>

#include "sflow_monitor/clock.h"
#include "sflow_monitor/json.h"  // append_valid_utf8
#include "sflow_monitor/log.h"
#include "sflow_monitor/xdr.h"

namespace sfm {

namespace {

constexpr int kBatch = 64;          // datagrams per recvmmsg
constexpr size_t kMaxDatagram = 65536;

struct Cidr {
    Address net;
    int bits = 0;
    bool contains(const Address& a) const {
        if (a.family != net.family) return false;
        int full = bits / 8, rest = bits % 8;
        if (std::memcmp(a.bytes.data(), net.bytes.data(), size_t(full)) != 0) return false;
        if (!rest) return true;
        uint8_t mask = uint8_t(0xFF << (8 - rest));
        return (a.bytes[size_t(full)] & mask) == (net.bytes[size_t(full)] & mask);
    }
};

Cidr parse_cidr(const std::string& text) {
    auto slash = text.find('/');
    auto addr = Address::parse(text.substr(0, slash));
    if (!addr) throw std::runtime_error("bad agent network '" + text + "'");
    int max = addr->family == 4 ? 32 : 128;
    int bits = max;
    if (slash != std::string::npos) {
        const std::string b = text.substr(slash + 1);
        if (b.empty() || b.size() > 3 || b.find_first_not_of("0123456789") != std::string::npos ||
            std::stoi(b) > max)
            throw std::runtime_error("bad prefix length in agent network '" + text + "'");
        bits = std::stoi(b);
    }
    return {*addr, bits};
}

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

void samples_to_store(const Datagram& d, int64_t now, SampleBatch& out, Stats& stats) {
    std::string name;
    for (const CounterSample& s : d.samples) {
        SampleMeta meta{now, d.agent, d.sub_agent_id, d.sequence, d.uptime, s.sequence, s.source_class,
                        s.source_index};
        Entity kind;
        name.clear();
        if (s.source_class == uint32_t(SourceClass::physical)) {
            kind = Entity::host;
            name = d.agent.raw();
        } else if (s.source_class == uint32_t(SourceClass::logical)) {
            const HostDescr* descr = s.find<HostDescr>();
            // A VM is named by its host_descr hostname, else by its UUID; without either (no
            // host_descr, or an empty name and the all-zero "unknown" UUID) it has no identity.
            if (!descr || (descr->hostname.value.empty() && descr->uuid.bytes == Uuid{}.bytes)) {
                ++stats.samples_ignored;
                continue;
            }
            kind = Entity::vm;
            if (descr->hostname.value.empty()) name = descr->uuid.text();
            else append_valid_utf8(name, descr->hostname.value);  // queryable as the API shows it
        } else if (s.source_class == uint32_t(SourceClass::ifindex)) {
            kind = Entity::interface;
            name = d.agent.raw();
            XdrWriter(name).u32(s.source_index);
        } else {
            ++stats.samples_ignored;
            continue;
        }
        out.add(kind, name, meta, s.records_raw);
    }
}

void samples_to_store(const Datagram& d, int64_t now, std::vector<StoredSample>& out, Stats& stats) {
    SampleBatch b;
    samples_to_store(d, now, b, stats);
    for (size_t i = 0; i < b.size(); ++i) {
        SampleView v = b[i];
        out.push_back({v.kind, std::string(v.name), v.meta, std::string(v.records_raw)});
    }
}

constexpr int kWriterNice = 10;  // added to the nice the process runs at (at most 19)

struct Ingest::Impl {
    IngestOptions opts;
    Store& store;
    Stats& stats;
    int fd = -1;
    int stop_pipe[2] = {-1, -1};
    uint16_t bound_port = 0;
    std::vector<Cidr> allow;
    std::thread thread;  // receives and decodes
    std::thread writer;  // the one LMDB writer: batches, purges
    SampleBatch pending;  // receiver only
    int64_t first_pending_ms = 0;  // receiver only
    int64_t last_purge_ms = 0;     // writer only

    // hand-over from receiver to writer
    std::mutex mu;
    std::condition_variable cv;
    SampleBatch handoff;
    bool writer_busy = false, stopping = false, writer_dead = false;

    Impl(const IngestOptions& o, Store& st, Stats& s) : opts(o), store(st), stats(s) {}

    void open_socket() {
        auto addr = Address::parse(opts.listen);
        if (!addr) throw std::runtime_error("bad udp listen address '" + opts.listen + "'");
        sockaddr_storage ss{};
        socklen_t len;
        if (addr->family == 4) {
            auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
            s4->sin_family = AF_INET;
            s4->sin_port = htons(opts.port);
            std::memcpy(&s4->sin_addr, addr->bytes.data(), 4);
            len = sizeof *s4;
        } else {
            auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons(opts.port);
            std::memcpy(&s6->sin6_addr, addr->bytes.data(), 16);
            len = sizeof *s6;
        }
        fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) throw std::runtime_error(std::string("udp socket: ") + std::strerror(errno));
        int zero = 0, one = 1;
        if (addr->family == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof one);  // arrival time per datagram
        int want = opts.rcvbuf_bytes;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
        int got = 0;
        socklen_t gl = sizeof got;
        getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl);
        if (got / 2 < want)  // Linux reports twice what it grants
            log_warn("udp receive buffer is %d bytes, not the %d asked for (raise net.core.rmem_max)",
                     got / 2, want);
        if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
            throw std::runtime_error("udp bind " + opts.listen + " port " + std::to_string(opts.port) +
                                     ": " + std::strerror(errno));
        sockaddr_storage bound{};
        socklen_t bl = sizeof bound;
        getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bl);
        bound_port = ntohs(bound.ss_family == AF_INET
                               ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                               : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    }

    // The catch site for one datagram.
    void handle(std::string_view bytes, const Address& source, int64_t now) {
        ++stats.datagrams_received;
        Datagram d;
        try {
            d = decode_datagram(bytes);
        } catch (const DecodeError& e) {
            if (bytes.size() >= 4 && (uint8_t(bytes[3]) != 5 || bytes[0] || bytes[1] || bytes[2]))
                ++stats.datagrams_rejected.version;
            else
                ++stats.datagrams_rejected.malformed;
            log_debug("dropped datagram from %s: %s", source.text().c_str(), e.what());
            return;
        }
        if (!allow.empty()) {
            bool ok = false;
            for (auto& c : allow) ok = ok || c.contains(d.agent);
            if (!ok) {
                ++stats.datagrams_rejected.agent_not_allowed;
                return;
            }
        }
        if (opts.require_source_match && !(d.agent == source)) {
            ++stats.datagrams_rejected.agent_not_source;
            return;
        }
        ++stats.datagrams_decoded;
        stats.note_datagram(d, now);
        stats.samples_counter += d.samples.size();
        stats.samples_flow_skipped += d.flow_samples;
        stats.samples_unknown_skipped += d.unknown_samples;
        for (auto& s : d.samples) {
            stats.records_unknown += s.unknown_records;
            stats.records_malformed += s.errors.size();
        }
        if (pending.empty()) first_pending_ms = now_ms();
        samples_to_store(d, now, pending, stats);
    }

    // Receiver: passes what it holds to the writer when the writer is free; meanwhile it keeps
    // receiving, so batches grow with the load and the socket is drained during commits.
    void hand_over() {
        {
            std::unique_lock<std::mutex> lock(mu);
            if (writer_busy || !handoff.empty()) {
                if (pending.bytes() < opts.backlog_bytes) return;
                // The store cannot keep up. Stop reading until the writer is free: what we
                // accepted is kept, memory stays bounded, and the kernel drops (and counts,
                // SO_RXQ_OVFL) what we could not accept.
                ++stats.receiver_pauses;
                cv.wait(lock, [&] { return writer_dead || (!writer_busy && handoff.empty()); });
                if (writer_dead) {
                    stats.samples_backlog_dropped += pending.size();
                    pending.clear();
                    return;
                }
            }
            handoff.swap(pending);
            writer_busy = true;
        }
        cv.notify_all();
    }

    void write(SampleBatch& batch) {
        try {
            store.write(batch);
            stats.samples_stored += batch.size();
            ++stats.store_commits;
        } catch (const std::exception& e) {
            ++stats.store_errors;
            log_error("%s; %zu samples lost", e.what(), batch.size());
        }
        batch.clear();
    }

    void write_loop() {
        SampleBatch batch;
        last_purge_ms = now_ms();
        for (;;) {
            {
                std::unique_lock<std::mutex> lock(mu);
                writer_busy = false;
                cv.notify_all();  // the receiver may be waiting for an idle writer (stop)
                cv.wait_for(lock, std::chrono::milliseconds(500),
                            [&] { return !handoff.empty() || stopping; });
                if (handoff.empty() && stopping) return;
                batch.swap(handoff);
                writer_busy = !batch.empty();
            }
            if (!batch.empty()) write(batch);
            maybe_purge(now_ms());
        }
    }

    void maybe_purge(int64_t now) {
        if (now - last_purge_ms < opts.purge_every_ms) return;
        last_purge_ms = now;
        stats.mark_stored(now);
        try {
            stats.samples_purged += store.purge(now);
        } catch (const std::exception& e) {
            ++stats.store_errors;
            log_error("purge: %s", e.what());
        }
    }

    void run() {
        std::vector<char> bufs(size_t(kBatch) * kMaxDatagram);
        mmsghdr msgs[kBatch];
        iovec iov[kBatch];
        sockaddr_storage peers[kBatch];
        alignas(cmsghdr) char ctrl[kBatch][CMSG_SPACE(sizeof(uint32_t)) + CMSG_SPACE(sizeof(timeval))];
        pollfd fds[2] = {{fd, POLLIN, 0}, {stop_pipe[0], POLLIN, 0}};
        for (;;) {
            int64_t now = now_ms();
            int timeout = pending.empty() ? 100 : 5;  // holding samples: retry the hand-over soon
            int pr = poll(fds, 2, timeout);
            if (pr < 0 && errno != EINTR) {
                log_error("udp poll: %s", std::strerror(errno));
                break;
            }
            if (fds[1].revents) break;
            bool drained = true;
            if (pr > 0 && (fds[0].revents & POLLIN)) {
                for (int i = 0; i < kBatch; ++i) {
                    iov[i] = {bufs.data() + size_t(i) * kMaxDatagram, kMaxDatagram};
                    msgs[i].msg_hdr = {};
                    msgs[i].msg_hdr.msg_name = &peers[i];
                    msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
                    msgs[i].msg_hdr.msg_iov = &iov[i];
                    msgs[i].msg_hdr.msg_iovlen = 1;
                    msgs[i].msg_hdr.msg_control = ctrl[i];
                    msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i];
                }
                int n = recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
                now = now_ms();
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                    log_error("udp receive: %s", std::strerror(errno));
                for (int i = 0; i < n; ++i) {
                    int64_t arrived = now;  // the kernel's receive time when it gives one
                    for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c;
                         c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
                        if (c->cmsg_level != SOL_SOCKET) continue;
                        if (c->cmsg_type == SO_RXQ_OVFL) {
                            uint32_t drops;
                            std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
                            stats.kernel_drops = drops;
                        } else if (c->cmsg_type == SCM_TIMESTAMP) {
                            timeval tv;
                            std::memcpy(&tv, CMSG_DATA(c), sizeof tv);
                            arrived = int64_t(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
                        }
                    }
                    size_t len = std::min<size_t>(msgs[i].msg_len, kMaxDatagram);
                    handle(std::string_view(bufs.data() + size_t(i) * kMaxDatagram, len),
                           from_sockaddr(peers[i]), arrived);
                }
                drained = n < kBatch;
            }
            if (!pending.empty() &&
                (drained || pending.size() >= opts.max_batch || now - first_pending_ms >= opts.flush_ms))
                hand_over();
        }
        // stopping: the writer takes the rest, then ends
        {
            std::unique_lock<std::mutex> lock(mu);
            cv.wait(lock, [&] { return !writer_busy && handoff.empty(); });
            handoff.swap(pending);
            stopping = true;
        }
        cv.notify_all();
    }
};

Ingest::Ingest(const IngestOptions& opts, Store& store, Stats& stats)
    : impl_(std::make_unique<Impl>(opts, store, stats)) {}

Ingest::~Ingest() {
    stop();
    if (impl_->fd >= 0) close(impl_->fd);
    for (int p : impl_->stop_pipe)
        if (p >= 0) close(p);
}

void Ingest::start() {
    auto& s = *impl_;
    for (auto& c : s.opts.allow) s.allow.push_back(parse_cidr(c));
    s.open_socket();
    if (pipe2(s.stop_pipe, O_CLOEXEC) != 0)
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    s.writer = std::thread([&s] {
        // Below the receiver and the API workers: a busy writer only lets the backlog grow
        // (bounded by `backlog`), while a starved receiver loses datagrams. Linux applies
        // nice per thread. Relative: a service started under `nice` keeps its writer below it.
        pid_t tid = pid_t(syscall(SYS_gettid));
        errno = 0;
        int own = getpriority(PRIO_PROCESS, tid);  // -1 is a valid nice: errno tells
        if (errno == 0) setpriority(PRIO_PROCESS, tid, std::min(own + kWriterNice, 19));
        pthread_setname_np(pthread_self(), "sfm-writer");  // as top -H and ps -L show it
        try {
            s.write_loop();
        } catch (const std::exception& e) {  // nothing escapes the thread
            log_error("store writer stopped: %s", e.what());
            std::lock_guard<std::mutex> lock(s.mu);
            s.writer_dead = true;
            s.writer_busy = false;
            s.handoff.clear();
        }
        s.cv.notify_all();
    });
    s.thread = std::thread([&s] {
        pthread_setname_np(pthread_self(), "sfm-receiver");
        try {
            s.run();
        } catch (const std::exception& e) {  // nothing escapes the thread
            log_error("ingest stopped: %s", e.what());
        }
    });
    log_info("listening for sflow on udp %s port %u", s.opts.listen.c_str(), unsigned(s.bound_port));
}

void Ingest::stop() {
    auto& s = *impl_;
    if (!s.thread.joinable()) return;
    char c = 1;
    ssize_t w = write(s.stop_pipe[1], &c, 1);
    (void)w;
    s.thread.join();
    s.writer.join();
}

uint16_t Ingest::port() const { return impl_->bound_port; }

}  // namespace sfm
