#pragma once
/// @file
/// `sequential<B, Ls...>`: a fixed chain of layers of different types (a std::tuple), and
/// `stack<B, L>`: a run-time-length chain of layers of one type (a ResNet stage). Children are
/// named "0", "1", ... unless names are given, so parameter names match PyTorch's
/// nn.Sequential.

#include <array>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <smile/layers/chain.hpp>

namespace smile {

template <Backend B, class... Ls>
    requires(Layer<Ls, B> && ...)
class sequential {
public:
    static constexpr std::size_t size = sizeof...(Ls);
    static_assert(size > 0, "sequential needs at least one layer");

    explicit sequential(Ls... layers) : layers_(std::move(layers)...) {
        for (std::size_t i = 0; i < size; ++i) names_[i] = std::to_string(i);
        set_name({});
    }
    sequential(std::array<std::string, size> names, Ls... layers)
        : layers_(std::move(layers)...), names_(std::move(names)) {
        set_name({});
    }

    void set_name(std::string name) {
        name_ = std::move(name);
        for (std::size_t i = 0; i < size; ++i)
            apply(i, [&](auto& layer) { layer.set_name(join_name(name_, names_[i])); });
    }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

    [[nodiscard]] shape4 output_shape(const shape4& x) const {
        return detail::chain_output_shape<B>(size, x, [&](std::size_t i, auto&& f) {
            const_cast<sequential*>(this)->apply(i, [&](auto& layer) { f(std::as_const(layer)); });
        });
    }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        detail::chain_forward<B>(s, x, y, m, activations_, size,
                                 [&](std::size_t i, auto&& f) { apply(i, f); });
    }

    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        SMILE_CHECK(size == 1 || activations_.size() + 1 == size, name_,
                    ": backward needs a preceding forward in training mode (once per forward)");
        detail::chain_backward<B>(s, dy, dx, activations_, size,
                                  [&](std::size_t i, auto&& f) { apply(i, f); });
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        for (std::size_t i = 0; i < size; ++i)
            apply(i, [&](auto& layer) { layer.visit_parameters(join_name(prefix, names_[i]), f); });
    }
    template <class F>
    void visit_buffers(std::string_view prefix, F&& f) {
        for (std::size_t i = 0; i < size; ++i)
            apply(i, [&](auto& layer) { layer.visit_buffers(join_name(prefix, names_[i]), f); });
    }

    template <std::size_t I>
    [[nodiscard]] auto& get() noexcept {
        return std::get<I>(layers_);
    }

private:
    /// Calls f(child i) for a run-time index.
    template <class F>
    void apply(std::size_t i, F&& f) {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            ((i == I ? (f(std::get<I>(layers_)), true) : false) || ...);
        }(std::make_index_sequence<size>{});
    }

    std::tuple<Ls...> layers_;
    std::array<std::string, size> names_;
    std::string name_;
    std::vector<activation_lease<B>> activations_;
};

template <Backend B, class L>
    requires Layer<L, B>
class stack {
public:
    stack() = default;
    explicit stack(std::vector<L> layers) : layers_(std::move(layers)) { set_name({}); }

    void push_back(L layer) {
        layers_.push_back(std::move(layer));
        set_name(name_);
    }

    void set_name(std::string name) {
        name_ = std::move(name);
        for (std::size_t i = 0; i < layers_.size(); ++i)
            layers_[i].set_name(join_name(name_, std::to_string(i)));
    }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

    [[nodiscard]] shape4 output_shape(const shape4& x) const {
        shape4 s = x;
        for (const auto& layer : layers_) s = layer.output_shape(s);
        return s;
    }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        detail::chain_forward<B>(s, x, y, m, activations_, layers_.size(),
                                 [&](std::size_t i, auto&& f) { f(layers_[i]); });
    }

    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        SMILE_CHECK(layers_.size() == 1 || activations_.size() + 1 == layers_.size(), name_,
                    ": backward needs a preceding forward in training mode (once per forward)");
        detail::chain_backward<B>(s, dy, dx, activations_, layers_.size(),
                                  [&](std::size_t i, auto&& f) { f(layers_[i]); });
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        for (std::size_t i = 0; i < layers_.size(); ++i)
            layers_[i].visit_parameters(join_name(prefix, std::to_string(i)), f);
    }
    template <class F>
    void visit_buffers(std::string_view prefix, F&& f) {
        for (std::size_t i = 0; i < layers_.size(); ++i)
            layers_[i].visit_buffers(join_name(prefix, std::to_string(i)), f);
    }

    [[nodiscard]] std::size_t size() const noexcept { return layers_.size(); }
    [[nodiscard]] L& operator[](std::size_t i) { return layers_.at(i); }
    [[nodiscard]] const L& operator[](std::size_t i) const { return layers_.at(i); }
    [[nodiscard]] auto begin() { return layers_.begin(); }
    [[nodiscard]] auto end() { return layers_.end(); }

private:
    std::vector<L> layers_;
    std::string name_;
    std::vector<activation_lease<B>> activations_;
};

}  // namespace smile
