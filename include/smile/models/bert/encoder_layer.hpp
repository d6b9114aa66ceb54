#pragma once
/// @file
/// One BERT encoder layer, Hugging Face's BertLayer, with its module names:
///   a = attention.output.LayerNorm(x + dropout(attention.output.dense(attention.self(x))))
///   y = output.LayerNorm(a + dropout(output.dense(act(intermediate.dense(a)))))
/// (post-norm, as BERT). `bert_attention` is BertAttention (`self` and `output`).

#include <smile/layers/activation.hpp>
#include <smile/layers/dropout.hpp>
#include <smile/layers/layer_norm.hpp>
#include <smile/layers/linear.hpp>
#include <smile/models/bert/self_attention.hpp>
#include <utility>

namespace smile {

/// y = LayerNorm(residual + dropout(dense(x))): BertSelfOutput and BertOutput.
template <Backend B>
requires BackendSequence<B>
class bert_residual_output {
public:
    bert_residual_output(session<B>& s, rng& gen, std::int64_t in, const bert_config& c)
        : dense_(s, gen, {in, c.hidden_size}),
          dropout_(c.hidden_dropout_prob),
          norm_(s, {c.hidden_size, c.layer_norm_eps}) {}

    void forward(session<B>& s, const tensor<B>& x, const tensor<B>& residual, tensor<B>& y,
                 mode m) {
        typename tensor_pool<B>::lease out_scratch, sum_scratch;
        tensor<B>& out =
            kept_or_scratch(s, m, dense_out_, out_scratch, dense_.output_shape(x.shape()));
        dense_.forward(s, x, out, m);
        dropped_ = m == mode::train && dropout_.probability() > 0.0f;
        if (dropped_) dropout_.forward(s, out, dropped_out_, m);
        tensor<B>& sum = kept_or_scratch(s, m, sum_, sum_scratch, out.shape());
        ops<B>::add(s.context(), 1.0f, (dropped_ ? dropped_out_ : out).view(), 1.0f,
                    residual.view(), sum.view());
        norm_.forward(s, sum, y, m);
    }

    /// d_sum = LayerNorm backward of dy; d_residual = d_sum; dx = dense backward of the dropout
    /// backward of d_sum.
    void backward(session<B>& s, const tensor<B>& dy, tensor<B>& d_residual, tensor<B>* dx) {
        norm_.backward(s, dy, &d_residual);
        if (!dropped_) {
            dense_.backward(s, d_residual, dx);
            return;
        }
        auto d_dropped = s.borrow(d_residual.shape());
        dropout_.backward(s, d_residual, &*d_dropped);
        dense_.backward(s, *d_dropped, dx);
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        dense_.visit_parameters(join_name(prefix, "dense"), f);
        norm_.visit_parameters(join_name(prefix, "LayerNorm"), f);
    }
    void set_name(const std::string& name) {
        dense_.set_name(join_name(name, "dense"));
        dropout_.set_name(join_name(name, "dropout"));
        norm_.set_name(join_name(name, "LayerNorm"));
    }
    void set_generator(rng* gen) noexcept { dropout_.set_generator(gen); }
    void set_place(const batch_place* place) noexcept { dropout_.set_place(place); }
    void reset_parameters(rng& gen, double range) {
        init::normal(dense_.weight().value, gen, range);
        dense_.bias().value.fill(0.0f);
        norm_.reset_parameters();
    }

private:
    linear<B> dense_;
    dropout<B> dropout_;
    layer_norm<B> norm_;
    bool dropped_ = false;
    tensor<B> dense_out_, dropped_out_, sum_;
};

template <Backend B>
requires BackendSequence<B> && BackendActivations<B>
class bert_layer : public layer_state<B> {
public:
    bert_layer(session<B>& s, rng& gen, const bert_config& c, const sequence_state<B>* sequence)
        : self_(s, gen, c, sequence),
          attention_output_(s, gen, c.hidden_size, c),
          intermediate_(s, gen, {c.hidden_size, c.intermediate_size}),
          act_(c.hidden_act),
          output_(s, gen, c.intermediate_size, c),
          hidden_(c.hidden_size) {
        set_sequence(sequence);
    }

