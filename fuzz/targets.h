// fuzz/targets.h — what each fuzz target does with one input, and the properties it checks.
// Shared by the libFuzzer entry points (fuzz/decoder_fuzz.cpp, fuzz/rpc_fuzz.cpp) and by
// test/regress_test.cpp, which replays every input a fuzzer ever found (test/regress/).
//
// Caveats:
//  - A violated property calls abort() with a line on stderr: libFuzzer then keeps the input.
//  - Any exception other than DecodeError escaping the decoder, or anything escaping
//    Api::handle, is a finding too (libFuzzer reports the uncaught exception as a crash).
//  - RpcEnv loads the real captures (SFLOW_TESTDATA, default ../shared/testdata) into a store
//    in a fresh /tmp directory, with fixed receive times, so a finding replays identically.
#pragma once

#include <json/json.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sflow_monitor/api.h"
#include "sflow_monitor/ingest.h"
#include "sflow_monitor/json.h"
#include "sflow_monitor/sflow.h"
#include "sflow_monitor/stats.h"
#include "sflow_monitor/store.h"
#include "sflow_monitor/xdr.h"
#include "testkit/pcap.h"

namespace sfm::fuzz {

[[noreturn]] inline void violated(const char* property, std::string_view detail) {
    std::fprintf(stderr, "fuzz property violated: %s\n%.*s\n", property,
                 int(std::min<size_t>(detail.size(), 2000)), detail.data());
    std::abort();
}

inline bool parses_as_json(const std::string& text, Json::Value* out = nullptr) {
    Json::CharReaderBuilder b;
    Json::CharReaderBuilder::strictMode(&b.settings_);
    b.settings_["stackLimit"] = 10000;
    std::unique_ptr<Json::CharReader> r(b.newCharReader());
    Json::Value v;
    std::string errs;
    bool ok = r->parse(text.data(), text.data() + text.size(), out ? out : &v, &errs);
    return ok;
}

// One record as sflow-decode would show it: every field, then only the API's fields.
inline void render_record(JsonWriter& w, const Record& rec) {
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (!std::is_same_v<T, std::monostate>) {
                w.sep();
                w.begin_object();
                w.fields(v);
                w.end_object();
                w.sep();
                w.begin_object();
                w.api_fields(v);
                w.end_object();
            }
        },
        rec.value);
}

// bytes → decode_datagram → decode_records again → every record as JSON.
// Properties: only DecodeError escapes; decoding a sample's records twice gives the same
// records; find_record_value() finds each format decode_records() found; the JSON parses.
inline void check_decoder(std::string_view bytes) {
    Datagram d;
    try {
        d = decode_datagram(bytes);
    } catch (const DecodeError&) {
        return;
    }
    Stats stats;
    std::vector<StoredSample> stored;
    samples_to_store(d, 1, stored, stats);
    std::string json;
    JsonWriter w(json);
    w.begin_array();
    for (const CounterSample& s : d.samples) {
        CounterSample again;
        decode_records(s.records_raw, again);
        if (again.records.size() != s.records.size() || again.errors.size() != s.errors.size() ||
            again.unknown_records != s.unknown_records)
            violated("decoding a records region twice gives the same records", "");
        for (size_t i = 0; i < s.records.size(); ++i) {
            const Record& rec = s.records[i];
            if (again.records[i].value.index() != rec.value.index())
                violated("decoding a records region twice gives the same record types", "");
            if (rec.value.index() != 0 &&
                find_record_value(s.records_raw, rec.data_format).index() != rec.value.index())
                violated("find_record_value finds every record decode_records decodes",
                         std::to_string(rec.data_format));
            render_record(w, rec);
        }
    }
    w.end_array();
    if (!parses_as_json(json)) violated("every decoded record renders as valid JSON", json);
}

// A store holding the real captures, and an Api over it; `compacted`: every sample of it
// rewritten into chunks (docs/storage.md, "Compaction"; the unit tests' SFM_UNIT_COMPACT run).
class RpcEnv {
public:
    static constexpr int64_t kNowMs = 1795556000000;  // the API's clock; the data ends before it

