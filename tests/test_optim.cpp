// The optimizer seam: SGD, Adam and AdamW against torch.optim (fixtures made by
// tests/fixtures/make_optimizer_fixtures.py), rules and skipping; learning-rate schedules.
#include <doctest/doctest.h>
#include <fnmatch.h>

#include <map>
#include <smile/factory_instances.hpp>
#include <smile/io/safetensors.hpp>
#include <smile/models/architecture.hpp>
#include <smile/optim/clip_grad_norm.hpp>
#include <smile/optim/lr_schedule.hpp>
#include <smile/optim/make_optimizer.hpp>

#include "backends.hpp"
#include "compare.hpp"

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
    CHECK_THROWS_WITH_AS(smile::parse_schedule("noam"),
                         doctest::Contains("unknown learning-rate schedule 'noam'"), smile::error);
}

TEST_CASE(
    "lr schedules: linear warm-up then linear decay, as transformers' "
    "get_linear_schedule_with_warmup") {
    smile::lr_schedule s{smile::schedule_kind::linear, 2e-5f, 100, 0.1f, {}, 10};
    CHECK(s.at(0) == 0.0f);  // transformers' first step has learning rate 0
    CHECK(s.at(5) == doctest::Approx(1e-5));
    CHECK(s.at(10) == doctest::Approx(2e-5));
    CHECK(s.at(55) == doctest::Approx(1e-5));  // (100 − 55)/90 of the peak
    CHECK(s.at(100) == 0.0f);
    CHECK(s.at(120) == 0.0f);
    smile::lr_schedule none{smile::schedule_kind::linear, 1.0f, 4, 0.1f, {}, 0};
    CHECK(none.at(0) == 1.0f);
    CHECK(none.at(3) == doctest::Approx(0.25));
    CHECK(smile::parse_schedule("linear") == smile::schedule_kind::linear);
}

