// Data-parallel training steps: run it alone (one process, all threads) and under
// `mpirun -np N` (N processes; give each its share of the threads), and compare images/s.
//   OMP_NUM_THREADS=2 bench_data_parallel
//   mpirun -np 2 -x OMP_NUM_THREADS=1 bench_data_parallel
// - data_parallel_step: one fine-tuning step of ResNet-18 64² on this rank's share of a global
//   batch of 48 (forward, cross-entropy, backward with the gradients averaged over the ranks in
//   25 MiB buckets as backward produces them, SGD), with and without synchronised batch norm;
//   images/s counts the global batch. `_1mib`: 1 MiB buckets; `_after_backward`: one all-reduce
//   per tensor once backward has returned (the seam before buckets), for comparison.
// - gradient_allreduce: the seam alone, averaging ResNet-18's gradients (11.3 M floats) over the
//   ranks one tensor at a time (`per_tensor`) or in the optimizer's buckets (25 MiB, 1 MiB):
//   seconds per step and the bus bandwidth 2·(N − 1)/N·bytes/s of a ring all-reduce.
// Every rank runs a fixed number of iterations (the collectives must match); rank 0 reports.
#include <smile/factory_instances.hpp>
#include <smile/models/architecture.hpp>
#include <smile/optim/sgd.hpp>
#include <smile/smile.hpp>

#include "bench_support.hpp"
#ifdef SMILE_WITH_MPI
#include <smile/distributed/mpi_communicator.hpp>
#endif

namespace {

using B = smile::default_backend;
constexpr std::int64_t global_batch = 48, size = 64, classes = 200;

/// The launcher's ranks (host buffers over MPI), or one process.
smile::communicator& ranks() {
#ifdef SMILE_WITH_MPI
    return smile::launched_ranks();
#else
    return smile::single_process::instance();
#endif
}

struct step_setup {
    smile::session<B> s;
    smile::classifier<B> model;
    smile::sgd<B> opt{{0.9f, 0.0f, 1e-4f, false}};
    smile::tensor<B> x, t, dlogits;
    std::int64_t batch;
    bool after_backward;  // the per-tensor seam after backward instead of buckets during it
    std::vector<smile::parameter<B>*> pointers;
    explicit step_setup(bool sync_bn, std::size_t bucket_mib = 25, bool per_tensor_after = false)
        : model(make(s)), batch(global_batch / ranks().size()), after_backward(per_tensor_after) {
        s.set_communicator(ranks());
        s.set_sync_batch_norm(sync_bn);
        s.set_gradient_bucket_bytes(bucket_mib << 20);
        for (auto& [name, p] : smile::parameters_of<B>(model)) pointers.push_back(p);
        opt.attach(model);
        smile::rng gen(std::uint64_t(2 + ranks().rank()));
        std::vector<float> images(std::size_t(batch * 3 * size * size));
        for (auto& v : images) v = float(gen.normal());
        std::vector<float> targets(std::size_t(batch * classes), 0.0f);
        for (std::int64_t i = 0; i < batch; ++i)
            targets[std::size_t(i * classes + gen.integer(0, classes - 1))] = 1.0f;
        x = smile::tensor<B>::from_host(s, {batch, 3, size, size}, images);
        t = smile::tensor<B>::from_host(s, {batch, classes, 1, 1}, targets);
        dlogits = smile::tensor<B>(s, {batch, classes, 1, 1});
    }
    static smile::classifier<B> make(smile::session<B>& s) {
        smile::rng gen(1);
        return smile::make_classifier<B>(s, gen, smile::architecture_by_name("resnet18"),
                                         {classes, 0});
    }
    void step() {
        if (after_backward) s.set_backward_listener(nullptr);
        model.forward(s, x, smile::mode::train);
        smile::ops<B>::softmax_cross_entropy(s.context(), model.logits().view(), t.view(),
                                             1.0f / float(batch), dlogits.view());
        model.backward(s, &dlogits, nullptr);
        if (after_backward) smile::average_gradients(s, std::span<smile::parameter<B>* const>(pointers));
        opt.step(s, 0.01f);  // averages what backward has not
        s.synchronize();
    }
};

void data_parallel_step(benchmark::State& state, bool sync_bn, std::size_t bucket_mib, bool after_backward) {
    step_setup b(sync_bn, bucket_mib, after_backward);
    for (int i = 0; i < 8; ++i) b.step();
    smile::bench::steady_state_probe probe(b.s.context().allocations);
    for (auto _ : state) b.step();
    probe.report(state, b.s.context().allocations);
    state.counters["ranks"] = ranks().size();
    if (const auto* buckets = b.opt.buckets()) {
        state.counters["buckets"] = double(buckets->layout().size());
        state.counters["in_backward"] = double(buckets->last_round().started_in_backward);
    }
    state.counters["images/s"] = benchmark::Counter(
        double(global_batch) * double(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["images/s/rank"] =
        benchmark::Counter(double(global_batch) / ranks().size() * double(state.iterations()),
                           benchmark::Counter::kIsRate);
}

void gradient_allreduce(benchmark::State& state, bool in_buckets, std::size_t bucket_mib) {
    step_setup b(false, bucket_mib);
    b.step();  // every gradient exists (and, with several ranks, lives in the buckets)
    b.s.set_backward_listener(nullptr);
    std::size_t floats = 0;
    for (auto* p : b.pointers) floats += p->grad.size();
    auto refresh = [&] {
        for (auto* p : b.pointers) (void)p->grad_for_write();  // fresh again, values kept
    };
    for (auto _ : state) {
        state.PauseTiming();
        refresh();
        state.ResumeTiming();
        if (in_buckets)
            b.opt.average_now(b.s);
        else
            smile::average_gradients(b.s, std::span<smile::parameter<B>* const>(b.pointers));
    }
    b.s.set_backward_listener(nullptr);
    const double bytes = double(floats) * sizeof(float), n = ranks().size();
    state.counters["MB"] = bytes / 1e6;
    state.counters["bus_GB/s"] = benchmark::Counter(
        n > 1 ? 2.0 * (n - 1) / n * bytes * 1e-9 * double(state.iterations()) : 0.0,
        benchmark::Counter::kIsRate);
}

/// Reports nothing: the ranks other than 0 run the same benchmarks silently.
class silent_reporter : public benchmark::BenchmarkReporter {
public:
    bool ReportContext(const Context&) override { return true; }
    void ReportRuns(const std::vector<Run>&) override {}
};

}  // namespace

BENCHMARK_CAPTURE(data_parallel_step, resnet18_64px_b48, false, 25, false)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(20);
BENCHMARK_CAPTURE(data_parallel_step, resnet18_64px_b48_1mib, false, 1, false)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(20);
BENCHMARK_CAPTURE(data_parallel_step, resnet18_64px_b48_after_backward, false, 25, true)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(20);
BENCHMARK_CAPTURE(data_parallel_step, resnet18_64px_b48_sync_bn, true, 25, false)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(20);
BENCHMARK_CAPTURE(gradient_allreduce, per_tensor, false, 25)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(30);
BENCHMARK_CAPTURE(gradient_allreduce, buckets, true, 25)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(30);
BENCHMARK_CAPTURE(gradient_allreduce, buckets_1mib, true, 1)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(30);

int main(int argc, char** argv) {
    smile::communicator& world = ranks();
    benchmark::Initialize(&argc, argv);
    if (world.is_root()) {
        benchmark::RunSpecifiedBenchmarks();
    } else {
        silent_reporter quiet;
        benchmark::RunSpecifiedBenchmarks(&quiet);
    }
    benchmark::Shutdown();
    return 0;
}
