#pragma once
/// @file
/// Plain fine-tuning ("L²" in the SMILE paper, after Donahue et al.): cross-entropy on the
/// clean batch, L² regularisation through the optimizer's weight decay (1e-4 on every
/// parameter in the authors' runner).
///
///   L = (1/n) Σ_i CE(z(x_i), y_i)
///
/// docs/methods.md, "finetune".

#include <smile/methods/method.hpp>
#include <smile/mixup/mixup.hpp>

namespace smile {

template <Backend B>
class finetune_method : public method<B> {
public:
    using method<B>::method;

    [[nodiscard]] std::string name() const override { return "finetune"; }
    [[nodiscard]] bool data_parallel_ready() const override { return true; }

    step_report step(const data::host_batch& batch, std::int64_t iter) override {
        const double ce = this->plain_cross_entropy(this->upload(batch), batch.labels);
        const double lr = this->apply_update(iter);
        return {ce, {{"ce", ce}}, lr};
    }
};

}  // namespace smile
