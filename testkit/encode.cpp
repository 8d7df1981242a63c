// encode.cpp — DatagramBuilder: sFlow v5 datagram framing for tests and sflow-gen.
#include "testkit/encode.h"

namespace sfm {

DatagramBuilder& DatagramBuilder::counter_sample(uint32_t seq, uint32_t source_class,
                                                 uint32_t source_index, bool expanded) {
    close_sample();
    open_ = true;
    expanded_ = expanded;
    sample_head_.clear();
    XdrWriter w(sample_head_);
    w.u32(seq);
    if (expanded) {
        w.u32(source_class);
        w.u32(source_index);
    } else {
        w.u32((source_class << 24) | (source_index & 0xFFFFFF));
    }
    return *this;
}

namespace {

// A record or a sample as sFlow frames both: data_format, length, body.
void append_framed(std::string& out, uint32_t data_format, const std::string& body) {
    XdrWriter w(out);
    w.u32(data_format);
    w.u32(uint32_t(body.size()));
    out += body;
}

}  // namespace

DatagramBuilder& DatagramBuilder::add_raw(uint32_t data_format, const std::string& body) {
    append_framed(records_, data_format, body);
    ++num_records_;
    return *this;
}

DatagramBuilder& DatagramBuilder::raw_sample(uint32_t data_format, const std::string& body) {
    close_sample();
    append_framed(samples_, data_format, body);
    ++num_samples_;
    return *this;
}

void DatagramBuilder::close_sample() {
    if (!open_) return;
    XdrWriter w(samples_);
    w.u32(expanded_ ? 4 : 2);
    w.u32(uint32_t(sample_head_.size() + 4 + records_.size()));
    samples_ += sample_head_;
    w.u32(num_records_);
    samples_ += records_;
    ++num_samples_;
    records_.clear();
    num_records_ = 0;
    open_ = false;
}

size_t DatagramBuilder::size_if_built() const {
    size_t header = 4 + 4 + (agent_.family == 6 ? 16 : 4) + 4 * 4;
    size_t open = open_ ? 8 + sample_head_.size() + 4 + records_.size() : 0;
    return header + samples_.size() + open;
}

std::string DatagramBuilder::build() {
    close_sample();
    std::string out;
    XdrWriter w(out);
    w.u32(5);
    w.u32(agent_.family == 6 ? 2 : 1);
    w.opaque(agent_.raw());
    w.u32(sub_agent_);
    w.u32(seq_);
    w.u32(uptime_);
    w.u32(num_samples_);
    out += samples_;
    samples_.clear();
    num_samples_ = 0;
    return out;
}

}  // namespace sfm
