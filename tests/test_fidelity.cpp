// Method fidelity, through the methods themselves: each step's terms against a hand
// computation from its parts (teacher outputs, λ, permutation, attention), the gradient a step
// applies against finite differences of the loss it reports, the mean teacher's policies as the
// method runs them, CutMix's box and probability, λ folding, and that every setting of the
// library's method_config reaches the method it configures.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <smile/factory_instances.hpp>
#include <smile/methods/registry.hpp>
#include <smile/mixup/cutmix.hpp>

#include "backends.hpp"
#include "compare.hpp"
#include "directional_gradcheck.hpp"
#include "random_data.hpp"
#include "tiny_models.hpp"

using smile::tensor;
using D = smile::default_backend;
using smile::test::tiny_arch;
namespace fs = std::filesystem;

namespace {

/// Host row-mix: out[i] = λ·v[i] + (1 − λ)·v[perm[i]] for rows of `row` values.
std::vector<double> host_mix(const std::vector<float>& v, std::size_t row, const smile::mixup_plan& p) {
    std::vector<double> out(v.size());
    for (std::size_t i = 0; i < p.perm.size(); ++i)
        for (std::size_t j = 0; j < row; ++j)
            out[i * row + j] = p.lambda * v[i * row + j] + (1 - p.lambda) * v[std::size_t(p.perm[i]) * row + j];
    return out;
}

std::vector<double> host_softmax(const std::vector<float>& z, std::size_t k) {
    std::vector<double> p(z.size());
    for (std::size_t i = 0; i < z.size() / k; ++i) {
        double top = -1e300, sum = 0;
        for (std::size_t j = 0; j < k; ++j) top = std::max(top, double(z[i * k + j]));
        for (std::size_t j = 0; j < k; ++j) sum += p[i * k + j] = std::exp(z[i * k + j] - top);
        for (std::size_t j = 0; j < k; ++j) p[i * k + j] /= sum;
    }
    return p;
}

/// (1/n)·Σ_i Σ_j −t_ij·log softmax(z_i)_j.
template <class T>
double host_cross_entropy(const std::vector<float>& z, std::size_t k, const std::vector<T>& targets) {
    const auto p = host_softmax(z, k);
    double sum = 0;
    for (std::size_t i = 0; i < p.size(); ++i) sum -= double(targets[i]) * std::log(p[i]);
    return sum / double(z.size() / k);
}

tensor<D> upload(smile::session<D>& s, const smile::data::host_batch& b) {
    const auto& sh = b.images.shape();
    return tensor<D>::from_host(s, {std::int64_t(sh[0]), std::int64_t(sh[1]), std::int64_t(sh[2]), std::int64_t(sh[3])},
                                std::span<const float>(b.images.data(), b.images.size()));
}

std::map<std::string, std::vector<float>> snapshot(smile::classifier<D>& m, bool buffers) {
    std::map<std::string, std::vector<float>> out;
    for (const auto& t : smile::state_of<D>(m))
        if ((t.param == nullptr) == buffers) out[t.name] = t.value->to_host();
    return out;
}

smile::method_config base_config(const std::string& name, std::int64_t total = 12) {
    smile::method_config c;
    c.name = name;
    c.schedule = {smile::schedule_kind::constant, 0.05f, total, 0.1f, {}};
    c.delta.attention.head_iterations = 6;
    c.delta.attention.batches = 1;
    c.delta.attention.batch_size = 12;
    return c;
}

struct tiny_run {
    std::shared_ptr<smile::data::dataset> data = smile::test::tiny_target();
    smile::data::loader batches{data, data->train, smile::test::tiny_pipeline(), {12, true, true, true, 0, 2, 3, false, 0}};
    void prepare(smile::method<D>& m) {
        m.prepare(data, data->train, {smile::test::tiny_pipeline(), smile::test::tiny_pipeline(), 0});
    }
};

}  // namespace

