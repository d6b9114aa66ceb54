#pragma once
/// @file
/// `mobilenet_v2<B>`: MobileNetV2 (Sandler et al., 2018) as torchvision builds it, image →
/// 1280-channel feature map ("features"), with torchvision's parameter names:
///
///   features.0      3×3/2 convolution, BN, ReLU6 (32 channels · width)
///   features.1..17  inverted residual blocks, (t, c, n, s) = (1,16,1,1) (6,24,2,2) (6,32,3,2)
///                   (6,64,4,2) (6,96,3,1) (6,160,3,2) (6,320,1,1)
///   features.18     1×1 convolution, BN, ReLU6 (1280 channels · max(1, width))
///
/// torchvision's `classifier` (dropout 0.2, then `classifier.1`, a linear layer) is the
/// `classifier<B>`'s head; its dropout is not applied (docs/models-and-weights.md).
/// Channel counts are rounded as torchvision's `_make_divisible` (to multiples of 8, never more
/// than 10% below the unrounded width).
///
/// Taps: the output of every block's projection convolution ("features.6.conv.2") and of the
/// last convolution ("features.18.0"). The resolution stages end at features.1, 3, 6, 13 and 18.

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <smile/models/torchvision_init.hpp>
#include <smile/layers/inverted_residual.hpp>
#include <smile/models/channel_rounding.hpp>

namespace smile {

struct mobilenet_v2_config {
    /// What torchvision's MobileNetV2 calls its linear classifier in weight files.
    static constexpr const char* weight_head = "classifier.1";

    std::string arch = "mobilenet_v2";
    double width_mult = 1.0;
    std::int64_t in_channels = 3;
    std::int64_t round_to = 8;  ///< channel counts are multiples of this
    float bn_epsilon = 1e-5f;
    float bn_momentum = 0.1f;
};

template <Backend B>
    requires BackendActivations<B>
class mobilenet_v2 : public layer_state<B> {
    struct stage_setting {
        std::int64_t expand, channels, repeats, stride;
    };

public:
    mobilenet_v2(session<B>& s, rng& gen, const mobilenet_v2_config& c) : config_(c) {
        SMILE_CHECK(c.width_mult > 0 && c.in_channels > 0 && c.round_to > 0, c.arch,
                    ": width, input channels and rounding must be positive");
        static constexpr stage_setting settings[] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                                     {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
        std::int64_t channels = make_divisible(32 * c.width_mult, c.round_to);
        last_channels_ = make_divisible(1280 * std::max(1.0, c.width_mult), c.round_to);
        stem_.emplace(s, gen,
                      conv_bn_act_options{{c.in_channels, channels, 3, 2, 1, 1, false}, activation_kind::relu6,
                                          c.bn_epsilon, c.bn_momentum, "0", "1"});
        for (const auto& st : settings) {
            const std::int64_t out = make_divisible(double(st.channels) * c.width_mult, c.round_to);
            for (std::int64_t i = 0; i < st.repeats; ++i) {
                // A resolution stage ends before each stride-2 stage; the last one at features.18.
                if (i == 0 && st.stride == 2 && !blocks_.empty()) stage_ends_.push_back(blocks_.size() - 1);
                blocks_.emplace_back(s, gen,
                                     inverted_residual_options{channels, out, i == 0 ? st.stride : 1, st.expand, 3,
                                                               activation_kind::relu6, c.bn_epsilon, c.bn_momentum});
                channels = out;
            }
        }
        head_.emplace(s, gen,
                      conv_bn_act_options{{channels, last_channels_, 1, 1, 0, 1, false}, activation_kind::relu6,
                                          c.bn_epsilon, c.bn_momentum, "0", "1"});
        outputs_.resize(blocks_.size() + 1);
        set_name({});
        reset_parameters(gen);
    }

    /// torchvision's initialisation (models/torchvision_init.hpp).
    void reset_parameters(rng& gen) { torchvision_initialise<B>(*this, gen); }

    void set_name(std::string name) {
        layer_state<B>::set_name(name);
        stem_->set_name(join_name(name, "features.0"));
        for (std::size_t i = 0; i < blocks_.size(); ++i) blocks_[i].set_name(join_name(name, block_name(i)));
        head_->set_name(join_name(name, block_name(blocks_.size())));
    }

    [[nodiscard]] shape4 output_shape(const shape4& x) const {
        SMILE_CHECK(x.c == config_.in_channels, config_.arch, ": input ", x, " has ", x.c,
                    " channels, the model expects ", config_.in_channels);
        shape4 s = stem_->output_shape(x);
        for (const auto& b : blocks_) s = b.output_shape(s);
        return head_->output_shape(s);
    }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        (void)output_shape(x.shape());  // names the model on a wrong input
        activation_slots<B> slot(s, m);
        tensor<B>& stem = slot(outputs_[0], stem_->output_shape(x.shape()));
        stem_->forward(s, x, stem, m);
        const tensor<B>* in = &stem;
        for (std::size_t i = 0; i < blocks_.size(); ++i) {
            tensor<B>& out = slot(outputs_[i + 1], blocks_[i].output_shape(in->shape()));
            blocks_[i].forward(s, *in, out, m);
            in = &out;
        }
        head_->forward(s, *in, y, m);
        this->end_forward(y);
    }

