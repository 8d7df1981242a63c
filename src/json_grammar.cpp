// json_grammar.cpp — JSON's grammar (RFC 8259) checked in one pass, without recursion and
// without building anything (see json_grammar.h).
#include "sflow_monitor/json_grammar.h"

#include <cctype>
#include <cstring>
#include <string>

namespace sfm {

bool valid_json(std::string_view s) {
    size_t i = 0;
    const size_t n = s.size();
    std::string open;  // the closing bracket each open container awaits (SSO: no allocation)
    auto ws = [&] {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    };
    auto hex4 = [&] {
        for (int k = 0; k < 4; ++k, ++i)
            if (i >= n || !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
        return true;
    };
    auto string = [&] {  // at the opening quote
        for (++i; i < n;) {
            unsigned char c = static_cast<unsigned char>(s[i++]);
            if (c == '"') return true;
            if (c < 0x20) return false;
            if (c != '\\') continue;
            if (i >= n) return false;
            char e = s[i++];
            if (e == 'u') {
                if (!hex4()) return false;
            } else if (!std::strchr("\"\\/bfnrt", e) || e == '\0') {
                return false;
            }
        }
        return false;
    };
    auto digits = [&] {
        size_t from = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
        return i > from;
    };
    auto number = [&] {
        if (s[i] == '-') ++i;
        if (i < n && s[i] == '0') ++i;
        else if (!digits()) return false;
        if (i < n && s[i] == '.' && (++i, !digits())) return false;
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
            ++i;
            if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
            if (!digits()) return false;
        }
        return true;
    };
    auto key = [&] {  // "name" :
        ws();
        if (i >= n || s[i] != '"' || !string()) return false;
        ws();
        return i < n && s[i++] == ':';
    };
    for (;;) {  // a value
        ws();
        if (i >= n) return false;
        char c = s[i];
        if (c == '[' || c == '{') {
            char close = c == '[' ? ']' : '}';
            ++i;
            ws();
            if (i < n && s[i] == close) {
                ++i;  // empty: the whole value
            } else {
                open.push_back(close);
                if (c == '{' && !key()) return false;
                continue;
            }
        } else if (c == '"') {
            if (!string()) return false;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if (!number()) return false;
        } else if (s.substr(i, 4) == "true" || s.substr(i, 4) == "null") {
            i += 4;
        } else if (s.substr(i, 5) == "false") {
            i += 5;
        } else {
            return false;
        }
        for (;;) {  // after a value: close containers, or a comma and the next member
            ws();
            if (open.empty()) return i == n;
            if (i >= n) return false;
            if (s[i] == open.back()) {
                ++i;
                open.pop_back();
                continue;
            }
            if (s[i++] != ',') return false;
            if (open.back() == '}' && !key()) return false;
            break;
        }
    }
}

}  // namespace sfm
