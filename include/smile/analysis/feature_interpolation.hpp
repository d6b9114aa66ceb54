#pragma once
/// @file
/// The feature-interpolation picture of the SMILE paper's Appendix C: for random image pairs
/// (x1, x2), the pooled features of λ·x1 + (1 − λ)·x2 for λ ∈ {0.6, 0.7, 0.8, 0.9, 1.0},
/// projected to the plane by a PCA of each pair's points (one PCA per pair and model, the
/// natural reading of the paper, which does not say). A model that interpolates well puts the
/// points on a straight, evenly spaced line.

#include <memory>
#include <vector>

#include <smile/analysis/pca.hpp>
#include <smile/core/random.hpp>
#include <smile/data/loader.hpp>
#include <smile/models/classifier.hpp>

namespace smile::analysis {

struct interpolation_path {
    data::sample first, second;  ///< the pair (x1, x2)
    std::vector<double> lambdas;
    pca_result projection;       ///< one row per λ, 2 components
};

struct feature_interpolation_options {
    std::int64_t pairs = 4;
    std::vector<double> lambdas{0.6, 0.7, 0.8, 0.9, 1.0};
    std::size_t workers = 2;
};

/// `o.pairs` random pairs of distinct images from `samples` (chosen by `gen`), prepared by
/// `transform`, each interpolated at `o.lambdas` and projected as in the file comment.
template <Backend B>
std::vector<interpolation_path> feature_interpolation(session<B>& s, classifier<B>& model,
                                                      const std::shared_ptr<const data::dataset>& d,
                                                      const std::vector<data::sample>& samples,
                                                      const data::pipeline& transform, rng& gen,
                                                      const feature_interpolation_options& o) {
    const auto points = std::int64_t(o.lambdas.size());
    SMILE_CHECK(o.pairs >= 1, "feature interpolation: pairs must be positive, got ", o.pairs);
    SMILE_CHECK(points >= 3, "feature interpolation: needs at least 3 values of lambda, got ", points);
    SMILE_CHECK(std::int64_t(samples.size()) >= 2 * o.pairs, "feature interpolation: ", o.pairs, " pairs need ",
                2 * o.pairs, " images, the split has ", samples.size());
    // The first 2·pairs images of a seeded shuffle: pair k is images 2k and 2k + 1.
    const std::vector<std::int64_t> order = gen.permutation(std::int64_t(samples.size()));
    std::vector<data::sample> chosen;
    for (std::int64_t i = 0; i < 2 * o.pairs; ++i) chosen.push_back(samples[std::size_t(order[std::size_t(i)])]);
    data::loader l(d, chosen, transform, {2 * o.pairs, false, false, false, o.workers, 1, gen.bits(), false, 0});
    const data::host_batch* images = l.next();
    SMILE_CHECK(images != nullptr && images->size() == 2 * o.pairs, "feature interpolation: could not load the pairs");

    // Every mixture of every pair in one batch, mixed on the host (the images are host data).
    const auto& sh = images->images.shape();
    const std::int64_t c = std::int64_t(sh[1]), h = std::int64_t(sh[2]), w = std::int64_t(sh[3]);
    const auto image_size = std::size_t(c * h * w);
    std::vector<float> mixtures(std::size_t(o.pairs * points) * image_size);
    for (std::int64_t k = 0; k < o.pairs; ++k) {
        const float* x1 = images->images.data() + std::size_t(2 * k) * image_size;
        const float* x2 = x1 + image_size;
        for (std::int64_t p = 0; p < points; ++p) {
            const double lambda = o.lambdas[std::size_t(p)];
            float* out = mixtures.data() + std::size_t(k * points + p) * image_size;
            for (std::size_t i = 0; i < image_size; ++i)
                out[i] = static_cast<float>(lambda * double(x1[i]) + (1.0 - lambda) * double(x2[i]));
        }
    }
    auto x = tensor<B>::from_host(s, {o.pairs * points, c, h, w}, mixtures);
    model.forward(s, x, mode::eval);
    const std::vector<float> features = model.pooled().to_host();
    const std::int64_t dim = model.feature_dim();

    std::vector<interpolation_path> paths;
    for (std::int64_t k = 0; k < o.pairs; ++k) {
        const std::span<const float> rows(features.data() + std::size_t(k * points * dim), std::size_t(points * dim));
        paths.push_back({chosen[std::size_t(2 * k)], chosen[std::size_t(2 * k + 1)], o.lambdas, pca(rows, points, dim, 2)});
    }
    return paths;
}

}  // namespace smile::analysis
