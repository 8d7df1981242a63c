// json_test.cpp — JsonWriter: always valid JSON whatever the bytes, exact numbers.
#include <doctest/doctest.h>
#include <json/json.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>

#include "sflow_monitor/json.h"

using namespace sfm;

namespace {

Json::Value parse(const std::string& text) {
    Json::CharReaderBuilder rb;
    rb["strictRoot"] = true;
    std::unique_ptr<Json::CharReader> reader(rb.newCharReader());
    Json::Value v;
    std::string errs;
    bool ok = reader->parse(text.data(), text.data() + text.size(), &v, &errs);
    REQUIRE_MESSAGE(ok, "not valid JSON: " << text << " (" << errs << ")");
    return v;
}

// The string as JsonWriter writes it, parsed back.
std::string round_trip(std::string_view s) {
    std::string out = "[";
    JsonWriter(out).string(s);
    out += "]";
    return parse(out)[0].asString();
}

std::string num(float f) {
    std::string out;
    JsonWriter(out).number(f);
    return out;
}

struct OnePct {  // a record of one Hundredths field
    Hundredths p;
    template <class S, class V>
    static void fields(S& s, V& v) { v("p", s.p); }
};

std::string hundredths(int32_t v) {
    std::string out;
    JsonWriter w(out);
    w.begin_object();
    w.fields(OnePct{{v}});
    w.end_object();
    return out;
}

const std::string kFffd = "\xEF\xBF\xBD";

}  // namespace

TEST_CASE("quotes, backslashes and control characters are escaped and read back unchanged") {
    std::string s = "a\"b\\c/d\n\r\t\b\f";
    s += std::string(1, '\0') + "\x01\x1f\x7f end";
    CHECK(round_trip(s) == s);
    std::string out;
    JsonWriter(out).string(std::string("\x01", 1));
    CHECK(out == "\"\\u0001\"");
}

TEST_CASE("valid utf-8 passes through unchanged") {
    std::string s = "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF";  // é € 😀 U+10FFFF
    std::string out;
    JsonWriter(out).string(s);
    CHECK(out == "\"" + s + "\"");
    CHECK(round_trip(s) == s);
}

TEST_CASE("invalid utf-8 becomes U+FFFD per bad byte and the output stays valid JSON") {
    CHECK(round_trip("\xff") == kFffd);
    CHECK(round_trip("a\x80z") == "a" + kFffd + "z");
    CHECK(round_trip("\xC0\xAF") == kFffd + kFffd);                      // overlong '/'
    CHECK(round_trip("\xE0\x80\xAF") == kFffd + kFffd + kFffd);          // overlong, 3 bytes
    CHECK(round_trip("\xED\xA0\x80") == kFffd + kFffd + kFffd);          // UTF-16 surrogate
    CHECK(round_trip("\xF4\x90\x80\x80") == kFffd + kFffd + kFffd + kFffd);  // above U+10FFFF
    CHECK(round_trip("ok\xE2\x82") == "ok" + kFffd + kFffd);             // cut at the end
    CHECK(round_trip("\xC3") == kFffd);
}

TEST_CASE("random byte strings always give valid JSON") {
    std::mt19937 rng(42);
    for (int i = 0; i < 2000; ++i) {
        std::string s(rng() % 40, '\0');
        for (auto& c : s) c = char(rng());
        round_trip(s);  // REQUIREs validity
    }
}

TEST_CASE("floats print as the shortest decimal that reads back as the same float") {
    CHECK(num(4.62f) == "4.62");
    CHECK(num(0.79f) == "0.79");
    CHECK(num(5.07f) == "5.07");
    CHECK(num(0.0f) == "0");
    CHECK(num(100.0f) == "100");
    CHECK(num(std::nanf("")) == "null");
    CHECK(num(std::numeric_limits<float>::infinity()) == "null");
    std::mt19937 rng(7);
    for (int i = 0; i < 10000; ++i) {
        uint32_t bits = rng();
        float f;
        std::memcpy(&f, &bits, 4);
        if (!std::isfinite(f)) continue;
        std::string s = num(f);
        CHECK(std::strtof(s.c_str(), nullptr) == f);
        parse("[" + s + "]");
    }
}

TEST_CASE("hundredths print as exact decimals, and -1 (unknown) as -0.01") {
    CHECK(hundredths(4975) == "{\"p\":49.75}");
    CHECK(hundredths(6863) == "{\"p\":68.63}");
    CHECK(hundredths(5) == "{\"p\":0.05}");
    CHECK(hundredths(10) == "{\"p\":0.1}");
    CHECK(hundredths(100) == "{\"p\":1}");
    CHECK(hundredths(0) == "{\"p\":0}");
    CHECK(hundredths(10000) == "{\"p\":100}");
    CHECK(hundredths(-1) == "{\"p\":-0.01}");  // sFlow's "unknown", as the original service wrote it
    CHECK(hundredths(-250) == "{\"p\":-2.5}");
    CHECK(hundredths(INT32_MIN) == "{\"p\":-21474836.48}");
    CHECK(parse(hundredths(4975))["p"].asDouble() == 49.75);
}

