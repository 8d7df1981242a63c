// records.h — the sFlow counter record structures we know, each described once.
//
// Every record is a struct whose members are named by their API key (see
// ../shared/spec/api.md; the spec's own name is noted where it differs) and whose static
// `fields(self, visitor)` lists them in wire order: `v(name, member)` for a field the API
// shows, `v.extra(name, member)` for one it does not show today, and, in the records that
// `derive` serves (host_cpu … virt_net_io), a counter — a cumulative count that means
// something only as a difference — marked `SFM_C` (derive shows its rate, `name_per_s`) or
// `SFM_CT` (CPU time in ms: derive shows it as a share of the interval, `_pct`). A visitor
// with a `counter(name, member, kind)` member sees the mark; any other sees `v(name, member)`.
// The visitors that walk these lists:
//   - the decoder (records.cpp, decode_record) and the XDR encoder (encode.h: tests, sflow-gen),
//   - the JSON writer (json.h, JsonWriter::fields) and the result schema (methods.cpp),
//   - the rates visitor (derive.cpp), the only one that reads the counter marks.
// Nothing else may spell a field name. Adding a record: write its struct, add it to
// RecordValue and to the switch in decode_record().
//
// Caveats:
//  - Str<N> holds a string_view into the decoded buffer: a decoded record lives no longer
//    than the bytes it was decoded from.
//  - std::optional members are trailing fields that older agents omit, read as a group: the
//    decoder leaves them all empty unless the record holds every one of them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sfm {

// ---- field types beyond the plain integers and float ------------------------------------

template <size_t N>
struct Str {  // XDR string<N>: at most N bytes
    static constexpr size_t max_len = N;
    std::string_view value;
};

struct Uuid {  // 16 opaque bytes; all zero means unknown
    std::array<uint8_t, 16> bytes{};
    std::string text() const;  // 8-4-4-4-12 lowercase hex
};

struct Mac {  // 6 bytes on the wire, padded to 8
    std::array<uint8_t, 6> bytes{};
    std::string text() const;  // aa:bb:cc:dd:ee:ff
};

struct MachineType {  // u32 enum, written in JSON by name
    uint32_t value = 0;
    const char* name() const;
};

struct OsName {  // u32 enum, written in JSON by name
    uint32_t value = 0;
    const char* name() const;
};

struct Hundredths {  // i32 hundredths of a percent; -1 unknown; written in JSON divided by 100
    int32_t value = 0;
};

#define SFM_F(member) v(#member, s.member)
// A field the agent sends that the API's result objects do not show today (kept in the store
// and shown by sflow-decode). Visitors treat it like SFM_F unless they care (JsonWriter).
#define SFM_X(member) v.extra(#member, s.member)

// How derive shows a counter: its rate per second, or (CPU time) a share of the interval.
enum class CounterKind { rate, cpu_time };

namespace detail {
// v.counter(name, member, kind) where the visitor has it; v(name, member) otherwise.
template <class V, class K, class T>
auto visit_counter(V& v, const K& k, T& x, CounterKind kind, int) -> decltype(v.counter(k, x, kind)) {
    return v.counter(k, x, kind);
}
template <class V, class K, class T>
void visit_counter(V& v, const K& k, T& x, CounterKind, long) {
    v(k, x);
}
}  // namespace detail

#define SFM_C(member) detail::visit_counter(v, #member, s.member, CounterKind::rate, 0)
#define SFM_CT(member) detail::visit_counter(v, #member, s.member, CounterKind::cpu_time, 0)

struct Adapter {
    uint32_t if_index = 0;
    std::vector<Mac> macs;
    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_F(if_index);
        SFM_F(macs);
    }
};

// ---- sFlow v5 interface records (enterprise 0) ------------------------------------------

