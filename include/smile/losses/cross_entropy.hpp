#pragma once
/// @file
/// Cross-entropy between softmax(logits) and target rows, averaged over the batch:
///
///   L = (1/n) Σ_i Σ_c −t[i,c]·log softmax(z[i])_c,   ∂L/∂z[i] = (softmax(z[i])·Σ_c t[i,c] − t[i])/n
///
/// One operation covers the hard-label CE (one-hot t), the mixup CE (t = λ·e(y) + (1 − λ)·
/// e(y[perm])), SMILE's L_FC (t = mixed teacher softmax) and Co-Tuning's soft term (t = r[y]).

#include <smile/core/ops.hpp>
#include <smile/core/session.hpp>

namespace smile {

/// A loss value and its gradient with respect to its input.
template <Backend B>
struct loss_result {
    double value = 0.0;
    tensor<B>* grad = nullptr;  ///< owned by the caller's buffer
};

/// CE of `logits` against `targets` (device rows); writes `scale`·∂L/∂z into `grad` and returns L.
template <Backend B>
double cross_entropy(session<B>& s, const tensor<B>& logits, const tensor<B>& targets, tensor<B>& grad,
                     float scale = 1.0f) {
    check_shape("cross_entropy targets", logits.shape(), targets.shape());
    grad.bind(s.context());
    grad.resize(logits.shape());
    const double n = double(logits.shape().n);
    const double sum = ops<B>::softmax_cross_entropy(s.context(), logits.view(), targets.view(),
                                                     static_cast<float>(scale / n), grad.view());
    return sum / n;
}

/// The same with targets given as host rows (uploaded into `target_buffer`).
template <Backend B>
double cross_entropy(session<B>& s, const tensor<B>& logits, const std::vector<float>& targets,
                     tensor<B>& target_buffer, tensor<B>& grad, float scale = 1.0f) {
    target_buffer.bind(s.context());
    target_buffer.resize(logits.shape());
    target_buffer.copy_from_host(targets);
    return cross_entropy(s, logits, target_buffer, grad, scale);
}

}  // namespace smile
