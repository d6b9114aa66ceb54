#pragma once
/// @file
/// Configurations of the ResNet family: torchvision's ResNet-18/34/50/101 (ResNet v1.5: the
/// bottleneck's stride sits on its 3×3 convolution), with an optional small-image stem, and the
/// CIFAR ResNet-20/32/56 of He et al. (2016, §4.2).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <smile/layers/residual.hpp>

namespace smile {

/// ImageNet stem: 7×7/2 convolution and 3×3/2 max pooling (224² → 56²). Small stem: one 3×3/1
/// convolution and no pooling, for 28² and 32² inputs.
enum class stem_kind : std::uint8_t { imagenet, small };

struct resnet_config {
    /// What torchvision's ResNets call their classifier in weight files.
    static constexpr const char* weight_head = "fc";

    std::string arch = "resnet50";                   ///< the name used in messages
    block_kind block = block_kind::bottleneck;
    std::vector<std::int64_t> blocks{3, 4, 6, 3};      ///< residual blocks per stage
    std::vector<std::int64_t> planes{64, 128, 256, 512};  ///< block width per stage
    std::int64_t stem_width = 64;
    std::int64_t in_channels = 3;
    stem_kind stem = stem_kind::imagenet;
    shortcut_kind shortcut = shortcut_kind::projection;

    /// Channels of the last stage's output (the feature map).
    [[nodiscard]] std::int64_t out_channels() const { return planes.back() * expansion(block); }
};

namespace detail {
inline resnet_config imagenet_resnet(std::string arch, block_kind k, std::vector<std::int64_t> blocks) {
    resnet_config c;
    c.arch = std::move(arch);
    c.block = k;
    c.blocks = std::move(blocks);
    return c;
}
}  // namespace detail

inline resnet_config resnet18() { return detail::imagenet_resnet("resnet18", block_kind::basic, {2, 2, 2, 2}); }
inline resnet_config resnet34() { return detail::imagenet_resnet("resnet34", block_kind::basic, {3, 4, 6, 3}); }
inline resnet_config resnet50() { return detail::imagenet_resnet("resnet50", block_kind::bottleneck, {3, 4, 6, 3}); }
inline resnet_config resnet101() {
    return detail::imagenet_resnet("resnet101", block_kind::bottleneck, {3, 4, 23, 3});
}

/// He et al.'s CIFAR ResNet of depth 6n + 2 (20, 32, 56, ...): a 3×3 stem of 16 channels and
/// three stages of n basic blocks with 16, 32, 64 channels. Shortcuts default to the paper's
/// option A (identity with zero-padded channels); `shortcut_kind::projection` gives option B.
inline resnet_config cifar_resnet(std::int64_t depth) {
    SMILE_CHECK(depth >= 8 && (depth - 2) % 6 == 0,
                "cifar_resnet: depth must be 6n + 2 (20, 32, 56, ...), got ", depth);
    const std::int64_t n = (depth - 2) / 6;
    resnet_config c;
    c.arch = "resnet" + std::to_string(depth);
    c.block = block_kind::basic;
    c.blocks = {n, n, n};
    c.planes = {16, 32, 64};
    c.stem_width = 16;
    c.stem = stem_kind::small;
    c.shortcut = shortcut_kind::zero_pad;
    return c;
}

/// The configuration for an architecture name: resnet18, resnet34, resnet50, resnet101, or a
/// CIFAR ResNet of any depth 6n + 2 other than those (resnet8, resnet20, resnet32, resnet56, ...).
inline std::optional<resnet_config> resnet_by_name(std::string_view name) {
    if (name == "resnet18") return resnet18();
    if (name == "resnet34") return resnet34();
    if (name == "resnet50") return resnet50();
    if (name == "resnet101") return resnet101();
    if (name.rfind("resnet", 0) != 0 || name.size() == 6 || name.size() > 10) return std::nullopt;
    std::int64_t depth = 0;
    for (char ch : name.substr(6)) {
        if (ch < '0' || ch > '9') return std::nullopt;
        depth = depth * 10 + (ch - '0');
    }
    if (depth < 8 || (depth - 2) % 6 != 0) return std::nullopt;
    return cifar_resnet(depth);
}

/// The names `resnet_by_name` accepts, for help texts and error messages.
inline const char* resnet_names() {
    return "resnet18, resnet34, resnet50, resnet101, or a CIFAR ResNet resnet<6n+2> (resnet8, resnet20, resnet32, resnet56, ...)";
}

}  // namespace smile
