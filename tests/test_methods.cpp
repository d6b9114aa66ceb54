// SMILE and the mixup baselines: loss terms against hand computations, gradients of the whole
// triplet through the classifier against finite differences, teacher policies against closed
// forms, ablation switches, and a short run that learns.
#include <doctest/doctest.h>

#include <smile/data/synthetic.hpp>
#include <smile/factory_instances.hpp>
#include <smile/io/weights.hpp>
#include <smile/methods/registry.hpp>
#include <smile/train/trainer.hpp>

#include "backends.hpp"
#include "compare.hpp"
#include "directional_gradcheck.hpp"
#include "random_data.hpp"
#include "tiny_models.hpp"

using smile::shape4;
using smile::tensor;
namespace fs = std::filesystem;

TEST_CASE_TEMPLATE("losses: cross-entropy, mixed targets and soft targets by hand", B, SMILE_TEST_BACKENDS) {
    smile::session<B> s;
    auto z = tensor<B>::from_host(s, {2, 3, 1, 1}, std::vector<float>{1, 2, 3, 0, 0, 0});
    tensor<B> t, g;
    // Row 0: class 2, CE = log(1 + e^-1 + e^-2) = 0.4076060; row 1: uniform logits, CE = log 3.
    const double ce = smile::cross_entropy(s, z, smile::one_hot({2, 0}, 3), t, g);
    CHECK(ce == doctest::Approx((0.4076059644 + std::log(3.0)) / 2).epsilon(1e-6));
    const auto grad = g.to_host();  // (softmax − onehot)/2
    CHECK(grad[0] == doctest::Approx(0.0900306 / 2).epsilon(1e-5));
    CHECK(grad[2] == doctest::Approx((0.6652409 - 1) / 2).epsilon(1e-5));
    CHECK(grad[3] == doctest::Approx((1.0 / 3 - 1) / 2).epsilon(1e-5));
    // Mixup: λ = 0.7, perm = (1, 0): row 0 targets 0.7·e2 + 0.3·e0 → CE = 0.7·CE(2) + 0.3·CE(0).
    const smile::mixup_plan plan{0.7, {1, 0}};
    const auto mixed = smile::mixed_one_hot({2, 0}, 3, plan);
    CHECK(mixed == std::vector<float>{0.3f, 0, 0.7f, 0.7f, 0, 0.3f});
    // A rank's share: rows [2, 4) of a global batch of 4 whose partners sit in the other share.
    const smile::mixup_plan global_plan{0.7, {3, 2, 0, 1}};
    CHECK(smile::mixed_one_hot_rows({2, 0, 1, 1}, 3, global_plan, 2, 2) ==
          std::vector<float>{0, 0.7f, 0.3f, 0.3f, 0.7f, 0});
    CHECK_THROWS_WITH_AS((void)smile::mixed_one_hot_rows({2, 0, 1, 1}, 3, global_plan, 3, 2),
                         "mixup: rows [3, 5) are outside the batch of 4", smile::error);
    const double mce = smile::cross_entropy(s, z, mixed, t, g);
    const double ce0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));  // −log p = logsumexp − z
    CHECK(mce == doctest::Approx((0.7 * (ce0 - 3) + 0.3 * (ce0 - 1) + std::log(3.0)) / 2).epsilon(1e-6));
    // Soft targets (SMILE's L_FC): CE against (0.5, 0.25, 0.25) on row 0.
    auto soft = tensor<B>::from_host(s, {1, 3, 1, 1}, std::vector<float>{0.5f, 0.25f, 0.25f});
    auto z0 = tensor<B>::from_host(s, {1, 3, 1, 1}, std::vector<float>{1, 2, 3});
    const double sce = smile::cross_entropy(s, z0, soft, g, 0.1f);
    CHECK(sce == doctest::Approx(0.5 * (ce0 - 1) + 0.25 * (ce0 - 2) + 0.25 * (ce0 - 3)).epsilon(1e-6));
    CHECK(g.to_host()[0] == doctest::Approx(0.1 * (0.0900306 - 0.5)).epsilon(1e-5));  // scaled gradient
}

