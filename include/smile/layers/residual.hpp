#pragma once
/// @file
/// `residual_block<B>`: the basic block (two 3×3 convolutions) and the bottleneck block
/// (1×1, 3×3, 1×1 with 4× expansion, stride on the 3×3 as torchvision's ResNet v1.5) of He et
/// al., with a projection shortcut (1×1 convolution + BN, "option B") or the zero-padding
/// identity shortcut of the CIFAR ResNets ("option A").
///
///   y = relu(bn_k(conv_k(… relu(bn_1(conv_1(x))) …)) + shortcut(x))
///
/// Parameter names are torchvision's: conv1, bn1, conv2, bn2[, conv3, bn3], downsample.0 (the
/// projection convolution), downsample.1 (its BN). The block's tap sits on the last
/// convolution's output, before its BN (where the original DELTA hooks `conv3`).
///
/// Memory: in training the block keeps each convolution's output and each fused BN+ReLU's
/// output (what backward needs) and releases each as soon as backward has passed it; it adds
/// the shortcut and applies the final ReLU in place on its output tensor, as torchvision does.
/// The projection's BN output is only summed, so it is not kept at all.

#include <optional>
#include <smile/core/ops.hpp>
#include <smile/layers/activation_slots.hpp>
#include <smile/layers/batch_norm2d.hpp>
#include <smile/layers/conv2d.hpp>
#include <smile/layers/tap.hpp>
#include <vector>

namespace smile {

enum class block_kind : std::uint8_t { basic, bottleneck };
enum class shortcut_kind : std::uint8_t { projection, zero_pad };

struct residual_block_options {
    block_kind kind = block_kind::basic;
    std::int64_t in_channels = 0;
    std::int64_t planes = 0;  ///< width of the block; the output has planes·expansion channels
    std::int64_t stride = 1;
    shortcut_kind shortcut = shortcut_kind::projection;
};

/// Output channels per plane: 1 for basic blocks, 4 for bottlenecks.
[[nodiscard]] constexpr std::int64_t expansion(block_kind k) noexcept {
    return k == block_kind::basic ? 1 : 4;
}

template <Backend B>
class residual_block : public layer_state<B> {
    struct unit {
        conv2d<B> conv;
        batch_norm2d<B> bn;
        activation_lease<B> conv_out;  // kept in training for BN's backward
        activation_lease<B> bn_out;    // kept in training for the next convolution's backward
    };

public:
    residual_block(session<B>& s, rng& gen, const residual_block_options& o) : options_(o) {
        SMILE_CHECK(o.in_channels > 0 && o.planes > 0 && o.stride > 0,
                    "residual_block: channels, planes and stride must be positive");
        const std::int64_t out = o.planes * expansion(o.kind);
        auto add_unit = [&](std::int64_t in, std::int64_t width, std::int64_t kernel,
                            std::int64_t stride, bool relu) {
            units_.push_back(unit{conv2d<B>(s, gen, {in, width, kernel, stride, kernel / 2, 1, false}),
                                  batch_norm2d<B>(s, {width, 1e-5f, 0.1f, relu}), {}, {}});
        };
        if (o.kind == block_kind::basic) {
            add_unit(o.in_channels, o.planes, 3, o.stride, true);
            add_unit(o.planes, o.planes, 3, 1, false);
        } else {
            add_unit(o.in_channels, o.planes, 1, 1, true);
            add_unit(o.planes, o.planes, 3, o.stride, true);
            add_unit(o.planes, out, 1, 1, false);
        }
        if (o.stride != 1 || o.in_channels != out) {
            if (o.shortcut == shortcut_kind::projection) {
                ds_conv_.emplace(s, gen, conv2d_options{o.in_channels, out, 1, o.stride, 0, 1, false});
                ds_bn_.emplace(s, batch_norm2d_options{out});
            } else {
                SMILE_CHECK(out >= o.in_channels,
                            "residual_block: a zero-padding shortcut cannot reduce channels");
                make_zero_pad_weights(s, out);
            }
        }
        set_name({});
    }

    void set_name(std::string name) {
        layer_state<B>::set_name(name);
        for (std::size_t i = 0; i < units_.size(); ++i) {
            units_[i].conv.set_name(join_name(name, "conv" + std::to_string(i + 1)));
            units_[i].bn.set_name(join_name(name, "bn" + std::to_string(i + 1)));
        }
        if (ds_conv_) {
            ds_conv_->set_name(join_name(name, "downsample.0"));
            ds_bn_->set_name(join_name(name, "downsample.1"));
        }
        tap_.set_name(join_name(name, "conv" + std::to_string(units_.size())));
    }

