#pragma once
/// @file
/// SMILE: self-distilled mixup for transfer learning (Li, Xiong, Xu, Dou, 2021).
///
/// Each step, with one λ ~ Beta(α, α) (folded to ≥ 0.5) and one permutation for all terms:
///
///   teacher on the clean batch x:    F_T = FE(x; ω_t) (the layer4 map), z''(x) = teacher fc logits
///   student on x̃ = Mix_λ(x):          F_S = FE(x̃; ω), z(x̃) target logits, z'(x̃) source-head logits
///   L_MXP = λ·CE(z(x̃), y) + (1 − λ)·CE(z(x̃), y[perm])
///   L_FE  = ‖F_S − Mix_λ(F_T)‖_F / (h·w)                      (authors' code, default)
///         | (1/n)‖f_S − Mix_λ(f_T)‖² on pooled features         (paper, Eq. 4)
///   L_FC  = (1/n) Σ_i CE(z'(x̃_i), Mix_λ(softmax(z''(x)))_i)   (authors' code, default)
///         | (1/n)‖z'(x̃) − Mix_λ(z''(x))‖²                      (paper, Eq. 5)
///   L_Tri = L_MXP + γ_FE·L_FE + γ_FC·L_FC,   γ_FE = 0.01, γ_FC = 0.1
///
/// L_MXP replaces the clean cross-entropy of Eq. 2 (as in the code) unless `include_clean_ce`;
/// `clean_tail` trains the last K iterations with plain cross-entropy (the Paddle port's 1000).
/// The mean teacher (mean_teacher.hpp) is updated with the student's pre-step weights: after
/// its forward for the authors' EMA, before it for the paper's copy and `latest` policies.
/// The Table 3 ablations: "FT w/ M-FE" is γ_FC = 0, "FT w/ M-FC" is γ_FE = 0, "w/o S-Teacher"
/// the `latest` teacher policy, "w/o T-Teacher" the `fixed` one. docs/methods.md, "smile".

#include <smile/core/ops.hpp>
#include <smile/losses/feature_distance.hpp>
#include <smile/methods/mean_teacher.hpp>
#include <smile/methods/method.hpp>
#include <smile/mixup/mixup.hpp>

namespace smile {

enum class fc_loss { soft_ce, squared_l2 };

struct smile_options {
    float gamma_fe = 0.01f;
    float gamma_fc = 0.1f;
    feature_distance fe_distance = feature_distance::frobenius_over_area;
    bool fe_on_pooled = false;  ///< L_FE on pooled features (the paper) instead of the layer4 map
    fc_loss fc = fc_loss::soft_ce;
    mean_teacher_options teacher;
    bool include_clean_ce = false;
    std::int64_t clean_tail = 0;
};

template <Backend B>
class smile_method : public method<B> {
public:
    /// `student` needs a source head initialised from the pretrained fc; `teacher` is the
    /// pretrained network whose fc is that source classifier.
    smile_method(session<B>& s, rng& gen, classifier<B> student, classifier<B> teacher, const optimizer_options& opt,
                 const lr_schedule& schedule, const smile_options& o, const mixup_options& mix,
                 std::string name = "smile")
        : method<B>(s, gen, std::move(student), opt, schedule), teacher_(std::move(teacher), o.teacher), o_(o), mix_(mix),
          name_(std::move(name)) {
        SMILE_CHECK(this->model_.has_source_head(), name_, ": the student needs a source head (source_fc)");
        SMILE_CHECK(teacher_.model().num_classes() == this->model_.source_classes(), name_, ": the teacher's fc has ",
                    teacher_.model().num_classes(), " classes but the student's source head ", this->model_.source_classes());
        SMILE_CHECK(o.gamma_fe >= 0 && o.gamma_fc >= 0, name_, ": gamma_fe and gamma_fc must be non-negative");
        SMILE_CHECK(o.clean_tail >= 0, name_, ": clean_tail must be non-negative");
        teacher_.attach(this->model_);
        this->register_teacher(teacher_.model());
    }