TEST_CASE_TEMPLATE("losses: the two L_FE distances by hand", B, SMILE_TEST_BACKENDS) {
    smile::session<B> s;
    // S − T = (3, 4, 0, 0) on a [1, 2, 1, 2] map: h·w = 2, ‖Δ‖ = 5.
    auto S = tensor<B>::from_host(s, {1, 2, 1, 2}, std::vector<float>{4, 6, 1, 1});
    auto T = tensor<B>::from_host(s, {1, 2, 1, 2}, std::vector<float>{1, 2, 1, 1});
    tensor<B> g;
    const double fro = smile::distance(s, smile::feature_distance::frobenius_over_area, S, T, g);
    CHECK(fro == doctest::Approx(2.5));
    const auto gf = g.to_host();  // Δ/(hw·‖Δ‖) = (0.3, 0.4, 0, 0)
    CHECK(gf[0] == doctest::Approx(0.3));
    CHECK(gf[1] == doctest::Approx(0.4));
    CHECK(gf[2] == 0.0f);
    // The paper's form on pooled features: two rows, L = ‖Δ‖²/n = (25 + 1)/2.
    auto Sp = tensor<B>::from_host(s, {2, 2, 1, 1}, std::vector<float>{4, 6, 1, 1});
    auto Tp = tensor<B>::from_host(s, {2, 2, 1, 1}, std::vector<float>{1, 2, 1, 0});
    const double sq = smile::distance(s, smile::feature_distance::squared_mean, Sp, Tp, g, 0.5f);
    CHECK(sq == doctest::Approx(13.0));
    CHECK(g.to_host() == std::vector<float>{1.5f, 2.0f, 0.0f, 0.5f});  // 0.5 · 2Δ/n
    CHECK(smile::distance(s, smile::feature_distance::frobenius_over_area, S, S, g) == 0.0);
    CHECK(g.to_host() == std::vector<float>(4, 0.0f));  // the subgradient 0 at S = T
}

namespace {

using D = smile::default_backend;
using smile::test::tiny_arch;

}  // namespace

TEST_CASE("smile: the gradient of the whole triplet through the classifier equals finite differences") {
    smile::session<D> s;
    auto arch = tiny_arch();
    smile::rng gen(3);
    auto student = smile::make_classifier<D>(s, gen, arch, {3, 5});
    smile::rng data(4);
    const shape4 xs{4, 1, 8, 8};
    auto x = tensor<D>::from_host(s, xs, smile::test::uniform_values(data, xs.size()));
    // Fixed "teacher" targets: a feature map and source probabilities.
    student.forward(s, x, smile::mode::train);
    auto teacher_map = tensor<D>::from_host(s, student.feature_map().shape(),
                                            smile::test::uniform_values(data, student.feature_map().size(), 0, 1));
    std::vector<float> probs(4 * 5);
    for (std::size_t i = 0; i < probs.size(); ++i) probs[i] = float(1 + (i * 7) % 5) / 15.0f;  // rows sum to 1
    auto teacher_probs = tensor<D>::from_host(s, {4, 5, 1, 1}, probs);
    const auto targets = smile::mixed_one_hot({0, 1, 2, 1}, 3, {0.8, {1, 0, 3, 2}});
    const float gamma_fe = 0.3f, gamma_fc = 0.7f;
    tensor<D> tb, dl, ds, df;
    // L(θ) = L_MXP + γ_FE·L_FE(map) + γ_FC·L_FC, with the training-mode forward.
    auto loss = [&](bool backprop) {
        student.forward(s, x, smile::mode::train);
        const double mxp = smile::cross_entropy(s, student.logits(), targets, tb, dl);
        const double fe = smile::distance(s, smile::feature_distance::frobenius_over_area, student.feature_map(), teacher_map, df, gamma_fe);
        const double fc = smile::cross_entropy(s, student.source_logits(), teacher_probs, ds, gamma_fc);
        if (backprop) {
            student.feature_tap().inject(s, 1.0f, df);
            student.backward(s, &dl, &ds);
        }
        return mxp + gamma_fe * fe + gamma_fc * fc;
    };
    const auto r = smile::test::check_directional_gradients<D>(student, loss, 9, 3);
    CHECK(r.compared >= r.parameters);  // most directions are smooth
}

