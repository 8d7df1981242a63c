// sflow.cpp — datagram framing: header, samples, records. Record bodies are decoded by
// decode_record() (records.cpp) from exactly their own bytes.
#include "sflow_monitor/sflow.h"

#include <arpa/inet.h>

#include "sflow_monitor/xdr.h"

namespace sfm {

namespace {

constexpr uint32_t kFlowSample = 1, kCounterSample = 2, kExpandedFlowSample = 3,
                   kExpandedCounterSample = 4;

CounterSample decode_counter_sample(XdrReader& r, bool expanded) {
    CounterSample s;
    s.expanded = expanded;
    s.sequence = r.u32();
    if (expanded) {
        s.source_class = r.u32();
        s.source_index = r.u32();
    } else {
        uint32_t id = r.u32();
        s.source_class = id >> 24;
        s.source_index = id & 0xFFFFFF;
    }
    size_t at = r.offset();
    s.records_raw = r.view();
    decode_records(s.records_raw, s, at);
    return s;
}

}  // namespace

void decode_records(std::string_view raw, CounterSample& s, size_t base_offset) {
    XdrReader r(raw, base_offset);
    size_t at = r.offset();
    uint32_t n = r.u32();
    if (n > r.remaining() / 8)  // each record has an 8-byte header at least
        throw DecodeError(at, "num_records " + std::to_string(n) + " exceeds the sample");
    s.records.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
        size_t offset = r.offset();
        uint32_t format = r.u32();
        uint32_t len = r.u32();
        XdrReader body = r.sub(len, "counter record");
        // Decoded in place in its slot: no temporary record to copy.
        Record& rec = s.records.emplace_back();
        rec.offset = offset;
        rec.data_format = format;
        rec.body = body.view();
        try {
            decode_record(format, body, rec.value);
        } catch (const DecodeError& e) {
            s.records.pop_back();
            s.errors.push_back({format, std::string("record ") + std::to_string(format >> 12) +
                                            ":" + std::to_string(format & 0xFFF) + ": " +
                                            e.what()});
            continue;  // a bad record costs that record only
        }
        if (std::holds_alternative<std::monostate>(rec.value)) ++s.unknown_records;
    }
}

RecordValue find_record_value(std::string_view raw, uint32_t data_format) {
    try {
        XdrReader r(raw);
        uint32_t n = r.u32();
        for (uint32_t i = 0; i < n && !r.empty(); ++i) {
            uint32_t format = r.u32();
            XdrReader body = r.sub(r.u32(), "counter record");
            if (format != data_format) continue;
            try {
                return decode_record(format, body);
            } catch (const DecodeError&) {
                continue;  // malformed: as decode_records, look for a later good one
            }
        }
    } catch (const DecodeError&) {
    }
    return std::monostate{};
}

Datagram decode_datagram(std::string_view bytes) {
    XdrReader r(bytes);
    Datagram d;
    uint32_t version = r.u32();
    if (version != 5) throw DecodeError(0, "unsupported sflow version " + std::to_string(version));
    size_t at = r.offset();
    uint32_t type = r.u32();
    if (type == 1) {
        d.agent.family = 4;
        auto a = r.opaque(4, "agent address");
        std::copy(a.begin(), a.end(), d.agent.bytes.begin());
    } else if (type == 2) {
        d.agent.family = 6;
        auto a = r.opaque(16, "agent address");
        std::copy(a.begin(), a.end(), d.agent.bytes.begin());
    } else {
        throw DecodeError(at, "bad agent address type " + std::to_string(type));
    }
    d.sub_agent_id = r.u32();
    d.sequence = r.u32();
    d.uptime = r.u32();
    at = r.offset();
    d.num_samples = r.u32();
    if (d.num_samples > r.remaining() / 8)
        throw DecodeError(at, "num_samples " + std::to_string(d.num_samples) +
                                  " exceeds the datagram");
    d.samples.reserve(d.num_samples);
    for (uint32_t i = 0; i < d.num_samples; ++i) {
        uint32_t format = r.u32();
        uint32_t len = r.u32();
        XdrReader body = r.sub(len, "sample");
        if (format == kCounterSample || format == kExpandedCounterSample)
            d.samples.push_back(decode_counter_sample(body, format == kExpandedCounterSample));
        else if (format == kFlowSample || format == kExpandedFlowSample)
            ++d.flow_samples;
        else
            ++d.unknown_samples;
    }
    return d;
}

std::string Address::text() const {
    char buf[INET6_ADDRSTRLEN];
    if (family == 4) return inet_ntop(AF_INET, bytes.data(), buf, sizeof buf);
    if (family == 6) return inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
    return "";
}

std::optional<Address> Address::parse(const std::string& text) {
    Address a;
    if (inet_pton(AF_INET, text.c_str(), a.bytes.data()) == 1) {
        a.family = 4;
        return a;
    }
    if (inet_pton(AF_INET6, text.c_str(), a.bytes.data()) == 1) {
        a.family = 6;
        return a;
    }
    return std::nullopt;
}

Address Address::from_raw(std::string_view raw) {
    Address a;
    if (raw.size() == 4 || raw.size() == 16) {
        a.family = raw.size() == 4 ? 4 : 6;
        std::copy(raw.begin(), raw.end(), a.bytes.begin());
    }
    return a;
}

}  // namespace sfm
