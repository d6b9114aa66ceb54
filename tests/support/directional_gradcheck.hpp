#pragma once
/// @file
/// Whole-model gradient checks along random directions: for every parameter θ_p and a few
/// random unit directions v, the analytic ⟨∂L/∂θ_p, v⟩ (what `loss(true)` backpropagates)
/// against the central difference (L(θ + εv) − L(θ − εv))/2ε of `loss(false)`, ε = 1e-3.
/// Directions whose ±ε step crosses a ReLU or max-pool kink (the differences at ε and ε/2
/// disagree) are skipped and counted, and the caller asserts how many must have been compared.
/// A kink at the origin itself (a unit whose input is within ~1e-4 of zero) escapes that test
/// (both differences then average the two one-sided slopes) and which unit sits there changes
/// with the summation order, i.e. the thread count. So each compared direction must agree
/// within 10% (one CHECK each: a wrong gradient fails it), and at least half of each
/// parameter's compared directions within the float32 noise floor (one CHECK per parameter:
/// a gradient off by a few percent fails it, one direction through a kink does not).
///
/// The noise floor: L is computed in float32, so each value carries rounding noise of about
/// 4e-7·|L|, and a difference quotient at ε = 1e-3 about 4e-4·|L| (measured: 5e-4 to 1e-3 for
/// |L| ≈ 1.2 on the test networks, at 1 and at 2 threads, whose kernels sum in other orders).
/// Both the kink test and the comparisons allow it, with |L| taken at the starting point (or
/// the caller's `loss_scale` when larger).

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <smile/core/random.hpp>
#include <smile/models/named_tensors.hpp>

namespace smile::test {

struct directional_result {
    std::size_t parameters = 0;  ///< parameters probed
    std::size_t directions = 0;  ///< directions tried
    std::size_t compared = 0;    ///< directions compared (the rest crossed a kink)
};

/// The check against given analytic gradients (one vector per parameter, in visiting order);
/// `value()` returns L for the model's current weights. `loss_scale` (|L|) widens the noise
/// floor for losses computed in float32 whose magnitude is well above 1: a difference quotient
/// of such an L carries about 4e-7·|L|/ε of rounding noise.
template <Backend B, class Model, class Value>
directional_result check_directional_gradients_against(Model& model, const std::vector<std::vector<float>>& analytic,
                                                       Value&& value, std::uint64_t seed, int per_parameter,
                                                       double loss_scale = 0.0) {
    auto loss = [&](bool) { return value(); };
    const double noise =
        4e-4 * std::max({loss_scale, std::abs(double(value())), 1.0});  // see the file comment
    rng dir(seed);
    directional_result r;
    for (auto& [name, p] : parameters_of<B>(model)) {
        const auto origin = p->value.to_host();
        int compared = 0, within_noise = 0;
        for (int d = 0; d < per_parameter; ++d, ++r.directions) {
            std::vector<double> v(origin.size());
            double norm = 0, along = 0;
            for (auto& e : v) {
                e = dir.normal();
                norm += e * e;
            }
            for (std::size_t i = 0; i < v.size(); ++i) along += (v[i] /= std::sqrt(norm)) * analytic[r.parameters][i];
            auto at = [&](double h) {
                std::vector<float> moved(origin.size());
                for (std::size_t i = 0; i < v.size(); ++i) moved[i] = float(origin[i] + h * v[i]);
                p->value.copy_from_host(moved);
                return loss(false);
            };
            const double eps = 1e-3, full = (at(eps) - at(-eps)) / (2 * eps), halved = (at(eps / 2) - at(-eps / 2)) / eps;
            p->value.copy_from_host(origin);
            // A kink: the two quotients differ by more than curvature and their noise (the
            // halved one's is twice the full one's) explain.
            if (std::abs(full - halved) >
                2e-3 * std::max({std::abs(full), std::abs(halved), 1e-2}) + 3 * noise)
                continue;
            INFO(name, " direction ", d, ": numeric ", full, " analytic ", along);
            const double error = std::abs(full - along);
            CHECK(error <= 0.1 * std::abs(full) + 1e-3 + noise);
            within_noise += error <= 5e-3 * std::abs(full) + 1e-4 + noise;  // float32 noise floor
            ++compared;
            ++r.compared;
        }
        INFO(name, ": ", within_noise, " of ", compared, " compared directions within the float32 noise floor");
        CHECK(2 * within_noise >= compared);
        ++r.parameters;
    }
    return r;
}

/// `loss(backprop)` returns L for the model's current weights and, when `backprop`, leaves
/// ∂L/∂θ in the parameters' gradients. A parameter no backward reached counts as gradient 0.
template <Backend B, class Model, class Loss>
directional_result check_directional_gradients(Model& model, Loss&& loss, std::uint64_t seed, int per_parameter) {
    loss(true);
    std::vector<std::vector<float>> analytic;
    for (auto& [name, p] : parameters_of<B>(model))
        analytic.push_back(p->has_fresh_grad() ? p->grad.to_host() : std::vector<float>(p->value.size(), 0.0f));
    return check_directional_gradients_against<B>(model, analytic, [&] { return loss(false); }, seed, per_parameter);
}

}  // namespace smile::test
