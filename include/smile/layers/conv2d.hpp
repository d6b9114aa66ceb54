#pragma once
/// @file
/// `conv2d<B>`: 2-D convolution, PyTorch's Conv2d (weights [out, in/groups, kh, kw], optional
/// bias), with PyTorch's default initialisation.
///
/// Padding is PyTorch's (`padding` zeros on every side) or TensorFlow's "same" (`tf_same`), the
/// padding of TF-ported weights (timm's `tf_` models, efficientnet_pytorch): per spatial size n
/// the output has ⌈n/stride⌉ positions and the total padding is max((⌈n/s⌉ − 1)·s + k − n, 0),
/// half of it (rounded down) before the input and the rest after. `same_for` computes it for a
/// fixed input size instead of each input's own (efficientnet_pytorch's static padding, fixed
/// at the model's image size).

#include <algorithm>
#include <array>
#include <smile/core/init.hpp>
#include <smile/core/ops.hpp>
#include <smile/layers/batch_norm2d.hpp>
#include <smile/layers/layer.hpp>
#include <utility>

namespace smile {

struct conv2d_options {
    std::int64_t in_channels = 0;
    std::int64_t out_channels = 0;
    std::int64_t kernel = 3;
    std::int64_t stride = 1;
    std::int64_t padding = 0;
    std::int64_t groups = 1;
    bool bias = false;
    bool tf_same = false;        ///< TensorFlow's "same" padding (`padding` is then unused)
    std::int64_t same_for = 0;   ///< with tf_same: the input size it is computed for; 0: each input's
};

template <Backend B>
class conv2d : public layer_state<B> {
public:
    conv2d(session<B>& s, rng& gen, const conv2d_options& o)
        : options_(o), desc_{o.stride, o.stride, o.padding, o.padding, o.groups} {
        SMILE_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.kernel > 0 && o.stride > 0 &&
                        o.padding >= 0 && o.groups > 0 && o.same_for >= 0,
                    "conv2d: channels, kernel, stride and groups must be positive, padding "
                    "non-negative");
        SMILE_CHECK(o.in_channels % o.groups == 0 && o.out_channels % o.groups == 0,
                    "conv2d: ", o.groups, " groups do not divide ", o.in_channels, " input and ",
                    o.out_channels, " output channels");
        weight_ = parameter<B>(s, {o.out_channels, o.in_channels / o.groups, o.kernel, o.kernel});
        if (o.bias) bias_ = parameter<B>(s, vector_shape(o.out_channels), 1);
        reset_parameters(gen);
    }

    /// PyTorch's default: weight and bias ~ U(±1/√fan_in), fan_in = in/groups·k².
    void reset_parameters(rng& gen) {
        const double bound = init::default_bound(weight_.shape().c * options_.kernel * options_.kernel);
        init::uniform(weight_.value, gen, bound);
        if (options_.bias) init::uniform(bias_.value, gen, bound);
    }

    [[nodiscard]] shape4 output_shape(const shape4& x) const {
        SMILE_CHECK(x.c == options_.in_channels, this->label(), ": input ", x, " has ", x.c,
                    " channels, the layer expects ", options_.in_channels);
        const conv2d_desc d = desc_for(x);
        SMILE_CHECK(x.h + 2 * d.pad_h + d.pad_h_extra >= options_.kernel &&
                        x.w + 2 * d.pad_w + d.pad_w_extra >= options_.kernel,
                    this->label(), ": input ", x, " is smaller than the ", options_.kernel, "x",
                    options_.kernel, " kernel");
        return conv2d_output_shape(x, weight_.shape(), d);
    }

