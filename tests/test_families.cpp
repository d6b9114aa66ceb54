// Model families beyond the ResNets, through the backbone seam: MobileNetV2's units and blocks
// against the reference backend and finite differences, the whole network against torchvision
// (PyTorch 1.13, float64 reference: tests/fixtures/make_family_fixtures.py), the factory by
// name, and every method on a MobileNetV2.
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <smile/factory_instances.hpp>
#include <smile/io/weights.hpp>
#include <smile/layers/inverted_residual.hpp>
#include <smile/layers/mbconv.hpp>
#include <smile/methods/registry.hpp>
#include <smile/models/architecture.hpp>

#include "backends.hpp"
#include "compare.hpp"
#include "fixture_pass.hpp"
#include "formula_weights.hpp"
#include "gradcheck.hpp"
#include "layer_compare.hpp"
#include "tiny_models.hpp"

using smile::shape4;
using smile::test::device;
using D = smile::default_backend;

namespace {

/// Directional finite differences; `epsilon` 1e-2 for smooth layers (SiLU, sigmoid), where
/// float32 rounding at 1e-3 drowns small gradients (a gate's weights), 1e-3 where kinks are near.
template <class B, class L>
void check_fd(L& layer, smile::session<B>& s, const shape4& xs, double tolerance, double epsilon = 1e-3) {
    smile::rng data(3);
    for (const auto& r : smile::test::gradcheck_directional(s, layer, xs, smile::test::uniform_values(data, xs.size()), 48,
                                                            {epsilon, 0, 9, 2e-3})) {
        INFO("d/d", r.what, ": relative error ", r.relative_error, " over ", r.probes, " probes, ", r.nonsmooth,
             " non-smooth");
        CHECK(smile::test::passed_with(r, tolerance, 3));
    }
}

/// γ ~ U(0.5, 1.5), β ~ U(−0.5, 0.5) for every BN (and any bias): with PyTorch's γ = 1, β = 0 an
/// expansion BN's γ has no gradient at all (the depthwise convolution after it is per channel and
/// its BN undoes any per-channel scale), and the test would compare noise.
template <class B, class L>
L with_random_affine(L layer, smile::rng& g) {
    layer.visit_parameters("", [&](const std::string& n, smile::parameter<B>& p) {
        if (p.shape().c != 1 || p.shape().h != 1 || p.shape().w != 1) return;  // vectors [c, 1, 1, 1] only
        const bool scale = n.size() > 7 && n.compare(n.size() - 7, 7, ".weight") == 0;
        p.value.copy_from_host(smile::test::uniform_values(g, p.value.size(), scale ? 0.5 : -0.5, scale ? 1.5 : 0.5));
    });
    return layer;
}

smile::conv_bn_act_options unit_options(smile::conv2d_options c, smile::activation_kind k) {
    return {c, k, 1e-5f, 0.1f, "0", "1"};
}

// --- the torchvision fixtures (MobileNetV2, EfficientNet-B0) ----------------------------------

std::string fixture(const std::string& arch) { return std::string(SMILE_TEST_FIXTURES) + "/" + arch + "_parity.safetensors"; }

using smile::test::check_fixture_close;

std::string internal_name(const std::string& torch_name) {
    const std::string head = "classifier.1.";
    return torch_name.rfind(head, 0) == 0 ? "fc." + torch_name.substr(head.size()) : torch_name;
}

/// `arch` with the fixture's formula weights, BN momentum `bn_momentum`, no stochastic depth
/// (the reference disables its random draws).
smile::classifier<D> formula_model(smile::session<D>& s, const std::string& arch, float bn_momentum = 0.1f) {
    smile::rng gen(0);
    auto a = smile::architecture_by_name(arch);
    std::visit(
        [&](auto& c) {
            if constexpr (requires { c.bn_momentum; }) c.bn_momentum = bn_momentum;
            if constexpr (requires { c.stochastic_depth; }) c.stochastic_depth = 0.0;
        },
        a.config);
    auto model = smile::make_classifier<D>(s, gen, a, {10, 0});
    for (const auto& t : smile::state_of<D>(model))
        t.value->copy_from_host(smile::test::formula_values(smile::test::classifier1_name(t.name), smile::torch_shape(t.value->shape(), t.torch_rank)));
    return model;
}

struct family_counts {
    std::size_t parameters, full, zero_in_training;
};

/// A training pass in `m` against the fixture's `prefix.*` (support/fixture_pass.hpp), its
/// counts, and in training the running statistics after the forward. "calibrated" first sets
/// the running statistics to the batch's own with a training forward at BN momentum 1, as the
/// fixture does.
void check_pass(const std::string& arch, smile::mode m, const std::string& prefix, const family_counts& counts) {
    smile::io::safetensors_reader f(fixture(arch));
    smile::session<D> s;
    const bool calibrated = prefix == "calibrated";
    auto model = formula_model(s, arch, calibrated ? 1.0f : 0.1f);
    const auto got = smile::test::check_fixture_pass<D>(f, model, s, prefix, {2, 3, 64, 64}, m, calibrated);
    CHECK(got.probes == counts.parameters);
    CHECK(got.full == counts.full);
    if (m == smile::mode::train) {
        CHECK(got.zero == counts.zero_in_training);  // the blocks' projection BN biases
        std::map<std::string, smile::tensor<D>*> buffers;
        model.visit_buffers("", [&](const std::string& n, smile::tensor<D>& b) { buffers[n] = &b; });
        for (const auto& [name, e] : f.entries())
            if (name.rfind("train.after.", 0) == 0) check_fixture_close(f, name, buffers.at(name.substr(12))->to_host());
    } else {
        CHECK(got.zero == 0);
    }
}

/// Evaluation with the formula's running statistics, folded (mode::eval) and unfolded
/// (mode::eval_grad): what `smile predict` computes.
void check_evaluation(const std::string& arch) {
    smile::io::safetensors_reader f(fixture(arch));
    smile::session<D> s;
    auto model = formula_model(s, arch);
    auto x = smile::tensor<D>::from_host(s, {2, 3, 64, 64}, f.read_floats("input"));
    for (const auto m : {smile::mode::eval, smile::mode::eval_grad}) {
        model.forward(s, x, m);
        check_fixture_close(f, "eval.logits", model.logits().to_host());
        check_fixture_close(f, "eval.pooled", model.pooled().to_host());
    }
}

/// The state_dict names and shapes equal torchvision's (the head `fc` as `classifier.1`).
void check_names(const std::string& arch) {
    smile::io::safetensors_reader f(fixture(arch));
    const auto keys = nlohmann::json::parse(f.metadata().at("state_dict"));
    smile::session<D> s;
    auto model = formula_model(s, arch);
    std::map<std::string, std::vector<std::int64_t>> ours;
    for (const auto& t : smile::state_of<D>(model)) ours[t.name] = smile::torch_shape(t.value->shape(), t.torch_rank);
    std::size_t compared = 0;
    for (const auto& item : keys) {
        const std::string name = item[0];
        if (name.find("num_batches_tracked") != std::string::npos) continue;
        INFO(arch, ": ", name);
        REQUIRE(ours.count(internal_name(name)) == 1);
        CHECK(smile::same_torch_shape(ours[internal_name(name)], item[1].get<std::vector<std::int64_t>>()));
        ++compared;
    }
    CHECK(compared == ours.size());
    CHECK(model.head_name() == "classifier.1");
}

}  // namespace

