// The baselines: L2-SP, DELTA, BSS, RIFLE, Co-Tuning and the D-SMILE combinations.
#include <doctest/doctest.h>

#include <smile/data/synthetic.hpp>
#include <smile/factory_instances.hpp>
#include <smile/io/weights.hpp>
#include <smile/methods/registry.hpp>
#include <smile/train/evaluate.hpp>

#include "backends.hpp"
#include "compare.hpp"
#include "directional_gradcheck.hpp"
#include "random_data.hpp"
#include "tiny_models.hpp"

using smile::shape4;
using smile::tensor;
using D = smile::default_backend;
namespace fs = std::filesystem;
using smile::test::tiny_arch;

namespace {

/// Runs `n` steps; returns the reports.
std::vector<smile::step_report> run(smile::method<D>& m, std::int64_t n, std::uint64_t seed = 1) {
    auto d = smile::test::tiny_target();
    m.prepare(d, d->train, {smile::test::tiny_pipeline(), smile::test::tiny_pipeline(), 0});
    smile::data::loader l(d, d->train, smile::test::tiny_pipeline(), {12, true, true, true, 0, 2, seed, false, 0});
    std::vector<smile::step_report> out;
    for (std::int64_t k = 0; k < n; ++k) out.push_back(m.step(*l.next(), k));
    return out;
}

smile::method_config config(const std::string& name, std::int64_t total = 12) {
    smile::method_config c;
    c.name = name;
    c.schedule = {smile::schedule_kind::constant, 0.05f, total, 0.1f, {}};
    c.delta.attention.head_iterations = 10;
    c.delta.attention.batches = 2;
    c.delta.attention.batch_size = 12;
    return c;
}

/// Every parameter's gradient along 2 random directions (directional_gradcheck.hpp); at least
/// half of the directions must be smooth enough to compare.
template <class B, class Loss>
void check_total_gradient(smile::classifier<B>& model, Loss&& loss, std::uint64_t seed) {
    const auto r = smile::test::check_directional_gradients<B>(model, loss, seed, 2);
    CHECK(r.compared * 2 >= r.directions);
}

}  // namespace

TEST_CASE_TEMPLATE("regularizers: L2 toward an anchor and the attention distance by hand", B, SMILE_TEST_BACKENDS) {
    smile::session<B> s;
    smile::parameter<B> w(s, {2, 2, 1, 1}, 2);
    w.value.copy_from_host(std::vector<float>{1, 2, 3, 4});
    w.grad_for_write().copy_from_host(std::vector<float>{1, 1, 1, 1});
    auto anchor = tensor<B>::from_host(s, {2, 2, 1, 1}, std::vector<float>{1, 1, 1, 1});
    // (α/2)·‖w − a‖² = 0.5·(0 + 1 + 4 + 9) with α = 1; the gradient gains α(w − a).
    CHECK(smile::l2_toward(s, w, &anchor, 1.0) == doctest::Approx(7.0));
    CHECK(w.grad.to_host() == std::vector<float>{1, 2, 3, 4});
    CHECK(smile::l2_toward(s, w, nullptr, 0.1) == doctest::Approx(0.05 * 30));
    // DELTA: Δ = F_t − F_s on a [1, 2, 1, 2] map (h·w = 2): channel 0 (1, 2), channel 1 (3, 0);
    // W = (0.25, 0.75): Ω = (0.25·5 + 0.75·9)/2 = 4; with c/2 = 1: the same. Gradient 2WΔ/(hw).
    auto ft = tensor<B>::from_host(s, {1, 2, 1, 2}, std::vector<float>{1, 2, 3, 0});
    auto fs0 = tensor<B>::zeros(s, {1, 2, 1, 2});
    auto weights = tensor<B>::from_host(s, smile::vector_shape(2), std::vector<float>{0.25f, 0.75f});
    tensor<B> g;
    CHECK(smile::attention_distance(s, ft, fs0, weights, 1.0, g) == doctest::Approx(4.0));
    CHECK(g.to_host() == std::vector<float>{0.25f, 0.5f, 2.25f, 0.0f});
    CHECK(smile::attention_distance(s, ft, fs0, weights, 3.0, g, 0.5f) == doctest::Approx(12.0));
    CHECK(g.to_host() == std::vector<float>{0.375f, 0.75f, 3.375f, 0.0f});  // 0.5·3·2WΔ/2
}

