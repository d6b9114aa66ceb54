// BERT fine-tuning steps on the configured backend (issue 11's speed goals, docs/performance.md):
// the plain step (forward, cross-entropy, backward, clipping, AdamW with BERT's groups) and the
// SMILE step (fixed teacher forward, mixed student, L_MXP + L_FE + L_FC), for BERT-base
// (hidden 768, 12 layers, vocabulary 30522) at sequence 128 and batch 24, the paper's SST-5
// recipe, and for a small BERT (hidden 256, 4 layers) that measures in seconds. Random ids and
// weights; every sequence is full length. bench/compare_pytorch.sh runs the same steps in
// PyTorch (bench/pytorch_bert_step.py).
#include <smile/default_backend.hpp>
#include <smile/methods/text/text_methods.hpp>

#include "bench_support.hpp"

namespace {

using B = smile::default_backend;

struct bert_case {
    std::int64_t hidden, layers, heads, intermediate, vocab, length, batch;
    bool smile_method;
    smile::precision precision = smile::precision::f32;
};

smile::bert_config config_of(const bert_case& c) {
    smile::bert_config config;
    config.hidden_size = c.hidden;
    config.num_hidden_layers = c.layers;
    config.num_attention_heads = c.heads;
    config.intermediate_size = c.intermediate;
    config.vocab_size = c.vocab;
    config.num_labels = 5;
    return config;
}

void bert_step(benchmark::State& state, bert_case c) {
    smile::session<B> s;
    if (smile::bench::refused<smile::ops<B>>(state, s.context(), c.precision)) return;
    smile::rng gen(1);
    const auto config = config_of(c);
    smile::text_batch batch;
    batch.tokens.batch = c.batch;
    batch.tokens.length = c.length;
    for (std::int64_t i = 0; i < c.batch * c.length; ++i) {
        batch.tokens.input_ids.push_back(i % c.length == 0 ? 101 : gen.integer(1000, c.vocab - 1));
        batch.tokens.token_type_ids.push_back(0);
        batch.tokens.attention_mask.push_back(1.0f);
    }
    for (std::int64_t i = 0; i < c.batch; ++i) batch.labels.push_back(gen.integer(0, 4));
    smile::text_training_options o;
    o.schedule = {smile::schedule_kind::linear, 2e-5f, 1000, 0.1f, {}, 100};
    std::unique_ptr<smile::text_method<B>> method;
    if (c.smile_method) {
        smile::pretraining_head head{
            std::vector<float>(std::size_t(2 * c.hidden), 0.01f), {0.0f, 0.0f}, 2};
        method = std::make_unique<smile::text_smile<B>>(
            s, gen, smile::bert_classifier<B>(s, gen, config),
            smile::bert_classifier<B>(s, gen, config), head, o, smile::text_smile_options{});
    } else {
        method = std::make_unique<smile::text_finetune<B>>(
            s, gen, smile::bert_classifier<B>(s, gen, config), o);
    }
    method->set_precision({c.precision, c.precision});
    std::int64_t iter = 0;
    auto step = [&] {
        method->step(batch, iter++);
        s.synchronize();
    };
    step();
    step();
    smile::bench::steady_state_probe probe(s.context().allocations);
    for (auto _ : state) step();
    probe.report(state, s.context().allocations);
    state.counters["sequences/s"] = benchmark::Counter(double(c.batch) * double(state.iterations()),
                                                       benchmark::Counter::kIsRate);
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    state.counters["peak_RSS_MB"] = double(u.ru_maxrss) / 1024.0;
}

}  // namespace

BENCHMARK_CAPTURE(bert_step, small_finetune_s128_b24,
                  bert_case{256, 4, 4, 1024, 30522, 128, 24, false})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK_CAPTURE(bert_step, small_smile_s128_b24, bert_case{256, 4, 4, 1024, 30522, 128, 24, true})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK_CAPTURE(bert_step, base_finetune_s128_b24,
                  bert_case{768, 12, 12, 3072, 30522, 128, 24, false})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(2);
BENCHMARK_CAPTURE(bert_step, base_smile_s128_b24,
                  bert_case{768, 12, 12, 3072, 30522, 128, 24, true})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(2);

// Mixed precision: every matrix product in bf16 (against PyTorch's autocast in compare_pytorch.sh).
BENCHMARK_CAPTURE(bert_step, bf16_small_finetune_s128_b24,
                  bert_case{256, 4, 4, 1024, 30522, 128, 24, false, smile::precision::bf16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK_CAPTURE(bert_step, bf16_base_finetune_s128_b24,
                  bert_case{768, 12, 12, 3072, 30522, 128, 24, false, smile::precision::bf16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(2);
BENCHMARK_CAPTURE(bert_step, bf16_base_smile_s128_b24,
                  bert_case{768, 12, 12, 3072, 30522, 128, 24, true, smile::precision::bf16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(2);

BENCHMARK_MAIN();