struct IfCounters {  // 0:1 generic interface counters
    static constexpr uint32_t format = 1;
    static constexpr const char* name = "if_counters";
    uint32_t ifIndex = 0, ifType = 0;  // sflowtool: networkType
    uint64_t ifSpeed = 0;
    uint32_t ifDirection = 0, ifStatus = 0;
    uint64_t ifInOctets = 0;
    uint32_t ifInUcastPkts = 0, ifInMulticastPkts = 0, ifInBroadcastPkts = 0, ifInDiscards = 0,
             ifInErrors = 0, ifInUnknownProtos = 0;
    uint64_t ifOutOctets = 0;
    uint32_t ifOutUcastPkts = 0, ifOutMulticastPkts = 0, ifOutBroadcastPkts = 0,
             ifOutDiscards = 0, ifOutErrors = 0, ifPromiscuousMode = 0;
    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_F(ifIndex); SFM_F(ifType); SFM_F(ifSpeed); SFM_F(ifDirection); SFM_F(ifStatus);
        SFM_F(ifInOctets); SFM_F(ifInUcastPkts); SFM_F(ifInMulticastPkts);
        SFM_F(ifInBroadcastPkts); SFM_F(ifInDiscards); SFM_F(ifInErrors);
        SFM_F(ifInUnknownProtos); SFM_F(ifOutOctets); SFM_F(ifOutUcastPkts);
        SFM_F(ifOutMulticastPkts); SFM_F(ifOutBroadcastPkts); SFM_F(ifOutDiscards);
        SFM_F(ifOutErrors); SFM_F(ifPromiscuousMode);
    }
};

struct PortName {  // 0:1005
    static constexpr uint32_t format = 1005;
    static constexpr const char* name = "port_name";
    Str<255> ifName;
    template <class S, class V>
    static void fields(S& s, V& v) { SFM_F(ifName); }
};

// ---- host structures (sflow_host.txt) ----------------------------------------------------

struct HostDescr {  // 0:2000
    static constexpr uint32_t format = 2000;
    static constexpr const char* name = "host_descr";
    Str<64> hostname;
    Uuid uuid;
    MachineType machine_type;
    OsName os_name;
    Str<32> os_release;
    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_F(hostname); SFM_X(uuid); SFM_F(machine_type); SFM_F(os_name); SFM_F(os_release);
    }
};

struct HostAdapters {  // 0:2001
    static constexpr uint32_t format = 2001;
    static constexpr const char* name = "host_adapters";
    std::vector<Adapter> adapters;
    template <class S, class V>
    static void fields(S& s, V& v) { SFM_F(adapters); }
};

struct HostParent {  // 0:2002
    static constexpr uint32_t format = 2002;
    static constexpr const char* name = "host_parent";
    uint32_t container_type = 0;   // sflowtool: parent_dsClass
    uint32_t container_index = 0;  // sflowtool: parent_dsIndex
    template <class S, class V>
    static void fields(S& s, V& v) { SFM_F(container_type); SFM_F(container_index); }
};

struct HostCpu {  // 0:2003 — 68 bytes in the spec, 80 from hsflowd since 2014 (steal, guest, guest_nice)
    static constexpr uint32_t format = 2003;
    static constexpr const char* name = "host_cpu";
    float cpu_load_one = 0, cpu_load_five = 0, cpu_load_fifteen = 0;  // spec: load_*
    uint32_t cpu_proc_run = 0, cpu_proc_total = 0, cpu_num = 0, cpu_speed = 0,
             cpu_uptime = 0;  // spec: proc_run, proc_total, cpu_num, cpu_speed, uptime
    uint32_t cpu_user = 0, cpu_nice = 0, cpu_system = 0, cpu_idle = 0,
             cpu_waiting_io = 0,  // spec: cpu_wio
             cpu_intr = 0, cpu_sintr = 0,
             cpu_interrupts = 0,  // spec: interrupts
             cpu_contexts = 0;    // spec: contexts
    std::optional<uint32_t> cpu_steal, cpu_guest, cpu_guest_nice;
    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_F(cpu_load_one); SFM_F(cpu_load_five); SFM_F(cpu_load_fifteen);
        SFM_F(cpu_proc_run); SFM_F(cpu_proc_total); SFM_F(cpu_num); SFM_F(cpu_speed);
        SFM_F(cpu_uptime); SFM_CT(cpu_user); SFM_CT(cpu_nice); SFM_CT(cpu_system);
        SFM_CT(cpu_idle); SFM_CT(cpu_waiting_io); SFM_CT(cpu_intr); SFM_CT(cpu_sintr);
        SFM_C(cpu_interrupts); SFM_C(cpu_contexts);
        SFM_X(cpu_steal); SFM_X(cpu_guest); SFM_X(cpu_guest_nice);  // CPU time too (cpu_split)
    }
};

