#pragma once
/// @file
/// `inverted_residual<B>`: MobileNetV2's block (Sandler et al., 2018), laid out and named as
/// torchvision's InvertedResidual:
///
///   h = f(BN(conv1×1(x)))          expansion to t·in channels (absent when t = 1)   conv.0
///   h = f(BN(dwconv_k×k/s(h)))     depthwise, groups = channels                      conv.1 (conv.0 when t = 1)
///   y = BN(conv1×1(h)) [+ x]       linear projection; the shortcut when s = 1 and in = out
///
/// with f = ReLU6 by default. Names: "conv.0.0" / "conv.0.1" for the expansion's convolution and
/// BN, "conv.1.0" / "conv.1.1" for the depthwise pair, "conv.2" / "conv.3" for the projection
/// (one lower each when t = 1). The tap on the projection convolution's output is named like
/// that convolution ("features.3.conv.2"): DELTA's hook on a stage's last block.
///
/// Backward: the shortcut's gradient is dy itself, added to the main branch's input gradient.

#include <smile/core/ops.hpp>
#include <smile/layers/conv_bn_act.hpp>
#include <vector>

namespace smile {

struct inverted_residual_options {
    std::int64_t in_channels = 0;
    std::int64_t out_channels = 0;
    std::int64_t stride = 1;
    std::int64_t expand_ratio = 6;
    std::int64_t kernel = 3;
    activation_kind activation = activation_kind::relu6;
    float bn_epsilon = 1e-5f;
    float bn_momentum = 0.1f;
};

template <Backend B>
    requires BackendActivations<B>
class inverted_residual : public layer_state<B> {
public:
    inverted_residual(session<B>& s, rng& gen, const inverted_residual_options& o) : options_(o) {
        SMILE_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.expand_ratio > 0 && o.kernel > 0,
                    "inverted_residual: channels, expansion and kernel must be positive");
        SMILE_CHECK(o.stride == 1 || o.stride == 2, "inverted_residual: stride must be 1 or 2, got ", o.stride);
        const std::int64_t hidden = o.in_channels * o.expand_ratio;
        int index = 0;
        auto unit = [&](conv2d_options c, activation_kind k, std::string conv_name, std::string bn_name) {
            units_.emplace_back(s, gen, conv_bn_act_options{c, k, o.bn_epsilon, o.bn_momentum, std::move(conv_name), std::move(bn_name)});
        };
        auto nested = [&](conv2d_options c) {
            const std::string at = "conv." + std::to_string(index++);
            unit(c, o.activation, at + ".0", at + ".1");
        };
        if (o.expand_ratio != 1) nested({o.in_channels, hidden, 1, 1, 0, 1, false});
        nested({hidden, hidden, o.kernel, o.stride, (o.kernel - 1) / 2, hidden, false});
        const std::string projection = "conv." + std::to_string(index);
        unit({hidden, o.out_channels, 1, 1, 0, 1, false}, activation_kind::identity, projection,
             "conv." + std::to_string(index + 1));
        outputs_.resize(units_.size() - 1);
        set_name({});
    }

    void set_name(std::string name) {
        for (auto& u : units_) u.set_name(name);
        layer_state<B>::set_name(std::move(name));
    }

    [[nodiscard]] shape4 output_shape(const shape4& x) const {
        shape4 s = x;
        for (const auto& u : units_) s = u.output_shape(s);
        return s;
    }

    [[nodiscard]] bool has_shortcut() const noexcept {
        return options_.stride == 1 && options_.in_channels == options_.out_channels;
    }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        auto& ctx = s.context();
        activation_slots<B> slot(s, m);
        const tensor<B>* in = &x;
        for (std::size_t i = 0; i + 1 < units_.size(); ++i) {
            tensor<B>& out = slot(outputs_[i], units_[i].output_shape(in->shape()));
            units_[i].forward(s, *in, out, m);
            in = &out;
        }
        auto& projection = units_.back();
        if (m == mode::eval && has_shortcut() && !projection.conv_tap().enabled()) {
            // Folded: the shortcut is written first and the projection adds into it.
            y.resize(x.shape());
            ops<B>::copy(ctx, x.view(), y.view());
            projection.forward(s, *in, y, m, true);
        } else {
            projection.forward(s, *in, y, m);
            if (has_shortcut()) ops<B>::add(ctx, 1.0f, x.view(), 1.0f, y.view(), y.view());
        }
        this->end_forward(y);
    }

    /// dx = ∂(main branch)/∂x ᵀ·dy [+ dy]; each unit's output is released once its own backward
    /// (which may read it) has run.
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        typename tensor_pool<B>::lease previous;
        const tensor<B>* g = &dy;
        for (std::size_t k = units_.size(); k-- > 0;) {
            if (k == 0) {
                units_[0].backward(s, *g, dx);
                break;
            }
            SMILE_CHECK(outputs_[k - 1].get_if() != nullptr, this->label(),
                        ": backward needs a preceding forward in training mode (once per forward)");
            auto g_in = s.borrow(outputs_[k - 1]->shape());
            units_[k].backward(s, *g, &*g_in);
            if (k < outputs_.size()) outputs_[k] = {};
            previous = std::move(g_in);
            g = &*previous;
        }
        outputs_[0] = {};
        previous = {};
        if (dx != nullptr && has_shortcut())
            ops<B>::add(s.context(), 1.0f, dy.view(), 1.0f, dx->view(), dx->view());
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        for (auto& u : units_) u.visit_parameters(prefix, f);
    }
    template <class F>
    void visit_buffers(std::string_view prefix, F&& f) {
        for (auto& u : units_) u.visit_buffers(prefix, f);
    }
    template <class F>
    void visit_modules(F&& f) {
        for (auto& u : units_) u.visit_modules(f);
    }

    /// The hook on the projection convolution's output, before its BN.
    [[nodiscard]] tap<B>& conv_tap() noexcept { return units_.back().conv_tap(); }
    [[nodiscard]] const inverted_residual_options& options() const noexcept { return options_; }

private:
    inverted_residual_options options_;
    std::vector<conv_bn_act<B>> units_;
    std::vector<activation_lease<B>> outputs_;  // units' outputs but the last, kept in training
};

}  // namespace smile
