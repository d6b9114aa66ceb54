#pragma once
/// @file
/// Central finite-difference gradient checks for layers (dlib's test_layer, flashlight's
/// jacobianTestImpl).
///
/// The scalar checked is L(x, θ) = Σ r ⊙ layer(x; θ) for a fixed random projection r, so the
/// analytic gradients are what backward returns for dy = r. Every input element and every
/// parameter element (or a fixed random subset of `max_probes` of them for large tensors) is
/// perturbed by ±ε, with L accumulated in double on the host.
///
/// Networks with ReLUs and max pooling are only piecewise smooth: a probe whose ±ε step
/// crosses a kink measures a chord, not a derivative. Such probes are recognised because the
/// central differences at ε and ε/2 disagree; they are left out of the comparison and
/// counted. A check passes only if few probes are left out (see `max_nonsmooth_fraction`).

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <smile/core/random.hpp>
#include <smile/core/session.hpp>
#include <smile/layers/layer.hpp>

#include "compare.hpp"

namespace smile::test {

struct gradcheck_result {
    std::string what;       ///< "input" or the parameter's name
    double relative_error;  ///< ‖numeric − analytic‖ / ‖numeric‖ over the smooth probes
    std::size_t probes;     ///< probes compared
    std::size_t nonsmooth;  ///< probes left out because their step crossed a kink
};

struct gradcheck_options {
    double epsilon = 1e-2;
    std::size_t max_probes = 64;
    std::uint64_t seed = 7;
    /// A probe is non-smooth when |d(ε) − d(ε/2)| > kink_tolerance·max(|d(ε)|, |d(ε/2)|, 1e-3):
    /// in a smooth region the two agree to O(ε²) (~1e-4 at ε = 1e-2), so a larger gap means
    /// the step crossed a kink.
    double kink_tolerance = 0.01;
    /// The pass checked: `train`, or `eval_grad` (BN with running statistics).
    mode pass = mode::train;
};

/// True when at most `max_nonsmooth_fraction` of the probes were left out as non-smooth and
/// the rest agree within `tolerance` (per-coordinate checks of leaf layers).
inline bool passed(const gradcheck_result& r, double tolerance, double max_nonsmooth_fraction = 0.25) {
    return r.probes > 0 && r.relative_error <= tolerance &&
           double(r.nonsmooth) <= max_nonsmooth_fraction * double(r.probes + r.nonsmooth);
}

/// True when at least `min_probes` smooth probes agree within `tolerance` (directional checks
/// of composite modules, where many directions legitimately cross a kink).
inline bool passed_with(const gradcheck_result& r, double tolerance, std::size_t min_probes) {
    return r.probes >= min_probes && r.relative_error <= tolerance;
}

template <Backend B, class L>
double projected_output(session<B>& s, L& layer, const tensor<B>& x, const std::vector<float>& r,
                        mode m = mode::train) {
    tensor<B> y;
    layer.forward(s, x, y, m);
    const auto values = y.to_host();
    double acc = 0.0;
    for (std::size_t i = 0; i < values.size(); ++i) acc += double(values[i]) * r[i];
    return acc;
}

/// Checks d/dx and d/dθ of Σ r ⊙ layer(x) for the given input values.
template <Backend B, class L>
std::vector<gradcheck_result> gradcheck(session<B>& s, L& layer, const shape4& input_shape,
                                        std::vector<float> input, const gradcheck_options& o = {}) {
    rng gen(o.seed);
    tensor<B> x = tensor<B>::from_host(s, input_shape, input);
    const shape4 out_shape = layer.output_shape(input_shape);
    std::vector<float> r(out_shape.size());
    for (auto& v : r) v = static_cast<float>(gen.uniform(-1.0, 1.0));
    tensor<B> dy = tensor<B>::from_host(s, out_shape, r);

    // Analytic gradients.
    tensor<B> y;
    layer.forward(s, x, y, o.pass);
    tensor<B> dx;
    layer.backward(s, dy, &dx);
    const std::vector<float> analytic_dx = dx.to_host();
    std::vector<std::pair<std::string, std::vector<float>>> analytic_params;
    layer.visit_parameters("", [&](const std::string& name, parameter<B>& p) {
        analytic_params.emplace_back(name, p.grad.to_host());
    });

    auto probe_indices = [&](std::size_t n) {
        std::vector<std::size_t> idx(n);
        for (std::size_t i = 0; i < n; ++i) idx[i] = i;
        if (n > o.max_probes) {
            gen.shuffle(idx);
            idx.resize(o.max_probes);
        }
        return idx;
    };
    auto compare = [&](const std::string& what, const std::vector<double>& numeric,
                       const std::vector<double>& analytic, std::size_t nonsmooth) {
        return gradcheck_result{what, relative_error(std::span<const double>(analytic),
                                                     std::span<const double>(numeric)),
                                numeric.size(), nonsmooth};
    };
    // Central difference of L along one coordinate, set through `set(value)`.
    auto central = [&](auto&& set, float origin, double step) {
        set(static_cast<float>(origin + step));
        const double plus = projected_output(s, layer, x, r, o.pass);
        set(static_cast<float>(origin - step));
        const double minus = projected_output(s, layer, x, r, o.pass);
        return (plus - minus) / (2 * step);
    };
    // Appends the probe to (numeric, analytic) when smooth; returns false when it is not.
    auto probe = [&](auto&& set, float origin, double analytic_value, std::vector<double>& numeric,
                     std::vector<double>& analytic) {
        const double full = central(set, origin, o.epsilon);
        const double at_half_step = central(set, origin, o.epsilon / 2);
        const double scale = std::max({std::abs(full), std::abs(at_half_step), 1e-3});
        if (std::abs(full - at_half_step) > o.kink_tolerance * scale) return false;
        numeric.push_back(full);
        analytic.push_back(analytic_value);
        return true;
    };

    std::vector<gradcheck_result> results;
    {  // input
        std::vector<double> numeric, analytic;
        std::size_t nonsmooth = 0;
        for (std::size_t i : probe_indices(input.size())) {
            auto shifted = input;
            auto set = [&](float v) {
                shifted[i] = v;
                x.copy_from_host(shifted);
            };
            if (!probe(set, input[i], analytic_dx[i], numeric, analytic)) ++nonsmooth;
        }
        x.copy_from_host(input);
        results.push_back(compare("input", numeric, analytic, nonsmooth));
    }
    std::size_t k = 0;
    layer.visit_parameters("", [&](const std::string& name, parameter<B>& p) {
        const std::vector<float> original = p.value.to_host();
        std::vector<double> numeric, analytic;
        std::size_t nonsmooth = 0;
        for (std::size_t i : probe_indices(original.size())) {
            auto shifted = original;
            auto set = [&](float v) {
                shifted[i] = v;
                p.value.copy_from_host(shifted);
            };
            if (!probe(set, original[i], analytic_params[k].second[i], numeric, analytic)) ++nonsmooth;
        }
        p.value.copy_from_host(original);
        results.push_back(compare(name, numeric, analytic, nonsmooth));
        ++k;
    });
    return results;
}

}  // namespace smile::test

