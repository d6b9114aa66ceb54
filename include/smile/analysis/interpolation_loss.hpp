#pragma once
/// @file
/// The interpolation loss of the SMILE paper (Eqs. 1, 6, 7; §5.2): how far a model is from
/// mapping mixtures of inputs to the same mixtures of outputs. For inputs x, x' and the mixture
/// Mix_δ(x, x') = δ·x + (1 − δ)·x':
///
///   IL(f) = E_{x,x'} E_{δ1,δ2 ~ U(0.5, 1)} E_{λ ~ U(0, 1)} D^it_λ(f(Mix_{δ_it}), f(Mix_{δ1}), f(Mix_{δ2}))
///   D^it_λ(y_it, y1, y2) = D(y_it, λ·y1 + (1 − λ)·y2) / D(y1, y2),   δ_it = λ·δ1 + (1 − λ)·δ2
///
/// (mixing is linear, so Mix_{δ_it} = λ·Mix_{δ1} + (1 − λ)·Mix_{δ2}). An affine f has IL = 0.
///
/// The paper leaves open what f outputs and what D is (algorithms.md §12): smile reports the
/// label IL on logits and on softmax probabilities and the feature IL on the pooled features,
/// with D the L2 distance (default; the paper's values of 1.5–2.0 read as a ratio of norms) or
/// the squared L2 distance (Eq. 1's). Pairs: each batch is paired with a random derangement of
/// itself (no image with itself), with one (δ1, δ2, λ) per batch and `draws` draws per batch,
/// all from the caller's generator.

#include <cmath>
#include <cstdint>
#include <smile/core/ops.hpp>
#include <smile/core/random.hpp>
#include <smile/data/loader.hpp>
#include <smile/models/classifier.hpp>
#include <span>
#include <string>
#include <vector>

namespace smile::analysis {

enum class interpolation_distance { l2, squared_l2 };

[[nodiscard]] inline interpolation_distance parse_interpolation_distance(const std::string& name) {
    if (name == "l2") return interpolation_distance::l2;
    if (name == "squared-l2") return interpolation_distance::squared_l2;
    detail::fail("interpolation loss: unknown distance '", name, "' (expected l2 or squared-l2)");
}

/// D(a, b) between two rows of `dim` values, in double.
[[nodiscard]] inline double row_distance(const float* a, const float* b, std::int64_t dim, interpolation_distance d) {
    double sum = 0.0;
    for (std::int64_t j = 0; j < dim; ++j) {
        const double diff = double(a[j]) - double(b[j]);
        sum += diff * diff;
    }
    return d == interpolation_distance::l2 ? std::sqrt(sum) : sum;
}

/// D^it_λ for every row i of the three output matrices (rows of `dim` values):
/// D(y_it[i], λ·y1[i] + (1 − λ)·y2[i]) / D(y1[i], y2[i]). A row whose y1 and y2 coincide has no
/// defined ratio and is left out (it cannot happen for a derangement of distinct images).
[[nodiscard]] inline std::vector<double> interpolation_ratios(std::span<const float> y_it, std::span<const float> y1,
                                                              std::span<const float> y2, std::int64_t dim, double lambda,
                                                              interpolation_distance d) {
    SMILE_CHECK(dim > 0 && y1.size() % std::size_t(dim) == 0 && y_it.size() == y1.size() && y2.size() == y1.size(),
                "interpolation ratios: outputs of ", y_it.size(), ", ", y1.size(), " and ", y2.size(),
                " values are not three matrices of rows of ", dim);
    const std::size_t rows = y1.size() / std::size_t(dim);
    std::vector<double> ratios;
    ratios.reserve(rows);
    std::vector<float> mixed(static_cast<std::size_t>(dim));
    for (std::size_t i = 0; i < rows; ++i) {
        const float* a = y1.data() + i * std::size_t(dim);
        const float* b = y2.data() + i * std::size_t(dim);
        const double denominator = row_distance(a, b, dim, d);
        if (!(denominator > 0.0)) continue;
        for (std::int64_t j = 0; j < dim; ++j)
            mixed[std::size_t(j)] = static_cast<float>(lambda * double(a[j]) + (1.0 - lambda) * double(b[j]));
        ratios.push_back(row_distance(y_it.data() + i * std::size_t(dim), mixed.data(), dim, d) / denominator);
    }
    return ratios;
}

/// A uniformly random cyclic derangement of 0..n−1 (n ≥ 2): perm[σ(i)] = σ(i + 1 mod n) for a
/// random permutation σ, so no index maps to itself.
[[nodiscard]] inline std::vector<std::int64_t> random_derangement(rng& gen, std::int64_t n) {
    SMILE_CHECK(n >= 2, "interpolation loss: pairing needs at least 2 images, got ", n);
    const std::vector<std::int64_t> order = gen.permutation(n);
    std::vector<std::int64_t> perm(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) perm[std::size_t(order[std::size_t(i)])] = order[std::size_t((i + 1) % n)];
    return perm;
}

/// Row-wise softmax of host logits, in double (the label IL on probabilities).
[[nodiscard]] inline std::vector<float> softmax_rows(std::span<const float> logits, std::int64_t classes) {
    std::vector<float> p(logits.size());
    for (std::size_t r = 0; r < logits.size() / std::size_t(classes); ++r) {
        const float* z = logits.data() + r * std::size_t(classes);
        double top = z[0];
        for (std::int64_t j = 1; j < classes; ++j) top = std::max(top, double(z[j]));
        double total = 0.0;
        for (std::int64_t j = 0; j < classes; ++j) total += std::exp(double(z[j]) - top);
        for (std::int64_t j = 0; j < classes; ++j)
            p[r * std::size_t(classes) + std::size_t(j)] = static_cast<float>(std::exp(double(z[j]) - top) / total);
    }
    return p;
}

/// Running mean and standard error of the ratios of one output.
struct interpolation_estimate {
    double sum = 0.0, sum_squares = 0.0;
    std::int64_t count = 0;

