// Containers (sequential, stack, residual blocks), taps, BN running statistics, the error
// contract and steady-state memory.
#include <doctest/doctest.h>

#include <smile/layers/activation.hpp>
#include <smile/layers/batch_norm2d.hpp>
#include <smile/layers/conv2d.hpp>
#include <smile/layers/flatten.hpp>
#include <smile/layers/linear.hpp>
#include <smile/layers/pooling.hpp>
#include <smile/layers/residual.hpp>
#include <smile/layers/sequential.hpp>
#include <smile/layers/tap.hpp>

#include "gradcheck.hpp"
#include "layer_compare.hpp"

using smile::shape4;
using smile::test::device;

namespace {

using smile::test::uniform;

template <class B>
smile::residual_block<B> block(smile::session<B>& s, smile::rng& g, smile::block_kind k,
                               std::int64_t in, std::int64_t planes, std::int64_t stride,
                               smile::shortcut_kind sc = smile::shortcut_kind::projection) {
    return smile::residual_block<B>(s, g, {k, in, planes, stride, sc});
}

template <class B, class L>
void check_fd(L& layer, smile::session<B>& s, const shape4& xs, double tolerance,
              std::size_t directions = 48) {
    smile::rng data(3);
    for (const auto& r : smile::test::gradcheck_directional(
             s, layer, xs, smile::test::uniform_values(data, xs.size()), directions, {1e-3, 0, 9, 2e-3})) {
        INFO("d/d", r.what, ": relative error ", r.relative_error, " over ", r.probes,
             " probes, ", r.nonsmooth, " non-smooth");
        CHECK(smile::test::passed_with(r, tolerance, 3));
    }
}

}  // namespace

TEST_CASE("residual blocks: every kind and shortcut equals the reference") {
    using smile::block_kind;
    using smile::shortcut_kind;
    struct c {
        block_kind k;
        std::int64_t in, planes, stride;
        shortcut_kind sc;
        shape4 x;
    };
    for (const auto& t : {c{block_kind::basic, 4, 4, 1, shortcut_kind::projection, {2, 4, 6, 5}},
                          c{block_kind::basic, 4, 8, 2, shortcut_kind::projection, {2, 4, 7, 7}},
                          c{block_kind::basic, 4, 8, 2, shortcut_kind::zero_pad, {2, 4, 8, 8}},
                          c{block_kind::bottleneck, 8, 2, 1, shortcut_kind::projection, {2, 8, 5, 5}},
                          c{block_kind::bottleneck, 6, 3, 2, shortcut_kind::projection, {2, 6, 7, 6}}}) {
        smile::test::check_layer_against_reference(
            "residual_block",
            [&](auto& s, smile::rng& g) { return block(s, g, t.k, t.in, t.planes, t.stride, t.sc); },
            t.x, uniform);
    }
}

TEST_CASE("residual blocks: gradients equal finite differences") {
    smile::session<device> s;
    smile::rng g(1);
    auto identity = block(s, g, smile::block_kind::basic, 3, 3, 1);
    check_fd(identity, s, {3, 3, 5, 5}, 2e-3);
    auto basic = block(s, g, smile::block_kind::basic, 3, 4, 2);
    check_fd(basic, s, {3, 3, 6, 6}, 2e-3);
    auto pad = block(s, g, smile::block_kind::basic, 2, 4, 2, smile::shortcut_kind::zero_pad);
    check_fd(pad, s, {3, 2, 6, 6}, 2e-3);
    auto bottleneck = block(s, g, smile::block_kind::bottleneck, 4, 2, 1);
    check_fd(bottleneck, s, {3, 4, 5, 5}, 2e-3);
}

