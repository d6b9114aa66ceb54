#pragma once
/// @file
/// `image`: 8-bit pixels in row-major HWC order with 1 (grayscale) or 3 (RGB) channels, the
/// form images have between decoding and the float conversion at the end of a transform.

#include <cstdint>
#include <vector>

#include <smile/core/error.hpp>

namespace smile::data {

struct image {
    std::int64_t width = 0;
    std::int64_t height = 0;
    std::int64_t channels = 0;
    std::vector<std::uint8_t> pixels;  ///< height · width · channels bytes

    image() = default;
    image(std::int64_t w, std::int64_t h, std::int64_t c)
        : width(w), height(h), channels(c), pixels(static_cast<std::size_t>(w * h * c)) {}

    [[nodiscard]] std::uint8_t& at(std::int64_t y, std::int64_t x, std::int64_t c) {
        return pixels[static_cast<std::size_t>((y * width + x) * channels + c)];
    }
    [[nodiscard]] std::uint8_t at(std::int64_t y, std::int64_t x, std::int64_t c) const {
        return pixels[static_cast<std::size_t>((y * width + x) * channels + c)];
    }
    [[nodiscard]] bool empty() const noexcept { return pixels.empty(); }
};

/// Grayscale replicated to 3 channels (PIL's convert("RGB") of an "L" image).
[[nodiscard]] inline image to_rgb(const image& in) {
    if (in.channels == 3) return in;
    SMILE_CHECK(in.channels == 1, "to_rgb: expected 1 or 3 channels, got ", in.channels);
    image out(in.width, in.height, 3);
    for (std::size_t i = 0; i < in.pixels.size(); ++i)
        for (std::size_t c = 0; c < 3; ++c) out.pixels[i * 3 + c] = in.pixels[i];
    return out;
}

/// ITU-R 601-2 luma, PIL's convert("L"): L = (R·299 + G·587 + B·114) / 1000, rounded.
[[nodiscard]] inline image to_gray(const image& in) {
    if (in.channels == 1) return in;
    SMILE_CHECK(in.channels == 3, "to_gray: expected 1 or 3 channels, got ", in.channels);
    image out(in.width, in.height, 1);
    for (std::size_t i = 0; i < out.pixels.size(); ++i) {
        const unsigned r = in.pixels[3 * i], g = in.pixels[3 * i + 1], b = in.pixels[3 * i + 2];
        out.pixels[i] = static_cast<std::uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
    }
    return out;
}

}  // namespace smile::data
