#pragma once
/// @file
/// `mbconv<B>`: EfficientNet's mobile inverted bottleneck (Tan & Le, 2019), laid out and named as
/// torchvision's MBConv:
///
///   h = silu(BN(conv1×1(x)))            expansion to e·in channels (absent when e·in = in)  block.0
///   h = silu(BN(dwconv_k×k/s(h)))       depthwise                                           block.1
///   h = SE(h)                           squeeze-excitation, squeeze = max(1, in/4)          block.2
///   y = BN(conv1×1(h))                  linear projection                                   block.3
///   y = y·m/(1 − p) + x                 when s = 1 and in = out; in training m[n] ~ Bernoulli(1 − p)
///                                       per sample (stochastic depth, torchvision's "row" mode)
///
/// (block indices one lower without the expansion). Names: "block.0.0" / "block.0.1" for a unit's
/// convolution and BN, "block.2.fc1" / "block.2.fc2" for the gate. The tap on the projection
/// convolution's output is named like it ("features.6.2.block.3.0").
///
/// Stochastic depth draws from the generator the block is given (`set_generator`): the method's
/// run generator during training, so a run reproduces and resumes exactly. It is the identity
/// outside mode::train.
///
/// Backward: ∂L/∂(branch) = dy·m/(1 − p); the shortcut's gradient is dy itself.

#include <optional>
#include <smile/core/ops.hpp>
#include <smile/layers/conv_bn_act.hpp>
#include <smile/layers/squeeze_excitation.hpp>
#include <vector>

namespace smile {

struct mbconv_options {
    std::int64_t in_channels = 0;
    std::int64_t out_channels = 0;
    std::int64_t expanded = 0;  ///< channels after the expansion (torchvision rounds e·in to a multiple of 8)
    std::int64_t kernel = 3;
    std::int64_t stride = 1;
    double drop_rate = 0.0;     ///< stochastic depth probability p
    float bn_epsilon = 1e-5f;
    float bn_momentum = 0.1f;
    bool tf_same = false;        ///< TensorFlow's "same" padding for the depthwise convolution
    std::int64_t same_for = 0;   ///< with tf_same: the input size it is fixed for (layers/conv2d.hpp)
};

template <Backend B>
    requires BackendActivations<B> && BackendBroadcast<B>
class mbconv : public layer_state<B> {
public:
    mbconv(session<B>& s, rng& gen, const mbconv_options& o) : options_(o) {
        SMILE_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.expanded > 0 && o.kernel > 0,
                    "mbconv: channels and kernel must be positive");
        SMILE_CHECK(o.stride == 1 || o.stride == 2, "mbconv: stride must be 1 or 2, got ", o.stride);
        SMILE_CHECK(o.drop_rate >= 0.0 && o.drop_rate < 1.0, "mbconv: the stochastic depth rate must be in [0, 1), got ", o.drop_rate);
        int index = 0;
        auto unit = [&](conv2d_options c, activation_kind k) {
            const std::string at = "block." + std::to_string(index++);
            units_.emplace_back(s, gen, conv_bn_act_options{c, k, o.bn_epsilon, o.bn_momentum, at + ".0", at + ".1"});
        };
        if (o.expanded != o.in_channels) unit({o.in_channels, o.expanded, 1, 1, 0, 1, false}, activation_kind::silu);
        unit({o.expanded, o.expanded, o.kernel, o.stride, (o.kernel - 1) / 2, o.expanded, false, o.tf_same, o.same_for},
             activation_kind::silu);
        se_name_ = "block." + std::to_string(index++);
        se_.emplace(s, gen, squeeze_excitation_options{o.expanded, std::max<std::int64_t>(1, o.in_channels / 4)});
        unit({o.expanded, o.out_channels, 1, 1, 0, 1, false}, activation_kind::identity);
        outputs_.resize(units_.size());  // each unit's output but the last, and the gate's
        set_name({});
    }

    void set_name(std::string name) {
        for (auto& u : units_) u.set_name(name);
        se_->set_name(join_name(name, se_name_));
        layer_state<B>::set_name(std::move(name));
    }