    /// Back through the head, the blocks and the stem; each kept output is released once the
    /// layer that produced it has run its backward.
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        SMILE_CHECK(outputs_.back().get_if() != nullptr, config_.arch,
                    ": backward needs a preceding forward in training mode (once per forward)");
        auto g = s.borrow(outputs_.back()->shape());
        head_->backward(s, dy, &*g);
        for (std::size_t i = blocks_.size(); i-- > 0;) {
            auto next = s.borrow(outputs_[i]->shape());
            blocks_[i].backward(s, *g, &*next);
            s.gradients_written();
            outputs_[i + 1] = {};
            g = std::move(next);
        }
        stem_->backward(s, *g, dx);
        outputs_[0] = {};
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        stem_->visit_parameters(join_name(prefix, "features.0"), f);
        for (std::size_t i = 0; i < blocks_.size(); ++i) blocks_[i].visit_parameters(join_name(prefix, block_name(i)), f);
        head_->visit_parameters(join_name(prefix, block_name(blocks_.size())), f);
    }
    template <class F>
    void visit_buffers(std::string_view prefix, F&& f) {
        stem_->visit_buffers(join_name(prefix, "features.0"), f);
        for (std::size_t i = 0; i < blocks_.size(); ++i) blocks_[i].visit_buffers(join_name(prefix, block_name(i)), f);
        head_->visit_buffers(join_name(prefix, block_name(blocks_.size())), f);
    }
    /// Calls f on every convolution and batch norm, in visiting order.
    template <class F>
    void visit_modules(F&& f) {
        stem_->visit_modules(f);
        for (auto& b : blocks_) b.visit_modules(f);
        head_->visit_modules(f);
    }

    [[nodiscard]] tap<B>* find_tap(std::string_view name) {
        if (name == head_->conv_tap().name()) return &head_->conv_tap();
        for (auto& b : blocks_)
            if (name == b.conv_tap().name()) return &b.conv_tap();
        return nullptr;
    }

    [[nodiscard]] std::string_view arch() const noexcept { return config_.arch; }
    [[nodiscard]] std::int64_t out_channels() const noexcept { return last_channels_; }
    [[nodiscard]] std::string output_name() const { return "features"; }
    [[nodiscard]] std::string output_conv() const { return head_->conv_tap().name(); }
    /// The projection convolution of each resolution stage's last block, then features.18.0.
    [[nodiscard]] std::vector<std::string> stage_convs() {
        std::vector<std::string> out;
        for (std::size_t i : stage_ends_) out.push_back(blocks_[i].conv_tap().name());
        out.push_back(output_conv());
        return out;
    }
    /// torchvision's MobileNetV2 calls its linear classifier `classifier.1`.
    [[nodiscard]] std::string head_name() const { return mobilenet_v2_config::weight_head; }
    [[nodiscard]] const mobilenet_v2_config& config() const noexcept { return config_; }

private:
    static std::string block_name(std::size_t i) { return "features." + std::to_string(i + 1); }

    mobilenet_v2_config config_;
    std::int64_t last_channels_ = 0;
    std::optional<conv_bn_act<B>> stem_, head_;
    std::vector<inverted_residual<B>> blocks_;
    std::vector<std::size_t> stage_ends_;  // indices of the blocks that end a resolution stage
    std::vector<activation_lease<B>> outputs_;  // stem and block outputs, kept in training
};

}  // namespace smile
