// config.h — the service's settings: one table of options drives --help, the command line
// and the INI config file (Boost.Program_options), like nginx's command tables.
//
// Caveats:
//  - parse_config() throws ConfigError with a message naming the option or file at fault;
//    main prints it and exits with status 2. It never exits or prints by itself.
//  - The command line overrides the config file, option by option (a repeatable option
//    given on the command line replaces the file's list).
//  - etc/sflow-monitor.conf lists every option of config_options() with its default;
//    test/config_test.cpp checks that the two agree.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sflow_monitor/api.h"
#include "sflow_monitor/fcgi_server.h"
#include "sflow_monitor/ingest.h"
#include "sflow_monitor/log.h"
#include "sflow_monitor/store.h"

namespace sfm {

class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Every field is set from config_options()' defaults before the sources are read.
struct Config {
    std::string data_dir;
    uint64_t map_size_mib = 0;  // 0: not given (derived from the disk, or the store's own)
    int64_t retention_ms = 0;
    int64_t rollup_retention_ms = 0;
    int64_t rollup_5m_retention_ms = 0;  // within [retention_ms, rollup_retention_ms]
    int64_t compact_after_ms = 0;
    std::string udp_listen;
    uint16_t udp_port = 0;
    int udp_rcvbuf = 0;  // bytes
    int flush_ms = 0;
    uint64_t backlog_bytes = 0;
    int workers = 0;
    int64_t window_ms = 0;
    int64_t max_span_ms = 0;
    size_t body_limit = 0;  // bytes
    size_t max_batch = 0;   // calls
    size_t reply_limit = 0;  // bytes
    int64_t request_timeout_ms = 0;
    int heavy_calls = 0;
    LogLevel log_level = LogLevel::info;
    std::string fcgi_listen;  // "" (fd 0 from spawn-fcgi), "unix:PATH" or "HOST:PORT"
    std::vector<std::string> allow_agent;  // CIDRs; empty = every agent
    bool require_source_match = false;
};

// One row of the options table.
struct ConfigOption {
    const char* name;            // long option and config file key
    const char* default_text;    // as written in etc/sflow-monitor.conf; "" = none
    const char* help;
    bool repeatable;
    std::function<void(Config&, const std::string&)> set;  // throws ConfigError on a bad value
};
const std::vector<ConfigOption>& config_options();

struct ParsedArgs {
    enum Action { run, help, version } action = run;
    Config config;
    std::string help_text;  // filled for action == help
};

// argv[0] is the program name. Throws ConfigError.
ParsedArgs parse_config(int argc, const char* const argv[]);
Config default_config();

// Value syntax, exposed for tests. Both throw ConfigError.
int64_t parse_duration_ms(const std::string& text);  // "7d", "12h", "30m", "3600s", "500ms", "500"
uint64_t parse_size_bytes(const std::string& text);  // "65536", "64k", "8M", "1G" (powers of 1024)

StoreOptions store_options(const Config& c);
IngestOptions ingest_options(const Config& c);
ApiOptions api_options(const Config& c);
FcgiOptions fcgi_options(const Config& c);

}  // namespace sfm
