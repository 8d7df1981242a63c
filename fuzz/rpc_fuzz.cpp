// rpc_fuzz — libFuzzer target: any bytes as a JSON-RPC request body, answered by Api::handle
// over a real store holding the captures (fuzz/targets.h, RpcEnv). Built and run by
// `make fuzz`; see docs/reliability.md.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "sflow_monitor/log.h"
#include "targets.h"

namespace {
struct Quiet {
    Quiet() { sfm::set_log_level(sfm::LogLevel::error); }  // the store's notices are not findings
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Quiet quiet;
    static const sfm::fuzz::RpcEnv env;  // one store for the process; its directory goes at exit
    std::unique_ptr<char[]> copy(new char[size ? size : 1]);
    std::copy(data, data + size, copy.get());
    env.check(std::string_view(copy.get(), size));
    return 0;
}