TEST_CASE("mean teacher: each policy matches its closed form, BN statistics never move") {
    smile::session<D> s;
    const auto path = smile::test::tiny_pretrained(s, 1, "methods");
    smile::rng gen(1);
    auto arch = tiny_arch();
    for (auto policy : {smile::teacher_policy::ema, smile::teacher_policy::copy, smile::teacher_policy::fixed,
                        smile::teacher_policy::latest}) {
        for (auto head : {smile::teacher_head::frozen_pretrained, smile::teacher_head::from_student}) {
            auto student = smile::make_student<D>(s, gen, arch, 3, path, true);
            smile::mean_teacher<D> t(smile::make_pretrained<D>(s, gen, arch, path), {policy, 0.9, 4, head});
            t.attach(student);
            for (auto& [n, p] : smile::parameters_of<D>(student)) p->value.fill(2.0f);
            std::map<std::string, std::vector<float>> before;
            for (auto& [n, p] : smile::parameters_of<D>(t.model())) before[n] = p->value.to_host();
            std::vector<std::vector<float>> buffers_before;
            t.model().visit_buffers("", [&](const std::string&, tensor<D>& b) { buffers_before.push_back(b.to_host()); });
            int updates = 0;
            for (std::int64_t k = 0; k < 10; ++k) updates += t.update(s, k);  // k = 0, 4, 8 update every 4
            const int expected_updates = policy == smile::teacher_policy::fixed ? 0 : policy == smile::teacher_policy::latest ? 10 : 3;
            CHECK(updates == expected_updates);
            for (auto& [n, p] : smile::parameters_of<D>(t.model())) {
                const bool follows = n.rfind("fc.", 0) != 0 || head == smile::teacher_head::from_student;
                const auto now = p->value.to_host();
                for (std::size_t i = 0; i < now.size(); i += 7) {
                    const double w0 = before[n][i];
                    double expected = w0;
                    if (follows && policy == smile::teacher_policy::ema) expected = std::pow(0.9, 3) * w0 + (1 - std::pow(0.9, 3)) * 2.0;
                    if (follows && (policy == smile::teacher_policy::copy || policy == smile::teacher_policy::latest)) expected = 2.0;
                    INFO(n);
                    CHECK(now[i] == doctest::Approx(expected).epsilon(1e-5));
                }
            }
            std::size_t b = 0;
            t.model().visit_buffers("", [&](const std::string&, tensor<D>& buf) { CHECK(buf.to_host() == buffers_before[b++]); });
        }
    }
}

namespace {

/// Runs `iterations` steps of a method on a synthetic target; returns the reports.
std::vector<smile::step_report> run_steps(smile::method<D>& m, std::int64_t iterations, std::uint64_t seed) {
    auto target = std::make_shared<smile::data::dataset>(
        smile::data::make_synthetic({3, 16, 8, 8, 1, 40.0, 7, 0, 0.5}, seed));
    smile::data::pipeline p;
    p.gray().resize(8, 8).normalize({{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}});
    smile::data::loader l(target, target->train, p, {12, true, true, true, 0, 2, seed, false, 0});
    std::vector<smile::step_report> out;
    for (std::int64_t k = 0; k < iterations; ++k) out.push_back(m.step(*l.next(), k));
    return out;
}

}  // namespace

