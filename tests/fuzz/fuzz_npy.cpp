// Fuzz target: a .npy array (`smile predict --input`, weight directories of .npy files).
#include <smile/io/npy.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto array = smile::io::decode_npy(smile::fuzz::as_view(data, size), "input.npy");
        std::size_t elements = 1;
        for (auto d : array.shape) elements *= std::size_t(d);
        if (elements != array.values.size()) __builtin_trap();  // the shape must describe the values
    } catch (const smile::error& e) {
        smile::fuzz::refused(e);
    }
    return 0;
}
