#pragma once
/// @file
/// The oneDNN backend's context, its memory allocation and its parallel loops.
///
/// Allocation: memory is 64-byte aligned; blocks of 2 MiB or more are 2 MiB aligned and
/// advised for transparent huge pages, because on the VMs this library targets a fresh 4 KiB
/// page costs ~12 µs to fault in and a huge page ~50× less per byte (performance.md §3). The
/// context counts allocations so tests can prove that steady-state steps allocate nothing.

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <smile/core/error.hpp>

namespace smile::onednn {

/// Engine, stream, the scratchpad shared by every primitive of this context, and counters.
struct context {
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream{engine};

    context() = default;
    context(const context&) = delete;
    context& operator=(const context&) = delete;
    ~context() {
        std::free(scratchpad_);
        std::free(weights_buffer_);
    }

    /// A scratchpad of at least `bytes`. Primitives run one at a time on the stream, so one
    /// buffer serves them all; it grows only when a new plan needs more.
    void* scratchpad(std::size_t bytes) {
        if (bytes > scratchpad_bytes_) {
            std::free(scratchpad_);
            scratchpad_ = nullptr;
            scratchpad_bytes_ = 0;
            scratchpad_ = allocate_bytes(bytes);
            scratchpad_bytes_ = bytes;
        }
        return scratchpad_;
    }

    /// A buffer of at least `bytes` for weights reordered into a primitive's layout. Only one
    /// convolution call runs at a time and its reordered weights live only during that call, so
    /// all convolutions of the context share it (instead of three copies per layer).
    void* weights_buffer(std::size_t bytes) {
        if (bytes > weights_buffer_bytes_) {
            std::free(weights_buffer_);
            weights_buffer_ = nullptr;
            weights_buffer_bytes_ = 0;
            weights_buffer_ = allocate_bytes(bytes);
            weights_buffer_bytes_ = bytes;
        }
        return weights_buffer_;
    }

    /// Aligned allocation (see the file comment); counted.
    void* allocate_bytes(std::size_t bytes) {
        constexpr std::size_t huge = std::size_t{2} << 20;
        const std::size_t alignment = bytes >= huge ? huge : 64;
        const std::size_t rounded = (bytes + alignment - 1) / alignment * alignment;
        void* p = nullptr;
        if (posix_memalign(&p, alignment, rounded) != 0 || p == nullptr) {
            detail::fail("onednn: out of memory allocating ", bytes, " bytes");
        }
        if (alignment == huge) madvise(p, rounded, MADV_HUGEPAGE);
        ++allocations;
        bytes_allocated += rounded;
        return p;
    }

    [[nodiscard]] std::size_t scratchpad_bytes() const noexcept { return scratchpad_bytes_; }

    std::size_t allocations = 0;      ///< number of allocations made through this context
    std::size_t bytes_allocated = 0;  ///< their total size

private:
    void* scratchpad_ = nullptr;
    std::size_t scratchpad_bytes_ = 0;
    void* weights_buffer_ = nullptr;
    std::size_t weights_buffer_bytes_ = 0;
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
