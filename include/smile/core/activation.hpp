#pragma once
/// @file
/// The element-wise activation family: one kind value instead of one backend function per
/// activation (`ops<B>::activation_forward(ctx, kind, x, y)`, `ops<B>::activation_backward(ctx,
/// kind, x, dy, dx)`), with the float formulas that CPU backends share. Each formula is PyTorch's
/// (torch.nn.functional), forward and backward, including its choice of derivative at a kink.
/// PyTorch 1.13's CPU kernels disagree with themselves at one kink: hardswish's derivative at
/// x = 3 is 1 in the vectorised loop and 3/2 in the scalar tail; smile takes the vectorised
/// loop's 1, which is what all but the last few elements of a tensor get.
///
/// | kind        | y = f(x)                            | f'(x)                                 |
/// |-------------|-------------------------------------|---------------------------------------|
/// | identity    | x                                   | 1                                     |
/// | relu        | max(x, 0)                           | [x > 0]                               |
/// | relu6       | min(max(x, 0), 6)                   | [0 < x < 6]                           |
/// | silu        | x·σ(x)                              | σ(x)·(1 + x·(1 − σ(x)))               |
/// | sigmoid     | σ(x) = 1/(1 + e⁻ˣ)                  | σ(x)·(1 − σ(x))                       |
/// | hardswish   | x·min(max(x + 3, 0), 6)/6           | 0 if x < −3; x/3 + 1/2 if x < 3; else 1 |
/// | hardsigmoid | min(max(x + 3, 0), 6)/6             | 1/6 if −3 < x < 3, else 0             |
/// | tanh        | tanh(x)                             | 1 − tanh²(x)                          |
/// | gelu_erf    | x·Φ(x), Φ(x) = (1 + erf(x/√2))/2    | Φ(x) + x·e^(−x²/2)/√(2π)              |
/// | gelu_tanh   | x·(1 + tanh u)/2                    | (1 + tanh u)/2 + x/2·(1 − tanh²u)·u'  |
///
/// with u = √(2/π)(x + 0.044715x³) and u' = √(2/π)(1 + 3·0.044715x²). (Rows stay within the
/// 100-column limit: clang-format reflows longer comment lines, which once broke this table.)
///
/// These float formulas are the definition and what the loops of a CPU backend may use; a
/// backend may evaluate the ones built on exp, tanh and erf with vector approximations instead
/// (the oneDNN backend runs oneDNN's eltwise kernels for them), within the backend conformance
/// tolerance.

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include <smile/core/error.hpp>

