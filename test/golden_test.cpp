// golden_test.cpp — every datagram of the real hsflowd captures, decoded by read_pcap +
// decode_datagram, must equal sflowtool's reference decode field for field.
//
// Our fields are walked with a visitor over each record's field list, so a field added to
// records.h is compared (or fails) without touching this file; every sflowtool key must be
// matched by one of our fields. The only list of names here is the table of sflowtool's
// spellings that differ from ours.
#include <doctest/doctest.h>
#include <json/json.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <sys/stat.h>

#include "sflow_monitor/sflow.h"
#include "testkit/pcap.h"

using namespace sfm;

namespace {

// Where our key differs from sflowtool's, per record format (enterprise 0).
struct Rename {
    uint32_t format;
    const char* ours;
    const char* theirs;
};
const Rename kRenames[] = {
    {1, "ifType", "networkType"},
    {2000, "uuid", "UUID"},
    {2001, "adapters", "adaptor_list"},
    {2001, "if_index", "ifIndex"},
    {2001, "macs", "mac_list"},
    {2002, "container_type", "parent_dsClass"},
    {2002, "container_index", "parent_dsIndex"},
    {2003, "cpu_waiting_io", "cpu_wio"},
    {2003, "cpu_intr", "cpuintr"},
    {2003, "cpu_interrupts", "cpuinterrupts"},
    {2005, "part_max_used", "disk_partition_max_used"},
    {2005, "reads", "disk_reads"},
    {2005, "bytes_read", "disk_bytes_read"},
    {2005, "read_time", "disk_read_time"},
    {2005, "writes", "disk_writes"},
    {2005, "bytes_written", "disk_bytes_written"},
    {2005, "write_time", "disk_write_time"},
    {2006, "bytes_in", "nio_bytes_in"},
    {2006, "packets_in", "nio_pkts_in"},
    {2006, "errs_in", "nio_errs_in"},
    {2006, "drops_in", "nio_drops_in"},
    {2006, "bytes_out", "nio_bytes_out"},
    {2006, "packets_out", "nio_pkts_out"},
    {2006, "errs_out", "nio_errs_out"},
    {2006, "drops_out", "nio_drops_out"},
    {2101, "vcpu_cpu_time", "vcpu_cpu_mS"},
    {2101, "vcpu_cpu_count", "vcpu_cpuCount"},
    {2102, "vmem_max_memory", "vmem_maxMemory"},
    {2104, "vnio_packets_in", "vnio_pkts_in"},
    {2104, "vnio_packets_out", "vnio_pkts_out"},
};

// What the whole run saw, for the coverage checks at the end.
struct Coverage {
    std::set<std::pair<uint32_t, std::string>> renames_used;
    std::map<uint32_t, std::set<std::string>> fields_compared;  // format -> our field names
    std::set<uint32_t> formats_seen;
};

std::string testdata_dir() {
    if (const char* env = std::getenv("SFLOW_TESTDATA")) return env;
    return "../shared/testdata";
}

bool exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

std::string hex12(const Mac& m) {
    char buf[13];
    std::snprintf(buf, sizeof buf, "%02x%02x%02x%02x%02x%02x", m.bytes[0], m.bytes[1],
                  m.bytes[2], m.bytes[3], m.bytes[4], m.bytes[5]);
    return buf;
}

// Compares our decoded fields, one visit per field, with one sflowtool JSON object.
struct Compare {
    const Json::Value& obj;
    uint32_t format;
    std::string where;
    Coverage& cov;
    std::set<std::string> matched{"counterBlock_tag"};

    std::string theirs(const char* ours) {
        for (const auto& r : kRenames)
            if (r.format == format && std::string(r.ours) == ours) {
                cov.renames_used.insert({format, ours});
                return r.theirs;
            }
        return ours;
    }
    // The sflowtool value for our field, or null when sflowtool printed none.
    const Json::Value* lookup(const char* ours) {
        cov.fields_compared[format].insert(ours);
        std::string k = theirs(ours);
        if (!obj.isMember(k)) return nullptr;
        matched.insert(k);
        return &obj[k];
    }
    void expect(const char* ours, const std::string& mine) {
        const Json::Value* v = lookup(ours);
        if (!v) {
            FAIL_CHECK(where << ": sflowtool has no key for our field " << std::string(ours));
            return;
        }
        CHECK_MESSAGE(v->asString() == mine, where << " field " << std::string(ours));
    }

