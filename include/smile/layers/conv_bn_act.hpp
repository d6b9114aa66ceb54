#pragma once
/// @file
/// `conv_bn_act<B>`: convolution → batch norm → activation, torchvision's Conv2dNormActivation
/// (and the projection "conv, BN" pair of an inverted residual, with the identity activation).
///
///   y = f(BN(conv(x)))
///
/// The convolution and the batch norm carry their own names (torchvision nests them as "0" and
/// "1" in a Conv2dNormActivation, but a block's projection is "conv.2" and "conv.3"), and a
/// tap sits on the convolution's output under the convolution's name, for DELTA's hooks.
///
/// Memory: training keeps the convolution's output (BN's backward reads it) and the unit's
/// output y (the caller keeps it, per the layer contract). For the kinds whose derivative can be
/// read from the output (identity, relu, relu6: f'(x) = [0 < y < 6] for relu6) the activation
/// runs in place on y and nothing else is kept; for the others (silu, ...) BN's output is kept
/// too. Evaluation folds BN into the convolution (conv_bn_fold) unless the tap is enabled.

#include <smile/core/ops.hpp>
#include <smile/layers/activation_slots.hpp>
#include <smile/layers/batch_norm2d.hpp>
#include <smile/layers/conv2d.hpp>
#include <smile/layers/tap.hpp>

namespace smile {

struct conv_bn_act_options {
    conv2d_options conv;
    activation_kind activation = activation_kind::identity;
    float bn_epsilon = 1e-5f;
    float bn_momentum = 0.1f;
    std::string conv_name = "0";  ///< relative to the unit's parent
    std::string bn_name = "1";
};

/// True when f'(x) is a function of y = f(x), so the activation may overwrite its input.
[[nodiscard]] constexpr bool derivative_from_output(activation_kind k) noexcept {
    return k == activation_kind::identity || k == activation_kind::relu || k == activation_kind::relu6;
}

template <Backend B>
    requires BackendActivations<B>
class conv_bn_act : public layer_state<B> {
public:
    conv_bn_act(session<B>& s, rng& gen, conv_bn_act_options o)
        : options_(std::move(o)), conv_(s, gen, options_.conv),
          bn_(s, {options_.conv.out_channels, options_.bn_epsilon, options_.bn_momentum, false}) {
        set_name({});
    }

    /// The parent's name: the convolution becomes `parent.conv_name`, the BN `parent.bn_name`.
    void set_name(std::string parent) {
        conv_.set_name(join_name(parent, options_.conv_name));
        bn_.set_name(join_name(parent, options_.bn_name));
        tap_.set_name(conv_.name());
        layer_state<B>::set_name(std::move(parent));
    }

    [[nodiscard]] shape4 output_shape(const shape4& x) const { return bn_.output_shape(conv_.output_shape(x)); }

    /// `accumulate` (evaluation only, folded path): y = f(BN(conv(x)) + y), a residual sum
    /// computed into y first.
    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m, bool accumulate) {
        this->begin_forward(x, y, m);
        auto& ctx = s.context();
        const activation_kind k = options_.activation;
        if (m == mode::eval && !tap_.enabled()) {
            conv_.forward_folded(s, bn_, x, y, k, accumulate);
            this->end_forward(y);
            return;
        }
        SMILE_CHECK(!accumulate, this->label(), ": accumulate is an evaluation-only folding");
        activation_slots<B> slot(s, m);
        tensor<B>& c = slot(conv_out_, conv_.output_shape(x.shape()));
        conv_.forward(s, x, c, m);
        tap_.record(c, m);
        if (derivative_from_output(k)) {
            bn_.forward(s, c, y, m);
            if (k != activation_kind::identity)
                ops<B>::activation_forward(ctx, k, y.view(), y.view());
        } else {
            tensor<B>& b = slot(bn_out_, c.shape());
            bn_.forward(s, c, b, m);
            y.resize(b.shape());
            ops<B>::activation_forward(ctx, k, b.view(), y.view());
        }
        if (!keeps_activations(m)) conv_out_ = {};
        this->end_forward(y);
    }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) { forward(s, x, y, m, false); }

    /// ∂L/∂t = f'(t)·dy at t = BN(conv(x)) (read from y for identity, relu and relu6, from the
    /// kept BN output otherwise), then BN's and the convolution's backward, with the tap's
    /// injection added at the convolution's output.
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        SMILE_CHECK(conv_out_.get_if() != nullptr, this->label(),
                    ": backward needs a preceding forward in training mode (once per forward)");
        auto& ctx = s.context();
        const activation_kind k = options_.activation;
        typename tensor_pool<B>::lease g;
        const tensor<B>* grad = &dy;
        if (k != activation_kind::identity) {
            g = s.borrow(dy.shape());
            const tensor<B>& at = derivative_from_output(k) ? this->output() : *bn_out_;
            ops<B>::activation_backward(ctx, k, at.view(), dy.view(), g->view());
            bn_out_ = {};
            grad = &*g;
        }
        auto g_conv = s.borrow(conv_out_->shape());
        bn_.backward(s, *grad, &*g_conv);
        g = {};
        tap_.apply(s, *g_conv);
        conv_.backward(s, *g_conv, dx);
        conv_out_ = {};
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        conv_.visit_parameters(join_name(prefix, options_.conv_name), f);
        bn_.visit_parameters(join_name(prefix, options_.bn_name), f);
    }
    template <class F>
    void visit_buffers(std::string_view prefix, F&& f) {
        bn_.visit_buffers(join_name(prefix, options_.bn_name), f);
    }
    /// Calls f on the convolution, then the batch norm.
    template <class F>
    void visit_modules(F&& f) {
        f(conv_);
        f(bn_);
    }

    /// The hook on the convolution's output (before BN), named like the convolution.
    [[nodiscard]] tap<B>& conv_tap() noexcept { return tap_; }
    [[nodiscard]] const tap<B>& conv_tap() const noexcept { return tap_; }
    [[nodiscard]] conv2d<B>& conv() noexcept { return conv_; }
    [[nodiscard]] batch_norm2d<B>& bn() noexcept { return bn_; }
    [[nodiscard]] const conv_bn_act_options& options() const noexcept { return options_; }
    [[nodiscard]] std::int64_t out_channels() const noexcept { return options_.conv.out_channels; }

private:
    conv_bn_act_options options_;
    conv2d<B> conv_;
    batch_norm2d<B> bn_;
    tap<B> tap_;
    activation_lease<B> conv_out_, bn_out_;
};

}  // namespace smile
