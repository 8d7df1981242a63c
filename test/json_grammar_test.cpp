// json_grammar_test.cpp — valid_json() on its own (api_test.cpp checks it through
// Api::handle: which bodies are -32700 and which -32600).
#include <doctest/doctest.h>

#include <string>

#include "sflow_monitor/json_grammar.h"

using sfm::valid_json;

TEST_CASE("JSON nested far past any parser's depth limit is still told valid or invalid") {
    const size_t deep = 100000;  // no recursion: the depth costs one byte each
    std::string arrays = std::string(deep, '[') + std::string(deep, ']');
    CHECK(valid_json(arrays));
    CHECK_FALSE(valid_json(arrays + "]"));
    CHECK_FALSE(valid_json(std::string(deep, '[') + std::string(deep - 1, ']')));
    std::string objects;
    for (size_t i = 0; i < deep; ++i) objects += "{\"k\":";
    objects += "null" + std::string(deep, '}');
    CHECK(valid_json(objects));
    objects.back() = ']';
    CHECK_FALSE(valid_json(objects));
}

TEST_CASE("a byte order mark or an empty text is not JSON to the grammar check") {
    CHECK_FALSE(valid_json(""));
    CHECK_FALSE(valid_json("   "));
    CHECK_FALSE(valid_json("\xEF\xBB\xBF{}"));  // Api::handle skips it before the check
    CHECK(valid_json(" {} "));
}
