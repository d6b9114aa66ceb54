// Fuzz target: JPEG and PNG decoding (every image of every dataset). The pixel limit is lowered
// so that a header declaring a huge image is refused rather than slowly decoded.
#include <smile/data/codec.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto bytes = smile::fuzz::as_view(data, size);
    try {
        const auto header = smile::data::decode_image_header(bytes, "input", 1 << 22);
        const auto img = smile::data::decode_image(bytes, "input", 1 << 22);
        if (img.width != header.width || img.height != header.height) __builtin_trap();
        if (img.pixels.size() != std::size_t(img.width * img.height * img.channels)) __builtin_trap();
    } catch (const smile::error& e) {
        smile::fuzz::refused(e);
    }
    return 0;
}
