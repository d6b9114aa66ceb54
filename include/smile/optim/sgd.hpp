#pragma once
/// @file
/// `sgd<B>`: stochastic gradient descent exactly as torch.optim.SGD (see `sgd_update` in
/// core/backend.hpp for the formula), one fused backend pass per parameter. Its state is one
/// momentum buffer per parameter ("momentum.<name>" in a checkpoint), none without momentum;
/// a buffer's first update uses the gradient itself, as PyTorch's does.

#include <smile/core/ops.hpp>
#include <smile/core/setting_text.hpp>
#include <smile/optim/optimizer.hpp>

namespace smile {

struct sgd_options {
    float momentum = 0.9f;
    float dampening = 0.0f;
    float weight_decay = 1e-4f;
    bool nesterov = false;
};

template <Backend B>
class sgd final : public optimizer<B> {
public:
    explicit sgd(const sgd_options& o = {}) : options_(o) {
        SMILE_CHECK(o.momentum >= 0.0f && o.dampening >= 0.0f && o.weight_decay >= 0.0f,
                    "sgd: momentum, dampening and weight decay must be non-negative");
        SMILE_CHECK(!o.nesterov || (o.momentum > 0.0f && o.dampening == 0.0f),
                    "sgd: Nesterov momentum requires a momentum and zero dampening");
        if (o.momentum != 0.0f) slots_.emplace_back("momentum");
    }

    [[nodiscard]] std::string name() const override { return "sgd"; }
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override {
        return {{"optimizer", name()},
                {"momentum", setting_text(options_.momentum)},
                {"dampening", setting_text(options_.dampening)},
                {"weight_decay", setting_text(options_.weight_decay)},
                {"nesterov", options_.nesterov ? "true" : "false"}};
    }
    [[nodiscard]] const sgd_options& options() const noexcept { return options_; }

private:
    using entry = typename optimizer<B>::entry;

    [[nodiscard]] const std::vector<std::string>& slot_names() const override { return slots_; }

    void update(session<B>& s, entry& e, float lr) override {
        parameter<B>& p = *e.param;
        const sgd_update u{lr, options_.momentum, options_.dampening, options_.weight_decay * p.wd_mult,
                           options_.nesterov, e.steps == 1};
        ops<B>::sgd_step(s.context(), u, p.value.view(), p.grad.view(),
                         e.slots.empty() ? p.value.view() : e.slots.front().view());
    }

    sgd_options options_;
    std::vector<std::string> slots_;
};

}  // namespace smile
