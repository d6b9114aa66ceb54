#pragma once
/// @file
/// Compute precision: what the heavy operations of a model (convolutions and matrix products,
/// forward and backward) multiply in. Tensors, batch-norm statistics, losses, the optimizer and
/// the master weights stay float32 whatever the precision; with `bf16` the backend rounds each
/// operand of a convolution or matrix product to bfloat16 and accumulates in float32, as
/// PyTorch's `torch.autocast(..., torch.bfloat16)` does for the same operations.

#include <cstdint>
#include <smile/core/error.hpp>
#include <string>
#include <string_view>

namespace smile {

enum class precision : std::uint8_t {
    f32,   ///< float32 throughout (the default)
    bf16,  ///< bfloat16 operands, float32 accumulation, float32 results
};

[[nodiscard]] constexpr std::string_view precision_name(precision p) noexcept {
    return p == precision::bf16 ? "bf16" : "f32";
}

/// Parses "f32" or "bf16"; `what` names the option or file entry in the error.
[[nodiscard]] inline precision parse_precision(std::string_view text, std::string_view what) {
    if (text == "f32" || text == "float32") return precision::f32;
    if (text == "bf16" || text == "bfloat16") return precision::bf16;
    detail::fail(what, ": unknown precision '", text, "' (expected f32 or bf16)");
}

/// The precisions of a model being trained and of the network that teaches or anchors it (the
/// mean teacher, DELTA's source network, the KD teacher): chosen separately, since the
/// teacher's forward needs no float32 accuracy while the student's gradients might.
struct precision_policy {
    precision student = precision::f32;
    precision teacher = precision::f32;
    friend bool operator==(const precision_policy&, const precision_policy&) = default;
};

}  // namespace smile
