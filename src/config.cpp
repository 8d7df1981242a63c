// config.cpp — the options table, its Boost.Program_options wiring and the value parsers.
#include "sflow_monitor/config.h"

#include <algorithm>

#include <boost/program_options.hpp>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>

#include "sflow_monitor/admission.h"
#include "sflow_monitor/sflow.h"

namespace po = boost::program_options;

namespace sfm {

namespace {

[[noreturn]] void bad(const std::string& value, const char* expected) {
    throw ConfigError("invalid value '" + value + "': expected " + expected);
}

// The leading decimal digits of text as an integer; `rest` gets what follows them.
uint64_t leading_number(const std::string& text, std::string& rest, const char* expected) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p == text.data()) bad(text, expected);
    rest.assign(p, text.data() + text.size());
    return v;
}

int64_t integer(const std::string& text, int64_t lo, int64_t hi) {
    std::string expected = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
    std::string rest;
    uint64_t v = leading_number(text, rest, expected.c_str());
    if (!rest.empty() || v > uint64_t(hi) || int64_t(v) < lo) bad(text, expected.c_str());
    return int64_t(v);
}

template <class T>
T in_range(T v, T lo, T hi, const std::string& text, const char* expected) {
    if (v < lo || v > hi) bad(text, expected);
    return v;
}

bool boolean(const std::string& text) {
    for (const char* t : {"true", "yes", "on", "1"})
        if (text == t) return true;
    for (const char* f : {"false", "no", "off", "0"})
        if (text == f) return false;
    bad(text, "true or false");
}

void check_cidr(const std::string& text) {
    if (!Cidr::parse(text)) bad(text, "an address or CIDR such as 192.0.2.0/24 or 2001:db8::/32");
}

void check_fcgi_listen(const std::string& text) {
    const char* expected = "empty (fd 0), unix:PATH or HOST:PORT";
    if (text.empty()) return;
    if (text.rfind("unix:", 0) == 0) {
        if (text.size() == 5) bad(text, expected);
        return;
    }
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) bad(text, expected);
    std::string port_text = text.substr(colon + 1), rest;
    uint64_t port = leading_number(port_text, rest, expected);
    if (!rest.empty() || port == 0 || port > 65535) bad(text, expected);
}

