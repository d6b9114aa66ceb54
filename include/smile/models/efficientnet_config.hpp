#pragma once
/// @file
/// EfficientNet-B0…B4 configurations by name, and the stage layout the model and the weight
/// namings (models/efficientnet_naming.hpp) both derive from.
///
/// Three flavours share the layout and the tensors and differ in padding and batch norm:
///
/// | names                  | from                 | stride-2 padding            | BN ε, momentum |
/// |------------------------|----------------------|-----------------------------|----------------|
/// | efficientnet_b0…b4     | torchvision          | symmetric (PyTorch)         | 1e-5, 0.1      |
/// | tf_efficientnet_b0…b4  | timm's TF ports      | TF "same", each input's size| 1e-3, 0.1      |
/// | efficientnet-b0…b4     | efficientnet_pytorch | TF "same", fixed at the     | 1e-3, 0.01     |
/// |                        | (the SMILE authors)  | image size 224/240/260/300/380 |             |
///
/// Weights trained with one padding give other outputs under another (the stride-2 windows
/// shift by a pixel), so a file's flavour matters as much as its tensors: the metadata or the
/// tensor names pick it (docs/models-and-weights.md).

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <smile/models/channel_rounding.hpp>

namespace smile {

struct efficientnet_config {
    /// What torchvision's EfficientNets call their linear classifier in weight files.
    static constexpr const char* weight_head = "classifier.1";

    std::string arch = "efficientnet_b0";
    double width_mult = 1.0;
    double depth_mult = 1.0;
    double stochastic_depth = 0.2;  ///< the last block's drop probability scale (torchvision's default)
    std::int64_t in_channels = 3;
    float bn_epsilon = 1e-5f;       ///< torchvision's B0-B7 use BatchNorm2d's defaults
    float bn_momentum = 0.1f;
    bool tf_same = false;           ///< TensorFlow's "same" padding (layers/conv2d.hpp)
    std::int64_t same_for = 0;      ///< with tf_same: the image size it is fixed for; 0: each input's own
};

/// One stage of MBConv blocks in B0's terms: expansion ratio, kernel, first block's stride,
/// input and output channels, block count.
struct efficientnet_stage {
    std::int64_t expand, kernel, stride, in, out, layers;
};

inline constexpr efficientnet_stage efficientnet_b0_stages[] = {
    {1, 3, 1, 32, 16, 1}, {6, 3, 2, 16, 24, 2}, {6, 5, 2, 24, 40, 2}, {6, 3, 2, 40, 80, 3},
    {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4}, {6, 3, 1, 192, 320, 1}};

/// Channels of `c`'s stage widths: v · width rounded to a multiple of 8.
[[nodiscard]] inline std::int64_t efficientnet_channels(const efficientnet_config& c, std::int64_t v) {
    return make_divisible(double(v) * c.width_mult, 8);
}

/// Blocks per stage of `c`: ⌈n · depth⌉.
[[nodiscard]] inline std::vector<std::int64_t> efficientnet_depths(const efficientnet_config& c) {
    std::vector<std::int64_t> out;
    for (const auto& st : efficientnet_b0_stages)
        out.push_back(static_cast<std::int64_t>(std::ceil(double(st.layers) * c.depth_mult)));
    return out;
}

/// The configuration called `name` (the three flavours of B0…B4 above); nullopt for others.
[[nodiscard]] inline std::optional<efficientnet_config> efficientnet_by_name(std::string_view name) {
    struct scaling {
        const char* suffix;
        double width, depth;
        std::int64_t image;  // efficientnet_pytorch's image size, which fixes its padding
    };
    static constexpr scaling table[] = {{"b0", 1.0, 1.0, 224}, {"b1", 1.0, 1.1, 240}, {"b2", 1.1, 1.2, 260},
                                        {"b3", 1.2, 1.4, 300}, {"b4", 1.4, 1.8, 380}};
    for (const auto& t : table) {
        efficientnet_config c;
        c.arch = std::string(name);
        c.width_mult = t.width;
        c.depth_mult = t.depth;
        if (name == "efficientnet_" + std::string(t.suffix)) return c;
        c.tf_same = true;
        c.bn_epsilon = 1e-3f;
        if (name == "tf_efficientnet_" + std::string(t.suffix)) return c;
        c.same_for = t.image;
        c.bn_momentum = 0.01f;  // TensorFlow's decay 0.99
        if (name == "efficientnet-" + std::string(t.suffix)) return c;
    }
    return std::nullopt;
}

/// The names efficientnet_by_name accepts.
[[nodiscard]] inline const char* efficientnet_names() {
    return "efficientnet_b0 … efficientnet_b4 (torchvision), tf_efficientnet_b0 … tf_efficientnet_b4 (timm's TF "
           "ports), efficientnet-b0 … efficientnet-b4 (efficientnet_pytorch)";
}

}  // namespace smile
