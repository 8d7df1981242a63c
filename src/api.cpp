// api.cpp — the JSON-RPC 2.0 envelope: parse, validate, bind parameters against the method
// table (methods.h), dispatch, and write the response. The per-request catch site.
// The only file that includes jsoncpp.
#include "sflow_monitor/api.h"

#include <json/json.h>

#include <memory>

#include "sflow_monitor/clock.h"
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
    w.key("jsonrpc");
    w.string("2.0");
    w.key("error");
    w.begin_object();
    w.key("code");
    w.number(code);
    w.key("message");
    w.string(message);
    if (!data.empty()) {
        w.key("data");
        w.raw(data);
    }
    w.end_object();
    w.key("id");
    write_id(w, id, body);
    w.end_object();
}

const char* type_name(ParamType t) {
    switch (t) {
        case ParamType::string: return "must be a string";
        case ParamType::time: return "must be an integer (ms) or a string of digits";
        case ParamType::count: return "must be a positive integer";
        case ParamType::flag: return "must be true or false";
    }
    return "wrong type";
}

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

struct Ctx {
    const ApiOptions& opts;
    const Store& store;
    const Stats& stats;
    int64_t now;
    std::string_view body;  // the request's text, for ids echoed as sent
    RequestStats* requests;  // null: not counted
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

// Handles one request object; returns false for a notification (nothing written).
bool handle_one(const Ctx& c, const Json::Value& req, JsonWriter& w) {
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
        m->run(Call{c.store, c.stats, c.opts, c.now, args}, rw);
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

Api::Api(const ApiOptions& opts, const Store& store, const Stats& stats, RequestStats* requests)
    : opts_(opts), store_(store), stats_(stats), requests_(requests) {}

HttpReply Api::handle(std::string_view body) const { return handle(body, now_ms()); }

HttpReply Api::too_large() const {
    HttpReply r;
    JsonWriter w(r.body);
    write_error(w, nullptr, {}, -32600, "Invalid Request",
                "{\"reason\":\"request body over the limit of " + std::to_string(opts_.body_limit) +
                    " bytes\"}");
    return r;
}

HttpReply Api::handle(std::string_view body, int64_t now) const {
    HttpReply reply;
    reply.body.reserve(16384);  // a full window of most series fits without regrowing
    JsonWriter w(reply.body);
    if (body.size() > opts_.body_limit) return too_large();
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
                    "{\"reason\":\"nested deeper than " + std::to_string(opts_.max_depth) + "\"}");
        return reply;
    }
    if (!parsed) {
        write_error(w, nullptr, {}, -32700, "Parse error");
        return reply;
    }
    Ctx c{opts_, store_, stats_, now, body, requests_};
    if (root.isArray()) {
        if (root.empty()) {
            write_error(w, nullptr, {}, -32600, "Invalid Request");
            return reply;
        }
        std::string one;
        bool any = false;
        w.raw("[");
        for (const auto& req : root) {
            one.clear();
            JsonWriter ow(one);
            if (!handle_one(c, req, ow)) continue;  // a notification: no response object
            if (any) w.raw(",");
            w.raw(one);
            any = true;
        }
        w.raw("]");
        if (!any) {
            reply.body.clear();
            reply.status = 204;
        }
        return reply;
    }
    if (!handle_one(c, root, w)) {
        reply.body.clear();
        reply.status = 204;
    }
    return reply;
}

}  // namespace sfm
