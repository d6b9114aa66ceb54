#pragma once
/// @file
/// `classifier<B>`: the transfer-learning model of SMILE and its baselines, over any backbone
/// family (models/backbone.hpp).
///
///   x → backbone → F (its output, tap named by the family: "layer4", "features") → global
///   average pool → f (pooled features, tap "pool") → target head `fc` → logits
///                                                  → source head `source_fc` → source logits
///
/// SMILE's feature map is the family's `feature_map_name()`: the backbone's output for the
/// ResNets and MobileNetV2, a tap inside the backbone for EfficientNet ("features.7").
///
/// The source head is optional (SMILE's L_FC and Co-Tuning need it); it is initialised from the
/// pretrained network's classifier when weights are loaded with a source-head mapping. In
/// backward the gradient reaching f is the sum of both heads' input gradients plus whatever was
/// injected at the "pool" tap; the gradient reaching F adds the feature tap's injection.
///
/// Parameter names: the backbone's (the family's own, torchvision's), then `fc.*`, then
/// `source_fc.*`. Every family's target head is `fc` inside smile, so rules such as "fc.*" mean
/// the same for every family; `head_name()` is what the family calls it in its weight files
/// ("classifier.1" for torchvision's MobileNets), and io/weights.hpp translates at the file.

#include <memory>
#include <optional>
#include <smile/core/ops.hpp>
#include <smile/core/precision_scope.hpp>
#include <smile/layers/linear.hpp>
#include <smile/layers/pooling.hpp>
#include <smile/layers/tap.hpp>
#include <smile/models/backbone.hpp>
#include <string_view>

namespace smile {

struct classifier_config {
    std::int64_t num_classes = 0;     ///< classes of the target head `fc`
    std::int64_t source_classes = 0;  ///< classes of the source head; 0: no source head
};

template <Backend B>
class classifier {
public:
    classifier(session<B>& s, rng& gen, std::unique_ptr<smile::backbone<B>> net, const classifier_config& c)
        : backbone_(checked_backbone(std::move(net))),
          head_(s, gen, {backbone_->out_channels(), c.num_classes, true}) {
        SMILE_CHECK(c.num_classes > 0, "classifier: num_classes must be positive");
        SMILE_CHECK(c.source_classes >= 0, "classifier: source_classes must be non-negative");
        if (c.source_classes > 0) source_head_.emplace(s, gen, linear_options{backbone_->out_channels(), c.source_classes, true});
        head_.set_name("fc");
        if (source_head_) source_head_->set_name("source_fc");
        pool_.set_name("avgpool");
        feature_tap_.set_name(backbone_->output_name());
        pooled_tap_.set_name("pool");
        feature_tap_.enable();
        pooled_tap_.enable();
        feature_tap().enable();
    }

    /// The precision its convolutions and matrix products compute in, forward and backward
    /// (core/precision.hpp; float32 by default). Refused here, naming `role` ("student",
    /// "teacher"), when the backend or machine cannot compute in it.
    void set_precision(session<B>& s, precision p, std::string_view role = "model") {
        precision_.set(s.context(), p, std::string(arch()) + " " + std::string(role));
    }
    [[nodiscard]] precision compute_precision() const noexcept { return precision_.get(); }

    /// Where the backbone's training-time draws (stochastic depth) come from; methods give their
    /// run generator, so a run reproduces and resumes exactly.
    void set_generator(rng& gen) { backbone_->set_generator(&gen); }

    /// Runs the model on a batch x [n, c, h, w]; results stay available until the next forward.
    void forward(session<B>& s, const tensor<B>& x, mode m) {
        const auto scope = precision_.enter(s.context());
        features_.bind(s.context());
        backbone_->forward(s, x, features_, m);
        feature_tap_.record_kept(features_);
        pool_.forward(s, features_, pooled_, m);
        pooled_tap_.record_kept(pooled_);
        head_.forward(s, pooled_, logits_, m);
        if (source_head_) source_head_->forward(s, pooled_, source_logits_, m);
        last_mode_ = m;
    }

    /// Backpropagates ∂L/∂logits and ∂L/∂source_logits (either may be null: that head then gets
    /// no gradient and is left alone by the optimizer) plus the taps' injections. `dx` receives
    /// ∂L/∂x when not null.
    void backward(session<B>& s, const tensor<B>* dlogits, const tensor<B>* dsource_logits,
                  tensor<B>* dx = nullptr) {
        SMILE_CHECK(keeps_activations(last_mode_),
                    "classifier: backward needs a preceding forward in mode::train or mode::eval_grad");
        SMILE_CHECK(dsource_logits == nullptr || source_head_,
                    "classifier: a source-logit gradient was given but the model has no source head");
        const auto scope = precision_.enter(s.context());
        backward_scope<B> whole(s);  // data-parallel buckets: see core/session.hpp
        auto g_pooled = s.borrow(pooled_.shape());
        bool have = false;
        if (dlogits != nullptr) {
            head_.backward(s, *dlogits, &*g_pooled);
            have = true;
        }
        if (dsource_logits != nullptr) {
            if (!have) {
                source_head_->backward(s, *dsource_logits, &*g_pooled);
            } else {
                auto g_source = s.borrow(pooled_.shape());
                source_head_->backward(s, *dsource_logits, &*g_source);
                ops<B>::add(s.context(), 1.0f, g_source->view(), 1.0f, g_pooled->view(),
                            g_pooled->view());
            }
            have = true;
        }
        if (!have) g_pooled->fill(0.0f);
        s.gradients_written();  // the heads' gradients are final
        pooled_tap_.apply(s, *g_pooled);
        auto g_map = s.borrow(features_.shape());
        pool_.backward(s, *g_pooled, &*g_map);
        feature_tap_.apply(s, *g_map);
        backbone_->backward(s, *g_map, dx);
        whole.close();
    }