    /// Where the stochastic depth masks are drawn from (null: the block never drops).
    void set_generator(rng* gen) noexcept { generator_ = gen; }

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
        // Units before the gate, the gate, then the projection into y.
        const tensor<B>* in = &x;
        const std::size_t before_gate = units_.size() - 1;
        for (std::size_t i = 0; i < before_gate; ++i) {
            tensor<B>& out = slot(outputs_[i], units_[i].output_shape(in->shape()));
            units_[i].forward(s, *in, out, m);
            in = &out;
        }
        tensor<B>& gated = slot(outputs_[before_gate], in->shape());
        se_->forward(s, *in, gated, m);
        auto& projection = units_.back();
        dropping_ = m == mode::train && has_shortcut() && options_.drop_rate > 0.0;
        if (m == mode::eval && has_shortcut() && !projection.conv_tap().enabled()) {
            y.resize(x.shape());
            ops<B>::copy(ctx, x.view(), y.view());
            projection.forward(s, gated, y, m, true);  // folded: y = BN(conv(h)) + x
        } else {
            projection.forward(s, gated, y, m);
            if (dropping_) {
                draw_mask(s, x.shape().n);
                ops<B>::scale_broadcast(ctx, y.view(), mask_.view(), y.view());
            }
            if (has_shortcut()) ops<B>::add(ctx, 1.0f, x.view(), 1.0f, y.view(), y.view());
        }
        this->end_forward(y);
    }

    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        const std::size_t before_gate = units_.size() - 1;
        SMILE_CHECK(outputs_[before_gate].get_if() != nullptr, this->label(),
                    ": backward needs a preceding forward in training mode (once per forward)");
        typename tensor_pool<B>::lease branch;
        const tensor<B>* g = &dy;
        if (dropping_) {  // ∂L/∂(projection output) = dy·m/(1 − p)
            branch = s.borrow(dy.shape());
            ops<B>::scale_broadcast_backward(s.context(), dy.view(), mask_.view(), dy.view(),
                                             branch->view(), {});
            g = &*branch;
        }
        auto g_gated = s.borrow(outputs_[before_gate]->shape());
        units_.back().backward(s, *g, &*g_gated);
        branch = {};
        const tensor<B>& gate_input = before_gate > 0 ? *outputs_[before_gate - 1] : this->input();
        auto g_in = s.borrow(gate_input.shape());
        se_->backward(s, *g_gated, &*g_in);
        outputs_[before_gate] = {};
        g_gated = std::move(g_in);
        for (std::size_t k = before_gate; k-- > 0;) {
            if (k == 0) {
                units_[0].backward(s, *g_gated, dx);
                outputs_[0] = {};
                break;
            }
            auto next = s.borrow(outputs_[k - 1]->shape());
            units_[k].backward(s, *g_gated, &*next);
            outputs_[k] = {};
            g_gated = std::move(next);
        }
        g_gated = {};
        if (dx != nullptr && has_shortcut())
            ops<B>::add(s.context(), 1.0f, dy.view(), 1.0f, dx->view(), dx->view());
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        const std::size_t before_gate = units_.size() - 1;
        for (std::size_t i = 0; i < before_gate; ++i) units_[i].visit_parameters(prefix, f);
        se_->visit_parameters(join_name(prefix, se_name_), f);
        units_.back().visit_parameters(prefix, f);
    }
    template <class F>
    void visit_buffers(std::string_view prefix, F&& f) {
        for (auto& u : units_) u.visit_buffers(prefix, f);
    }
    template <class F>
    void visit_modules(F&& f) {
        const std::size_t before_gate = units_.size() - 1;
        for (std::size_t i = 0; i < before_gate; ++i) units_[i].visit_modules(f);
        se_->visit_modules(f);
        units_.back().visit_modules(f);
    }

    [[nodiscard]] tap<B>& conv_tap() noexcept { return units_.back().conv_tap(); }
    [[nodiscard]] const tap<B>& conv_tap() const noexcept { return units_.back().conv_tap(); }
    [[nodiscard]] const mbconv_options& options() const noexcept { return options_; }
    /// The last training forward's per-sample factors m/(1 − p) (empty when nothing was dropped).
    [[nodiscard]] std::vector<float> last_mask() const { return dropping_ ? mask_.to_host() : std::vector<float>{}; }

private:
    void draw_mask(session<B>& s, std::int64_t n) {
        SMILE_CHECK(generator_ != nullptr, this->label(), ": stochastic depth (rate ", options_.drop_rate,
                    ") needs a generator (set_generator), none was given");
        const double survival = 1.0 - options_.drop_rate;
        host_mask_.resize(static_cast<std::size_t>(n));
        for (auto& v : host_mask_) v = generator_->bernoulli(survival) ? static_cast<float>(1.0 / survival) : 0.0f;
        mask_.bind(s.context());
        mask_.resize({n, 1, 1, 1});
        mask_.copy_from_host(host_mask_);
    }

    mbconv_options options_;
    std::vector<conv_bn_act<B>> units_;
    std::optional<squeeze_excitation<B>> se_;
    std::string se_name_;
    std::vector<activation_lease<B>> outputs_;
    rng* generator_ = nullptr;
    bool dropping_ = false;
    std::vector<float> host_mask_;
    tensor<B> mask_;
};

}  // namespace smile