/// y = relu(bn_k(conv_k(…relu(bn_1(conv_1(x)))…)) + shortcut(x)) evaluated and differentiated
/// by hand through separate leaf layers holding the block's parameter values: the block's own
/// forward, input gradient and every parameter gradient must equal this chain rule exactly.
TEST_CASE_TEMPLATE("residual blocks: backward equals the chain rule through the leaf layers", B,
                   SMILE_TEST_BACKENDS) {
    using smile::tensor;
    smile::session<B> s;
    for (auto [kind, in, planes, stride] : {std::tuple{smile::block_kind::bottleneck, 6, 2, 2},
                                            std::tuple{smile::block_kind::basic, 4, 4, 1}}) {
        smile::rng init(11);
        auto blk = block(s, init, kind, in, planes, stride);
        const bool bottleneck = kind == smile::block_kind::bottleneck;
        const std::int64_t out = planes * smile::expansion(kind);
        // Leaf layers with the block's parameter values, in visiting order.
        std::vector<smile::conv2d<B>> convs;
        std::vector<smile::batch_norm2d<B>> bns;
        smile::rng unused(0);
        if (bottleneck) {
            convs.emplace_back(s, unused, smile::conv2d_options{in, planes, 1, 1, 0, 1, false});
            convs.emplace_back(s, unused, smile::conv2d_options{planes, planes, 3, stride, 1, 1, false});
            convs.emplace_back(s, unused, smile::conv2d_options{planes, out, 1, 1, 0, 1, false});
            convs.emplace_back(s, unused, smile::conv2d_options{in, out, 1, stride, 0, 1, false});
        } else {
            convs.emplace_back(s, unused, smile::conv2d_options{in, planes, 3, stride, 1, 1, false});
            convs.emplace_back(s, unused, smile::conv2d_options{planes, planes, 3, 1, 1, 1, false});
        }
        const std::int64_t widths[] = {planes, planes, out, out};
        const std::size_t units = bottleneck ? 3 : 2;
        for (std::size_t i = 0; i < convs.size(); ++i)
            bns.emplace_back(s, smile::batch_norm2d_options{widths[bottleneck ? i : std::min<std::size_t>(i, 1)],
                                                            1e-5f, 0.1f, i + 1 < units});
        std::vector<smile::parameter<B>*> leaf_params;
        for (std::size_t i = 0; i < convs.size(); ++i) {
            leaf_params.push_back(&convs[i].weight());
            leaf_params.push_back(&bns[i].weight());
            leaf_params.push_back(&bns[i].bias());
        }
        std::size_t k = 0;
        blk.visit_parameters("", [&](const std::string&, smile::parameter<B>& p) {
            leaf_params.at(k++)->value.assign(p.value);
        });
        REQUIRE(k == leaf_params.size());

        smile::rng data(12);
        const shape4 xs{2, in, 7, 6};
        auto x = tensor<B>::from_host(s, xs, smile::test::uniform_values(data, xs.size()));
        tensor<B> y;
        blk.forward(s, x, y, smile::mode::train);
        auto dy = tensor<B>::from_host(s, y.shape(), smile::test::uniform_values(data, y.shape().size()));
        tensor<B> dx;
        blk.backward(s, dy, &dx);

        // Forward by hand.
        std::vector<tensor<B>> conv_out(units), bn_out(units);
        const tensor<B>* a = &x;
        for (std::size_t i = 0; i < units; ++i) {
            convs[i].forward(s, *a, conv_out[i], smile::mode::train);
            bns[i].forward(s, conv_out[i], bn_out[i], smile::mode::train);
            a = &bn_out[i];
        }
        tensor<B> sc_conv, sc;
        if (bottleneck) {
            convs[3].forward(s, x, sc_conv, smile::mode::train);
            bns[3].forward(s, sc_conv, sc, smile::mode::train);
        } else {
            sc.assign(x);
        }
        auto pre = tensor<B>::zeros(s, y.shape());
        smile::ops<B>::add(s.context(), 1.0f, bn_out[units - 1].view(), 1.0f, sc.view(),
                           pre.view());
        tensor<B> y_hand(s, y.shape());
        smile::ops<B>::relu_forward(s.context(), pre.view(), y_hand.view());
        CHECK(smile::test::relative_error(y.to_host(), y_hand.to_host()) < 1e-6);

        // Backward by hand: g = dy·[y > 0] feeds both branches; dx is their sum.
        tensor<B> g(s, y.shape());
        smile::ops<B>::relu_backward(s.context(), y_hand.view(), dy.view(), g.view());
        tensor<B> grad;
        grad.assign(g);
        for (std::size_t i = units; i-- > 0;) {
            tensor<B> d_conv, d_in;
            bns[i].backward(s, grad, &d_conv);
            convs[i].backward(s, d_conv, &d_in);
            grad = std::move(d_in);
        }
        if (bottleneck) {
            tensor<B> d_sc_conv, d_sc;
            bns[3].backward(s, g, &d_sc_conv);
            convs[3].backward(s, d_sc_conv, &d_sc);
            smile::ops<B>::add(s.context(), 1.0f, d_sc.view(), 1.0f, grad.view(), grad.view());
        } else {
            smile::ops<B>::add(s.context(), 1.0f, g.view(), 1.0f, grad.view(), grad.view());
        }
        CHECK(smile::test::relative_error(dx.to_host(), grad.to_host()) < 1e-6);
        k = 0;
        blk.visit_parameters("", [&](const std::string& name, smile::parameter<B>& p) {
            INFO("gradient of ", name);
            CHECK(smile::test::relative_error(p.grad.to_host(), leaf_params.at(k++)->grad.to_host()) < 1e-6);
        });
    }
}

