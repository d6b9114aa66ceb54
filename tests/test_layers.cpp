// Every leaf layer: forward and backward equal the reference backend, and the analytic
// gradients with respect to the input and every parameter equal central finite differences.
#include <doctest/doctest.h>

#include <smile/layers/activation.hpp>
#include <smile/layers/batch_norm2d.hpp>
#include <smile/layers/conv2d.hpp>
#include <smile/layers/flatten.hpp>
#include <smile/layers/linear.hpp>
#include <smile/layers/pooling.hpp>

#include "gradcheck.hpp"
#include "layer_compare.hpp"

using smile::shape4;
using smile::test::check_layer_against_reference;

namespace {

using smile::test::uniform;
auto nonzero = [](smile::rng& g, std::size_t n) { return smile::test::away_from_zero(g, n); };
auto distinct = [](smile::rng& g, std::size_t n) { return smile::test::distinct_values(g, n); };

/// Finite-difference check of a layer on backend B, requiring every result ≤ tolerance.
template <class B, class Make, class Input>
void check_gradients(const std::string& what, Make&& make, const shape4& xs, Input&& input,
                     double tolerance, smile::test::gradcheck_options o = {}) {
    smile::session<B> s;
    smile::rng gen(5);
    auto layer = make(s, gen);
    smile::rng data(6);
    for (const auto& r : smile::test::gradcheck(s, layer, xs, input(data, xs.size()), o)) {
        INFO(what, " on ", B::name, ": d/d", r.what, " relative error ", r.relative_error, " over ",
             r.probes, " probes, ", r.nonsmooth, " non-smooth");
        CHECK(smile::test::passed(r, tolerance));
    }
}

template <class Make, class Input>
void check_layer(const std::string& what, Make&& make, const shape4& xs, Input&& input,
                 double fd_tolerance = 5e-3, smile::test::gradcheck_options o = {}) {
    check_layer_against_reference(what, make, xs, input);
    check_gradients<smile::test::device>(what, make, xs, input, fd_tolerance, o);
    check_gradients<smile::test::oracle>(what, make, xs, input, fd_tolerance, o);
}

}  // namespace

TEST_CASE("layers: conv2d with odd sizes, stride 2, padding, groups and bias") {
    struct c {
        smile::conv2d_options o;
        shape4 x;
    };
    for (const auto& [o, xs] : {c{{3, 4, 3, 1, 1, 1, true}, {2, 3, 7, 5}},
                               c{{4, 6, 3, 2, 1, 1, false}, {2, 4, 9, 8}},
                               c{{3, 5, 7, 2, 3, 1, false}, {2, 3, 11, 11}},
                               c{{4, 6, 1, 1, 0, 2, true}, {2, 4, 5, 5}}}) {
        check_layer("conv2d", [&](auto& s, smile::rng& g) { return smile::conv2d<BACKEND_OF(s)>(s, g, o); },
                    xs, uniform);
    }
}

TEST_CASE("layers: batch_norm2d, plain and fused with ReLU") {
    check_layer("batch_norm2d",
                [](auto& s, smile::rng&) { return smile::batch_norm2d<BACKEND_OF(s)>(s, {4}); },
                {3, 4, 3, 5}, uniform, 5e-3, {1e-3, 64, 7});
    check_layer("batch_norm2d+relu",
                [](auto& s, smile::rng&) {
                    return smile::batch_norm2d<BACKEND_OF(s)>(s, {4, 1e-5f, 0.1f, true});
                },
                {3, 4, 3, 5}, uniform, 5e-3, {1e-3, 64, 7});
}

