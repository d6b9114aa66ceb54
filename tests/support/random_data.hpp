#pragma once
/// @file
/// Deterministic random test inputs.

#include <algorithm>
#include <cstdint>
#include <vector>

#include <smile/core/random.hpp>

namespace smile::test {

inline std::vector<float> uniform_values(rng& gen, std::size_t n, double low = -1.0,
                                         double high = 1.0) {
    std::vector<float> v(n);
    for (auto& x : v) x = static_cast<float>(gen.uniform(low, high));
    return v;
}

/// `uniform_values` over its default range as a callable (the draws of the layer tests).
inline constexpr auto uniform = [](rng& g, std::size_t n) { return uniform_values(g, n); };

/// Values whose magnitude is at least `gap`: finite differences of step < gap never cross the
/// kink of a ReLU at 0.
inline std::vector<float> away_from_zero(rng& gen, std::size_t n, double gap = 0.1) {
    std::vector<float> v(n);
    for (auto& x : v) {
        const double mag = gen.uniform(gap, 1.0);
        x = static_cast<float>(gen.bernoulli(0.5) ? mag : -mag);
    }
    return v;
}

/// A random permutation of {0, spacing, 2·spacing, ...} − offset: all values distinct by at
/// least `spacing`, so max pooling's arg-max is stable under perturbations < spacing/2.
inline std::vector<float> distinct_values(rng& gen, std::size_t n, double spacing = 0.05) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(double(i) * spacing);
    gen.shuffle(v);
    const float offset = static_cast<float>(double(n) * spacing / 2);
    for (auto& x : v) x -= offset;
    return v;
}

}  // namespace smile::test