namespace smile {

enum class activation_kind : std::uint8_t {
    identity, relu, relu6, silu, sigmoid, hardswish, hardsigmoid, tanh, gelu_erf, gelu_tanh
};

inline constexpr activation_kind all_activation_kinds[] = {
    activation_kind::identity,  activation_kind::relu,        activation_kind::relu6, activation_kind::silu,
    activation_kind::sigmoid,   activation_kind::hardswish,   activation_kind::hardsigmoid,
    activation_kind::tanh,      activation_kind::gelu_erf,    activation_kind::gelu_tanh};

[[nodiscard]] constexpr std::string_view activation_name(activation_kind k) noexcept {
    switch (k) {
        case activation_kind::identity: return "identity";
        case activation_kind::relu: return "relu";
        case activation_kind::relu6: return "relu6";
        case activation_kind::silu: return "silu";
        case activation_kind::sigmoid: return "sigmoid";
        case activation_kind::hardswish: return "hardswish";
        case activation_kind::hardsigmoid: return "hardsigmoid";
        case activation_kind::tanh: return "tanh";
        case activation_kind::gelu_erf: return "gelu_erf";
        case activation_kind::gelu_tanh: return "gelu_tanh";
    }
    return "?";
}

[[nodiscard]] inline activation_kind parse_activation(std::string_view name) {
    for (const auto k : all_activation_kinds)
        if (activation_name(k) == name) return k;
    if (name == "gelu") return activation_kind::gelu_erf;  // Hugging Face's "gelu" is the erf form
    if (name == "swish") return activation_kind::silu;
    detail::fail("unknown activation '", std::string(name),
                 "' (expected identity, relu, relu6, silu, sigmoid, hardswish, hardsigmoid, tanh, gelu_erf or gelu_tanh)");
}

/// The float formulas, by kind as a template argument so that a loop over a tensor compiles to
/// one branch-free body per kind.
namespace activation_math {

inline constexpr float sqrt_2_over_pi = 0.7978845608028654f;
inline constexpr float gelu_kappa = 0.044715f;

/// min(max(x, lo), hi) that passes NaN through, as PyTorch's clamp and hardtanh do. Written as
/// comparisons so that a loop over a tensor vectorises: std::fmin and std::fmax stay library calls
/// at -O3 (their NaN rule differs from the min/max instructions) and took 15% of a MobileNetV2
/// training step's samples in `perf` (2026-12-03); they also turned NaN into 0.
[[nodiscard]] inline float clamp_keeping_nan(float x, float lo, float hi) noexcept {
    return x < lo ? lo : (x > hi ? hi : x);
}

template <activation_kind K>
[[nodiscard]] inline float forward(float x) noexcept {
    using enum activation_kind;
    if constexpr (K == identity) return x;
    if constexpr (K == relu) return x > 0.0f ? x : 0.0f;
    if constexpr (K == relu6) return clamp_keeping_nan(x, 0.0f, 6.0f);
    if constexpr (K == silu) return x / (1.0f + std::exp(-x));
    if constexpr (K == sigmoid) return 1.0f / (1.0f + std::exp(-x));
    if constexpr (K == hardswish) return x * clamp_keeping_nan(x + 3.0f, 0.0f, 6.0f) / 6.0f;
    if constexpr (K == hardsigmoid) return clamp_keeping_nan(x + 3.0f, 0.0f, 6.0f) / 6.0f;
    if constexpr (K == tanh) return std::tanh(x);
    if constexpr (K == gelu_erf) return 0.5f * x * (1.0f + std::erf(x * 0.7071067811865476f));
    if constexpr (K == gelu_tanh)
        return 0.5f * x * (1.0f + std::tanh(sqrt_2_over_pi * (x + gelu_kappa * x * x * x)));
}

/// dL/dx given the input x and dL/dy.
template <activation_kind K>
[[nodiscard]] inline float backward(float x, float dy) noexcept {
    using enum activation_kind;
    if constexpr (K == identity) return dy;
    if constexpr (K == relu) return x > 0.0f ? dy : 0.0f;
    if constexpr (K == relu6) return x > 0.0f && x < 6.0f ? dy : 0.0f;
    if constexpr (K == silu) {
        const float s = 1.0f / (1.0f + std::exp(-x));
        return dy * s * (1.0f + x * (1.0f - s));
    }
    if constexpr (K == sigmoid) {
        const float s = 1.0f / (1.0f + std::exp(-x));
        return dy * s * (1.0f - s);
    }
    if constexpr (K == hardswish) return x < -3.0f ? 0.0f : x < 3.0f ? dy * (x / 3.0f + 0.5f) : dy;
    if constexpr (K == hardsigmoid) return x > -3.0f && x < 3.0f ? dy / 6.0f : 0.0f;
    if constexpr (K == tanh) {
        const float t = std::tanh(x);
        return dy * (1.0f - t * t);
    }
    if constexpr (K == gelu_erf) {
        const float cdf = 0.5f * (1.0f + std::erf(x * 0.7071067811865476f));
        const float pdf = std::exp(-0.5f * x * x) * 0.3989422804014327f;
        return dy * (cdf + x * pdf);
    }
    if constexpr (K == gelu_tanh) {
        const float t = std::tanh(sqrt_2_over_pi * (x + gelu_kappa * x * x * x));
        const float inner_derivative = sqrt_2_over_pi * (1.0f + 3.0f * gelu_kappa * x * x);
        return dy * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * inner_derivative);
    }
}

/// Calls `f.template operator()<K>()` with the run-time kind `k` as a compile-time constant.
template <class F>
decltype(auto) dispatch(activation_kind k, F&& f) {
    using enum activation_kind;
    switch (k) {
        case identity: return f.template operator()<identity>();
        case relu: return f.template operator()<relu>();
        case relu6: return f.template operator()<relu6>();
        case silu: return f.template operator()<silu>();
        case sigmoid: return f.template operator()<sigmoid>();
        case hardswish: return f.template operator()<hardswish>();
        case hardsigmoid: return f.template operator()<hardsigmoid>();
        case tanh: return f.template operator()<tanh>();
        case gelu_erf: return f.template operator()<gelu_erf>();
        case gelu_tanh: return f.template operator()<gelu_tanh>();
    }
    detail::fail("activation: invalid kind ", int(k));
}

}  // namespace activation_math
}  // namespace smile
