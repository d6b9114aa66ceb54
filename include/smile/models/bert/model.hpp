#pragma once
/// @file
/// `bert_model<B>`: Hugging Face's BertModel (`embeddings`, `encoder.layer.N`, `pooler.dense`),
/// and `bert_classifier<B>`: BertForSequenceClassification (`bert` + dropout + `classifier`).
///
///   hidden = encoder(embeddings(ids, types), mask)      [batch·length, hidden]
///   pooled = tanh(pooler.dense(hidden[b·length]))       the [CLS] row of each sequence
///   logits = classifier(dropout(pooled))
///
/// Tensor names equal a Hugging Face checkpoint's state_dict keys, so `io::load_weights` reads a
/// `model.safetensors` as it is; a file whose names lack the `bert.` prefix (a bare BertModel)
/// is recognised by `weight_namings` and loaded too. The classifier is `fc` inside smile (the
/// loader's target-head rules: non-strict loading skips a classifier with another class count)
/// and `classifier` in files.
///
/// Mixup on text (the SMILE paper does not say where BERT's inputs are mixed; docs/methods.md):
/// a `mixup_plan` mixes whole sequences either after the embeddings (every token position t of
/// sequence i with position t of sequence perm[i], attending to the union of the two masks) or
/// at the pooled output that the classifier reads. Backward undoes a mix with the inverse
/// permutation: for y_i = λx_i + (1 − λ)x_{p(i)}, ∂L/∂x_j = λ·∂L/∂y_j + (1 − λ)·∂L/∂y_{p⁻¹(j)}.
///
/// Data-parallel (a `token_share`: the batch is this rank's rows of a global batch, and the plan
/// permutes the global batch, so a partner may live on another rank). After the embeddings, each
/// rank embeds the whole global batch (a table look-up and a LayerNorm, cheap beside the
/// encoder), mixes it and encodes its own rows; backward scatters its rows' gradient into a zero
/// global gradient, undoes the mix and runs the embeddings' backward over the global batch, so
/// the tables' gradient holds this rank's loss's share through every partner; the ranks' average
/// (the gradient seam) is then one process's gradient, with no extra message. At the pooled
/// output, every rank's pooled rows are all-gathered, the global batch mixed and this rank's rows
/// kept; backward undoes the mix on a global gradient holding this rank's rows, sums it over the
/// ranks (one all-reduce of batch × hidden) and takes its own rows: the gradient every rank's
/// loss sends to them, partners' included.

#include <memory>
#include <smile/core/precision_scope.hpp>
#include <smile/distributed/parallel.hpp>
#include <smile/io/weight_naming.hpp>
#include <smile/mixup/mix_over_ranks.hpp>
#include <smile/models/bert/embeddings.hpp>
#include <smile/models/bert/encoder_layer.hpp>
#include <string>
#include <vector>

namespace smile {

/// Where a mixup plan mixes a BERT's sequences.
enum class text_mix_point : std::uint8_t { pooled, embeddings };

[[nodiscard]] inline const char* text_mix_point_name(text_mix_point p) noexcept {
    return p == text_mix_point::embeddings ? "embeddings" : "pooled";
}

/// "embeddings" or "pooled", or an error naming `option`.
[[nodiscard]] inline text_mix_point parse_text_mix_point(const std::string& name,
                                                         const char* option = "--mix-at") {
    if (name == "embeddings") return text_mix_point::embeddings;
    if (name == "pooled") return text_mix_point::pooled;
    detail::fail(option, " '", name, "': expected embeddings or pooled");
}

/// The inverse of a permutation (for the backward of a mix).
[[nodiscard]] inline std::vector<std::int64_t> inverse_permutation(
    const std::vector<std::int64_t>& perm) {
    std::vector<std::int64_t> inverse(perm.size());
    for (std::size_t i = 0; i < perm.size(); ++i)
        inverse[static_cast<std::size_t>(perm[i])] = std::int64_t(i);
    return inverse;
}

template <Backend B>
requires BackendSequence<B> && BackendActivations<B>
class bert_model {
public:
    bert_model(session<B>& s, rng& gen, const bert_config& c)
        : config_(c),
          sequence_(std::make_unique<sequence_state<B>>()),
          embeddings_(s, c),
          pooler_(s, gen, {c.hidden_size, c.hidden_size}),
          pooler_act_(activation_kind::tanh) {
        c.validate();
        layers_.reserve(static_cast<std::size_t>(c.num_hidden_layers));
        for (std::int64_t i = 0; i < c.num_hidden_layers; ++i)
            layers_.emplace_back(s, gen, c, sequence_.get());
        hidden_.resize(layers_.size() + 1);
        embeddings_.set_place(&sequence_->embedded_place);
        set_name("bert");
        reset_parameters(gen);
    }

