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

#include <memory>
#include <smile/io/weight_naming.hpp>
#include <smile/models/bert/embeddings.hpp>
#include <smile/models/bert/encoder_layer.hpp>
#include <string>
#include <vector>

namespace smile {

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

    /// Runs the encoder and the pooler; `last_hidden()` and `pooled()` hold the results.
    void forward(session<B>& s, const token_batch& b, mode m) {
        b.validate(config_.vocab_size, config_.type_vocab_size, config_.max_position_embeddings);
        auto& ctx = s.context();
        sequence_->length = b.length;
        sequence_->mask.bind(ctx);
        sequence_->mask.resize(matrix_shape(b.batch, b.length));
        sequence_->mask.copy_from_host(b.attention_mask);
        embeddings_.forward(s, b, hidden_[0], m);
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
    [[nodiscard]] const tensor<B>& pooled() const noexcept { return pooled_; }

    /// Gradients of every parameter from ∂L/∂pooled and/or ∂L/∂hidden (either may be null; the
    /// pooler gets no gradient without the first). The [CLS] rows' gradient is scattered back
    /// into the hidden states, then flows through the layers in reverse and into the tables.
    void backward(session<B>& s, const tensor<B>* d_pooled, const tensor<B>* d_hidden) {
        SMILE_CHECK(d_pooled != nullptr || d_hidden != nullptr, "bert: backward needs a gradient");
        auto& ctx = s.context();
        if (d_pooled != nullptr) {
            pooler_act_.backward(s, *d_pooled, &d_pooler_out_);
            pooler_.backward(s, d_pooler_out_, &d_cls_);
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
        }
        embeddings_.backward(s, d_hidden_);
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
    tensor<B> cls_, pooler_out_, pooled_;
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

    /// logits [batch, num_labels].
    void forward(session<B>& s, const token_batch& b, tensor<B>& logits, mode m) {
        bert_.forward(s, b, m);
        dropout_.forward(s, bert_.pooled(), dropped_, m);
        fc_.forward(s, dropped_, logits, m);
    }

    /// From ∂L/∂logits, plus optional extra gradients on the pooled output and the hidden states
    /// (SMILE's feature term, BSS).
    void backward(session<B>& s, const tensor<B>& d_logits,
                  const tensor<B>* d_pooled_extra = nullptr,
                  const tensor<B>* d_hidden_extra = nullptr) {
        fc_.backward(s, d_logits, &d_dropped_);
        dropout_.backward(s, d_dropped_, &d_pooled_);
        if (d_pooled_extra != nullptr)
            ops<B>::add(s.context(), 1.0f, d_pooled_.view(), 1.0f, d_pooled_extra->view(),
                        d_pooled_.view());
        bert_.backward(s, &d_pooled_, d_hidden_extra);
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
    tensor<B> dropped_, d_dropped_, d_pooled_;
};

}  // namespace smile