TEST_CASE_TEMPLATE("regularizers: BSS shrinks the smallest singular value, finitely when they repeat", B, SMILE_TEST_BACKENDS) {
    smile::session<B> s;
    // F = [[3,0,0,0],[0,2,0,0],[0,0,1,0]]: σ = (3, 2, 1); k = 1: η·1²; ∇ = 2η·1·e3·e3ᵀ.
    auto f = tensor<B>::from_host(s, {3, 4, 1, 1}, std::vector<float>{3, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0});
    tensor<B> g;
    CHECK(smile::spectral_shrinkage(s, f, 0.5, 1, g) == doctest::Approx(0.5));
    auto grad = g.to_host();
    for (auto& v : grad) v = std::abs(v);  // singular vectors are defined up to sign
    CHECK(smile::test::max_abs_diff(grad, std::vector<float>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}) < 1e-6);
    CHECK(smile::spectral_shrinkage(s, f, 0.5, 2, g) == doctest::Approx(0.5 * (4 + 1)));
    // Two equal smallest singular values: any basis of their subspace is valid; the gradient is
    // finite, and its norm is 2ησ whichever vector was chosen.
    auto rep = tensor<B>::from_host(s, {3, 3, 1, 1}, std::vector<float>{2, 0, 0, 0, 1, 0, 0, 0, 1});
    CHECK(smile::spectral_shrinkage(s, rep, 1.0, 1, g) == doctest::Approx(1.0));
    double norm = 0;
    for (float v : g.to_host()) {
        REQUIRE(std::isfinite(v));
        norm += double(v) * v;
    }
    CHECK(std::sqrt(norm) == doctest::Approx(2.0));
    auto zeros = tensor<B>::zeros(s, {4, 6, 1, 1});  // all singular values 0
    CHECK(smile::spectral_shrinkage(s, zeros, 1.0, 2, g) == 0.0);
    for (float v : g.to_host()) CHECK(v == 0.0f);
    CHECK_THROWS_WITH_AS(smile::spectral_shrinkage(s, f, 1.0, 4, g), doctest::Contains("k = 4 must be in 1..min(n, d) = 3"),
                         smile::error);
}

TEST_CASE_TEMPLATE("regularizers: the DELTA and BSS gradients with respect to the features equal finite differences", B,
                   SMILE_TEST_BACKENDS) {
    smile::session<B> s;
    smile::rng data(12);
    const shape4 map_shape{3, 4, 2, 3}, pooled_shape{5, 7, 1, 1};
    const auto map = smile::test::uniform_values(data, map_shape.size(), -1, 1);
    const auto pooled = smile::test::uniform_values(data, pooled_shape.size(), -1, 1);
    auto source = tensor<B>::from_host(s, map_shape, smile::test::uniform_values(data, map_shape.size(), -1, 1));
    auto weights = tensor<B>::from_host(s, smile::vector_shape(4), smile::test::uniform_values(data, 4, 0.1, 1));
    tensor<B> g;
    // Both regularizers are smooth here (BSS: the 5 singular values of a random 5×7 matrix are
    // distinct), so central differences converge quadratically; float32 limits them to ~1e-3.
    auto check = [&](const shape4& sh, const std::vector<float>& origin, auto&& value) {
        auto x = tensor<B>::from_host(s, sh, origin);
        value(x, true);
        const auto analytic = g.to_host();
        for (std::size_t i = 0; i < origin.size(); i += 3) {
            auto at = [&](double h) {
                auto moved = origin;
                moved[i] = float(moved[i] + h);
                x.copy_from_host(moved);
                return value(x, false);
            };
            const double eps = 1e-2, numeric = (at(eps) - at(-eps)) / (2 * eps);
            INFO("element ", i, ": numeric ", numeric, " analytic ", analytic[i]);
            CHECK(std::abs(numeric - analytic[i]) <= 2e-3 * std::abs(numeric) + 2e-4);
        }
    };
    check(map_shape, map, [&](tensor<B>& x, bool) { return smile::attention_distance(s, x, source, weights, 1.5, g); });
    tensor<B> scratch;
    for (const std::int64_t k : {1, 2, 5})
        check(pooled_shape, pooled, [&](tensor<B>& x, bool keep) {
            return smile::spectral_shrinkage(s, x, 0.7, k, keep ? g : scratch);
        });
}

