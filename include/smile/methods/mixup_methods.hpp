#pragma once
/// @file
/// Sample-to-label mixup baselines.
///
/// mixup (the paper's D-SMILE, the authors' `FinetuneMixup`): the student sees
/// x̃ = λ·x + (1 − λ)·x[perm] and is trained with
///   L = λ·CE(z(x̃), y) + (1 − λ)·CE(z(x̃), y[perm]),   λ ~ Beta(0.2, 0.2) folded to ≥ 0.5.
///
/// cutmix (`FinetuneCutMix`): with probability 0.5, the box of x[perm] is pasted into x and λ
/// is corrected to the area kept (cutmix.hpp); L as above; otherwise plain CE. β = 0.2, no folding.
///
/// docs/methods.md, "mixup" and "cutmix".

#include <smile/methods/method.hpp>
#include <smile/mixup/cutmix.hpp>

namespace smile {

template <Backend B>
class mixup_method : public method<B> {
public:
    mixup_method(session<B>& s, rng& gen, classifier<B> student, const optimizer_options& opt, const lr_schedule& schedule,
                 const mixup_options& mix)
        : method<B>(s, gen, std::move(student), opt, schedule), mix_(mix) {}

    [[nodiscard]] std::string name() const override { return "mixup"; }
    [[nodiscard]] bool data_parallel_ready() const override { return true; }

    step_report step(const data::host_batch& batch, std::int64_t iter) override {
        auto& s = this->session_;
        // Over several ranks: the global batch mixed, this rank's rows of it (method.hpp).
        const tensor<B>& x = this->upload_global(batch);
        const mixup_plan plan = sample_mixup(this->rng_, mix_, x.shape().n);
        mix(s, plan, x, mixed_);
        this->model_.forward(s, this->own_rows(mixed_, batch.size(), own_), mode::train);
        const double loss =
            cross_entropy(s, this->model_.logits(), this->own_mixed_targets(batch, plan),
                          this->targets_, this->dlogits_);
        this->model_.backward(s, &this->dlogits_, nullptr);
        const double lr = this->apply_update(iter);
        return {loss, {{"mixup_ce", loss}, {"lambda", plan.lambda}}, lr};
    }

    [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override {
        auto d = method<B>::describe();
        d.emplace_back("alpha", setting_text(mix_.alpha));
        d.emplace_back("fold_lambda", mix_.fold ? "true" : "false");
        return d;
    }

private:
    mixup_options mix_;
    tensor<B> mixed_, own_;
};

template <Backend B>
class cutmix_method : public method<B> {
public:
    cutmix_method(session<B>& s, rng& gen, classifier<B> student, const optimizer_options& opt, const lr_schedule& schedule,
                  double beta, double probability)
        : method<B>(s, gen, std::move(student), opt, schedule), beta_(beta), probability_(probability) {}

    [[nodiscard]] std::string name() const override { return "cutmix"; }
    [[nodiscard]] bool data_parallel_ready() const override { return true; }

    step_report step(const data::host_batch& batch, std::int64_t iter) override {
        auto& s = this->session_;
        // Over several ranks: the global batch pasted, this rank's rows of it (method.hpp).
        const tensor<B>& x = this->upload_global(batch);
        if (!this->rng_.bernoulli(probability_)) {
            const double ce =
                this->plain_cross_entropy(this->own_rows(x, batch.size(), own_), batch.labels);
            return {ce, {{"ce", ce}, {"lambda", 1.0}, {"cutmix", 0.0}}, this->apply_update(iter)};
        }
        const cutmix_plan plan = sample_cutmix(this->rng_, beta_, x.shape().n, x.shape().h, x.shape().w);
        apply_cutmix(s, plan, x, mixed_);
        this->model_.forward(s, this->own_rows(mixed_, batch.size(), own_), mode::train);
        const double loss =
            cross_entropy(s, this->model_.logits(), this->own_mixed_targets(batch, plan.mix),
                          this->targets_, this->dlogits_);
        this->model_.backward(s, &this->dlogits_, nullptr);
        return {loss, {{"ce", loss}, {"lambda", plan.mix.lambda}, {"cutmix", 1.0}}, this->apply_update(iter)};
    }

    [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override {
        auto d = method<B>::describe();
        d.emplace_back("beta", setting_text(beta_));
        d.emplace_back("cutmix_prob", setting_text(probability_));
        return d;
    }

private:
    double beta_, probability_;
    tensor<B> mixed_, own_;
};

}  // namespace smile
