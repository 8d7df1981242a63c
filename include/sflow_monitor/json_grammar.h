// json_grammar.h — is a text JSON (RFC 8259)? Every request body passes this check before
// jsoncpp parses it (api.cpp): jsoncpp alone accepts some text that is not JSON (01, 1., -, +1,
// raw control characters in strings) and cannot descend past its depth limit, where this
// still tells valid JSON (-32600, too deep) from invalid (-32700).
//
// Caveats:
//  - One pass, no recursion, nothing built: its cost is linear in the text and independent of
//    the nesting depth (the open brackets are kept in one string).
//  - Strings are checked for JSON's escapes and control characters only, not for valid UTF-8
//    (jsoncpp and JsonWriter deal with that). A byte order mark is not skipped here.
#pragma once

#include <string_view>

namespace sfm {

bool valid_json(std::string_view text);

}  // namespace sfm