TEST_CASE("svd: both backends give the same singular values and exact reconstructions") {
    smile::rng data(3);
    const auto values = smile::test::uniform_values(data, 6 * 9);
    std::vector<std::vector<float>> sigmas;
    for (int which = 0; which < 2; ++which) {
        auto run_on = [&](auto& s) {
            using S = std::remove_reference_t<decltype(s)>;
            using B = std::conditional_t<std::is_same_v<S, smile::session<D>>, D, smile::reference::backend>;
            auto a = tensor<B>::from_host(s, {6, 9, 1, 1}, values);
            tensor<B> u(s, {6, 6, 1, 1}), sg(s, {6, 1, 1, 1}), vt(s, {6, 9, 1, 1});
            smile::ops<B>::svd(s.context(), a.view(), u.view(), sg.view(), vt.view());
            sigmas.push_back(sg.to_host());
            smile::ops<B>::scale_channels(s.context(), u.view(), sg.view(), u.view());
            tensor<B> back(s, {6, 9, 1, 1});
            smile::ops<B>::gemm(s.context(), smile::transpose::no, smile::transpose::no, 1.0f,
                                u.view(), vt.view(), 0.0f, back.view());
            CHECK(smile::test::relative_error(back.to_host(), values) < 1e-5);
        };
        if (which == 0) {
            smile::session<D> s;
            run_on(s);
        } else {
            smile::session<smile::reference::backend> s;
            run_on(s);
        }
    }
    CHECK(smile::test::relative_error(sigmas[0], sigmas[1]) < 1e-6);
    for (std::size_t i = 1; i < sigmas[0].size(); ++i) CHECK(sigmas[0][i] <= sigmas[0][i - 1]);
}

TEST_CASE("l2sp: the penalty of the step equals (α/2)·Σ‖w − w⁰‖² over the backbone, w⁰ stays fixed") {
    smile::session<D> s;
    const auto path = smile::test::tiny_pretrained(s, 21, "baselines");
    smile::rng gen(1);
    auto c = config("l2sp");
    c.l2sp.alpha = 0.5;
    auto m = smile::make_method<D>(s, gen, tiny_arch(), 3, path, c);
    auto& l2sp = dynamic_cast<smile::l2sp_method<D>&>(*m);
    const auto anchor = l2sp.anchor("layer1.0.conv1.weight").to_host();
    const auto reports = run(*m, 3);
    CHECK(reports[0].term("l2sp") == 0.0);  // the first step starts at w⁰
    // The penalty reported by the next step, by hand from the weights before it.
    double expected = 0;
    for (auto& [name, p] : smile::parameters_of<D>(m->model())) {
        if (smile::l2sp_method<D>::is_head(name)) continue;
        const auto w = p->value.to_host(), a = l2sp.anchor(name).to_host();
        for (std::size_t i = 0; i < w.size(); ++i) expected += 0.5 * 0.5 * double(w[i] - a[i]) * (w[i] - a[i]);
    }
    auto d = smile::test::tiny_target();
    smile::data::loader l(d, d->train, smile::test::tiny_pipeline(), {12, true, true, true, 0, 2, 9, false, 0});
    CHECK(m->step(*l.next(), 3).term("l2sp") == doctest::Approx(expected).epsilon(1e-4));
    CHECK(l2sp.anchor("layer1.0.conv1.weight").to_host() == anchor);
    CHECK(reports[2].term("l2sp") > 0);
}

