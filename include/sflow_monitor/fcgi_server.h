// fcgi_server.h — the FastCGI responder: N worker threads accept requests from nginx on one
// listening socket and answer each with Api::handle(). The only file that includes fcgiapp.h
// is src/fcgi_server.cpp.
//
// Caveats:
//  - The constructor opens the socket (or adopts fd 0 from spawn-fcgi) and throws
//    std::runtime_error with the reason when it cannot; start() starts the workers.
//  - stop() makes every worker return from accept, lets requests in flight finish, and
//    joins. Safe to call twice; the destructor calls it.
//  - GET /metrics, /sflow-monitor/metrics and /prometheus/targets (by SCRIPT_NAME) go to the
//    Exporter when one is given (other methods there: 405 with Allow: GET).
//  - Otherwise only POST reaches the Api (others: 405 with Allow: POST). A body over body_limit
//    (by CONTENT_LENGTH, or by what actually arrives) gets Api::too_large() and is never
//    read past body_limit + 1 bytes.
//  - Nothing escapes a worker: an exception in a request is logged and answered -32603.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "sflow_monitor/api.h"
#include "sflow_monitor/metrics.h"

namespace sfm {

struct FcgiOptions {
    std::string listen;             // "": fd 0 (spawn-fcgi); "unix:PATH" (mode 0660); "HOST:PORT"
    int workers = 8;
    size_t body_limit = 64 * 1024;  // bytes
    int backlog = 128;
};

class FcgiServer {
public:
    FcgiServer(const FcgiOptions& opts, const Api& api, const Exporter* exporter = nullptr);
    ~FcgiServer();
    FcgiServer(const FcgiServer&) = delete;
    FcgiServer& operator=(const FcgiServer&) = delete;
    void start();
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sfm
