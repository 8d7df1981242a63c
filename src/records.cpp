// records.cpp — the decode visitor over the field lists in records.h, and the text forms of
// the special field types.
#include "sflow_monitor/records.h"

#include <cstdio>

#include "sflow_monitor/xdr.h"

namespace sfm {

namespace {

const char* const machine_types[] = {"unknown", "other", "x86",  "x86_64", "ia64",
                                     "sparc",   "alpha", "powerpc", "m68k", "mips",
                                     "arm",     "hppa",  "s390"};
const char* const os_names[] = {"unknown", "other",   "linux",  "windows", "darwin",
                                "hpux",    "aix",     "dragonfly", "freebsd", "netbsd",
                                "openbsd", "osf",     "solaris"};

// Counts a record's trailing optional fields (its `std::optional<uint32_t>` members).
struct OptionalCounter {
    size_t n = 0;
    template <class T>
    void extra(const char* name, T& x) { (*this)(name, x); }
    void operator()(const char*, std::optional<uint32_t>&) { ++n; }
    template <class T>
    void operator()(const char*, T&) {}
};

struct Decoder {
    XdrReader& r;
    size_t optionals = 0;  // the record's trailing optional fields not yet reached
    template <class T>
    void extra(const char* name, T& x) { (*this)(name, x); }
    void operator()(const char*, uint32_t& x) { x = r.u32(); }
    void operator()(const char*, uint64_t& x) { x = r.u64(); }
    void operator()(const char*, float& x) { x = r.f32(); }
    void operator()(const char*, Hundredths& x) { x.value = r.i32(); }
    void operator()(const char*, MachineType& x) { x.value = r.u32(); }
    void operator()(const char*, OsName& x) { x.value = r.u32(); }
    template <size_t N>
    void operator()(const char* name, Str<N>& x) { x.value = r.string(N, name); }
    void operator()(const char* name, Uuid& x) {
        auto b = r.opaque(16, name);
        std::copy(b.begin(), b.end(), x.bytes.begin());
    }
    void operator()(const char* name, Mac& x) {
        auto b = r.opaque(6, name);
        std::copy(b.begin(), b.end(), x.bytes.begin());
    }
    // Trailing fields that older agents omit come as a group: all of them when the record
    // holds them all (host_cpu: "when length >= 80"), else none, and what is left is skipped
    // like any bytes a record has beyond what we know.
    void operator()(const char*, std::optional<uint32_t>& x) {
        if (r.remaining() < 4 * optionals) {
            x.reset();
        } else {
            x = r.u32();
            --optionals;
        }
    }
    template <class T>
    void operator()(const char* name, std::vector<T>& xs) {
        size_t at = r.offset();
        uint32_t n = r.u32();
        // Every element takes at least 4 bytes: refuse counts the record cannot hold before
        // allocating anything.
        if (n > r.remaining() / 4)
            throw DecodeError(at, std::string(name) + " count " + std::to_string(n) +
                                      " exceeds the record");
        xs.resize(n);
        for (auto& x : xs) {
            if constexpr (std::is_same_v<T, Mac>) (*this)(name, x);
            else T::fields(x, *this);
        }
    }
};

template <class T>
void decode_as(XdrReader& r, RecordValue& out) {
    T& t = out.emplace<T>();
    static const size_t optionals = [] {
        T probe;
        OptionalCounter c;
        T::fields(probe, c);
        return c.n;
    }();
    Decoder d{r, optionals};
    T::fields(t, d);
}

}  // namespace

void decode_record(uint32_t data_format, XdrReader& body, RecordValue& out) {
    switch (data_format) {  // enterprise 0: data_format == format
        case IfCounters::format: return decode_as<IfCounters>(body, out);
        case PortName::format: return decode_as<PortName>(body, out);
        case HostDescr::format: return decode_as<HostDescr>(body, out);
        case HostAdapters::format: return decode_as<HostAdapters>(body, out);
        case HostParent::format: return decode_as<HostParent>(body, out);
        case HostCpu::format: return decode_as<HostCpu>(body, out);
        case HostMemory::format: return decode_as<HostMemory>(body, out);
        case HostDiskIo::format: return decode_as<HostDiskIo>(body, out);
        case HostNetIo::format: return decode_as<HostNetIo>(body, out);
        case Mib2Ip::format: return decode_as<Mib2Ip>(body, out);
        case Mib2Icmp::format: return decode_as<Mib2Icmp>(body, out);
        case Mib2Tcp::format: return decode_as<Mib2Tcp>(body, out);
        case Mib2Udp::format: return decode_as<Mib2Udp>(body, out);
        case VirtNode::format: return decode_as<VirtNode>(body, out);
        case VirtCpu::format: return decode_as<VirtCpu>(body, out);
        case VirtMemory::format: return decode_as<VirtMemory>(body, out);
        case VirtDiskIo::format: return decode_as<VirtDiskIo>(body, out);
        case VirtNetIo::format: return decode_as<VirtNetIo>(body, out);
        default: out = std::monostate{};
    }
}

RecordValue decode_record(uint32_t data_format, XdrReader& body) {
    RecordValue v;
    decode_record(data_format, body, v);
    return v;
}

std::string Uuid::text() const {
    char buf[37];
    const auto& b = bytes;
    std::snprintf(buf, sizeof buf,
                  "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                  b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                  b[14], b[15]);
    return buf;
}

std::string Mac::text() const {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                  bytes[3], bytes[4], bytes[5]);
    return buf;
}

const char* MachineType::name() const {
    return value < std::size(machine_types) ? machine_types[value] : "unknown";
}

const char* OsName::name() const {
    return value < std::size(os_names) ? os_names[value] : "unknown";
}

}  // namespace sfm