TEST_CASE("delta: attention from loss increases, Ω by hand, gradients, the source network stays frozen") {
    // softmax(z/5) of z-scored increases (1, 2, 3): z = (−√1.5, 0, √1.5).
    const auto w = smile::attention_from_losses({1, 2, 3});
    const double e = std::exp(std::sqrt(1.5) / 5), total = 1 / e + 1 + e;
    CHECK(w[0] == doctest::Approx(1 / e / total));
    CHECK(w[2] == doctest::Approx(e / total));

    smile::session<D> s;
    const auto path = smile::test::tiny_pretrained(s, 21, "baselines");
    const auto cache = fs::temp_directory_path() / "smile_delta_attention.safetensors";
    fs::remove(cache);
    for (const std::string flavour : {"smile", "original"}) {
        smile::rng gen(2);
        auto c = config("delta");
        c.delta.flavour = flavour;
        c.delta.alpha = 0.3;
        c.delta.attention_path = flavour == "smile" ? cache.string() : "";
        auto m = smile::make_method<D>(s, gen, tiny_arch(), 3, path, c);
        auto& delta = dynamic_cast<smile::delta_method<D>&>(*m);
        const auto source_before = smile::find_parameter<D>(delta.source(), "conv1.weight").value.to_host();
        const auto reports = run(*m, 4);
        CHECK(smile::find_parameter<D>(delta.source(), "conv1.weight").value.to_host() == source_before);
        const auto attention = delta.attention();
        CHECK(attention.size() == (flavour == "smile" ? 1u : 3u));  // ResNet-8: 3 stages
        for (const auto& a : attention) {
            double sum = 0;
            for (float v : a) sum += v;
            CHECK(sum == doctest::Approx(1.0));
        }
        // Even with equal weights the maps differ: the student normalises with batch statistics
        // (training mode), the source network with its running statistics (evaluation mode).
        CHECK(reports[0].term("delta") > 0.0);
        CHECK(std::isfinite(reports[3].term("delta")));
        if (flavour == "smile") {
            CHECK(fs::exists(cache));
            // A second run loads the cached attention instead of recomputing it.
            smile::rng gen2(3);
            auto again = smile::make_method<D>(s, gen2, tiny_arch(), 3, path, c);
            run(*again, 1);
            CHECK(dynamic_cast<smile::delta_method<D>&>(*again).attention() == attention);
        }
    }
    fs::remove(cache);
}

TEST_CASE_TEMPLATE("delta and bss: the gradient of CE + regularizer through the classifier equals finite differences", B, SMILE_TEST_BACKENDS) {
    smile::session<B> s;
    const auto path = smile::test::tiny_pretrained(s, 21, "baselines");
    smile::rng gen(4);
    auto student = smile::make_student<B>(s, gen, tiny_arch(), 3, path, false);
    auto source = smile::make_pretrained<B>(s, gen, tiny_arch(), path);
    // No perturbation is needed: the student normalises with batch statistics (training mode) and
    // the source with running statistics, so the DELTA term is away from its minimum already.
    smile::rng data(6);
    auto x = tensor<B>::from_host(s, {4, 1, 8, 8}, smile::test::uniform_values(data, 4 * 64));
    const auto targets = smile::one_hot({0, 1, 2, 0}, 3);
    student.feature_tap().enable();
    source.forward(s, x, smile::mode::eval);
    auto source_map = source.feature_map().clone();
    auto weights = tensor<B>::from_host(s, smile::vector_shape(64), smile::test::uniform_values(data, 64, 0, 0.03));
    tensor<B> tb, dl, gd, gb;
    for (const bool with_delta : {true, false}) {
        auto loss = [&](bool backprop) {
            student.forward(s, x, smile::mode::train);
            const double ce = smile::cross_entropy(s, student.logits(), targets, tb, dl);
            double reg = 0;
            if (with_delta) {
                reg = 0.7 * smile::attention_distance(s, student.feature_map(), source_map, weights, 2.0, gd, 0.7f);
                if (backprop) student.feature_tap().inject(s, 1.0f, gd);
            } else {
                reg = smile::spectral_shrinkage(s, student.pooled(), 0.05, 1, gb);
                if (backprop) student.pooled_tap().inject(s, 1.0f, gb);
            }
            if (backprop) student.backward(s, &dl, nullptr);
            return ce + reg;
        };
        const std::string which = with_delta ? "CE + DELTA" : "CE + BSS";
        INFO(which);
        check_total_gradient(student, loss, 7);
    }
}

