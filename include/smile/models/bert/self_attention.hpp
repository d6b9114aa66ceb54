#pragma once
/// @file
/// `bert_self_attention<B>`: Hugging Face's BertSelfAttention (`query`, `key`, `value`, dropout
/// on the probabilities), on the token matrix [batch·length, hidden, 1, 1]:
///   Q, K, V = x·Wᵀ + b, split into heads [batch·heads·length, d]
///   P = softmax(Q·Kᵀ/√d, keys masked per sample),  context = dropout(P)·V,  y = heads merged
/// The sequence length and the attention mask of the current batch come from the model's
/// `sequence_state`, set before each forward.

#include <cmath>
#include <smile/core/ops.hpp>
#include <smile/layers/dropout.hpp>
#include <smile/layers/linear.hpp>
#include <smile/models/bert/config.hpp>
#include <utility>

namespace smile {

/// What every attention layer of a model needs to know about the current batch.
template <Backend B>
struct sequence_state {
    std::int64_t length = 0;
    tensor<B> mask;  ///< [batch, length, 1, 1], 1 keep / 0 padding
    /// Where the encoder's sequences sit in the global batch (dropout's masks), and where the
    /// embeddings' do: the same, except when a rank embeds the whole global batch to mix it.
    batch_place place, embedded_place;
};

template <Backend B>
requires BackendSequence<B>
class bert_self_attention : public layer_state<B> {
public:
    bert_self_attention(session<B>& s, rng& gen, const bert_config& c,
                        const sequence_state<B>* sequence)
        : query_(s, gen, {c.hidden_size, c.hidden_size}),
          key_(s, gen, {c.hidden_size, c.hidden_size}),
          value_(s, gen, {c.hidden_size, c.hidden_size}),
          dropout_(c.attention_probs_dropout_prob),
          heads_(c.num_attention_heads),
          hidden_(c.hidden_size),
          sequence_(sequence) {
        set_sequence(sequence);
    }

    void set_sequence(const sequence_state<B>* sequence) noexcept {
        sequence_ = sequence;
        dropout_.set_place(sequence != nullptr ? &sequence->place : nullptr);
    }
    void set_generator(rng* gen) noexcept { dropout_.set_generator(gen); }

    [[nodiscard]] shape4 output_shape(const shape4& x) const {
        SMILE_CHECK(x.is_matrix() && x.c == hidden_, this->label(), ": input ", x,
                    " is not a token matrix [tokens, ", hidden_, ", 1, 1]");
        return x;
    }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        y.resize(output_shape(x.shape()));
        this->end_forward(y);
        auto& ctx = s.context();
        const head_split hs = split();
        const std::int64_t rows = x.shape().n * heads_, size = hidden_ / heads_;
        // The projections and the raw scores are not needed by backward: session scratch, shared
        // with every other layer (docs/performance.md, "BERT fine-tuning step"); in evaluation
        // nothing is kept at all.
        using lease = typename tensor_pool<B>::lease;
        lease q_scratch, k_scratch, v_scratch, p_scratch;
        tensor<B>& q = kept_or_scratch(s, m, q_, q_scratch, matrix_shape(rows, size));
        tensor<B>& k = kept_or_scratch(s, m, k_, k_scratch, matrix_shape(rows, size));
        tensor<B>& v = kept_or_scratch(s, m, v_, v_scratch, matrix_shape(rows, size));
        auto tokens = s.borrow(x.shape());
        for (auto [layer, to] : {std::pair{&query_, &q}, {&key_, &k}, {&value_, &v}}) {
            layer->forward(s, x, *tokens, m);
            ops<B>::split_heads(ctx, hs, tokens->view(), to->view());
        }
        const std::int64_t count = rows / hs.length;
        auto scores = s.borrow(matrix_shape(rows, hs.length));
        tensor<B>& probs = kept_or_scratch(s, m, probs_, p_scratch, scores->shape());
        ops<B>::batched_gemm(ctx, count, transpose::no, transpose::yes, 1.0f, q.view(), k.view(),
                             0.0f, scores->view());
        const auto& mask = sequence_->mask;
        ops<B>::masked_softmax_forward(ctx, scale(), scores->view(),
                                       mask.empty() ? const_tensor_view<B>{} : mask.view(),
                                       probs.view());
        dropped_ = m == mode::train && dropout_.probability() > 0.0f;
        if (dropped_) dropout_.forward(s, probs_, dropped_probs_, m);
        auto context = s.borrow(matrix_shape(rows, size));
        ops<B>::batched_gemm(ctx, count, transpose::no, transpose::no, 1.0f,
                             (dropped_ ? dropped_probs_ : probs).view(), v.view(), 0.0f,
                             context->view());
        ops<B>::merge_heads(ctx, hs, context->view(), y.view());
    }

