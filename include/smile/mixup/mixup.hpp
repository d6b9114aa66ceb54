#pragma once
/// @file
/// Mixup (Zhang et al., 2018) as SMILE and its baselines use it: one coefficient λ and one
/// permutation per batch, applied alike to inputs, feature maps, probability vectors and labels:
///
///   Mix_λ(u)[i] = λ·u[i] + (1 − λ)·u[perm[i]],   λ ~ Beta(α, α)
///
/// with the SMILE authors' folding λ ← max(λ, 1 − λ) (so the anchor image i dominates) as an
/// option (on by default in SMILE and D-SMILE, algorithms.md A6). The paper writes
/// Mix_λ(u, v) = (1 − λ)u + λv; with folding the two conventions differ only in naming.

#include <smile/core/ops.hpp>
#include <smile/core/random.hpp>
#include <smile/core/session.hpp>
#include <span>
#include <vector>

namespace smile {

/// One batch's mixing: the coefficient and the permutation.
struct mixup_plan {
    double lambda = 1.0;
    std::vector<std::int64_t> perm;
};

struct mixup_options {
    double alpha = 0.2;  ///< Beta(α, α); α ≤ 0 means no mixing (λ = 1)
    bool fold = true;    ///< λ ← max(λ, 1 − λ)
};

/// Draws λ and a permutation of `n` from the run's generator.
[[nodiscard]] inline mixup_plan sample_mixup(rng& gen, const mixup_options& o, std::int64_t n) {
    mixup_plan p;
    p.lambda = o.alpha > 0.0 ? gen.beta(o.alpha, o.alpha) : 1.0;
    if (o.fold) p.lambda = std::max(p.lambda, 1.0 - p.lambda);
    p.perm = gen.permutation(n);
    return p;
}

/// out[i] = λ·x[i] + (1 − λ)·x[perm[i]] for any tensor whose rows are samples.
template <Backend B>
void mix(session<B>& s, const mixup_plan& p, const tensor<B>& x, tensor<B>& out) {
    SMILE_CHECK(std::int64_t(p.perm.size()) == x.shape().n, "mixup: the plan mixes ", p.perm.size(),
                " samples but the tensor has ", x.shape().n, " (shape ", x.shape(), ")");
    out.bind(s.context());
    out.resize(x.shape());
    ops<B>::mix_rows(s.context(), static_cast<float>(p.lambda), x.view(), p.perm, out.view());
}

/// Rows [first, first + rows) of the mixed one-hot targets λ·e(y[i]) + (1 − λ)·e(y[perm[i]]), as
/// host rows of `classes` values (cross-entropy is linear in its target, so CE against them is
/// λ·CE(y) + (1 − λ)·CE(y[perm])). `labels` and the plan are the whole (global) batch's: a
/// data-parallel rank takes its share's rows, whose partners may sit in other ranks' shares.
[[nodiscard]] inline std::vector<float> mixed_one_hot_rows(const std::vector<std::int64_t>& labels,
                                                           std::int64_t classes, const mixup_plan& p,
                                                           std::int64_t first, std::int64_t rows) {
    const auto n = std::int64_t(labels.size());
    SMILE_CHECK(std::int64_t(p.perm.size()) == n, "mixup: the plan mixes ", p.perm.size(),
                " samples but there are ", n, " labels");
    SMILE_CHECK(first >= 0 && rows >= 0 && first + rows <= n, "mixup: rows [", first, ", ",
                first + rows, ") are outside the batch of ", n);
    std::vector<float> t(std::size_t(rows * classes), 0.0f);
    for (std::int64_t r = 0; r < rows; ++r) {
        const std::int64_t i = first + r;
        const std::int64_t a = labels[std::size_t(i)], b = labels[std::size_t(p.perm[std::size_t(i)])];
        SMILE_CHECK(a >= 0 && a < classes && b >= 0 && b < classes, "mixup: label outside 0..", classes - 1);
        t[std::size_t(r * classes + a)] += static_cast<float>(p.lambda);
        t[std::size_t(r * classes + b)] += static_cast<float>(1.0 - p.lambda);
    }
    return t;
}

/// The mixed one-hot targets of the whole batch (mixed_one_hot_rows over every row).
[[nodiscard]] inline std::vector<float> mixed_one_hot(const std::vector<std::int64_t>& labels, std::int64_t classes,
                                                      const mixup_plan& p) {
    return mixed_one_hot_rows(labels, classes, p, 0, std::int64_t(labels.size()));
}

/// One-hot targets of `labels`.
[[nodiscard]] inline std::vector<float> one_hot(const std::vector<std::int64_t>& labels, std::int64_t classes) {
    std::vector<float> t(labels.size() * std::size_t(classes), 0.0f);
    for (std::size_t i = 0; i < labels.size(); ++i) {
        SMILE_CHECK(labels[i] >= 0 && labels[i] < classes, "label ", labels[i], " is outside 0..", classes - 1);
        t[i * std::size_t(classes) + std::size_t(labels[i])] = 1.0f;
    }
    return t;
}

}  // namespace smile