TEST_CASE("rifle: the head is re-initialised at the starts of the periods, before the step, momentum is kept") {
    smile::session<D> s;
    const auto path = smile::test::tiny_pretrained(s, 21, "baselines");
    smile::rng gen(5);
    auto c = config("rifle", 12);
    c.rifle.periods = 3;  // period 4: re-init at the start of iterations 4 and 8, never at 0
    auto m = smile::make_method<D>(s, gen, tiny_arch(), 3, path, c);
    const auto reports = run(*m, 12);
    std::vector<std::int64_t> reinit;
    for (std::size_t k = 0; k < reports.size(); ++k)
        if (reports[k].term("reinit") == 1.0) reinit.push_back(std::int64_t(k));
    CHECK(reinit == std::vector<std::int64_t>{4, 8});
    auto& rifle = dynamic_cast<smile::rifle_method<D>&>(*m);
    CHECK(rifle.reinitialises_at(8));
    CHECK_FALSE(rifle.reinitialises_at(0));
    CHECK_FALSE(rifle.reinitialises_at(7));
    std::size_t momentum_buffers = 0;
    m->optimizer().visit_state([&](const std::string& n, tensor<D>&) { momentum_buffers += n.find("fc.") != std::string::npos; });
    CHECK(momentum_buffers == 2);  // fc.weight and fc.bias kept their buffers through the re-inits
    {
        // The new head is PyTorch's default Linear draw, U(±1/√fan_in), taken from the run's
        // generator before the step: with lr 0 the head after iteration 4 is exactly that draw.
        smile::rng g(5);
        auto c0 = config("rifle", 12);
        c0.rifle.periods = 3;
        c0.schedule.base_lr = 0.0f;
        auto m0 = smile::make_method<D>(s, g, tiny_arch(), 3, path, c0);
        auto d = smile::test::tiny_target();
        smile::data::loader l(d, d->train, smile::test::tiny_pipeline(), {12, true, true, true, 0, 2, 1, false, 0});
        for (std::int64_t k = 0; k < 4; ++k) m0->step(*l.next(), k);
        auto& head = m0->model().head();
        const auto before = head.weight().value.to_host();
        smile::rng replay = g;
        CHECK(m0->step(*l.next(), 4).term("reinit") == 1.0);
        const auto after = head.weight().value.to_host();
        CHECK(after != before);
        const double bound = 1.0 / std::sqrt(double(head.weight().value.shape().c));
        for (float v : after) CHECK(std::abs(v) <= bound);
        head.reset_parameters(replay);
        CHECK(head.weight().value.to_host() == after);
    }
    c.name = "dsmile-rifle";
    smile::rng gen2(5);
    auto mixed = smile::make_method<D>(s, gen2, tiny_arch(), 3, path, c);
    CHECK(mixed->name() == "dsmile-rifle");
    CHECK(run(*mixed, 5)[4].term("reinit") == 1.0);
}

