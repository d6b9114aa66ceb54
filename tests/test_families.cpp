// Model families beyond the ResNets, through the backbone seam: MobileNetV2's units and blocks
// against the reference backend and finite differences, the whole network against torchvision
// (PyTorch 1.13, float64 reference: tests/fixtures/make_family_fixtures.py), the factory by
// name, and every method on a MobileNetV2.
#include <doctest/doctest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include <smile/io/weights.hpp>
#include <smile/layers/inverted_residual.hpp>
#include <smile/methods/registry.hpp>
#include <smile/models/architecture.hpp>

#include "backends.hpp"
#include "compare.hpp"
#include "formula_weights.hpp"
#include "gradcheck.hpp"
#include "layer_compare.hpp"
#include "tiny_models.hpp"

using smile::shape4;
using smile::test::device;
using D = smile::default_backend;

namespace {

template <class B, class L>
void check_fd(L& layer, smile::session<B>& s, const shape4& xs, double tolerance) {
    smile::rng data(3);
    for (const auto& r : smile::test::gradcheck_directional(s, layer, xs, smile::test::uniform_values(data, xs.size()), 48,
                                                            {1e-3, 0, 9, 2e-3})) {
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

// --- the MobileNetV2 fixture -------------------------------------------------------------------

constexpr double tolerance = 1e-4;

std::string fixture() { return std::string(SMILE_TEST_FIXTURES) + "/mobilenet_v2_parity.safetensors"; }

const nlohmann::json& float32_errors(const smile::io::safetensors_reader& f) {
    static nlohmann::json errors = nlohmann::json::parse(f.metadata().at("float32_error"));
    return errors;
}

/// 1e-4, or twice PyTorch's own float32 error on the same quantity when float32 cannot reach it.
double bound_for(const smile::io::safetensors_reader& f, const std::string& key) {
    const auto& e = float32_errors(f);
    return std::max(tolerance, 2.0 * (e.contains(key) ? e[key].get<double>() : 0.0));
}

void check_close(const smile::io::safetensors_reader& f, const std::string& key, const std::vector<float>& ours) {
    const std::vector<float> torch = f.read_floats(key);
    REQUIRE(ours.size() == torch.size());
    const double err = smile::test::relative_error(ours, torch);
    INFO(key, ": relative error ", err, " (bound ", bound_for(f, key), ")");
    CHECK(err <= bound_for(f, key));
}

/// smile's name of a torchvision parameter: the classifier `classifier.1` is the head `fc`.
std::string internal_name(const std::string& torch_name) {
    const std::string head = "classifier.1.";
    return torch_name.rfind(head, 0) == 0 ? "fc." + torch_name.substr(head.size()) : torch_name;
}

smile::classifier<D> formula_mobilenet(smile::session<D>& s, float bn_momentum = 0.1f) {
    smile::rng gen(0);
    smile::mobilenet_v2_config arch;
    arch.bn_momentum = bn_momentum;
    auto model = smile::make_classifier<D>(s, gen, arch, {10, 0});
    for (const auto& t : smile::state_of<D>(model))
        t.value->copy_from_host(smile::test::formula_values(t.name.rfind("fc.", 0) == 0 ? "classifier.1" + t.name.substr(2) : t.name,
                                                            smile::torch_shape(t.value->shape(), t.torch_rank)));
    return model;
}

/// Forward, CE (mean over the batch) and backward in `m`, compared with the fixture's `prefix.*`:
/// logits, pooled features, loss, input gradient, selected full gradients, and every
/// parameter's gradient probe [‖g‖, <g, u>]. "calibrated" first sets the running statistics to
/// the batch's own with a training forward at BN momentum 1, as the fixture does.
void check_pass(smile::mode m, const std::string& prefix) {
    smile::io::safetensors_reader f(fixture());
    smile::session<D> s;
    const bool calibrated = prefix == "calibrated";
    auto model = formula_mobilenet(s, calibrated ? 1.0f : 0.1f);
    auto x = smile::tensor<D>::from_host(s, {2, 3, 64, 64}, f.read_floats("input"));
    if (calibrated) model.forward(s, x, smile::mode::train);
    model.forward(s, x, m);
    check_close(f, prefix + ".logits", model.logits().to_host());
    check_close(f, prefix + ".pooled", model.pooled().to_host());
    const auto labels = f.read_floats("labels");
    std::vector<float> targets(2 * 10, 0.0f);
    for (std::size_t i = 0; i < 2; ++i) targets[i * 10 + std::size_t(labels[i])] = 1.0f;
    auto t = smile::tensor<D>::from_host(s, {2, 10, 1, 1}, targets);
    smile::tensor<D> dlogits(s, {2, 10, 1, 1});
    const double loss = D::softmax_cross_entropy(s.context(), model.logits().view(), t.view(), 0.5f, dlogits.view()) / 2;
    check_close(f, prefix + ".loss", {static_cast<float>(loss)});
    smile::tensor<D> dx;
    model.backward(s, &dlogits, nullptr, &dx);
    check_close(f, prefix + ".grad.input", dx.to_host());

    // The largest gradient norm sets the scale of float32 noise for gradients that are zero in
    // exact arithmetic (a projection BN's bias in training: the next BN removes any shift).
    double largest = 0;
    for (const auto& [name, e] : f.entries())
        if (name.rfind(prefix + ".probe.", 0) == 0) largest = std::max(largest, double(f.read_floats(name)[0]));
    std::size_t probes = 0, full = 0, zero = 0;
    for (const auto& [pname, p] : smile::parameters_of<D>(model)) {
        const std::string torch_name = pname.rfind("fc.", 0) == 0 ? "classifier.1" + pname.substr(2) : pname;
        const auto g = p->grad.to_host();
        const auto u = smile::test::formula_values("probe." + torch_name, smile::torch_shape(p->shape(), p->torch_rank));
        double norm = 0, dot = 0;
        for (std::size_t i = 0; i < g.size(); ++i) {
            norm += double(g[i]) * g[i];
            dot += double(g[i]) * u[i];
        }
        norm = std::sqrt(norm);
        const auto ref = f.read_floats(prefix + ".probe." + torch_name);
        INFO(prefix, " gradient of ", torch_name, ": ours [", norm, ", ", dot, "], PyTorch [", ref[0], ", ", ref[1], "]");
        if (ref[0] < 1e-9 * largest) {
            CHECK(norm < 1e-5 * largest);
            ++zero;
        } else {
            const double err = std::hypot(norm - ref[0], dot - ref[1]) / std::hypot(double(ref[0]), double(ref[1]));
            CHECK(err <= bound_for(f, prefix + ".probe." + torch_name));
        }
        ++probes;
        if (f.contains(prefix + ".grad." + torch_name)) {
            check_close(f, prefix + ".grad." + torch_name, g);
            ++full;
        }
    }
    CHECK(probes == 158);  // every parameter of torchvision's mobilenet_v2 (52 conv, 52·2 BN, 2 linear)
    CHECK(full == 11);
    if (m == smile::mode::train) {
        CHECK(zero == 17);  // the 17 blocks' projection BN biases
        std::map<std::string, smile::tensor<D>*> buffers;
        model.visit_buffers("", [&](const std::string& n, smile::tensor<D>& b) { buffers[n] = &b; });
        for (const auto& [name, e] : f.entries())
            if (name.rfind("train.after.", 0) == 0) check_close(f, name, buffers.at(name.substr(12))->to_host());
    }
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

TEST_CASE("mobilenet_v2: state_dict names and shapes equal torchvision's, the head saved as classifier.1") {
    smile::io::safetensors_reader f(fixture());
    const auto keys = nlohmann::json::parse(f.metadata().at("state_dict"));
    smile::session<D> s;
    auto model = formula_mobilenet(s);
    std::map<std::string, std::vector<std::int64_t>> ours;
    for (const auto& t : smile::state_of<D>(model)) ours[t.name] = smile::torch_shape(t.value->shape(), t.torch_rank);
    std::size_t compared = 0;
    for (const auto& item : keys) {
        const std::string name = item[0];
        if (name.find("num_batches_tracked") != std::string::npos) continue;
        INFO(name);
        REQUIRE(ours.count(internal_name(name)) == 1);
        CHECK(smile::same_torch_shape(ours[internal_name(name)], item[1].get<std::vector<std::int64_t>>()));
        ++compared;
    }
    CHECK(compared == ours.size());
    CHECK(model.head_name() == "classifier.1");
    CHECK(model.feature_tap().name() == "features");
    CHECK(model.backbone().stage_convs() == std::vector<std::string>{"features.1.conv.1", "features.3.conv.2", "features.6.conv.2",
                                                                     "features.13.conv.2", "features.18.0"});
}

TEST_CASE("mobilenet_v2: train-mode forward, every gradient and the running statistics equal PyTorch") {
    check_pass(smile::mode::train, "train");
}

TEST_CASE("mobilenet_v2: evaluation forward, folded and unfolded, equals PyTorch, and so do eval-mode gradients") {
    // mode::eval runs the folded inference path, mode::eval_grad the unfolded one.
    smile::io::safetensors_reader f(fixture());
    smile::session<D> s;
    auto model = formula_mobilenet(s);
    auto x = smile::tensor<D>::from_host(s, {2, 3, 64, 64}, f.read_floats("input"));
    for (const auto m : {smile::mode::eval, smile::mode::eval_grad}) {
        model.forward(s, x, m);
        check_close(f, "eval.logits", model.logits().to_host());
        check_close(f, "eval.pooled", model.pooled().to_host());
    }
    check_pass(smile::mode::eval_grad, "calibrated");
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
    auto source = formula_mobilenet(s);
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

TEST_CASE("every method trains a MobileNetV2: finite terms, and fine-tuning and SMILE lower their loss") {
    smile::session<D> s;
    smile::mobilenet_v2_config arch;
    arch.width_mult = 0.25;
    arch.in_channels = 1;
    const auto path = std::filesystem::temp_directory_path() / "smile_families_methods.safetensors";
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