TEST_CASE("smile: a step's L_MXP, L_FE and L_FC equal a hand computation from the teacher's outputs, λ and the permutation") {
    smile::session<D> s;
    const auto path = smile::test::tiny_pretrained(s, 31, "fidelity");
    for (const auto policy : {smile::teacher_policy::ema, smile::teacher_policy::latest}) {
        CAPTURE(int(policy));
        smile::rng gen(11);
        auto c = base_config("smile");
        c.smile.teacher.policy = policy;
        c.smile.gamma_fe = 0.3f;
        c.smile.gamma_fc = 0.7f;
        c.mixup = {0.4, true};
        auto m = smile::make_method<D>(s, gen, tiny_arch(), 3, path, c);
        auto& sm = dynamic_cast<smile::smile_method<D>&>(*m);
        tiny_run run;
        for (std::int64_t k = 0; k < 2; ++k) m->step(*run.batches.next(), k);  // the student has moved away
        const smile::data::host_batch& batch = *run.batches.next();
        const auto x = upload(s, batch);
        const std::int64_t n = x.shape().n;

        // The step's draws, replayed from a copy of the run's generator.
        smile::rng replay = gen;
        const smile::mixup_plan plan = smile::sample_mixup(replay, c.mixup, n);
        tensor<D> mixed;
        smile::mix(s, plan, x, mixed);
        auto& student = m->model();
        student.forward(s, mixed, smile::mode::train);
        const auto z = student.logits().to_host(), zs = student.source_logits().to_host();
        const auto fs_map = student.feature_map().to_host();
        const auto map_shape = student.feature_map().shape();
        const auto student_params = snapshot(student, false), student_buffers = snapshot(student, true);

        const smile::step_report r = m->step(batch, 2);

        // After the step the teacher holds what the step's forward used: the pretrained network
        // for ema at k = 2 (no update), the pre-step student for latest (updated before it).
        auto& teacher = sm.teacher().model();
        if (policy == smile::teacher_policy::latest) {
            for (const auto& [name, w] : snapshot(teacher, false))
                if (name.rfind("fc.", 0) != 0) CHECK(w == student_params.at(name));
            for (const auto& [name, b] : snapshot(teacher, true)) CHECK(b == student_buffers.at(name));
        }
        teacher.forward(s, x, smile::mode::eval);
        const auto t_map = teacher.feature_map().to_host(), t_logits = teacher.logits().to_host();

        const double mxp = host_cross_entropy(z, 3, smile::mixed_one_hot(batch.labels, 3, plan));
        const std::size_t map_row = std::size_t(map_shape.c * map_shape.h * map_shape.w);
        const auto t_mixed = host_mix(t_map, map_row, plan);
        double squared = 0;
        for (std::size_t i = 0; i < t_mixed.size(); ++i) squared += (fs_map[i] - t_mixed[i]) * (fs_map[i] - t_mixed[i]);
        const double fe = std::sqrt(squared) / double(map_shape.h * map_shape.w);
        const auto probabilities = host_softmax(t_logits, 5);
        const std::vector<float> p32(probabilities.begin(), probabilities.end());
        const double fc = host_cross_entropy(zs, 5, host_mix(p32, 5, plan));
        CHECK(r.term("lambda") == plan.lambda);
        CHECK(r.term("mxp") == doctest::Approx(mxp).epsilon(1e-5));
        CHECK(r.term("fe") == doctest::Approx(fe).epsilon(1e-4));
        CHECK(r.term("fc") == doctest::Approx(fc).epsilon(1e-5));
        CHECK(r.loss == doctest::Approx(mxp + 0.3 * fe + 0.7 * fc).epsilon(1e-4));
    }
}