    [[nodiscard]] const bert_config& config() const noexcept { return config_; }

    void set_name(const std::string& name) {
        embeddings_.set_name(join_name(name, "embeddings"));
        for (std::size_t i = 0; i < layers_.size(); ++i)
            layers_[i].set_name(join_name(name, "encoder.layer." + std::to_string(i)));
        pooler_.set_name(join_name(name, "pooler.dense"));
        pooler_act_.set_name(join_name(name, "pooler.activation"));
    }
    void set_generator(rng* gen) noexcept {
        embeddings_.set_generator(gen);
        for (auto& l : layers_) l.set_generator(gen);
    }

    /// Hugging Face's initialisation (BertPreTrainedModel._init_weights), range 0.02.
    void reset_parameters(rng& gen, double range = 0.02) {
        embeddings_.reset_parameters(gen, range, 0);
        for (auto& l : layers_) l.reset_parameters(gen, range);
        init::normal(pooler_.weight().value, gen, range);
        pooler_.bias().value.fill(0.0f);
    }

    /// Runs the encoder and the pooler; `last_hidden()` and `pooled()` hold the results. With
    /// `embedding_mix`, the sequences are mixed after the embeddings; with a `share`, `b` is this
    /// rank's rows of a global batch (see the file comment).
    void forward(session<B>& s, const token_batch& b, mode m,
                 const mixup_plan* embedding_mix = nullptr, const token_share& share = {}) {
        b.validate(config_.vocab_size, config_.type_vocab_size, config_.max_position_embeddings);
        auto& ctx = s.context();
        const bool shared = share.whole != nullptr;
        if (shared) check_share(b, share);
        sequence_->length = b.length;
        sequence_->place = shared ? batch_place{share.first, b.batch} : batch_place{};
        sequence_->mask.bind(ctx);
        sequence_->mask.resize(matrix_shape(b.batch, b.length));
        embedding_mix_ = embedding_mix != nullptr;
        mix_share_ = embedding_mix_ && shared;
        sequence_->embedded_place = mix_share_ ? batch_place{} : sequence_->place;
        if (embedding_mix_) {
            // Mixing reads the global batch: a share's partners may be other ranks' sequences.
            const token_batch& g = mix_share_ ? *share.whole : b;
            if (mix_share_)
                g.validate(config_.vocab_size, config_.type_vocab_size,
                           config_.max_position_embeddings);
            SMILE_CHECK(std::int64_t(embedding_mix->perm.size()) == g.batch,
                        "bert: the mixup plan mixes ", embedding_mix->perm.size(),
                        " sequences but the ", mix_share_ ? "global " : "", "batch has ", g.batch);
            mix_lambda_ = static_cast<float>(embedding_mix->lambda);
            mix_perm_ = embedding_mix->perm;
            // A mixed sequence attends to the union of its two sequences' tokens.
            std::vector<float> mask(b.attention_mask.size());
            const std::int64_t first = sequence_->place.first;  // 0 for a whole batch
            for (std::int64_t i = 0; i < b.batch; ++i) {
                const std::int64_t row = first + i,
                                   partner = mix_perm_[static_cast<std::size_t>(row)];
                for (std::int64_t t = 0; t < b.length; ++t)
                    mask[static_cast<std::size_t>(i * b.length + t)] =
                        std::max(g.attention_mask[static_cast<std::size_t>(row * b.length + t)],
                                 g.attention_mask[static_cast<std::size_t>(partner * b.length + t)]);
            }
            sequence_->mask.copy_from_host(mask);
            embeddings_.forward(s, g, embedded_, m);
            hidden_[0].bind(ctx);
            hidden_[0].resize(matrix_shape(b.batch * b.length, config_.hidden_size));
            const auto per_sequence = matrix_shape(g.batch, g.length * config_.hidden_size);
            if (!mix_share_) {
                ops<B>::mix_rows(ctx, mix_lambda_,
                                 std::as_const(embedded_).reshaped(per_sequence), mix_perm_,
                                 hidden_[0].reshaped(per_sequence));
            } else {
                mixed_.bind(ctx);
                mixed_.resize(embedded_.shape());
                ops<B>::mix_rows(ctx, mix_lambda_,
                                 std::as_const(embedded_).reshaped(per_sequence), mix_perm_,
                                 mixed_.reshaped(per_sequence));
                ops<B>::copy(ctx,
                             std::as_const(mixed_).rows(first * b.length,
                                                        (first + b.batch) * b.length),
                             hidden_[0].view());
            }
        } else {
            sequence_->mask.copy_from_host(b.attention_mask);
            embeddings_.forward(s, b, hidden_[0], m);
        }
        for (std::size_t i = 0; i < layers_.size(); ++i)
            layers_[i].forward(s, hidden_[i], hidden_[i + 1], m);
        cls_rows_.resize(static_cast<std::size_t>(b.batch));
        for (std::int64_t i = 0; i < b.batch; ++i)
            cls_rows_[static_cast<std::size_t>(i)] = i * b.length;
        cls_.bind(ctx);
        cls_.resize(matrix_shape(b.batch, config_.hidden_size));
        ops<B>::gather_rows(ctx, last_hidden().view(), cls_rows_, cls_.view());
        pooler_.forward(s, cls_, pooler_out_, m);
        pooler_act_.forward(s, pooler_out_, pooled_, m);
    }