TEST_CASE("conv_bn_act: ReLU6, SiLU and identity units equal the reference and finite differences") {
    using smile::activation_kind;
    for (const auto k : {activation_kind::relu6, activation_kind::silu, activation_kind::identity}) {
        CAPTURE(smile::activation_name(k));
        smile::test::check_layer_against_reference(
            "conv_bn_act",
            [&](auto& s, smile::rng& g) {
                using B = BACKEND_OF(s);
                return with_random_affine<B>(smile::conv_bn_act<B>(s, g, unit_options({4, 6, 3, 2, 1, 2, false}, k)), g);
            },
            {2, 4, 7, 6}, smile::test::uniform);
        smile::session<device> s;
        smile::rng g(2);
        auto unit = with_random_affine<device>(smile::conv_bn_act<device>(s, g, unit_options({3, 5, 3, 1, 1, 1, false}, k)), g);
        check_fd(unit, s, {3, 3, 5, 5}, 2e-3);
    }
}

TEST_CASE("inverted residual: every shape of MobileNetV2's block equals the reference and finite differences") {
    struct c {
        smile::inverted_residual_options o;
        shape4 x;
    };
    for (const auto& t : {c{{4, 4, 1, 6}, {2, 4, 6, 5}},    // shortcut
                          c{{4, 6, 2, 6}, {2, 4, 7, 7}},    // stride 2, no shortcut
                          c{{6, 4, 1, 1}, {2, 6, 5, 5}},    // no expansion (features.1)
                          c{{3, 3, 1, 2, 5}, {2, 3, 6, 6}}}) {  // a 5×5 depthwise kernel
        CAPTURE(t.o.in_channels);
        CAPTURE(t.o.stride);
        CAPTURE(t.o.expand_ratio);
        smile::test::check_layer_against_reference(
            "inverted_residual",
            [&](auto& s, smile::rng& g) {
                using B = BACKEND_OF(s);
                return with_random_affine<B>(smile::inverted_residual<B>(s, g, t.o), g);
            },
            t.x, smile::test::uniform);
        // Finite differences with SiLU in place of ReLU6: a ReLU6 block has so many kinks (two
        // clamps after batch-statistics BN) that most directions cross one. The block's wiring is
        // what this checks; ReLU6's own derivative is checked in the unit test above, and whole
        // ReLU6 networks against PyTorch below.
        smile::session<device> s;
        smile::rng g(4);
        auto smooth = t.o;
        smooth.activation = smile::activation_kind::silu;
        auto block = with_random_affine<device>(smile::inverted_residual<device>(s, g, smooth), g);
        check_fd(block, s, {3, t.x.c, t.x.h, t.x.w}, 2e-3);
    }
}

