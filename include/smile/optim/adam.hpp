#pragma once
/// @file
/// `adam<B>`: Adam and AdamW exactly as torch.optim.Adam and torch.optim.AdamW (amsgrad off;
/// see `adam_update` in core/backend.hpp for the formula), one fused backend pass per
/// parameter. State per parameter: the moments "exp_avg" and "exp_avg_sq" and the step count
/// that the bias correction uses, which advances only when the parameter is updated.
///
/// Weight decay: Adam adds weight_decay·w to the gradient (an L2 penalty, which the moments then
/// rescale); AdamW decays the weight directly, w ← w·(1 − lr·weight_decay), before the update
/// (Loshchilov & Hutter's decoupled decay). A parameter's wd multiplier scales either.

#include <smile/core/ops.hpp>
#include <smile/core/setting_text.hpp>
#include <smile/optim/optimizer.hpp>

namespace smile {

/// Doubles, as PyTorch's hyper-parameters are Python floats: 1 − β2 for β2 = 0.999 then rounds
/// as PyTorch's does (a float β2 would be 1.3e-5 off).
struct adam_options {
    double beta1 = 0.9;
    double beta2 = 0.999;
    double epsilon = 1e-8;
    double weight_decay = 0.0;
    bool decoupled = false;  ///< true: AdamW
};

template <Backend B>
class adam final : public optimizer<B> {
public:
    explicit adam(const adam_options& o = {}) : options_(o) {
        SMILE_CHECK(o.beta1 >= 0.0 && o.beta1 < 1.0 && o.beta2 >= 0.0 && o.beta2 < 1.0, name(),
                    ": beta1 and beta2 must lie in [0, 1), got ", o.beta1, " and ", o.beta2);
        SMILE_CHECK(o.epsilon > 0.0 && std::isfinite(o.epsilon), name(), ": epsilon must be positive, got ", o.epsilon);
        SMILE_CHECK(o.weight_decay >= 0.0 && std::isfinite(o.weight_decay), name(),
                    ": weight decay must be non-negative, got ", o.weight_decay);
    }

    [[nodiscard]] std::string name() const override { return options_.decoupled ? "adamw" : "adam"; }
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override {
        return {{"optimizer", name()},
                {"beta1", setting_text(options_.beta1)},
                {"beta2", setting_text(options_.beta2)},
                {"epsilon", setting_text(options_.epsilon)},
                {"weight_decay", setting_text(options_.weight_decay)}};
    }
    [[nodiscard]] const adam_options& options() const noexcept { return options_; }

private:
    using entry = typename optimizer<B>::entry;

    [[nodiscard]] const std::vector<std::string>& slot_names() const override {
        static const std::vector<std::string> slots{"exp_avg", "exp_avg_sq"};
        return slots;
    }

    void update(session<B>& s, entry& e, float lr) override {
        parameter<B>& p = *e.param;
        const auto u = adam_update::at(e.steps, lr, options_.beta1, options_.beta2, options_.epsilon,
                                       options_.weight_decay * p.wd_mult, options_.decoupled);
        ops<B>::adam_step(s.context(), u, p.value.view(), p.grad.view(), e.slots[0].view(),
                          e.slots[1].view());
    }

    adam_options options_;
};

}  // namespace smile