namespace smile::test {

/// Directional finite differences for composite modules (residual blocks, whole networks).
///
/// For each tensor t (the input and every parameter) and each of `directions` random unit
/// directions v over all of t's elements, compares (L(t + εv) − L(t − εv))/2ε with ⟨∂L/∂t, v⟩.
/// A directional derivative sums every coordinate's contribution, so it stands far above the
/// float32 noise that swamps single small coordinates in deep modules. Kink-crossing
/// directions are filtered as in `gradcheck`.
template <Backend B, class L>
std::vector<gradcheck_result> gradcheck_directional(session<B>& s, L& layer, const shape4& input_shape,
                                                    std::vector<float> input, std::size_t directions = 6,
                                                    const gradcheck_options& o = {}) {
    rng gen(o.seed);
    tensor<B> x = tensor<B>::from_host(s, input_shape, input);
    const shape4 out_shape = layer.output_shape(input_shape);
    std::vector<float> r(out_shape.size());
    for (auto& v : r) v = static_cast<float>(gen.uniform(-1.0, 1.0));
    tensor<B> dy = tensor<B>::from_host(s, out_shape, r);
    tensor<B> y, dx;
    layer.forward(s, x, y, mode::train);
    layer.backward(s, dy, &dx);
    const std::vector<float> analytic_dx = dx.to_host();
    std::vector<std::vector<float>> analytic_params;
    layer.visit_parameters("", [&](const std::string&, parameter<B>& p) {
        analytic_params.push_back(p.grad.to_host());
    });

    // Checks one tensor whose values are `origin`, written back through `set(values)`.
    auto check = [&](const std::string& what, const std::vector<float>& origin,
                     const std::vector<float>& grad, auto&& set) {
        std::vector<double> numeric, analytic;
        std::size_t nonsmooth = 0;
        for (std::size_t d = 0; d < directions; ++d) {
            std::vector<double> v(origin.size());
            double norm = 0.0;
            for (auto& e : v) {
                e = gen.normal();
                norm += e * e;
            }
            norm = std::sqrt(norm);
            double along = 0.0;
            for (std::size_t i = 0; i < v.size(); ++i) {
                v[i] /= norm;
                along += v[i] * grad[i];
            }
            auto central = [&](double step) {
                std::vector<float> moved(origin.size());
                for (std::size_t i = 0; i < v.size(); ++i) moved[i] = static_cast<float>(origin[i] + step * v[i]);
                set(moved);
                const double plus = projected_output(s, layer, x, r);
                for (std::size_t i = 0; i < v.size(); ++i) moved[i] = static_cast<float>(origin[i] - step * v[i]);
                set(moved);
                const double minus = projected_output(s, layer, x, r);
                return (plus - minus) / (2 * step);
            };
            const double full = central(o.epsilon), at_half_step = central(o.epsilon / 2);
            if (std::abs(full - at_half_step) > o.kink_tolerance * std::max({std::abs(full), std::abs(at_half_step), 1e-3})) {
                ++nonsmooth;
                continue;
            }
            numeric.push_back(full);
            analytic.push_back(along);
        }
        set(origin);
        return gradcheck_result{what, relative_error(std::span<const double>(analytic),
                                                     std::span<const double>(numeric)),
                                numeric.size(), nonsmooth};
    };

    std::vector<gradcheck_result> results;
    results.push_back(check("input", input, analytic_dx, [&](const std::vector<float>& v) { x.copy_from_host(v); }));
    std::size_t k = 0;
    layer.visit_parameters("", [&](const std::string& name, parameter<B>& p) {
        results.push_back(check(name, p.value.to_host(), analytic_params[k++],
                                [&](const std::vector<float>& v) { p.value.copy_from_host(v); }));
    });
    return results;
}

}  // namespace smile::test