std::vector<ConfigOption> make_table() {
    using C = Config;
    using S = const std::string&;
    return {
        {"data-dir", "var/data", "directory of the LMDB store (created if missing)", false,
         [](C& c, S v) {
             if (v.empty()) bad(v, "a directory");
             c.data_dir = v;
         }},
        {"map-size", "",
         "LMDB map size in MiB: the most the store may hold (none: a new store takes half the free "
         "space of its file system, at most 1 TiB; an existing one keeps its size)",
         false,
         [](C& c, S v) { c.map_size_mib = uint64_t(integer(v, 1, 16 << 20)); }},
        {"retention", "7d", "how long samples are kept (e.g. 7d, 12h, 3600s, 500ms)", false,
         [](C& c, S v) {
             c.retention_ms = in_range<int64_t>(parse_duration_ms(v), 1000, INT64_MAX / 4, v,
                                                "a duration of at least 1s");
         }},
        {"rollup-retention", "400d",
         "how long the 1-hour roll-ups are kept, and the 5-minute ones at most (raised to retention "
         "if shorter)",
         false,
         [](C& c, S v) {
             c.rollup_retention_ms = in_range<int64_t>(parse_duration_ms(v), 1000, INT64_MAX / 4, v,
                                                       "a duration of at least 1s");
         }},
        {"rollup-5m-retention", "42d",
         "how long the 5-minute roll-ups are kept (raised to retention if shorter, lowered to "
         "rollup-retention if longer)",
         false,
         [](C& c, S v) {
             c.rollup_5m_retention_ms = in_range<int64_t>(parse_duration_ms(v), 1000, INT64_MAX / 4, v,
                                                          "a duration of at least 1s");
         }},
        {"compact-after", "10m",
         "samples older than this are rewritten into compressed chunks (e.g. 10m, 1h, 0: as soon as stored)",
         false,
         [](C& c, S v) {
             c.compact_after_ms = in_range<int64_t>(parse_duration_ms(v), 0, INT64_MAX / 4, v, "a duration");
         }},
        {"udp-listen", "0.0.0.0", "address for sFlow datagrams (:: for IPv6 and IPv4)", false,
         [](C& c, S v) {
             if (!Address::parse(v)) bad(v, "an IPv4 or IPv6 address");
             c.udp_listen = v;
         }},
        {"udp-port", "6343", "UDP port for sFlow datagrams (0: any free port)", false,
         [](C& c, S v) { c.udp_port = uint16_t(integer(v, 0, 65535)); }},
        {"udp-rcvbuf", "8M", "socket receive buffer (bytes, or with k/M/G)", false,
         [](C& c, S v) {
             c.udp_rcvbuf = int(in_range<uint64_t>(parse_size_bytes(v), 4096, INT_MAX / 2, v,
                                                   "a size from 4k to 1G"));
         }},
        {"flush-ms", "1000", "longest time a received sample waits before it is stored (ms)",
         false, [](C& c, S v) { c.flush_ms = int(integer(v, 1, 60000)); }},
        {"backlog", "256M", "most memory held by samples waiting for the store (bytes, or with k/M/G)",
         false,
         [](C& c, S v) {
             c.backlog_bytes = in_range<uint64_t>(parse_size_bytes(v), 1 << 20, uint64_t(1) << 40, v,
                                                  "a size from 1M to 1T");
         }},
        {"workers", "8", "FastCGI worker threads (heavy calls hold at most workers - 1 of them)", false,
         [](C& c, S v) { c.workers = int(integer(v, 1, 256)); }},
        {"window", "10m", "time-series window of the API methods (e.g. 10m, 600000)", false,
         [](C& c, S v) {
             c.window_ms = in_range<int64_t>(parse_duration_ms(v), 1, INT64_MAX / 4, v,
                                             "a positive duration");
         }},
        {"max-span", "24h", "longest from/to range a query may ask for", false,
         [](C& c, S v) {
             c.max_span_ms = in_range<int64_t>(parse_duration_ms(v), 1, INT64_MAX / 4, v,
                                               "a positive duration");
         }},
        {"body-limit", "65536", "largest request body accepted (bytes, or with k/M)", false,
         [](C& c, S v) {
             c.body_limit = size_t(in_range<uint64_t>(parse_size_bytes(v), 64, 64 << 20, v,
                                                      "a size from 64 to 64M"));
         }},
        {"max-batch", "100", "most calls in one JSON-RPC batch; a longer batch is refused whole",
         false, [](C& c, S v) { c.max_batch = size_t(integer(v, 1, 100000)); }},
        {"reply-limit", "32M",
         "largest reply (bytes, or with k/M/G); the call that would pass it gets an error",
         false,
         [](C& c, S v) {
             c.reply_limit = size_t(in_range<uint64_t>(parse_size_bytes(v), 1024, uint64_t(4) << 30, v,
                                                       "a size from 1k to 4G"));
         }},
        {"request-timeout", "10s",
         "longest time one request (a whole batch) may run; then its call gets an error",
         false,
         [](C& c, S v) {
             c.request_timeout_ms = in_range<int64_t>(parse_duration_ms(v), 1, 3600000, v,
                                                      "a duration from 1ms to 1h");
         }},
        {"heavy-calls", "1",
         "heavy calls (cluster.status, host.vms, descriptions, long ranges) running at once; "
         "more wait, and one worker is always left to the others",
         false, [](C& c, S v) { c.heavy_calls = int(integer(v, 1, 256)); }},
        {"log-level", "info", "error, warn, info or debug", false,
         [](C& c, S v) {
             if (!parse_log_level(v.c_str(), c.log_level)) bad(v, "error, warn, info or debug");
         }},
        {"fcgi-listen", "",
         "FastCGI socket: empty = fd 0 as spawn-fcgi passes it, unix:PATH or HOST:PORT", false,
         [](C& c, S v) {
             check_fcgi_listen(v);
             c.fcgi_listen = v;
         }},
        {"allow-agent", "", "accept sFlow only from agents in this CIDR (repeatable; none = all)",
         true,
         [](C& c, S v) {
             check_cidr(v);
             c.allow_agent.push_back(v);
         }},
        {"require-source-match", "false",
         "drop datagrams whose agent address differs from their UDP source address", false,
         [](C& c, S v) { c.require_source_match = boolean(v); }},
    };
}

po::options_description table_description() {
    po::options_description d("Options (also valid in the config file, as name = value)");
    for (const auto& o : config_options()) {
        if (o.repeatable) {
            d.add_options()(o.name, po::value<std::vector<std::string>>()->value_name("CIDR"), o.help);
        } else {
            auto* v = po::value<std::string>()->value_name("VALUE");
            if (*o.default_text) v->default_value(o.default_text);
            if (std::strcmp(o.default_text, "false") == 0) v->implicit_value("true");
            d.add_options()(o.name, v, o.help);
        }
    }
    return d;
}

// Applies the non-default values found in vm to c; names the option in any error.
void apply_values(const po::variables_map& vm, Config& c) {
    for (const auto& o : config_options()) {
        auto it = vm.find(o.name);
        if (it == vm.end() || it->second.defaulted()) continue;
        try {
            if (o.repeatable) {
                for (const auto& v : it->second.as<std::vector<std::string>>()) o.set(c, v);
            } else {
                o.set(c, it->second.as<std::string>());
            }
        } catch (const ConfigError& e) {
            throw ConfigError(std::string("option '") + o.name + "': " + e.what());
        }
    }
}

}  // namespace

const std::vector<ConfigOption>& config_options() {
    static const std::vector<ConfigOption> table = make_table();
    return table;
}

