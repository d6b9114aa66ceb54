#pragma once
/// @file
/// Fine-tuning methods for BERT sentence classification (the paper's Table 7):
///
/// - `text_finetune` (FT): L = CE(z(x), y).
/// - `text_mixup`: one λ ~ Beta(α, α) and one permutation per batch, sequences mixed at the
///   configured point (embeddings by default, or the pooled output), L = CE(z(x̃), Mix_λ(y)).
/// - `text_l2sp`: L = CE + (α/2)·Σ_{p ∉ classifier} ‖w_p − w_p⁰‖² with w⁰ the pretrained weights
///   (methods/l2sp.hpp's form, AdamW's decoupled weight decay still applies).
/// - `text_bss`: L = CE + η·Σ_{i≤k} σ_{−i}(F)² over the smallest singular values of the batch's
///   pooled outputs F (methods/bss.hpp's form), its gradient added at the pooled output.
/// - `text_smile`: SMILE's triplet on text. The teacher is the pretrained BERT in evaluation
///   mode (fixed: the paper's text experiment gives no teacher update), run on the clean batch:
///     L_MXP = CE(z(x̃), Mix_λ(y))
///     L_FE  = (1/n)‖f_S(x̃) − Mix_λ(f_T(x))‖²          f = the pooled [CLS] output (Eq. 4)
///     L_FC  = (1/n) Σ_i CE(z'(x̃)_i, Mix_λ(softmax(z''(x)))_i)
///     L     = L_MXP + γ_FE·L_FE + γ_FC·L_FC
///   where z'' is the teacher's pretraining head on the pooled output (`cls.seq_relationship`,
///   BERT's next-sentence classifier: the one pretraining head that reads the pooled output)
///   and z' the student's copy of it, trained with the student. A weight file without that
///   head turns L_FC off, and `describe()` says so.
///
/// Mixing the token embeddings makes f_S(x̃) the student's feature of a mixed input, which is
/// what SMILE's feature term distils; mixing the pooled output makes it Mix_λ(f_S(x)). docs/
/// methods.md, "SMILE on text", has the defaults and why.

#include <cmath>
#include <optional>
#include <smile/core/setting_text.hpp>
#include <smile/losses/feature_distance.hpp>
#include <smile/methods/bss.hpp>
#include <smile/methods/l2sp.hpp>
#include <smile/methods/regularizers.hpp>
#include <smile/methods/text/text_method.hpp>
#include <smile/mixup/mix_over_ranks.hpp>
#include <smile/mixup/mixup.hpp>
#include <string>
#include <utility>
#include <vector>

namespace smile {

template <Backend B>
class text_finetune : public text_method<B> {
public:
    using text_method<B>::text_method;
    [[nodiscard]] std::string name() const override { return "finetune"; }
    [[nodiscard]] bool data_parallel_ready() const override { return true; }

    step_report step(const text_batch& batch, std::int64_t iter) override {
        const double ce = this->forward_cross_entropy(batch);
        this->model_.backward(this->session_, this->d_logits_);
        return this->report(ce, {{"ce", ce}}, iter);
    }
};

struct text_mixup_options {
    mixup_options mix{0.2, true};
    text_mix_point point = text_mix_point::embeddings;
};

template <Backend B>
class text_mixup : public text_method<B> {
public:
    text_mixup(session<B>& s, rng& gen, bert_classifier<B> student, const text_training_options& o,
               const text_mixup_options& m)
        : text_method<B>(s, gen, std::move(student), o), mix_(m) {}
    [[nodiscard]] std::string name() const override { return "mixup"; }
    /// The plan permutes the global batch; the model mixes across ranks (models/bert/model.hpp).
    [[nodiscard]] bool data_parallel_ready() const override { return true; }

    step_report step(const text_batch& batch, std::int64_t iter) override {
        auto& s = this->session_;
        const mixup_plan plan = sample_mixup(this->rng_, mix_.mix, batch.global_size());
        this->model_.forward(s, batch.tokens, this->logits_, mode::train, &plan, mix_.point,
                             batch.share());
        const double mxp = cross_entropy(s, this->logits_, this->own_mixed_targets(batch, plan),
                                         this->targets_, this->d_logits_);
        this->model_.backward(s, this->d_logits_);
        return this->report(mxp, {{"mxp", mxp}, {"lambda", plan.lambda}}, iter);
    }

protected:
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> method_settings()
        const override {
        return {{"alpha", setting_text(mix_.mix.alpha)},
                {"fold_lambda", mix_.mix.fold ? "true" : "false"},
                {"mix_point", text_mix_point_name(mix_.point)}};
    }

private:
    text_mixup_options mix_;
};

template <Backend B>
class text_l2sp : public text_method<B> {
public:
    /// The student must hold the pretrained weights: they become the anchors w⁰.
    text_l2sp(session<B>& s, rng& gen, bert_classifier<B> student, const text_training_options& o,
              const l2sp_options& l)
        : text_method<B>(s, gen, std::move(student), o), o_(l) {
        SMILE_CHECK(l.alpha >= 0.0 && l.beta >= 0.0, "l2sp: alpha and beta must be non-negative");
        for (auto& [name, p] : parameters_of<B>(this->model_)) {
            if (l2sp_method<B>::is_head(name)) {
                heads_.push_back(p);
                continue;
            }
            anchors_.push_back({p, p->value.clone()});
        }
    }
    [[nodiscard]] std::string name() const override { return "l2sp"; }
    [[nodiscard]] bool data_parallel_ready() const override { return true; }

