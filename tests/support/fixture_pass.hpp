#pragma once
/// @file
/// Comparing a classifier with a PyTorch fixture written by tests/fixtures/make_*_fixtures.py:
/// per quantity 1e-4 relative, or twice PyTorch's own float32 error when float32 cannot reach
/// it (the fixture's "float32_error" metadata), and a whole training pass (logits, pooled
/// features, loss, input gradient, every parameter's gradient probe).

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <smile/io/safetensors.hpp>
#include <smile/models/classifier.hpp>
#include <smile/models/named_tensors.hpp>

#include "compare.hpp"
#include "formula_weights.hpp"

namespace smile::test {

/// 1e-4, or `noise` times PyTorch's own float32 error on the same quantity when float32 cannot
/// reach 1e-4 (two float32 computations of an ill-conditioned quantity differ by a few times
/// either one's error).
inline double fixture_bound(const io::safetensors_reader& f, const std::string& key, double noise = 2.0) {
    static std::map<std::string, nlohmann::json> cache;
    auto& e = cache[f.path().string()];
    if (e.is_null()) e = nlohmann::json::parse(f.metadata().at("float32_error"));
    return std::max(1e-4, noise * (e.contains(key) ? e[key].get<double>() : 0.0));
}

inline void check_fixture_close(const io::safetensors_reader& f, const std::string& key, const std::vector<float>& ours,
                                double noise = 2.0) {
    const std::vector<float> torch = f.read_floats(key);
    REQUIRE(ours.size() == torch.size());
    const double err = relative_error(ours, torch);
    INFO(f.path().string(), " ", key, ": relative error ", err, " (bound ", fixture_bound(f, key, noise), ")");
    CHECK(err <= fixture_bound(f, key, noise));
}

/// The torchvision name of a smile parameter whose family calls its head `classifier.1`.
inline std::string classifier1_name(const std::string& name) {
    return name.rfind("fc.", 0) == 0 ? "classifier.1" + name.substr(2) : name;
}

struct pass_counts {
    std::size_t probes = 0, full = 0, zero = 0;
};

/// Forward of `model` on the fixture's input (shape `input`) in mode `m`, CE loss (mean over
/// the batch) and backward, compared with the fixture's `prefix.*`: logits, pooled features,
/// loss, input gradient, selected full gradients ("prefix.grad.<name>"), and every parameter's
/// gradient probe [‖g‖, <g, u>] with u the formula of "probe.<name>". With `calibrate`, a
/// training forward first sets the running statistics (the caller sets BN momentum 1). The
/// fixture's labels index `classes` classes; `noise` as in fixture_bound.
template <class D>
pass_counts check_fixture_pass(const io::safetensors_reader& f, classifier<D>& model, session<D>& s, const std::string& prefix,
                               const shape4& input, mode m, bool calibrate, double noise = 2.0, std::int64_t classes = 10) {
    auto x = tensor<D>::from_host(s, input, f.read_floats("input"));
    if (calibrate) model.forward(s, x, mode::train);
    model.forward(s, x, m);
    check_fixture_close(f, prefix + ".logits", model.logits().to_host(), noise);
    check_fixture_close(f, prefix + ".pooled", model.pooled().to_host(), noise);
    const auto labels = f.read_floats("labels");
    const auto n = static_cast<std::size_t>(input.n);
    std::vector<float> targets(n * std::size_t(classes), 0.0f);
    for (std::size_t i = 0; i < n; ++i) targets[i * std::size_t(classes) + std::size_t(labels[i])] = 1.0f;
    auto t = tensor<D>::from_host(s, {input.n, classes, 1, 1}, targets);
    tensor<D> dlogits(s, {input.n, classes, 1, 1});
    const double loss =
        D::softmax_cross_entropy(s.context(), model.logits().view(), t.view(), 1.0f / float(n), dlogits.view()) / double(n);
    check_fixture_close(f, prefix + ".loss", {static_cast<float>(loss)}, noise);
    tensor<D> dx;
    model.backward(s, &dlogits, nullptr, &dx);
    check_fixture_close(f, prefix + ".grad.input", dx.to_host(), noise);

    // The largest gradient norm sets the scale of float32 noise for gradients that are zero in
    // exact arithmetic (a projection BN's bias in training: the next BN removes any shift).
    double largest = 0;
    for (const auto& [name, e] : f.entries())
        if (name.rfind(prefix + ".probe.", 0) == 0) largest = std::max(largest, double(f.read_floats(name)[0]));
    pass_counts counts;
    for (const auto& [pname, p] : parameters_of<D>(model)) {
        const std::string torch_name = classifier1_name(pname);
        const auto g = p->grad.to_host();
        const auto u = formula_values("probe." + torch_name, torch_shape(p->shape(), p->torch_rank));
        double norm = 0, dot = 0, u_norm = 0;
        for (std::size_t i = 0; i < g.size(); ++i) {
            norm += double(g[i]) * g[i];
            dot += double(g[i]) * u[i];
            u_norm += double(u[i]) * u[i];
        }
        norm = std::sqrt(norm);
        u_norm = std::sqrt(u_norm);
        const auto ref = f.read_floats(prefix + ".probe." + torch_name);
        INFO(prefix, " gradient of ", torch_name, ": ours [", norm, ", ", dot, "], PyTorch [", ref[0], ", ", ref[1], "]");
        if (ref[0] < 1e-9 * largest) {
            CHECK(norm < 1e-5 * largest);
            ++counts.zero;
        } else {
            // Each component against its own scale: |Δ‖g‖| ≤ ‖Δg‖ and |Δ<g, u>| ≤ ‖Δg‖·‖u‖, so
            // both quotients are lower bounds of the gradient's relative error ‖Δg‖/‖g‖.
            const double err = std::max(std::abs(norm - ref[0]) / ref[0], std::abs(dot - ref[1]) / (ref[0] * u_norm));
            CHECK(err <= fixture_bound(f, prefix + ".probe." + torch_name, noise));
        }
        ++counts.probes;
        if (f.contains(prefix + ".grad." + torch_name)) {
            check_fixture_close(f, prefix + ".grad." + torch_name, g, noise);
            ++counts.full;
        }
    }
    return counts;
}

}  // namespace smile::test