    [[nodiscard]] std::string name() const override { return name_; }
    /// The teacher's outputs are gathered and the global batch mixed (step); the teacher's
    /// updates follow the student, the same on every rank.
    [[nodiscard]] bool data_parallel_ready() const override { return true; }

    step_report step(const data::host_batch& batch, std::int64_t iter) override {
        auto& s = this->session_;
        auto& student = this->model_;
        const tensor<B>& x = this->upload(batch);
        if (o_.clean_tail > 0 && iter >= this->schedule_.total - o_.clean_tail) {
            const double ce = this->plain_cross_entropy(x, batch.labels);
            return {ce, {{"ce", ce}, {"mxp", 0.0}, {"fe", 0.0}, {"fc", 0.0}}, this->apply_update(iter)};
        }
        // The paper's copy policies (Algorithm 1) update the teacher before the loss, so that
        // `latest` is the current student; the authors' EMA runs after the teacher's forward.
        if (!teacher_.updates_after_forward()) teacher_.update(s, iter);
        teacher_.forward(s, x);
        // Over several ranks the teacher sees only this rank's rows; its outputs are gathered so
        // that the partners drawn from the global batch are at hand, the global batch is mixed,
        // and this rank trains on its rows of it (method.hpp). With one rank nothing moves.
        const std::int64_t rows = x.shape().n;
        const tensor<B>& global_x = this->upload_global(batch);
        const mixup_plan plan = sample_mixup(this->rng_, mix_, global_x.shape().n);
        const bool need_map = o_.gamma_fe > 0 && !o_.fe_on_pooled;
        const bool need_pooled = o_.gamma_fe > 0 && o_.fe_on_pooled;
        if (need_map || need_pooled) {
            const tensor<B>& features =
                need_map ? teacher_.model().feature_map() : teacher_.model().pooled();
            mix(s, plan, this->gathered(features, gathered_features_), teacher_mixed_);
        }
        if (o_.gamma_fc > 0) {
            if (o_.fc == fc_loss::soft_ce) {
                probabilities_.bind(s.context());
                probabilities_.resize(teacher_.model().logits().shape());
                ops<B>::softmax(s.context(), teacher_.model().logits().view(),
                                probabilities_.view(), false);
                mix(s, plan, this->gathered(probabilities_, gathered_logits_), source_targets_);
            } else {
                mix(s, plan, this->gathered(teacher_.model().logits(), gathered_logits_),
                    source_targets_);
            }
        }
        if (teacher_.updates_after_forward()) teacher_.update(s, iter);
        const tensor<B>& teacher_features =
            need_map || need_pooled ? this->own_rows(teacher_mixed_, rows, own_features_)
                                    : teacher_mixed_;
        const tensor<B>& source_targets =
            o_.gamma_fc > 0 ? this->own_rows(source_targets_, rows, own_source_targets_)
                            : source_targets_;

        // Student on the mixed batch: the three terms.
        mix(s, plan, global_x, mixed_);
        student.forward(s, this->own_rows(mixed_, rows, own_input_), mode::train);
        const double mxp = cross_entropy(s, student.logits(), this->own_mixed_targets(batch, plan),
                                         this->targets_, this->dlogits_);
        double fe = 0.0, fc = 0.0;
        if (need_map) {
            fe = distance(s, o_.fe_distance, student.feature_map(), teacher_features, feature_grad_,
                          o_.gamma_fe);
            student.feature_tap().inject(s, 1.0f, feature_grad_);
        }
        if (need_pooled) {
            fe = distance(s, o_.fe_distance, student.pooled(), teacher_features, feature_grad_,
                          o_.gamma_fe);
            student.pooled_tap().inject(s, 1.0f, feature_grad_);
        }
        if (o_.gamma_fc > 0) {
            fc = o_.fc == fc_loss::soft_ce
                     ? cross_entropy(s, student.source_logits(), source_targets, source_grad_,
                                     o_.gamma_fc)
                     : distance(s, feature_distance::squared_mean, student.source_logits(),
                                source_targets, source_grad_, o_.gamma_fc);
        }
        student.backward(s, &this->dlogits_, o_.gamma_fc > 0 ? &source_grad_ : nullptr);
        double clean = 0.0;
        if (o_.include_clean_ce) clean = add_clean_cross_entropy(x, batch.labels);
        const double total = mxp + o_.gamma_fe * fe + o_.gamma_fc * fc + clean;
        std::vector<std::pair<std::string, double>> terms{{"mxp", mxp}, {"fe", fe}, {"fc", fc}, {"lambda", plan.lambda}};
        if (o_.include_clean_ce) terms.emplace_back("clean_ce", clean);
        return {total, std::move(terms), this->apply_update(iter)};
    }

