#pragma once
/// @file
/// `dropout<B>`: PyTorch's Dropout on matrices. In `mode::train` with p > 0 each element is
/// zeroed with probability p and the rest scaled by 1/(1 − p); the mask is the counter-based one
/// of `dropout_desc` (core/backend.hpp) under a seed drawn from the run's generator, so a run
/// reproduces on any backend and thread count, and backward recomputes the mask from the seed
/// instead of storing it. In `eval` and `eval_grad` the layer is the identity (PyTorch's
/// `model.eval()`).

#include <smile/core/ops.hpp>
#include <smile/core/random.hpp>
#include <smile/layers/layer.hpp>

namespace smile {

template <Backend B>
requires BackendSequence<B>
class dropout : public layer_state<B> {
public:
    explicit dropout(float probability = 0.1f) : probability_(probability) {
        SMILE_CHECK(probability >= 0.0f && probability < 1.0f,
                    "dropout: probability must be in [0, 1), got ", probability);
    }

    /// Where the seeds come from (the method's run generator); required before a training
    /// forward with p > 0.
    void set_generator(rng* gen) noexcept { generator_ = gen; }
    [[nodiscard]] float probability() const noexcept { return probability_; }

    [[nodiscard]] shape4 output_shape(const shape4& x) const { return x; }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        y.resize(x.shape());
        this->end_forward(y);
        active_ = m == mode::train && probability_ > 0.0f;
        if (!active_) {
            ops<B>::copy(s.context(), x.view(), y.view());
            return;
        }
        SMILE_CHECK(
            generator_ != nullptr, this->label(),
            ": dropout in training needs a generator (set_generator), so that runs reproduce");
        seed_ = generator_->bits();
        ops<B>::dropout_forward(s.context(), {probability_, seed_}, x.view(), y.view());
    }

    /// dx = dy ⊙ keep/(1 − p) with the forward's mask (the identity when it was inactive).
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        if (dx == nullptr) return;
        const auto out = prepare_gradient(dx, this->input());
        if (active_)
            ops<B>::dropout_backward(s.context(), {probability_, seed_}, dy.view(), out);
        else
            ops<B>::copy(s.context(), dy.view(), out);
    }

    template <class F>
    void visit_parameters(std::string_view, F&&) {}
    template <class F>
    void visit_buffers(std::string_view, F&&) {}

private:
    float probability_;
    rng* generator_ = nullptr;
    std::uint64_t seed_ = 0;
    bool active_ = false;
};

}  // namespace smile
