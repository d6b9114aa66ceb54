#pragma once
/// @file
/// `parameter<B>`: a trained tensor, its gradient and its optimizer multipliers.
///
/// Gradients are written (overwritten, never accumulated) by the owning layer's backward and
/// allocated by its first backward, so models used only for inference (a teacher, a frozen
/// source network) never pay for gradient memory.

#include <smile/core/tensor.hpp>

namespace smile {

template <Backend B>
struct parameter {
    tensor<B> value;
    tensor<B> grad;
    float lr_mult = 1.0f;  ///< multiplies the optimizer's learning rate
    float wd_mult = 1.0f;  ///< multiplies the optimizer's weight decay

    parameter() = default;
    parameter(typename B::context& ctx, shape4 shape) : value(ctx, shape) { grad.bind(ctx); }

    [[nodiscard]] const shape4& shape() const noexcept { return value.shape(); }
    [[nodiscard]] bool has_grad() const noexcept { return !grad.empty(); }

    /// The gradient tensor, resized to the value's shape, ready to be overwritten.
    tensor<B>& grad_for_write() {
        grad.bind(value.context());
        grad.resize(value.shape());
        return grad;
    }
};

}  // namespace smile
