#pragma once
/// @file
/// `bert_embeddings<B>`: Hugging Face's BertEmbeddings, with its names (`word_embeddings`,
/// `position_embeddings`, `token_type_embeddings`, `LayerNorm`):
///   e = LayerNorm((word[ids] + token_type[types]) + position[0..length)),  y = dropout(e)
/// in HF's order of additions. Its input is host ids, so it is not a `Layer`; backward gives the
/// three tables their gradients (rows no token used get zero) and no input gradient.

#include <numeric>
#include <smile/core/init.hpp>
#include <smile/layers/dropout.hpp>
#include <smile/layers/layer_norm.hpp>
#include <smile/models/bert/token_batch.hpp>
#include <smile/models/bert/config.hpp>
#include <vector>

namespace smile {

template <Backend B>
requires BackendSequence<B>
class bert_embeddings {
public:
    bert_embeddings(session<B>& s, const bert_config& c)
        : word_(s, matrix_shape(c.vocab_size, c.hidden_size), 2),
          position_(s, matrix_shape(c.max_position_embeddings, c.hidden_size), 2),
          token_type_(s, matrix_shape(c.type_vocab_size, c.hidden_size), 2),
          norm_(s, {c.hidden_size, c.layer_norm_eps}),
          dropout_(c.hidden_dropout_prob) {}

    void set_generator(rng* gen) noexcept { dropout_.set_generator(gen); }
    /// Where the embedded sequences sit in the global batch (dropout's masks; the owner keeps it).
    void set_place(const batch_place* place) noexcept { dropout_.set_place(place); }
    void set_name(const std::string& name) {
        norm_.set_name(join_name(name, "LayerNorm"));
        dropout_.set_name(join_name(name, "dropout"));
    }

    /// y [batch·length, hidden]: the batch must have been validated against the model.
    void forward(session<B>& s, const token_batch& b, tensor<B>& y, mode m) {
        auto& ctx = s.context();
        const auto tokens = b.batch * b.length;
        positions_.resize(static_cast<std::size_t>(tokens));
        for (std::int64_t i = 0; i < tokens; ++i)
            positions_[static_cast<std::size_t>(i)] = i % b.length;
        word_ids_ = b.input_ids;
        type_ids_ = b.token_type_ids;
        const auto shape = matrix_shape(tokens, word_.shape().c);
        for (auto* t : {&sum_, &part_}) {
            t->bind(ctx);
            t->resize(shape);
        }
        ops<B>::gather_rows(ctx, word_.value.view(), word_ids_, sum_.view());
        ops<B>::gather_rows(ctx, token_type_.value.view(), type_ids_, part_.view());
        ops<B>::add(ctx, 1.0f, sum_.view(), 1.0f, part_.view(), sum_.view());
        ops<B>::gather_rows(ctx, position_.value.view(), positions_, part_.view());
        ops<B>::add(ctx, 1.0f, sum_.view(), 1.0f, part_.view(), sum_.view());
        dropped_ = m == mode::train && dropout_.probability() > 0.0f;
        if (!dropped_) {
            norm_.forward(s, sum_, y, m);
            return;
        }
        norm_.forward(s, sum_, normed_, m);
        dropout_.forward(s, normed_, y, m);
    }

    /// d_table = Σ over the tokens that read a row of that token's gradient after LayerNorm.
    void backward(session<B>& s, const tensor<B>& dy) {
        auto& ctx = s.context();
        const tensor<B>* d_normed = &dy;
        if (dropped_) {
            dropout_.backward(s, dy, &d_dropped_);
            d_normed = &d_dropped_;
        }
        norm_.backward(s, *d_normed, &d_sum_);
        ops<B>::gather_rows_backward(ctx, word_ids_, d_sum_.view(), word_.grad_for_write().view());
        ops<B>::gather_rows_backward(ctx, type_ids_, d_sum_.view(),
                                     token_type_.grad_for_write().view());
        ops<B>::gather_rows_backward(ctx, positions_, d_sum_.view(),
                                     position_.grad_for_write().view());
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        f(join_name(prefix, "word_embeddings.weight"), word_);
        f(join_name(prefix, "position_embeddings.weight"), position_);
        f(join_name(prefix, "token_type_embeddings.weight"), token_type_);
        norm_.visit_parameters(join_name(prefix, "LayerNorm"), f);
    }

    /// HF's _init_weights: N(0, range²) tables, the padding row zero, LayerNorm ones and zeros.
    void reset_parameters(rng& gen, double range, std::int64_t pad_token_id) {
        for (auto* p : {&word_, &position_, &token_type_}) init::normal(p->value, gen, range);
        if (pad_token_id >= 0 && pad_token_id < word_.shape().n) {
            std::vector<float> table = word_.value.to_host();
            std::fill_n(table.begin() + pad_token_id * word_.shape().c, word_.shape().c, 0.0f);
            word_.value.copy_from_host(table);
        }
        norm_.reset_parameters();
    }

    [[nodiscard]] parameter<B>& word_embeddings() noexcept { return word_; }

private:
    parameter<B> word_, position_, token_type_;
    layer_norm<B> norm_;
    dropout<B> dropout_;
    bool dropped_ = false;
    std::vector<std::int64_t> word_ids_, type_ids_, positions_;
    tensor<B> sum_, part_, normed_, d_dropped_, d_sum_;
};

}  // namespace smile