TEST_CASE("smile: the gradient a step applies equals finite differences of the loss it reports, for every switch") {
    smile::session<D> s;
    const auto path = smile::test::tiny_pretrained(s, 32, "fidelity");
    struct variant {
        std::string label;
        std::string name;
        std::function<void(smile::smile_options&)> set;
    };
    const std::vector<variant> variants{
        {"default (map, frobenius/hw, soft-ce)", "smile", [](smile::smile_options&) {}},
        {"paper: pooled features, squared", "smile",
         [](smile::smile_options& o) {
             o.fe_on_pooled = true;
             o.fe_distance = smile::feature_distance::squared_mean;
         }},
        {"paper: L_FC squared L2 on logits", "smile", [](smile::smile_options& o) { o.fc = smile::fc_loss::squared_l2; }},
        {"Eq. 2's clean cross-entropy added", "smile", [](smile::smile_options& o) { o.include_clean_ce = true; }},
        {"FT w/ M-FC", "smile-m-fc", [](smile::smile_options&) {}},
    };
    for (const auto& v : variants) {
        CAPTURE(v.label);
        smile::rng gen(12);
        auto c = base_config(v.name, 100);
        c.optimizer = smile::sgd_options{0.0f, 0.0f, 0.0f, false};  // the update is then exactly −lr·gradient
        c.schedule = {smile::schedule_kind::constant, 1.0f, 100, 0.1f, {}};
        c.smile.gamma_fe = 0.5f;
        c.smile.gamma_fc = 0.5f;
        c.smile.teacher.period = 1000;  // no teacher update at the probed iteration
        v.set(c.smile);
        auto m = smile::make_method<D>(s, gen, tiny_arch(), 3, path, c);
        tiny_run run;
        m->step(*run.batches.next(), 1);
        const smile::data::host_batch batch = *run.batches.next();
        const std::string draws = gen.state();
        auto params = smile::parameters_of<D>(m->model());
        auto step_at_current = [&] {
            std::vector<std::vector<float>> before;
            for (auto& [n, p] : params) before.push_back(p->value.to_host());
            gen.restore(draws);
            const double loss = m->step(batch, 1).loss;
            std::vector<std::vector<float>> after;
            for (std::size_t i = 0; i < params.size(); ++i) {
                after.push_back(params[i].second->value.to_host());
                params[i].second->value.copy_from_host(before[i]);
            }
            return std::pair{loss, std::pair{before, after}};
        };
        const auto [loss0, weights] = step_at_current();
        std::vector<std::vector<float>> applied(params.size());
        for (std::size_t i = 0; i < params.size(); ++i) {
            applied[i].resize(weights.first[i].size());
            for (std::size_t j = 0; j < applied[i].size(); ++j) applied[i][j] = weights.first[i][j] - weights.second[i][j];
        }
        const auto r = smile::test::check_directional_gradients_against<D>(
            m->model(), applied, [&] { return step_at_current().first; }, 13, 3, std::abs(loss0));
        INFO("loss ", loss0);
        CHECK(r.compared >= r.parameters);
        CHECK(std::isfinite(loss0));
    }
}

TEST_CASE("mean teacher: each policy as the SMILE step applies it, parameters and BN statistics") {
    smile::session<D> s;
    const auto path = smile::test::tiny_pretrained(s, 33, "fidelity");
    for (const auto policy : {smile::teacher_policy::ema, smile::teacher_policy::copy, smile::teacher_policy::fixed,
                              smile::teacher_policy::latest}) {
        for (const auto head : {smile::teacher_head::frozen_pretrained, smile::teacher_head::from_student}) {
            CAPTURE(int(policy));
            CAPTURE(int(head));
            smile::rng gen(14);
            auto c = base_config("smile");
            c.smile.teacher = {policy, 0.9, 2, head};
            auto m = smile::make_method<D>(s, gen, tiny_arch(), 3, path, c);
            auto& teacher = dynamic_cast<smile::smile_method<D>&>(*m).teacher().model();
            tiny_run run;
            const auto pretrained_buffers = snapshot(teacher, true);
            for (std::int64_t k = 0; k < 5; ++k) {
                const auto student = snapshot(m->model(), false), student_buffers = snapshot(m->model(), true);
                const auto before = snapshot(teacher, false);
                m->step(*run.batches.next(), k);
                const bool due = policy == smile::teacher_policy::latest ||
                                 ((policy == smile::teacher_policy::copy || policy == smile::teacher_policy::ema) && k % 2 == 0);
                for (const auto& [name, now] : snapshot(teacher, false)) {
                    const bool is_head = name.rfind("fc.", 0) == 0;
                    const bool follows = due && (!is_head || head == smile::teacher_head::from_student);
                    const auto& source = student.at(is_head ? "source_fc." + name.substr(3) : name);
                    for (std::size_t i = 0; i < now.size(); i += 5) {
                        double expected = before.at(name)[i];
                        if (follows) expected = policy == smile::teacher_policy::ema ? 0.9 * expected + 0.1 * source[i] : source[i];
                        INFO(name, " at k = ", k);
                        CHECK(now[i] == doctest::Approx(expected).epsilon(1e-6));
                    }
                }
                // BN statistics: the copy policies copy them, ema and fixed keep the pretrained ones.
                const bool copies = due && policy != smile::teacher_policy::ema;
                for (const auto& [name, now] : snapshot(teacher, true)) {
                    if (name.rfind("fc.", 0) == 0) continue;
                    INFO(name, " at k = ", k);
                    if (copies) {
                        CHECK(now == student_buffers.at(name));
                    } else if (policy == smile::teacher_policy::ema || policy == smile::teacher_policy::fixed) {
                        CHECK(now == pretrained_buffers.at(name));
                    }
                }
            }
        }
    }
}