TEST_CASE("layers: batch_norm2d with running statistics and gradients (eval_grad)") {
    auto make = [](auto& s, smile::rng&) {
        using B = BACKEND_OF(s);
        smile::batch_norm2d<B> bn(s, {4, 1e-5f, 0.1f, true});
        smile::rng stats(3);  // non-trivial running statistics
        bn.running_mean().copy_from_host(smile::test::uniform_values(stats, 4, -0.5, 0.5));
        bn.running_var().copy_from_host(smile::test::uniform_values(stats, 4, 0.5, 1.5));
        return bn;
    };
    smile::test::gradcheck_options o{1e-3, 64, 7};
    o.pass = smile::mode::eval_grad;
    check_gradients<smile::test::device>("batch_norm2d eval_grad", make, {3, 4, 3, 5}, uniform, 5e-3, o);
    check_gradients<smile::test::oracle>("batch_norm2d eval_grad", make, {3, 4, 3, 5}, uniform, 5e-3, o);
}

TEST_CASE("layers: relu, flatten, global average pooling") {
    check_layer("relu", [](auto& s, smile::rng&) { (void)s; return smile::relu<BACKEND_OF(s)>(); },
                {2, 3, 4, 5}, nonzero);
    check_layer("flatten", [](auto& s, smile::rng&) { (void)s; return smile::flatten<BACKEND_OF(s)>(); },
                {2, 3, 4, 5}, uniform);
    check_layer("global_avg_pool",
                [](auto& s, smile::rng&) { (void)s; return smile::global_avg_pool<BACKEND_OF(s)>(); },
                {2, 5, 3, 7}, uniform);
}

TEST_CASE("layers: activation of every kind equals the reference and finite differences") {
    for (const auto kind : smile::all_activation_kinds)
        check_layer("activation " + std::string(smile::activation_name(kind)),
                    [kind](auto& s, smile::rng&) { (void)s; return smile::activation<BACKEND_OF(s)>(kind); },
                    {2, 3, 4, 5}, nonzero);
}

TEST_CASE("layers: max and average pooling with stride and padding") {
    check_layer("max_pool2d",
                [](auto& s, smile::rng&) { (void)s; return smile::pool2d<BACKEND_OF(s)>::max(3, 2, 1); },
                {2, 3, 9, 8}, distinct);
    check_layer("avg_pool2d",
                [](auto& s, smile::rng&) { (void)s; return smile::pool2d<BACKEND_OF(s)>::average(3, 2, 1); },
                {2, 3, 9, 8}, uniform);
}

TEST_CASE("layers: linear with and without bias") {
    for (bool bias : {true, false})
        check_layer("linear",
                    [&](auto& s, smile::rng& g) {
                        return smile::linear<BACKEND_OF(s)>(s, g, {7, 5, bias});
                    },
                    smile::matrix_shape(4, 7), uniform);
}

TEST_CASE("layers: conv2d is initialised as PyTorch: U(±1/√fan_in)") {
    smile::session<smile::test::device> s;
    smile::rng gen(1);
    smile::conv2d<smile::test::device> conv(s, gen, {8, 16, 3, 1, 1, 1, true});
    const auto w = conv.weight().value.to_host();
    const double bound = 1.0 / std::sqrt(8.0 * 9.0);
    double lo = 1, hi = -1, sq = 0;
    for (float v : w) {
        lo = std::min(lo, double(v));
        hi = std::max(hi, double(v));
        sq += double(v) * v;
    }
    CHECK(lo >= -bound);
    CHECK(hi <= bound);
    CHECK(lo < -0.9 * bound);
    CHECK(hi > 0.9 * bound);
    // Variance of U(−b, b) is b²/3.
    CHECK(sq / double(w.size()) == doctest::Approx(bound * bound / 3).epsilon(0.1));
}