    template <class T>
    void extra(const char* k, const T& x) { (*this)(k, x); }  // compared like any field
    void operator()(const char* k, uint32_t x) { expect(k, std::to_string(x)); }
    void operator()(const char* k, uint64_t x) { expect(k, std::to_string(x)); }
    void operator()(const char* k, float x) {  // sflowtool prints "%.3f"
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3f", double(x));
        expect(k, buf);
    }
    void operator()(const char* k, const Hundredths& x) {  // sflowtool prints percent, 2 decimals
        const Json::Value* v = lookup(k);
        REQUIRE_MESSAGE(v, where << ": sflowtool has no key for our field " << std::string(k));
        double pct = std::strtod(v->asString().c_str(), nullptr);
        CHECK_MESSAGE(std::lround(pct * 100) == x.value, where << " field " << std::string(k));
    }
    void operator()(const char* k, const MachineType& x) { expect(k, std::to_string(x.value)); }
    void operator()(const char* k, const OsName& x) { expect(k, std::to_string(x.value)); }
    template <size_t N>
    void operator()(const char* k, const Str<N>& x) {
        if (x.value.empty() && !obj.isMember(theirs(k))) {  // sflowtool omits empty strings
            cov.fields_compared[format].insert(k);
            return;
        }
        expect(k, std::string(x.value));
    }
    void operator()(const char* k, const Uuid& x) { expect(k, x.text()); }
    void operator()(const char* k, const std::optional<uint32_t>& x) {
        if (x) return expect(k, std::to_string(*x));
        cov.fields_compared[format].insert(k);
        CHECK_MESSAGE(!obj.isMember(theirs(k)), where << ": we lack trailing field " << std::string(k));
    }
    void operator()(const char* k, const std::vector<Mac>& macs) {
        const Json::Value* v = lookup(k);
        REQUIRE_MESSAGE(v, where << ": sflowtool has no key for our field " << std::string(k));
        REQUIRE(v->isArray());
        REQUIRE(v->size() == macs.size());
        for (Json::ArrayIndex i = 0; i < v->size(); ++i)
            CHECK_MESSAGE((*v)[i].asString() == hex12(macs[i]), where << " mac " << i);
        // sflowtool also prints the count beside the list.
        REQUIRE(obj.isMember("MACs"));
        matched.insert("MACs");
        CHECK(obj["MACs"].asString() == std::to_string(macs.size()));
    }
    template <class T>
    void operator()(const char* k, const std::vector<T>& xs) {
        const Json::Value* v = lookup(k);
        REQUIRE_MESSAGE(v, where << ": sflowtool has no key for our field " << std::string(k));
        REQUIRE(v->isArray());
        REQUIRE(v->size() == xs.size());
        for (Json::ArrayIndex i = 0; i < v->size(); ++i) {
            Compare inner{(*v)[i], format, where + " " + k + "[" + std::to_string(i) + "]", cov,
                          {}};
            T::fields(xs[i], inner);
            inner.require_all_matched();
        }
    }

