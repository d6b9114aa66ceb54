// The activation family against PyTorch (tests/fixtures/make_activation_fixtures.py): forward
// and backward of every kind, on the configured backend and on the reference, with PyTorch's
// derivative at each kink; and the reference's derivatives against central differences.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <smile/core/session.hpp>
#include <smile/io/safetensors.hpp>
#include <vector>

#include "backends.hpp"
#include "compare.hpp"

using smile::test::device;
using smile::test::oracle;

namespace {

template <class B>
void check_against_torch(smile::activation_kind kind) {
    smile::io::safetensors_reader f(std::string(SMILE_TEST_FIXTURES) + "/activation_parity.safetensors");
    const std::string name(smile::activation_name(kind));
    const auto xs = f.read_floats("x"), dys = f.read_floats("dy");
    const smile::shape4 sh{1, static_cast<std::int64_t>(xs.size()), 1, 1};
    smile::session<B> s;
    auto x = smile::tensor<B>::from_host(s, sh, xs), dy = smile::tensor<B>::from_host(s, sh, dys);
    smile::tensor<B> y(s, sh), dx(s, sh);
    smile::ops<B>::activation_forward(s.context(), kind, x.view(), y.view());
    smile::ops<B>::activation_backward(s.context(), kind, x.view(), dy.view(), dx.view());
    const auto want_y = f.read_floats(name + ".y"), want_dx = f.read_floats(name + ".dx");
    const auto got_y = y.to_host(), got_dx = dx.to_host();
    CAPTURE(name);
    CHECK(smile::test::relative_error(got_y, want_y) < 1e-6);
    CHECK(smile::test::relative_error(got_dx, want_dx) < 1e-6);
    // Element by element too: a wrong derivative at one kink would hide in the norm.
    for (std::size_t i = 0; i < xs.size(); ++i) {
        CAPTURE(xs[i]);
        REQUIRE(std::abs(got_y[i] - want_y[i]) <= 1e-6f * (1.0f + std::abs(want_y[i])));
        REQUIRE(std::abs(got_dx[i] - want_dx[i]) <= 1e-5f * (1.0f + std::abs(want_dx[i])));
    }
}

}  // namespace

TEST_CASE("activations: every kind equals torch.nn.functional forward and backward, kinks included") {
    for (const auto kind : smile::all_activation_kinds) {
        check_against_torch<oracle>(kind);
        if constexpr (smile::BackendActivations<device>) check_against_torch<device>(kind);
    }
}

TEST_CASE("activations: the reference derivatives equal central differences away from kinks") {
    for (const auto kind : smile::all_activation_kinds) {
        CAPTURE(smile::activation_name(kind));
        for (double x = -7.9; x < 8.0; x += 0.13) {
            const double h = 1e-6;
            const double numeric = (oracle::activation_value(kind, x + h) - oracle::activation_value(kind, x - h)) / (2 * h);
            CHECK(oracle::activation_derivative(kind, x) == doctest::Approx(numeric).epsilon(1e-6).scale(1.0));
        }
    }
    CHECK(smile::parse_activation("gelu") == smile::activation_kind::gelu_erf);
    CHECK_THROWS_WITH_AS((void)smile::parse_activation("mish"), doctest::Contains("unknown activation 'mish'"), smile::error);
}

TEST_CASE("activations: the clamping kinds pass NaN through, as PyTorch's hardtanh and clamp do") {
    if constexpr (smile::BackendActivations<device>) {
        using smile::activation_kind;
        const float nan = std::numeric_limits<float>::quiet_NaN();
        const smile::shape4 sh{1, 4, 1, 1};
        smile::session<device> s;
        const std::vector<float> xs{nan, -1.0f, 2.0f, 7.0f};
        auto x = smile::tensor<device>::from_host(s, sh, xs);
        smile::tensor<device> y(s, sh);
        for (const auto kind :
             {activation_kind::relu6, activation_kind::hardswish, activation_kind::hardsigmoid}) {
            CAPTURE(smile::activation_name(kind));
            smile::ops<device>::activation_forward(s.context(), kind, x.view(), y.view());
            const auto got = y.to_host();
            CHECK(std::isnan(got[0]));  // std::fmin(std::fmax(NaN, 0), 6) gave 0
            CHECK(std::isfinite(got[1]));
        }
        smile::ops<device>::activation_forward(s.context(), activation_kind::relu6, x.view(),
                                               y.view());
        const auto relu6 = y.to_host();
        CHECK(std::vector<float>(relu6.begin() + 1, relu6.end()) ==
              std::vector<float>{0.0f, 2.0f, 6.0f});
    }
}