TEST_CASE("64-bit integers print exactly, up to their limits") {
    std::string out = "[";
    JsonWriter w(out);
    w.number(std::numeric_limits<uint64_t>::max());
    out += ",";
    w.number(std::numeric_limits<int64_t>::min());
    out += ",";
    w.number(uint32_t(4294967295u));
    out += "]";
    CHECK(out == "[18446744073709551615,-9223372036854775808,4294967295]");
    Json::Value v = parse(out);
    CHECK(v[0].asUInt64() == std::numeric_limits<uint64_t>::max());
    CHECK(v[1].asInt64() == std::numeric_limits<int64_t>::min());
}

TEST_CASE("a record's fields are written as one valid object, absent trailing fields omitted") {
    HostCpu cpu;
    cpu.cpu_load_one = 4.62f;
    cpu.cpu_idle = 7;
    cpu.cpu_steal = 3;
    std::string out;
    JsonWriter w(out);
    w.begin_object();
    w.fields(cpu);
    w.end_object();
    Json::Value v = parse(out);
    CHECK(v["cpu_load_one"].asDouble() == doctest::Approx(4.62));
    CHECK(out.find("\"cpu_load_one\":4.62") != std::string::npos);
    CHECK(v["cpu_idle"].asUInt() == 7);
    CHECK(v["cpu_steal"].asUInt() == 3);
    CHECK(!v.isMember("cpu_guest"));
    CHECK(!v.isMember("cpu_guest_nice"));

    HostAdapters ad;
    ad.adapters.resize(2);
    ad.adapters[0].if_index = 4;
    ad.adapters[0].macs.resize(2);
    ad.adapters[0].macs[1].bytes = {0x52, 0x54, 0, 0xaa, 0, 1};
    out.clear();
    w.begin_object();
    w.fields(ad);
    w.end_object();
    v = parse(out);
    REQUIRE(v["adapters"].size() == 2);
    CHECK(v["adapters"][0]["if_index"].asUInt() == 4);
    CHECK(v["adapters"][0]["macs"][1].asString() == "52:54:00:aa:00:01");
    CHECK(v["adapters"][1]["macs"].size() == 0);
}

TEST_CASE("every record field name is a plain identifier, so JsonWriter writes it unescaped") {
    for_each_record_type([](auto rec) {
        std::string out;
        JsonWriter w(out);
        w.begin_object();
        w.fields(rec);
        w.end_object();
        Json::Value v = parse(out);
        for (const std::string& name : v.getMemberNames()) {
            INFO(name);
            CHECK(!name.empty());
            CHECK(name.size() < 64);
            for (char c : name) CHECK((std::isalnum(static_cast<unsigned char>(c)) || c == '_'));
        }
    });
}

namespace {
// 40 numeric fields with 60-byte names at their widest values, a string among them and one
// absent: more than one record's staging buffer holds, written in order.
struct Wide {
    uint64_t v[40];
    Str<16> s;
    std::optional<uint32_t> gone;
    template <class S, class V>
    static void fields(S& s, V& v) {
#define SFM_W(i) v("field_" #i "_padded_out_to_sixty_bytes_xxxxxxxxxxxxxxxxxxxxxxxxx", s.v[i])
        SFM_W(0); SFM_W(1); SFM_W(2); SFM_W(3); SFM_W(4); SFM_W(5); SFM_W(6); SFM_W(7);
        SFM_W(8); SFM_W(9); SFM_W(10); SFM_W(11); SFM_W(12); SFM_W(13); SFM_W(14); SFM_W(15);
        SFM_W(16); SFM_W(17); SFM_W(18); SFM_W(19);
        v("s", s.s);
        v("gone", s.gone);
        SFM_W(20); SFM_W(21); SFM_W(22); SFM_W(23); SFM_W(24); SFM_W(25); SFM_W(26); SFM_W(27);
        SFM_W(28); SFM_W(29); SFM_W(30); SFM_W(31); SFM_W(32); SFM_W(33); SFM_W(34); SFM_W(35);
        SFM_W(36); SFM_W(37); SFM_W(38); SFM_W(39);
#undef SFM_W
    }
};
}  // namespace