TEST_CASE("smile ablations: each switch changes exactly what it names") {
    smile::session<D> s;
    const auto path = smile::test::tiny_pretrained(s, 1, "methods");
    auto arch = tiny_arch();
    smile::method_config c;
    c.schedule = {smile::schedule_kind::constant, 0.05f, 6, 0.1f, {}};
    c.smile.teacher.period = 2;
    auto weights = [](smile::method<D>& m, bool include_source) {
        std::map<std::string, std::vector<float>> w;
        for (auto& [n, p] : smile::parameters_of<D>(m.model()))
            if (include_source || n.rfind("source_fc.", 0) != 0) w[n] = p->value.to_host();
        return w;
    };
    // γ_FC = 0 (FT w/ M-FE): the source head is untouched, not even by weight decay.
    {
        smile::rng gen(5);
        c.name = "smile-m-fe";
        auto m = smile::make_method<D>(s, gen, arch, 3, path, c);
        const auto head = m->model().source_head().weight().value.to_host();
        const auto reports = run_steps(*m, 6, 1);
        CHECK(m->model().source_head().weight().value.to_host() == head);
        CHECK(reports.back().term("fc") == 0.0);
        CHECK(reports.back().term("fe") > 0.0);
    }
    // γ_FE = γ_FC = 0 is exactly mixup: the same draws, the same weights bit for bit.
    {
        smile::rng g1(6), g2(6);
        c.name = "smile";
        c.smile.gamma_fe = 0.0f;
        c.smile.gamma_fc = 0.0f;
        auto reduced = smile::make_method<D>(s, g1, arch, 3, path, c);
        c.name = "mixup";
        auto mixup = smile::make_method<D>(s, g2, arch, 3, path, c);
        const auto r1 = run_steps(*reduced, 6, 2), r2 = run_steps(*mixup, 6, 2);
        for (std::size_t k = 0; k < r1.size(); ++k) CHECK(r1[k].term("mxp") == r2[k].term("mixup_ce"));
        CHECK(weights(*reduced, false) == weights(*mixup, false));
        c.smile.gamma_fe = 0.01f;
        c.smile.gamma_fc = 0.1f;
    }
    // w/o T-Teacher: the teacher stays the pretrained network; w/o S-Teacher: it is the student's
    // backbone of the step before the last update.
    {
        smile::rng gen(7);
        c.name = "smile-no-t-teacher";
        auto fixed = smile::make_method<D>(s, gen, arch, 3, path, c);
        auto& teacher = dynamic_cast<smile::smile_method<D>&>(*fixed).teacher().model();
        const auto w0 = smile::find_parameter<D>(teacher, "conv1.weight").value.to_host();
        run_steps(*fixed, 4, 3);
        CHECK(smile::find_parameter<D>(teacher, "conv1.weight").value.to_host() == w0);

        c.name = "smile-no-s-teacher";
        auto latest = smile::make_method<D>(s, gen, arch, 3, path, c);
        auto& t2 = dynamic_cast<smile::smile_method<D>&>(*latest).teacher().model();
        run_steps(*latest, 3, 3);
        const auto student_now = smile::find_parameter<D>(latest->model(), "conv1.weight").value.to_host();
        const auto teacher_now = smile::find_parameter<D>(t2, "conv1.weight").value.to_host();
        CHECK(teacher_now != student_now);  // the teacher lags one update behind
        CHECK(smile::test::relative_error(teacher_now, student_now) < 0.2);
    }
}

TEST_CASE("smile: a short run on synthetic data lowers every loss term and beats chance") {
    smile::session<D> s;
    // Source: a related synthetic task (shared prototype content), pretrained briefly.
    auto arch = tiny_arch();
    fs::path source_path = fs::temp_directory_path() / "smile_synthetic_source.safetensors";
    {
        smile::rng gen(1);
        smile::finetune_method<D> pre(s, gen, smile::make_classifier<D>(s, gen, arch, {5, 0}), smile::sgd_options{0.9f, 0.0f, 5e-4f, true},
                                      {smile::schedule_kind::constant, 0.05f, 60, 0.1f, {}});
        pre.optimizer().attach(pre.model());
        auto source = std::make_shared<smile::data::dataset>(smile::data::make_synthetic({5, 24, 8, 8, 1, 40.0, 3, 0, 0.5}, 11));
        smile::data::pipeline p;
        p.gray().resize(8, 8).normalize({{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}});
        smile::data::loader l(source, source->train, p, {16, true, true, true, 0, 2, 1, false, 0});
        for (std::int64_t k = 0; k < 60; ++k) pre.step(*l.next(), k);
        smile::io::save_weights<D>(pre.model(), source_path);
    }
    smile::rng gen(2);
    smile::method_config c;
    c.name = "smile";
    c.schedule = {smile::schedule_kind::constant, 0.02f, 80, 0.1f, {}};
    c.smile.gamma_fe = 0.1f;  // make the small terms visible in so few steps
    auto m = smile::make_method<D>(s, gen, arch, 3, source_path, c);
    const auto reports = run_steps(*m, 80, 5);
    auto mean = [&](const std::string& term, std::size_t from, std::size_t to) {
        double sum = 0;
        for (std::size_t k = from; k < to; ++k) sum += reports[k].term(term);
        return sum / double(to - from);
    };
    for (const std::string term : {"mxp", "fe", "fc"}) {
        INFO(term, ": first 10 ", mean(term, 0, 10), ", last 10 ", mean(term, 70, 80));
        CHECK(mean(term, 70, 80) < mean(term, 0, 10));
    }
    auto target = std::make_shared<smile::data::dataset>(smile::data::make_synthetic({3, 16, 8, 8, 1, 40.0, 7, 0, 0.5}, 5));
    smile::data::pipeline p;
    p.gray().resize(8, 8).normalize({{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}});
    const auto e = smile::evaluate(s, m->model(), target, target->test, p, 64, 0);
    INFO("test top-1 ", e.top1);
    CHECK(e.top1 > 0.7);  // chance is 1/3
}