TEST_CASE("inverted residual: names are torchvision's, with and without the expansion") {
    smile::session<device> s;
    smile::rng g(1);
    smile::inverted_residual<device> expanded(s, g, {4, 4, 1, 6});
    std::vector<std::string> names;
    expanded.visit_parameters("features.3", [&](const std::string& n, smile::parameter<device>&) { names.push_back(n); });
    CHECK(names == std::vector<std::string>{"features.3.conv.0.0.weight", "features.3.conv.0.1.weight", "features.3.conv.0.1.bias",
                                            "features.3.conv.1.0.weight", "features.3.conv.1.1.weight", "features.3.conv.1.1.bias",
                                            "features.3.conv.2.weight", "features.3.conv.3.weight", "features.3.conv.3.bias"});
    smile::inverted_residual<device> plain(s, g, {4, 4, 1, 1});
    names.clear();
    plain.visit_buffers("features.1", [&](const std::string& n, smile::tensor<device>&) { names.push_back(n); });
    CHECK(names == std::vector<std::string>{"features.1.conv.0.1.running_mean", "features.1.conv.0.1.running_var",
                                            "features.1.conv.2.running_mean", "features.1.conv.2.running_var"});
}

TEST_CASE("squeeze-excitation and MBConv blocks equal the reference and finite differences") {
    smile::test::check_layer_against_reference(
        "squeeze_excitation",
        [&](auto& s, smile::rng& g) {
            using B = BACKEND_OF(s);
            return smile::squeeze_excitation<B>(s, g, {6, 3});
        },
        {2, 6, 5, 4}, smile::test::uniform);
    {
        smile::session<device> s;
        smile::rng g(3);
        smile::squeeze_excitation<device> se(s, g, {6, 3});
        check_fd(se, s, {3, 6, 5, 4}, 2e-3, 1e-2);
    }
    struct c {
        smile::mbconv_options o;
        shape4 x;
    };
    for (const auto& t : {c{{8, 8, 48, 3, 1}, {2, 8, 6, 5}},    // expansion, shortcut
                          c{{8, 12, 48, 5, 2}, {2, 8, 7, 7}},   // 5×5, stride 2
                          c{{8, 4, 8, 3, 1}, {2, 8, 5, 5}}}) {  // no expansion (features.1)
        CAPTURE(t.o.out_channels);
        CAPTURE(t.o.stride);
        smile::test::check_layer_against_reference(
            "mbconv",
            [&](auto& s, smile::rng& g) {
                using B = BACKEND_OF(s);
                return with_random_affine<B>(smile::mbconv<B>(s, g, t.o), g);
            },
            t.x, smile::test::uniform);
        smile::session<device> s;
        smile::rng g(4);
        auto block = with_random_affine<device>(smile::mbconv<device>(s, g, t.o), g);
        check_fd(block, s, {3, t.x.c, t.x.h, t.x.w}, 2e-3, 1e-2);
    }
}

