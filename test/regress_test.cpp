// regress_test.cpp — every input a fuzzer found (test/regress/decoder/*, test/regress/rpc/*),
// replayed through exactly what the fuzz targets do with it (fuzz/targets.h). A property the
// fuzzer checks aborts here too; under `make SANITIZE=1 test` ASan and UBSan watch as well.
// The oracle is those properties (no crash, valid JSON, decoding twice agrees), not expected
// values: a replay of known findings, as strong as the findings kept (docs/testing.md).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "../fuzz/targets.h"
#include "test_util.h"

namespace {

// The files of test/regress/NAME, as exact-size heap copies (a read past the end is an ASan
// report), with their names.
std::vector<std::pair<std::string, std::string>> inputs(const std::string& name) {
    const char* env = std::getenv("SFM_REGRESS_DIR");
    std::filesystem::path dir = std::filesystem::path(env ? env : "test/regress") / name;
    std::vector<std::pair<std::string, std::string>> out;
    REQUIRE_MESSAGE(std::filesystem::is_directory(dir), dir.string() << " is missing");
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (!e.is_regular_file() || e.path().filename().string()[0] == '.') continue;
        std::ifstream f(e.path(), std::ios::binary);
        out.emplace_back(e.path().filename().string(),
                         std::string(std::istreambuf_iterator<char>(f), {}));
    }
    REQUIRE_MESSAGE(!out.empty(), dir.string() << " holds no input: nothing would be replayed");
    return out;
}

void replay(const std::string& name, const std::function<void(std::string_view)>& check) {
    for (const auto& [file, bytes] : inputs(name)) {
        INFO("test/regress/" << name << "/" << file);
        std::unique_ptr<char[]> copy(new char[bytes.size() ? bytes.size() : 1]);
        std::copy(bytes.begin(), bytes.end(), copy.get());
        CHECK_NOTHROW(check(std::string_view(copy.get(), bytes.size())));
    }
}

}  // namespace

TEST_CASE("replay: every datagram a fuzzer found decodes or is refused cleanly and renders as valid JSON") {
    replay("decoder", [](std::string_view b) { sfm::fuzz::check_decoder(b); });
}

TEST_CASE("replay: every request body a fuzzer found gets a valid JSON-RPC reply from a store of the captures") {
    sfm::fuzz::RpcEnv env(sfm::test::compact_run());
    replay("rpc", [&](std::string_view b) { env.check(b); });
}
