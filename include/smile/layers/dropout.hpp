#pragma once
/// @file
/// `dropout<B>`: PyTorch's Dropout on matrices. In `mode::train` with p > 0 each element is
/// zeroed with probability p and the rest scaled by 1/(1 − p); the mask is the counter-based one
/// of `dropout_desc` (core/backend.hpp) under a seed drawn from the run's generator, so a run
/// reproduces on any backend and thread count, and backward recomputes the mask from the seed
/// instead of storing it. In `eval` and `eval_grad` the layer is the identity (PyTorch's
/// `model.eval()`).
///
/// A data-parallel rank holds a share of the global batch; told where that share sits
/// (`set_place`), the layer indexes its mask by the global element, so N ranks draw together
/// the mask one process draws for the whole batch, and train the network it trains.

#include <smile/core/ops.hpp>
#include <smile/core/random.hpp>
#include <smile/layers/layer.hpp>

namespace smile {

/// Where a tensor's samples sit in a global batch: samples [first, first + count) of it, each
/// sample's values contiguous and in sample order (row-major, sample-major). count 0: the tensor
/// is the whole batch.
struct batch_place {
    std::int64_t first = 0;
    std::int64_t count = 0;
};

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
    /// Where the inputs of later forwards sit in their global batch (read at each forward; the
    /// owner keeps it alive and current). Null: each input is the whole batch.
    void set_place(const batch_place* place) noexcept { place_ = place; }
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
        offset_ = 0;
        if (place_ != nullptr && place_->count > 0) {
            const auto per_sample = x.size() / std::size_t(place_->count);
            SMILE_CHECK(place_->first >= 0 && per_sample * std::size_t(place_->count) == x.size(),
                        this->label(), ": input ", x.shape(), " is not ", place_->count,
                        " samples of equal size (placed at sample ", place_->first, ")");
            offset_ = std::uint64_t(place_->first) * per_sample;
        }
        ops<B>::dropout_forward(s.context(), {probability_, seed_, offset_}, x.view(), y.view());
    }

    /// dx = dy ⊙ keep/(1 − p) with the forward's mask (the identity when it was inactive).
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        if (dx == nullptr) return;
        const auto out = prepare_gradient(dx, this->input());
        if (active_)
            ops<B>::dropout_backward(s.context(), {probability_, seed_, offset_}, dy.view(), out);
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
    const batch_place* place_ = nullptr;
    std::uint64_t seed_ = 0, offset_ = 0;
    bool active_ = false;
};

}  // namespace smile
