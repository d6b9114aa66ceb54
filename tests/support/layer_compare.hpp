#pragma once
/// @file
/// Runs one layer type on the configured backend and on the reference with identical initial
/// parameters (initialisation is drawn on the host), identical input and output gradient, and
/// compares output, input gradient, parameter gradients and buffers.

#include <doctest/doctest.h>

#include <map>

#include <smile/core/session.hpp>
#include <smile/layers/layer.hpp>

#include "backends.hpp"
#include "compare.hpp"
#include "random_data.hpp"

namespace smile::test {

struct layer_run {
    std::vector<float> y_eval, y, dx, y_eval_after, y_eval_grad, dx_eval_grad;
    std::map<std::string, std::vector<float>> grads, buffers, grads_eval_grad;
};

/// `make(session<B>&, rng&)` builds the layer; `input(rng&, n)` makes the input values.
template <class B, class Make, class Input>
layer_run run_layer(Make&& make, const shape4& xs, Input&& input) {
    session<B> s;
    rng gen(1234);
    auto layer = make(s, gen);
    layer.set_name("layer");
    rng data(99);
    auto x = tensor<B>::from_host(s, xs, input(data, xs.size()));
    const shape4 ys = layer.output_shape(xs);
    auto dy = tensor<B>::from_host(s, ys, uniform_values(data, ys.size()));
    layer_run run;
    tensor<B> y_eval, y, dx;
    layer.forward(s, x, y_eval, mode::eval);
    run.y_eval = y_eval.to_host();
    layer.forward(s, x, y, mode::train);
    layer.backward(s, dy, &dx);
    run.y = y.to_host();
    run.dx = dx.to_host();
    layer.visit_parameters("", [&](const std::string& n, parameter<B>& p) { run.grads[n] = p.grad.to_host(); });
    layer.visit_buffers("", [&](const std::string& n, tensor<B>& t) { run.buffers[n] = t.to_host(); });
    // Evaluation semantics with gradients (PyTorch's eval() + backward()); the training pass
    // above moved the running statistics, so compare with a fresh evaluation pass.
    tensor<B> y_eval_after, y_eg, dx_eg;
    layer.forward(s, x, y_eval_after, mode::eval);
    run.y_eval_after = y_eval_after.to_host();
    layer.forward(s, x, y_eg, mode::eval_grad);
    layer.backward(s, dy, &dx_eg);
    run.y_eval_grad = y_eg.to_host();
    run.dx_eval_grad = dx_eg.to_host();
    layer.visit_parameters("", [&](const std::string& n, parameter<B>& p) {
        run.grads_eval_grad[n] = p.grad.to_host();
    });
    return run;
}

template <class Make, class Input>
void check_layer_against_reference(const std::string& what, Make&& make, const shape4& xs,
                                   Input&& input, double tolerance = 1e-4) {
    const layer_run got = run_layer<device>(make, xs, input);
    const layer_run want = run_layer<oracle>(make, xs, input);
    auto check = [&](const std::string& part, const std::vector<float>& a, const std::vector<float>& b) {
        REQUIRE(a.size() == b.size());
        const double err = relative_error(a, b);
        INFO(what, " ", part, ": relative error ", err);
        CHECK(err <= tolerance);
    };
    check("eval output", got.y_eval, want.y_eval);
    check("train output", got.y, want.y);
    check("input gradient", got.dx, want.dx);
    REQUIRE(got.grads.size() == want.grads.size());
    for (const auto& [name, g] : want.grads) check("gradient of " + name, got.grads.at(name), g);
    for (const auto& [name, b] : want.buffers) check("buffer " + name, got.buffers.at(name), b);
    check("eval_grad output", got.y_eval_grad, want.y_eval_grad);
    check("eval_grad output equals eval output", got.y_eval_grad, got.y_eval_after);
    check("eval_grad input gradient", got.dx_eval_grad, want.dx_eval_grad);
    for (const auto& [name, g] : want.grads_eval_grad)
        check("eval_grad gradient of " + name, got.grads_eval_grad.at(name), g);
}

}  // namespace smile::test
