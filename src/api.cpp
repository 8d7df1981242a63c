// api.cpp — the JSON-RPC 2.0 envelope: parse, validate, bind parameters against the method
// table (methods.h), dispatch, and write the response. The per-request catch site.
// The only file that includes jsoncpp.
#include "sflow_monitor/api.h"

#include <json/json.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>

#include "sflow_monitor/clock.h"
#include "sflow_monitor/config.h"
#include "sflow_monitor/json_grammar.h"
#include "sflow_monitor/log.h"
#include "sflow_monitor/methods.h"
#include "sflow_monitor/metrics.h"

namespace sfm {

namespace {

// Writes a request's id back with its JSON type (string, number or null). A number is echoed
// as the text the client sent (valid_json(), json_grammar.h, checked its grammar): its value
// then survives whatever jsoncpp would round (beyond 64 bits, or 1e2 read as a double).
void write_id(JsonWriter& w, const Json::Value* id, std::string_view body) {
    if (!id || id->isNull()) return w.null();
    if (id->isString()) {
        const char *b, *e;
        id->getString(&b, &e);
        return w.string(std::string_view(b, size_t(e - b)));
    }
    auto at = id->getOffsetStart(), limit = id->getOffsetLimit();
    if (0 <= at && at < limit && size_t(limit) <= body.size())
        return w.raw(body.substr(size_t(at), size_t(limit - at)));
    w.number(id->asDouble());  // not reached: jsoncpp records every value's offsets
}

void write_error(JsonWriter& w, const Json::Value* id, std::string_view body, int code,
                 const std::string& message, const std::string& data = "") {
    w.begin_object();
    w.member("jsonrpc", "2.0");
    w.key("error");
    w.begin_object();
    w.member("code", code);
    w.member("message", message);
    if (!data.empty()) {
        w.key("data");
        w.raw(data);
    }
    w.end_object();
    w.key("id");
    write_id(w, id, body);
    w.end_object();
}

// The data of a request refused whole: {"reason":…} and, with limit_key, the limit's value.
std::string reason_data(const std::string& reason, const char* limit_key = nullptr, uint64_t limit = 0) {
    std::string data;
    JsonWriter d(data);
    d.begin_object();
    d.member("reason", reason);
    if (limit_key) d.member(limit_key, limit);
    d.end_object();
    return data;
}

const char* type_name(ParamType t) {
    switch (t) {
        case ParamType::string: return "must be a string";
        case ParamType::time: return "must be an integer (ms) or a string of digits";
        case ParamType::count: return "must be a positive integer";
        case ParamType::flag: return "must be true or false";
        case ParamType::duration: return "must be a positive integer (ms) or a duration such as \"5m\"";
        case ParamType::strings: return "must be a string or an array of strings";
    }
    return "wrong type";
}

constexpr int64_t kMaxDurationMs = 1'000'000'000'000'000'000;  // as times: no arithmetic overflows

// Parses a time value: a JSON integer >= 0 or a string of digits, either below 10^18 (the year
// 31 million: far enough, and no window arithmetic can overflow).
bool parse_time(const Json::Value& v, int64_t& out) {
    if (v.isString()) {
        const char *b, *e;
        v.getString(&b, &e);
        if (b == e) return false;
        const char* first = b;  // of the significant digits: leading zeros do not count
        while (first + 1 < e && *first == '0') ++first;
        if (e - first > 18) return false;
        int64_t n = 0;
        for (const char* p = b; p != e; ++p) {
            if (*p < '0' || *p > '9') return false;
            n = n * 10 + (*p - '0');
        }
        out = n;
        return true;
    }
    if (v.type() == Json::intValue || v.type() == Json::uintValue) {
        if (!v.isInt64() || v.asInt64() < 0 || v.asInt64() > 999999999999999999LL) return false;
        out = v.asInt64();
        return true;
    }
    return false;
}

Args bind_params(const MethodSpec& m, const Json::Value* params) {
    Args args;
    auto bind = [&](const ParamSpec& p, const Json::Value& v) {
        if (v.isNull() && !p.required) return;  // explicit null: as absent
        switch (p.type) {
            case ParamType::string:
                if (!v.isString()) throw invalid_param(p.name, type_name(p.type));
                args.values[p.name] = v.asString();
                break;
            case ParamType::time: {
                int64_t t;
                if (!parse_time(v, t)) throw invalid_param(p.name, type_name(p.type));
                args.values[p.name] = t;
                break;
            }
            case ParamType::count:
                if ((v.type() != Json::intValue && v.type() != Json::uintValue) || !v.isInt64() ||
                    v.asInt64() < 1)
                    throw invalid_param(p.name, type_name(p.type));
                args.values[p.name] = v.asInt64();
                break;
            case ParamType::flag:
                if (!v.isBool()) throw invalid_param(p.name, type_name(p.type));
                args.values[p.name] = v.asBool();
                break;
            case ParamType::strings: {
                std::vector<std::string> list;
                if (v.isString()) {
                    list.push_back(v.asString());
                } else if (v.isArray()) {
                    for (const Json::Value& x : v) {
                        if (!x.isString()) throw invalid_param(p.name, type_name(p.type));
                        list.push_back(x.asString());
                    }
                } else {
                    throw invalid_param(p.name, type_name(p.type));
                }
                args.values[p.name] = std::move(list);
                break;
            }
            case ParamType::duration: {
                int64_t ms = 0;
                if (v.type() == Json::intValue || v.type() == Json::uintValue) {
                    if (v.isInt64()) ms = v.asInt64();
                } else if (v.isString()) {
                    try {
                        ms = parse_duration_ms(v.asString());
                    } catch (const ConfigError&) {  // the config file's syntax, refused the same way
                    }
                }
                if (ms < 1 || ms > kMaxDurationMs) throw invalid_param(p.name, type_name(p.type));
                args.values[p.name] = ms;
                break;
            }
        }
    };
    if (params && params->isArray()) {
        if (params->size() > m.params.size())
            throw invalid_param(params->size() > 0 && !m.params.empty()
                                    ? m.params.back().name
                                    : "params",
                                "too many positional parameters (at most " +
                                    std::to_string(m.params.size()) + ")");
        for (Json::ArrayIndex i = 0; i < params->size(); ++i) bind(m.params[i], (*params)[i]);
    } else if (params && params->isObject()) {
        for (auto member = params->begin(); member != params->end(); ++member) {
            const char* end = nullptr;
            const char* begin = member.memberName(&end);
            std::string_view name(begin, size_t(end - begin));
            auto it = std::find_if(m.params.begin(), m.params.end(),
                                   [&](const ParamSpec& p) { return name == p.name; });
            if (it == m.params.end()) throw invalid_param(std::string(name), "unknown parameter");
            bind(*it, *member);
        }
    }
    for (const ParamSpec& p : m.params)
        if (p.required && !args.values.count(p.name)) throw invalid_param(p.name, "missing");
    return args;
}

// The error object of a call refused by a limit: data names the limit (and, for the reply's
// size, what to ask for instead).
RpcError refusal_error(RefusalReason why, const ApiOptions& o, const MethodSpec* m) {
    std::string data;
    JsonWriter d(data);
    d.begin_object();
    switch (why) {
        case RefusalReason::reply_limit: {
            d.member("reason", "the reply would pass the limit of " + std::to_string(o.reply_limit) +
                                   " bytes; earlier calls of a batch keep their answers, later ones are not run");
            d.member("reply_limit_bytes", uint64_t(o.reply_limit));
            // what narrows this method's answer: its own range and filter parameters
            d.key("narrow_with");
            d.begin_array();
            if (m)
                for (const ParamSpec& p : m->params)
                    for (const char* n : {"from", "to", "limit", "step"})
                        if (std::strcmp(p.name, n) == 0) {
                            d.sep();
                            d.string(p.name);
                        }
            d.end_array();
            d.member("hint", "ask for less in one call (a shorter from/to range, a limit or a step; for "
                             "cluster.status its filters) or split the batch into several requests");
            d.end_object();
            return RpcError(-32001, "Reply too large", data);
        }
        case RefusalReason::timeout:
            d.member("reason", "the request ran past its deadline of " + std::to_string(o.request_timeout_ms) +
                                   " ms; earlier calls of a batch keep their answers, later ones are not run");
            d.member("request_timeout_ms", o.request_timeout_ms);
            d.end_object();
            return RpcError(-32002, "Request timeout", data);
        case RefusalReason::busy:
            d.member("reason", "every worker that heavy calls may use is busy with one; retry shortly");
            d.member("heavy_calls", o.heavy_calls);
            d.end_object();
            return RpcError(-32003, "Server busy", data);
        case RefusalReason::batch_too_long:
        case RefusalReason::body_too_large:
            break;  // the whole request is refused: Api::handle, Api::too_large
    }
    d.member("reason", refusal_name(why));
    d.end_object();
    return RpcError(-32600, "Invalid Request", data);
}

struct Ctx {
    const ApiOptions& opts;
    const Store& store;
    const Stats& stats;
    int64_t now;
    std::string_view body;  // the request's text, for ids echoed as sent
    RequestStats* requests;  // null: not counted
    const Budget& budget;
    HeavyGate& gate;
    Ctx(const ApiOptions& o, const Store& st, const Stats& sts, int64_t n, std::string_view b,
        RequestStats* r, const Budget& bu, HeavyGate& g)
        : opts(o), store(st), stats(sts), now(n), body(b), requests(r), budget(bu), gate(g) {}
    Ctx(const Ctx&) = delete;
    // what the request has met so far
    enum class Heavy { none, holding, refused } heavy = Heavy::none;
    std::optional<RefusalReason> refused;  // the first refusal (counted and logged once)
    std::optional<RefusalReason> stopped;  // reply_limit or timeout: later calls are not run
    std::string refused_method;
    size_t refused_at = 0;                 // the call's index in the batch
    size_t index = 0;
    ~Ctx() {
        if (heavy == Heavy::holding) gate.leave();
    }
    void refuse(RefusalReason why, const std::string& method) {
        if (why != RefusalReason::busy && !stopped) stopped = why;
        if (refused) return;
        refused = why;
        refused_method = method;
        refused_at = index;
    }
};

// Counts one request in RequestStats (metrics.h) when it goes out of scope.
struct Observe {
    RequestStats* stats;
    size_t method;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    bool error = false;
    ~Observe() {
        if (stats)
            stats->observe(method, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                           error);
    }
};

// Takes a heavy-call slot for the request (once: a batch keeps it to its end).
void enter_heavy(Ctx& c) {
    if (c.heavy == Ctx::Heavy::holding) return;
    if (c.heavy == Ctx::Heavy::refused) throw Refusal(RefusalReason::busy);
    switch (c.gate.enter(c.budget.deadline())) {
        case HeavyGate::Entry::entered: c.heavy = Ctx::Heavy::holding; return;
        case HeavyGate::Entry::busy: c.heavy = Ctx::Heavy::refused; throw Refusal(RefusalReason::busy);
        case HeavyGate::Entry::timeout: throw Refusal(RefusalReason::timeout);
    }
}

// Handles one request object; returns false for a notification (nothing written).
bool handle_one(Ctx& c, const Json::Value& req, JsonWriter& w) {
    if (!req.isObject()) {
        write_error(w, nullptr, {}, -32600, "Invalid Request");
        return true;
    }
    const Json::Value* id = req.find("id", "id" + 2);
    bool id_ok = !id || id->isNull() || id->isString() || id->isNumeric();
    const Json::Value* version = req.find("jsonrpc", "jsonrpc" + 7);
    const Json::Value* method = req.find("method", "method" + 6);
    const Json::Value* params = req.find("params", "params" + 6);
    if (!id_ok || !version || !version->isString() || version->asString() != "2.0" || !method ||
        !method->isString() || (params && !params->isObject() && !params->isArray())) {
        write_error(w, id_ok ? id : nullptr, c.body, -32600, "Invalid Request");
        return true;
    }
    bool notification = !id;
    const MethodSpec* m = find_method(method->asString());
    Observe observe{c.requests, c.requests ? c.requests->index(m ? m->name : "") : 0};
    // The result is written in place after the envelope's head; on an error (or for a
    // notification) the output is cut back to where this response began.
    std::string& out = w.out();
    size_t mark = out.size();
    w.raw("{\"jsonrpc\":\"2.0\",\"result\":");
    JsonWriter rw(out);
    try {
        if (!m) throw RpcError(-32601, "Method not found");
        Args args = bind_params(*m, params);
        if (c.stopped) throw Refusal(*c.stopped);  // an earlier call spent the request's budget
        c.budget.check();
        Call call{c.store, c.stats, c.opts, c.now, args, c.budget};
        if (m->heavy && m->heavy(call)) enter_heavy(c);
        m->run(call, rw);
        c.budget.check();  // every method: the reply so far, with this result, within the limit
    } catch (const Refusal& e) {
        out.resize(mark);
        observe.error = true;
        c.refuse(e.reason, method->asString());
        if (notification) return false;
        RpcError err = refusal_error(e.reason, c.opts, m);
        write_error(w, id, c.body, err.code, err.what(), err.data_json);
        return true;
    } catch (const RpcError& e) {
        out.resize(mark);
        observe.error = true;
        if (notification) return false;
        write_error(w, id, c.body, e.code, e.what(), e.data_json);
        return true;
    } catch (const std::exception& e) {
        out.resize(mark);
        observe.error = true;
        log_error("%s: %s", method->asString().c_str(), e.what());
        if (notification) return false;
        write_error(w, id, c.body, -32603, std::string("Internal error: ") + e.what());
        return true;
    }
    if (notification) {
        out.resize(mark);
        return false;
    }
    w.raw(",\"id\":");
    write_id(w, id, c.body);
    w.raw("}");
    return true;
}

std::unique_ptr<Json::CharReader> make_reader(int max_depth) {
    Json::CharReaderBuilder b;
    Json::CharReaderBuilder::strictMode(&b.settings_);
    b.settings_["strictRoot"] = false;     // "1" is JSON, just not a request: -32600
    b.settings_["rejectDupKeys"] = false;  // JSON allows them; the last one wins
    b.settings_["stackLimit"] = max_depth;
    return std::unique_ptr<Json::CharReader>(b.newCharReader());
}

}  // namespace

Api::Api(const ApiOptions& opts, const Store& store, Stats& stats, RequestStats* requests)
    : opts_(opts),
      store_(store),
      stats_(stats),
      requests_(requests),
      gate_(std::make_unique<HeavyGate>(std::max(1, opts.heavy_calls), std::max(1, opts.workers - 1))),
      refusal_log_(std::make_unique<RefusalLog>()) {}

Api::~Api() = default;

HttpReply Api::handle(std::string_view body) const { return handle(body, now_ms()); }

void Api::refused(RefusalReason why, std::string_view client, const std::string& detail) const {
    RequestsRefused& r = stats_.requests_refused;
    std::atomic<uint64_t>* counter[] = {&r.body_too_large, &r.batch_too_long, &r.reply_limit,
                                        &r.timeout, &r.busy};
    counter[int(why)]->fetch_add(1, std::memory_order_relaxed);
    uint64_t skipped = 0;
    if (!refusal_log_->admit(now_ms(), skipped)) return;
    std::string more = skipped ? " (" + std::to_string(skipped) + " refusals before it not logged)" : "";
    log_warn("request from %.*s refused (%s): %s%s", int(client.empty() ? 1 : client.size()),
             client.empty() ? "-" : client.data(), refusal_name(why), detail.c_str(), more.c_str());
}

HttpReply Api::too_large(std::string_view client) const {
    HttpReply r;
    JsonWriter w(r.body);
    write_error(w, nullptr, {}, -32600, "Invalid Request",
                reason_data("request body over the limit of " + std::to_string(opts_.body_limit) + " bytes",
                            "body_limit_bytes", opts_.body_limit));
    refused(RefusalReason::body_too_large, client,
            "body over body-limit " + std::to_string(opts_.body_limit) + " bytes");
    return r;
}

HttpReply Api::handle(std::string_view body, int64_t now, std::string_view client) const {
    const auto deadline = SteadyClock::now() + std::chrono::milliseconds(opts_.request_timeout_ms);
    HttpReply reply;
    reply.body.reserve(16384);  // a full window of most series fits without regrowing
    JsonWriter w(reply.body);
    if (body.size() > opts_.body_limit) return too_large(client);
    // a UTF-8 byte order mark: RFC 8259 lets a parser skip it (jsoncpp's offsets then index body)
    if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);
    if (!valid_json(body)) {
        write_error(w, nullptr, {}, -32700, "Parse error");
        return reply;
    }
    Json::Value root;
    std::string errs;
    bool parsed = false, too_deep = false;
    try {
        // CharReader is not thread-safe: one per worker thread, built on its first request
        thread_local std::unique_ptr<Json::CharReader> reader;
        thread_local int reader_depth = -1;
        if (!reader || reader_depth != opts_.max_depth) {
            reader = make_reader(opts_.max_depth);
            reader_depth = opts_.max_depth;
        }
        parsed = reader->parse(body.data(), body.data() + body.size(), &root, &errs);
    } catch (const std::exception& e) {  // jsoncpp throws past stackLimit
        too_deep = true;
    }
    if (too_deep) {
        write_error(w, nullptr, {}, -32600, "Invalid Request",
                    reason_data("nested deeper than " + std::to_string(opts_.max_depth)));
        return reply;
    }
    if (!parsed) {
        write_error(w, nullptr, {}, -32700, "Parse error");
        return reply;
    }
    if (root.isArray() && root.size() > opts_.max_batch) {  // refused whole, nothing run
        write_error(w, nullptr, {}, -32600, "Invalid Request",
                    reason_data("batch of " + std::to_string(root.size()) + " calls, over the limit of " +
                                    std::to_string(opts_.max_batch),
                                "max_batch", opts_.max_batch));
        refused(RefusalReason::batch_too_long, client,
                "batch of " + std::to_string(root.size()) + " calls over max-batch " +
                    std::to_string(opts_.max_batch));
        return reply;
    }
    Budget budget(reply.body, opts_.reply_limit, deadline);
    Ctx c(opts_, store_, stats_, now, body, requests_, budget, *gate_);
    if (root.isArray()) {
        if (root.empty()) {
            write_error(w, nullptr, {}, -32600, "Invalid Request");
            return reply;
        }
        // each response is written in place; a notification's comma is taken back
        bool any = false;
        w.raw("[");
        for (const auto& req : root) {
            size_t mark = reply.body.size();
            if (any) w.raw(",");
            JsonWriter ow(reply.body);
            if (!handle_one(c, req, ow)) {  // a notification: no response object
                reply.body.resize(mark);
                ++c.index;
                continue;
            }
            any = true;
            ++c.index;
        }
        w.raw("]");
        if (!any) {
            reply.body.clear();
            reply.status = 204;
        }
    } else if (!handle_one(c, root, w)) {
        reply.body.clear();
        reply.status = 204;
    }
    if (c.refused)
        refused(*c.refused, client,
                c.refused_method + (root.isArray() ? " (call " + std::to_string(c.refused_at + 1) +
                                                         " of " + std::to_string(root.size()) + ")"
                                                   : std::string()) +
                    ": " + (*c.refused == RefusalReason::reply_limit
                                ? "reply over reply-limit " + std::to_string(opts_.reply_limit) + " bytes"
                            : *c.refused == RefusalReason::timeout
                                ? "past request-timeout " + std::to_string(opts_.request_timeout_ms) + " ms"
                                : "heavy-calls " + std::to_string(opts_.heavy_calls) + " busy"));
    return reply;
}

}  // namespace sfm