    [[nodiscard]] shape4 output_shape(const shape4& x) const {
        shape4 s = x;
        for (const auto& u : units_) s = u.bn.output_shape(u.conv.output_shape(s));
        return s;
    }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        // Evaluation with nothing to record before the last BN: every conv+BN folded.
        if (m == mode::eval && !tap_.enabled()) return forward_folded(s, x, y);
        this->begin_forward(x, y, m);
        auto& ctx = s.context();
        activation_slots<B> slot(s, m);
        const tensor<B>* in = &x;
        for (std::size_t i = 0; i < units_.size(); ++i) {
            unit& u = units_[i];
            tensor<B>& conv_out = slot(u.conv_out, u.conv.output_shape(in->shape()));
            u.conv.forward(s, *in, conv_out, m);
            if (i + 1 == units_.size()) {
                tap_.record(conv_out, m);
                u.bn.forward(s, conv_out, y, m);
                break;
            }
            tensor<B>& bn_out = slot(u.bn_out, conv_out.shape());
            u.bn.forward(s, conv_out, bn_out, m);
            in = &bn_out;
        }
        // Shortcut, added in place into y, then the final ReLU in place.
        if (ds_conv_) {
            tensor<B>& t = slot(ds_conv_out_, ds_conv_->output_shape(x.shape()));
            ds_conv_->forward(s, x, t, m);
            // Only summed into y: the projection BN's backward needs its input, not its output.
            auto sc = s.borrow(t.shape());
            ds_bn_->forward(s, t, *sc, m);
            ops<B>::add(ctx, 1.0f, sc->view(), 1.0f, y.view(), y.view());
        } else if (!pad_weights_.empty()) {
            auto sc = s.borrow(y.shape());
            ops<B>::conv2d_forward(ctx, pad_plan_, pad_desc(), x.view(), pad_weights_.view(),
                                   const_tensor_view<B>{}, sc->view(), m);
            ops<B>::add(ctx, 1.0f, sc->view(), 1.0f, y.view(), y.view());
        } else {
            check_shape(this->label() + " identity shortcut", y.shape(), x.shape());
            ops<B>::add(ctx, 1.0f, x.view(), 1.0f, y.view(), y.view());
        }
        ops<B>::relu_forward(ctx, y.view(), y.view());
        this->end_forward(y);
    }

    /// The evaluation forward with every batch norm folded into its convolution: the shortcut
    /// is written into y first, and the last convolution adds its result and applies the ReLU.
    void forward_folded(session<B>& s, const tensor<B>& x, tensor<B>& y) {
        this->begin_forward(x, y, mode::eval);
        auto& ctx = s.context();
        const shape4 out = output_shape(x.shape());
        y.resize(out);
        if (ds_conv_) {
            ds_conv_->forward_folded(s, *ds_bn_, x, y, activation_kind::identity, false);
        } else if (!pad_weights_.empty()) {
            ops<B>::conv2d_forward(ctx, pad_plan_, pad_desc(), x.view(),
                                   std::as_const(pad_weights_).view(), const_tensor_view<B>{},
                                   y.view(), mode::eval);
        } else {
            check_shape(this->label() + " identity shortcut", out, x.shape());
            ops<B>::copy(ctx, x.view(), y.view());
        }
        activation_slots<B> slot(s, mode::eval);
        const tensor<B>* in = &x;
        for (std::size_t i = 0; i + 1 < units_.size(); ++i) {
            unit& u = units_[i];
            tensor<B>& bn_out = slot(u.bn_out, u.conv.output_shape(in->shape()));
            u.conv.forward_folded(s, u.bn, *in, bn_out,
                                  u.bn.options().fuse_relu ? activation_kind::relu : activation_kind::identity, false);
            in = &bn_out;
        }
        units_.back().conv.forward_folded(s, units_.back().bn, *in, y, activation_kind::relu, true);
        this->end_forward(y);
    }

    /// g = dy ⊙ [y > 0] reaches both branches; the main branch runs back through the units
    /// (tap injection added at the last convolution's output), the shortcut through its
    /// projection (or the identity / zero-padding map, whose adjoint drops the padded
    /// channels); dx is the sum of the two.
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        auto& ctx = s.context();
        auto g = s.borrow(dy.shape());
        ops<B>::relu_backward(ctx, this->output().view(), dy.view(), g->view());

