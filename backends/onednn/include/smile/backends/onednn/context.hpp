#pragma once
/// @file
/// The oneDNN backend's context, its memory allocation and its parallel loops.
///
/// Allocation: memory is 64-byte aligned; blocks of 2 MiB or more are 2 MiB aligned and
/// advised for transparent huge pages, because on the VMs this library targets a fresh 4 KiB
/// page costs ~12 µs to fault in and a huge page ~50× less per byte (performance.md §3). The
/// context counts allocations so tests can prove that steady-state steps allocate nothing.

#include <omp.h>
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <oneapi/dnnl/dnnl.hpp>
#include <smile/backends/onednn/eltwise_plans.hpp>
#include <smile/backends/onednn/matmul_plans.hpp>
#include <smile/core/error.hpp>
#include <smile/core/precision.hpp>

namespace smile::onednn {

/// Engine, stream, the shared buffers of every primitive of this context, the compute precision
/// and counters.
struct context {
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream{engine};
    /// The precision convolutions and matrix products compute in (core/precision.hpp); set
    /// through backend::set_compute_precision, i.e. by precision_scope around a model's passes.
    precision compute = precision::f32;

    context() = default;
    context(const context&) = delete;
    context& operator=(const context&) = delete;
    ~context() {
        for (auto* b : {&scratchpad_, &weights_, &low_precision_[0], &low_precision_[1]})
            std::free(b->memory);
    }

    /// A scratchpad of at least `bytes`. Primitives run one at a time on the stream, so one
    /// buffer serves them all; it grows only when a new plan needs more.
    void* scratchpad(std::size_t bytes) { return grow(scratchpad_, bytes); }

    /// A buffer of at least `bytes` for weights reordered into a primitive's layout. Only one
    /// convolution call runs at a time and its reordered weights live only during that call, so
    /// all convolutions of the context share it (instead of three copies per layer).
    void* weights_buffer(std::size_t bytes) { return grow(weights_, bytes); }

    /// Operands converted to bfloat16 for one call (slot 0: the input or left operand, slot 1:
    /// the output gradient or right operand), shared by every primitive as the weights buffer
    /// is. `low_precision_writes` counts conversions, so a caller can tell whether a slot still
    /// holds what it wrote.
    void* low_precision_buffer(int slot, std::size_t bytes) {
        return grow(low_precision_[slot], bytes);
    }
    std::uint64_t low_precision_writes = 0;
    /// The bfloat16 matrix-product primitives of gemm and batched_gemm (matmul.hpp).
    detail::matmul_plans matmuls;
    /// The eltwise primitives of the transcendental activations (math.hpp).
    detail::eltwise_plans eltwise;

    /// Aligned allocation (see the file comment); counted.
    void* allocate_bytes(std::size_t bytes) {
        constexpr std::size_t huge = std::size_t{2} << 20;
        const std::size_t alignment = bytes >= huge ? huge : 64;
        const std::size_t rounded = (bytes + alignment - 1) / alignment * alignment;
        void* p = nullptr;
        if (posix_memalign(&p, alignment, rounded) != 0 || p == nullptr) {
            smile::detail::fail("onednn: out of memory allocating ", bytes, " bytes");
        }
        if (alignment == huge) madvise(p, rounded, MADV_HUGEPAGE);
        ++allocations;
        bytes_allocated += rounded;
        return p;
    }

    [[nodiscard]] std::size_t scratchpad_bytes() const noexcept { return scratchpad_.bytes; }

    std::size_t allocations = 0;      ///< number of allocations made through this context
    std::size_t bytes_allocated = 0;  ///< their total size

private:
    /// A buffer that only grows: reallocated when a call needs more, never shrunk.
    struct grow_only {
        void* memory = nullptr;
        std::size_t bytes = 0;
    };
    void* grow(grow_only& b, std::size_t bytes) {
        if (bytes > b.bytes) {
            std::free(b.memory);
            b = {};
            b.memory = allocate_bytes(bytes);
            b.bytes = bytes;
        }
        return b.memory;
    }

    grow_only scratchpad_, weights_;
    grow_only low_precision_[2];
};

namespace detail {

/// Runs f(i) for i in [0, n) on the OpenMP threads (static schedule).
template <class F>
void parallel_for(std::int64_t n, F&& f) {
    if (n <= 0) return;
#pragma omp parallel for schedule(static) if (n > 1)
    for (std::int64_t i = 0; i < n; ++i) f(i);
}

/// Σ_{i<n} term(i) in double, split into chunks whose boundaries depend only on n: the result is
/// bit-for-bit the same whatever the number of threads.
template <class Term>
double deterministic_sum(std::int64_t n, Term&& term) {
    if (n <= 0) return 0.0;
    constexpr std::int64_t max_chunks = 256;
    const std::int64_t chunk = std::max<std::int64_t>(4096, (n + max_chunks - 1) / max_chunks);
    const std::int64_t chunks = (n + chunk - 1) / chunk;
    double partial[max_chunks];
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (std::int64_t k = 0; k < chunks; ++k) {
        const std::int64_t end = std::min(n, (k + 1) * chunk);
        double acc = 0.0;
        for (std::int64_t i = k * chunk; i < end; ++i) acc += term(i);
        partial[k] = acc;
    }
    double total = 0.0;
    for (std::int64_t k = 0; k < chunks; ++k) total += partial[k];
    return total;
}

}  // namespace detail
}  // namespace smile::onednn
