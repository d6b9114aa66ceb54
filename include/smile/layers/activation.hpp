#pragma once
/// @file
/// `relu<B>`: y = max(x, 0), backward from the output (the ResNets' activation; every backend).
/// `activation<B>`: any kind of the activation family (core/activation.hpp), chosen at
/// construction, backward from the input; needs a backend with `BackendActivations`.

#include <smile/core/ops.hpp>
#include <smile/layers/layer.hpp>

namespace smile {

template <Backend B>
class relu : public layer_state<B> {
public:
    [[nodiscard]] shape4 output_shape(const shape4& x) const { return x; }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        y.resize(x.shape());
        this->end_forward(y);
        ops<B>::relu_forward(s.context(), x.view(), y.view());
    }

    /// dx = dy ⊙ [y > 0] (the subgradient 0 is taken at 0, as PyTorch).
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        if (dx == nullptr) return;
        ops<B>::relu_backward(s.context(), this->output().view(), dy.view(),
                              prepare_gradient(dx, this->input()));
    }

    template <class F>
    void visit_parameters(std::string_view, F&&) {}
    template <class F>
    void visit_buffers(std::string_view, F&&) {}
};

template <Backend B>
    requires BackendActivations<B>
class activation : public layer_state<B> {
public:
    explicit activation(activation_kind k = activation_kind::relu) : kind_(k) {}

    [[nodiscard]] shape4 output_shape(const shape4& x) const { return x; }
    [[nodiscard]] activation_kind kind() const noexcept { return kind_; }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        y.resize(x.shape());
        this->end_forward(y);
        ops<B>::activation_forward(s.context(), kind_, x.view(), y.view());
    }

    /// dx = f'(x) ⊙ dy, with PyTorch's derivative at each kink (core/activation.hpp).
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        if (dx == nullptr) return;
        ops<B>::activation_backward(s.context(), kind_, this->input().view(), dy.view(),
                                    prepare_gradient(dx, this->input()));
    }

    template <class F>
    void visit_parameters(std::string_view, F&&) {}
    template <class F>
    void visit_buffers(std::string_view, F&&) {}

private:
    activation_kind kind_;
};

}  // namespace smile