TEST_CASE("residual blocks: parameter names are torchvision's") {
    smile::session<device> s;
    smile::rng g(1);
    auto b = block(s, g, smile::block_kind::bottleneck, 64, 64, 1);
    std::vector<std::string> names;
    b.visit_parameters("layer1.0", [&](const std::string& n, auto&) { names.push_back(n); });
    b.visit_buffers("layer1.0", [&](const std::string& n, auto&) { names.push_back(n); });
    const std::vector<std::string> expected{
        "layer1.0.conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias",
        "layer1.0.conv2.weight", "layer1.0.bn2.weight", "layer1.0.bn2.bias",
        "layer1.0.conv3.weight", "layer1.0.bn3.weight", "layer1.0.bn3.bias",
        "layer1.0.downsample.0.weight", "layer1.0.downsample.1.weight", "layer1.0.downsample.1.bias",
        "layer1.0.bn1.running_mean", "layer1.0.bn1.running_var", "layer1.0.bn2.running_mean",
        "layer1.0.bn2.running_var", "layer1.0.bn3.running_mean", "layer1.0.bn3.running_var",
        "layer1.0.downsample.1.running_mean", "layer1.0.downsample.1.running_var"};
    CHECK(names == expected);
}

TEST_CASE("sequential and stack: a small network equals the reference and finite differences") {
    auto make = [](auto& s, smile::rng& g) {
        using B = BACKEND_OF(s);
        smile::stack<B, smile::residual_block<B>> stage;
        stage.push_back(block(s, g, smile::block_kind::basic, 4, 4, 1));
        stage.push_back(block(s, g, smile::block_kind::basic, 4, 6, 2));
        return smile::sequential<B, smile::conv2d<B>, smile::batch_norm2d<B>, smile::pool2d<B>,
                                 decltype(stage), smile::global_avg_pool<B>, smile::linear<B>>(
            {"conv1", "bn1", "maxpool", "layer1", "avgpool", "fc"},
            smile::conv2d<B>(s, g, {3, 4, 3, 1, 1, 1, false}),
            smile::batch_norm2d<B>(s, {4, 1e-5f, 0.1f, true}), smile::pool2d<B>::max(3, 2, 1),
            std::move(stage), smile::global_avg_pool<B>(), smile::linear<B>(s, g, {6, 3, true}));
    };
    smile::test::check_layer_against_reference("network", make, {2, 3, 9, 9}, uniform);
    smile::session<device> s;
    smile::rng g(2);
    auto net = make(s, g);
    check_fd(net, s, {3, 3, 8, 8}, 2e-3);
    std::vector<std::string> names;
    net.visit_parameters("", [&](const std::string& n, auto&) { names.push_back(n); });
    CHECK(names.front() == "conv1.weight");
    CHECK(names[3] == "layer1.0.conv1.weight");
    CHECK(names.back() == "fc.bias");
}

