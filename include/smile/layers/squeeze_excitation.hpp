#pragma once
/// @file
/// `squeeze_excitation<B>`: Hu et al.'s channel gate as torchvision's SqueezeExcitation (the
/// EfficientNet variant: SiLU inside, sigmoid gate):
///
///   p = mean_{h,w} x            [n, c]        (global average pool)
///   a = fc1(p), b = silu(a)     [n, squeeze]  (1×1 convolutions with bias: fc1, fc2)
///   z = fc2(b), s = σ(z)        [n, c]
///   y = s ⊙ x                   (s broadcast over the pixels)
///
/// Backward:
///   ∂L/∂x = s ⊙ dy  +  (1/hw)·broadcast(∂L/∂p)
///   ∂L/∂s[n, c] = Σ_{h,w} dy ⊙ x,  ∂L/∂z = σ'(z)·∂L/∂s,  then fc2, silu and fc1 backward to ∂L/∂p.
/// The gate's small tensors ([n, c] and [n, squeeze]) are kept in training; x is the caller's.

#include <smile/core/ops.hpp>
#include <smile/layers/activation_slots.hpp>
#include <smile/layers/conv2d.hpp>

namespace smile {

struct squeeze_excitation_options {
    std::int64_t channels = 0;
    std::int64_t squeeze = 0;
    activation_kind inner = activation_kind::silu;
    activation_kind gate = activation_kind::sigmoid;
};

template <Backend B>
    requires BackendActivations<B> && BackendBroadcast<B>
class squeeze_excitation : public layer_state<B> {
public:
    squeeze_excitation(session<B>& s, rng& gen, const squeeze_excitation_options& o)
        : options_(o), fc1_(s, gen, {o.channels, o.squeeze, 1, 1, 0, 1, true}), fc2_(s, gen, {o.squeeze, o.channels, 1, 1, 0, 1, true}) {
        set_name({});
    }

    void set_name(std::string name) {
        fc1_.set_name(join_name(name, "fc1"));
        fc2_.set_name(join_name(name, "fc2"));
        layer_state<B>::set_name(std::move(name));
    }

    [[nodiscard]] shape4 output_shape(const shape4& x) const {
        SMILE_CHECK(x.c == options_.channels, this->label(), ": input ", x, " has ", x.c, " channels, the layer expects ",
                    options_.channels);
        return x;
    }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        auto& ctx = s.context();
        const shape4 rows = matrix_shape(x.shape().n, options_.channels);
        activation_slots<B> slot(s, m);
        (void)output_shape(x.shape());  // names the layer on a wrong input
        tensor<B>& pooled = slot(pooled_, rows);
        ops<B>::global_avg_pool_forward(ctx, x.view(), pooled.view());
        tensor<B>& a = slot(a_, matrix_shape(x.shape().n, options_.squeeze));
        fc1_.forward(s, pooled, a, m);
        tensor<B>& b = slot(b_, a.shape());
        ops<B>::activation_forward(ctx, options_.inner, a.view(), b.view());
        tensor<B>& z = slot(z_, rows);
        fc2_.forward(s, b, z, m);
        // s is kept apart from the slots: evaluation reuses only two transient buffers.
        gate_.bind(ctx);
        gate_.resize(rows);
        ops<B>::activation_forward(ctx, options_.gate, z.view(), gate_.view());
        y.resize(x.shape());
        ops<B>::scale_broadcast(ctx, x.view(), gate_.view(), y.view());
        this->end_forward(y);
    }

    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        SMILE_CHECK(z_.get_if() != nullptr, this->label(), ": backward needs a preceding forward in training mode (once per forward)");
        auto& ctx = s.context();
        const tensor<B>& x = this->input();
        auto ds = s.borrow(gate_.shape());
        auto direct = s.borrow(x.shape());
        ops<B>::scale_broadcast_backward(ctx, x.view(), gate_.view(), dy.view(), direct->view(),
                                         ds->view());
        ops<B>::activation_backward(ctx, options_.gate, z_->view(), ds->view(),
                                    ds->view());  // ∂L/∂z
        auto db = s.borrow(b_->shape());
        fc2_.backward(s, *ds, &*db);
        z_ = {};
        ops<B>::activation_backward(ctx, options_.inner, a_->view(), db->view(),
                                    db->view());  // ∂L/∂a
        b_ = {};
        auto dp = s.borrow(pooled_->shape());
        fc1_.backward(s, *db, &*dp);
        a_ = {};
        pooled_ = {};
        if (dx == nullptr) return;
        prepare_gradient(dx, x);
        ops<B>::global_avg_pool_backward(ctx, dp->view(), dx->view());
        ops<B>::add(ctx, 1.0f, direct->view(), 1.0f, dx->view(), dx->view());
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        fc1_.visit_parameters(join_name(prefix, "fc1"), f);
        fc2_.visit_parameters(join_name(prefix, "fc2"), f);
    }
    template <class F>
    void visit_buffers(std::string_view, F&&) {}
    template <class F>
    void visit_modules(F&& f) {
        f(fc1_);
        f(fc2_);
    }

    [[nodiscard]] const squeeze_excitation_options& options() const noexcept { return options_; }

private:
    squeeze_excitation_options options_;
    conv2d<B> fc1_, fc2_;
    tensor<B> gate_;
    activation_lease<B> pooled_, a_, b_, z_;
};

}  // namespace smile
