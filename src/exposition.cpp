// exposition.cpp — the Prometheus text and OpenMetrics writer (see exposition.h).
#include "sflow_monitor/exposition.h"

#include <charconv>
#include <cmath>
#include <cstdint>

#include "sflow_monitor/json.h"

namespace sfm {

void append_number(std::string& out, double v) {
    if (v >= 0 && v < 9007199254740992.0 && v == std::floor(v)) {
        char buf[24];
        auto r = std::to_chars(buf, buf + sizeof buf, uint64_t(v));
        out.append(buf, size_t(r.ptr - buf));
    } else if (std::isnan(v)) {
        out.append("NaN");
    } else if (std::isinf(v)) {
        out.append(v > 0 ? "+Inf" : "-Inf");
    } else {
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, v);
        out.append(buf, size_t(r.ptr - buf));
    }
}

double from_float(float f) {
    if (!std::isfinite(f)) return double(f);
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, f);
    double d = 0;
    std::from_chars(buf, r.ptr, d);
    return d;
}

void append_label(std::string& out, const char* name, std::string_view value) {
    if (out.size() && out.back() != '{') out.push_back(',');
    out.append(name);
    out.append("=\"");
    std::string valid;
    append_valid_utf8(valid, value);
    for (char c : valid) {
        if (c == '\\') out.append("\\\\");
        else if (c == '"') out.append("\\\"");
        else if (c == '\n') out.append("\\n");
        else out.push_back(c);
    }
    out.push_back('"');
}

void Exposition::sample(const char* suffix, std::string_view labels, double v) {
    if (pending_header_) header();
    out_.append(cur_->name);
    out_.append(suffix);
    if (!labels.empty()) {
        out_.push_back('{');
        out_.append(labels);
        out_.push_back('}');
    }
    out_.push_back(' ');
    append_number(out_, v);
    out_.push_back('\n');
}

std::string Exposition::finish() {
    if (om_) out_.append("# EOF\n");
    return std::move(out_);
}

void Exposition::header() {
    pending_header_ = false;
    std::string_view name = cur_->name;
    if (om_ && cur_->type == MetricType::counter && name.size() > 6 && name.substr(name.size() - 6) == "_total")
        name.remove_suffix(6);
    const char* type = cur_->type == MetricType::counter ? "counter"
                       : cur_->type == MetricType::gauge ? "gauge"
                                                         : "histogram";
    out_.append("# HELP ").append(name).push_back(' ');
    out_.append(cur_->help).push_back('\n');
    out_.append("# TYPE ").append(name).push_back(' ');
    out_.append(type).push_back('\n');
}

}  // namespace sfm
