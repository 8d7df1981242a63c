// decoder_fuzz — libFuzzer target: any bytes as an sFlow datagram (fuzz/targets.h, check_decoder).
// Built and run by `make fuzz`; see docs/reliability.md.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // an exact-size copy: a read one byte past the input is a heap overflow ASan reports
    std::unique_ptr<char[]> copy(new char[size ? size : 1]);
    std::copy(data, data + size, copy.get());
    sfm::fuzz::check_decoder(std::string_view(copy.get(), size));
    return 0;
}
