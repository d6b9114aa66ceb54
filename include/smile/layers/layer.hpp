#pragma once
/// @file
/// The layer contract, stated once for every layer of the library (dlib's
/// EXAMPLE_COMPUTATIONAL_LAYER_, but checked by the compiler as the `Layer` concept).
///
/// A layer `L` over backend `B` provides:
///
///   shape4 output_shape(const shape4& input) const;
///       The output shape for an input shape; throws `smile::error` naming the layer when the
///       input does not fit (wrong channel count, kernel larger than the input, ...).
///
///   void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m);
///       @pre  `x` and `y` are distinct tensors; `x` has a valid input shape.
///       @post `y` is resized to `output_shape(x.shape())` and overwritten.
///       In `mode::train` and `mode::eval_grad` the layer remembers `x` and `y` (by address):
///       the caller keeps `x` alive and unmodified until `backward`, and `y` too when the
///       layer's backward reads its output (ReLU, max pooling, fused BN+ReLU). In `mode::eval`
///       the layer uses inference primitives and BN running statistics, and remembers nothing.
///
///   void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx);
///       @pre  the layer's last forward kept its activations (`train` or `eval_grad`;
///             otherwise `smile::error`), and
///             `dy` = ∂L/∂y has the output shape.
///       @post every parameter's gradient is *overwritten* with ∂L/∂θ; when `dx` is not null,
///             `*dx` is resized to the input shape and overwritten with ∂L/∂x. When `dx` is
///             null the input gradient is not computed at all (the first convolution of a
///             network never needs it).
///       Nothing accumulates. Gradient fan-in happens only in containers: a residual block
///       adds its two branches, the classifier adds its two heads, a tap adds the gradient
///       injected into it. So a training step needs no zero_grad().
///
///   void visit_parameters(std::string_view prefix, F f);   f(const std::string&, parameter<B>&)
///   void visit_buffers(std::string_view prefix, F f);      f(const std::string&, tensor<B>&)
///       Visits trained parameters / untrained state (BN running statistics) in a fixed order
///       with dotted names that equal PyTorch's state_dict keys for the same module tree.
///
///   void set_name(std::string) and const std::string& name() const
///       The dotted path used in error messages; containers set it on their children.

#include <concepts>
#include <string>
#include <string_view>

#include <smile/core/parameter.hpp>
#include <smile/core/session.hpp>

namespace smile {

/// `prefix.name`, or `name` when the prefix is empty.
[[nodiscard]] inline std::string join_name(std::string_view prefix, std::string_view name) {
    if (prefix.empty()) return std::string(name);
    if (name.empty()) return std::string(prefix);
    std::string joined;
    joined.reserve(prefix.size() + 1 + name.size());
    joined.append(prefix).append(".").append(name);
    return joined;
}

namespace detail {
template <class B>
struct parameter_probe {
    void operator()(const std::string&, parameter<B>&) const {}
};
template <class B>
struct buffer_probe {
    void operator()(const std::string&, tensor<B>&) const {}
};
}  // namespace detail

/// The layer contract above, as a concept.
template <class L, class B>
concept Layer = Backend<B> && requires(L& layer, const L& const_layer, session<B>& s,
                                       const tensor<B>& x, tensor<B>& y, tensor<B>* dx,
                                       const shape4& shape, mode m, std::string name) {
    { const_layer.output_shape(shape) } -> std::same_as<shape4>;
    { layer.forward(s, x, y, m) };
    { layer.backward(s, x, dx) };
    { layer.visit_parameters(std::string_view{}, detail::parameter_probe<B>{}) };
    { layer.visit_buffers(std::string_view{}, detail::buffer_probe<B>{}) };
    { layer.set_name(name) };
    { const_layer.name() } -> std::convertible_to<const std::string&>;
};

/// Bookkeeping shared by the leaf layers: the name, and what a training forward remembers.
template <Backend B>
class layer_state {
public:
    void set_name(std::string name) { name_ = std::move(name); }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

protected:
    /// Called at the start of forward: checks the contract and records what backward needs.
    void begin_forward(const tensor<B>& x, tensor<B>& y, mode m) {
        SMILE_CHECK(!x.empty(), label(), ": forward on an empty input tensor");
        SMILE_CHECK(&x != &y, label(), ": forward input and output must be distinct tensors");
        y.bind(x.context());
        input_ = keeps_activations(m) ? &x : nullptr;
        output_ = keeps_activations(m) ? &y : nullptr;
    }
    /// Called at the end of forward, once the output has its shape.
    void end_forward(const tensor<B>& y) { output_shape_ = y.shape(); }
    /// Called at the start of backward: the last forward must have been a training one.
    void begin_backward(const tensor<B>& dy) const {
        SMILE_CHECK(input_ != nullptr, label(),
                    ": backward needs a preceding forward in training mode (the last forward ran"
                    " in evaluation mode, which keeps no activations; use mode::eval_grad for"
                    " gradients with evaluation semantics)");
        check_shape(label() + " output gradient", output_shape_, dy.shape());
    }
    [[nodiscard]] const tensor<B>& input() const { return *input_; }
    /// The output of the last forward. Only layers whose backward reads their output values
    /// (ReLU, fused BN+ReLU) may use it; a container may have released it otherwise.
    [[nodiscard]] const tensor<B>& output() const { return *output_; }
    [[nodiscard]] std::string label() const { return name_.empty() ? "(unnamed layer)" : name_; }

private:
    std::string name_;
    const tensor<B>* input_ = nullptr;
    const tensor<B>* output_ = nullptr;
    shape4 output_shape_{};
};

/// Resizes `*dx` to `shape` (when requested) and returns its view; an empty view otherwise.
template <Backend B>
tensor_view<B> prepare_gradient(tensor<B>* dx, const tensor<B>& like) {
    if (dx == nullptr) return {};
    dx->bind(like.context());
    dx->resize(like.shape());
    return dx->view();
}

/// `kept` (resized to `shape`) when the pass keeps activations for a backward, else a session
/// scratch tensor leased into `lease`: intermediates of an evaluation pass (a teacher's, a
/// prediction's) then share memory with every other layer instead of holding their own.
template <Backend B>
tensor<B>& kept_or_scratch(session<B>& s, mode m, tensor<B>& kept,
                           typename tensor_pool<B>::lease& lease, shape4 shape) {
    if (!keeps_activations(m)) {
        lease = s.borrow(shape);
        return *lease;
    }
    kept.bind(s.context());
    kept.resize(shape);
    return kept;
}

}  // namespace smile
