#pragma once
/// @file
/// Image transforms, each defined as torchvision's on PIL images (the SMILE authors' and
/// TLlib's pipelines run on PIL), so the same random draws give the same pixels:
///
/// - `resize`: PIL's Image.resize(BILINEAR) — separable, antialiased when shrinking (the filter
///   support widens by the scale), weights quantised to 22-bit fixed point, horizontal pass to
///   8 bits with rounding, then the vertical pass (Pillow's ImagingResample).
/// - `resize_shorter(s)`: torchvision Resize(s): the shorter side becomes s, the longer
///   int(s·long/short); an image whose shorter side already is s is returned unchanged.
/// - `center_crop(s)`: top = round((h − s)/2), left = round((w − s)/2), Python's round
///   (half to even).
/// - `random_crop(s)`: top ~ U{0..h−s}, left ~ U{0..w−s}.
/// - `random_resized_crop(s, scale, ratio)`: torchvision's get_params (10 attempts at an area
///   fraction ~ U(scale) and a log-uniform aspect ratio, else the central crop clamped to the
///   ratio range), then crop and resize.
/// - `horizontal_flip`, and the float conversion: (p/255 − mean)/std per channel, in float32.
///
/// Randomness comes from the caller's `rng`; the integers drawn equal torch.randint's range.

#include <algorithm>
#include <array>
#include <cfenv>
#include <cmath>
#include <string>
#include <vector>

#include <smile/core/random.hpp>
#include <smile/data/image.hpp>