TEST_CASE("mixup: λ folded to max(λ, 1 − λ) by default, raw without folding, and method_config.mixup reaches every mixing method") {
    smile::rng a(3), b(3);
    int below_half = 0;
    for (int i = 0; i < 200; ++i) {
        const double raw = a.beta(0.2, 0.2);
        (void)a.permutation(4);
        below_half += raw < 0.5;
        const auto folded = smile::sample_mixup(b, {0.2, true}, 4);
        CHECK(folded.lambda == std::max(raw, 1 - raw));
    }
    CHECK(below_half > 20);  // folding had something to do
    smile::rng c1(4), c2(4);
    CHECK(smile::sample_mixup(c1, {0.2, false}, 4).lambda == c2.beta(0.2, 0.2));

    // Through the registry: α = 0.7 without folding, as SMILE, D-SMILE + KD, D-SMILE + RIFLE and
    // mixup draw it (a method that ignored the configuration would draw Beta(0.2, 0.2) folded).
    smile::session<D> s;
    const auto path = smile::test::tiny_pretrained(s, 34, "fidelity");
    for (const std::string name : {"smile", "dsmile-kd", "dsmile-rifle", "mixup"}) {
        CAPTURE(name);
        smile::rng gen(15);
        auto c = base_config(name);
        c.mixup = {0.7, false};
        auto m = smile::make_method<D>(s, gen, tiny_arch(), 3, path, c);
        tiny_run run;
        run.prepare(*m);
        bool saw_unfolded = false;
        for (std::int64_t k = 0; k < 6; ++k) {
            smile::rng replay = gen;
            const double expected = replay.beta(0.7, 0.7);
            const smile::step_report r = m->step(*run.batches.next(), k);
            const double lambda = r.term("lambda");
            CHECK(lambda == expected);
            saw_unfolded |= lambda < 0.5;
        }
        CHECK(saw_unfolded);
    }
}

TEST_CASE("cutmix: the box, its clipping, the area-corrected λ, the pasted pixels, the batch probability") {
    const std::int64_t height = 10, width = 7, n = 4;
    int clipped = 0;
    for (std::uint64_t seed = 0; seed < 300; ++seed) {
        smile::rng a(seed), b(seed);
        // The reference code's draws: λ ~ Beta(β, β), the permutation, the centre.
        const double lambda = a.beta(1.0, 1.0);
        const auto perm = a.permutation(n);
        const std::int64_t cx = a.integer(0, width - 1), cy = a.integer(0, height - 1);
        const auto cut_w = std::int64_t(double(width) * std::sqrt(1 - lambda)), cut_h = std::int64_t(double(height) * std::sqrt(1 - lambda));
        const auto p = smile::sample_cutmix(b, 1.0, n, height, width);
        CHECK(p.mix.perm == perm);
        const std::int64_t x1 = std::max<std::int64_t>(cx - cut_w / 2, 0), x2 = std::min<std::int64_t>(cx + cut_w / 2, width);
        const std::int64_t y1 = std::max<std::int64_t>(cy - cut_h / 2, 0), y2 = std::min<std::int64_t>(cy + cut_h / 2, height);
        CHECK(p.box.left == x1);
        CHECK(p.box.top == y1);
        CHECK(p.box.width == x2 - x1);
        CHECK(p.box.height == y2 - y1);
        CHECK(p.mix.lambda == doctest::Approx(1.0 - double((x2 - x1) * (y2 - y1)) / double(width * height)));
        const bool was_clipped = cx - cut_w / 2 < 0 || cy - cut_h / 2 < 0 || cx + cut_w / 2 > width || cy + cut_h / 2 > height;
        clipped += was_clipped;
        CHECK(p.mix.lambda >= lambda - 1e-9 - double(2 * (height + width)) / double(height * width));  // int() rounds the box down
    }
    CHECK(clipped > 30);  // the clipping was exercised

    smile::session<D> s;
    smile::rng data(6);
    const smile::shape4 shape{3, 2, 6, 5};
    const auto values = smile::test::uniform_values(data, shape.size());
    const auto x = tensor<D>::from_host(s, shape, values);
    smile::cutmix_plan plan;
    plan.mix = {0.8, {2, 0, 1}};
    plan.box = {1, 2, 3, 2};  // top, left, height, width
    tensor<D> out;
    smile::apply_cutmix(s, plan, x, out);
    const auto got = out.to_host();
    for (std::int64_t i = 0; i < 3; ++i)
        for (std::int64_t ch = 0; ch < 2; ++ch)
            for (std::int64_t y = 0; y < 6; ++y)
                for (std::int64_t xx = 0; xx < 5; ++xx) {
                    const bool inside = y >= 1 && y < 4 && xx >= 2 && xx < 4;
                    const std::int64_t from = inside ? plan.mix.perm[std::size_t(i)] : i;
                    CHECK(got[std::size_t(((i * 2 + ch) * 6 + y) * 5 + xx)] == values[std::size_t(((from * 2 + ch) * 6 + y) * 5 + xx)]);
                }

    const auto path = smile::test::tiny_pretrained(s, 35, "fidelity");
    smile::rng gen(16);
    auto c = base_config("cutmix", 200);
    c.cutmix_prob = 0.3;
    auto m = smile::make_method<D>(s, gen, tiny_arch(), 3, path, c);
    tiny_run run;
    int mixed = 0;
    for (std::int64_t k = 0; k < 200; ++k) mixed += m->step(*run.batches.next(), k).term("cutmix") == 1.0;
    CHECK(mixed >= 200 * 0.3 - 3 * std::sqrt(200 * 0.3 * 0.7));
    CHECK(mixed <= 200 * 0.3 + 3 * std::sqrt(200 * 0.3 * 0.7));
}