TEST_CASE("stochastic depth: y = x + m·branch with m ∈ {0, 1/(1 − p)} per sample, drawn from the given generator") {
    smile::session<D> s;
    const smile::mbconv_options dropping{8, 8, 16, 3, 1, 0.5};
    smile::mbconv_options intact = dropping;
    intact.drop_rate = 0.0;
    smile::rng g1(5), g2(5);
    smile::mbconv<D> a(s, g1, dropping), b(s, g2, intact);  // the same weights
    smile::rng run(77);
    a.set_generator(&run);
    smile::rng data(6);
    auto x = smile::tensor<D>::from_host(s, {16, 8, 4, 4}, smile::test::uniform_values(data, 16 * 8 * 16));
    smile::tensor<D> ya, yb;
    a.forward(s, x, ya, smile::mode::train);
    b.forward(s, x, yb, smile::mode::train);
    const auto m = a.last_mask();
    REQUIRE(m.size() == 16);
    smile::rng expected(77);
    std::size_t kept = 0;
    for (std::size_t i = 0; i < 16; ++i) {
        CHECK(m[i] == (expected.bernoulli(0.5) ? 2.0f : 0.0f));  // torchvision's row mode, from our generator
        kept += m[i] > 0;
    }
    CHECK(kept > 0);
    CHECK(kept < 16);
    const auto hx = x.to_host(), ha = ya.to_host(), hb = yb.to_host();
    const std::size_t row = 8 * 16;
    double worst = 0;
    for (std::size_t i = 0; i < hx.size(); ++i)
        worst = std::max(worst, std::abs(double(ha[i]) - (hx[i] + double(m[i / row]) * (double(hb[i]) - hx[i]))));
    CHECK(worst < 1e-5);
    // Evaluation and eval_grad never drop.
    a.forward(s, x, ya, smile::mode::eval_grad);
    b.forward(s, x, yb, smile::mode::eval_grad);
    CHECK(smile::test::relative_error(ya.to_host(), yb.to_host()) < 1e-6);
    CHECK(a.last_mask().empty());
    // Without a generator, training with a rate is an error that names the block.
    smile::rng g3(5);
    smile::mbconv<D> orphan(s, g3, dropping);
    orphan.set_name("features.2.1");
    CHECK_THROWS_WITH_AS(orphan.forward(s, x, ya, smile::mode::train), doctest::Contains("features.2.1: stochastic depth (rate 0.5) needs a generator"),
                         smile::error);
}

TEST_CASE("mobilenet_v2: state_dict names and shapes equal torchvision's, the head saved as classifier.1") {
    check_names("mobilenet_v2");
    smile::session<D> s;
    auto model = formula_model(s, "mobilenet_v2");
    CHECK(model.feature_tap().name() == "features");
    CHECK(model.backbone().stage_convs() == std::vector<std::string>{"features.1.conv.1", "features.3.conv.2", "features.6.conv.2",
                                                                     "features.13.conv.2", "features.18.0"});
}

TEST_CASE("mobilenet_v2: train-mode forward, every gradient and the running statistics equal PyTorch") {
    check_pass("mobilenet_v2", smile::mode::train, "train", {158, 11, 17});
}

TEST_CASE("mobilenet_v2: evaluation forward, folded and unfolded, equals PyTorch, and so do eval-mode gradients") {
    check_evaluation("mobilenet_v2");
    check_pass("mobilenet_v2", smile::mode::eval_grad, "calibrated", {158, 11, 0});
}