struct HostMemory {  // 0:2004
    static constexpr uint32_t format = 2004;
    static constexpr const char* name = "host_memory";
    uint64_t mem_total = 0, mem_free = 0, mem_shared = 0, mem_buffers = 0, mem_cached = 0,
             swap_total = 0, swap_free = 0;
    uint32_t page_in = 0, page_out = 0, swap_in = 0, swap_out = 0;
    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_F(mem_total); SFM_F(mem_free); SFM_F(mem_shared); SFM_F(mem_buffers);
        SFM_F(mem_cached); SFM_F(swap_total); SFM_F(swap_free);
        SFM_C(page_in); SFM_C(page_out); SFM_C(swap_in); SFM_C(swap_out);
    }
};

struct HostDiskIo {  // 0:2005
    static constexpr uint32_t format = 2005;
    static constexpr const char* name = "host_disk_io";
    uint64_t disk_total = 0, disk_free = 0;
    Hundredths part_max_used;  // sflowtool: disk_partition_max_used
    uint32_t reads = 0;        // sflowtool: disk_reads (likewise the rest)
    uint64_t bytes_read = 0;
    uint32_t read_time = 0;
    uint32_t writes = 0;
    uint64_t bytes_written = 0;
    uint32_t write_time = 0;
    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_F(disk_total); SFM_F(disk_free); SFM_F(part_max_used); SFM_C(reads);
        SFM_C(bytes_read); SFM_C(read_time); SFM_C(writes); SFM_C(bytes_written);
        SFM_C(write_time);
    }
};

struct HostNetIo {  // 0:2006
    static constexpr uint32_t format = 2006;
    static constexpr const char* name = "host_net_io";
    uint64_t bytes_in = 0;
    uint32_t packets_in = 0, errs_in = 0, drops_in = 0;  // spec: pkts_in
    uint64_t bytes_out = 0;
    uint32_t packets_out = 0, errs_out = 0, drops_out = 0;
    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_C(bytes_in); SFM_C(packets_in); SFM_C(errs_in); SFM_C(drops_in);
        SFM_C(bytes_out); SFM_C(packets_out); SFM_C(errs_out); SFM_C(drops_out);
    }
};

// mib2 groups (RFC 1213 / 4293 object names, as sflow_host.txt and sflowtool spell them)
struct Mib2Ip {  // 0:2007
    static constexpr uint32_t format = 2007;
    static constexpr const char* name = "mib2_ip_group";
    uint32_t ipForwarding = 0, ipDefaultTTL = 0, ipInReceives = 0, ipInHdrErrors = 0,
             ipInAddrErrors = 0, ipForwDatagrams = 0, ipInUnknownProtos = 0, ipInDiscards = 0,
             ipInDelivers = 0, ipOutRequests = 0, ipOutDiscards = 0, ipOutNoRoutes = 0,
             ipReasmTimeout = 0, ipReasmReqds = 0, ipReasmOKs = 0, ipReasmFails = 0,
             ipFragOKs = 0, ipFragFails = 0, ipFragCreates = 0;
    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_F(ipForwarding); SFM_F(ipDefaultTTL); SFM_F(ipInReceives); SFM_F(ipInHdrErrors);
        SFM_F(ipInAddrErrors); SFM_F(ipForwDatagrams); SFM_F(ipInUnknownProtos);
        SFM_F(ipInDiscards); SFM_F(ipInDelivers); SFM_F(ipOutRequests); SFM_F(ipOutDiscards);
        SFM_F(ipOutNoRoutes); SFM_F(ipReasmTimeout); SFM_F(ipReasmReqds); SFM_F(ipReasmOKs);
        SFM_F(ipReasmFails); SFM_F(ipFragOKs); SFM_F(ipFragFails); SFM_F(ipFragCreates);
    }
};

