// The paper's analyses: the interpolation loss (Eqs. 6-7) and the feature-interpolation PCA
// (Appendix C), against hand-computed values and against models whose answer is known
// (an affine network interpolates exactly; a ReLU network does not).
#include <doctest/doctest.h>

#include <cmath>
#include <numeric>
#include <set>

#include <smile/analysis/feature_interpolation.hpp>
#include <smile/analysis/interpolation_loss.hpp>
#include <smile/data/synthetic.hpp>
#include <smile/layers/activation.hpp>
#include <smile/layers/conv2d.hpp>

#include "backends.hpp"

using B = smile::test::device;
namespace analysis = smile::analysis;

namespace {

/// A one-convolution backbone family, optionally followed by a ReLU: without it the whole
/// classifier (conv, average pool, linear) is affine in its input.
struct tiny_backbone : smile::layer_state<B> {
    smile::conv2d<B> conv;
    smile::relu<B> activation;
    bool nonlinear = false;
    smile::tensor<B> pre;

    tiny_backbone(smile::session<B>& s, smile::rng& gen, bool relu)
        : conv(s, gen, {1, 6, 3, 1, 1, 1, true}), nonlinear(relu) {
        conv.set_name("conv");
    }
    [[nodiscard]] std::string_view arch() const { return "tiny"; }
    [[nodiscard]] std::int64_t out_channels() const { return 6; }
    [[nodiscard]] std::string output_name() const { return "map"; }
    [[nodiscard]] std::string output_conv() const { return "conv"; }
    [[nodiscard]] std::vector<std::string> stage_convs() { return {"conv"}; }
    [[nodiscard]] std::string head_name() const { return "fc"; }
    [[nodiscard]] smile::tap<B>* find_tap(std::string_view) { return nullptr; }
    void reset_parameters(smile::rng& gen) { conv.reset_parameters(gen); }
    [[nodiscard]] smile::shape4 output_shape(const smile::shape4& x) const { return conv.output_shape(x); }
    void forward(smile::session<B>& s, const smile::tensor<B>& x, smile::tensor<B>& y, smile::mode m) {
        if (!nonlinear) return conv.forward(s, x, y, m);
        pre.bind(s.context());
        conv.forward(s, x, pre, m);
        activation.forward(s, pre, y, m);
    }
    void backward(smile::session<B>&, const smile::tensor<B>&, smile::tensor<B>*) {
        smile::detail::fail("tiny_backbone: the analyses never run backward");
    }
    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        conv.visit_parameters(smile::join_name(prefix, "conv"), f);
    }
    template <class F>
    void visit_buffers(std::string_view, F&&) {}
};

using tiny_classifier = smile::classifier<B>;

tiny_classifier make_tiny(smile::session<B>& s, bool relu) {
    smile::rng gen(3);
    return tiny_classifier(s, gen, smile::wrap_backbone<B>(tiny_backbone(s, gen, relu)), {4, 0});
}

std::shared_ptr<const smile::data::dataset> tiny_dataset() {
    return std::make_shared<smile::data::dataset>(smile::data::make_synthetic({4, 6, 4, 8, 1, 40.0, 7, 0, 0.5}, 5));
}

smile::data::pipeline tiny_pipeline() {
    smile::data::pipeline p;
    p.gray().resize(8, 8).normalize({{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}});
    return p;
}

}  // namespace

TEST_CASE("interpolation ratios: D(y_it, λ·y1 + (1 − λ)·y2) / D(y1, y2) by hand") {
    // Row 0: y1 = (1, 0), y2 = (0, 1), λ = 0.25 → the mixture (0.25, 0.75); y_it = (0.25, 1.75)
    // is 1 away from it, and y1, y2 are √2 apart. Row 1: y1 = y2, no ratio.
    const std::vector<float> y1{1, 0, 3, 3}, y2{0, 1, 3, 3}, y_it{0.25f, 1.75f, 9, 9};
    const auto l2 = analysis::interpolation_ratios(y_it, y1, y2, 2, 0.25, analysis::interpolation_distance::l2);
    REQUIRE(l2.size() == 1);
    CHECK(l2[0] == doctest::Approx(1.0 / std::sqrt(2.0)).epsilon(1e-12));
    const auto squared =
        analysis::interpolation_ratios(y_it, y1, y2, 2, 0.25, analysis::interpolation_distance::squared_l2);
    REQUIRE(squared.size() == 1);
    CHECK(squared[0] == doctest::Approx(0.5).epsilon(1e-12));
    CHECK_THROWS_WITH_AS((void)analysis::interpolation_ratios(y_it, y1, std::vector<float>{1, 2}, 2, 0.5,
                                                        analysis::interpolation_distance::l2),
                         doctest::Contains("not three matrices"), smile::error);
    CHECK_THROWS_WITH_AS((void)analysis::parse_interpolation_distance("cosine"), doctest::Contains("'cosine'"), smile::error);
}

TEST_CASE("interpolation loss: pairs come from a derangement, and softmax rows sum to one") {
    smile::rng gen(9);
    for (std::int64_t n : {2, 3, 7, 48}) {
        const auto perm = analysis::random_derangement(gen, n);
        std::set<std::int64_t> seen(perm.begin(), perm.end());
        CHECK(std::int64_t(seen.size()) == n);
        for (std::int64_t i = 0; i < n; ++i) CHECK(perm[std::size_t(i)] != i);
    }
    CHECK_THROWS_AS((void)analysis::random_derangement(gen, 1), smile::error);
    const auto p = analysis::softmax_rows(std::vector<float>{0, std::log(3.0f), 1000, 1000}, 2);
    CHECK(p[0] == doctest::Approx(0.25));
    CHECK(p[1] == doctest::Approx(0.75));
    CHECK(p[2] == doctest::Approx(0.5));  // large logits do not overflow
}