TEST_CASE("taps: expose the block output in both modes and add injected gradients") {
    smile::session<device> s;
    smile::rng g(4);
    auto b = block(s, g, smile::block_kind::basic, 3, 3, 1);
    b.set_name("layer1.0");
    b.conv_tap().enable();
    smile::rng data(5);
    const shape4 xs{2, 3, 5, 5};
    auto x = smile::tensor<device>::from_host(s, xs, smile::test::uniform_values(data, xs.size()));
    smile::tensor<device> y, dx_plain, dx_injected;
    b.forward(s, x, y, smile::mode::eval);
    const auto eval_tap = b.conv_tap().output().to_host();
    b.forward(s, x, y, smile::mode::train);
    const auto train_tap = b.conv_tap().output().to_host();
    CHECK(eval_tap.size() == xs.size());
    CHECK(smile::test::relative_error(train_tap, eval_tap) > 1e-3);  // batch vs running stats differ
    auto dy = smile::tensor<device>::zeros(s, y.shape());
    b.backward(s, dy, &dx_plain);
    CHECK(smile::test::max_abs_diff(dx_plain.to_host(), std::vector<float>(xs.size(), 0.0f)) == 0.0);
    // After the backward the training activation is gone, and so is the tap's view of it.
    CHECK_THROWS_WITH_AS((void)b.conv_tap().output(), doctest::Contains("between a forward and its backward"),
                         smile::error);
    CHECK_THROWS_WITH_AS(b.backward(s, dy, &dx_plain), doctest::Contains("once per forward"), smile::error);
    // An injected gradient G at the conv2 output with dy = 0 equals backpropagating G alone.
    b.forward(s, x, y, smile::mode::train);
    auto G = smile::tensor<device>::from_host(s, b.conv_tap().output().shape(),
                                              smile::test::uniform_values(data, xs.size()));
    b.conv_tap().inject(s, 2.0f, G);
    b.conv_tap().inject(s, 1.0f, G);  // injections add up: 3·G
    CHECK(b.conv_tap().has_injection());
    b.backward(s, dy, &dx_injected);
    CHECK_FALSE(b.conv_tap().has_injection());
    const auto injected = dx_injected.to_host();
    double norm = 0;
    for (float v : injected) norm += double(v) * v;
    CHECK(norm > 0);
    // Linearity: injecting G once gives a third of it.
    b.forward(s, x, y, smile::mode::train);
    b.conv_tap().inject(s, 1.0f, G);
    smile::tensor<device> dx_once;
    b.backward(s, dy, &dx_once);
    auto once = dx_once.to_host();
    for (auto& v : once) v *= 3.0f;
    CHECK(smile::test::relative_error(once, injected) < 1e-5);
}

TEST_CASE_TEMPLATE("batch_norm2d: running statistics follow PyTorch's sequence", B, SMILE_TEST_BACKENDS) {
    // One channel, 4 values per step: x_k = {1, 2, 3, 4} + k. Batch mean 2.5 + k, unbiased
    // variance 5/3. With momentum 0.1 from (0, 1):
    //   k=0: mean 0.25,   var 0.9·1 + 0.1·5/3        = 1.0666667
    //   k=1: mean 0.575,  var 0.9·1.0666667 + 0.16667 = 1.1266667
    //   k=2: mean 0.9675, var 0.9·1.1266667 + 0.16667 = 1.1806667
    smile::session<B> s;
    smile::batch_norm2d<B> bn(s, {1});
    const double expected_mean[] = {0.25, 0.575, 0.9675};
    const double expected_var[] = {1.0666667, 1.1266667, 1.1806667};
    smile::tensor<B> y;
    for (int k = 0; k < 3; ++k) {
        const float o = static_cast<float>(k);
        auto x = smile::tensor<B>::from_host(s, {2, 1, 2, 1}, std::vector<float>{1 + o, 2 + o, 3 + o, 4 + o});
        bn.forward(s, x, y, smile::mode::train);
        CHECK(bn.running_mean().to_host()[0] == doctest::Approx(expected_mean[k]).epsilon(1e-6));
        CHECK(bn.running_var().to_host()[0] == doctest::Approx(expected_var[k]).epsilon(1e-6));
    }
    // Training output is normalised with the biased variance 5/4: (x − 4.5)/√(1.25 + 1e-5).
    const auto out = y.to_host();
    CHECK(out[0] == doctest::Approx(-1.5 / std::sqrt(1.25 + 1e-5)).epsilon(1e-5));
    // Evaluation does not touch the running statistics.
    auto x = smile::tensor<B>::from_host(s, {2, 1, 2, 1}, std::vector<float>{0, 0, 0, 0});
    bn.forward(s, x, y, smile::mode::eval);
    CHECK(bn.running_mean().to_host()[0] == doctest::Approx(0.9675).epsilon(1e-6));
    CHECK(y.to_host()[0] == doctest::Approx(-0.9675 / std::sqrt(1.1806667 + 1e-5)).epsilon(1e-5));
}