TEST_CASE("a record larger than the writer's staging buffer is written whole and in order") {
    Wide rec;
    for (int i = 0; i < 40; ++i) rec.v[i] = std::numeric_limits<uint64_t>::max() - uint64_t(i);
    rec.s.value = "mid\"dle";
    std::string out = "[";
    JsonWriter w(out);
    w.begin_object();
    w.fields(rec);
    w.end_object();
    out += "]";
    CHECK(out.size() > 3000);  // the staging buffer holds 2 KiB
    Json::Value v = parse(out)[0];
    std::vector<std::string> names = v.getMemberNames();
    CHECK(names.size() == 41);
    CHECK(!v.isMember("gone"));
    CHECK(v["s"].asString() == "mid\"dle");
    for (int i = 0; i < 40; ++i) {
        std::string name = "field_" + std::to_string(i) + "_padded_out_to_sixty_bytes_" + std::string(25, 'x');
        INFO(name);
        CHECK(v[name].asUInt64() == rec.v[i]);
    }
    // order as listed: the string sits between field 19 and field 20
    size_t f19 = out.find("\"field_19_"), s = out.find("\"s\":"), f20 = out.find("\"field_20_");
    CHECK(f19 < s);
    CHECK(s < f20);
}

TEST_CASE("floats with few decimals take a fast path that writes exactly what std::to_chars writes") {
    auto theirs = [](float f) {
        char buf[64];
        return std::string(buf, std::to_chars(buf, buf + sizeof buf, f).ptr);
    };
    std::vector<float> fs = {0.0f, -0.0f, 0.001f, 0.00099999f, 0.0015f, 0.01f, 0.05f, 0.1f, 1.0f,
                             4.62f, 99.99f, 100.0f, 10000.0f, 16384.0625f, 65535.99f, 99999.99f,
                             1e5f, 1.5e5f, -4.62f, 123.456f, 0.125f, 3.0e-4f};
    for (float f : {0.001f, 1e5f, 16384.0625f}) {
        fs.push_back(std::nextafter(f, 0.0f));
        fs.push_back(std::nextafter(f, 1e6f));
    }
    std::mt19937 rng(11);
    for (int i = 0; i < 100000; ++i) {
        fs.push_back(float(rng() % 10000000) / 100.0f);   // two decimals, as loads are
        fs.push_back(float(rng() % 100000000) / 1000.0f);  // three
        fs.push_back(std::uniform_real_distribution<float>(0.0f, 2e5f)(rng));
    }
    for (float f : fs) {
        INFO(theirs(f));
        CHECK(num(f) == theirs(f));
    }
}

TEST_CASE("integers are written exactly as std::to_chars writes them") {
    auto theirs = [](auto v) {
        char buf[32];
        return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
    };
    auto ours = [](auto v) {
        std::string out;
        JsonWriter(out).number(v);
        return out;
    };
    std::vector<uint64_t> us;
    for (uint64_t v = 0; v < 100000; ++v) us.push_back(v);
    for (uint64_t p = 10; p != 0 && p <= std::numeric_limits<uint64_t>::max() / 10; p *= 10)
        for (uint64_t d : {p - 1, p, p + 1, 2 * p - 1, 9 * p + 9}) us.push_back(d);
    for (int bits = 1; bits <= 64; ++bits) us.push_back(bits == 64 ? ~0ull : (1ull << bits) - 1);
    for (int bits = 0; bits < 64; ++bits) us.push_back(1ull << bits);
    std::mt19937_64 rng(5);
    for (int i = 0; i < 100000; ++i) us.push_back(rng() >> (rng() % 64));
    for (uint64_t v : us) {
        INFO(v);
        CHECK(ours(v) == theirs(v));
        CHECK(ours(int64_t(v)) == theirs(int64_t(v)));    // negative where the top bit is set
        CHECK(ours(-int64_t(v >> 1)) == theirs(-int64_t(v >> 1)));
    }
    CHECK(ours(std::numeric_limits<int64_t>::min()) == "-9223372036854775808");
}

TEST_CASE("member() writes one key and value of each kind, with the commas between members") {
    std::string out;
    JsonWriter w(out);
    std::string s = "a\"b";
    std::optional<double> some = 2.5, none;
    std::optional<uint64_t> count = 7;
    w.begin_object();
    w.member("lit", "x");  // a string literal is a string, not a pointer taken as a bool
    w.member("str", s);
    w.member("view", std::string_view("v"));
    w.member("flag", false);
    w.member("nothing", nullptr);
    w.member("u64", uint64_t(18446744073709551615ull));
    w.member("i64", int64_t(-9223372036854775807ll - 1));
    w.member("u32", uint32_t(4294967295u));
    w.member("int", -3);
    w.member("float", 0.1f);
    w.member("double", 0.1);
    w.member("some", some);
    w.member("none", none);
    w.member("count", count);
    w.key("list");
    w.begin_array();
    w.sep();
    w.value(1);
    w.sep();
    w.value("two");
    w.end_array();
    w.end_object();
    CHECK(out ==
          R"({"lit":"x","str":"a\"b","view":"v","flag":false,"nothing":null,"u64":18446744073709551615,)"
          R"("i64":-9223372036854775808,"u32":4294967295,"int":-3,"float":0.1,"double":0.1,"some":2.5,)"
          R"("none":null,"count":7,"list":[1,"two"]})");
    Json::Value v = parse(out);
    CHECK(v["str"].asString() == "a\"b");
    CHECK(v["u64"].asUInt64() == 18446744073709551615ull);
}
