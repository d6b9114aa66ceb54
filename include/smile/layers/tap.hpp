#pragma once
/// @file
/// Taps: read an intermediate output, and inject a gradient there.
///
/// `tap<B>` is the hook object a container places at a point of its computation (a ResNet
/// stage output, a block's last convolution, the pooled features). While enabled it exposes
/// the tensor computed there on the last forward: in training mode by reference to the
/// container's own activation, in evaluation mode as a private copy (evaluation keeps no
/// activations, so the tap keeps the one it was asked for). `inject` adds a scaled gradient
/// ∂R/∂t of some regularizer R; the container adds it into the gradient flowing through the
/// point on the next backward and then clears it. This is how SMILE's L_FE, DELTA and BSS
/// reach the backbone without a tape.
///
/// `tap_layer<B>` is the same hook as an identity layer for use inside `sequential`.

#include <smile/core/ops.hpp>
#include <smile/layers/layer.hpp>

namespace smile {

template <Backend B>
class tap {
public:
    /// Enabled taps record outputs and accept injections; disabled ones cost nothing.
    void enable(bool on = true) noexcept {
        enabled_ = on;
        if (!on) {
            recorded_ = nullptr;
            has_injection_ = false;
        }
    }
    [[nodiscard]] bool enabled() const noexcept { return enabled_; }

    /// Called by the container with the tensor computed at the tap point: kept by reference when
    /// the pass keeps activations, copied otherwise.
    void record(const tensor<B>& t, mode m) {
        if (!enabled_) return;
        by_reference_ = keeps_activations(m);
        if (by_reference_) {
            recorded_ = &t;
        } else {
            copy_.assign(t);
            recorded_ = &copy_;
        }
        has_injection_ = false;
    }

    /// The tensor recorded by the last forward. After a training forward it refers to the
    /// container's activation and stays valid until the backward passes the tap.
    [[nodiscard]] const tensor<B>& output() const {
        SMILE_CHECK(enabled_, "tap ", name_, ": the tap is not enabled");
        SMILE_CHECK(recorded_ != nullptr, "tap ", name_,
                    ": no output (read and inject between a forward and its backward)");
        return *recorded_;
    }

    /// Adds `scale`·`gradient` to the gradient that the next backward carries through the tap.
    void inject(session<B>& s, float scale, const tensor<B>& gradient) {
        const tensor<B>& out = output();
        check_shape("tap " + name_ + " injected gradient", out.shape(), gradient.shape());
        if (!has_injection_) {
            injection_.bind(s.context());
            injection_.resize(out.shape());
            ops<B>::add(s.context(), scale, gradient.view(), 0.0f, gradient.view(),
                        injection_.view());
        } else {
            ops<B>::add(s.context(), scale, gradient.view(), 1.0f, injection_.view(),
                        injection_.view());
        }
        has_injection_ = true;
    }

    [[nodiscard]] bool has_injection() const noexcept { return has_injection_; }

    /// Called by the container during backward: g += injection, then the injection is cleared.
    void apply(session<B>& s, tensor<B>& g) {
        if (by_reference_) recorded_ = nullptr;  // the container releases that activation now
        if (!has_injection_) return;
        check_shape("tap " + name_ + " gradient", injection_.shape(), g.shape());
        ops<B>::add(s.context(), 1.0f, injection_.view(), 1.0f, g.view(), g.view());
        has_injection_ = false;
    }

    /// Records a tensor that its owner keeps alive and unmodified until the next forward in any
    /// mode (a model's own outputs), so no copy is needed even in evaluation.
    void record_kept(const tensor<B>& t) {
        if (!enabled_) return;
        recorded_ = &t;
        by_reference_ = false;
        has_injection_ = false;
    }

    /// Discards a pending injection (a step that is abandoned before its backward).
    void clear() noexcept { has_injection_ = false; }

    void set_name(std::string name) { name_ = std::move(name); }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

private:
    std::string name_;
    bool enabled_ = false;
    bool has_injection_ = false;
    bool by_reference_ = false;
    const tensor<B>* recorded_ = nullptr;
    tensor<B> copy_;
    tensor<B> injection_;
};

/// Identity layer carrying a tap (for `sequential`).
template <Backend B>
class tap_layer : public layer_state<B> {
public:
    tap_layer() { tap_.enable(); }

    [[nodiscard]] shape4 output_shape(const shape4& x) const { return x; }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        (void)s;
        this->begin_forward(x, y, m);
        y.assign(x);
        this->end_forward(y);
        tap_.record(y, m);
    }

    /// dx = dy + injected gradient.
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        if (dx == nullptr) {
            tap_.clear();
            return;
        }
        dx->bind(s.context());
        dx->assign(dy);
        tap_.apply(s, *dx);
    }

    void set_name(std::string name) {
        tap_.set_name(name);
        layer_state<B>::set_name(std::move(name));
    }

    template <class F>
    void visit_parameters(std::string_view, F&&) {}
    template <class F>
    void visit_buffers(std::string_view, F&&) {}

    [[nodiscard]] tap<B>& hook() noexcept { return tap_; }

private:
    tap<B> tap_;
};

}  // namespace smile