TEST_CASE("delta: a step's Ω equals the attention-weighted feature distance computed by hand") {
    smile::session<D> s;
    const auto path = smile::test::tiny_pretrained(s, 36, "fidelity");
    smile::rng gen(17);
    auto c = base_config("delta");
    c.delta.alpha = 0.3;
    auto m = smile::make_method<D>(s, gen, tiny_arch(), 3, path, c);
    auto& delta = dynamic_cast<smile::delta_method<D>&>(*m);
    tiny_run run;
    run.prepare(*m);
    m->step(*run.batches.next(), 0);
    const smile::data::host_batch& batch = *run.batches.next();
    const auto x = upload(s, batch);
    m->model().forward(s, x, smile::mode::train);
    const auto student = m->model().feature_map().to_host();
    const auto sh = m->model().feature_map().shape();
    delta.source().forward(s, x, smile::mode::eval);
    const auto source = delta.source().feature_map().to_host();
    const auto w = delta.attention().at(0);
    REQUIRE(std::int64_t(w.size()) == sh.c);
    double omega = 0;
    for (std::int64_t b = 0; b < sh.n; ++b)
        for (std::int64_t k = 0; k < sh.c; ++k)
            for (std::int64_t i = 0; i < sh.h * sh.w; ++i) {
                const std::size_t at = std::size_t((b * sh.c + k) * sh.h * sh.w + i);
                omega += double(w[std::size_t(k)]) * (student[at] - source[at]) * (student[at] - source[at]);
            }
    omega /= double(sh.h * sh.w);
    const auto r = m->step(batch, 1);
    CHECK(r.term("delta") == doctest::Approx(0.3 * omega).epsilon(1e-4));
}

TEST_CASE("delta: the attention uses the training transform and the configured seed, co-tuning the evaluation transform") {
    smile::session<D> s;
    const auto path = smile::test::tiny_pretrained(s, 37, "fidelity");
    auto d = smile::test::tiny_target();
    smile::data::pipeline rgb;  // 3 channels: the 1-channel network cannot take it
    rgb.resize(8, 8).normalize({{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}});
    auto attention = [&](std::uint64_t run_seed, std::optional<std::uint64_t> seed) {
        smile::rng gen(run_seed);
        auto c = base_config("delta");
        c.delta.attention.seed = seed;
        auto m = smile::make_method<D>(s, gen, tiny_arch(), 3, path, c);
        m->prepare(d, d->train, {smile::test::tiny_pipeline(), rgb, 0});  // a 3-channel eval transform would fail
        return dynamic_cast<smile::delta_method<D>&>(*m).attention();
    };
    // The configuration's seed is used, not overwritten (the new head's initialisation still
    // comes from the run's generator), and without one the seed is drawn from the run.
    CHECK(attention(1, 99) == attention(1, 99));
    CHECK(attention(1, 99) != attention(1, 98));
    CHECK(attention(1, std::nullopt) != attention(2, std::nullopt));
    smile::rng gen(3);
    auto c = base_config("cotuning");
    auto m = smile::make_method<D>(s, gen, tiny_arch(), 3, path, c);
    CHECK_THROWS_AS(m->prepare(d, d->train, {smile::test::tiny_pipeline(), rgb, 0}), smile::error);  // uses the eval transform...
    m->prepare(d, d->train, {smile::test::tiny_pipeline(), smile::test::tiny_pipeline(), 0});         // ...and works with it
}