    void add_state(io::checkpoint_content<B>& c) override {
        method<B>::add_state(c);
        c.add_model("teacher", teacher_.model());
    }

    [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override {
        auto d = method<B>::describe();
        const auto& t = o_.teacher;
        d.insert(d.end(), {{"alpha", setting_text(mix_.alpha)},
                           {"fold_lambda", mix_.fold ? "true" : "false"},
                           {"gamma_fe", setting_text(o_.gamma_fe)},
                           {"gamma_fc", setting_text(o_.gamma_fc)},
                           {"fe_distance", o_.fe_distance == feature_distance::frobenius_over_area ? "frobenius/hw" : "squared-mean"},
                           {"fe_features", o_.fe_on_pooled ? "pooled" : "layer4-map"},
                           {"fc_loss", o_.fc == fc_loss::soft_ce ? "soft-ce" : "squared-l2"},
                           {"teacher_update", t.policy == teacher_policy::ema ? "ema" : t.policy == teacher_policy::copy ? "copy"
                                              : t.policy == teacher_policy::fixed ? "fixed" : "latest"},
                           {"teacher_decay", setting_text(t.decay)},
                           {"teacher_period", setting_text(t.period)},
                           {"teacher_head", t.head == teacher_head::frozen_pretrained ? "frozen" : "student"},
                           {"include_clean_ce", o_.include_clean_ce ? "true" : "false"},
                           {"clean_tail", setting_text(o_.clean_tail)}});
        return d;
    }

    [[nodiscard]] mean_teacher<B>& teacher() noexcept { return teacher_; }

private:
    /// Eq. 2's clean term: a second forward/backward on the clean batch whose gradients are
    /// added to the triplet's (the source head gets none from it).
    double add_clean_cross_entropy(const tensor<B>& x, const std::vector<std::int64_t>& labels) {
        auto& s = this->session_;
        const auto params = parameters_of<B>(this->model_);
        shadow_.resize(params.size());
        for (std::size_t i = 0; i < params.size(); ++i) shadow_[i].assign(params[i].second->grad);
        const double ce = this->plain_cross_entropy(x, labels);
        for (std::size_t i = 0; i < params.size(); ++i) {
            if (params[i].first.rfind("source_fc.", 0) == 0) continue;  // untouched by the clean pass
            auto& g = params[i].second->grad;
            ops<B>::add(s.context(), 1.0f, shadow_[i].view(), 1.0f, g.view(), g.view());
        }
        return ce;
    }

    mean_teacher<B> teacher_;
    smile_options o_;
    mixup_options mix_;
    std::string name_;
    tensor<B> mixed_, teacher_mixed_, probabilities_, source_targets_, feature_grad_, source_grad_;
    tensor<B> gathered_features_, gathered_logits_, own_input_, own_features_,
        own_source_targets_;  // data-parallel steps
    std::vector<tensor<B>> shadow_;
};

}  // namespace smile
