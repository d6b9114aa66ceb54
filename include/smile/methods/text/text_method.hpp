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
#include <smile/text/text_batch.hpp>
#include <smile/train/evaluate.hpp>
#include <string>
#include <utility>
#include <vector>

namespace smile {

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

    /// True when the method's step keeps its single-process meaning over several ranks, each with
    /// its share of the global batch (docs/distributed.md); the program refuses the others.
    [[nodiscard]] virtual bool data_parallel_ready() const { return false; }

    [[nodiscard]] bert_classifier<B>& model() noexcept { return model_; }
    [[nodiscard]] session<B>& sess() noexcept { return session_; }
    [[nodiscard]] smile::optimizer<B>& optimizer() noexcept { return *optimizer_; }
    /// The logits of the last forward (the training loop's accuracy).
    [[nodiscard]] const tensor<B>& logits() const noexcept { return logits_; }

    /// Everything a checkpoint must hold to resume this method exactly: the student and the
    /// optimizer's moments (and what a method adds: SMILE's source head).
    virtual void add_state(io::checkpoint_content<B>& c) {
        c.add_model("model", model_);
        c.set_optimizer(*optimizer_);
    }

    /// The configuration as "key=value" pairs (printed, logged, and compared on resume).
    [[nodiscard]] virtual std::vector<std::pair<std::string, std::string>> describe() const {
        auto settings = optimizer_->describe();
        settings.insert(settings.begin(), {"method", name()});
        precision_.describe_into(settings);
        settings.emplace_back("max_grad_norm", setting_text(options_.max_grad_norm));
        settings.emplace_back("warmup_steps", std::to_string(options_.schedule.warmup));
        for (auto& [k, v] : method_settings()) settings.emplace_back(std::move(k), std::move(v));
        return settings;
    }

    /// The compute precisions (core/precision.hpp) of the student and of the network that
    /// teaches or anchors it (SMILE's mean teacher, DELTA's source network), if the method has
    /// one; refused, naming which, when the backend or the machine cannot compute in one.
    void set_precision(const precision_policy& p) { precision_.apply(session_, model_, p, name()); }
    [[nodiscard]] const precision_policy& precision() const noexcept { return precision_.policy(); }
    /// Whether the method has a teacher or frozen source network (which takes p.teacher).
    [[nodiscard]] bool has_teacher() const noexcept { return precision_.has_teacher(); }

    /// Accuracy of the classifier on `split`, in evaluation mode, `batch_size` sentences at a
    /// time (each batch padded to its longest sentence).
    [[nodiscard]] evaluation evaluate(const encoded_text& split, std::int64_t batch_size = 64,
                                      bool with_confusion = false) {
        const std::int64_t k = model_.bert().config().num_labels;
        evaluation e;
        e.class_images.assign(std::size_t(k), 0);
        e.class_correct.assign(std::size_t(k), 0);
        if (with_confusion) e.confusion.assign(std::size_t(k * k), 0);
        // In a data-parallel session every rank must call this: each evaluates its contiguous
        // share of the split and the counts are summed (as the image evaluate()).
        communicator& c = session_.comm();
        const std::size_t begin = split.size() * std::size_t(c.rank()) / std::size_t(c.size()),
                          end = split.size() * std::size_t(c.rank() + 1) / std::size_t(c.size());
        std::vector<std::size_t> rows;
        for (std::size_t first = begin; first < end; first += std::size_t(batch_size)) {
            rows.clear();
            for (std::size_t i = first; i < std::min(end, first + std::size_t(batch_size)); ++i)
                rows.push_back(i);
            split.gather(rows, eval_batch_);
            model_.forward(session_, eval_batch_.tokens, eval_logits_, mode::eval);
            const auto logits = eval_logits_.to_host();
            for (std::size_t i = 0; i < rows.size(); ++i) {
                const std::int64_t label = eval_batch_.labels[i];
                SMILE_CHECK(label >= 0 && label < k, "evaluate: label ", label, " of a ", k,
                            "-class classifier");
                count_prediction(e, logits.data() + std::ptrdiff_t(i) * k, k, label);
            }
        }
        if (c.distributed()) {
            reduce_evaluation(c, e);
            return e;
        }
        e.top1 = e.images > 0 ? double(e.correct) / double(e.images) : 0.0;
        e.top5 = e.images > 0 ? double(e.correct_top5) / double(e.images) : 0.0;
        return e;
    }

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
    /// Called by a method with a teacher or frozen source network, once, in its constructor: that
    /// network then takes the teacher precision.
    void register_teacher(bert_classifier<B>& t) noexcept { precision_.register_teacher(t); }

    /// The method's own settings for describe() (none by default).
    [[nodiscard]] virtual std::vector<std::pair<std::string, std::string>> method_settings() const {
        return {};
    }

    /// The student's training forward on the batch and its mean cross-entropy, whose gradient is
    /// left in `d_logits_` for the method's backward.
    double forward_cross_entropy(const text_batch& batch) {
        model_.forward(session_, batch.tokens, logits_, mode::train, nullptr,
                       text_mix_point::pooled, batch.share());
        return cross_entropy(session_, logits_, one_hot(batch.labels, logits_.shape().c), targets_,
                             d_logits_);
    }

    /// The mixed one-hot targets of this rank's sequences: the plan permutes the global batch,
    /// so the global labels are mixed and this rank's rows kept (all of them with one process).
    [[nodiscard]] std::vector<float> own_mixed_targets(const text_batch& batch,
                                                       const mixup_plan& plan) const {
        return mixed_one_hot_rows(batch.global_labels(), logits_.shape().c, plan,
                                  batch.is_share() ? batch.first : 0, batch.size());
    }

    /// Clips the gradients (when asked), applies AdamW at the scheduled rate; returns that rate
    /// and the gradient norm before clipping. Over several ranks the gradients are averaged
    /// first, so that the norm and the clipping are the global batch's.
    std::pair<double, double> apply_update(std::int64_t iter) {
        optimizer_->average_now(session_);
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
    tensor<B> eval_logits_;  ///< evaluation's own, so that logits() stays the training step's
    text_batch eval_batch_;

private:
    method_precision<bert_classifier<B>> precision_;
};

}  // namespace smile