struct Mib2Icmp {  // 0:2008
    static constexpr uint32_t format = 2008;
    static constexpr const char* name = "mib2_icmp_group";
    uint32_t icmpInMsgs = 0, icmpInErrors = 0, icmpInDestUnreachs = 0, icmpInTimeExcds = 0,
             icmpInParamProbs = 0, icmpInSrcQuenchs = 0, icmpInRedirects = 0, icmpInEchos = 0,
             icmpInEchoReps = 0, icmpInTimestamps = 0, icmpInAddrMasks = 0,
             icmpInAddrMaskReps = 0, icmpOutMsgs = 0, icmpOutErrors = 0,
             icmpOutDestUnreachs = 0, icmpOutTimeExcds = 0, icmpOutParamProbs = 0,
             icmpOutSrcQuenchs = 0, icmpOutRedirects = 0, icmpOutEchos = 0, icmpOutEchoReps = 0,
             icmpOutTimestamps = 0, icmpOutTimestampReps = 0, icmpOutAddrMasks = 0,
             icmpOutAddrMaskReps = 0;
    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_F(icmpInMsgs); SFM_F(icmpInErrors); SFM_F(icmpInDestUnreachs);
        SFM_F(icmpInTimeExcds); SFM_F(icmpInParamProbs); SFM_F(icmpInSrcQuenchs);
        SFM_F(icmpInRedirects); SFM_F(icmpInEchos); SFM_F(icmpInEchoReps);
        SFM_F(icmpInTimestamps); SFM_F(icmpInAddrMasks); SFM_F(icmpInAddrMaskReps);
        SFM_F(icmpOutMsgs); SFM_F(icmpOutErrors); SFM_F(icmpOutDestUnreachs);
        SFM_F(icmpOutTimeExcds); SFM_F(icmpOutParamProbs); SFM_F(icmpOutSrcQuenchs);
        SFM_F(icmpOutRedirects); SFM_F(icmpOutEchos); SFM_F(icmpOutEchoReps);
        SFM_F(icmpOutTimestamps); SFM_F(icmpOutTimestampReps); SFM_F(icmpOutAddrMasks);
        SFM_F(icmpOutAddrMaskReps);
    }
};

struct Mib2Tcp {  // 0:2009
    static constexpr uint32_t format = 2009;
    static constexpr const char* name = "mib2_tcp_group";
    uint32_t tcpRtoAlgorithm = 0, tcpRtoMin = 0, tcpRtoMax = 0, tcpMaxConn = 0,
             tcpActiveOpens = 0, tcpPassiveOpens = 0, tcpAttemptFails = 0, tcpEstabResets = 0,
             tcpCurrEstab = 0, tcpInSegs = 0, tcpOutSegs = 0, tcpRetransSegs = 0, tcpInErrs = 0,
             tcpOutRsts = 0, tcpInCsumErrors = 0;
    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_F(tcpRtoAlgorithm); SFM_F(tcpRtoMin); SFM_F(tcpRtoMax); SFM_F(tcpMaxConn);
        SFM_F(tcpActiveOpens); SFM_F(tcpPassiveOpens); SFM_F(tcpAttemptFails);
        SFM_F(tcpEstabResets); SFM_F(tcpCurrEstab); SFM_F(tcpInSegs); SFM_F(tcpOutSegs);
        SFM_F(tcpRetransSegs); SFM_F(tcpInErrs); SFM_F(tcpOutRsts); SFM_F(tcpInCsumErrors);
    }
};

struct Mib2Udp {  // 0:2010
    static constexpr uint32_t format = 2010;
    static constexpr const char* name = "mib2_udp_group";
    uint32_t udpInDatagrams = 0, udpNoPorts = 0, udpInErrors = 0, udpOutDatagrams = 0,
             udpRcvbufErrors = 0, udpSndbufErrors = 0, udpInCsumErrors = 0;
    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_F(udpInDatagrams); SFM_F(udpNoPorts); SFM_F(udpInErrors); SFM_F(udpOutDatagrams);
        SFM_F(udpRcvbufErrors); SFM_F(udpSndbufErrors); SFM_F(udpInCsumErrors);
    }
};

// ---- virtual node / domain structures ----------------------------------------------------

struct VirtNode {  // 0:2100
    static constexpr uint32_t format = 2100;
    static constexpr const char* name = "virt_node";
    uint32_t vnode_mhz = 0, vnode_cpus = 0;
    uint64_t vnode_memory = 0, vnode_memory_free = 0;
    uint32_t vnode_num_domains = 0;
    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_F(vnode_mhz); SFM_F(vnode_cpus); SFM_F(vnode_memory); SFM_F(vnode_memory_free);
        SFM_F(vnode_num_domains);
    }
};

