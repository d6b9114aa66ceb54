// SGD rules and skipping, and learning-rate schedules.
#include <doctest/doctest.h>

#include <smile/models/classifier.hpp>
#include <smile/optim/lr_schedule.hpp>
#include <smile/optim/sgd.hpp>

#include "backends.hpp"

using B = smile::default_backend;

TEST_CASE("lr schedules: step at two thirds, multistep, cosine, constant") {
    smile::lr_schedule step{smile::schedule_kind::step, 0.01f, 9000, 0.1f, {}};
    CHECK(step.at(0) == 0.01f);
    CHECK(step.at(5999) == 0.01f);
    CHECK(step.at(6000) == doctest::Approx(0.001f));
    CHECK(step.at(8999) == doctest::Approx(0.001f));
    smile::lr_schedule odd{smile::schedule_kind::step, 1.0f, 10, 0.1f, {}};
    CHECK(odd.at(6) == 1.0f);  // 6 < 20/3
    CHECK(odd.at(7) == doctest::Approx(0.1f));
    smile::lr_schedule multi{smile::schedule_kind::multistep, 1.0f, 100, 0.5f, {10, 20}};
    CHECK(multi.at(9) == 1.0f);
    CHECK(multi.at(10) == 0.5f);
    CHECK(multi.at(25) == 0.25f);
    smile::lr_schedule cosine{smile::schedule_kind::cosine, 2.0f, 100, 0.1f, {}};
    CHECK(cosine.at(0) == doctest::Approx(2.0));
    CHECK(cosine.at(50) == doctest::Approx(1.0));
    CHECK(cosine.at(100) == doctest::Approx(0.0));
    CHECK(smile::lr_schedule{smile::schedule_kind::constant, 0.3f, 5, 0.1f, {}}.at(4) == 0.3f);
    CHECK_THROWS_WITH_AS(smile::parse_schedule("linear"), doctest::Contains("unknown learning-rate schedule 'linear'"),
                         smile::error);
}

TEST_CASE("sgd: rules set multipliers by name, parameters without fresh gradients are left alone") {
    smile::session<B> s;
    smile::rng gen(1);
    auto model = smile::make_classifier<B>(s, gen, smile::cifar_resnet(8), {3, 5});
    smile::sgd<B> opt({0.0f, 0.0f, 0.1f, false});
    opt.add_rule({"*", 0.1f, 1.0f});
    opt.add_rule({"fc.*", 1.0f, 1.0f});
    opt.add_rule({"*.bias", 1.0f, 0.0f});
    opt.attach(model);
    CHECK(model.head().weight().lr_mult == 1.0f);
    CHECK(model.backbone().stem_conv().weight().lr_mult == doctest::Approx(0.1f));
    CHECK(model.head().bias().wd_mult == 0.0f);

    // Only the target head gets a gradient: the source head must not move, not even by decay.
    auto x = smile::tensor<B>::filled(s, {4, 3, 8, 8}, 0.5f);
    model.forward(s, x, smile::mode::train);
    auto d = smile::tensor<B>::filled(s, {4, 3, 1, 1}, 0.1f);
    const auto source_before = model.source_head().weight().value.to_host();
    const auto head_before = model.head().weight().value.to_host();
    model.backward(s, &d, nullptr);
    const std::size_t updated = opt.step(s, 1.0f);
    CHECK(updated == smile::parameters_of<B>(model).size() - 2);
    CHECK(model.source_head().weight().value.to_host() == source_before);
    CHECK(model.head().weight().value.to_host() != head_before);
    CHECK(opt.step(s, 1.0f) == 0);  // no new backward: nothing to apply

    // The head's update is exactly w − lr·(g + wd·w) (no momentum).
    model.forward(s, x, smile::mode::train);
    model.backward(s, &d, nullptr);
    const auto w = model.head().weight().value.to_host();
    const auto g = model.head().weight().grad.to_host();
    opt.step(s, 0.5f);
    const auto after = model.head().weight().value.to_host();
    for (std::size_t i = 0; i < w.size(); ++i) CHECK(after[i] == doctest::Approx(w[i] - 0.5f * (g[i] + 0.1f * w[i])));
    CHECK_THROWS_AS(smile::sgd<B>({0.0f, 0.0f, 0.0f, true}), smile::error);
}
