#pragma once
/// @file
/// `resnet<B>`: the ResNet backbone, image → last stage's feature map, laid out and named
/// exactly as torchvision's ResNet (conv1, bn1, maxpool, layer1..layerN; the average pool and
/// fc belong to `classifier`). Each stage output carries a tap ("layer1" ... "layer4"), and each
/// block a tap on its last convolution ("layer3.5.conv3"), for DELTA's feature hooks.

#include <optional>
#include <string_view>

#include <smile/core/init.hpp>
#include <smile/models/torchvision_init.hpp>
#include <smile/layers/activation_slots.hpp>
#include <smile/layers/pooling.hpp>
#include <smile/layers/sequential.hpp>
#include <smile/models/resnet_config.hpp>

namespace smile {

template <Backend B>
class resnet : public layer_state<B> {
public:
    using stage_type = stack<B, residual_block<B>>;

    resnet(session<B>& s, rng& gen, const resnet_config& c)
        : config_(c),
          conv1_(s, gen,
                 c.stem == stem_kind::imagenet
                     ? conv2d_options{c.in_channels, c.stem_width, 7, 2, 3, 1, false}
                     : conv2d_options{c.in_channels, c.stem_width, 3, 1, 1, 1, false}),
          bn1_(s, {c.stem_width, 1e-5f, 0.1f, true}) {
        SMILE_CHECK(!c.blocks.empty() && c.blocks.size() == c.planes.size(), c.arch,
                    ": blocks and planes must list the same, non-zero number of stages");
        if (c.stem == stem_kind::imagenet) maxpool_.emplace(pool2d<B>::max(3, 2, 1));
        std::int64_t channels = c.stem_width;
        for (std::size_t i = 0; i < c.blocks.size(); ++i) {
            stage_type stage;
            for (std::int64_t b = 0; b < c.blocks[i]; ++b) {
                const std::int64_t stride = (i > 0 && b == 0) ? 2 : 1;
                stage.push_back(residual_block<B>(s, gen, {c.block, channels, c.planes[i], stride, c.shortcut}));
                channels = c.planes[i] * expansion(c.block);
            }
            stages_.push_back(std::move(stage));
        }
        stage_out_.resize(stages_.size());
        stage_taps_.resize(stages_.size());
        set_name({});
        reset_parameters(gen);
    }

    /// torchvision's initialisation (models/torchvision_init.hpp).
    void reset_parameters(rng& gen) { torchvision_initialise<B>(*this, gen); }

    void set_name(std::string name) {
        layer_state<B>::set_name(name);
        conv1_.set_name(join_name(name, "conv1"));
        bn1_.set_name(join_name(name, "bn1"));
        if (maxpool_) maxpool_->set_name(join_name(name, "maxpool"));
        for (std::size_t i = 0; i < stages_.size(); ++i) {
            stages_[i].set_name(join_name(name, stage_name(i)));
            stage_taps_[i].set_name(join_name(name, stage_name(i)));
        }
    }

    [[nodiscard]] shape4 output_shape(const shape4& x) const {
        SMILE_CHECK(x.c == config_.in_channels, config_.arch, ": input ", x, " has ", x.c,
                    " channels, the model expects ", config_.in_channels);
        shape4 s = bn1_.output_shape(conv1_.output_shape(x));
        if (maxpool_) s = maxpool_->output_shape(s);
        for (const auto& stage : stages_) s = stage.output_shape(s);
        return s;
    }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        (void)output_shape(x.shape());  // names the model on a wrong input
        activation_slots<B> slot(s, m);
        const tensor<B>* stem = nullptr;
        if (m == mode::eval) {  // BN folded into the convolution (conv_bn_fold)
            tensor<B>& b1 = slot(bn1_out_, conv1_.output_shape(x.shape()));
            conv1_.forward_folded(s, bn1_, x, b1,
                                  bn1_.options().fuse_relu ? activation_kind::relu : activation_kind::identity, false);
            stem = &b1;
        } else {
            tensor<B>& c1 = slot(conv1_out_, conv1_.output_shape(x.shape()));
            conv1_.forward(s, x, c1, m);
            tensor<B>& b1 = slot(bn1_out_, c1.shape());
            bn1_.forward(s, c1, b1, m);
            stem = &b1;
        }
        const tensor<B>& b1 = *stem;
        const tensor<B>* in = &b1;
        if (maxpool_) {
            tensor<B>& p = slot(pool_out_, maxpool_->output_shape(b1.shape()));
            maxpool_->forward(s, b1, p, m);
            in = &p;
        }
        for (std::size_t i = 0; i < stages_.size(); ++i) {
            const bool last = i + 1 == stages_.size();
            tensor<B>& out = last ? y : slot(stage_out_[i], stages_[i].output_shape(in->shape()));
            stages_[i].forward(s, *in, out, m);
            stage_taps_[i].record(out, m);
            in = &out;
        }
        this->end_forward(y);
    }

