#pragma once
/// @file
/// `method_precision<Model>`: the precision policy of a training method (core/precision.hpp) —
/// the student's precision, and the teacher's for the network that teaches or anchors the student
/// (SMILE's mean teacher, DELTA's source network), registered by the methods that have one. The
/// image and text method bases each hold one, so they apply, check and describe it the same way.

#include <smile/core/error.hpp>
#include <smile/core/precision.hpp>
#include <string>
#include <utility>
#include <vector>

namespace smile {

template <class Model>
class method_precision {
public:
    /// The network that takes the teacher precision; called once by a method's constructor.
    void register_teacher(Model& teacher) noexcept { teacher_ = &teacher; }
    [[nodiscard]] bool has_teacher() const noexcept { return teacher_ != nullptr; }
    [[nodiscard]] const precision_policy& policy() const noexcept { return policy_; }

    /// Sets `p` on `student` and the teacher (each refuses a precision the machine cannot run,
    /// naming itself). A teacher precision apart from the student's is refused for a method
    /// `method` without a teacher: it would do nothing.
    template <class Session>
    void apply(Session& s, Model& student, const precision_policy& p, const std::string& method) {
        SMILE_CHECK(teacher_ != nullptr || p.teacher == p.student, method,
                    ": has no teacher or source network, so a teacher precision (",
                    precision_name(p.teacher), ") other than the student's (",
                    precision_name(p.student), ") would do nothing");
        student.set_precision(s, p.student, "student");
        if (teacher_ != nullptr) teacher_->set_precision(s, p.teacher, "teacher");
        policy_ = p;
    }

    /// "precision" and, with a teacher, "teacher_precision", for a method's describe().
    void describe_into(std::vector<std::pair<std::string, std::string>>& settings) const {
        settings.emplace_back("precision", precision_name(policy_.student));
        if (teacher_ != nullptr)
            settings.emplace_back("teacher_precision", precision_name(policy_.teacher));
    }

private:
    Model* teacher_ = nullptr;
    precision_policy policy_;
};

}  // namespace smile
