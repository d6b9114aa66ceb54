#pragma once
/// @file
/// The caching device allocator: `cudaMalloc` only on a cache miss, never managed memory.
///
/// Freed blocks go back to a free list keyed by their rounded size and are handed out again
/// to the next request of that size, so once a training step has seen its shapes it allocates
/// nothing (the session's tensor pool already reuses tensors; this catches what remains: plan
/// buffers, workspaces, temporaries). A context has one stream and every operation is issued on
/// it, so a block freed on the host can be reused at once: the stream orders the new work after
/// the old. Sizes round up to 512 bytes below 1 MiB and to 2 MiB above, which bounds the waste
/// and makes the many same-shaped activations of a network share classes. On an out-of-memory
/// error the cache is released and the allocation retried once.

#include <cstddef>
#include <unordered_map>
#include <vector>

#include <smile/backends/cuda/status.hpp>

namespace smile::cuda {

class device_allocator {
public:
    explicit device_allocator(std::size_t& allocation_counter) : allocations_(allocation_counter) {}
    device_allocator(const device_allocator&) = delete;
    device_allocator& operator=(const device_allocator&) = delete;
    ~device_allocator() { release_cache(); }

    [[nodiscard]] static std::size_t rounded(std::size_t bytes) noexcept {
        constexpr std::size_t small = 512, large = std::size_t{2} << 20, threshold = std::size_t{1} << 20;
        if (bytes == 0) bytes = 1;
        const std::size_t unit = bytes < threshold ? small : large;
        return (bytes + unit - 1) / unit * unit;
    }

    /// At least `bytes` of device memory, 256-byte aligned (cudaMalloc's guarantee).
    [[nodiscard]] void* allocate(std::size_t bytes) {
        const std::size_t size = rounded(bytes);
        if (auto it = free_.find(size); it != free_.end() && !it->second.empty()) {
            void* p = it->second.back();
            it->second.pop_back();
            cached_bytes_ -= size;
            in_use_bytes_ += size;
            return p;
        }
        void* p = nullptr;
        cudaError_t status = cudaMalloc(&p, size);
        if (status == cudaErrorMemoryAllocation) {
            (void)cudaGetLastError();
            const std::size_t had = cached_bytes_;
            release_cache();
            status = cudaMalloc(&p, size);
            if (status == cudaErrorMemoryAllocation) {
                (void)cudaGetLastError();
                ::smile::detail::fail("cuda: out of device memory allocating ", size >> 20, " MiB (", in_use_bytes_ >> 20,
                                      " MiB in use by smile, ", had >> 20, " MiB of cached blocks released and retried)");
            }
        }
        detail::check(status, "cudaMalloc");
        ++allocations_;
        in_use_bytes_ += size;
        return p;
    }

    /// Returns a block of `bytes` (as requested from allocate) to the cache.
    void deallocate(void* p, std::size_t bytes) noexcept {
        if (p == nullptr) return;
        const std::size_t size = rounded(bytes);
        try {
            free_[size].push_back(p);
            cached_bytes_ += size;
            in_use_bytes_ -= size;
        } catch (...) {
            (void)cudaFree(p);  // the free list could not grow: give the block back to CUDA instead
            in_use_bytes_ -= size;
        }
    }

    /// Frees every cached block (waits for the device first, as cudaFree does).
    void release_cache() noexcept {
        for (auto& [size, blocks] : free_)
            for (void* p : blocks) (void)cudaFree(p);
        free_.clear();
        cached_bytes_ = 0;
    }

    [[nodiscard]] std::size_t cached_bytes() const noexcept { return cached_bytes_; }
    [[nodiscard]] std::size_t in_use_bytes() const noexcept { return in_use_bytes_; }

private:
    std::size_t& allocations_;
    std::unordered_map<std::size_t, std::vector<void*>> free_;
    std::size_t cached_bytes_ = 0, in_use_bytes_ = 0;
};

}  // namespace smile::cuda
