// fcgi_server.cpp — FastCGI workers over libfcgi. The listening socket is ours (libfcgi's own
// FCGX_OpenSocket exits the process when bind fails); libfcgi only accepts and frames.
#include "sflow_monitor/fcgi_server.h"

#include <fcgiapp.h>
#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

#include "sflow_monitor/clock.h"
#include "sflow_monitor/log.h"

namespace sfm {

namespace {

std::runtime_error sys_error(const std::string& what) {
    return std::runtime_error(what + ": " + std::strerror(errno));
}

int listen_unix(const std::string& path, int backlog) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path)
        throw std::runtime_error("fastcgi socket path too long: " + path);
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw sys_error("fastcgi socket");
    struct stat st;
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            close(fd);
            throw std::runtime_error("fastcgi socket " + path + ": exists and is not a socket");
        }
        if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
            close(fd);
            throw std::runtime_error("fastcgi socket " + path + ": in use by another process");
        }
        unlink(path.c_str());  // stale, from a process that is gone
        close(fd);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) throw sys_error("fastcgi socket");
    }
    mode_t old = umask(0117);  // never world-writable, not even between bind and chmod
    int rc = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    umask(old);
    if (rc < 0 || chmod(path.c_str(), 0660) < 0 || listen(fd, backlog) < 0) {
        auto e = sys_error("fastcgi socket " + path);
        close(fd);
        throw e;
    }
    return fd;
}

int listen_tcp(const std::string& hostport, int backlog) {
    size_t colon = hostport.rfind(':');
    std::string host = hostport.substr(0, colon), port = hostport.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
    if (gai != 0)
        throw std::runtime_error("fastcgi listen " + hostport + ": " + gai_strerror(gai));
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
        auto e = sys_error("fastcgi listen " + hostport);
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        throw e;
    }
    freeaddrinfo(res);
    return fd;
}

const char* reason(int status) {
    switch (status) {
        case 200: return "OK";
        case 204: return "No Content";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 413: return "Payload Too Large";
        case 500: return "Internal Server Error";
        default: return "Unknown";
    }
}

void respond(FCGX_Stream* out, int status, const std::string& body,
             const char* content_type = "application/json-rpc", const char* extra_headers = "") {
    std::string head = "Status: " + std::to_string(status) + " " + reason(status) + "\r\n" +
                       extra_headers;
    if (status != 204)
        head += std::string("Content-Type: ") + content_type + "\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n";
    head += "\r\n";
    FCGX_PutStr(head.data(), int(head.size()), out);
    if (status != 204) FCGX_PutStr(body.data(), int(body.size()), out);
}

const char* const internal_error =
    R"({"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":null})";

}  // namespace

struct FcgiServer::Impl {
    FcgiOptions opts;
    const Api& api;
    const Exporter* exporter;
    int fd = -1;
    bool own_fd = false;
    std::string unix_path;  // removed at stop
    std::mutex accept_mu;   // libfcgi's accept is not meant to be entered by two threads
    std::atomic<bool> stopping{false};
    std::vector<std::thread> workers;

    Impl(const FcgiOptions& o, const Api& a, const Exporter* e) : opts(o), api(a), exporter(e) {}

    // GET /metrics, /sflow-monitor/metrics, /prometheus/targets: the exporter (metrics.h).
    void serve_metrics(FCGX_Request& req, const char* method, std::string_view path) {
        if (std::strcmp(method, "GET") != 0) {
            respond(req.out, 405, "only GET\n", "text/plain", "Allow: GET\r\n");
            return;
        }
        auto param = [&](const char* name) {
            const char* v = FCGX_GetParam(name, req.envp);
            return std::string_view(v ? v : "");
        };
        MetricsReply r = exporter->get(path, param("QUERY_STRING"), param("HTTP_ACCEPT"),
                                       param("HTTP_HOST"), now_ms());
        respond(req.out, r.status, r.body, r.content_type.c_str());
    }

