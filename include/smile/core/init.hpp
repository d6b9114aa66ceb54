#pragma once
/// @file
/// Parameter initialisation, drawn on the host from the one `rng` and uploaded, so a seed gives
/// the same initial weights on every backend.

#include <cmath>
#include <vector>

#include <smile/core/random.hpp>
#include <smile/core/tensor.hpp>

namespace smile::init {

/// Fills `t` with U(−bound, bound). PyTorch's default for Conv2d and Linear weights is
/// kaiming_uniform(a = √5), which is exactly U(±1/√fan_in); its bias default is the same bound.
template <Backend B>
void uniform(tensor<B>& t, rng& gen, double bound) {
    std::vector<float> values(t.size());
    for (auto& v : values) v = static_cast<float>(gen.uniform(-bound, bound));
    t.copy_from_host(values);
}

/// Fills `t` with N(0, stddev²), e.g. torchvision ResNet's kaiming_normal(fan_out, relu):
/// stddev = √(2/fan_out).
template <Backend B>
void normal(tensor<B>& t, rng& gen, double stddev) {
    std::vector<float> values(t.size());
    for (auto& v : values) v = static_cast<float>(gen.normal(0.0, stddev));
    t.copy_from_host(values);
}

/// PyTorch's default bound for a layer with `fan_in` inputs: 1/√fan_in.
[[nodiscard]] inline double default_bound(std::int64_t fan_in) {
    return 1.0 / std::sqrt(static_cast<double>(fan_in));
}

}  // namespace smile::init
