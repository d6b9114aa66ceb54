#pragma once
/// @file
/// `efficientnet<B>`: EfficientNet-B0…B4 (Tan & Le, 2019) as torchvision builds them, image →
/// feature map ("features"), with torchvision's parameter names:
///
///   features.0       3×3/2 convolution, BN, SiLU (32 channels · width)
///   features.1..7    stages of MBConv blocks (layers/mbconv.hpp); B0's (e, k, s, in, out, n):
///                    (1,3,1,32,16,1) (6,3,2,16,24,2) (6,5,2,24,40,2) (6,3,2,40,80,3)
///                    (6,5,1,80,112,3) (6,5,2,112,192,4) (6,3,1,192,320,1); channels × width
///                    (rounded to multiples of 8), block counts ⌈n × depth⌉
///   features.8       1×1 convolution to 4× the last stage's channels, BN, SiLU
///
/// | arch            | width | depth | feature map (features.7)  | output |
/// |-----------------|-------|-------|---------------------------|--------|
/// | efficientnet_b0 | 1.0   | 1.0   | 320                       | 1280   |
/// | efficientnet_b1 | 1.0   | 1.1   | 320                       | 1280   |
/// | efficientnet_b2 | 1.1   | 1.2   | 352                       | 1408   |
/// | efficientnet_b3 | 1.2   | 1.4   | 384                       | 1536   |
/// | efficientnet_b4 | 1.4   | 1.8   | 448                       | 1792   |
///
/// Stochastic depth: block b of B (counted over all stages from 0) drops its branch with
/// probability 0.2·b/B in training, drawn from the generator given by `set_generator` (the
/// method's run generator) or, until one is given, from the family's own generator seeded at
/// construction. torchvision's classifier (dropout, then `classifier.1`) is the classifier's head;
/// its dropout is not applied (docs/models-and-weights.md).
///
/// SMILE's feature map is the last MBConv stage's output, "features.7" (the SMILE authors hook
/// `_blocks.31` of efficientnet_pytorch's B4, the same tensor: 448 channels), not the head
/// convolution's output. Taps: every stage's output ("features.3") and every block's projection
/// convolution ("features.3.1.block.3.0").

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <smile/layers/mbconv.hpp>
#include <smile/models/efficientnet_config.hpp>
#include <smile/models/efficientnet_naming.hpp>
#include <smile/models/torchvision_init.hpp>

namespace smile {

template <Backend B>
    requires BackendActivations<B> && BackendBroadcast<B>
class efficientnet : public layer_state<B> {
public:
    efficientnet(session<B>& s, rng& gen, const efficientnet_config& c) : config_(c), own_generator_(gen.bits()) {
        SMILE_CHECK(c.width_mult > 0 && c.depth_mult > 0 && c.in_channels > 0, c.arch,
                    ": width, depth and input channels must be positive");
        SMILE_CHECK(c.stochastic_depth >= 0 && c.stochastic_depth < 1, c.arch, ": the stochastic depth rate must be in [0, 1)");
        const auto& settings = efficientnet_b0_stages;
        auto channels = [&](std::int64_t v) { return efficientnet_channels(c, v); };
        const std::vector<std::int64_t> depths = efficientnet_depths(c);
        std::int64_t total = 0;
        for (std::int64_t d : depths) total += d;
        const std::int64_t stem_out = channels(settings[0].in);
        // With a fixed "same" padding (efficientnet_pytorch), each convolution's padding is
        // computed for the size its input has at the model's image size.
        std::int64_t size = c.same_for;
        auto shrink = [&](std::int64_t stride) { size = (size + stride - 1) / stride; };
        stem_.emplace(s, gen, conv_bn_act_options{{c.in_channels, stem_out, 3, 2, 1, 1, false, c.tf_same, size},
                                                  activation_kind::silu, c.bn_epsilon, c.bn_momentum, "0", "1"});
        shrink(2);
        std::int64_t block_id = 0;
        for (std::size_t k = 0; k < std::size(settings); ++k) {
            const auto& st = settings[k];
            std::vector<mbconv<B>> stage;
            for (std::int64_t i = 0; i < depths[k]; ++i) {
                const std::int64_t in = i == 0 ? channels(st.in) : channels(st.out);
                const double drop = c.stochastic_depth * double(block_id++) / double(total);
                const std::int64_t stride = i == 0 ? st.stride : 1;
                stage.emplace_back(s, gen,
                                   mbconv_options{in, channels(st.out), make_divisible(double(in * st.expand), 8), st.kernel,
                                                  stride, drop, c.bn_epsilon, c.bn_momentum, c.tf_same, size});
                shrink(stride);
            }
            if (st.stride == 2 && !stages_.empty()) stage_ends_.push_back(stages_.size() - 1);
            stages_.push_back(std::move(stage));
        }
        stage_ends_.push_back(stages_.size() - 1);
        map_channels_ = channels(settings[std::size(settings) - 1].out);
        head_.emplace(s, gen, conv_bn_act_options{{map_channels_, 4 * map_channels_, 1, 1, 0, 1, false}, activation_kind::silu,
                                                  c.bn_epsilon, c.bn_momentum, "0", "1"});
        stage_taps_.resize(stages_.size());
        for (auto& t : stage_taps_) t.enable(false);
        outputs_.resize(1 + count_blocks());
        set_name({});
        set_generator(&own_generator_);
        reset_parameters(gen);
    }