    void set_sequence(const sequence_state<B>* sequence) noexcept {
        self_.set_sequence(sequence);
        const batch_place* place = sequence != nullptr ? &sequence->place : nullptr;
        attention_output_.set_place(place);
        output_.set_place(place);
    }
    void set_generator(rng* gen) noexcept {
        self_.set_generator(gen);
        attention_output_.set_generator(gen);
        output_.set_generator(gen);
    }

    [[nodiscard]] shape4 output_shape(const shape4& x) const { return self_.output_shape(x); }

    void forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m) {
        this->begin_forward(x, y, m);
        y.bind(s.context());
        this->end_forward(x);
        using lease = typename tensor_pool<B>::lease;
        lease context_scratch, attended_scratch, inner_scratch, activated_scratch;
        const shape4 inner_shape = intermediate_.output_shape(x.shape());
        tensor<B>& context = kept_or_scratch(s, m, context_, context_scratch, x.shape());
        tensor<B>& attended = kept_or_scratch(s, m, attended_, attended_scratch, x.shape());
        tensor<B>& inner = kept_or_scratch(s, m, inner_, inner_scratch, inner_shape);
        tensor<B>& activated = kept_or_scratch(s, m, activated_, activated_scratch, inner_shape);
        self_.forward(s, x, context, m);
        attention_output_.forward(s, context, x, attended, m);
        intermediate_.forward(s, attended, inner, m);
        act_.forward(s, inner, activated, m);
        output_.forward(s, activated, attended, y, m);
    }

    void backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx) {
        this->begin_backward(dy);
        // Session scratch, reused by every layer's backward in turn (docs/performance.md).
        auto d_attended = s.borrow(dy.shape()), d_part = s.borrow(dy.shape()),
             d_residual = s.borrow(dy.shape()), d_context = s.borrow(dy.shape()),
             d_activated = s.borrow(inner_.shape()), d_inner = s.borrow(inner_.shape());
        output_.backward(s, dy, *d_attended, &*d_activated);
        act_.backward(s, *d_activated, &*d_inner);
        intermediate_.backward(s, *d_inner, &*d_part);
        ops<B>::add(s.context(), 1.0f, d_attended->view(), 1.0f, d_part->view(),
                    d_attended->view());
        attention_output_.backward(s, *d_attended, *d_residual, &*d_context);
        self_.backward(s, *d_context, dx);
        if (dx != nullptr)
            ops<B>::add(s.context(), 1.0f, dx->view(), 1.0f, d_residual->view(), dx->view());
    }

    template <class F>
    void visit_parameters(std::string_view prefix, F&& f) {
        self_.visit_parameters(join_name(prefix, "attention.self"), f);
        attention_output_.visit_parameters(join_name(prefix, "attention.output"), f);
        intermediate_.visit_parameters(join_name(prefix, "intermediate.dense"), f);
        output_.visit_parameters(join_name(prefix, "output"), f);
    }
    template <class F>
    void visit_buffers(std::string_view, F&&) {}

    void set_name(std::string name) {
        self_.set_name(join_name(name, "attention.self"));
        attention_output_.set_name(join_name(name, "attention.output"));
        intermediate_.set_name(join_name(name, "intermediate.dense"));
        act_.set_name(join_name(name, "intermediate.act"));
        output_.set_name(join_name(name, "output"));
        layer_state<B>::set_name(std::move(name));
    }

    void reset_parameters(rng& gen, double range) {
        self_.reset_parameters(gen, range);
        attention_output_.reset_parameters(gen, range);
        init::normal(intermediate_.weight().value, gen, range);
        intermediate_.bias().value.fill(0.0f);
        output_.reset_parameters(gen, range);
    }

private:
    bert_self_attention<B> self_;
    bert_residual_output<B> attention_output_;
    linear<B> intermediate_;
    activation<B> act_;
    bert_residual_output<B> output_;
    std::int64_t hidden_;
    tensor<B> context_, attended_, inner_, activated_;
};

}  // namespace smile
