#pragma once
/// @file
/// The regularizers of the baselines, each returning its value and adding its exact gradient
/// (docs/methods.md gives the sources):
///
/// - l2_toward:  R = (α/2)·‖w − a‖² (L2-SP with the pretrained anchor a; plain L2 with a = 0),
///               ∂R/∂w = α·(w − a), added into the parameter's gradient.
/// - attention_distance (DELTA): R = s·Σ_{b,k} W_k·‖F_t[b,k] − F_s[b,k]‖² / (h·w) for the
///               student map F_t and the source network's F_s, channel weights W;
///               ∂R/∂F_t = 2s·W_k·(F_t − F_s)/(h·w). The original DELTA uses s = c/2 (c channels),
///               the SMILE authors' runner s = 1.
/// - spectral_shrinkage (BSS): R = η·Σ_{i≤k} σ_{−i}² over the k smallest singular values of the
///               pooled features F (n×d); ∂R/∂F = η·Σ 2σ_i·u_i·v_iᵀ = U·diag(w)·Vᵀ with w_i = 2ησ_i
///               for those k, 0 otherwise. The gradient never divides by singular-value gaps, so it
///               stays finite when singular values repeat (it is then a valid subgradient).

#include <smile/core/ops.hpp>
#include <smile/core/session.hpp>
#include <type_traits>

namespace smile {

/// (α/2)·‖w − anchor‖², its gradient added to w's; `anchor` null means 0.
template <Backend B>
double l2_toward(session<B>& s, parameter<B>& w, std::type_identity_t<const tensor<B>*> anchor, double alpha) {
    auto& ctx = s.context();
    SMILE_CHECK(w.has_fresh_grad(), "l2 regularizer: parameter has no gradient from this step's backward");
    if (anchor == nullptr) {
        ops<B>::add(ctx, static_cast<float>(alpha), w.value.view(), 1.0f, w.grad.view(),
                    w.grad.view());
        return 0.5 * alpha * ops<B>::dot(ctx, w.value.view(), w.value.view());
    }
    check_shape("l2 regularizer anchor", w.shape(), anchor->shape());
    auto diff = s.borrow(w.shape());
    ops<B>::add(ctx, 1.0f, w.value.view(), -1.0f, anchor->view(), diff->view());
    ops<B>::add(ctx, static_cast<float>(alpha), diff->view(), 1.0f, w.grad.view(), w.grad.view());
    return 0.5 * alpha * ops<B>::dot(ctx, diff->view(), diff->view());
}

/// s·Σ W_k‖F_t − F_s‖²/(h·w); writes scale_grad·∂R/∂F_t into `grad` (see the file comment).
template <Backend B>
double attention_distance(session<B>& s, const tensor<B>& student, const tensor<B>& source, const tensor<B>& weights,
                          double factor, tensor<B>& grad, float scale_grad = 1.0f) {
    check_shape("DELTA source feature map", student.shape(), source.shape());
    check_shape("DELTA channel weights", vector_shape(student.shape().c), weights.shape());
    auto& ctx = s.context();
    const shape4& sh = student.shape();
    const double area = double(sh.h * sh.w);
    auto diff = s.borrow(sh);
    ops<B>::add(ctx, 1.0f, student.view(), -1.0f, source.view(), diff->view());
    grad.bind(ctx);
    grad.resize(sh);
    ops<B>::scale_channels(ctx, diff->view(), weights.view(), grad.view());  // W_k·Δ
    const double value = factor * ops<B>::dot(ctx, grad.view(), diff->view()) / area;
    ops<B>::add(ctx, static_cast<float>(2.0 * factor * scale_grad / area), grad.view(), 0.0f,
                grad.view(), grad.view());
    return value;
}

/// η·Σ of the k smallest σ² of `features` (n×d); writes ∂R/∂F into `grad`.
template <Backend B>
double spectral_shrinkage(session<B>& s, const tensor<B>& features, double eta, std::int64_t k, tensor<B>& grad) {
    const shape4& sh = features.shape();
    SMILE_CHECK(sh.is_matrix(), "BSS: the features must be a matrix [n, d, 1, 1], got ", sh);
    const std::int64_t r = std::min(sh.n, sh.c);
    SMILE_CHECK(k >= 1 && k <= r, "BSS: k = ", k, " must be in 1..min(n, d) = ", r);
    auto& ctx = s.context();
    auto u = s.borrow(matrix_shape(sh.n, r));
    auto sigma = s.borrow(vector_shape(r));
    auto vt = s.borrow(matrix_shape(r, sh.c));
    ops<B>::svd(ctx, features.view(), u->view(), sigma->view(), vt->view());
    const std::vector<float> values = sigma->to_host();  // r floats: an explicit small download
    std::vector<float> w(std::size_t(r), 0.0f);
    double value = 0.0;
    for (std::int64_t i = r - k; i < r; ++i) {
        value += double(values[std::size_t(i)]) * values[std::size_t(i)];
        w[std::size_t(i)] = static_cast<float>(2.0 * eta * values[std::size_t(i)]);
    }
    auto weights = s.borrow(vector_shape(r));
    weights->copy_from_host(w);
    ops<B>::scale_channels(ctx, u->view(), weights->view(),
                           u->view());  // U·diag(w): column j scaled by w_j
    grad.bind(ctx);
    grad.resize(sh);
    ops<B>::gemm(ctx, transpose::no, transpose::no, 1.0f, u->view(), vt->view(), 0.0f, grad.view());
    return eta * value;
}

}  // namespace smile