    [[nodiscard]] const tensor<B>& last_hidden() const noexcept { return hidden_.back(); }
    /// Where the last forward's sequences sit in their global batch (count 0: the whole).
    [[nodiscard]] const batch_place& place() const noexcept { return sequence_->place; }
    [[nodiscard]] const tensor<B>& pooled() const noexcept { return pooled_; }

    /// Gradients of every parameter from ∂L/∂pooled and/or ∂L/∂hidden (either may be null; the
    /// pooler gets no gradient without the first). The [CLS] rows' gradient is scattered back
    /// into the hidden states, then flows through the layers in reverse and into the tables.
    void backward(session<B>& s, const tensor<B>* d_pooled, const tensor<B>* d_hidden) {
        SMILE_CHECK(d_pooled != nullptr || d_hidden != nullptr, "bert: backward needs a gradient");
        backward_scope<B> whole(s);  // data-parallel buckets: see core/session.hpp
        auto& ctx = s.context();
        if (d_pooled != nullptr) {
            pooler_act_.backward(s, *d_pooled, &d_pooler_out_);
            pooler_.backward(s, d_pooler_out_, &d_cls_);
            s.gradients_written();
            d_hidden_.bind(ctx);
            d_hidden_.resize(last_hidden().shape());
            ops<B>::gather_rows_backward(ctx, cls_rows_, d_cls_.view(), d_hidden_.view());
            if (d_hidden != nullptr)
                ops<B>::add(ctx, 1.0f, d_hidden_.view(), 1.0f, d_hidden->view(), d_hidden_.view());
        } else {
            d_hidden_.bind(ctx);
            d_hidden_.resize(d_hidden->shape());
            ops<B>::copy(ctx, d_hidden->view(), d_hidden_.view());
        }
        for (std::size_t i = layers_.size(); i-- > 0;) {
            layers_[i].backward(s, d_hidden_, &d_previous_);
            std::swap(d_hidden_, d_previous_);
            s.gradients_written();
        }
        if (mix_share_) {  // this rank's rows of a zero global gradient (file comment)
            const std::int64_t length = sequence_->length, first = sequence_->place.first,
                               rows = d_hidden_.shape().n / length;
            d_previous_.bind(ctx);
            d_previous_.resize(embedded_.shape());
            d_previous_.fill(0.0f);
            ops<B>::copy(ctx, std::as_const(d_hidden_).view(),
                         d_previous_.rows(first * length, (first + rows) * length));
            std::swap(d_hidden_, d_previous_);
        }
        if (embedding_mix_) {  // the inverse mix (file comment)
            d_previous_.bind(ctx);
            d_previous_.resize(d_hidden_.shape());
            const auto per_sequence =
                matrix_shape(std::int64_t(mix_perm_.size()), d_hidden_.size() / mix_perm_.size());
            ops<B>::mix_rows(ctx, mix_lambda_, std::as_const(d_hidden_).reshaped(per_sequence),
                             inverse_permutation(mix_perm_), d_previous_.reshaped(per_sequence));
            std::swap(d_hidden_, d_previous_);
        }
        embeddings_.backward(s, d_hidden_);
        whole.close();
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        embeddings_.visit_parameters(join_name(prefix, "embeddings"), f);
        for (std::size_t i = 0; i < layers_.size(); ++i)
            layers_[i].visit_parameters(join_name(prefix, "encoder.layer." + std::to_string(i)), f);
        pooler_.visit_parameters(join_name(prefix, "pooler.dense"), f);
    }
    template <class F>
    void visit_buffers(std::string_view, F&&) {}

private:
    bert_config config_;
    std::unique_ptr<sequence_state<B>>
        sequence_;  // stable address: the attention layers point at it
    bert_embeddings<B> embeddings_;
    std::vector<bert_layer<B>> layers_;
    linear<B> pooler_;
    activation<B> pooler_act_;
    std::vector<tensor<B>> hidden_;
    std::vector<std::int64_t> cls_rows_;
    /// Throws unless `b` is rows [first, first + b.batch) of the share's global batch.
    static void check_share(const token_batch& b, const token_share& share) {
        const token_batch& g = *share.whole;
        SMILE_CHECK(share.first >= 0 && share.first + b.batch <= g.batch && g.length == b.length,
                    "bert: a share of sequences [", share.first, ", ", share.first + b.batch,
                    ") of length ", b.length, " does not fit its global batch of ", g.batch,
                    " sequences of length ", g.length);
        const auto begin = static_cast<std::ptrdiff_t>(share.first * b.length);
        SMILE_CHECK(std::equal(b.input_ids.begin(), b.input_ids.end(), g.input_ids.begin() + begin) &&
                        std::equal(b.attention_mask.begin(), b.attention_mask.end(),
                                   g.attention_mask.begin() + begin),
                    "bert: the share's tokens are not sequences [", share.first, ", ",
                    share.first + b.batch, ") of its global batch");
    }

