#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "sflow_monitor/config.h"

using namespace sfm;

namespace {

const char* const shipped_conf = "etc/sflow-monitor.conf";  // tests run from the repo root

ParsedArgs parse(std::vector<std::string> args) {
    args.insert(args.begin(), "sflow-monitor");
    std::vector<const char*> argv;
    for (auto& a : args) argv.push_back(a.c_str());
    return parse_config(int(argv.size()), argv.data());
}

// A config file in a temporary directory, removed at the end of the test.
struct TempConf {
    std::string path;
    explicit TempConf(const std::string& text) {
        char tmpl[] = "/tmp/sfm-config-test-XXXXXX";
        int fd = mkstemp(tmpl);
        REQUIRE(fd >= 0);
        close(fd);
        path = tmpl;
        std::ofstream(path) << text;
    }
    ~TempConf() { std::remove(path.c_str()); }
};

std::string error_of(std::vector<std::string> args) {
    try {
        parse(std::move(args));
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("the shipped config file lists every option of the table with its default, and nothing else") {
    std::ifstream in(shipped_conf);
    REQUIRE(in);
    // "name = value" lines, or "# name = value" for an option that is off by default.
    std::map<std::string, std::string> found;
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("# ", 0) == 0) line.erase(0, 2);
        size_t eq = line.find(" =");
        if (eq == std::string::npos || eq == 0 || (line.size() > eq + 2 && line[eq + 2] != ' '))
            continue;
        std::string name = line.substr(0, eq);
        if (name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) continue;
        std::string value = line.size() > eq + 3 ? line.substr(eq + 3) : "";
        CHECK_MESSAGE(found.count(name) == 0, "listed twice: " << name);
        found[name] = value;
    }
    for (const auto& o : config_options()) {
        INFO("option " << o.name);
        REQUIRE(found.count(o.name) == 1);
        CHECK(found[o.name] == o.default_text);
        found.erase(o.name);
    }
    for (const auto& [name, value] : found) FAIL_CHECK("not an option: " << name);
}

TEST_CASE("parsing the shipped config file with the real parser gives the documented defaults") {
    Config c = parse({"--config", shipped_conf}).config;
    CHECK(c.data_dir == "var/data");
    CHECK(c.map_size_mib == 0);  // not given: derived from the disk
    CHECK(c.retention_ms == 7 * 86400000LL);
    CHECK(c.udp_listen == "0.0.0.0");
    CHECK(c.udp_port == 6343);
    CHECK(c.udp_rcvbuf == 8 << 20);
    CHECK(c.flush_ms == 1000);
    CHECK(c.backlog_bytes == 256u << 20);
    CHECK(c.workers == 8);
    CHECK(c.window_ms == 600000);
    CHECK(c.max_span_ms == 86400000);
    CHECK(c.body_limit == 65536);
    CHECK(c.log_level == LogLevel::info);
    CHECK(c.fcgi_listen == "");
    CHECK(c.allow_agent.empty());
    CHECK(c.require_source_match == false);
    Config d = parse({}).config;  // no file: the same defaults
    CHECK(d.retention_ms == c.retention_ms);
    CHECK(d.data_dir == c.data_dir);
}

TEST_CASE("the command line overrides the config file option by option") {
    TempConf f("retention = 1d\nworkers = 16\nallow-agent = 10.0.0.0/8\nallow-agent = 192.0.2.1\n");
    Config c = parse({"--config", f.path, "--retention", "12h"}).config;
    CHECK(c.retention_ms == 12 * 3600000LL);
    CHECK(c.workers == 16);
    CHECK(c.allow_agent == std::vector<std::string>{"10.0.0.0/8", "192.0.2.1"});
    Config d = parse({"--config", f.path, "--allow-agent", "2001:db8::/32"}).config;
    CHECK(d.allow_agent == std::vector<std::string>{"2001:db8::/32"});
}

TEST_CASE("a boolean option given alone on the command line means true") {
    CHECK(parse({"--require-source-match"}).config.require_source_match);
    CHECK(!parse({"--require-source-match", "false"}).config.require_source_match);
    TempConf f("require-source-match = yes\n");
    CHECK(parse({"--config", f.path}).config.require_source_match);
}

TEST_CASE("durations accept days, hours, minutes, seconds and milliseconds") {
    CHECK(parse_duration_ms("7d") == 604800000);
    CHECK(parse_duration_ms("12h") == 43200000);
    CHECK(parse_duration_ms("10m") == 600000);
    CHECK(parse_duration_ms("3600s") == 3600000);
    CHECK(parse_duration_ms("500ms") == 500);
    CHECK(parse_duration_ms("600000") == 600000);
    for (const char* bad : {"", "d", "7x", "-1", "1.5h", "7 d", "99999999999999999999d"})
        CHECK_THROWS_AS(parse_duration_ms(bad), ConfigError);
}

TEST_CASE("sizes accept bytes and k, M, G suffixes in powers of 1024") {
    CHECK(parse_size_bytes("65536") == 65536);
    CHECK(parse_size_bytes("64k") == 65536);
    CHECK(parse_size_bytes("8M") == 8u << 20);
    CHECK(parse_size_bytes("1G") == 1u << 30);
    for (const char* bad : {"", "k", "8MB", "-1", "1.5M"})
        CHECK_THROWS_AS(parse_size_bytes(bad), ConfigError);
}

TEST_CASE("a bad value is an error that names the option and the value") {
    std::string e = error_of({"--retention", "soon"});
    CHECK(e.find("retention") != std::string::npos);
    CHECK(e.find("soon") != std::string::npos);
    CHECK(error_of({"--udp-port", "65536"}).find("udp-port") != std::string::npos);
    CHECK(error_of({"--workers", "0"}).find("workers") != std::string::npos);
    CHECK(error_of({"--backlog", "4k"}).find("backlog") != std::string::npos);  // under 1M
    CHECK(error_of({"--log-level", "loud"}).find("log-level") != std::string::npos);
    CHECK(error_of({"--udp-listen", "example.com"}).find("udp-listen") != std::string::npos);
    CHECK(error_of({"--allow-agent", "10.0.0.0/33"}).find("allow-agent") != std::string::npos);
    CHECK(error_of({"--allow-agent", "10.0.0.0/"}).find("allow-agent") != std::string::npos);
    CHECK(error_of({"--fcgi-listen", "localhost"}).find("fcgi-listen") != std::string::npos);
    CHECK(error_of({"--fcgi-listen", "unix:"}).find("fcgi-listen") != std::string::npos);
    CHECK(error_of({"--require-source-match", "maybe"}).find("require-source-match") !=
          std::string::npos);
}

TEST_CASE("valid listen addresses and agent networks are accepted") {
    Config c = parse({"--udp-listen", "::", "--fcgi-listen", "unix:/run/x.sock",
                      "--allow-agent", "192.0.2.0/24", "--allow-agent", "::1"}).config;
    CHECK(c.udp_listen == "::");
    CHECK(c.fcgi_listen == "unix:/run/x.sock");
    CHECK(c.allow_agent.size() == 2);
    CHECK(parse({"--fcgi-listen", "127.0.0.1:9000"}).config.fcgi_listen == "127.0.0.1:9000");
}

TEST_CASE("unknown options, stray arguments and unreadable files are errors") {
    CHECK(error_of({"--no-such-option"}) != "");
    CHECK(error_of({"stray"}) != "");
    CHECK(error_of({"--config", "/nonexistent/sflow-monitor.conf"}).find("/nonexistent") !=
          std::string::npos);
    TempConf unknown("colour = blue\n");
    CHECK(error_of({"--config", unknown.path}).find(unknown.path) != std::string::npos);
    TempConf bad_value("map-size = lots\n");
    CHECK(error_of({"--config", bad_value.path}).find("map-size") != std::string::npos);
}

// The help text is made from config_options(): a round trip. test/e2e/cli_test.py compares
// --help with etc/sflow-monitor.conf, which is written by hand.
TEST_CASE("round trip: help lists every option of the table it is built from, with its default") {
    ParsedArgs a = parse({"--help"});
    REQUIRE(a.action == ParsedArgs::help);
    for (const auto& o : config_options()) {
        INFO(o.name);
        CHECK(a.help_text.find(std::string("--") + o.name) != std::string::npos);
        if (*o.default_text)
            CHECK(a.help_text.find(std::string("(=") + o.default_text + ")") != std::string::npos);
    }
    CHECK(parse({"--version"}).action == ParsedArgs::version);
}

TEST_CASE("rollup-5m-retention: 42 days unless told, within retention and rollup-retention") {
    const int64_t day = 86400000LL;
    Config d = parse({}).config;
    CHECK(d.rollup_retention_ms == 400 * day);
    CHECK(d.rollup_5m_retention_ms == 42 * day);
    CHECK(store_options(d).rollup_5m_retention_ms == 42 * day);
    CHECK(store_options(d).rollup_retention_ms == 400 * day);
    CHECK(parse({"--rollup-5m-retention", "10d"}).config.rollup_5m_retention_ms == 10 * day);
    TempConf f("rollup-5m-retention = 90d\n");
    CHECK(parse({"--config", f.path}).config.rollup_5m_retention_ms == 90 * day);
    // raised to retention: a stepped query reads roll-ups where the raw samples are gone
    Config up = parse({"--retention", "14d", "--rollup-5m-retention", "7d"}).config;
    CHECK(up.rollup_5m_retention_ms == 14 * day);
    // lowered to rollup-retention: never kept longer than the 1-hour roll-ups
    Config down = parse({"--rollup-retention", "30d"}).config;
    CHECK(down.rollup_5m_retention_ms == 30 * day);
    Config both = parse({"--retention", "60d", "--rollup-retention", "50d"}).config;  // both raised
    CHECK(both.rollup_retention_ms == 60 * day);
    CHECK(both.rollup_5m_retention_ms == 60 * day);
    std::string e = error_of({"--rollup-5m-retention", "long"});
    CHECK(e.find("rollup-5m-retention") != std::string::npos);
    CHECK(error_of({"--rollup-5m-retention", "0"}).find("rollup-5m-retention") != std::string::npos);
}

TEST_CASE("the config maps onto the store, ingest, api and fcgi options") {
    Config c = parse({"--map-size", "2", "--udp-port", "0", "--body-limit", "1k", "--window",
                      "1m", "--workers", "2", "--allow-agent", "10.0.0.0/8", "--backlog", "1G"}).config;
    CHECK(store_options(c).map_size == 2u << 20);
    CHECK(store_options(c).retention_ms == 7 * 86400000LL);
    CHECK(ingest_options(c).port == 0);
    CHECK(ingest_options(c).allow == std::vector<std::string>{"10.0.0.0/8"});
    CHECK(ingest_options(c).backlog_bytes == 1ull << 30);
    CHECK(api_options(c).body_limit == 1024);
    CHECK(api_options(c).window_ms == 60000);
    CHECK(fcgi_options(c).workers == 2);
    CHECK(fcgi_options(c).body_limit == 1024);
}
