// ingest.cpp — ingest wired from its three parts: the UDP receiver (udp_receiver.h), admission
// (admission.h) and the store writer (store_writer.h). The receiver thread's loop lives here:
// poll → receive → decode → admit → samples_to_store → hand over. The catch site for bad
// datagrams (counted, dropped) and for the receiver thread's own end.
#include "sflow_monitor/ingest.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "sflow_monitor/admission.h"
#include "sflow_monitor/clock.h"
#include "sflow_monitor/json.h"  // append_valid_utf8
#include "sflow_monitor/log.h"
#include "sflow_monitor/store_writer.h"
#include "sflow_monitor/udp_receiver.h"
#include "sflow_monitor/xdr.h"

namespace sfm {

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

struct Ingest::Impl {
    IngestOptions opts;
    Store& store;
    Stats& stats;
    AdmissionRules rules;
    std::optional<UdpReceiver> rx;
    std::optional<StoreWriter> writer;
    int stop_pipe[2] = {-1, -1};
    std::thread receiver;
    SampleBatch pending;           // receiver only
    int64_t first_pending_ms = 0;  // receiver only
    std::atomic<bool> failed{false};

    Impl(const IngestOptions& o, Store& st, Stats& s) : opts(o), store(st), stats(s) {}
    ~Impl() {
        for (int p : stop_pipe)
            if (p >= 0) close(p);
    }

    void fail() {
        failed = true;
        if (opts.on_failure) opts.on_failure();
    }

    // The catch site for one datagram.
    void handle(std::string_view bytes, const Address& source, int64_t now) {
        ++stats.datagrams_received;
        if (opts.test_fault == "receiver") throw std::runtime_error("test fault injected in the receiver");
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
        switch (admit(rules, d.agent, source)) {
            case Admission::accepted: break;
            case Admission::agent_not_allowed: ++stats.datagrams_rejected.agent_not_allowed; return;
            case Admission::agent_not_source: ++stats.datagrams_rejected.agent_not_source; return;
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

    // Receives until the stop pipe is written; the writer gets what is pending whenever it is
    // free, so batches grow with the load and the socket is drained during commits.
    void run() {
        pollfd fds[2] = {{rx->fd(), POLLIN, 0}, {stop_pipe[0], POLLIN, 0}};
        auto on_datagram = [this](std::string_view bytes, const Address& source, int64_t arrived) {
            handle(bytes, source, arrived);
        };
        for (;;) {
            int timeout = pending.empty() ? 100 : 5;  // holding samples: retry the hand-over soon
            int pr = poll(fds, 2, timeout);
            if (pr < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "udp poll");
            if (fds[1].revents) return;
            bool drained = true;
            if (pr > 0 && (fds[0].revents & POLLIN)) {
                int n = rx->receive(on_datagram);
                stats.kernel_drops = rx->kernel_drops();
                drained = n < UdpReceiver::kBatch;
            }
            if (!pending.empty() && (drained || pending.size() >= opts.max_batch ||
                                     now_ms() - first_pending_ms >= opts.flush_ms))
                writer->offer(pending);
        }
    }
};

Ingest::Ingest(const IngestOptions& opts, Store& store, Stats& stats)
    : impl_(std::make_unique<Impl>(opts, store, stats)) {}

Ingest::~Ingest() { stop(); }

void Ingest::start() {
    auto& s = *impl_;
    for (auto& text : s.opts.allow) {
        auto c = Cidr::parse(text);
        if (!c) throw std::runtime_error("bad agent network '" + text + "'");
        s.rules.allow.push_back(*c);
    }
    s.rules.require_source_match = s.opts.require_source_match;
    s.rx.emplace(s.opts.listen, s.opts.port, s.opts.rcvbuf_bytes);
    if (pipe2(s.stop_pipe, O_CLOEXEC) != 0)
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    StoreWriterOptions wo;
    wo.backlog_bytes = s.opts.backlog_bytes;
    wo.purge_every_ms = s.opts.purge_every_ms;
    wo.compact_after_ms = s.opts.compact_after_ms;
    // samples wait up to flush-ms in the receiver: keep the cutoff behind what may still come
    wo.compact_margin_ms = 2 * int64_t(s.opts.flush_ms);
    wo.test_fault = s.opts.test_fault == "writer";
    s.writer.emplace(wo, s.store, s.stats, [&s] { s.fail(); });
    s.writer->start();
    s.receiver = std::thread([&s] {
        pthread_setname_np(pthread_self(), "sfm-receiver");
        try {
            s.run();
        } catch (const std::exception& e) {  // nothing escapes the thread
            log_error("ingest receiver stopped: %s", e.what());
            s.fail();
        }
        // stopping, or dead: the writer takes what is left, then ends
        s.writer->finish(s.pending);
    });
    log_info("listening for sflow on udp %s port %u", s.opts.listen.c_str(), unsigned(s.rx->port()));
}

void Ingest::stop() {
    auto& s = *impl_;
    if (!s.receiver.joinable()) return;
    char c = 1;
    ssize_t w = write(s.stop_pipe[1], &c, 1);
    (void)w;
    s.receiver.join();
}

bool Ingest::failed() const { return impl_->failed; }

uint16_t Ingest::port() const { return impl_->rx ? impl_->rx->port() : 0; }

}  // namespace sfm