    bool embedding_mix_ = false, mix_share_ = false;
    float mix_lambda_ = 1.0f;
    std::vector<std::int64_t> mix_perm_;
    tensor<B> embedded_, mixed_, cls_, pooler_out_, pooled_;
    tensor<B> d_pooler_out_, d_cls_, d_hidden_, d_previous_;
};

template <Backend B>
requires BackendSequence<B> && BackendActivations<B>
class bert_classifier {
public:
    bert_classifier(session<B>& s, rng& gen, const bert_config& c)
        : bert_(s, gen, c),
          dropout_(c.hidden_dropout_prob),
          fc_(s, gen, {c.hidden_size, c.num_labels}) {
        dropout_.set_name("dropout");
        dropout_.set_place(&bert_.place());  // the pooled rows are the encoder's sequences
        fc_.set_name("classifier");
        init::normal(fc_.weight().value, gen, 0.02);
        fc_.bias().value.fill(0.0f);
    }

    [[nodiscard]] std::string_view arch() const noexcept { return "bert"; }
    [[nodiscard]] std::string head_name() const { return "classifier"; }
    /// A bare BertModel file (no `bert.` prefix, no classifier), as `bert-base-uncased`'s own
    /// checkpoints of the pretraining-free kind are saved.
    [[nodiscard]] std::vector<weight_naming> weight_namings() const {
        return {{"bert (no prefix)",
                 "embeddings.word_embeddings.weight",
                 {"classifier"},
                 [](const std::string& n) { return n.rfind("bert.", 0) == 0 ? n.substr(5) : n; }}};
    }

    void set_generator(rng* gen) noexcept {
        bert_.set_generator(gen);
        dropout_.set_generator(gen);
    }

    /// The precision its matrix products compute in, forward and backward (core/precision.hpp;
    /// float32 by default); refused here, naming `role`, when the machine cannot.
    void set_precision(session<B>& s, precision p, std::string_view role = "model") {
        precision_.set(s.context(), p, "bert " + std::string(role));
    }
    [[nodiscard]] precision compute_precision() const noexcept { return precision_.get(); }