    /// The convolution's description for input `x`: the fixed one, or the "same" padding for
    /// x's size (see the file comment).
    [[nodiscard]] conv2d_desc desc_for(const shape4& x) const noexcept {
        if (!options_.tf_same) return desc_;
        conv2d_desc d = desc_;
        const std::int64_t k = options_.kernel, st = options_.stride;
        auto split = [&](std::int64_t size, std::int64_t& before, std::int64_t& extra) {
            const std::int64_t n = options_.same_for > 0 ? options_.same_for : size;
            const std::int64_t total = std::max<std::int64_t>(((n + st - 1) / st - 1) * st + k - n, 0);
            before = total / 2;
            extra = total - 2 * before;  // after = before + extra
        };
        split(x.h, d.pad_h, d.pad_h_extra);
        split(x.w, d.pad_w, d.pad_w_extra);
        return d;
    }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        y.resize(output_shape(x.shape()));
        this->end_forward(y);
        ops<B>::conv2d_forward(
            s.context(), plan_, desc_for(x.shape()), x.view(), std::as_const(weight_.value).view(),
            options_.bias ? std::as_const(bias_.value).view() : const_tensor_view<B>{}, y.view(),
            m);
    }

    /// Evaluation forward of this convolution and the batch norm `bn` after it, folded into one
    /// operation: y = act(bn(conv(x)) [+ y]) with `bn`'s running statistics (conv_bn_fold).
    /// `accumulate` adds y's contents (a residual shortcut computed there first). The backend
    /// refolds only when one of the six tensors has a new generation since the last call.
    void forward_folded(session<B>& s, batch_norm2d<B>& bn, const tensor<B>& x, tensor<B>& y, activation_kind act,
                        bool accumulate) {
        SMILE_CHECK(&x != &y, this->label(), ": forward input and output must be distinct tensors");
        y.bind(x.context());
        const shape4 out = output_shape(x.shape());
        if (accumulate) {
            check_shape(this->label() + " residual", out, y.shape());
        } else {
            y.resize(out);
        }
        const auto& w = std::as_const(weight_.value);
        const auto& gamma = std::as_const(bn.weight().value);
        const auto& beta = std::as_const(bn.bias().value);
        const auto& mean = std::as_const(bn.running_mean());
        const auto& var = std::as_const(bn.running_var());
        const std::array<std::uint64_t, 6> now{w.generation(), options_.bias ? std::as_const(bias_.value).generation() : 0,
                                               gamma.generation(), beta.generation(), mean.generation(),
                                               var.generation()};
        const bool refold = now != folded_generations_;
        folded_generations_ = now;
        ops<B>::conv2d_bn_inference(
            s.context(), plan_, desc_for(x.shape()),
            {bn.options().epsilon, act, accumulate, refold}, x.view(), w.view(),
            options_.bias ? std::as_const(bias_.value).view() : const_tensor_view<B>{},
            gamma.view(), beta.view(), mean.view(), var.view(), y.view());
    }

    /// dW = Σ dy ⋆ x (correlation over the batch), db = Σ_{n,h,w} dy, dx = dy ⊛ W (transposed
    /// convolution, skipped when dx is null).
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        auto& ctx = s.context();
        ops<B>::conv2d_backward_weights(
            ctx, plan_, this->input().view(), dy.view(), weight_.grad_for_write().view(),
            options_.bias ? bias_.grad_for_write().view() : tensor_view<B>{});
        if (dx != nullptr)
            ops<B>::conv2d_backward_data(ctx, plan_, dy.view(), std::as_const(weight_.value).view(),
                                         prepare_gradient(dx, this->input()));
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        f(join_name(prefix, "weight"), weight_);
        if (options_.bias) f(join_name(prefix, "bias"), bias_);
    }
    template <class F>
    void visit_buffers(std::string_view, F&&) {}

    [[nodiscard]] parameter<B>& weight() noexcept { return weight_; }
    [[nodiscard]] parameter<B>& bias() noexcept { return bias_; }
    [[nodiscard]] const conv2d_options& options() const noexcept { return options_; }

private:
    conv2d_options options_;
    conv2d_desc desc_;
    parameter<B> weight_;
    parameter<B> bias_;
    typename B::conv2d_plan plan_;
    std::array<std::uint64_t, 6> folded_generations_{};  // of w, b, γ, β, μ, σ² at the last fold
};

}  // namespace smile
