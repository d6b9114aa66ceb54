#pragma once
/// @file
/// `precision_scope<B>`: sets the context's compute precision for a block (a model's forward or
/// backward) and restores the previous one when the block ends, exceptions included. Scopes nest:
/// a float32 student's step that runs a bf16 teacher inside returns to float32 afterwards.
///
/// `require_precision` is the check made when a model is given a precision, so that a machine
/// that cannot compute in bf16 refuses at configuration time, naming `what` (an option, a model).

#include <smile/core/error.hpp>
#include <smile/core/ops.hpp>
#include <string_view>

namespace smile {

/// Throws, naming `what` and the backend's reason, when the backend cannot compute in `p` here.
template <Backend B>
void require_precision(typename B::context& ctx, precision p, std::string_view what) {
    const std::string why = ops<B>::precision_refusal(ctx, p);
    SMILE_CHECK(why.empty(), what, ": ", precision_name(p), " is not available: ", why);
}

template <Backend B>
class precision_scope {
public:
    precision_scope(typename B::context& ctx, precision p) : ctx_(ctx) {
        if constexpr (BackendMixedPrecision<B>) {
            previous_ = ops<B>::set_compute_precision(ctx, p);
        } else {
            SMILE_CHECK(p == precision::f32, "the ", B::name, " backend computes in float32 only");
        }
    }
    ~precision_scope() {
        if constexpr (BackendMixedPrecision<B>) ops<B>::set_compute_precision(ctx_, previous_);
    }
    precision_scope(const precision_scope&) = delete;
    precision_scope& operator=(const precision_scope&) = delete;

private:
    typename B::context& ctx_;
    precision previous_ = precision::f32;
};

/// A model's compute precision: checked when set, entered by the model's forward and backward.
template <Backend B>
class model_precision {
public:
    /// `model` names the model in the refusal ("resnet50 student", "bert teacher").
    void set(typename B::context& ctx, precision p, std::string_view model) {
        require_precision<B>(ctx, p, model);
        precision_ = p;
    }
    [[nodiscard]] precision get() const noexcept { return precision_; }
    /// The scope a forward or backward runs in.
    [[nodiscard]] precision_scope<B> enter(typename B::context& ctx) const {
        return {ctx, precision_};
    }

private:
    precision precision_ = precision::f32;
};

}  // namespace smile
