// sflow-decode — prints every sFlow datagram of pcap files (or raw datagram files) as one
// JSON object per line, using the collector's own decoder. See docs/decoding.md.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "sflow_monitor/json.h"
#include "sflow_monitor/sflow.h"
#include "sflow_monitor/xdr.h"
#include "testkit/pcap.h"

using namespace sfm;

namespace {

const char kUsage[] =
    "usage: sflow-decode [--raw] FILE...\n"
    "Decodes the sFlow v5 datagrams in each FILE and prints one JSON object per datagram.\n"
    "  FILE     a classic pcap capture (UDP payloads are decoded), or with --raw a file that\n"
    "           holds exactly one raw sFlow datagram\n"
    "  --raw    treat every FILE as one raw datagram\n"
    "  --help   this text\n"
    "A datagram that does not decode prints {\"error\": ...} and decoding carries on.\n"
    "Exit status: 0 on success, 2 on bad usage or a file that cannot be read.\n";

std::string format_text(uint32_t data_format) {
    return std::to_string(data_format >> 12) + ":" + std::to_string(data_format & 0xFFF);
}

std::string iso_time(int64_t ts_us) {
    time_t secs = time_t(ts_us / 1000000);
    long us = long(ts_us % 1000000);
    if (us < 0) {
        us += 1000000;
        --secs;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    char buf[48];
    size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%06ldZ", us);
    return buf;
}

void write_record(JsonWriter& w, const Record& rec) {
    w.sep();
    w.begin_object();
    w.member("format", format_text(rec.data_format));
    std::visit(
        [&](const auto& value) {
            using T = std::decay_t<decltype(value)>;
            if constexpr (std::is_same_v<T, std::monostate>) {
                w.member("length", uint64_t(rec.body.size()));
            } else {
                w.member("name", T::name);
                w.fields(value);
            }
        },
        rec.value);
    w.end_object();
}

void write_sample(JsonWriter& w, const CounterSample& s) {
    w.sep();
    w.begin_object();
    w.member("source", std::to_string(s.source_class) + ":" + std::to_string(s.source_index));
    w.member("sequence", s.sequence);
    w.member("expanded", s.expanded);
    w.key("records");
    w.begin_array();
    for (const auto& rec : s.records) write_record(w, rec);
    w.end_array();
    w.member("unknown_records", s.unknown_records);
    w.key("errors");
    w.begin_array();
    for (const auto& e : s.errors) {
        w.sep();
        w.begin_object();
        w.member("format", format_text(e.data_format));
        w.member("error", e.message);
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

// One output line. `cap` is null for a raw datagram file.
std::string datagram_line(const std::string& file, size_t index, const CapturedDatagram* cap,
                          std::string_view bytes) {
    std::string out;
    JsonWriter w(out);
    w.begin_object();
    w.member("file", file);
    w.member("index", uint64_t(index));
    if (cap) {
        w.member("time", iso_time(cap->ts_us));
        w.member("ts_us", cap->ts_us);
        w.member("source", cap->src);
        w.member("source_port", uint32_t(cap->src_port));
        w.member("dest_port", uint32_t(cap->dst_port));
    }
    w.member("size", uint64_t(bytes.size()));
    try {
        Datagram d = decode_datagram(bytes);
        std::string body;
        JsonWriter b(body);
        b.member("agent", d.agent.text());
        b.member("sub_agent_id", d.sub_agent_id);
        b.member("sequence", d.sequence);
        b.member("uptime", d.uptime);
        b.member("num_samples", d.num_samples);
        b.member("flow_samples", d.flow_samples);
        b.member("unknown_samples", d.unknown_samples);
        b.key("samples");
        b.begin_array();
        for (const auto& s : d.samples) write_sample(b, s);
        b.end_array();
        out += ',';
        out += body;
    } catch (const DecodeError& e) {
        w.member("error", e.what());
    }
    out += "}\n";
    return out;
}

void emit(const std::string& line) { std::fwrite(line.data(), 1, line.size(), stdout); }

// Returns false when the file cannot be read.
bool decode_file(const std::string& path, bool raw) {
    try {
        if (raw) {
            std::ifstream in(path, std::ios::binary);
            if (!in) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
            std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            if (in.bad()) throw std::runtime_error("cannot read " + path);
            emit(datagram_line(path, 0, nullptr, bytes));
            return true;
        }
        PcapContents c = read_pcap(path);
        for (size_t i = 0; i < c.datagrams.size(); ++i)
            emit(datagram_line(path, i, &c.datagrams[i], c.datagrams[i].payload));
        if (c.skipped)
            std::fprintf(stderr, "sflow-decode: %s: skipped %llu packets that were not UDP\n",
                         path.c_str(), static_cast<unsigned long long>(c.skipped));
        return true;
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "sflow-decode: %s\n", e.what());
        return false;
    }
}

}  // namespace

int main(int argc, char** argv) {
    bool raw = false;
    std::vector<std::string> files;
    bool options_done = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (!options_done && a == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (!options_done && a == "--raw") {
            raw = true;
        } else if (!options_done && a == "--") {
            options_done = true;
        } else if (!options_done && a.size() > 1 && a[0] == '-') {
            std::fprintf(stderr, "sflow-decode: unknown option %s\n%s", a.c_str(), kUsage);
            return 2;
        } else {
            files.push_back(a);
        }
    }
    if (files.empty()) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    bool ok = true;
    for (const auto& f : files) ok = decode_file(f, raw) && ok;
    std::fflush(stdout);
    return ok ? 0 : 2;
}