struct VirtCpu {  // 0:2101
    static constexpr uint32_t format = 2101;
    static constexpr const char* name = "virt_cpu";
    uint32_t vcpu_state = 0;      // spec: state (virDomainState)
    uint32_t vcpu_cpu_time = 0;   // spec: cpuTime, ms; sflowtool: vcpu_cpu_mS
    uint32_t vcpu_cpu_count = 0;  // spec: nrVirtCpu; sflowtool: vcpu_cpuCount
    template <class S, class V>
    static void fields(S& s, V& v) { SFM_F(vcpu_state); SFM_CT(vcpu_cpu_time); SFM_F(vcpu_cpu_count); }
};

struct VirtMemory {  // 0:2102
    static constexpr uint32_t format = 2102;
    static constexpr const char* name = "virt_memory";
    uint64_t vmem_memory = 0;
    uint64_t vmem_max_memory = 0;  // spec: maxMemory
    template <class S, class V>
    static void fields(S& s, V& v) { SFM_F(vmem_memory); SFM_F(vmem_max_memory); }
};

struct VirtDiskIo {  // 0:2103
    static constexpr uint32_t format = 2103;
    static constexpr const char* name = "virt_disk_io";
    uint64_t vdsk_capacity = 0, vdsk_allocation = 0, vdsk_available = 0;
    uint32_t vdsk_rd_req = 0;
    uint64_t vdsk_rd_bytes = 0;
    uint32_t vdsk_wr_req = 0;
    uint64_t vdsk_wr_bytes = 0;
    uint32_t vdsk_errs = 0;
    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_F(vdsk_capacity); SFM_F(vdsk_allocation); SFM_F(vdsk_available);
        SFM_C(vdsk_rd_req); SFM_C(vdsk_rd_bytes); SFM_C(vdsk_wr_req); SFM_C(vdsk_wr_bytes);
        SFM_C(vdsk_errs);
    }
};

struct VirtNetIo {  // 0:2104 — spec: rx_bytes, rx_packets, rx_errs, rx_drop, tx_*
    static constexpr uint32_t format = 2104;
    static constexpr const char* name = "virt_net_io";
    uint64_t vnio_bytes_in = 0;
    uint32_t vnio_packets_in = 0, vnio_errs_in = 0, vnio_drops_in = 0;
    uint64_t vnio_bytes_out = 0;
    uint32_t vnio_packets_out = 0, vnio_errs_out = 0, vnio_drops_out = 0;
    template <class S, class V>
    static void fields(S& s, V& v) {
        SFM_C(vnio_bytes_in); SFM_C(vnio_packets_in); SFM_C(vnio_errs_in); SFM_C(vnio_drops_in);
        SFM_C(vnio_bytes_out); SFM_C(vnio_packets_out); SFM_C(vnio_errs_out);
        SFM_C(vnio_drops_out);
    }
};

#undef SFM_F
#undef SFM_X
#undef SFM_C
#undef SFM_CT

// monostate: a record we do not know (kept raw, skipped by length).
using RecordValue =
    std::variant<std::monostate, IfCounters, PortName, HostDescr, HostAdapters, HostParent,
                 HostCpu, HostMemory, HostDiskIo, HostNetIo, Mib2Ip, Mib2Icmp, Mib2Tcp, Mib2Udp,
                 VirtNode, VirtCpu, VirtMemory, VirtDiskIo, VirtNetIo>;

class XdrReader;

// Decodes the body of record `format` (enterprise 0 only; other enterprises are unknown)
// from exactly its own bytes. Returns monostate for an unknown format. Throws DecodeError
// when the body is shorter than the structure needs or a string exceeds its bound. Bytes
// beyond the known fields (a newer agent) are ignored.
RecordValue decode_record(uint32_t data_format, XdrReader& body);
// The same, decoding in place into `out` (no temporary record); `out` is monostate for an
// unknown format and unspecified after a throw.
void decode_record(uint32_t data_format, XdrReader& body, RecordValue& out);

// Calls f(T{}) for every known record type T, in RecordValue order. Lets tests and tools
// iterate every structure without a second list of them.
namespace detail {
template <class F, size_t... I>
void for_each_alternative(F& f, std::index_sequence<I...>) {
    (f(std::variant_alternative_t<I + 1, RecordValue>{}), ...);
}
}  // namespace detail

template <class F>
void for_each_record_type(F&& f) {
    detail::for_each_alternative(f, std::make_index_sequence<std::variant_size_v<RecordValue> - 1>{});
}

}  // namespace sfm