TEST_CASE("delta: the attention's batches are a shuffled draw, not the first classes of a class-ordered list") {
    auto d = smile::test::tiny_target();
    std::vector<smile::data::sample> ordered = d->train;
    std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.label < b.label; });
    auto l = smile::attention_batches(d, ordered, smile::test::tiny_pipeline(), 12, 0, 5);
    const auto* b = l.next();
    REQUIRE(b != nullptr);
    std::set<std::int64_t> labels(b->labels.begin(), b->labels.end());
    CHECK(labels.size() >= 2);
    auto again = smile::attention_batches(d, ordered, smile::test::tiny_pipeline(), 12, 0, 5);
    CHECK(again.next()->labels == b->labels);  // reproducible from the seed
}

TEST_CASE("co-tuning: TLlib's learning-rate groups stay under --head-lr-mult, and the reverse marginal counts every image") {
    smile::session<D> s;
    const auto path = smile::test::tiny_pretrained(s, 38, "fidelity");
    smile::rng gen(18);
    auto c = base_config("cotuning");
    c.rules.push_back({"fc.*", 10.0f, 1.0f});
    auto m = smile::make_method<D>(s, gen, tiny_arch(), 3, path, c);
    CHECK(smile::find_parameter<D>(m->model(), "conv1.weight").lr_mult == doctest::Approx(0.1f));
    CHECK(m->model().source_head().weight().lr_mult == doctest::Approx(0.1f));
    CHECK(m->model().head().weight().lr_mult == doctest::Approx(10.0f));

    Eigen::MatrixXd fit(2, 2), val(3, 2);
    fit << 1.0, 0.0, 1.0, 0.0;
    val << 0.0, 1.0, 0.0, 1.0, 0.5, 0.5;
    const Eigen::VectorXd marginal = smile::source_marginal(fit, val);
    CHECK(marginal(0) == doctest::Approx(2.5 / 5));
    CHECK(marginal(1) == doctest::Approx(2.5 / 5));
}

TEST_CASE("every method and SMILE switch runs a few steps with finite, present terms") {
    smile::session<D> s;
    const auto path = smile::test::tiny_pretrained(s, 39, "fidelity");
    struct variant {
        std::string name;
        std::function<void(smile::method_config&)> set;
        std::vector<std::string> terms;
    };
    std::vector<variant> variants;
    for (const auto& n : smile::method_names()) variants.push_back({n, [](smile::method_config&) {}, {}});
    variants.push_back({"smile", [](smile::method_config& c) { c.smile.include_clean_ce = true; }, {"clean_ce"}});
    variants.push_back({"smile", [](smile::method_config& c) { c.smile.fe_on_pooled = true; }, {"fe"}});
    variants.push_back({"smile", [](smile::method_config& c) { c.smile.fc = smile::fc_loss::squared_l2; }, {"fc"}});
    variants.push_back({"smile", [](smile::method_config& c) { c.smile.teacher.head = smile::teacher_head::from_student; }, {"fc"}});
    variants.push_back({"smile-m-fc", [](smile::method_config&) {}, {"fc"}});
    variants.push_back({"dsmile-kd", [](smile::method_config&) {}, {"delta", "lambda"}});
    for (const auto& v : variants) {
        CAPTURE(v.name);
        smile::rng gen(19);
        auto c = base_config(v.name, 4);
        v.set(c);
        auto m = smile::make_method<D>(s, gen, tiny_arch(), 3, path, c);
        tiny_run run;
        run.prepare(*m);
        for (std::int64_t k = 0; k < 4; ++k) {
            const auto r = m->step(*run.batches.next(), k);
            CHECK(std::isfinite(r.loss));
            for (const auto& [term, value] : r.terms) CHECK(std::isfinite(value));
            for (const auto& t : v.terms) CHECK(std::isfinite(r.term(t)));
            if (v.name == "smile-m-fc") CHECK(r.term("fe") == 0.0);
        }
    }
    // clean_tail: the last K iterations are plain cross-entropy.
    smile::rng gen(20);
    auto c = base_config("smile", 4);
    c.smile.clean_tail = 2;
    auto m = smile::make_method<D>(s, gen, tiny_arch(), 3, path, c);
    tiny_run run;
    for (std::int64_t k = 0; k < 4; ++k) {
        const auto r = m->step(*run.batches.next(), k);
        CHECK((r.term("mxp") == 0.0) == (k >= 2));
        if (k >= 2) CHECK(r.term("ce") > 0.0);
    }
}