    void require_all_matched() const {
        for (const auto& key : obj.getMemberNames())
            CHECK_MESSAGE(matched.count(key), where << ": sflowtool key " << key
                                                    << " matched none of our fields");
    }
};

std::string pcap_time(int64_t ts_us) {  // sflowtool's pcapTimestamp (UTC)
    time_t secs = time_t(ts_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+0000", &tm);
    return buf;
}

struct Totals {
    size_t datagrams = 0, samples = 0, records = 0;
    std::set<size_t> sizes;         // payload bytes
    bool sequences_gapless = true;  // datagram i has sequence i + 1
};

// Header keys sflowtool prints that carry nothing from the datagram when it reads a pcap.
const std::set<std::string> kIgnoredHeaderKeys = {"datagramSourceIP", "unixSecondsUTC",
                                                  "unixSecondsUTC_uS", "localtime"};

Totals compare_capture(const std::string& base, Coverage& cov) {
    std::string dir = testdata_dir();
    REQUIRE_MESSAGE(exists(dir + "/" + base + ".pcap"),
                    "test data not found in " << dir << " (set SFLOW_TESTDATA)");
    PcapContents pcap = read_pcap(dir + "/" + base + ".pcap");
    std::ifstream jsonl(dir + "/" + base + ".sflowtool.jsonl");
    REQUIRE(jsonl);
    Totals t;
    std::string line;
    Json::CharReaderBuilder rb;
    for (size_t i = 0; std::getline(jsonl, line); ++i) {
        REQUIRE_MESSAGE(i < pcap.datagrams.size(), base << ": more sflowtool lines than datagrams");
        Json::Value want;
        std::string errs;
        std::unique_ptr<Json::CharReader> reader(rb.newCharReader());
        REQUIRE(reader->parse(line.data(), line.data() + line.size(), &want, &errs));

        const CapturedDatagram& cap = pcap.datagrams[i];
        std::string where = base + " datagram " + std::to_string(i);
        Datagram d = decode_datagram(cap.payload);
        ++t.datagrams;
        t.sizes.insert(cap.payload.size());
        if (d.sequence != i + 1) t.sequences_gapless = false;

        CHECK_MESSAGE(want["datagramVersion"].asString() == "5", where);
        CHECK_MESSAGE(want["datagramSize"].asString() == std::to_string(cap.payload.size()), where);
        CHECK_MESSAGE(want["agent"].asString() == d.agent.text(), where);
        CHECK_MESSAGE(want["agentSubId"].asString() == std::to_string(d.sub_agent_id), where);
        CHECK_MESSAGE(want["packetSequenceNo"].asString() == std::to_string(d.sequence), where);
        CHECK_MESSAGE(want["sysUpTime"].asString() == std::to_string(d.uptime), where);
        CHECK_MESSAGE(want["samplesInPacket"].asString() == std::to_string(d.num_samples), where);
        CHECK_MESSAGE(want["pcapTimestamp"].asString() == pcap_time(cap.ts_us), where);
        CHECK_MESSAGE(want["pcapTimestamp_uS"].asString() == std::to_string(cap.ts_us % 1000000),
                      where);
        std::set<std::string> header_keys = {"datagramVersion", "datagramSize", "agent",
                                             "agentSubId", "packetSequenceNo", "sysUpTime",
                                             "samplesInPacket", "pcapTimestamp",
                                             "pcapTimestamp_uS", "samples"};
        for (const auto& k : want.getMemberNames())
            CHECK_MESSAGE((header_keys.count(k) || kIgnoredHeaderKeys.count(k)),
                          where << ": unexpected sflowtool header key " << k);

        CHECK(d.flow_samples == 0);
        CHECK(d.unknown_samples == 0);
        const Json::Value& samples = want["samples"];
        REQUIRE_MESSAGE(samples.size() == d.samples.size(), where);
        for (Json::ArrayIndex si = 0; si < samples.size(); ++si) {
            const Json::Value& ws = samples[si];
            const CounterSample& s = d.samples[si];
            std::string swhere = where + " sample " + std::to_string(si);
            ++t.samples;
            CHECK_MESSAGE(ws["sampleType_tag"].asString() == (s.expanded ? "0:4" : "0:2"), swhere);
            CHECK_MESSAGE(ws["sampleType"].asString() == "COUNTERSSAMPLE", swhere);
            CHECK_MESSAGE(ws["sampleSequenceNo"].asString() == std::to_string(s.sequence), swhere);
            CHECK_MESSAGE(ws["sourceId"].asString() == std::to_string(s.source_class) + ":" +
                                                           std::to_string(s.source_index),
                          swhere);
            for (const auto& k : ws.getMemberNames())
                CHECK_MESSAGE((k == "sampleType_tag" || k == "sampleType" ||
                               k == "sampleSequenceNo" || k == "sourceId" || k == "elements"),
                              swhere << ": unexpected sflowtool sample key " << k);
            CHECK_MESSAGE(s.errors.empty(), swhere);
            CHECK_MESSAGE(s.unknown_records == 0, swhere);

            const Json::Value& elements = ws["elements"];
            REQUIRE_MESSAGE(elements.size() == s.records.size(), swhere);
            for (Json::ArrayIndex ri = 0; ri < elements.size(); ++ri) {
                const Json::Value& el = elements[ri];
                const Record& rec = s.records[ri];
                std::string rwhere = swhere + " record " + std::to_string(ri);
                ++t.records;
                std::string tag = std::to_string(rec.data_format >> 12) + ":" +
                                  std::to_string(rec.data_format & 0xFFF);
                REQUIRE_MESSAGE(el["counterBlock_tag"].asString() == tag, rwhere);
                rwhere += " (" + tag + ")";
                cov.formats_seen.insert(rec.data_format);
                std::visit(
                    [&](const auto& value) {
                        using T = std::decay_t<decltype(value)>;
                        if constexpr (std::is_same_v<T, std::monostate>) {
                            FAIL_CHECK(rwhere << ": we do not decode a record sflowtool does");
                        } else {
                            Compare c{el, T::format, rwhere, cov, {"counterBlock_tag"}};
                            T::fields(value, c);
                            c.require_all_matched();
                        }
                    },
                    rec.value);
            }
        }
    }
    CHECK_MESSAGE(t.datagrams == pcap.datagrams.size(), base << ": fewer sflowtool lines than datagrams");
    return t;
}

// Every field name of T, by walking its field list.
struct FieldNames {
    std::set<std::string>& out;
    template <class X>
    void operator()(const char* k, const X&) { out.insert(k); }
    template <class X>
    void extra(const char* k, const X&) { out.insert(k); }
};

template <class T>
std::set<std::string> field_names() {
    std::set<std::string> names;
    FieldNames f{names};
    const T t{};
    T::fields(t, f);
    return names;
}

}  // namespace

TEST_CASE("every datagram of the host capture decodes exactly as sflowtool decodes it") {
    Coverage cov;
    Totals t = compare_capture("hsflowd-host", cov);
    CHECK(t.datagrams == 22);  // the counts the testdata README states
    CHECK(t.samples == 22);
    CHECK(t.records == 22 * 10);
    CHECK(t.sizes == std::set<size_t>{712});
    CHECK(t.sequences_gapless);
}

TEST_CASE("every datagram of the kvm capture decodes exactly as sflowtool decodes it") {
    Coverage cov;
    Totals t = compare_capture("hsflowd-kvm", cov);
    CHECK(t.datagrams == 54);
    CHECK(t.samples == 81);
    CHECK(t.records == 27 * 11 + 54 * 7);
    CHECK(t.sizes == std::set<size_t>{296, 1028});
    CHECK(t.sequences_gapless);
}

TEST_CASE("every datagram of the kvm-ifpoll capture decodes exactly as sflowtool decodes it") {
    Coverage cov;
    Totals t = compare_capture("hsflowd-kvm-ifpoll", cov);
    CHECK(t.datagrams == 97);
    CHECK(t.samples == 187);
    CHECK(*t.sizes.begin() == 164);
    CHECK(*t.sizes.rbegin() == 1364);
    CHECK(t.sequences_gapless);
}

TEST_CASE("the golden comparison covers every field of every record type it meets, and every rename") {
    Coverage cov;
    compare_capture("hsflowd-host", cov);
    compare_capture("hsflowd-kvm", cov);
    compare_capture("hsflowd-kvm-ifpoll", cov);
    // Host and VM structures, plus 0:1 and 0:1005, all appear in the captures.
    for (uint32_t f : {1u, 1005u, 2000u, 2001u, 2002u, 2003u, 2004u, 2005u, 2006u, 2007u, 2008u,
                       2009u, 2010u, 2100u, 2101u, 2102u, 2103u, 2104u})
        CHECK_MESSAGE(cov.formats_seen.count(f), "format " << f << " never compared");
    // Each record type's whole field list (adapter fields come from the 2001 walk).
    for_each_record_type([&](auto rec) {
        using T = decltype(rec);
        if (!cov.formats_seen.count(T::format)) return;
        for (const auto& name : field_names<T>())
            CHECK_MESSAGE(cov.fields_compared[T::format].count(name),
                          std::string(T::name) << "." << name << " never compared");
    });
    for (const auto& name : field_names<Adapter>())
        CHECK_MESSAGE(cov.fields_compared[2001].count(name), "adapter." << name << " never compared");
    // A rename whose field no longer exists would silently compare nothing.
    for (const auto& r : kRenames)
        CHECK_MESSAGE(cov.renames_used.count({r.format, r.ours}),
                      "rename " << r.format << ":" << r.ours << " never used");
}