TEST_CASE_TEMPLATE("errors: bad shapes and a backward after evaluation name the layer", B, SMILE_TEST_BACKENDS) {
    smile::session<B> s;
    smile::rng g(1);
    smile::conv2d<B> conv(s, g, {3, 8, 3, 1, 1, 1, false});
    conv.set_name("layer2.0.conv1");
    auto x = smile::tensor<B>::zeros(s, {2, 4, 8, 8});
    smile::tensor<B> y;
    CHECK_THROWS_WITH_AS(conv.forward(s, x, y, smile::mode::train),
                         doctest::Contains("layer2.0.conv1: input [2,4,8,8] has 4 channels, the layer expects 3"),
                         smile::error);
    auto good = smile::tensor<B>::zeros(s, {2, 3, 8, 8});
    conv.forward(s, good, y, smile::mode::eval);
    auto dy = smile::tensor<B>::zeros(s, y.shape());
    CHECK_THROWS_WITH_AS(conv.backward(s, dy, nullptr),
                         doctest::Contains("layer2.0.conv1: backward needs a preceding forward in training mode"),
                         smile::error);
    conv.forward(s, good, y, smile::mode::train);
    auto wrong = smile::tensor<B>::zeros(s, {2, 8, 4, 4});
    CHECK_THROWS_WITH_AS(conv.backward(s, wrong, nullptr),
                         doctest::Contains("layer2.0.conv1 output gradient: expected shape [2,8,8,8] but got [2,8,4,4]"),
                         smile::error);
    smile::linear<B> fc(s, g, {10, 2, true});
    fc.set_name("fc");
    CHECK_THROWS_WITH_AS(fc.forward(s, good, y, smile::mode::eval),
                         doctest::Contains("fc: input [2,3,8,8] is not a matrix"), smile::error);
    CHECK_THROWS_WITH_AS(smile::conv2d<B>(s, g, {3, 0, 3, 1, 1, 1, false}),
                         doctest::Contains("must be positive"), smile::error);
    smile::batch_norm2d<B> bn(s, {3});
    bn.set_name("bn1");
    auto single = smile::tensor<B>::zeros(s, {1, 3, 1, 1});
    CHECK_THROWS_WITH_AS(bn.forward(s, single, y, smile::mode::train),
                         doctest::Contains("more than one value per channel"), smile::error);
}

TEST_CASE("memory: a steady-state forward+backward allocates nothing") {
    smile::session<device> s;
    smile::rng g(8);
    using B = device;
    smile::stack<B, smile::residual_block<B>> stage;
    stage.push_back(block(s, g, smile::block_kind::bottleneck, 8, 2, 1));
    stage.push_back(block(s, g, smile::block_kind::bottleneck, 8, 4, 2));
    auto net = smile::sequential<B, smile::conv2d<B>, smile::batch_norm2d<B>, decltype(stage),
                                 smile::global_avg_pool<B>, smile::linear<B>>(
        smile::conv2d<B>(s, g, {3, 8, 3, 1, 1, 1, false}), smile::batch_norm2d<B>(s, {8, 1e-5f, 0.1f, true}),
        std::move(stage), smile::global_avg_pool<B>(), smile::linear<B>(s, g, {16, 5, true}));
    smile::rng data(9);
    auto x = smile::tensor<B>::from_host(s, {4, 3, 12, 12}, smile::test::uniform_values(data, 4 * 3 * 144));
    auto dy = smile::tensor<B>::from_host(s, {4, 5, 1, 1}, smile::test::uniform_values(data, 20));
    smile::tensor<B> y, y_eval;
    auto step = [&] {
        net.forward(s, x, y_eval, smile::mode::eval);
        net.forward(s, x, y, smile::mode::train);
        net.backward(s, dy, nullptr);
    };
    step();
    step();
    const auto allocations = s.context().allocations;
    const auto pooled = s.scratch().tensors();
    for (int i = 0; i < 3; ++i) step();
    CHECK(s.context().allocations == allocations);
    CHECK(s.scratch().tensors() == pooled);
}