TEST_CASE("interpolation loss: an affine network interpolates exactly, a ReLU network does not") {
    smile::session<B> s;
    auto d = tiny_dataset();
    analysis::interpolation_options o;
    o.batch_size = 8;
    o.max_images = 16;
    o.draws = 3;
    o.workers = 0;
    auto affine = make_tiny(s, false);
    smile::rng gen(1);
    const auto linear = analysis::interpolation_loss(s, affine, d, d->train, tiny_pipeline(), gen, o);
    CHECK(linear.features.count == 16 * 3);
    CHECK(linear.logits.count == 16 * 3);
    CHECK(linear.features.mean() < 1e-4);  // float rounding only (about 1e-5)
    CHECK(linear.logits.mean() < 1e-4);
    INFO("logits IL ", linear.logits.mean(), ", features IL ", linear.features.mean());
    CHECK(linear.probabilities.mean() > 10 * std::max(linear.logits.mean(), linear.features.mean()));  // softmax is not affine

    auto rectified = make_tiny(s, true);
    smile::rng gen2(1);
    const auto report = analysis::interpolation_loss(s, rectified, d, d->train, tiny_pipeline(), gen2, o);
    CHECK(report.features.mean() > 1e-2);  // about 0.07
    CHECK(std::isfinite(report.features.mean()));
    CHECK(report.features.standard_error() > 0.0);

    // The same seed gives the same estimate.
    smile::rng gen3(1);
    const auto again = analysis::interpolation_loss(s, rectified, d, d->train, tiny_pipeline(), gen3, o);
    CHECK(again.features.mean() == report.features.mean());
    CHECK(again.probabilities.mean() == report.probabilities.mean());
}

TEST_CASE("pca: points on a line project onto one axis with their spacing, signs as svd_flip") {
    // Rows t·(3, 4) + (1, 1), t = 0, 1, 2, 3, 5: centred t − 2.2 times a vector of norm 5.
    std::vector<float> rows;
    const std::vector<double> t{0, 1, 2, 3, 5};
    for (double v : t) {
        rows.push_back(static_cast<float>(3 * v + 1));
        rows.push_back(static_cast<float>(4 * v + 1));
    }
    const auto r = analysis::pca(rows, 5, 2, 2);
    const std::vector<double> want{-11, -6, -1, 4, 14};  // 5·(t − 2.2); the largest, 14, positive
    for (std::int64_t i = 0; i < 5; ++i) {
        CHECK(r.at(i, 0) == doctest::Approx(want[std::size_t(i)]).epsilon(1e-5));
        CHECK(std::abs(r.at(i, 1)) < 1e-4);
    }
    CHECK(r.explained_variance[0] == doctest::Approx(25 * 14.8 / 4).epsilon(1e-5));
    CHECK(r.explained_variance_ratio[0] == doctest::Approx(1.0).epsilon(1e-9));

    // Two orthogonal directions: x with Σx² = 14, y with Σy² = 2.
    const std::vector<float> cross{3, 0, 0, -1, 0, 0, -2, 0, 0, 0, 1, 0, 0, -1, 0};
    const auto c = analysis::pca(cross, 5, 3, 2);
    CHECK(c.explained_variance_ratio[0] + c.explained_variance_ratio[1] == doctest::Approx(1.0));
    CHECK(c.explained_variance[0] == doctest::Approx(14.0 / 4).epsilon(1e-9));  // x: 9 + 1 + 4
    CHECK(c.explained_variance[1] == doctest::Approx(2.0 / 4).epsilon(1e-9));   // y: 1 + 1
    for (std::int64_t k = 0; k < 2; ++k) {
        double largest = 0;
        for (std::int64_t i = 0; i < 5; ++i)
            if (std::abs(c.at(i, k)) > std::abs(largest)) largest = c.at(i, k);
        CHECK(largest > 0);
    }
    CHECK_THROWS_WITH_AS((void)analysis::pca(cross, 5, 3, 4), doctest::Contains("4 components"), smile::error);
}

TEST_CASE("feature interpolation: an affine network's path is straight and evenly spaced") {
    smile::session<B> s;
    auto d = tiny_dataset();
    auto affine = make_tiny(s, false);
    smile::rng gen(4);
    analysis::feature_interpolation_options o;
    o.pairs = 3;
    o.workers = 0;
    const auto paths = analysis::feature_interpolation(s, affine, d, d->test, tiny_pipeline(), gen, o);
    REQUIRE(paths.size() == 3);
    for (const auto& p : paths) {
        CHECK(p.first.memory_index != p.second.memory_index);
        REQUIRE(p.projection.rows == 5);
        CHECK(p.projection.explained_variance_ratio[0] == doctest::Approx(1.0).epsilon(1e-4));
        const double step = p.projection.at(1, 0) - p.projection.at(0, 0);
        CHECK(std::abs(step) > 1e-3);
        for (std::int64_t i = 1; i < 5; ++i)
            CHECK(p.projection.at(i, 0) - p.projection.at(i - 1, 0) == doctest::Approx(step).epsilon(1e-3));
    }
    smile::rng few(4);
    o.pairs = 20;  // 40 images from a test split of 16
    CHECK_THROWS_WITH_AS((void)analysis::feature_interpolation(s, affine, d, d->test, tiny_pipeline(), few, o),
                         doctest::Contains("the split has 16"), smile::error);
}
