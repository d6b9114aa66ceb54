#pragma once
/// @file
/// Choosing an optimizer by configuration (`smile finetune --optimizer sgd|adam|adamw`): one
/// options value that holds every optimizer's hyper-parameters, and the factory.

#include <memory>
#include <string>

#include <smile/optim/adam.hpp>
#include <smile/optim/sgd.hpp>

namespace smile {

enum class optimizer_kind : std::uint8_t { sgd, adam, adamw };

[[nodiscard]] inline optimizer_kind parse_optimizer(const std::string& name) {
    if (name == "sgd") return optimizer_kind::sgd;
    if (name == "adam") return optimizer_kind::adam;
    if (name == "adamw") return optimizer_kind::adamw;
    detail::fail("unknown optimizer '", name, "' (expected sgd, adam or adamw)");
}

/// Which optimizer, with its hyper-parameters. `weight_decay` is shared: SGD's and Adam's L2
/// term, AdamW's decoupled decay. An `sgd_options` converts implicitly (SGD is the default).
struct optimizer_options {
    optimizer_kind kind = optimizer_kind::sgd;
    float weight_decay = 1e-4f;
    // SGD
    float momentum = 0.9f;
    float dampening = 0.0f;
    bool nesterov = false;
    // Adam, AdamW (doubles: see adam_options)
    double beta1 = 0.9;
    double beta2 = 0.999;
    double epsilon = 1e-8;

    optimizer_options() = default;
    optimizer_options(const sgd_options& o)  // NOLINT: an SGD configuration is an optimizer configuration
        : kind(optimizer_kind::sgd), weight_decay(o.weight_decay), momentum(o.momentum), dampening(o.dampening),
          nesterov(o.nesterov) {}

    [[nodiscard]] static optimizer_options make_adam(const adam_options& o) {
        optimizer_options r;
        r.kind = o.decoupled ? optimizer_kind::adamw : optimizer_kind::adam;
        r.weight_decay = static_cast<float>(o.weight_decay);
        r.beta1 = o.beta1;
        r.beta2 = o.beta2;
        r.epsilon = o.epsilon;
        return r;
    }
    [[nodiscard]] sgd_options sgd() const { return {momentum, dampening, weight_decay, nesterov}; }
    [[nodiscard]] adam_options adam() const {
        return {beta1, beta2, epsilon, weight_decay, kind == optimizer_kind::adamw};
    }
};

template <Backend B>
[[nodiscard]] std::unique_ptr<optimizer<B>> make_optimizer(const optimizer_options& o) {
    if (o.kind == optimizer_kind::sgd) return std::make_unique<smile::sgd<B>>(o.sgd());
    return std::make_unique<smile::adam<B>>(o.adam());
}

}  // namespace smile
