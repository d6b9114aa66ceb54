// The cost of one training step of each method relative to plain fine-tuning, on the same
// backend, model and batch: ResNet-18 64² batch 48 for every method, and ResNet-50 224² batch 48
// for SMILE (the configuration PyTorch's 1.28-1.31× was measured on).
//
// Each step is the method's whole step (mixing, teacher or source forwards, student forward and
// backward, regularizers, SGD, teacher update) on a fixed uploaded batch, so the data loader is
// not timed (bench_data measures it). One-off preparation (DELTA's channel attention, Co-Tuning's
// relationship) runs before timing. The counter `vs_finetune` divides by plain fine-tuning steps
// interleaved with the method's in the same process.
#include <chrono>
#include <filesystem>
#include <smile/data/synthetic.hpp>
#include <smile/factory_instances.hpp>
#include <smile/io/weights.hpp>
#include <smile/methods/registry.hpp>
#include <smile/smile.hpp>

#include "bench_support.hpp"

namespace {

using B = smile::default_backend;
namespace fs = std::filesystem;

struct config {
    const char* arch;
    std::int64_t size, batch;
    std::int64_t classes = 200;  // CUB-200
    smile::precision_policy precision{};  // the method's; the baseline fine-tunes at the student's
};

/// A random "pretrained" network with a 1000-class source head, written once per architecture.
fs::path pretrained(smile::session<B>& s, const char* arch) {
    const fs::path p = fs::temp_directory_path() / (std::string("smile_bench_") + arch + ".safetensors");
    if (!fs::exists(p)) {
        smile::rng gen(7);
        auto model = smile::make_classifier<B>(s, gen, *smile::resnet_by_name(arch), {1000, 0});
        smile::io::save_weights<B>(model, p);
    }
    return p;
}

/// A method ready to step on a fixed batch (one-off preparation done, shapes seen).
struct prepared_method {
    smile::rng gen{1};  // the method keeps a reference: it must outlive it
    std::unique_ptr<smile::method<B>> method;
    std::int64_t iter = 0;

    prepared_method(smile::session<B>& s, const std::string& name, const config& c, const fs::path& weights) {
        smile::method_config mc;
        mc.name = name;
        mc.schedule = {smile::schedule_kind::constant, 0.01f, 1000000, 0.1f, {}};
        mc.delta.attention.head_iterations = 4;
        mc.delta.attention.batches = 1;
        mc.delta.attention.batch_size = 16;
        mc.delta.attention.workers = 0;
        mc.precision = name == "finetune"
                           ? smile::precision_policy{c.precision.student, c.precision.student}
                           : c.precision;
        method = smile::make_method<B>(s, gen, *smile::resnet_by_name(c.arch), c.classes, weights, mc);
        // Preparation data: two images per class at the benchmark's size.
        auto d = std::make_shared<smile::data::dataset>(
            smile::data::make_synthetic({c.classes, 2, 1, c.size, 3, 40.0, 3, 0, 0.5}, 5));
        smile::data::pipeline eval;
        eval.resize(c.size, c.size).normalize({{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}});
        method->prepare(d, d->train, {eval, eval, 0});
    }
    /// One step, waited for; returns its wall time in seconds.
    double step(smile::session<B>& s, const smile::data::host_batch& batch) {
        const auto start = std::chrono::steady_clock::now();
        benchmark::DoNotOptimize(method->step(batch, iter++));
        s.synchronize();
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
};

/// The method's step against plain fine-tuning's, interleaved step by step in one process so
/// that both see the same machine state (frequency, other load, memory placement): the ratio
/// is far steadier than one of two separate runs.
void method_step(benchmark::State& state, std::string name, config c) {
    smile::session<B> s;
    if (smile::bench::refused<smile::ops<B>>(state, s.context(), c.precision.student) ||
        smile::bench::refused<smile::ops<B>>(state, s.context(), c.precision.teacher))
        return;
    const auto weights = pretrained(s, c.arch);
    prepared_method baseline(s, "finetune", c, weights), measured(s, name, c, weights);
    smile::rng gen(2);
    smile::data::host_batch batch;
    batch.images = xt::xtensor<float, 4>::from_shape(
        {std::size_t(c.batch), std::size_t(3), std::size_t(c.size), std::size_t(c.size)});
    for (auto& v : batch.images) v = static_cast<float>(gen.normal());
    for (std::int64_t i = 0; i < c.batch; ++i) batch.labels.push_back(gen.integer(0, c.classes - 1));
    for (int warm = 0; warm < 2; ++warm) {  // first sight of every shape: plans, buffers
        baseline.step(s, batch);
        measured.step(s, batch);
    }
    smile::bench::steady_state_probe probe(s.context().allocations);
    double method_seconds = 0, baseline_seconds = 0;
    for (auto _ : state) {
        const double t = measured.step(s, batch);
        state.SetIterationTime(t);
        method_seconds += t;
        state.PauseTiming();
        baseline_seconds += baseline.step(s, batch);
        state.ResumeTiming();
    }
    probe.report(state, s.context().allocations);
    const double n = double(state.iterations());
    state.counters["finetune_ms"] = 1e3 * baseline_seconds / n;
    state.counters["vs_finetune"] = method_seconds / baseline_seconds;
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    state.counters["peak_RSS_MB"] = double(u.ru_maxrss) / 1024.0;
}

void register_all() {
    const config r18{"resnet18", 64, 48, 200};
    for (const char* name : {"l2sp", "bss", "rifle", "cotuning", "delta", "mixup", "cutmix", "smile",
                             "dsmile-kd", "dsmile-rifle"})
        benchmark::RegisterBenchmark((std::string("step/resnet18_64px_b48/") + name).c_str(), method_step, name, r18)
            ->Unit(benchmark::kMillisecond)
            ->UseManualTime()
            ->MinTime(3.0);
    const config r50{"resnet50", 224, 48, 200};
    for (const char* name : {"smile"})
        benchmark::RegisterBenchmark((std::string("step/resnet50_224px_b48/") + name).c_str(), method_step, name, r50)
            ->Unit(benchmark::kMillisecond)
            ->UseManualTime()
            ->Iterations(3);
    // Mixed precision: SMILE with a bf16 teacher and a float32 student (against float32
    // fine-tuning), and everything at bf16 (against bf16 fine-tuning).
    using smile::precision;
    for (const auto& [tag, policy] :
         {std::pair{"smile_bf16_teacher", smile::precision_policy{precision::f32, precision::bf16}},
          std::pair{"bf16/smile", smile::precision_policy{precision::bf16, precision::bf16}}}) {
        config r18_mixed = r18, r50_mixed = r50;
        r18_mixed.precision = r50_mixed.precision = policy;
        benchmark::RegisterBenchmark((std::string("step/resnet18_64px_b48/") + tag).c_str(),
                                     method_step, "smile", r18_mixed)
            ->Unit(benchmark::kMillisecond)
            ->UseManualTime()
            ->MinTime(3.0);
        benchmark::RegisterBenchmark((std::string("step/resnet50_224px_b48/") + tag).c_str(),
                                     method_step, "smile", r50_mixed)
            ->Unit(benchmark::kMillisecond)
            ->UseManualTime()
            ->Iterations(3);
    }
}

}  // namespace

int main(int argc, char** argv) {
    register_all();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
}