    explicit RpcEnv(bool compacted = false) {
        char tmpl[] = "/tmp/sfm-rpc-fuzz-XXXXXX";
        const char* d = mkdtemp(tmpl);
        if (!d) violated("a temporary directory can be made", tmpl);
        dir_ = d;
        store_ = std::make_unique<Store>(StoreOptions{dir_ + "/db", 64ull << 20, 3650 * 86400000LL});
        load();
        if (compacted) {
            while (!store_->compact_step(kNowMs).done) {
            }
            StoreStats st = store_->stats();
            if (st.compacted_samples != st.samples) violated("every sample of the store is compacted", dir_);
        }
        ApiOptions opts;
        opts.max_span_ms = 30 * 86400000LL;  // the window, and far beyond it, reach the data
        api_ = std::make_unique<Api>(opts, *store_, stats_);
    }
    ~RpcEnv() {
        api_.reset();
        store_.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    // Properties: handle() never throws; 204 means an empty body; otherwise the body is
    // valid JSON: a response object, or a non-empty array of them, none of them -32603.
    void check(std::string_view body) const {
        HttpReply r = api_->handle(body, kNowMs);
        if (r.status == 204) {
            if (!r.body.empty()) violated("a 204 reply has an empty body", r.body);
            return;
        }
        if (r.status != 200) violated("the API answers 200 or 204", std::to_string(r.status));
        Json::Value v;
        if (!parses_as_json(r.body, &v)) violated("every reply is valid JSON", r.body);
        if (v.isArray()) {
            if (v.empty()) violated("a batch reply is not empty", r.body);
            for (const auto& one : v) check_response(one, r.body);
        } else {
            check_response(v, r.body);
        }
    }

private:
    static void check_response(const Json::Value& v, const std::string& body) {
        if (!v.isObject() || v.get("jsonrpc", "") != "2.0" || !v.isMember("id") ||
            v.isMember("result") == v.isMember("error"))
            violated("each reply is a JSON-RPC 2.0 response object", body);
        if (v.isMember("error") && (!v["error"].isObject() || !v["error"]["code"].isInt() ||
                                    !v["error"]["message"].isString()))
            violated("an error has an integer code and a message", body);
        if (v.isMember("error") && v["error"]["code"].asInt() == -32603)
            violated("no request makes a healthy store fail (-32603)", body);
    }

    void load() {
        const char* env = std::getenv("SFLOW_TESTDATA");
        std::string dir = env ? env : "../shared/testdata";
        for (const char* name : {"hsflowd-host", "hsflowd-kvm", "hsflowd-kvm-ifpoll"}) {
            std::vector<StoredSample> batch;
            PcapContents pcap = read_pcap(dir + "/" + name + ".pcap");
            if (pcap.datagrams.empty()) violated("the captures are readable", dir);
            int64_t first_us = pcap.datagrams.front().ts_us;
            for (const auto& cap : pcap.datagrams) {
                try {
                    Datagram d = decode_datagram(cap.payload);
                    // the capture's own spacing (under 3 minutes), ending just before kNowMs
                    int64_t ts = kNowMs - 300000 + (cap.ts_us - first_us) / 1000;
                    samples_to_store(d, ts, batch, stats_);
                } catch (const DecodeError&) {
                }
            }
            store_->write(batch);
            // the same samples again, 5 ms apart in one batch: blocks (docs/storage.md)
            std::vector<StoredSample> burst = batch;
            for (size_t i = 0; i < burst.size(); ++i) burst[i].meta.ts_ms = kNowMs - 120000 + int64_t(i) * 5;
            store_->write(burst);
        }
    }

    std::string dir_;
    Stats stats_;
    std::unique_ptr<Store> store_;
    std::unique_ptr<Api> api_;
};

}  // namespace sfm::fuzz
