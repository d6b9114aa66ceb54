#pragma once
/// @file
/// Gradient clipping by global norm, torch.nn.utils.clip_grad_norm_ (BERT fine-tuning clips at
/// 1.0): over the parameters with a fresh gradient,
///   n = √(Σ_p ‖g_p‖²),  c = max_norm/(n + 10⁻⁶),  g_p ← g_p·c when c < 1,
/// and the norm before clipping is returned (for the log). The squares are summed in double, in
/// the parameters' visiting order, so the result does not depend on the thread count.

#include <cmath>
#include <smile/core/ops.hpp>
#include <smile/core/parameter.hpp>
#include <smile/core/session.hpp>
#include <smile/optim/optimizer.hpp>
#include <string>
#include <utility>
#include <vector>

namespace smile {

template <Backend B>
double clip_grad_norm(session<B>& s,
                      const std::vector<std::pair<std::string, parameter<B>*>>& params,
                      double max_norm) {
    SMILE_CHECK(max_norm > 0.0 && std::isfinite(max_norm),
                "clip_grad_norm: max_norm must be positive, got ", max_norm);
    double squares = 0.0;
    for (const auto& [name, p] : params)
        if (p->has_fresh_grad())
            squares += ops<B>::dot(s.context(), p->grad.view(), p->grad.view());
    const double norm = std::sqrt(squares);
    SMILE_CHECK(std::isfinite(norm), "clip_grad_norm: the gradient norm is not finite (", norm,
                "); the loss diverged or an input holds NaN");
    const double coefficient = max_norm / (norm + 1e-6);
    if (coefficient < 1.0)
        for (const auto& [name, p] : params)
            if (p->has_fresh_grad())
                ops<B>::add(s.context(), static_cast<float>(coefficient), p->grad.view(), 0.0f,
                            p->grad.view(), p->grad.view());
    return norm;
}

/// The parameter-group rule of BERT fine-tuning (transformers' examples and the paper's recipe):
/// no weight decay on biases and LayerNorm weights, for `optimizer<B>::add_rule`.
[[nodiscard]] inline std::vector<parameter_rule> transformer_no_decay_rules() {
    return {{"*.bias", 1.0f, 0.0f}, {"*LayerNorm.weight", 1.0f, 0.0f}};
}

}  // namespace smile
