#pragma once
/// @file
/// The backbone seam: what a network family must offer so that `classifier`, every method, the
/// mean teacher, the checkpoint and the `smile` program work with it unchanged.
///
/// A family is written as an ordinary static layer (`resnet<B>`, `mobilenet_v2<B>`: templated
/// visitors, no virtual calls inside) and wrapped once by `backbone_adapter` into the run-time
/// interface `backbone<B>`, so that `--arch` can choose a family when the program runs. The
/// virtual calls happen once per forward, backward or visit, never inside the numerics.
///
/// A family provides, beyond the layer contract (layers/layer.hpp):
///
///   std::string_view arch() const              the architecture name ("resnet50", "mobilenet_v2")
///   std::int64_t out_channels() const          channels of the output feature map
///   std::string output_name() const            the name of that map ("layer4", "features"); the
///                                              classifier puts a tap there
///   std::string feature_map_name() const       optional: SMILE's L_FE map and DELTA's "smile" hook,
///                                              when it is not the output (EfficientNet's last MBConv
///                                              stage, "features.7", before the head convolution)
///   std::string output_conv() const            the convolution whose filters make that map's
///                                              channels (DELTA's attention for its "smile" flavour)
///   std::vector<std::string> stage_convs()     per resolution stage, the last convolution, each
///                                              also a tap on that convolution's output (DELTA's
///                                              "original" hooks)
///   std::string head_name() const              the classifier's name in the family's own weight
///                                              files ("fc" for torchvision's ResNets,
///                                              "classifier.1" for its MobileNets and EfficientNets)
///   std::vector<weight_naming> weight_namings() optional: other libraries' names for the family's
///                                              tensors (io/weight_naming.hpp), which the loader
///                                              recognises
///   tap<B>* find_tap(std::string_view)         a tap by dotted name, null if none
///   void reset_parameters(rng&)                the family's own initialisation
///   void set_generator(rng*)                   optional: where training-time draws (stochastic
///                                              depth) come from; methods give their run generator

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <smile/io/weight_naming.hpp>
#include <smile/layers/tap.hpp>

namespace smile {

template <Backend B>
using parameter_visitor = std::function<void(const std::string&, parameter<B>&)>;
template <Backend B>
using buffer_visitor = std::function<void(const std::string&, tensor<B>&)>;

/// The run-time interface of a backbone (see the file comment for each member's meaning).
template <Backend B>
class backbone {
public:
    virtual ~backbone() = default;
    backbone() = default;
    backbone(const backbone&) = delete;
    backbone& operator=(const backbone&) = delete;

    [[nodiscard]] virtual std::string_view arch() const = 0;
    [[nodiscard]] virtual shape4 output_shape(const shape4& x) const = 0;
    virtual void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) = 0;
    virtual void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) = 0;
    virtual void visit_parameters(std::string_view prefix, const parameter_visitor<B>& f) = 0;
    virtual void visit_buffers(std::string_view prefix, const buffer_visitor<B>& f) = 0;
    virtual void set_name(std::string name) = 0;
    virtual void reset_parameters(rng& gen) = 0;
    [[nodiscard]] virtual std::int64_t out_channels() const = 0;
    [[nodiscard]] virtual std::string output_name() const = 0;
    [[nodiscard]] virtual std::string feature_map_name() const = 0;
    virtual void set_generator(rng* gen) = 0;
    [[nodiscard]] virtual std::string output_conv() const = 0;
    [[nodiscard]] virtual std::vector<std::string> stage_convs() = 0;
    [[nodiscard]] virtual std::string head_name() const = 0;
    [[nodiscard]] virtual tap<B>* find_tap(std::string_view name) = 0;
    [[nodiscard]] virtual std::vector<weight_naming> weight_namings() const = 0;
};

/// A family as the description above asks, checked by the compiler when it is wrapped.
template <class Net, class B>
concept BackboneFamily = Layer<Net, B> && requires(Net& net, const Net& c, rng& gen, std::string_view name) {
    { c.arch() } -> std::convertible_to<std::string_view>;
    { c.out_channels() } -> std::convertible_to<std::int64_t>;
    { c.output_name() } -> std::convertible_to<std::string>;
    { c.output_conv() } -> std::convertible_to<std::string>;
    { net.stage_convs() } -> std::convertible_to<std::vector<std::string>>;
    { c.head_name() } -> std::convertible_to<std::string>;
    { net.find_tap(name) } -> std::same_as<tap<B>*>;
    { net.reset_parameters(gen) };
};

/// Wraps a family into the run-time interface.
template <Backend B, BackboneFamily<B> Net>
class backbone_adapter final : public backbone<B> {
public:
    explicit backbone_adapter(Net net) : net_(std::move(net)) {}

    [[nodiscard]] std::string_view arch() const override { return net_.arch(); }
    [[nodiscard]] shape4 output_shape(const shape4& x) const override { return net_.output_shape(x); }
    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) override { net_.forward(s, x, y, m); }
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) override { net_.backward(s, dy, dx); }
    void visit_parameters(std::string_view prefix, const parameter_visitor<B>& f) override {
        net_.visit_parameters(prefix, f);
    }
    void visit_buffers(std::string_view prefix, const buffer_visitor<B>& f) override { net_.visit_buffers(prefix, f); }
    void set_name(std::string name) override { net_.set_name(std::move(name)); }
    void reset_parameters(rng& gen) override { net_.reset_parameters(gen); }
    [[nodiscard]] std::int64_t out_channels() const override { return net_.out_channels(); }
    [[nodiscard]] std::string output_name() const override { return net_.output_name(); }
    [[nodiscard]] std::string feature_map_name() const override {
        if constexpr (requires { net_.feature_map_name(); }) {
            return net_.feature_map_name();
        } else {
            return net_.output_name();
        }
    }
    void set_generator(rng* gen) override {
        if constexpr (requires { net_.set_generator(gen); }) net_.set_generator(gen);
    }
    [[nodiscard]] std::string output_conv() const override { return net_.output_conv(); }
    [[nodiscard]] std::vector<std::string> stage_convs() override { return net_.stage_convs(); }
    [[nodiscard]] std::string head_name() const override { return net_.head_name(); }
    [[nodiscard]] tap<B>* find_tap(std::string_view name) override { return net_.find_tap(name); }
    [[nodiscard]] std::vector<weight_naming> weight_namings() const override {
        if constexpr (requires { net_.weight_namings(); }) {
            return net_.weight_namings();
        } else {
            return {};
        }
    }

    [[nodiscard]] Net& net() noexcept { return net_; }

private:
    Net net_;
};

/// A family, wrapped for `classifier`.
template <Backend B, BackboneFamily<B> Net>
std::unique_ptr<backbone<B>> wrap_backbone(Net net) {
    return std::make_unique<backbone_adapter<B, Net>>(std::move(net));
}

}  // namespace smile