    void serve(FCGX_Request& req) {
        const char* method = FCGX_GetParam("REQUEST_METHOD", req.envp);
        const char* script = FCGX_GetParam("SCRIPT_NAME", req.envp);
        if (exporter && method && script && Exporter::serves(script))
            return serve_metrics(req, method, script);
        if (!method || std::strcmp(method, "POST") != 0) {
            respond(req.out, 405, "only POST\n", "text/plain", "Allow: POST\r\n");
            return;
        }
        const char* client = FCGX_GetParam("REMOTE_ADDR", req.envp);
        if (!client) client = "";
        // Read at most body_limit + 1 bytes, whatever CONTENT_LENGTH claims.
        size_t limit = opts.body_limit;
        size_t want = limit + 1;
        if (const char* cl = FCGX_GetParam("CONTENT_LENGTH", req.envp); cl && *cl) {
            char* end = nullptr;
            errno = 0;
            unsigned long long n = std::strtoull(cl, &end, 10);
            if (*end == '\0' && errno == 0 && *cl != '-') {
                if (n > limit) {
                    HttpReply r = api.too_large(client);
                    respond(req.out, r.status, r.body);
                    return;
                }
                want = size_t(n);
            }
        }
        std::string body(want, '\0');
        size_t got = 0;
        while (got < want) {
            int n = FCGX_GetStr(&body[got], int(want - got), req.in);
            if (n <= 0) break;
            got += size_t(n);
        }
        body.resize(got);
        if (got > limit) {
            HttpReply r = api.too_large(client);
            respond(req.out, r.status, r.body);
            return;
        }
        HttpReply r = api.handle(body, now_ms(), client);
        respond(req.out, r.status, r.body);
    }

    void run_worker() {
        FCGX_Request req;
        if (FCGX_InitRequest(&req, fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
            log_error("fastcgi: cannot initialise a request");
            return;
        }
        bool warned = false;
        while (!stopping.load()) {
            int rc;
            {
                std::lock_guard<std::mutex> lock(accept_mu);
                if (stopping.load()) break;
                rc = FCGX_Accept_r(&req);
            }
            if (rc < 0) {
                if (stopping.load()) break;
                if (!warned) log_warn("fastcgi: accept failed (%d), retrying", rc);
                warned = true;
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                continue;
            }
            warned = false;
            try {
                serve(req);
            } catch (const std::exception& e) {
                log_error("fastcgi request failed: %s", e.what());
                respond(req.out, 200, internal_error);
            } catch (...) {
                log_error("fastcgi request failed: unknown exception");
                respond(req.out, 200, internal_error);
            }
            FCGX_Finish_r(&req);
        }
        FCGX_Free(&req, 1);
    }
};

FcgiServer::FcgiServer(const FcgiOptions& opts, const Api& api, const Exporter* exporter)
    : impl_(std::make_unique<Impl>(opts, api, exporter)) {
    if (FCGX_Init() != 0) throw std::runtime_error("fastcgi: library initialisation failed");
    const std::string& l = opts.listen;
    if (l.empty()) {
        int listening = 0;
        socklen_t len = sizeof listening;
        if (getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
            throw std::runtime_error(
                "fd 0 is not a listening socket: start the service under spawn-fcgi, "
                "or set fcgi-listen (unix:PATH or HOST:PORT)");
        impl_->fd = 0;
    } else if (l.rfind("unix:", 0) == 0) {
        impl_->unix_path = l.substr(5);
        impl_->fd = listen_unix(impl_->unix_path, opts.backlog);
        impl_->own_fd = true;
    } else {
        impl_->fd = listen_tcp(l, opts.backlog);
        impl_->own_fd = true;
    }
}

FcgiServer::~FcgiServer() {
    stop();
    if (impl_->own_fd) close(impl_->fd);
    if (!impl_->unix_path.empty()) unlink(impl_->unix_path.c_str());
}

void FcgiServer::start() {
    log_info("fastcgi: %d workers on %s", impl_->opts.workers,
             impl_->opts.listen.empty() ? "fd 0" : impl_->opts.listen.c_str());
    for (int i = 0; i < impl_->opts.workers; ++i)
        impl_->workers.emplace_back([this] {
            pthread_setname_np(pthread_self(), "sfm-fcgi");
            impl_->run_worker();
        });
}

void FcgiServer::stop() {
    if (impl_->stopping.exchange(true)) return;
    FCGX_ShutdownPending();
    // A blocked accept() returns (EINVAL) once its listening socket is shut down.
    shutdown(impl_->fd, SHUT_RDWR);
    for (auto& t : impl_->workers) t.join();
    impl_->workers.clear();
}

}  // namespace sfm
