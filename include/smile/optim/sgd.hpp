#pragma once
/// @file
/// `sgd<B>`: stochastic gradient descent exactly as torch.optim.SGD (see `sgd_update` in
/// core/backend.hpp for the formula), one fused backend pass per parameter.
///
/// Per-parameter learning-rate and weight-decay multipliers are chosen by name with glob
/// patterns ("fc.*" ×10, "layer1.*" ×0.1, "*.bias" no decay); the last matching rule wins, and
/// parameters keep their layer's own multipliers when no rule matches. Momentum buffers are
/// created on a parameter's first step (PyTorch's "first step" uses the gradient itself).
/// Parameters without a fresh gradient are skipped, weight decay included (PyTorch skips
/// parameters whose .grad is None).

#include <fnmatch.h>

#include <cmath>

#include <string>
#include <vector>

#include <smile/core/session.hpp>
#include <smile/models/named_tensors.hpp>

namespace smile {

struct sgd_options {
    float momentum = 0.9f;
    float dampening = 0.0f;
    float weight_decay = 1e-4f;
    bool nesterov = false;
};

/// Multipliers for the parameters whose names match `pattern` (fnmatch glob).
struct parameter_rule {
    std::string pattern;
    float lr_mult = 1.0f;
    float wd_mult = 1.0f;
};

template <Backend B>
class sgd {
public:
    explicit sgd(const sgd_options& o = {}) : options_(o) {
        SMILE_CHECK(o.momentum >= 0.0f && o.dampening >= 0.0f && o.weight_decay >= 0.0f,
                    "sgd: momentum, dampening and weight decay must be non-negative");
        SMILE_CHECK(!o.nesterov || (o.momentum > 0.0f && o.dampening == 0.0f),
                    "sgd: Nesterov momentum requires a momentum and zero dampening");
    }

    /// Adds a multiplier rule; rules apply in order at `attach`, later ones win.
    void add_rule(parameter_rule rule) { rules_.push_back(std::move(rule)); }

    /// Takes `model`'s parameters (in visiting order) and applies the rules to their multipliers.
    template <class Model>
    void attach(Model& model) {
        attach_parameters(parameters_of<B>(model));
    }

    /// Takes the given named parameters (e.g. only a head) and applies the rules.
    void attach_parameters(const std::vector<std::pair<std::string, parameter<B>*>>& params) {
        entries_.clear();
        for (auto& [name, p] : params) {
            for (const auto& r : rules_)
                if (::fnmatch(r.pattern.c_str(), name.c_str(), 0) == 0) {
                    p->lr_mult = r.lr_mult;
                    p->wd_mult = r.wd_mult;
                }
            entries_.push_back({name, p, {}, false});
        }
    }

    /// One update of every attached parameter that has a fresh gradient, at learning rate `lr`.
    /// Returns how many parameters were updated.
    std::size_t step(session<B>& s, float lr) {
        SMILE_CHECK(!entries_.empty(), "sgd: no parameters attached");
        SMILE_CHECK(std::isfinite(lr) && lr >= 0.0f, "sgd: the learning rate must be finite and non-negative, got ", lr);
        std::size_t updated = 0;
        for (auto& e : entries_) {
            parameter<B>& p = *e.param;
            if (!p.has_fresh_grad() || p.lr_mult == 0.0f) {
                p.consume_grad();
                continue;
            }
            if (options_.momentum != 0.0f && e.momentum.empty()) {
                e.momentum = tensor<B>(s, p.shape());
                e.started = false;
            }
            sgd_update u{lr * p.lr_mult, options_.momentum, options_.dampening,
                         options_.weight_decay * p.wd_mult, options_.nesterov, !e.started};
            B::sgd_step(s.context(), u, p.value.view(), p.grad.view(),
                        options_.momentum != 0.0f ? e.momentum.view() : p.value.view());
            e.started = true;
            p.consume_grad();
            ++updated;
        }
        return updated;
    }

    /// Calls f(name, tensor) for every momentum buffer that exists ("momentum.<param name>").
    template <class F>
    void visit_state(F&& f) {
        for (auto& e : entries_)
            if (!e.momentum.empty()) f("momentum." + e.name, e.momentum);
    }

    /// Restores momentum buffers: `lookup(name)` returns the saved values (empty if absent);
    /// a parameter with a saved buffer continues as PyTorch's, one without starts afresh.
    template <class Lookup>
    void restore_state(session<B>& s, Lookup&& lookup) {
        for (auto& e : entries_) {
            const std::vector<float> values = lookup("momentum." + e.name);
            if (values.empty()) {
                e.momentum = tensor<B>();
                e.started = false;
                continue;
            }
            e.momentum = tensor<B>::from_host(s, e.param->shape(), values);
            e.started = true;
        }
    }

    /// Forgets the momentum of the parameters whose names match `pattern`.
    void reset_state(const std::string& pattern) {
        for (auto& e : entries_)
            if (::fnmatch(pattern.c_str(), e.name.c_str(), 0) == 0) {
                e.momentum = tensor<B>();
                e.started = false;
            }
    }

    [[nodiscard]] const sgd_options& options() const noexcept { return options_; }
    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

private:
    struct entry {
        std::string name;
        parameter<B>* param;
        tensor<B> momentum;
        bool started;
    };
    sgd_options options_;
    std::vector<parameter_rule> rules_;
    std::vector<entry> entries_;
};

}  // namespace smile