    void add(const std::vector<double>& ratios) {
        for (double r : ratios) {
            sum += r;
            sum_squares += r * r;
            ++count;
        }
    }
    [[nodiscard]] double mean() const { return count > 0 ? sum / double(count) : 0.0; }
    /// Standard error of the mean (ratios from one batch are not independent; read it as a
    /// lower bound).
    [[nodiscard]] double standard_error() const {
        if (count < 2) return 0.0;
        const double m = mean();
        const double variance = std::max(0.0, (sum_squares - double(count) * m * m) / double(count - 1));
        return std::sqrt(variance / double(count));
    }
};

/// The interpolation loss of a classifier on its three outputs.
struct interpolation_report {
    interpolation_estimate logits, probabilities, features;
};

struct interpolation_options {
    interpolation_distance distance = interpolation_distance::l2;
    std::int64_t draws = 4;         ///< (δ1, δ2, λ) draws per batch
    std::int64_t batch_size = 64;   ///< images paired among themselves
    std::int64_t max_images = 512;  ///< images drawn from the split (0: all)
    std::size_t workers = 2;
};

/// Adds the ratios of one batch of clean images `x` [n ≥ 2, c, h, w] to `report`: `draws` times,
/// δ1, δ2 ~ U(0.5, 1) and λ ~ U(0, 1) from `gen`, the three mixtures of x with a random
/// derangement of itself, the classifier in evaluation mode on each.
template <Backend B>
void add_interpolation_batch(session<B>& s, classifier<B>& model, const tensor<B>& x, rng& gen,
                             const interpolation_options& o, interpolation_report& report) {
    SMILE_CHECK(o.draws > 0, "interpolation loss: draws must be positive, got ", o.draws);
    const std::int64_t n = x.shape().n;
    const std::vector<std::int64_t> perm = random_derangement(gen, n);
    auto mixed = s.borrow(x.shape());
    struct outputs {
        std::vector<float> logits, features;
    };
    auto run = [&](double delta) {
        ops<B>::mix_rows(s.context(), static_cast<float>(delta), x.view(), perm, mixed->view());
        model.forward(s, *mixed, mode::eval);
        return outputs{model.logits().to_host(), model.pooled().to_host()};
    };
    const std::int64_t classes = model.num_classes(), dim = model.feature_dim();
    for (std::int64_t k = 0; k < o.draws; ++k) {
        const double delta1 = gen.uniform(0.5, 1.0), delta2 = gen.uniform(0.5, 1.0), lambda = gen.uniform();
        const outputs y1 = run(delta1), y2 = run(delta2), y_it = run(lambda * delta1 + (1.0 - lambda) * delta2);
        report.logits.add(interpolation_ratios(y_it.logits, y1.logits, y2.logits, classes, lambda, o.distance));
        report.probabilities.add(interpolation_ratios(softmax_rows(y_it.logits, classes), softmax_rows(y1.logits, classes),
                                                      softmax_rows(y2.logits, classes), classes, lambda, o.distance));
        report.features.add(interpolation_ratios(y_it.features, y1.features, y2.features, dim, lambda, o.distance));
    }
}

/// The interpolation loss of `model` over `samples` of a dataset (the paper: the 30 % training
/// subset, or the test split), images prepared by `transform` (the evaluation transform), in a
/// random order from `gen`, at most `max_images` of them.
template <Backend B>
interpolation_report interpolation_loss(session<B>& s, classifier<B>& model,
                                        const std::shared_ptr<const data::dataset>& d,
                                        const std::vector<data::sample>& samples, const data::pipeline& transform,
                                        rng& gen, const interpolation_options& o) {
    SMILE_CHECK(o.batch_size >= 2, "interpolation loss: batch_size must be at least 2, got ", o.batch_size);
    SMILE_CHECK(samples.size() >= 2, "interpolation loss: needs at least 2 images, the split has ", samples.size());
    data::loader l(d, samples, transform, {o.batch_size, true, false, false, o.workers, 2, gen.bits(), false, 0});
    interpolation_report report;
    tensor<B> x;
    x.bind(s.context());
    std::int64_t used = 0;
    while (const data::host_batch* b = l.next()) {
        if (o.max_images > 0 && used >= o.max_images) break;
        if (b->size() < 2) continue;  // a last batch of one image has no partner
        const auto& sh = b->images.shape();
        x.resize({std::int64_t(sh[0]), std::int64_t(sh[1]), std::int64_t(sh[2]), std::int64_t(sh[3])});
        x.copy_from_host(std::span<const float>(b->images.data(), b->images.size()));
        add_interpolation_batch(s, model, x, gen, o, report);
        used += b->size();
    }
    return report;
}

}  // namespace smile::analysis