    // The generator pointer refers to own_generator_ by default: moving must re-point it.
    efficientnet(efficientnet&& o) noexcept
        : layer_state<B>(std::move(o)), config_(std::move(o.config_)), own_generator_(o.own_generator_),
          external_(o.external_), map_channels_(o.map_channels_), stem_(std::move(o.stem_)),
          head_(std::move(o.head_)), stages_(std::move(o.stages_)), stage_ends_(std::move(o.stage_ends_)),
          stage_taps_(std::move(o.stage_taps_)), outputs_(std::move(o.outputs_)) {
        set_generator(external_);
    }
    efficientnet& operator=(efficientnet&&) = delete;

    /// torchvision's initialisation (models/torchvision_init.hpp).
    void reset_parameters(rng& gen) { torchvision_initialise<B>(*this, gen); }

    /// Where stochastic depth draws its masks (the method's run generator); null restores the
    /// family's own.
    void set_generator(rng* gen) {
        external_ = gen == &own_generator_ ? nullptr : gen;
        rng* g = external_ != nullptr ? external_ : &own_generator_;
        for (auto& stage : stages_)
            for (auto& b : stage) b.set_generator(g);
    }

    void set_name(std::string name) {
        layer_state<B>::set_name(name);
        stem_->set_name(join_name(name, "features.0"));
        for (std::size_t i = 0; i < stages_.size(); ++i) {
            const std::string stage = join_name(name, stage_name(i));
            for (std::size_t b = 0; b < stages_[i].size(); ++b) stages_[i][b].set_name(join_name(stage, std::to_string(b)));
            stage_taps_[i].set_name(stage);
        }
        head_->set_name(join_name(name, "features." + std::to_string(stages_.size() + 1)));
    }

    [[nodiscard]] shape4 output_shape(const shape4& x) const {
        SMILE_CHECK(x.c == config_.in_channels, config_.arch, ": input ", x, " has ", x.c, " channels, the model expects ",
                    config_.in_channels);
        shape4 s = stem_->output_shape(x);
        for (const auto& stage : stages_)
            for (const auto& b : stage) s = b.output_shape(s);
        return head_->output_shape(s);
    }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        (void)output_shape(x.shape());  // names the model on a wrong input
        activation_slots<B> slot(s, m);
        std::size_t k = 0;
        tensor<B>& stem = slot(outputs_[k++], stem_->output_shape(x.shape()));
        stem_->forward(s, x, stem, m);
        const tensor<B>* in = &stem;
        for (std::size_t i = 0; i < stages_.size(); ++i) {
            for (auto& b : stages_[i]) {
                tensor<B>& out = slot(outputs_[k++], b.output_shape(in->shape()));
                b.forward(s, *in, out, m);
                in = &out;
            }
            stage_taps_[i].record(*in, m);
        }
        head_->forward(s, *in, y, m);
        this->end_forward(y);
    }