int64_t parse_duration_ms(const std::string& text) {
    const char* expected = "a duration such as 7d, 12h, 30m, 3600s, 500ms or 500 (ms)";
    std::string unit;
    uint64_t n = leading_number(text, unit, expected);
    uint64_t mult = 0;
    if (unit.empty() || unit == "ms") mult = 1;
    else if (unit == "s") mult = 1000;
    else if (unit == "m") mult = 60000;
    else if (unit == "h") mult = 3600000;
    else if (unit == "d") mult = 86400000;
    else bad(text, expected);
    if (n > uint64_t(INT64_MAX) / mult) bad(text, expected);
    return int64_t(n * mult);
}

uint64_t parse_size_bytes(const std::string& text) {
    const char* expected = "a size in bytes such as 65536, 64k, 8M or 1G";
    std::string unit;
    uint64_t n = leading_number(text, unit, expected);
    unsigned shift = 0;
    if (unit.empty()) shift = 0;
    else if (unit == "k" || unit == "K") shift = 10;
    else if (unit == "m" || unit == "M") shift = 20;
    else if (unit == "g" || unit == "G") shift = 30;
    else bad(text, expected);
    if (n > (UINT64_MAX >> shift)) bad(text, expected);
    return n << shift;
}

Config default_config() {
    Config c;
    for (const auto& o : config_options())
        if (*o.default_text) o.set(c, o.default_text);
    return c;
}

ParsedArgs parse_config(int argc, const char* const argv[]) {
    po::options_description general("General");
    general.add_options()("help,h", "show this help and exit")(
        "version", "show the version and exit")(
        "config,c", po::value<std::string>()->value_name("FILE"),
        "read options from FILE (INI: name = value); the command line overrides it");
    po::options_description table = table_description();
    po::options_description all;
    all.add(general).add(table);

    ParsedArgs out;
    po::variables_map vm;
    try {
        po::parsed_options parsed = po::command_line_parser(argc, argv).options(all).run();
        auto stray = po::collect_unrecognized(parsed.options, po::include_positional);
        if (!stray.empty()) throw ConfigError("unexpected argument '" + stray[0] + "'");
        po::store(parsed, vm);
    } catch (const po::error& e) {
        throw ConfigError(e.what());
    }
    if (vm.count("help")) {
        std::ostringstream s;
        s << "usage: " << (argc > 0 ? argv[0] : "sflow-monitor")
          << " [--config FILE] [--option value ...]\n\n"
          << "Collects sFlow v5 host and VM counters over UDP and answers JSON-RPC 2.0\n"
          << "queries over FastCGI.\n\n"
          << all;
        out.action = ParsedArgs::help;
        out.help_text = s.str();
        return out;
    }
    if (vm.count("version")) {
        out.action = ParsedArgs::version;
        return out;
    }
    if (vm.count("config")) {
        std::string path = vm["config"].as<std::string>();
        std::ifstream in(path);
        if (!in) throw ConfigError("config file '" + path + "': " + std::strerror(errno));
        try {
            po::store(po::parse_config_file(in, table), vm);
        } catch (const po::error& e) {
            throw ConfigError("config file '" + path + "': " + e.what());
        }
    }
    out.config = default_config();
    apply_values(vm, out.config);
    // a stepped query reads roll-ups where they exist: they reach back at least as far as samples
    out.config.rollup_retention_ms = std::max(out.config.rollup_retention_ms, out.config.retention_ms);
    // the 5-minute ones as well, and they never outlive the 1-hour ones
    out.config.rollup_5m_retention_ms = std::clamp(out.config.rollup_5m_retention_ms, out.config.retention_ms,
                                                   out.config.rollup_retention_ms);
    return out;
}

StoreOptions store_options(const Config& c) {
    StoreOptions o;
    o.dir = c.data_dir;
    o.map_size = c.map_size_mib << 20;
    o.retention_ms = c.retention_ms;
    o.rollup_retention_ms = c.rollup_retention_ms;
    o.rollup_5m_retention_ms = c.rollup_5m_retention_ms;
    return o;
}

IngestOptions ingest_options(const Config& c) {
    IngestOptions o;
    o.listen = c.udp_listen;
    o.port = c.udp_port;
    o.rcvbuf_bytes = c.udp_rcvbuf;
    o.flush_ms = c.flush_ms;
    o.compact_after_ms = c.compact_after_ms;
    o.backlog_bytes = c.backlog_bytes;
    o.allow = c.allow_agent;
    o.require_source_match = c.require_source_match;
    return o;
}

ApiOptions api_options(const Config& c) {
    ApiOptions o;
    o.window_ms = c.window_ms;
    o.max_span_ms = c.max_span_ms;
    o.body_limit = c.body_limit;
    o.max_batch = c.max_batch;
    o.reply_limit = c.reply_limit;
    o.request_timeout_ms = c.request_timeout_ms;
    o.heavy_calls = c.heavy_calls;
    o.workers = c.workers;
    return o;
}

FcgiOptions fcgi_options(const Config& c) {
    FcgiOptions o;
    o.listen = c.fcgi_listen;
    o.workers = c.workers;
    o.body_limit = c.body_limit;
    return o;
}

}  // namespace sfm