    /// logits [batch, num_labels]. A mixup plan mixes the sequences at `point`; with a `share`,
    /// `b` is this rank's rows of a global batch (file comment).
    void forward(session<B>& s, const token_batch& b, tensor<B>& logits, mode m,
                 const mixup_plan* mix = nullptr, text_mix_point point = text_mix_point::pooled,
                 const token_share& share = {}) {
        const auto scope = precision_.enter(s.context());
        bert_.forward(s, b, m, mix != nullptr && point == text_mix_point::embeddings ? mix : nullptr,
                      share);
        pooled_mix_ = mix != nullptr && point == text_mix_point::pooled;
        pooled_share_ = pooled_mix_ && share.whole != nullptr;
        if (pooled_mix_) {
            mix_lambda_ = static_cast<float>(mix->lambda);
            inverse_ = inverse_permutation(mix->perm);
        }
        if (pooled_share_) {
            // Partners may be other ranks' sequences: every rank's pooled rows, in rank order,
            // are the global batch's (the loader's contiguous shares).
            const communicator& c = s.comm();
            SMILE_CHECK(share.first == b.batch * c.rank() && share.whole->batch == b.batch * c.size(),
                        "bert: mixing the pooled output of rank ", c.rank(), " of ", c.size(),
                        " needs equal shares in rank order, but this share is sequences [",
                        share.first, ", ", share.first + b.batch, ") of ", share.whole->batch);
            mix_over_ranks(s, *mix, bert_.pooled(), gathered_pooled_, mixed_global_,
                           mixed_pooled_);
        } else if (pooled_mix_) {
            smile::mix(s, *mix, bert_.pooled(), mixed_pooled_);
        }
        dropout_.forward(s, features(), dropped_, m);
        fc_.forward(s, dropped_, logits, m);
    }

    /// What the classifier reads: the pooled output, mixed when the last forward mixed there.
    [[nodiscard]] const tensor<B>& features() const noexcept {
        return pooled_mix_ ? mixed_pooled_ : bert_.pooled();
    }

    /// From ∂L/∂logits, plus optional extra gradients on `features()` and on the hidden states
    /// (SMILE's feature term, BSS).
    void backward(session<B>& s, const tensor<B>& d_logits,
                  const tensor<B>* d_features_extra = nullptr,
                  const tensor<B>* d_hidden_extra = nullptr) {
        const auto scope = precision_.enter(s.context());
        backward_scope<B> whole(s);  // data-parallel buckets: see core/session.hpp
        fc_.backward(s, d_logits, &d_dropped_);
        dropout_.backward(s, d_dropped_, &d_features_);
        s.gradients_written();  // the head's gradients are final
        if (d_features_extra != nullptr)
            ops<B>::add(s.context(), 1.0f, d_features_.view(), 1.0f, d_features_extra->view(),
                        d_features_.view());
        if (!pooled_mix_) {
            bert_.backward(s, &d_features_, d_hidden_extra);
            whole.close();
            return;
        }
        auto& ctx = s.context();
        if (!pooled_share_) {
            d_pooled_.bind(ctx);
            d_pooled_.resize(d_features_.shape());
            ops<B>::mix_rows(ctx, mix_lambda_, d_features_.view(), inverse_, d_pooled_.view());
            bert_.backward(s, &d_pooled_, d_hidden_extra);
            whole.close();
            return;
        }
        // This rank's rows of a zero global gradient, the mix undone, summed over the ranks (every
        // rank's loss reaches its partners), and this rank's rows kept (file comment).
        const std::int64_t rows = d_features_.shape().n;
        shape4 global = d_features_.shape();
        global.n *= s.comm().size();
        d_global_.bind(ctx);
        d_global_.resize(global);
        d_global_.fill(0.0f);
        ops<B>::copy(ctx, std::as_const(d_features_).view(),
                     d_global_.rows(bert_.place().first, bert_.place().first + rows));
        d_unmixed_.bind(ctx);
        d_unmixed_.resize(d_global_.shape());
        ops<B>::mix_rows(ctx, mix_lambda_, std::as_const(d_global_).view(), inverse_,
                         d_unmixed_.view());
        allreduce_sum(s, d_unmixed_);
        bert_.backward(s, &own_rows(s, d_unmixed_, rows, d_pooled_), d_hidden_extra);
        whole.close();
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        bert_.visit_parameters(join_name(prefix, "bert"), f);
        fc_.visit_parameters(join_name(prefix, "fc"), f);
    }
    template <class F>
    void visit_buffers(std::string_view, F&&) {}

    [[nodiscard]] bert_model<B>& bert() noexcept { return bert_; }
    [[nodiscard]] linear<B>& head() noexcept { return fc_; }

private:
    bert_model<B> bert_;
    dropout<B> dropout_;
    linear<B> fc_;
    bool pooled_mix_ = false, pooled_share_ = false;
    float mix_lambda_ = 1.0f;
    std::vector<std::int64_t> inverse_;
    tensor<B> mixed_pooled_, dropped_, d_dropped_, d_features_, d_pooled_;
    tensor<B> gathered_pooled_, mixed_global_, d_global_, d_unmixed_;  // a share's pooled mix
    model_precision<B> precision_;
};

}  // namespace smile
