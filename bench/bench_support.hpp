#pragma once
// Counters shared by the benchmarks: minor page faults and backend allocations per iteration
// (performance.md §3: on these VMs a fresh page costs ~12 µs, so a steady-state step must take
// none), and the conventional FLOP rate.

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <optional>
#include <string>

namespace smile::bench {

inline long minor_faults() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

/// Records faults and allocations across the timed loop as per-iteration counters.
struct steady_state_probe {
    long faults_before = minor_faults();
    std::size_t allocations_before;
    explicit steady_state_probe(std::size_t allocations) : allocations_before(allocations) {}
    void report(benchmark::State& state, std::size_t allocations_after) const {
        const double n = static_cast<double>(state.iterations());
        state.counters["faults/iter"] = static_cast<double>(minor_faults() - faults_before) / n;
        state.counters["allocs/iter"] = static_cast<double>(allocations_after - allocations_before) / n;
    }
};

/// True (after marking the benchmark skipped with the backend's reason) when the backend cannot
/// compute in `p` here: a bf16 benchmark on a CPU without bf16 or on the float32-only CUDA backend.
template <class Ops, class Context, class Precision>
bool refused(benchmark::State& state, Context& ctx, Precision p) {
    const std::string why = Ops::precision_refusal(ctx, p);
    if (!why.empty()) state.SkipWithError(why.c_str());
    return !why.empty();
}

/// FLOP/s counter for `flops` per iteration.
inline void report_flops(benchmark::State& state, double flops) {
    state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9 * static_cast<double>(state.iterations()),
                                                   benchmark::Counter::kIsRate);
}

/// Megabytes of device or host memory the backend context holds, where the backend counts them
/// (the oneDNN context's allocations; the CUDA allocator's blocks in use and cached).
template <class Context>
std::optional<double> backend_megabytes(const Context& ctx) {
    constexpr double megabyte = 1024.0 * 1024.0;
    if constexpr (requires { ctx.bytes_allocated; })
        return double(ctx.bytes_allocated) / megabyte;
    else if constexpr (requires { ctx.memory.in_use_bytes(); })
        return double(ctx.memory.in_use_bytes() + ctx.memory.cached_bytes()) / megabyte;
    else
        return std::nullopt;
}

}  // namespace smile::bench