    step_report step(const text_batch& batch, std::int64_t iter) override {
        auto& s = this->session_;
        const double ce = this->forward_cross_entropy(batch);
        this->model_.backward(s, this->d_logits_);
        double sp = 0.0, head = 0.0;
        for (auto& [p, anchor] : anchors_) sp += l2_toward(s, *p, &anchor, o_.alpha);
        if (o_.beta > 0)
            for (auto* p : heads_) head += l2_toward(s, *p, nullptr, o_.beta);
        return this->report(ce + sp + head, {{"ce", ce}, {"l2sp", sp}, {"head_l2", head}}, iter);
    }

protected:
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> method_settings()
        const override {
        return {{"l2sp_alpha", setting_text(o_.alpha)}, {"l2sp_beta", setting_text(o_.beta)}};
    }

private:
    l2sp_options o_;
    std::vector<std::pair<parameter<B>*, tensor<B>>> anchors_;
    std::vector<parameter<B>*> heads_;
};

template <Backend B>
class text_bss : public text_method<B> {
public:
    text_bss(session<B>& s, rng& gen, bert_classifier<B> student, const text_training_options& o,
             const bss_options& b)
        : text_method<B>(s, gen, std::move(student), o), o_(b) {
        SMILE_CHECK(b.k >= 1 && b.eta >= 0, "bss: k must be at least 1 and eta non-negative");
    }
    [[nodiscard]] std::string name() const override { return "bss"; }
    [[nodiscard]] bool data_parallel_ready() const override { return true; }

    step_report step(const text_batch& batch, std::int64_t iter) override {
        auto& s = this->session_;
        auto& model = this->model_;
        const double ce = this->forward_cross_entropy(batch);
        const double shrinkage = shrinkage_(s, model.features(), o_);  // over the global batch
        model.backward(s, this->d_logits_, &shrinkage_.gradient());
        return this->report(ce + shrinkage, {{"ce", ce}, {"bss", shrinkage}}, iter);
    }

protected:
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> method_settings()
        const override {
        return {{"bss_eta", setting_text(o_.eta)}, {"bss_k", std::to_string(o_.k)}};
    }

private:
    bss_options o_;
    global_shrinkage<B> shrinkage_;
};

/// BERT's next-sentence head (`cls.seq_relationship`: weight [2, hidden], bias [2]) as read
/// from a weight file; text_smile's source head.
struct pretraining_head {
    std::vector<float> weight, bias;
    std::int64_t classes = 0;
};

struct text_smile_options {
    text_mixup_options mixing;
    float gamma_fe = 0.01f;
    float gamma_fc = 0.1f;
};

template <Backend B>
class text_smile : public text_method<B> {
public:
    /// `teacher` is the pretrained model (the student's starting point); `head` the pretraining
    /// head from the same file, or nothing (L_FC is then off).
    text_smile(session<B>& s, rng& gen, bert_classifier<B> student, bert_classifier<B> teacher,
               std::optional<pretraining_head> head, const text_training_options& o,
               const text_smile_options& so, std::string name = "smile")
        : text_method<B>(s, gen, std::move(student), o),
          teacher_(std::move(teacher)),
          o_(so),
          name_(std::move(name)) {
        SMILE_CHECK(so.gamma_fe >= 0.0f && so.gamma_fc >= 0.0f,
                    "smile: gamma_fe and gamma_fc must be non-negative");
        this->register_teacher(teacher_);
        const auto hidden = this->model_.bert().config().hidden_size;
        if (head && so.gamma_fc > 0.0f) {
            SMILE_CHECK(head->classes > 0 &&
                            head->weight.size() == std::size_t(head->classes * hidden) &&
                            head->bias.size() == std::size_t(head->classes),
                        "smile: the pretraining head cls.seq_relationship has ",
                        head->weight.size(), " weights and ", head->bias.size(), " biases for ",
                        head->classes, " classes of ", hidden, " features");
            source_ = std::make_unique<linear<B>>(s, gen, linear_options{hidden, head->classes});
            source_->set_name("source_fc");
            source_->weight().value.copy_from_host(head->weight);
            source_->bias().value.copy_from_host(head->bias);
            teacher_head_ =
                std::make_unique<linear<B>>(s, gen, linear_options{hidden, head->classes});
            teacher_head_->weight().value.copy_from_host(head->weight);
            teacher_head_->bias().value.copy_from_host(head->bias);
            // The source head trains with the student, under the same optimizer and groups.
            auto params = parameters_of<B>(this->model_);
            source_->visit_parameters("source_fc", [&](const std::string& n, parameter<B>& p) {
                params.emplace_back(n, &p);
            });
            this->optimizer_->attach_parameters(params);
        } else {
            fc_off_reason_ =
                so.gamma_fc > 0.0f
                    ? "off: the weights hold no pretraining head cls.seq_relationship for L_FC"
                    : "off: gamma_fc = 0";
        }
    }

