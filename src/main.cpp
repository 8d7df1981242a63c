// main.cpp — wires the parts: config → store → stats → ingest → api → fastcgi, then waits for
// SIGTERM/SIGINT and stops them in reverse. Exit status: 0 clean stop, 1 start-up failure,
// 2 configuration error, 3 an ingest thread died (it raised SIGTERM to wake the wait here).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "sflow_monitor/api.h"
#include "sflow_monitor/clock.h"
#include "sflow_monitor/config.h"
#include "sflow_monitor/fcgi_server.h"
#include "sflow_monitor/ingest.h"
#include "sflow_monitor/log.h"
#include "sflow_monitor/methods.h"
#include "sflow_monitor/metrics.h"
#include "sflow_monitor/stats.h"
#include "sflow_monitor/store.h"

using namespace sfm;

int main(int argc, char** argv) {
    ParsedArgs args;
    try {
        args = parse_config(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sflow-monitor: %s\nTry 'sflow-monitor --help'.\n", e.what());
        return 2;
    }
    if (args.action == ParsedArgs::help) {
        std::fputs(args.help_text.c_str(), stdout);
        return 0;
    }
    if (args.action == ParsedArgs::version) {
        std::printf("sflow-monitor %s\n", kVersion);
        return 0;
    }
    const Config& c = args.config;
    set_log_level(c.log_level);

    // Every thread inherits this mask; only sigwait() below sees the stop signals.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    try {
        Store store(store_options(c));
        Stats stats;
        stats.started_ms = now_ms();
        IngestOptions io = ingest_options(c);
        // A dead ingest thread stops the process: systemd's Restart= brings it back.
        io.on_failure = [] { kill(getpid(), SIGTERM); };
        if (const char* fault = std::getenv("SFM_TEST_FAULT")) io.test_fault = fault;  // tests only
        Ingest ingest(io, store, stats);
        ingest.start();
        std::vector<std::string> methods;
        for (const MethodSpec& m : method_table()) methods.push_back(m.name);
        RequestStats requests(methods);
        Api api(api_options(c), store, stats, &requests);
        ExporterOptions eo;
        eo.retention_ms = store_options(c).retention_ms;
        Exporter exporter(eo, store, stats, &requests);
        FcgiServer server(fcgi_options(c), api, &exporter);
        server.start();
        log_info("sflow-monitor %s started: sflow on udp %s port %u, store %s", kVersion,
                 c.udp_listen.c_str(), unsigned(ingest.port()), c.data_dir.c_str());

        int sig = 0;
        sigwait(&stop_signals, &sig);
        if (ingest.failed())
            log_info("stopping: the ingest stopped (exit status 3)");  // its thread logged why
        else
            log_info("%s received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        server.stop();  // requests in flight finish first
        ingest.stop();  // flushes what it holds into the store
        if (ingest.failed()) return 3;
    } catch (const std::exception& e) {
        log_error("cannot start: %s", e.what());
        return 1;
    }
    log_info("stopped");
    return 0;
}
