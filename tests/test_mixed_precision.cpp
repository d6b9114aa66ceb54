// Mixed precision (bf16) end to end, on the tiny transfer setting of the method tests: a training
// run at bf16 tracks the float32 run; every method trains with a bf16 student and teacher;
// precisions are recorded and refused where they would do nothing or cannot run. (Each bf16
// operation against the reference: test_backend_ops.cpp; resume at bf16: test_cli.cpp.)
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <smile/factory_instances.hpp>
#include <smile/methods/registry.hpp>

#include "backends.hpp"
#include "bf16_support.hpp"
#include "tiny_models.hpp"

using D = smile::default_backend;
using smile::precision;
using smile::precision_policy;

namespace {

std::string setting(const smile::method<D>& m, const std::string& key) {
    for (const auto& [k, v] : m.describe())
        if (k == key) return v;
    return "(absent)";
}

/// The losses of `steps` training steps of method `name` at `p`, from the same start and batches.
std::vector<double> run_losses(const std::string& name, precision_policy p, std::int64_t steps) {
    smile::session<D> s;
    const auto pretrained = smile::test::tiny_pretrained(s, 31, "mixed_precision");
    const auto data = smile::test::tiny_target();
    smile::method_config c;
    c.name = name;
    c.schedule = {smile::schedule_kind::constant, 0.01f, steps, 0.1f, {}};
    c.precision = p;
    smile::rng gen(7);
    auto m = smile::make_method<D>(s, gen, smile::test::tiny_arch(), 3, pretrained, c);
    smile::data::loader batches(data, data->train, smile::test::tiny_pipeline(),
                                {12, true, true, true, 0, 2, 3, false, 0});
    std::vector<double> losses;
    for (std::int64_t k = 0; k < steps; ++k) losses.push_back(m->step(*batches.next(), k).loss);
    return losses;
}

}  // namespace

TEST_CASE("bf16: a fine-tuning run and a SMILE run track their float32 runs step by step") {
    if (smile::test::bf16_unavailable<D>()) return;
    for (const std::string name : {"finetune", "smile"}) {
        CAPTURE(name);
        const std::int64_t steps = 40;
        const auto f32 = run_losses(name, {precision::f32, precision::f32}, steps);
        const auto bf16 = run_losses(name, {precision::bf16, precision::bf16}, steps);
        // Relative to the step's loss, floored at a tenth of the first loss (a loss near 0 would
        // turn a tiny absolute difference into a large relative one).
        double worst = 0.0;
        for (std::size_t k = 0; k < f32.size(); ++k) {
            REQUIRE(std::isfinite(bf16[k]));
            worst = std::max(worst, std::abs(bf16[k] - f32[k]) / std::max(f32[k], 0.1 * f32[0]));
        }
        INFO("losses f32 ", f32.front(), " -> ", f32.back(), ", bf16 ", bf16.front(), " -> ",
             bf16.back(), "; largest relative difference per step ", worst);
        MESSAGE(name, ": largest relative loss difference over ", steps, " steps ", worst);
        CHECK(worst > 1e-6);  // bf16 did take effect
        CHECK(worst < 0.05);  // and stays within 5 % of the float32 run at every step
        CHECK(bf16.back() < 0.8 * bf16.front());
    }
}

TEST_CASE(
    "bf16: every method trains with a bf16 student and teacher, settings record both, refusals "
    "name the method") {
    if (smile::test::bf16_unavailable<D>()) return;
    smile::session<D> s;
    const auto pretrained = smile::test::tiny_pretrained(s, 32, "mixed_precision_methods");
    const auto data = smile::test::tiny_target();
    const auto pipeline = smile::test::tiny_pipeline();
    auto make = [&](const std::string& name, precision_policy p, smile::rng& gen) {
        smile::method_config c;
        c.name = name;
        c.schedule = {smile::schedule_kind::constant, 0.01f, 3, 0.1f, {}};
        c.delta.attention.head_iterations = 2;
        c.delta.attention.batches = 1;
        c.delta.attention.batch_size = 12;
        c.precision = p;
        return smile::make_method<D>(s, gen, smile::test::tiny_arch(), 3, pretrained, c);
    };
    const std::vector<std::string> with_teacher{
        "smile", "smile-m-fe", "smile-m-fc", "smile-no-s-teacher", "smile-no-t-teacher",
        "delta", "dsmile-kd"};
    for (const auto& name : smile::method_names()) {
        CAPTURE(name);
        smile::rng gen(7);
        auto m = make(name, {precision::bf16, precision::bf16}, gen);
        const bool teacher =
            std::find(with_teacher.begin(), with_teacher.end(), name) != with_teacher.end();
        CHECK(m->has_teacher() == teacher);
        CHECK(m->model().compute_precision() == precision::bf16);
        CHECK(setting(*m, "precision") == "bf16");
        CHECK(setting(*m, "teacher_precision") == (teacher ? "bf16" : "(absent)"));
        m->prepare(data, data->train, {pipeline, pipeline, 0});
        smile::data::loader batches(data, data->train, pipeline,
                                    {12, true, true, true, 0, 2, 3, false, 0});
        for (std::int64_t k = 0; k < 3; ++k) {
            const auto r = m->step(*batches.next(), k);
            REQUIRE(std::isfinite(r.loss));
            for (const auto& [term, value] : r.terms) CHECK(std::isfinite(value));
        }
        // A teacher precision apart from the student's: taken by methods with a teacher,
        // refused by the others (it would change nothing).
        smile::rng gen2(7);
        if (teacher) {
            auto mixed = make(name, {precision::bf16, precision::f32}, gen2);
            CHECK(setting(*mixed, "precision") == "bf16");
            CHECK(setting(*mixed, "teacher_precision") == "f32");
        } else {
            const std::string refusal =
                name + ": has no teacher or source network, so a teacher precision (bf16)";
            CHECK_THROWS_WITH_AS(make(name, {precision::f32, precision::bf16}, gen2),
                                 doctest::Contains(refusal.c_str()), smile::error);
        }
    }
}