    [[nodiscard]] std::string name() const override { return name_; }
    [[nodiscard]] bool has_source_head() const noexcept { return source_ != nullptr; }
    /// Why L_FC does not run ("" when it does).
    [[nodiscard]] const std::string& fc_off_reason() const noexcept { return fc_off_reason_; }

    /// The teacher's outputs are gathered and the global batch's mixed, the student mixes across
    /// ranks (models/bert/model.hpp): over N ranks the step is one process's.
    [[nodiscard]] bool data_parallel_ready() const override { return true; }

    step_report step(const text_batch& batch, std::int64_t iter) override {
        auto& s = this->session_;
        auto& ctx = s.context();
        auto& student = this->model_;
        // The teacher sees this rank's sequences; the plan permutes the global batch, so its
        // outputs are mixed across the ranks (mixup/mix_over_ranks.hpp).
        teacher_.forward(s, batch.tokens, teacher_logits_, mode::eval, nullptr,
                         text_mix_point::pooled, batch.share());
        const mixup_plan plan = sample_mixup(this->rng_, o_.mixing.mix, batch.global_size());
        const bool fe_on = o_.gamma_fe > 0.0f, fc_on = source_ != nullptr;
        const tensor<B>* teacher_mixed = nullptr;
        const tensor<B>* source_targets = nullptr;
        if (fe_on)
            teacher_mixed = &mix_over_ranks(s, plan, teacher_.bert().pooled(), gathered_, mixed_global_,
                                            teacher_mixed_);
        if (fc_on) {
            teacher_head_->forward(s, teacher_.bert().pooled(), teacher_source_, mode::eval);
            probabilities_.bind(ctx);
            probabilities_.resize(teacher_source_.shape());
            ops<B>::softmax(ctx, teacher_source_.view(), probabilities_.view(), false);
            source_targets = &mix_over_ranks(s, plan, probabilities_, gathered_, mixed_global_,
                                             source_targets_);
        }
        student.forward(s, batch.tokens, this->logits_, mode::train, &plan, o_.mixing.point,
                        batch.share());
        const double mxp = cross_entropy(s, this->logits_, this->own_mixed_targets(batch, plan),
                                         this->targets_, this->d_logits_);
        const tensor<B>* d_features = nullptr;
        double fe = 0.0, fc = 0.0;
        if (fe_on) {
            fe = distance(s, feature_distance::squared_mean, student.features(), *teacher_mixed,
                          feature_grad_, o_.gamma_fe);
            d_features = &feature_grad_;
        }
        if (fc_on) {
            source_->forward(s, student.features(), source_logits_, mode::train);
            fc = cross_entropy(s, source_logits_, *source_targets, source_grad_, o_.gamma_fc);
            source_->backward(s, source_grad_, &source_features_grad_);
            if (d_features != nullptr)
                ops<B>::add(ctx, 1.0f, feature_grad_.view(), 1.0f, source_features_grad_.view(),
                            feature_grad_.view());
            else
                d_features = &source_features_grad_;
        }
        student.backward(s, this->d_logits_, d_features);
        const double total = mxp + double(o_.gamma_fe) * fe + double(o_.gamma_fc) * fc;
        return this->report(total, {{"mxp", mxp}, {"fe", fe}, {"fc", fc}, {"lambda", plan.lambda}},
                            iter);
    }

    /// The student, the optimizer, and the source head, which trains with the student (the
    /// teacher is the pretrained file's, rebuilt on resume).
    void add_state(io::checkpoint_content<B>& c) override {
        text_method<B>::add_state(c);
        if (source_) c.add_model("source", *source_);
    }

protected:
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> method_settings()
        const override {
        return {{"alpha", setting_text(o_.mixing.mix.alpha)},
                {"fold_lambda", o_.mixing.mix.fold ? "true" : "false"},
                {"mix_point", text_mix_point_name(o_.mixing.point)},
                {"gamma_fe", setting_text(o_.gamma_fe)},
                {"gamma_fc", source_ ? setting_text(o_.gamma_fc) : fc_off_reason_},
                {"teacher", "pretrained, fixed, evaluation mode"}};
    }

private:
    bert_classifier<B> teacher_;
    text_smile_options o_;
    std::string name_;  ///< smile, or an ablation's name (smile-m-fe, smile-m-fc)
    std::unique_ptr<linear<B>> source_, teacher_head_;
    std::string fc_off_reason_;
    tensor<B> teacher_logits_, teacher_mixed_, teacher_source_, probabilities_, source_targets_;
    tensor<B> gathered_, mixed_global_;  // the global batch's teacher outputs, over ranks
    tensor<B> feature_grad_, source_logits_, source_grad_, source_features_grad_;
};

}  // namespace smile