namespace smile::data {

/// Python 3's round(): half to even.
[[nodiscard]] inline std::int64_t python_round(double v) {
    return static_cast<std::int64_t>(std::nearbyint(v));  // default rounding mode: to nearest even
}

namespace detail_resize {

constexpr int precision_bits = 32 - 8 - 2;  // Pillow's PRECISION_BITS

/// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear (triangle) filter.
struct coefficients {
    std::int64_t ksize = 0;
    std::vector<std::int64_t> bounds;  // per output: first input index, count
    std::vector<std::int32_t> weights; // per output: ksize fixed-point weights
};

inline coefficients precompute(std::int64_t in_size, std::int64_t out_size) {
    const double scale = double(in_size) / double(out_size);
    const double filterscale = std::max(scale, 1.0);
    const double support = 1.0 * filterscale;  // bilinear support is 1
    coefficients c;
    c.ksize = static_cast<std::int64_t>(std::ceil(support)) * 2 + 1;
    c.bounds.resize(std::size_t(out_size) * 2);
    c.weights.assign(std::size_t(out_size * c.ksize), 0);
    std::vector<double> k(std::size_t(c.ksize));
    for (std::int64_t xx = 0; xx < out_size; ++xx) {
        const double center = (double(xx) + 0.5) * scale;
        const double ss = 1.0 / filterscale;
        std::int64_t xmin = static_cast<std::int64_t>(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        std::int64_t xmax = static_cast<std::int64_t>(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double ww = 0.0;
        for (std::int64_t x = 0; x < xmax; ++x) {
            double t = std::abs((double(x + xmin) - center + 0.5) * ss);
            const double w = t < 1.0 ? 1.0 - t : 0.0;
            k[std::size_t(x)] = w;
            ww += w;
        }
        for (std::int64_t x = 0; x < c.ksize; ++x) {
            double w = x < xmax ? (ww != 0.0 ? k[std::size_t(x)] / ww : k[std::size_t(x)]) : 0.0;
            const double scaled = w * double(1 << precision_bits);
            c.weights[std::size_t(xx * c.ksize + x)] =
                static_cast<std::int32_t>(w < 0 ? -0.5 + scaled : 0.5 + scaled);
        }
        c.bounds[std::size_t(xx) * 2] = xmin;
        c.bounds[std::size_t(xx) * 2 + 1] = xmax;
    }
    return c;
}

inline std::uint8_t clip8(std::int64_t v) {
    v >>= precision_bits;
    return static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

}  // namespace detail_resize

/// PIL's Image.resize((width, height), BILINEAR).
[[nodiscard]] inline image resize(const image& in, std::int64_t width, std::int64_t height) {
    SMILE_CHECK(width > 0 && height > 0, "resize: target size must be positive, got ", width, "x", height);
    if (width == in.width && height == in.height) return in;
    using namespace detail_resize;
    const std::int64_t ch = in.channels;
    const auto horiz = precompute(in.width, width);
    const auto vert = precompute(in.height, height);
    // Only the input rows the vertical pass reads are resampled horizontally (as Pillow).
    const std::int64_t first_row = vert.bounds[0];
    const std::int64_t last_row = vert.bounds[std::size_t(height - 1) * 2] + vert.bounds[std::size_t(height - 1) * 2 + 1];
    const bool need_horizontal = width != in.width;
    const bool need_vertical = height != in.height;
    image temp;
    const image* src = &in;
    std::int64_t row_offset = 0;
    if (need_horizontal) {
        temp = image(width, need_vertical ? last_row - first_row : in.height, ch);
        row_offset = need_vertical ? first_row : 0;
        for (std::int64_t y = 0; y < temp.height; ++y)
            for (std::int64_t xx = 0; xx < width; ++xx) {
                const std::int64_t xmin = horiz.bounds[std::size_t(xx) * 2], xmax = horiz.bounds[std::size_t(xx) * 2 + 1];
                const std::int32_t* k = &horiz.weights[std::size_t(xx * horiz.ksize)];
                for (std::int64_t c = 0; c < ch; ++c) {
                    std::int64_t ss = std::int64_t{1} << (precision_bits - 1);
                    for (std::int64_t x = 0; x < xmax; ++x) ss += std::int64_t(in.at(y + row_offset, x + xmin, c)) * k[x];
                    temp.at(y, xx, c) = clip8(ss);
                }
            }
        src = &temp;
    }
    if (!need_vertical) return need_horizontal ? temp : in;
    image out(width, height, ch);
    for (std::int64_t yy = 0; yy < height; ++yy) {
        const std::int64_t ymin = vert.bounds[std::size_t(yy) * 2] - (need_horizontal ? first_row : 0);
        const std::int64_t ymax = vert.bounds[std::size_t(yy) * 2 + 1];
        const std::int32_t* k = &vert.weights[std::size_t(yy * vert.ksize)];
        for (std::int64_t xx = 0; xx < width; ++xx)
            for (std::int64_t c = 0; c < ch; ++c) {
                std::int64_t ss = std::int64_t{1} << (precision_bits - 1);
                for (std::int64_t y = 0; y < ymax; ++y) ss += std::int64_t(src->at(y + ymin, xx, c)) * k[y];
                out.at(yy, xx, c) = clip8(ss);
            }
    }
    return out;
}

/// torchvision Resize(size) with one size: the shorter side becomes `size`.
[[nodiscard]] inline image resize_shorter(const image& in, std::int64_t size) {
    const bool portrait = in.width <= in.height;
    const std::int64_t shorter = portrait ? in.width : in.height;
    const std::int64_t longer = portrait ? in.height : in.width;
    if (shorter == size) return in;
    const auto new_long = static_cast<std::int64_t>(double(size) * double(longer) / double(shorter));
    return portrait ? resize(in, size, new_long) : resize(in, new_long, size);
}

/// The pixels in [top, top + height) × [left, left + width); must lie inside the image.
[[nodiscard]] inline image crop(const image& in, std::int64_t top, std::int64_t left, std::int64_t height,
                                std::int64_t width) {
    SMILE_CHECK(top >= 0 && left >= 0 && height > 0 && width > 0 && top + height <= in.height &&
                    left + width <= in.width,
                "crop: box (top ", top, ", left ", left, ", ", height, "x", width, ") is outside the ",
                in.height, "x", in.width, " image");
    image out(width, height, in.channels);
    for (std::int64_t y = 0; y < height; ++y)
        std::copy_n(&in.pixels[std::size_t(((top + y) * in.width + left) * in.channels)], width * in.channels,
                    &out.pixels[std::size_t(y * width * in.channels)]);
    return out;
}

/// torchvision CenterCrop(size) (the image must be at least size×size).
[[nodiscard]] inline image center_crop(const image& in, std::int64_t size) {
    SMILE_CHECK(in.width >= size && in.height >= size, "center_crop: the ", in.height, "x", in.width,
                " image is smaller than the ", size, "x", size, " crop");
    return crop(in, python_round(double(in.height - size) / 2.0), python_round(double(in.width - size) / 2.0), size, size);
}

/// torchvision RandomCrop(size) without padding.
[[nodiscard]] inline image random_crop(const image& in, std::int64_t size, rng& gen) {
    SMILE_CHECK(in.width >= size && in.height >= size, "random_crop: the ", in.height, "x", in.width,
                " image is smaller than the ", size, "x", size, " crop");
    const std::int64_t top = gen.integer(0, in.height - size);
    const std::int64_t left = gen.integer(0, in.width - size);
    return crop(in, top, left, size, size);
}

/// Mirror image left-right.
[[nodiscard]] inline image horizontal_flip(const image& in) {
    image out(in.width, in.height, in.channels);
    for (std::int64_t y = 0; y < in.height; ++y)
        for (std::int64_t x = 0; x < in.width; ++x)
            for (std::int64_t c = 0; c < in.channels; ++c) out.at(y, x, c) = in.at(y, in.width - 1 - x, c);
    return out;
}

/// The crop box of torchvision's RandomResizedCrop.get_params.
struct crop_box {
    std::int64_t top = 0, left = 0, height = 0, width = 0;
};

[[nodiscard]] inline crop_box random_resized_crop_box(std::int64_t height, std::int64_t width, rng& gen,
                                                      std::array<double, 2> scale = {0.08, 1.0},
                                                      std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0}) {
    const double area = double(height) * double(width);
    const double log_lo = std::log(ratio[0]), log_hi = std::log(ratio[1]);
    for (int attempt = 0; attempt < 10; ++attempt) {
        const double target = area * gen.uniform(scale[0], scale[1]);
        const double aspect = std::exp(gen.uniform(log_lo, log_hi));
        const std::int64_t w = python_round(std::sqrt(target * aspect));
        const std::int64_t h = python_round(std::sqrt(target / aspect));
        if (0 < w && w <= width && 0 < h && h <= height) {
            const std::int64_t top = gen.integer(0, height - h);
            const std::int64_t left = gen.integer(0, width - w);
            return {top, left, h, w};
        }
    }
    const double in_ratio = double(width) / double(height);
    std::int64_t w = width, h = height;
    if (in_ratio < ratio[0]) {
        h = python_round(double(w) / ratio[0]);
    } else if (in_ratio > ratio[1]) {
        w = python_round(double(h) * ratio[1]);
    }
    return {(height - h) / 2, (width - w) / 2, h, w};
}

/// torchvision RandomResizedCrop(size, scale, ratio): crop then resize to size×size.
[[nodiscard]] inline image random_resized_crop(const image& in, std::int64_t size, rng& gen,
                                               std::array<double, 2> scale = {0.08, 1.0},
                                               std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0}) {
    const crop_box b = random_resized_crop_box(in.height, in.width, gen, scale, ratio);
    return resize(crop(in, b.top, b.left, b.height, b.width), size, size);
}

/// Per-channel normalisation constants.
struct normalization {
    std::array<float, 3> mean{0.0f, 0.0f, 0.0f};
    std::array<float, 3> std{1.0f, 1.0f, 1.0f};
};

/// torchvision's ImageNet statistics.
inline constexpr normalization imagenet_normalization{{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};

/// ToTensor + Normalize: CHW float32 (p/255 − mean)/std, written at `out` (channels·h·w values).
inline void to_normalized_chw(const image& in, const normalization& n, float* out) {
    const std::size_t plane = std::size_t(in.width * in.height);
    for (std::int64_t c = 0; c < in.channels; ++c) {
        const float mean = n.mean[std::size_t(std::min<std::int64_t>(c, 2))];
        const float stddev = n.std[std::size_t(std::min<std::int64_t>(c, 2))];
        for (std::size_t i = 0; i < plane; ++i) {
            const float v = static_cast<float>(in.pixels[i * std::size_t(in.channels) + std::size_t(c)]) / 255.0f;
            out[std::size_t(c) * plane + i] = (v - mean) / stddev;
        }
    }
}

}  // namespace smile::data