TEST_CASE("efficientnet_b0: state_dict names and shapes equal torchvision's, and the SMILE map is features.7") {
    check_names("efficientnet_b0");
    smile::session<D> s;
    auto model = formula_model(s, "efficientnet_b0");
    CHECK(model.feature_tap().name() == "features.7");
    CHECK(model.feature_dim() == 1280);
    CHECK(model.backbone().output_conv() == "features.7.0.block.3.0");
    CHECK(model.backbone().stage_convs() == std::vector<std::string>{"features.1.0.block.2.0", "features.2.1.block.3.0",
                                                                     "features.3.1.block.3.0", "features.5.2.block.3.0",
                                                                     "features.7.0.block.3.0"});
}

TEST_CASE("efficientnet_b0: train-mode forward, every gradient and the running statistics equal PyTorch") {
    check_pass("efficientnet_b0", smile::mode::train, "train", {213, 10, 16});
}

TEST_CASE("efficientnet_b0: evaluation forward, folded and unfolded, and eval-mode gradients equal PyTorch") {
    check_evaluation("efficientnet_b0");
    check_pass("efficientnet_b0", smile::mode::eval_grad, "calibrated", {213, 10, 0});
}

TEST_CASE("efficientnet: B1-B4 have torchvision's widths, depths and the SMILE authors' B4 feature map") {
    smile::session<D> s;
    struct c {
        const char* arch;
        std::int64_t map, out, blocks;
    };
    for (const auto& t : {c{"efficientnet_b1", 320, 1280, 23}, c{"efficientnet_b2", 352, 1408, 23},
                          c{"efficientnet_b3", 384, 1536, 26}, c{"efficientnet_b4", 448, 1792, 32}}) {
        CAPTURE(t.arch);
        smile::rng gen(1);
        auto model = smile::make_classifier<D>(s, gen, smile::architecture_by_name(t.arch), {7, 0});
        CHECK(model.feature_dim() == t.out);
        std::int64_t blocks = 0;
        std::string last;
        model.visit_parameters("", [&](const std::string& n, smile::parameter<D>&) {
            if (n.find(".block.") != std::string::npos && n.size() > 16 && n.rfind("features.", 0) == 0) {
                const std::string block = n.substr(0, n.find(".block."));
                if (block != last) ++blocks, last = block;
            }
        });
        CHECK(blocks == t.blocks);
        CHECK(smile::find_parameter<D>(model, model.backbone().output_conv() + ".weight").shape().n == t.map);
    }
}

TEST_CASE("architectures: by name, with the family's head name, and an error that lists the names") {
    CHECK(smile::architecture_by_name("mobilenet_v2").name() == "mobilenet_v2");
    CHECK(smile::architecture_by_name("mobilenet_v2").head_name() == "classifier.1");
    CHECK(smile::architecture_by_name("resnet50").head_name() == "fc");
    CHECK(smile::architecture_by_name("resnet20").name() == "resnet20");
    CHECK_THROWS_WITH_AS((void)smile::architecture_by_name("mobilenet_v9"),
                         doctest::Contains("unknown architecture 'mobilenet_v9' (expected one of resnet18"), smile::error);
    CHECK(smile::make_divisible(32 * 0.35, 8) == 16);
    CHECK(smile::make_divisible(1280 * 1.4, 8) == 1792);
    CHECK(smile::make_divisible(24 * 0.5, 8) == 16);  // 8 would be more than 10% below 12
}

TEST_CASE("mobilenet_v2: a torchvision file loads into the student, its classifier.1 as the source head") {
    smile::session<D> s;
    auto source = formula_model(s, "mobilenet_v2");
    const auto path = std::filesystem::temp_directory_path() / "smile_families_mobilenet.safetensors";
    smile::io::save_weights<D>(source, path, {{"arch", "mobilenet_v2"}});
    {
        smile::io::safetensors_reader f(path);
        CHECK(f.contains("classifier.1.weight"));
        CHECK_FALSE(f.contains("fc.weight"));
        CHECK(smile::io::architecture_of(path) == std::optional<std::string>("mobilenet_v2"));
    }
    smile::rng gen(1);
    auto student = smile::make_student<D>(s, gen, smile::architecture_by_name("mobilenet_v2"), 4, path, true);
    CHECK(student.num_classes() == 4);
    CHECK(student.source_classes() == 10);
    CHECK(smile::find_parameter<D>(student, "source_fc.weight").value.to_host() ==
          smile::find_parameter<D>(source, "fc.weight").value.to_host());
    CHECK(smile::find_parameter<D>(student, "features.9.conv.1.0.weight").value.to_host() ==
          smile::find_parameter<D>(source, "features.9.conv.1.0.weight").value.to_host());
    std::filesystem::remove(path);
}

