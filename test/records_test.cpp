// records_test.cpp — every record type, walked through its own field list: encode/decode
// round trips, every short body rejected, text forms of the special field types.
#include <doctest/doctest.h>

#include <deque>
#include <string>

#include "sflow_monitor/records.h"
#include "sflow_monitor/xdr.h"
#include "testkit/encode.h"

using namespace sfm;

namespace {

// Sets every field to a distinct non-zero value (strings live in `store`).
struct Filler {
    std::deque<std::string>& store;
    uint32_t next = 0x01020304;
    uint32_t n() { return next += 0x01010101; }
    template <class T>
    void extra(const char* k, T& x) { (*this)(k, x); }
    void operator()(const char*, uint32_t& x) { x = n(); }
    void operator()(const char*, uint64_t& x) { x = (uint64_t(n()) << 32) | n(); }
    void operator()(const char*, float& x) { x = float(n() % 1000) / 7.0f; }
    void operator()(const char*, Hundredths& x) { x.value = int32_t(n() % 10001); }
    void operator()(const char*, MachineType& x) { x.value = n() % 13; }
    void operator()(const char*, OsName& x) { x.value = n() % 13; }
    template <size_t N>
    void operator()(const char* k, Str<N>& x) {
        store.push_back(std::string(k) + "-" + std::to_string(n()));
        if (store.back().size() > N) store.back().resize(N);
        x.value = store.back();
    }
    void operator()(const char*, Uuid& x) {
        for (auto& b : x.bytes) b = uint8_t(n());
    }
    void operator()(const char*, Mac& x) {
        for (auto& b : x.bytes) b = uint8_t(n());
    }
    void operator()(const char*, std::optional<uint32_t>& x) { x = n(); }
    template <class T>
    void operator()(const char* k, std::vector<T>& xs) {
        xs.resize(2);
        for (auto& x : xs) {
            if constexpr (std::is_same_v<T, Mac>) (*this)(k, x);
            else T::fields(x, *this);
        }
    }
};


// The body of a T with every field set by Filler (its strings live until the body is written).
template <class T>
std::string filled_body() {
    std::deque<std::string> strings;
    T rec;
    Filler f{strings};
    T::fields(rec, f);
    return record_body(rec);
}

}  // namespace

TEST_CASE("every record type decodes its own encoding back to the same bytes") {
    size_t types = 0;
    for_each_record_type([&](auto empty) {
        using T = decltype(empty);
        CAPTURE(T::name);
        std::string body = filled_body<T>();
        XdrReader r(body);
        RecordValue v = decode_record(T::format, r);
        REQUIRE(std::holds_alternative<T>(v));
        CHECK(record_body(std::get<T>(v)) == body);
        CHECK(record_body(std::get<T>(v)) != record_body(T{}));  // the filler changed every field
        ++types;
    });
    CHECK(types == std::variant_size_v<RecordValue> - 1);
}

TEST_CASE("every record body cut short is a DecodeError, unless it holds all but the optional fields") {
    for_each_record_type([&](auto empty) {
        using T = decltype(empty);
        CAPTURE(T::name);
        std::string body = filled_body<T>();
        for (size_t cut = 0; cut < body.size(); ++cut) {
            CAPTURE(cut);
            std::string part = body.substr(0, cut);
            XdrReader r(part);
            try {
                RecordValue v = decode_record(T::format, r);
                // Only a record whose tail is optional may stop early (host_cpu), and then
                // what it decoded is a prefix of the bytes it had: the rest is skipped.
                REQUIRE(std::holds_alternative<T>(v));
                std::string decoded = record_body(std::get<T>(v));
                CHECK(part.substr(0, decoded.size()) == decoded);
                CHECK((decoded.size() == part.size() || T::format == HostCpu::format));
            } catch (const DecodeError&) {
            }
        }
    });
}

TEST_CASE("host_cpu's optional fields come as a group: all when the record has 80 bytes, else none") {
    std::deque<std::string> store;
    HostCpu cpu;
    Filler f{store};
    HostCpu::fields(cpu, f);
    std::string body = record_body(cpu) + std::string(8, '\x7f');  // and 8 bytes we do not know
    REQUIRE(body.size() == 88);
    for (size_t len = 68; len <= 88; len += 2) {  // the spec: "when length >= 80"
        CAPTURE(len);
        std::string part = body.substr(0, len);
        XdrReader r(part);
        RecordValue v = decode_record(HostCpu::format, r);
        REQUIRE(std::holds_alternative<HostCpu>(v));
        const HostCpu& got = std::get<HostCpu>(v);
        CHECK(got.cpu_steal.has_value() == (len >= 80));
        CHECK(got.cpu_guest.has_value() == (len >= 80));
        CHECK(got.cpu_guest_nice.has_value() == (len >= 80));
        if (len >= 80) CHECK(got.cpu_guest_nice == cpu.cpu_guest_nice);
        CHECK(got.cpu_contexts == cpu.cpu_contexts);
    }
    for (size_t len : {0u, 4u, 64u, 66u}) {
        std::string part = body.substr(0, len);
        XdrReader r(part);
        CHECK_THROWS_AS(decode_record(HostCpu::format, r), DecodeError);
    }
}

TEST_CASE("unknown formats decode to monostate without reading the body") {
    std::string body = "anything";
    for (uint32_t f : {0u, 2u, 2011u, 2207u, (1u << 12) | 2003u}) {
        XdrReader r(body);
        CHECK(std::holds_alternative<std::monostate>(decode_record(f, r)));
    }
}

TEST_CASE("uuid, mac and enum fields have their text forms") {
    Uuid u;
    for (size_t i = 0; i < 16; ++i) u.bytes[i] = uint8_t(0x11 * (i % 16));
    CHECK(u.text() == "00112233-4455-6677-8899-aabbccddeeff");
    CHECK(Uuid{}.text() == "00000000-0000-0000-0000-000000000000");
    Mac m;
    m.bytes = {0x52, 0x54, 0x00, 0xaa, 0x00, 0x01};
    CHECK(m.text() == "52:54:00:aa:00:01");
    CHECK(std::string(MachineType{3}.name()) == "x86_64");
    CHECK(std::string(MachineType{0}.name()) == "unknown");
    CHECK(std::string(MachineType{999}.name()) == "unknown");
    CHECK(std::string(OsName{2}.name()) == "linux");
    CHECK(std::string(OsName{12}.name()) == "solaris");
    CHECK(std::string(OsName{13}.name()) == "unknown");
}