    /// With G the gradient of the merged context split into heads: dP' = G·Vᵀ, dV = P'ᵀ·G (P' the
    /// probabilities after dropout), dP = dropout backward of dP', dS = softmax backward (scaled by
    /// 1/√d), dQ = dS·K, dK = dSᵀ·Q; the three merged gradients go through their linear layers and
    /// dx = dx_Q + dx_K + dx_V.
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        auto& ctx = s.context();
        const head_split hs = split();
        const std::int64_t count = q_.shape().n / hs.length;
        // Backward buffers are session scratch: one layer's backward runs at a time, so every
        // layer of the model reuses the same few tensors.
        auto d_context = s.borrow(q_.shape()), d_q = s.borrow(q_.shape()),
             d_k = s.borrow(q_.shape()), d_v = s.borrow(q_.shape()),
             d_probs = s.borrow(probs_.shape()), d_tokens = s.borrow(dy.shape());
        typename tensor_pool<B>::lease d_dropped;
        ops<B>::split_heads(ctx, hs, dy.view(), d_context->view());
        ops<B>::batched_gemm(ctx, count, transpose::no, transpose::yes, 1.0f, d_context->view(),
                             v_.view(), 0.0f, d_probs->view());
        ops<B>::batched_gemm(ctx, count, transpose::yes, transpose::no, 1.0f, used_probs().view(),
                             d_context->view(), 0.0f, d_v->view());
        tensor<B>* d_scores = &*d_probs;
        if (dropped_) {
            d_dropped = s.borrow(probs_.shape());
            dropout_.backward(s, *d_probs, &*d_dropped);
            d_scores = &*d_dropped;
        }
        ops<B>::masked_softmax_backward(ctx, scale(), probs_.view(), d_scores->view(),
                                        d_scores->view());
        ops<B>::batched_gemm(ctx, count, transpose::no, transpose::no, 1.0f, d_scores->view(),
                             k_.view(), 0.0f, d_q->view());
        ops<B>::batched_gemm(ctx, count, transpose::yes, transpose::no, 1.0f, d_scores->view(),
                             q_.view(), 0.0f, d_k->view());
        ops<B>::merge_heads(ctx, hs, d_q->view(), d_tokens->view());
        query_.backward(s, *d_tokens, dx);
        auto part = s.borrow(dy.shape());
        for (auto [grad, layer] : {std::pair{&*d_k, &key_}, {&*d_v, &value_}}) {
            ops<B>::merge_heads(ctx, hs, grad->view(), d_tokens->view());
            layer->backward(s, *d_tokens, dx != nullptr ? &*part : nullptr);
            if (dx != nullptr) ops<B>::add(ctx, 1.0f, dx->view(), 1.0f, part->view(), dx->view());
        }
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        query_.visit_parameters(join_name(prefix, "query"), f);
        key_.visit_parameters(join_name(prefix, "key"), f);
        value_.visit_parameters(join_name(prefix, "value"), f);
    }
    template <class F>
    void visit_buffers(std::string_view, F&&) {}

    void set_name(std::string name) {
        query_.set_name(join_name(name, "query"));
        key_.set_name(join_name(name, "key"));
        value_.set_name(join_name(name, "value"));
        dropout_.set_name(join_name(name, "dropout"));
        layer_state<B>::set_name(std::move(name));
    }

    /// HF's _init_weights: N(0, range²) weights, zero biases.
    void reset_parameters(rng& gen, double range) {
        for (auto* l : {&query_, &key_, &value_}) {
            init::normal(l->weight().value, gen, range);
            l->bias().value.fill(0.0f);
        }
    }

private:
    [[nodiscard]] head_split split() const {
        SMILE_CHECK(sequence_ != nullptr && sequence_->length > 0, this->label(),
                    ": no sequence length set (the model sets it before each forward)");
        return {heads_, sequence_->length};
    }
    [[nodiscard]] float scale() const {
        return static_cast<float>(1.0 / std::sqrt(double(hidden_ / heads_)));
    }
    [[nodiscard]] const tensor<B>& used_probs() const { return dropped_ ? dropped_probs_ : probs_; }

    linear<B> query_, key_, value_;
    dropout<B> dropout_;
    std::int64_t heads_, hidden_;
    const sequence_state<B>* sequence_;
    bool dropped_ = false;
    tensor<B> q_, k_, v_, probs_, dropped_probs_;  // what backward reads
};

}  // namespace smile