TEST_CASE(
    "clip_grad_norm: the global norm over fresh gradients, scaled down to max_norm, as PyTorch") {
    smile::session<B> s;
    smile::parameter<B> a(s, smile::matrix_shape(1, 2), 2), b(s, smile::vector_shape(1), 1),
        stale(s, smile::vector_shape(1), 1);
    a.grad_for_write().copy_from_host(std::vector<float>{3, 0});
    b.grad_for_write().copy_from_host(std::vector<float>{-4});
    stale.grad_for_write().copy_from_host(std::vector<float>{100});
    stale.consume_grad();  // no fresh gradient: neither counted nor scaled
    const std::vector<std::pair<std::string, smile::parameter<B>*>> params{
        {"a", &a}, {"b", &b}, {"stale", &stale}};
    CHECK(smile::clip_grad_norm(s, params, 10.0) ==
          doctest::Approx(5.0));  // below the limit: untouched
    CHECK(a.grad.to_host() == std::vector<float>{3, 0});
    CHECK(smile::clip_grad_norm(s, params, 1.0) == doctest::Approx(5.0));
    const float c = static_cast<float>(1.0 / (5.0 + 1e-6));
    CHECK(a.grad.to_host()[0] == doctest::Approx(3 * c));
    CHECK(b.grad.to_host()[0] == doctest::Approx(-4 * c));
    CHECK(stale.grad.to_host()[0] == 100.0f);
    b.grad_for_write().copy_from_host(std::vector<float>{NAN});
    CHECK_THROWS_WITH_AS(smile::clip_grad_norm(s, params, 1.0),
                         doctest::Contains("gradient norm is not finite"), smile::error);
    // BERT's groups: no decay on biases and LayerNorm weights, decay elsewhere.
    const auto rules = smile::transformer_no_decay_rules();
    auto decays = [&](const char* name) {
        float wd = 1.0f;
        for (const auto& r : rules)
            if (::fnmatch(r.pattern.c_str(), name, 0) == 0) wd = r.wd_mult;
        return wd;
    };
    CHECK(decays("bert.encoder.layer.0.attention.self.query.bias") == 0.0f);
    CHECK(decays("bert.encoder.layer.3.output.LayerNorm.weight") == 0.0f);
    CHECK(decays("bert.embeddings.LayerNorm.bias") == 0.0f);
    CHECK(decays("bert.encoder.layer.0.attention.self.query.weight") == 1.0f);
    CHECK(decays("bert.embeddings.word_embeddings.weight") == 1.0f);
    CHECK(decays("fc.weight") == 1.0f);
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
    CHECK(smile::find_parameter<B>(model, "conv1.weight").lr_mult == doctest::Approx(0.1f));
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

namespace {

/// Runs `opt` over the fixture's five steps (per-name rules as the fixture's parameter groups,
/// "b.bias" without a gradient on step 3) and compares parameters, state and step counts
/// with what torch.optim computed, case `name`.
void check_against_torch(smile::optimizer<B>& opt, const std::string& name,
                         const std::map<std::string, std::string>& state_names) {
    smile::io::safetensors_reader f(std::string(SMILE_TEST_FIXTURES) + "/optimizer_parity.safetensors");
    smile::session<B> s;
    const std::vector<std::pair<std::string, smile::shape4>> shapes{
        {"a", {3, 4, 1, 1}}, {"b.weight", {5, 2, 3, 3}}, {"b.bias", {5, 1, 1, 1}}};
    std::vector<smile::parameter<B>> params;
    params.reserve(shapes.size());
    std::vector<std::pair<std::string, smile::parameter<B>*>> named;
    for (const auto& [n, sh] : shapes) {
        params.emplace_back(s.context(), sh);
        params.back().value.copy_from_host(f.read_floats("init." + n));
        named.emplace_back(n, &params.back());
    }
    opt.add_rule({"b.*", 0.1f, 1.0f});
    opt.add_rule({"b.bias", 0.1f, 0.0f});
    opt.attach_parameters(named);
    for (int k = 0; k < 5; ++k) {
        for (std::size_t i = 0; i < shapes.size(); ++i)
            if (!(shapes[i].first == "b.bias" && k == 3))
                params[i].grad_for_write().copy_from_host(f.read_floats("grad." + std::to_string(k) + "." + shapes[i].first));
        CHECK(opt.step(s, 0.01f) == (k == 3 ? 2U : 3U));
    }
    for (std::size_t i = 0; i < shapes.size(); ++i) {
        const std::string& n = shapes[i].first;
        CAPTURE(n);
        CHECK(smile::test::relative_error(params[i].value.to_host(), f.read_floats(name + ".param." + n)) < 2e-6);
    }
    std::size_t compared = 0;
    opt.visit_state([&](const std::string& key, smile::tensor<B>& t) {
        const auto dot = key.find('.');
        const std::string torch_key = name + "." + state_names.at(key.substr(0, dot)) + key.substr(dot);
        CAPTURE(torch_key);
        CHECK(smile::test::relative_error(t.to_host(), f.read_floats(torch_key)) < 2e-6);
        ++compared;
    });
    CHECK(compared == shapes.size() * state_names.size());
    const auto meta = opt.state_metadata();
    CHECK(meta.at("kind") == opt.name());
    for (const auto& [n, sh] : shapes)
        if (f.contains(name + ".step." + n))
            CHECK(meta.at("step." + n) == std::to_string(std::int64_t(f.read_floats(name + ".step." + n).at(0))));
    CHECK(meta.at("step.b.bias") == "4");  // skipped once: its bias correction runs one step behind
}

}  // namespace

TEST_CASE("optimizers: Adam, AdamW and SGD equal torch.optim over five steps with groups and a skipped step") {
    SUBCASE("adam, L2 weight decay") {
        smile::adam<B> opt({0.9, 0.999, 1e-8, 0.05, false});
        check_against_torch(opt, "adam", {{"exp_avg", "exp_avg"}, {"exp_avg_sq", "exp_avg_sq"}});
    }
    SUBCASE("adam, other betas and epsilon, no decay") {
        smile::adam<B> opt({0.8, 0.99, 1e-6, 0.0, false});
        check_against_torch(opt, "adam_nodecay", {{"exp_avg", "exp_avg"}, {"exp_avg_sq", "exp_avg_sq"}});
    }
    SUBCASE("adamw, decoupled weight decay") {
        smile::adam<B> opt({0.9, 0.999, 1e-8, 0.1, true});
        check_against_torch(opt, "adamw", {{"exp_avg", "exp_avg"}, {"exp_avg_sq", "exp_avg_sq"}});
    }
    SUBCASE("sgd, Nesterov momentum and weight decay") {
        smile::sgd<B> opt({0.9f, 0.0f, 0.05f, true});
        check_against_torch(opt, "sgd", {{"momentum", "momentum_buffer"}});
    }
}

TEST_CASE("optimizers: chosen by name, invalid settings refused with the setting named") {
    CHECK(smile::parse_optimizer("adamw") == smile::optimizer_kind::adamw);
    CHECK_THROWS_WITH_AS((void)smile::parse_optimizer("lamb"), doctest::Contains("unknown optimizer 'lamb'"), smile::error);
    CHECK(smile::make_optimizer<B>(smile::optimizer_options::make_adam({0.9f, 0.999f, 1e-8f, 0.0f, true}))->name() ==
          "adamw");
    CHECK(smile::make_optimizer<B>(smile::sgd_options{})->name() == "sgd");
    CHECK_THROWS_WITH_AS(smile::adam<B>({1.0f, 0.999f, 1e-8f, 0.0f, false}), doctest::Contains("beta1 and beta2"),
                         smile::error);
    CHECK_THROWS_WITH_AS(smile::adam<B>({0.9f, 0.999f, 0.0f, 0.0f, false}), doctest::Contains("epsilon must be positive"),
                         smile::error);
}
