// encode.h — the XDR encoder over the field lists in records.h: the inverse of
// decode_record(). Used by tests (synthetic datagrams) and by sflow-gen.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sflow_monitor/records.h"
#include "sflow_monitor/sflow.h"
#include "sflow_monitor/xdr.h"

namespace sfm {

struct Encoder {
    XdrWriter& w;
    template <class T>
    void extra(const char* name, const T& x) { (*this)(name, x); }
    void operator()(const char*, uint32_t x) { w.u32(x); }
    void operator()(const char*, uint64_t x) { w.u64(x); }
    void operator()(const char*, float x) { w.f32(x); }
    void operator()(const char*, const Hundredths& x) { w.i32(x.value); }
    void operator()(const char*, const MachineType& x) { w.u32(x.value); }
    void operator()(const char*, const OsName& x) { w.u32(x.value); }
    template <size_t N>
    void operator()(const char*, const Str<N>& x) { w.string(x.value); }
    void operator()(const char*, const Uuid& x) {
        w.opaque({reinterpret_cast<const char*>(x.bytes.data()), 16});
    }
    void operator()(const char*, const Mac& x) {
        w.opaque({reinterpret_cast<const char*>(x.bytes.data()), 6});
    }
    void operator()(const char*, const std::optional<uint32_t>& x) {
        if (x) w.u32(*x);
    }
    template <class T>
    void operator()(const char* name, const std::vector<T>& xs) {
        w.u32(uint32_t(xs.size()));
        for (auto& x : xs) {
            if constexpr (std::is_same_v<T, Mac>) (*this)(name, x);
            else T::fields(x, *this);
        }
    }
};

// Appends one counter record (data_format, length, body) to out.
template <class T>
void encode_record(std::string& out, const T& rec) {
    XdrWriter w(out);
    w.u32(T::format);
    size_t len_at = w.size();
    w.u32(0);
    Encoder e{w};
    T::fields(rec, e);
    w.patch_u32(len_at, uint32_t(w.size() - len_at - 4));
}

// One counter record's body, as it follows its data_format and length on the wire.
template <class T>
std::string record_body(const T& rec) {
    std::string framed;
    encode_record(framed, rec);
    return framed.substr(8);
}

// Builds datagrams field by field, so a test states only what it cares about.
class DatagramBuilder {
public:
    DatagramBuilder(const Address& agent, uint32_t sub_agent_id, uint32_t sequence, uint32_t uptime)
        : agent_(agent), sub_agent_(sub_agent_id), seq_(sequence), uptime_(uptime) {}

    // Starts an expanded (0:4) or compact (0:2) counter sample; records follow with add().
    DatagramBuilder& counter_sample(uint32_t seq, uint32_t source_class, uint32_t source_index,
                                    bool expanded = true);
    template <class T>
    DatagramBuilder& add(const T& rec) {
        encode_record(records_, rec);
        ++num_records_;
        return *this;
    }
    // Any record bytes at all (unknown formats, malformed bodies).
    DatagramBuilder& add_raw(uint32_t data_format, const std::string& body);
    // Any sample at all (flow samples, unknown formats).
    DatagramBuilder& raw_sample(uint32_t data_format, const std::string& body);
    size_t size_if_built() const;  // bytes of build() now
    std::string build();           // the datagram; the builder is then empty

private:
    void close_sample();
    Address agent_;
    uint32_t sub_agent_, seq_, uptime_;
    std::string samples_;     // finished samples
    uint32_t num_samples_ = 0;
    std::string sample_head_; // open sample: format, seq, source
    bool open_ = false;
    bool expanded_ = true;
    std::string records_;
    uint32_t num_records_ = 0;
};

}  // namespace sfm
