#pragma once
/// @file
/// SMILE's mean teacher (algorithms.md §10, A1, A2).
///
/// The teacher is a copy of the pretrained network, including its source classifier `fc`,
/// and always runs in evaluation mode: inference primitives, its own (pretrained) BN running
/// statistics, nothing kept. Its parameters follow the student's by one of four policies:
///
/// | policy | rule (k = iteration, P = period)                         | source          |
/// |--------|----------------------------------------------------------|-----------------|
/// | ema    | if k mod P = 0: θ_T ← d·θ_T + (1 − d)·θ_S  (d = 0.999, P = 10) | authors' code (default) |
/// | copy   | if k mod P = 0: θ_T ← θ_S                                 | Algorithm 1 of the paper |
/// | fixed  | never (the pretrained teacher)                            | ablation "w/o T-Teacher" |
/// | latest | every step: θ_T ← θ_S                                      | ablation "w/o S-Teacher" |
///
/// ema averages parameters only (BN running statistics stay the pretrained ones, as in the
/// authors' code); copy and latest are ω_t ← ω_s, so they copy the BN running statistics too
/// (the teacher runs in evaluation mode, so a copy without them would pair the student's weights
/// with the pretrained statistics). Every update uses the student's weights before the step's
/// own update. When it happens relative to the teacher's forward differs: the authors' EMA runs
/// inside the loss, after the teacher's outputs were computed; Algorithm 1 updates the teacher
/// first, so copy and latest run before the forward (`updates_after_forward`), and `latest`
/// is then exactly the current student. The teacher's classifier stays
/// the pretrained `fc` (the code's behaviour, default) or follows the student's source head
/// `source_fc` by the same rule (the paper's text, "z''_src is updated from the student").

#include <smile/core/ops.hpp>
#include <smile/models/classifier.hpp>
#include <smile/models/named_tensors.hpp>

namespace smile {

enum class teacher_policy { ema, copy, fixed, latest };
enum class teacher_head { frozen_pretrained, from_student };

inline teacher_policy parse_teacher_policy(const std::string& s) {
    if (s == "ema") return teacher_policy::ema;
    if (s == "copy") return teacher_policy::copy;
    if (s == "fixed") return teacher_policy::fixed;
    if (s == "latest") return teacher_policy::latest;
    detail::fail("unknown teacher update '", s, "' (expected ema, copy, fixed or latest)");
}
inline teacher_head parse_teacher_head(const std::string& s) {
    if (s == "frozen") return teacher_head::frozen_pretrained;
    if (s == "student") return teacher_head::from_student;
    detail::fail("unknown teacher head '", s, "' (expected frozen or student)");
}

struct mean_teacher_options {
    teacher_policy policy = teacher_policy::ema;
    double decay = 0.999;
    std::int64_t period = 10;
    teacher_head head = teacher_head::frozen_pretrained;
};

template <Backend B>
class mean_teacher {
public:
    /// `pretrained`: the source network, its `fc` being the source classifier.
    mean_teacher(classifier<B> pretrained, const mean_teacher_options& o) : model_(std::move(pretrained)), o_(o) {
        SMILE_CHECK(o.decay >= 0.0 && o.decay <= 1.0, "mean teacher: the EMA decay must be in [0, 1], got ", o.decay);
        SMILE_CHECK(o.period >= 1, "mean teacher: the update period must be at least 1, got ", o.period);
    }

    /// Pairs the teacher's parameters with the student's by name: backbone to backbone, and
    /// when the head follows the student, the teacher's fc to the student's source_fc.
    void attach(classifier<B>& student) {
        pairs_.clear();
        std::map<std::string, parameter<B>*> mine;
        for (auto& [name, p] : parameters_of<B>(model_)) mine[name] = p;
        for (auto& [name, p] : parameters_of<B>(student)) {
            std::string target = name;
            if (name.rfind("fc.", 0) == 0) continue;  // the student's target head has no counterpart
            if (name.rfind("source_fc.", 0) == 0) {
                if (o_.head != teacher_head::from_student) continue;
                target = "fc." + name.substr(10);
            }
            const auto it = mine.find(target);
            SMILE_CHECK(it != mine.end(), "mean teacher: the teacher has no parameter '", target, "' for the student's '", name, "'");
            check_shape("mean teacher " + target, it->second->shape(), p->shape());
            pairs_.emplace_back(it->second, p);
        }
        SMILE_CHECK(!pairs_.empty(), "mean teacher: no parameters in common with the student");
        // BN running statistics, for the copy policies: every teacher buffer but the head's.
        std::map<std::string, tensor<B>*> student_buffers;
        for (const auto& t : state_of<B>(student))
            if (t.param == nullptr) student_buffers[t.name] = t.value;
        for (const auto& t : state_of<B>(model_)) {
            if (t.param != nullptr || t.name.rfind("fc.", 0) == 0) continue;
            const auto it = student_buffers.find(t.name);
            SMILE_CHECK(it != student_buffers.end(), "mean teacher: the student has no buffer '", t.name, "'");
            check_shape("mean teacher buffer " + t.name, t.value->shape(), it->second->shape());
            buffer_pairs_.emplace_back(t.value, it->second);
        }
    }

    /// True for the authors' EMA (update after the teacher's forward of the step), false for
    /// the paper's copy policies (update first). fixed never updates.
    [[nodiscard]] bool updates_after_forward() const noexcept { return o_.policy == teacher_policy::ema; }

    /// The teacher's forward on the clean batch (evaluation mode).
    void forward(session<B>& s, const tensor<B>& x) { model_.forward(s, x, mode::eval); }

    /// Applies the policy at iteration `k` (see the file comment); true if the teacher changed.
    bool update(session<B>& s, std::int64_t k) {
        SMILE_CHECK(!pairs_.empty(), "mean teacher: attach the student first");
        auto& ctx = s.context();
        switch (o_.policy) {
            case teacher_policy::fixed: return false;
            case teacher_policy::latest:
                copy_student(ctx);
                return true;
            case teacher_policy::copy:
                if (k % o_.period != 0) return false;
                copy_student(ctx);
                return true;
            case teacher_policy::ema:
                if (k % o_.period != 0) return false;
                for (auto [t, st] : pairs_)
                    ops<B>::add(ctx, static_cast<float>(1.0 - o_.decay), st->value.view(),
                                static_cast<float>(o_.decay), t->value.view(), t->value.view());
                return true;
        }
        return false;
    }

    [[nodiscard]] classifier<B>& model() noexcept { return model_; }
    [[nodiscard]] const mean_teacher_options& options() const noexcept { return o_; }

private:
    /// ω_t ← ω_s: parameters and BN running statistics.
    void copy_student(typename B::context& ctx) {
        for (auto [t, st] : pairs_) ops<B>::copy(ctx, st->value.view(), t->value.view());
        for (auto [t, st] : buffer_pairs_) ops<B>::copy(ctx, st->view(), t->view());
    }

    classifier<B> model_;
    mean_teacher_options o_;
    std::vector<std::pair<parameter<B>*, parameter<B>*>> pairs_;  // (teacher, student)
    std::vector<std::pair<tensor<B>*, tensor<B>*>> buffer_pairs_;  // (teacher, student) running statistics
};

}  // namespace smile
