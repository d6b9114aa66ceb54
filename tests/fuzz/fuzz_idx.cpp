// Fuzz target: MNIST-format IDX files, raw or gzip-compressed (the first byte chooses the
// images or the labels reader).
#include <smile/data/formats/idx.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const auto path = smile::fuzz::scratch() / "input-idx";
    smile::fuzz::write_bytes(path, smile::fuzz::as_view(data + 1, size - 1));
    try {
        if (data[0] & 1) {
            smile::data::memory_images images;
            const auto n = smile::data::formats::read_idx_images(path, images);
            if (std::size_t(n * images.width * images.height) != images.pixels.size()) __builtin_trap();
        } else {
            (void)smile::data::formats::read_idx_labels(path);
        }
    } catch (const smile::error& e) {
        smile::fuzz::refused(e);
    }
    return 0;
}
