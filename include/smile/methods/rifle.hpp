#pragma once
/// @file
/// RIFLE (Li et al., ICML 2020): re-initialise the new classifier head at the end of each of K
/// equal periods except the last, which pushes the fine-tuning signal deeper into the backbone.
///
/// As the SMILE authors' runner (`FinetuneRIFLE`): after the update of iteration k, if
/// (k + 1) mod ⌊T/K⌋ = 0 and k + 1 < T, the head gets PyTorch's default Linear initialisation
/// (CUB: K = 2, re-init at T/2; Cars and Aircraft: K = 4). The head's momentum buffer is not
/// reset (neither the original code nor the runner resets it). With `mixup` the loss is the
/// mixup loss: the paper's "D-SMILE + RIFLE". docs/methods.md, "rifle".

#include <smile/methods/method.hpp>
#include <smile/mixup/mixup.hpp>

namespace smile {

struct rifle_options {
    std::int64_t periods = 2;
    bool mixup = false;
    mixup_options mix{0.2, true};
};

template <Backend B>
class rifle_method : public method<B> {
public:
    rifle_method(session<B>& s, rng& gen, classifier<B> student, const sgd_options& opt, const lr_schedule& schedule,
                 const rifle_options& o)
        : method<B>(s, gen, std::move(student), opt, schedule), o_(o) {
        SMILE_CHECK(o.periods >= 1 && schedule.total / o.periods >= 1, "rifle: ", o.periods, " periods do not fit ",
                    schedule.total, " iterations");
    }

    [[nodiscard]] std::string name() const override { return o_.mixup ? "dsmile-rifle" : "rifle"; }

    /// True when the head is re-initialised after iteration k.
    [[nodiscard]] bool reinitialises_after(std::int64_t k) const {
        const std::int64_t period = this->schedule_.total / o_.periods;
        return (k + 1) % period == 0 && k + 1 < this->schedule_.total;
    }

    step_report step(const data::host_batch& batch, std::int64_t iter) override {
        auto& s = this->session_;
        auto& student = this->model_;
        const tensor<B>& x = this->upload(batch);
        double loss = 0.0;
        if (o_.mixup) {
            const mixup_plan plan = sample_mixup(this->rng_, o_.mix, x.shape().n);
            mix(s, plan, x, mixed_);
            student.forward(s, mixed_, mode::train);
            loss = cross_entropy(s, student.logits(), mixed_one_hot(batch.labels, student.num_classes(), plan),
                                 this->targets_, this->dlogits_);
            student.backward(s, &this->dlogits_, nullptr);
        } else {
            loss = this->plain_cross_entropy(x, batch.labels);
        }
        const double lr = this->apply_update(iter);
        const bool reinit = reinitialises_after(iter);
        if (reinit) student.head().reset_parameters(this->rng_);
        return {loss, {{"ce", loss}, {"reinit", reinit ? 1.0 : 0.0}}, lr};
    }

    [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override {
        auto d = method<B>::describe();
        d.emplace_back("rifle_periods", std::to_string(o_.periods));
        d.emplace_back("mixup", o_.mixup ? "true" : "false");
        return d;
    }

private:
    rifle_options o_;
    tensor<B> mixed_;
};

}  // namespace smile
