// One plain fine-tuning training step (forward, cross-entropy, backward, SGD with momentum and
// weight decay) on the configured backend, for the configurations of performance.md:
// ResNet-50 224² batch 48, ResNet-18 64² batch 48, ResNet-20 32² batch 128, MobileNetV2,
// EfficientNet-B0 and EfficientNet-B4 224² batch 48 (200 classes).
// Reports seconds per step, images/s, minor page faults and backend allocations per step in
// steady state, and the process's peak resident memory.
#include <smile/factory_instances.hpp>
#include <smile/models/architecture.hpp>
#include <smile/optim/sgd.hpp>
#include <smile/smile.hpp>

#include "bench_support.hpp"

namespace {

using B = smile::default_backend;

struct config {
    const char* arch;
    std::int64_t size, batch;
    smile::precision precision = smile::precision::f32;
};

/// Two untimed steps (the first sight of every shape builds plans and buffers), then the timed
/// loop, reporting allocations and page faults per step and images/s.
template <class Step>
void time_steady_state(benchmark::State& state, smile::session<B>& s, std::int64_t batch, Step&& step) {
    step();
    step();
    smile::bench::steady_state_probe probe(s.context().allocations);
    for (auto _ : state) step();
    probe.report(state, s.context().allocations);
    state.counters["images/s"] = benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

void train_step(benchmark::State& state, config c) {
    smile::session<B> s;
    if (smile::bench::refused<smile::ops<B>>(state, s.context(), c.precision)) return;
    smile::rng gen(1);
    auto model = smile::make_classifier<B>(s, gen, smile::architecture_by_name(c.arch), {200, 0});
    model.set_precision(s, c.precision);
    smile::sgd<B> opt({0.9f, 0.0f, 1e-4f, false});
    opt.attach(model);
    std::vector<float> images(static_cast<std::size_t>(c.batch * 3 * c.size * c.size));
    for (auto& v : images) v = static_cast<float>(gen.normal());
    std::vector<float> targets(static_cast<std::size_t>(c.batch * 200), 0.0f);
    for (std::int64_t i = 0; i < c.batch; ++i) targets[std::size_t(i * 200 + gen.integer(0, 199))] = 1.0f;
    auto x = smile::tensor<B>::from_host(s, {c.batch, 3, c.size, c.size}, images);
    auto t = smile::tensor<B>::from_host(s, {c.batch, 200, 1, 1}, targets);
    smile::tensor<B> dlogits(s, {c.batch, 200, 1, 1});
    auto step = [&] {
        model.forward(s, x, smile::mode::train);
        smile::ops<B>::softmax_cross_entropy(s.context(), model.logits().view(), t.view(),
                                             1.0f / float(c.batch), dlogits.view());
        model.backward(s, &dlogits, nullptr);
        opt.step(s, 0.01f);
        s.synchronize();
    };
    time_steady_state(state, s, c.batch, step);
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    state.counters["peak_RSS_MB"] = double(u.ru_maxrss) / 1024.0;
    // What the backend itself holds (activations, gradients, weights, buffers), where it counts it.
    if (const auto megabytes = smile::bench::backend_megabytes(s.context())) state.counters["backend_MB"] = *megabytes;
    // Of that, the session's pool of transient tensors (the backward's gradient ping-pong
    // buffers, evaluation intermediates), held for good and sized for their largest use.
    state.counters["pool_MB"] = double(s.scratch().bytes()) / (1024.0 * 1024.0);
    state.counters["pool_peak_leased_MB"] = double(s.scratch().peak_bytes_in_use()) / (1024.0 * 1024.0);
}

void train_step_bf16(benchmark::State& state, config c) { train_step(state, c); }

/// The forward a teacher or frozen source network runs each step: evaluation mode, nothing kept.
void eval_forward(benchmark::State& state, config c) {
    smile::session<B> s;
    if (smile::bench::refused<smile::ops<B>>(state, s.context(), c.precision)) return;
    smile::rng gen(1);
    auto model = smile::make_classifier<B>(s, gen, smile::architecture_by_name(c.arch), {200, 0});
    model.set_precision(s, c.precision);
    std::vector<float> images(static_cast<std::size_t>(c.batch * 3 * c.size * c.size));
    for (auto& v : images) v = static_cast<float>(gen.normal());
    auto x = smile::tensor<B>::from_host(s, {c.batch, 3, c.size, c.size}, images);
    auto step = [&] {
        model.forward(s, x, smile::mode::eval);
        s.synchronize();
    };
    time_steady_state(state, s, c.batch, step);
}

}  // namespace

BENCHMARK_CAPTURE(eval_forward, resnet18_64px_b48, config{"resnet18", 64, 48})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(eval_forward, resnet50_224px_b48, config{"resnet50", 224, 48})->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_CAPTURE(train_step, resnet20_32px_b128, config{"resnet20", 32, 128})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(train_step, resnet18_64px_b48, config{"resnet18", 64, 48})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(train_step, resnet50_224px_b48, config{"resnet50", 224, 48})->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_CAPTURE(eval_forward, mobilenet_v2_224px_b48, config{"mobilenet_v2", 224, 48})->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_CAPTURE(train_step, mobilenet_v2_224px_b48, config{"mobilenet_v2", 224, 48})->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_CAPTURE(train_step, efficientnet_b0_224px_b48, config{"efficientnet_b0", 224, 48})->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_CAPTURE(train_step, efficientnet_b4_224px_b48, config{"efficientnet_b4", 224, 48})->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);

// Mixed precision (bf16 convolutions and matrix products, float32 elsewhere): the same
// configurations, against PyTorch's torch.autocast("cpu", torch.bfloat16) in compare_pytorch.sh.
constexpr auto bf16 = smile::precision::bf16;
BENCHMARK_CAPTURE(eval_forward, bf16_resnet18_64px_b48, config{"resnet18", 64, 48, bf16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(eval_forward, bf16_resnet50_224px_b48, config{"resnet50", 224, 48, bf16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK_CAPTURE(train_step_bf16, resnet20_32px_b128, config{"resnet20", 32, 128, bf16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(train_step_bf16, resnet18_64px_b48, config{"resnet18", 64, 48, bf16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(train_step_bf16, resnet50_224px_b48, config{"resnet50", 224, 48, bf16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK_CAPTURE(train_step_bf16, mobilenet_v2_224px_b48, config{"mobilenet_v2", 224, 48, bf16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK_CAPTURE(train_step_bf16, efficientnet_b0_224px_b48,
                  config{"efficientnet_b0", 224, 48, bf16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK_CAPTURE(train_step_bf16, efficientnet_b4_224px_b48,
                  config{"efficientnet_b4", 224, 48, bf16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(2);

BENCHMARK_MAIN();