/// Every method for a few steps on a narrow member of `arch`'s family, from a "pretrained" file.
static void check_every_method(const smile::architecture& arch, const std::string& tag) {
    smile::session<D> s;
    const auto path = std::filesystem::temp_directory_path() / ("smile_families_methods_" + tag + ".safetensors");
    {
        smile::rng gen(11);
        auto source = smile::make_classifier<D>(s, gen, arch, {5, 0});
        smile::rng stats(12);
        source.visit_buffers("", [&](const std::string& n, smile::tensor<D>& t) {
            if (n.find("running_var") != std::string::npos) t.copy_from_host(smile::test::uniform_values(stats, t.size(), 0.5, 1.5));
        });
        smile::io::save_weights<D>(source, path);
    }
    auto data = smile::test::tiny_target();
    smile::data::pipeline pipeline;
    pipeline.gray().resize(32, 32).normalize({{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}});
    std::vector<std::string> names = smile::method_names();
    names.push_back("delta-original");
    for (const auto& name : names) {
        CAPTURE(name);
        smile::method_config c;
        c.name = name == "delta-original" ? "delta" : name;
        if (name == "delta-original") c.delta.flavour = "original";
        const bool long_run = name == "finetune" || name == "smile";
        const std::int64_t steps = long_run ? 60 : 3;
        c.schedule = {smile::schedule_kind::constant, 0.003f, steps, 0.1f, {}};
        c.delta.attention.head_iterations = 4;
        c.delta.attention.batches = 1;
        c.delta.attention.batch_size = 12;
        smile::rng gen(7);
        auto m = smile::make_method<D>(s, gen, arch, 3, path, c);
        m->prepare(data, data->train, {pipeline, pipeline, 0});
        smile::data::loader batches(data, data->train, pipeline, {12, true, true, true, 0, 2, 3, false, 0});
        const auto before = smile::find_parameter<D>(m->model(), "features.0.0.weight").value.to_host();
        CAPTURE(tag);
        // The plain cross-entropy of one fixed batch, before and after (batch statistics).
        const smile::data::host_batch probe = *batches.next();
        auto probe_x = smile::tensor<D>::from_host(
            s, {12, 1, 32, 32}, std::span<const float>(probe.images.data(), probe.images.size()));
        smile::tensor<D> targets, dlogits;
        auto probe_loss = [&] {
            m->model().forward(s, probe_x, smile::mode::train);
            return smile::cross_entropy(s, m->model().logits(), smile::one_hot(probe.labels, 3), targets, dlogits);
        };
        const double loss_before = probe_loss();
        for (std::int64_t k = 0; k < steps; ++k) {
            const auto r = m->step(*batches.next(), k);
            REQUIRE(std::isfinite(r.loss));
            for (const auto& [term, value] : r.terms) CHECK(std::isfinite(value));
        }
        CHECK(smile::find_parameter<D>(m->model(), "features.0.0.weight").value.to_host() != before);
        if (long_run) {
            const double loss_after = probe_loss();
            INFO("cross-entropy of a training batch before ", loss_before, ", after ", loss_after);
            CHECK(loss_after < 0.8 * loss_before);
        }
    }
    std::filesystem::remove(path);
}

TEST_CASE("every method trains a MobileNetV2 and an EfficientNet: finite terms, fine-tuning and SMILE lower the loss") {
    smile::mobilenet_v2_config mobilenet;
    mobilenet.width_mult = 0.25;
    mobilenet.in_channels = 1;
    check_every_method(mobilenet, "mobilenet");
    smile::efficientnet_config efficientnet;  // B0's layout at a quarter of the width, stochastic depth on
    efficientnet.width_mult = 0.25;
    efficientnet.in_channels = 1;
    check_every_method(efficientnet, "efficientnet");
}