TEST_CASE("co-tuning: the relationship, the soft term by hand, per-group rates, fixed state") {
    // Direct relationship: class means of the source probabilities.
    Eigen::MatrixXd p(4, 2);
    p << 0.9, 0.1, 0.7, 0.3, 0.2, 0.8, 0.4, 0.6;
    const auto r = smile::direct_relationship(p, {0, 0, 1, 1}, 2);
    CHECK(r(0, 0) == doctest::Approx(0.8));
    CHECK(r(1, 1) == doctest::Approx(0.7));
    // The regression solver reaches its optimum: ∇J ≈ 0.
    smile::rng gen0(8);
    Eigen::MatrixXd x(60, 3);
    std::vector<std::int64_t> y(60);
    for (Eigen::Index i = 0; i < 60; ++i) {
        y[std::size_t(i)] = i % 3;
        for (Eigen::Index j = 0; j < 3; ++j) x(i, j) = (j == i % 3 ? 1.0 : 0.0) + gen0.normal(0, 0.3);
    }
    const double C = 0.5;
    const Eigen::MatrixXd W = smile::fit_softmax_regression(x, y, 3, C, 2000);
    const Eigen::MatrixXd probs = smile::softmax_rows(x * W.transpose());
    Eigen::MatrixXd onehot = Eigen::MatrixXd::Zero(60, 3);
    for (Eigen::Index i = 0; i < 60; ++i) onehot(i, y[std::size_t(i)]) = 1;
    const Eigen::MatrixXd gradient = (probs - onehot).transpose() * x + W / C;
    CHECK(gradient.norm() < 1e-4);
    const auto rev = smile::reverse_relationship(x.cwiseAbs(), y, x.cwiseAbs(), y, 3);
    for (Eigen::Index t = 0; t < 3; ++t) CHECK(rev.row(t).sum() == doctest::Approx(1.0));

    smile::session<D> s;
    const auto path = smile::test::tiny_pretrained(s, 21, "baselines");
    for (const std::string kind : {"direct", "reverse"}) {
        smile::rng gen(6);
        auto c = config("cotuning");
        c.co_tuning.relationship = kind;
        auto m = smile::make_method<D>(s, gen, tiny_arch(), 3, path, c);
        CHECK(smile::find_parameter<D>(m->model(), "conv1.weight").lr_mult == doctest::Approx(0.1f));
        CHECK(m->model().source_head().weight().lr_mult == doctest::Approx(0.1f));
        CHECK(m->model().head().weight().lr_mult == 1.0f);
        auto& cot = dynamic_cast<smile::co_tuning_method<D>&>(*m);
        auto d = smile::test::tiny_target();
        m->prepare(d, d->train, {smile::test::tiny_pipeline(), smile::test::tiny_pipeline(), 0});
        const auto rel = cot.relationship();
        REQUIRE(rel.size() == 3 * 5);
        for (int t = 0; t < 3; ++t) {
            double sum = 0;
            for (int j = 0; j < 5; ++j) sum += rel[std::size_t(t * 5 + j)];
            CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
        }
        smile::data::loader l(d, d->train, smile::test::tiny_pipeline(), {12, true, true, true, 0, 2, 1, false, 0});
        const auto* batch = l.next();
        const auto report = m->step(*batch, 0);
        // The soft term by hand from the source logits of that step's forward.
        const auto z = m->model().source_logits().to_host();
        double expected = 0;
        for (std::int64_t i = 0; i < batch->size(); ++i) {
            const float* row = z.data() + i * 5;
            double top = *std::max_element(row, row + 5), lse = 0;
            for (int j = 0; j < 5; ++j) lse += std::exp(row[j] - top);
            lse = top + std::log(lse);
            for (int j = 0; j < 5; ++j) expected -= rel[std::size_t(batch->labels[std::size_t(i)] * 5 + j)] * (row[j] - lse);
        }
        CHECK(report.term("cotuning") == doctest::Approx(expected / double(batch->size())).epsilon(1e-5));
        m->step(*l.next(), 1);
        CHECK(cot.relationship() == rel);  // fixed during training
    }
}

TEST_CASE("baselines: every method is selectable by name and trains on synthetic data") {
    smile::session<D> s;
    const auto path = smile::test::tiny_pretrained(s, 21, "baselines");
    for (const std::string name : {"l2sp", "delta", "bss", "rifle", "cotuning", "dsmile-kd", "dsmile-rifle"}) {
        smile::rng gen(9);
        auto c = config(name, 40);
        auto m = smile::make_method<D>(s, gen, tiny_arch(), 3, path, c);
        CHECK(m->name() == name);
        const auto reports = run(*m, 40, 3);
        double first = 0, last = 0;
        for (int k = 0; k < 8; ++k) {
            first += reports[std::size_t(k)].term("ce");
            last += reports[std::size_t(32 + k)].term("ce");
        }
        INFO(name, ": CE over the first 8 steps ", first / 8, ", the last 8 ", last / 8);
        CHECK(last < first);
    }
    smile::rng gen(9);
    CHECK_THROWS_WITH_AS(smile::make_method<D>(s, gen, tiny_arch(), 3, path, config("deltas")),
                         doctest::Contains("unknown method 'deltas'"), smile::error);
    CHECK_THROWS_WITH_AS(smile::preset_for("dogs"), doctest::Contains("unknown preset 'dogs'"), smile::error);
    auto cub = smile::method_config{};
    smile::apply_preset(cub, smile::preset_for("cars"));
    CHECK(cub.l2sp.alpha == 1e-4);
    CHECK(cub.rifle.periods == 4);
    const auto food = smile::preset_for("food101");
    CHECK(food.arch == "efficientnet-b4");
    CHECK(food.iterations == 16000);
    CHECK_FALSE(food.strengths.has_value());
    CHECK(smile::preset_for("indoor67").lr == doctest::Approx(0.001f));
    CHECK(smile::preset_for("indoor67").source == "Places365");
    smile::apply_preset(cub, food);  // no strengths: nothing changes
    CHECK(cub.l2sp.alpha == 1e-4);
}
