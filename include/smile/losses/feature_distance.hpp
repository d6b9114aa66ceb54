#pragma once
/// @file
/// Distances between a student's features S and target features T (SMILE's L_FE; algorithms.md
/// §11.3 Q1, A3), each with its gradient with respect to S:
///
/// - frobenius_over_area (the authors' code, default): L = ‖S − T‖_F / (h·w) over the whole
///   [n, c, h, w] map, not squared, not averaged over the batch; ∂L/∂S = (S − T)/(h·w·‖S − T‖_F).
///   At S = T the gradient is taken as 0.
/// - squared_mean (the paper's Eq. 4 on pooled features, or on maps): L = (1/n)·‖S − T‖²_F;
///   ∂L/∂S = 2(S − T)/n.
///
/// Data-parallel sessions (each rank holds its rows of the global batch): squared_mean is a mean
/// over rows, so each rank's own value is its share and the gradient seam's average makes the
/// whole. frobenius_over_area couples the batch through the norm, so ‖S − T‖²_F is summed over the
/// ranks first (one all-reduce of a double): every rank returns the global batch's L, and its
/// gradient rows are N times ∂L/∂S for its rows, as every rank's gradient of a mean loss is, which
/// the seam's division by N removes.

#include <cmath>
#include <smile/core/ops.hpp>
#include <smile/core/session.hpp>

namespace smile {

enum class feature_distance { frobenius_over_area, squared_mean };

/// L(S, T); writes scale·∂L/∂S into `grad`.
template <Backend B>
double distance(session<B>& s, feature_distance kind, const tensor<B>& student, const tensor<B>& target,
                tensor<B>& grad, float scale = 1.0f) {
    check_shape("feature distance target", student.shape(), target.shape());
    auto& ctx = s.context();
    grad.bind(ctx);
    grad.resize(student.shape());
    ops<B>::add(ctx, 1.0f, student.view(), -1.0f, target.view(), grad.view());  // grad ← S − T
    double squared = ops<B>::dot(ctx, grad.view(), grad.view());
    const shape4& sh = student.shape();
    if (kind == feature_distance::frobenius_over_area) {
        communicator& c = s.comm();
        if (c.distributed()) c.allreduce_sum(std::span<double>(&squared, 1));
        const double area = double(sh.h * sh.w);
        const double norm = std::sqrt(squared);
        const double factor = norm > 0.0 ? double(c.size()) * scale / (area * norm) : 0.0;
        ops<B>::add(ctx, static_cast<float>(factor), grad.view(), 0.0f, grad.view(), grad.view());
        return norm / area;
    }
    const double n = double(sh.n);
    ops<B>::add(ctx, static_cast<float>(2.0 * scale / n), grad.view(), 0.0f, grad.view(),
                grad.view());
    return squared / n;
}

}  // namespace smile
