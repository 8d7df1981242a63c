// bench-fcgi-echo — the query ceiling for `make bench`: a FastCGI responder that answers every
// request with one fixed JSON-RPC body of a given size, and does nothing else. It is shaped
// like src/fcgi_server.cpp (fd 0 from spawn-fcgi, N worker threads taking turns in
// FCGX_Accept_r under one mutex, the request body read whole, the same reply headers), so
// nginx → it measures what nginx, libfcgi, the sockets and the client cost on this machine.
//   spawn-fcgi -n -s SOCKET -- bench-fcgi-echo [--bytes N] [--workers N]
// Logs "bench-fcgi-echo started" once accepting; SIGTERM/SIGINT stop it (exit status 0).
#include <fcgiapp.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sflow_monitor/log.h"

using namespace sfm;

namespace {

// {"jsonrpc":"2.0","result":"xxxx","id":1}, padded with x to exactly `bytes` (at least its frame).
std::string fixed_body(size_t bytes) {
    const std::string head = R"({"jsonrpc":"2.0","result":")", tail = R"(","id":1})";
    size_t pad = bytes > head.size() + tail.size() ? bytes - head.size() - tail.size() : 0;
    return head + std::string(pad, 'x') + tail;
}

struct Echo {
    std::string reply;  // headers and body, as src/fcgi_server.cpp sends them
    std::mutex accept_mu;
    std::atomic<bool> stopping{false};

    void worker() {
        FCGX_Request req;
        if (FCGX_InitRequest(&req, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) return;
        std::vector<char> body(64 * 1024 + 1);
        for (;;) {
            int rc;
            {
                std::lock_guard<std::mutex> lock(accept_mu);
                if (stopping.load()) break;
                rc = FCGX_Accept_r(&req);
            }
            if (rc < 0) {
                if (stopping.load()) break;
                continue;
            }
            while (FCGX_GetStr(body.data(), int(body.size()), req.in) > 0) {}
            FCGX_PutStr(reply.data(), int(reply.size()), req.out);
            FCGX_Finish_r(&req);
        }
        FCGX_Free(&req, 1);
    }
};

}  // namespace

int main(int argc, char** argv) {
    size_t bytes = 4096;
    int workers = 4;  // bench/measure.py passes BENCH_WORKERS (4) to it and to the service
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (i + 1 < argc && a == "--bytes") bytes = size_t(std::strtoul(argv[++i], nullptr, 10));
        else if (i + 1 < argc && a == "--workers") workers = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "usage: bench-fcgi-echo [--bytes N] [--workers N]\n");
            return 2;
        }
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    signal(SIGPIPE, SIG_IGN);
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening) {
        log_error("fd 0 is not a listening socket: start bench-fcgi-echo under spawn-fcgi");
        return 1;
    }
    if (FCGX_Init() != 0) return 1;
    Echo echo;
    std::string body = fixed_body(bytes);
    echo.reply = "Status: 200 OK\r\nContent-Type: application/json-rpc\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body;
    std::vector<std::thread> threads;
    for (int i = 0; i < workers; ++i) threads.emplace_back([&echo] { echo.worker(); });
    log_info("bench-fcgi-echo started: %d workers, %zu-byte body", workers, body.size());
    int sig = 0;
    sigwait(&stop, &sig);
    echo.stopping = true;
    FCGX_ShutdownPending();
    shutdown(0, SHUT_RDWR);  // a blocked accept() returns
    for (auto& t : threads) t.join();
    return 0;
}