        typename tensor_pool<B>::lease previous;
        const tensor<B>* grad = &*g;
        for (std::size_t k = units_.size(); k-- > 0;) {
            unit& u = units_[k];
            SMILE_CHECK(u.conv_out.get_if() != nullptr, this->label(),
                        ": backward needs a preceding forward in training mode (once per forward)");
            auto g_conv = s.borrow(u.conv_out->shape());
            u.bn.backward(s, *grad, &*g_conv);
            u.bn_out = {};  // released: both its readers (this BN, the next conv) are done
            if (k + 1 == units_.size()) tap_.apply(s, *g_conv);
            if (k == 0) {
                u.conv.backward(s, *g_conv, dx);
                u.conv_out = {};
                break;
            }
            auto g_in = s.borrow(units_[k - 1].bn_out->shape());
            u.conv.backward(s, *g_conv, &*g_in);
            u.conv_out = {};
            previous = std::move(g_in);
            grad = &*previous;
        }
        previous = {};

        if (ds_conv_) {
            auto g_ds = s.borrow(ds_conv_out_->shape());
            ds_bn_->backward(s, *g, &*g_ds);
            ds_conv_out_ = {};
            if (dx == nullptr) {
                ds_conv_->backward(s, *g_ds, nullptr);
                return;
            }
            auto g_sc = s.borrow(this->input().shape());
            ds_conv_->backward(s, *g_ds, &*g_sc);
            ops<B>::add(ctx, 1.0f, g_sc->view(), 1.0f, dx->view(), dx->view());
        } else if (dx != nullptr && !pad_weights_.empty()) {
            auto g_sc = s.borrow(this->input().shape());
            ops<B>::conv2d_backward_data(ctx, pad_plan_, g->view(), pad_weights_.view(),
                                         g_sc->view());
            ops<B>::add(ctx, 1.0f, g_sc->view(), 1.0f, dx->view(), dx->view());
        } else if (dx != nullptr) {
            ops<B>::add(ctx, 1.0f, g->view(), 1.0f, dx->view(), dx->view());
        }
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        for (std::size_t i = 0; i < units_.size(); ++i) {
            units_[i].conv.visit_parameters(join_name(prefix, "conv" + std::to_string(i + 1)), f);
            units_[i].bn.visit_parameters(join_name(prefix, "bn" + std::to_string(i + 1)), f);
        }
        if (ds_conv_) {
            ds_conv_->visit_parameters(join_name(prefix, "downsample.0"), f);
            ds_bn_->visit_parameters(join_name(prefix, "downsample.1"), f);
        }
    }
    template <class F>
    void visit_buffers(std::string_view prefix, F&& f) {
        for (std::size_t i = 0; i < units_.size(); ++i)
            units_[i].bn.visit_buffers(join_name(prefix, "bn" + std::to_string(i + 1)), f);
        if (ds_bn_) ds_bn_->visit_buffers(join_name(prefix, "downsample.1"), f);
    }

    /// Calls f on every convolution and batch norm of the block, in visiting order.
    template <class F>
    void visit_modules(F&& f) {
        for (auto& u : units_) {
            f(u.conv);
            f(u.bn);
        }
        if (ds_conv_) {
            f(*ds_conv_);
            f(*ds_bn_);
        }
    }

    /// The hook on the last convolution's output (before its BN).
    [[nodiscard]] tap<B>& conv_tap() noexcept { return tap_; }
    [[nodiscard]] const residual_block_options& options() const noexcept { return options_; }
    /// Convolutions on the main branch (2 basic, 3 bottleneck).
    [[nodiscard]] std::size_t unit_count() const noexcept { return units_.size(); }
    [[nodiscard]] std::int64_t out_channels() const noexcept {
        return options_.planes * expansion(options_.kind);
    }

private:
    [[nodiscard]] conv2d_desc pad_desc() const {
        return {options_.stride, options_.stride, 0, 0, 1};
    }

    /// Option A as a fixed 1×1 strided convolution whose weights select input channel i into
    /// output channel i + (out − in)/2: exactly x[:, :, ::s, ::s] zero-padded on both channel
    /// ends, and its adjoint for backward. Not a parameter: it is never trained or saved.
    void make_zero_pad_weights(session<B>& s, std::int64_t out) {
        const std::int64_t in = options_.in_channels;
        const std::int64_t front = (out - in) / 2;
        std::vector<float> w(static_cast<std::size_t>(out * in), 0.0f);
        for (std::int64_t i = 0; i < in; ++i) w[static_cast<std::size_t>((i + front) * in + i)] = 1.0f;
        pad_weights_ = tensor<B>::from_host(s, {out, in, 1, 1}, w);
    }

    residual_block_options options_;
    std::vector<unit> units_;
    std::optional<conv2d<B>> ds_conv_;
    std::optional<batch_norm2d<B>> ds_bn_;
    activation_lease<B> ds_conv_out_;
    tensor<B> pad_weights_;
    typename B::conv2d_plan pad_plan_;
    tap<B> tap_;
};

}  // namespace smile