    [[nodiscard]] const tensor<B>& logits() const { return checked(logits_, "logits"); }
    [[nodiscard]] const tensor<B>& source_logits() const {
        SMILE_CHECK(source_head_, "classifier: the model has no source head");
        return checked(source_logits_, "source logits");
    }
    /// SMILE's feature map (the `feature_map_name()` tap's tensor of the last forward).
    [[nodiscard]] const tensor<B>& feature_map() {
        checked(features_, "feature map");
        return feature_tap().output();
    }
    [[nodiscard]] const tensor<B>& pooled() const { return checked(pooled_, "pooled features"); }

    /// The tap on SMILE's feature map ("layer4" for a 4-stage ResNet, "features" for MobileNetV2,
    /// "features.7" inside an EfficientNet).
    [[nodiscard]] tap<B>& feature_tap() { return find_tap(backbone_->feature_map_name()); }
    /// The tap on the pooled features ("pool").
    [[nodiscard]] tap<B>& pooled_tap() noexcept { return pooled_tap_; }

    /// A tap by name: the feature map, "pool", or any tap of the backbone ("layer1",
    /// "layer3.5.conv3", "features.17.conv.2"); throws naming the tap when there is none.
    [[nodiscard]] tap<B>& find_tap(std::string_view name) {
        if (name == feature_tap_.name()) return feature_tap_;
        if (name == pooled_tap_.name()) return pooled_tap_;
        tap<B>* t = backbone_->find_tap(name);
        SMILE_CHECK(t != nullptr, "classifier: ", backbone_->arch(), " has no tap named '", name, "'");
        return *t;
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        backbone_->visit_parameters(prefix, parameter_visitor<B>(std::ref(f)));
        head_.visit_parameters(join_name(prefix, "fc"), f);
        if (source_head_) source_head_->visit_parameters(join_name(prefix, "source_fc"), f);
    }
    template <class F>
    void visit_buffers(std::string_view prefix, F&& f) {
        backbone_->visit_buffers(prefix, buffer_visitor<B>(std::ref(f)));
    }

    [[nodiscard]] smile::backbone<B>& backbone() noexcept { return *backbone_; }
    [[nodiscard]] std::string_view arch() const { return backbone_->arch(); }
    /// The family's name for its classifier in weight files ("fc", "classifier.1").
    [[nodiscard]] std::string head_name() const { return backbone_->head_name(); }
    /// Other libraries' names for the backbone's tensors (io/weight_naming.hpp).
    [[nodiscard]] std::vector<weight_naming> weight_namings() const { return backbone_->weight_namings(); }
    [[nodiscard]] linear<B>& head() noexcept { return head_; }
    [[nodiscard]] bool has_source_head() const noexcept { return source_head_.has_value(); }
    [[nodiscard]] linear<B>& source_head() {
        SMILE_CHECK(source_head_, "classifier: the model has no source head");
        return *source_head_;
    }
    [[nodiscard]] std::int64_t num_classes() const { return head_.options().out_features; }
    [[nodiscard]] std::int64_t source_classes() const {
        return source_head_ ? source_head_->options().out_features : 0;
    }
    [[nodiscard]] std::int64_t feature_dim() const { return backbone_->out_channels(); }

private:
    static std::unique_ptr<smile::backbone<B>> checked_backbone(std::unique_ptr<smile::backbone<B>> net) {
        SMILE_CHECK(net != nullptr, "classifier: no backbone");
        return net;
    }
    static const tensor<B>& checked(const tensor<B>& t, const char* what) {
        SMILE_CHECK(!t.empty(), "classifier: no ", what, " yet; run forward first");
        return t;
    }

    std::unique_ptr<smile::backbone<B>> backbone_;
    global_avg_pool<B> pool_;
    linear<B> head_;
    std::optional<linear<B>> source_head_;
    tap<B> feature_tap_, pooled_tap_;
    tensor<B> features_, pooled_, logits_, source_logits_;
    mode last_mode_ = mode::eval;
    model_precision<B> precision_;
};

}  // namespace smile