TEST_CASE_TEMPLATE("layers: conv2d with batch norm folded in equals conv, then BN, sum and every activation, it refolds on change", B,
                   SMILE_TEST_BACKENDS) {
    smile::session<B> s;
    smile::rng gen(11);
    smile::conv2d<B> conv(s, gen, {3, 5, 3, 2, 1, 1, true});
    smile::batch_norm2d<B> bn(s, {5, 1e-3f, 0.1f, false});
    smile::rng data(12);
    bn.weight().value.copy_from_host(smile::test::uniform_values(data, 5, 0.5, 1.5));
    bn.bias().value.copy_from_host(smile::test::uniform_values(data, 5, -0.5, 0.5));
    bn.running_mean().copy_from_host(smile::test::uniform_values(data, 5, -0.2, 0.2));
    bn.running_var().copy_from_host(smile::test::uniform_values(data, 5, 0.3, 2.0));
    const shape4 xs{2, 3, 7, 6};
    auto x = smile::tensor<B>::from_host(s, xs, smile::test::uniform_values(data, xs.size()));
    const shape4 ys = conv.output_shape(xs);
    const auto residual = smile::test::uniform_values(data, ys.size());
    // The definition, unfolded: t = conv(x); u = BN(t) with running statistics; y = relu(u + r).
    auto unfolded = [&] {
        smile::tensor<B> t, u;
        conv.forward(s, x, t, smile::mode::eval);
        bn.forward(s, t, u, smile::mode::eval);
        auto host = u.to_host();
        for (std::size_t i = 0; i < host.size(); ++i) host[i] = std::max(host[i] + residual[i], 0.0f);
        return host;
    };
    auto folded = [&] {
        auto y = smile::tensor<B>::from_host(s, ys, residual);
        conv.forward_folded(s, bn, x, y, smile::activation_kind::relu, true);
        return y.to_host();
    };
    CHECK(smile::test::max_abs_diff(folded(), unfolded()) < 1e-5);
    // Without the sum and the ReLU: BN(conv(x)) itself, negative values included.
    smile::tensor<B> t, u, plain;
    conv.forward(s, x, t, smile::mode::eval);
    bn.forward(s, t, u, smile::mode::eval);
    conv.forward_folded(s, bn, x, plain, smile::activation_kind::identity, false);
    CHECK(smile::test::max_abs_diff(plain.to_host(), u.to_host()) < 1e-5);
    // Every activation, with and without the sum, equals the backend's own activation after the
    // unfolded BN (fused as a post-op where the backend can, in place after otherwise).
    for (const auto k : smile::all_activation_kinds) {
        for (const bool sum : {false, true}) {
            CAPTURE(smile::activation_name(k));
            CAPTURE(sum);
            auto pre = u.to_host();
            if (sum)
                for (std::size_t i = 0; i < pre.size(); ++i) pre[i] += residual[i];
            auto p = smile::tensor<B>::from_host(s, ys, pre);
            smile::tensor<B> want(s, ys);
            smile::ops<B>::activation_forward(s.context(), k, p.view(), want.view());
            auto y = smile::tensor<B>::from_host(s, ys, residual);
            conv.forward_folded(s, bn, x, y, k, sum);
            CHECK(smile::test::max_abs_diff(y.to_host(), want.to_host()) < 1e-5);
        }
    }
    // Each of the six tensors changing is seen by the next call (a stale fold would differ).
    auto change = [&](smile::tensor<B>& v, float by) {
        auto h = v.to_host();
        for (auto& e : h) e += by;
        v.copy_from_host(h);
        CHECK(smile::test::max_abs_diff(folded(), unfolded()) < 1e-5);
    };
    change(conv.weight().value, 0.1f);
    change(conv.bias().value, 0.2f);
    change(bn.weight().value, 0.3f);
    change(bn.bias().value, -0.4f);
    change(bn.running_mean(), 0.05f);
    change(bn.running_var(), 0.5f);
    // A write through a view (as the optimizer and the mean teacher do) is seen too.
    const auto before = conv.weight().value.generation();
    smile::ops<B>::fill(s.context(), conv.weight().value.view(), 0.01f);
    CHECK(conv.weight().value.generation() != before);
    CHECK(smile::test::max_abs_diff(folded(), unfolded()) < 1e-5);
    // Reading through a const reference keeps the generation (so caches survive reads).
    const auto kept = conv.weight().value.generation();
    (void)std::as_const(conv.weight().value).view();
    CHECK(conv.weight().value.generation() == kept);
}
