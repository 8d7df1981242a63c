// sflow.h — sFlow v5 datagram → counter samples. Pure: bytes in, structures out, no I/O.
//
// Caveats:
//  - Everything returned holds string_views into the input bytes: keep the bytes alive
//    as long as the Datagram.
//  - decode_datagram throws DecodeError for a malformed datagram (bad version, bad address
//    type, a sample or record whose length overruns its container). A record whose body is
//    too short for its structure costs only that record (counted in bad_records).
//  - Flow samples and unknown sample formats are skipped by length and counted.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sflow_monitor/records.h"

namespace sfm {

// An agent address, IPv4 or IPv6.
struct Address {
    uint8_t family = 0;  // 4 or 6; 0 = none
    std::array<uint8_t, 16> bytes{};
    std::string text() const;  // dotted quad, or RFC 5952 for IPv6
    std::string_view raw() const {  // 4 or 16 bytes
        return {reinterpret_cast<const char*>(bytes.data()), size_t(family == 4 ? 4 : family == 6 ? 16 : 0)};
    }
    static std::optional<Address> parse(const std::string& text);
    static Address from_raw(std::string_view raw);  // inverse of raw()
    bool operator==(const Address& o) const { return family == o.family && bytes == o.bytes; }
    bool operator<(const Address& o) const {
        return family != o.family ? family < o.family : bytes < o.bytes;
    }
};

struct Record {
    Record() {}  // user-provided: emplace_back() then skips zeroing the whole variant (hot path)
    uint32_t data_format = 0;  // enterprise << 12 | format
    size_t offset = 0;         // of the record header, from the start of the decoded buffer
    std::string_view body;     // exactly `length` bytes as sent
    RecordValue value;         // monostate when unknown or malformed
};

struct RecordError {
    uint32_t data_format = 0;
    std::string message;  // includes the offset
};

enum class SourceClass : uint32_t { ifindex = 0, smonvlan = 1, physical = 2, logical = 3 };

struct CounterSample {
    uint32_t sequence = 0;
    uint32_t source_class = 0;
    uint32_t source_index = 0;
    bool expanded = true;          // 0:4 (expanded) or 0:2 (compact)
    std::string_view records_raw;  // num_records u32 + records, as sent (what the store keeps)
    std::vector<Record> records;
    uint32_t unknown_records = 0;
    std::vector<RecordError> errors;  // malformed records, skipped

    template <class T>
    const T* find() const {
        for (const auto& r : records)
            if (auto* p = std::get_if<T>(&r.value)) return p;
        return nullptr;
    }
};

struct Datagram {
    Address agent;
    uint32_t sub_agent_id = 0;
    uint32_t sequence = 0;
    uint32_t uptime = 0;  // ms
    uint32_t num_samples = 0;
    std::vector<CounterSample> samples;  // counter samples only
    uint32_t flow_samples = 0;           // 0:1 and 0:3, skipped
    uint32_t unknown_samples = 0;        // other formats, skipped
};

Datagram decode_datagram(std::string_view bytes);

// Decodes a counter sample's records region (records_raw: num_records u32 + records) into
// out.records / unknown_records / errors. Used by decode_datagram and by the store's readers.
// `base_offset` is where raw starts in the enclosing buffer, for error messages.
void decode_records(std::string_view raw, CounterSample& out, size_t base_offset = 0);

// The first well-formed record of type T in a records region (records_raw), decoding only
// that record: the query path's fast lookup. Empty when absent or malformed.
RecordValue find_record_value(std::string_view records_raw, uint32_t data_format);
template <class T>
std::optional<T> find_record(std::string_view records_raw) {
    RecordValue v = find_record_value(records_raw, T::format);
    if (auto* p = std::get_if<T>(&v)) return std::move(*p);
    return std::nullopt;
}

}  // namespace sfm