    /// Back through the head, the blocks (adding each stage tap's injection at its stage's
    /// output) and the stem, releasing each kept output once its producer's backward has run.
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        SMILE_CHECK(outputs_.back().get_if() != nullptr, config_.arch,
                    ": backward needs a preceding forward in training mode (once per forward)");
        auto g = s.borrow(outputs_.back()->shape());
        head_->backward(s, dy, &*g);
        std::size_t k = outputs_.size() - 1;  // the output of the block being run back
        for (std::size_t i = stages_.size(); i-- > 0;) {
            stage_taps_[i].apply(s, *g);
            for (std::size_t b = stages_[i].size(); b-- > 0;) {
                auto next = s.borrow(outputs_[k - 1]->shape());
                stages_[i][b].backward(s, *g, &*next);
                s.gradients_written();
                outputs_[k] = {};
                --k;
                g = std::move(next);
            }
        }
        stem_->backward(s, *g, dx);
        outputs_[0] = {};
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        stem_->visit_parameters(join_name(prefix, "features.0"), f);
        for (std::size_t i = 0; i < stages_.size(); ++i)
            for (std::size_t b = 0; b < stages_[i].size(); ++b)
                stages_[i][b].visit_parameters(join_name(join_name(prefix, stage_name(i)), std::to_string(b)), f);
        head_->visit_parameters(join_name(prefix, "features." + std::to_string(stages_.size() + 1)), f);
    }
    template <class F>
    void visit_buffers(std::string_view prefix, F&& f) {
        stem_->visit_buffers(join_name(prefix, "features.0"), f);
        for (std::size_t i = 0; i < stages_.size(); ++i)
            for (std::size_t b = 0; b < stages_[i].size(); ++b)
                stages_[i][b].visit_buffers(join_name(join_name(prefix, stage_name(i)), std::to_string(b)), f);
        head_->visit_buffers(join_name(prefix, "features." + std::to_string(stages_.size() + 1)), f);
    }
    template <class F>
    void visit_modules(F&& f) {
        stem_->visit_modules(f);
        for (auto& stage : stages_)
            for (auto& b : stage) b.visit_modules(f);
        head_->visit_modules(f);
    }

    [[nodiscard]] tap<B>* find_tap(std::string_view name) {
        if (name == head_->conv_tap().name()) return &head_->conv_tap();
        for (std::size_t i = 0; i < stages_.size(); ++i) {
            if (name == stage_taps_[i].name()) return &stage_taps_[i];
            for (auto& b : stages_[i])
                if (name == b.conv_tap().name()) return &b.conv_tap();
        }
        return nullptr;
    }

    [[nodiscard]] std::string_view arch() const noexcept { return config_.arch; }
    [[nodiscard]] std::int64_t out_channels() const noexcept { return 4 * map_channels_; }
    [[nodiscard]] std::string output_name() const { return "features"; }
    /// SMILE's feature map: the last MBConv stage's output (see the file comment).
    [[nodiscard]] std::string feature_map_name() const { return stage_taps_.back().name(); }
    /// The projection convolution of the last block, which makes the feature map's channels.
    [[nodiscard]] std::string output_conv() const { return stages_.back().back().conv_tap().name(); }
    /// The projection convolution of each resolution stage's last block (112², 56², 28², 14², 7²
    /// at 224²).
    [[nodiscard]] std::vector<std::string> stage_convs() const {
        std::vector<std::string> out;
        for (std::size_t i : stage_ends_) out.push_back(stages_[i].back().conv_tap().name());
        return out;
    }
    [[nodiscard]] std::string head_name() const { return efficientnet_config::weight_head; }
    /// The other namings its weights come under (efficientnet_pytorch's, timm's).
    [[nodiscard]] std::vector<weight_naming> weight_namings() const { return efficientnet_weight_namings(config_); }
    [[nodiscard]] const efficientnet_config& config() const noexcept { return config_; }
    /// The blocks of stage i (features.(i + 1)).
    [[nodiscard]] std::vector<mbconv<B>>& stage(std::size_t i) { return stages_.at(i); }

private:
    static std::string stage_name(std::size_t i) { return "features." + std::to_string(i + 1); }
    [[nodiscard]] std::size_t count_blocks() const {
        std::size_t n = 0;
        for (const auto& stage : stages_) n += stage.size();
        return n;
    }

    efficientnet_config config_;
    rng own_generator_;
    rng* external_ = nullptr;  // the generator given by set_generator; null: own_generator_
    std::int64_t map_channels_ = 0;
    std::optional<conv_bn_act<B>> stem_, head_;
    std::vector<std::vector<mbconv<B>>> stages_;
    std::vector<std::size_t> stage_ends_;
    std::vector<tap<B>> stage_taps_;
    std::vector<activation_lease<B>> outputs_;  // stem and block outputs, kept in training
};

}  // namespace smile
