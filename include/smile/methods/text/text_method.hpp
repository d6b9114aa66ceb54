#pragma once
/// @file
/// The common part of the methods that fine-tune a BERT classifier (models/bert/model.hpp) on
/// sentence classification: the student, AdamW with BERT's parameter groups (no weight decay on
/// biases and LayerNorm weights), the linear warm-up/decay schedule, clipping by global norm,
/// and one step per batch that reports every loss term by name, as the image methods do
/// (methods/method.hpp). The paper's recipe (Table 7): batch 24, 3 epochs, Adam(W) lr 2e-5.

#include <memory>
#include <smile/losses/cross_entropy.hpp>
#include <smile/methods/method.hpp>
#include <smile/models/bert/model.hpp>
#include <smile/optim/clip_grad_norm.hpp>
#include <smile/optim/lr_schedule.hpp>
#include <smile/optim/make_optimizer.hpp>
#include <string>
#include <utility>
#include <vector>

namespace smile {

/// A batch of sentences with their labels.
struct text_batch {
    token_batch tokens;
    std::vector<std::int64_t> labels;
};

struct text_training_options {
    optimizer_options optimizer = text_training_options::adamw();
    lr_schedule schedule{schedule_kind::linear, 2e-5f, 1, 0.1f, {}, 0};
    double max_grad_norm = 1.0;  ///< clip by global norm; 0 turns clipping off

    /// AdamW as transformers' fine-tuning scripts set it (weight decay 0.01, ε 1e-8).
    [[nodiscard]] static optimizer_options adamw() {
        optimizer_options o;
        o.kind = optimizer_kind::adamw;
        o.weight_decay = 0.01f;
        return o;
    }
};

template <Backend B>
class text_method {
public:
    text_method(session<B>& s, rng& gen, bert_classifier<B> student, const text_training_options& o)
        : session_(s),
          rng_(gen),
          model_(std::move(student)),
          parameters_(parameters_of<B>(model_)),
          optimizer_(make_optimizer<B>(o.optimizer)),
          options_(o) {
        SMILE_CHECK(o.max_grad_norm >= 0.0,
                    "text methods: max_grad_norm must be non-negative, got ", o.max_grad_norm);
        for (auto& rule : transformer_no_decay_rules()) optimizer_->add_rule(rule);
        optimizer_->attach_parameters(parameters_);
        model_.set_generator(&rng_);  // dropout's masks come from the run's generator
    }
    virtual ~text_method() = default;
    text_method(const text_method&) = delete;
    text_method& operator=(const text_method&) = delete;

    [[nodiscard]] virtual std::string name() const = 0;
    /// One optimizer step on `batch` at iteration `iter` (0-based).
    virtual step_report step(const text_batch& batch, std::int64_t iter) = 0;

    [[nodiscard]] bert_classifier<B>& model() noexcept { return model_; }

    /// Class predictions (arg-max of the logits) for `tokens`, in evaluation mode.
    [[nodiscard]] std::vector<std::int64_t> predict(const token_batch& tokens) {
        model_.forward(session_, tokens, logits_, mode::eval);
        const auto values = logits_.to_host();
        const auto k = static_cast<std::size_t>(logits_.shape().c);
        std::vector<std::int64_t> out(static_cast<std::size_t>(tokens.batch));
        for (std::size_t i = 0; i < out.size(); ++i)
            out[i] = std::max_element(values.begin() + std::ptrdiff_t(i * k),
                                      values.begin() + std::ptrdiff_t((i + 1) * k)) -
                     (values.begin() + std::ptrdiff_t(i * k));
        return out;
    }

protected:
    /// The student's training forward on the batch and its mean cross-entropy, whose gradient is
    /// left in `d_logits_` for the method's backward.
    double forward_cross_entropy(const text_batch& batch) {
        model_.forward(session_, batch.tokens, logits_, mode::train);
        return cross_entropy(session_, logits_, one_hot(batch.labels, logits_.shape().c), targets_,
                             d_logits_);
    }

    /// Clips the gradients (when asked), applies AdamW at the scheduled rate; returns that rate
    /// and the gradient norm before clipping.
    std::pair<double, double> apply_update(std::int64_t iter) {
        double norm = 0.0;
        if (options_.max_grad_norm > 0.0)
            norm = clip_grad_norm(session_, parameters_, options_.max_grad_norm);
        const float lr = options_.schedule.at(iter);
        optimizer_->step(session_, lr);
        return {lr, norm};
    }

    /// The report of a step: the total, the terms, the rate and the gradient norm.
    step_report report(double total, std::vector<std::pair<std::string, double>> terms,
                       std::int64_t iter) {
        const auto [lr, norm] = apply_update(iter);
        terms.emplace_back("grad_norm", norm);
        return {total, std::move(terms), lr};
    }

    session<B>& session_;
    rng& rng_;
    bert_classifier<B> model_;
    std::vector<std::pair<std::string, parameter<B>*>>
        parameters_;  ///< the student's, named once (clipping)
    std::unique_ptr<smile::optimizer<B>> optimizer_;
    text_training_options options_;
    tensor<B> logits_, targets_, d_logits_;
};

}  // namespace smile
