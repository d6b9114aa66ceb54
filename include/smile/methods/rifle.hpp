#pragma once
/// @file
/// RIFLE (Li et al., ICML 2020): re-initialise the new classifier head at the end of each of K
/// equal periods except the last, which pushes the fine-tuning signal deeper into the backbone.
///
/// As the original code and the SMILE authors' runner (`FinetuneRIFLE`), the re-initialisation
/// happens at the start of an iteration, before its forward, backward and update: at iteration
/// k > 0 with k mod ⌊T/K⌋ = 0, the head gets PyTorch's default Linear initialisation (CUB:
/// K = 2, re-init at T/2; Cars and Aircraft: K = 4), so the step that follows already trains the
/// new head. The head's momentum buffer is not reset (neither the original code nor the runner
/// resets it). With a mixup setting the loss is the mixup loss: the paper's "D-SMILE + RIFLE".
/// docs/methods.md, "rifle".

#include <optional>

#include <smile/methods/method.hpp>
#include <smile/mixup/mixup.hpp>

namespace smile {

struct rifle_options {
    std::int64_t periods = 2;
};

template <Backend B>
class rifle_method : public method<B> {
public:
    rifle_method(session<B>& s, rng& gen, classifier<B> student, const optimizer_options& opt, const lr_schedule& schedule,
                 const rifle_options& o, std::optional<mixup_options> mix = std::nullopt)
        : method<B>(s, gen, std::move(student), opt, schedule), o_(o), mix_(mix) {
        SMILE_CHECK(o.periods >= 1 && schedule.total / o.periods >= 1, "rifle: ", o.periods, " periods do not fit ",
                    schedule.total, " iterations");
    }

    [[nodiscard]] std::string name() const override { return mix_ ? "dsmile-rifle" : "rifle"; }
    /// The re-initialisation draws from the run's generator, the same on every rank.
    [[nodiscard]] bool data_parallel_ready() const override { return true; }

    /// True when the head is re-initialised at the start of iteration k.
    [[nodiscard]] bool reinitialises_at(std::int64_t k) const {
        const std::int64_t period = this->schedule_.total / o_.periods;
        return k > 0 && k % period == 0 && k < this->schedule_.total;
    }

    step_report step(const data::host_batch& batch, std::int64_t iter) override {
        auto& s = this->session_;
        auto& student = this->model_;
        const bool reinit = reinitialises_at(iter);
        if (reinit) student.head().reset_parameters(this->rng_);
        double loss = 0.0, lambda = 1.0;
        if (mix_) {
            // Over several ranks: the global batch mixed, this rank's rows of it (method.hpp).
            const tensor<B>& x = this->upload_global(batch);
            const mixup_plan plan = sample_mixup(this->rng_, *mix_, x.shape().n);
            lambda = plan.lambda;
            mix(s, plan, x, mixed_);
            student.forward(s, this->own_rows(mixed_, batch.size(), own_), mode::train);
            loss = cross_entropy(s, student.logits(), this->own_mixed_targets(batch, plan),
                                 this->targets_, this->dlogits_);
            student.backward(s, &this->dlogits_, nullptr);
        } else {
            loss = this->plain_cross_entropy(this->upload(batch), batch.labels);
        }
        const double lr = this->apply_update(iter);
        std::vector<std::pair<std::string, double>> terms{{"ce", loss}, {"reinit", reinit ? 1.0 : 0.0}};
        if (mix_) terms.emplace_back("lambda", lambda);
        return {loss, std::move(terms), lr};
    }

    [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override {
        auto d = method<B>::describe();
        d.emplace_back("rifle_periods", setting_text(o_.periods));
        d.emplace_back("mixup", mix_ ? "true" : "false");
        if (mix_) d.emplace_back("alpha", setting_text(mix_->alpha));
        return d;
    }

private:
    rifle_options o_;
    std::optional<mixup_options> mix_;
    tensor<B> mixed_, own_;
};

}  // namespace smile