    /// Runs back through the stages (adding each stage tap's injected gradient at its output),
    /// the stem's max pooling, BN+ReLU and convolution, releasing each kept activation once
    /// backward has passed it.
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        SMILE_CHECK(conv1_out_, config_.arch, ": backward needs a preceding forward in training mode (once per forward)");
        typename tensor_pool<B>::lease current;
        const tensor<B>* g = &dy;
        if (stage_taps_.back().has_injection()) {
            current = s.borrow(dy.shape());
            current->assign(dy);
            stage_taps_.back().apply(s, *current);
            g = &*current;
        }
        for (std::size_t i = stages_.size(); i-- > 0;) {
            auto next = s.borrow(stage_input(i).shape());
            stages_[i].backward(s, *g, &*next);
            s.gradients_written();
            if (i + 1 < stages_.size()) stage_out_[i] = {};
            if (i > 0) stage_taps_[i - 1].apply(s, *next);
            current = std::move(next);
            g = &*current;
        }
        if (maxpool_) {
            auto next = s.borrow(bn1_out_->shape());
            maxpool_->backward(s, *g, &*next);
            pool_out_ = {};
            current = std::move(next);
            g = &*current;
        }
        auto g_conv = s.borrow(conv1_out_->shape());
        bn1_.backward(s, *g, &*g_conv);
        bn1_out_ = {};
        current = {};
        conv1_.backward(s, *g_conv, dx);
        conv1_out_ = {};
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        conv1_.visit_parameters(join_name(prefix, "conv1"), f);
        bn1_.visit_parameters(join_name(prefix, "bn1"), f);
        for (std::size_t i = 0; i < stages_.size(); ++i)
            stages_[i].visit_parameters(join_name(prefix, stage_name(i)), f);
    }
    template <class F>
    void visit_buffers(std::string_view prefix, F&& f) {
        bn1_.visit_buffers(join_name(prefix, "bn1"), f);
        for (std::size_t i = 0; i < stages_.size(); ++i)
            stages_[i].visit_buffers(join_name(prefix, stage_name(i)), f);
    }

    /// The tap named `name`: a stage output ("layer2") or a block's last convolution
    /// ("layer2.3.conv3" for bottlenecks, "layer2.1.conv2" for basic blocks); null if none.
    [[nodiscard]] tap<B>* find_tap(std::string_view name) {
        for (std::size_t i = 0; i < stages_.size(); ++i) {
            if (name == stage_taps_[i].name()) return &stage_taps_[i];
            for (auto& block : stages_[i])
                if (name == block.conv_tap().name()) return &block.conv_tap();
        }
        return nullptr;
    }

    [[nodiscard]] std::string_view arch() const noexcept { return config_.arch; }
    /// The last stage's output ("layer4"): SMILE's feature map and DELTA's "smile" hook.
    [[nodiscard]] std::string output_name() const { return stage_name(stages_.size() - 1); }
    /// The last block's last convolution ("layer4.2.conv3"), whose filters make that map's channels.
    [[nodiscard]] std::string output_conv() const { return stage_convs().back(); }
    /// Each stage's last block's last convolution: DELTA's original hooks.
    [[nodiscard]] std::vector<std::string> stage_convs() const {
        std::vector<std::string> out;
        for (std::size_t i = 0; i < stages_.size(); ++i) {
            const auto& last = stages_[i][stages_[i].size() - 1];
            out.push_back(join_name(stage_name(i), std::to_string(stages_[i].size() - 1) + ".conv" +
                                                       std::to_string(last.unit_count())));
        }
        return out;
    }
    /// torchvision's ResNet calls its classifier `fc`.
    [[nodiscard]] std::string head_name() const { return resnet_config::weight_head; }

    [[nodiscard]] tap<B>& stage_tap(std::size_t i) { return stage_taps_.at(i); }
    [[nodiscard]] stage_type& stage(std::size_t i) { return stages_.at(i); }
    [[nodiscard]] std::size_t stage_count() const noexcept { return stages_.size(); }
    [[nodiscard]] const resnet_config& config() const noexcept { return config_; }
    [[nodiscard]] std::int64_t out_channels() const { return config_.out_channels(); }
    [[nodiscard]] conv2d<B>& stem_conv() noexcept { return conv1_; }

    /// Calls f on every leaf convolution and batch norm, in visiting order.
    template <class F>
    void visit_modules(F&& f) {
        f(conv1_);
        f(bn1_);
        for (auto& stage : stages_)
            for (auto& block : stage) block.visit_modules(f);
    }

private:
    static std::string stage_name(std::size_t i) { return "layer" + std::to_string(i + 1); }

    const tensor<B>& stage_input(std::size_t i) const {
        if (i > 0) return *stage_out_[i - 1];
        return maxpool_ ? *pool_out_ : *bn1_out_;
    }

    resnet_config config_;
    conv2d<B> conv1_;
    batch_norm2d<B> bn1_;
    std::optional<pool2d<B>> maxpool_;
    std::vector<stage_type> stages_;
    std::vector<tap<B>> stage_taps_;
    activation_lease<B> conv1_out_, bn1_out_, pool_out_;
    std::vector<activation_lease<B>> stage_out_;
};

}  // namespace smile
