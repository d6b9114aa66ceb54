#pragma once
/// @file
/// `parameter<B>`: a trained tensor, its gradient and its optimizer multipliers.
///
/// Gradients are written (overwritten, never accumulated) by the owning layer's backward and
/// allocated by its first backward, so models used only for inference (a teacher, a frozen
/// source network) never pay for gradient memory.
///
/// A gradient is *fresh* from the backward that wrote it until an optimizer consumes it. A
/// parameter that no backward reached since the last step (a head that got no loss this step)
/// has no fresh gradient and is skipped by the optimizer, weight decay included: PyTorch's
/// rule for parameters whose `.grad` is None.
///
/// With data-parallel training a fresh gradient is also *averaged* once it holds the mean over
/// the ranks (distributed/gradient_buckets.hpp): a backward that writes it again makes it a
/// rank's own again, so it is averaged again before the step.

#include <smile/core/tensor.hpp>

namespace smile {

template <Backend B>
struct parameter {
    tensor<B> value;
    tensor<B> grad;
    float lr_mult = 1.0f;  ///< multiplies the optimizer's learning rate
    float wd_mult = 1.0f;  ///< multiplies the optimizer's weight decay
    int torch_rank = 4;    ///< rank of the same tensor in PyTorch (4 conv, 2 linear, 1 vector)

    parameter() = default;
    parameter(typename B::context& ctx, shape4 shape, int rank = 4)
        : value(ctx, shape), torch_rank(rank) {
        grad.bind(ctx);
    }

    [[nodiscard]] const shape4& shape() const noexcept { return value.shape(); }
    [[nodiscard]] bool has_grad() const noexcept { return !grad.empty(); }

    /// The gradient tensor, resized to the value's shape, ready to be overwritten; marks it fresh.
    tensor<B>& grad_for_write() {
        grad.bind(value.context());
        grad.resize(value.shape());
        fresh_ = true;
        averaged_ = false;
        return grad;
    }

    /// True when a backward wrote the gradient since the last optimizer step.
    [[nodiscard]] bool has_fresh_grad() const noexcept { return fresh_ && !grad.empty(); }
    /// Called by optimizers once the gradient has been applied.
    void consume_grad() noexcept {
        fresh_ = false;
        averaged_ = false;
    }

    /// True when the fresh gradient already holds the mean over the ranks.
    [[nodiscard]] bool grad_averaged() const noexcept { return averaged_ && has_fresh_grad(); }
    /// Called by the data-parallel seam once it has averaged the fresh gradient.
    void mark_grad_averaged() noexcept { averaged_ = true; }

private:
    bool fresh_ = false;
    bool averaged_ = false;
};

}  // namespace smile
