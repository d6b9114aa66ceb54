#pragma once
/// @file
/// `tensor_pool<B>`: transient tensors (gradient ping-pong buffers, evaluation-mode
/// intermediates, loss temporaries) leased for the duration of one call.
///
/// Leases return their tensor to the pool on destruction. The pool never frees, and it serves
/// a request from the smallest free tensor whose capacity fits, so a training loop that makes
/// the same requests every step stops allocating after its first steps.

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

#include <smile/core/tensor.hpp>

namespace smile {

template <Backend B>
class tensor_pool {
    struct slot {
        tensor<B> value;
        bool busy = false;
    };

public:
    /// A tensor borrowed from the pool until the lease is destroyed.
    class lease {
    public:
        lease() = default;
        explicit lease(slot* s) noexcept : slot_(s) {}
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        lease(lease&& other) noexcept : slot_(std::exchange(other.slot_, nullptr)) {}
        lease& operator=(lease&& other) noexcept {
            if (this != &other) {
                give_back();
                slot_ = std::exchange(other.slot_, nullptr);
            }
            return *this;
        }
        ~lease() { give_back(); }

        [[nodiscard]] tensor<B>& operator*() const noexcept { return slot_->value; }
        [[nodiscard]] tensor<B>* operator->() const noexcept { return &slot_->value; }
        [[nodiscard]] tensor<B>& get() const noexcept { return slot_->value; }
        /// The leased tensor, or null when the lease holds nothing.
        [[nodiscard]] tensor<B>* get_if() const noexcept { return slot_ ? &slot_->value : nullptr; }
        explicit operator bool() const noexcept { return slot_ != nullptr; }

    private:
        void give_back() noexcept {
            if (slot_ != nullptr) slot_->busy = false;
            slot_ = nullptr;
        }
        slot* slot_ = nullptr;
    };

    tensor_pool() = default;
    tensor_pool(const tensor_pool&) = delete;
    tensor_pool& operator=(const tensor_pool&) = delete;

    /// Leases a tensor of `shape` (contents unspecified).
    [[nodiscard]] lease acquire(typename B::context& ctx, shape4 shape) {
        check_valid_shape("tensor_pool::acquire", shape);
        const std::size_t needed = shape.size();
        slot* best_fit = nullptr;  // smallest free slot that fits
        slot* largest = nullptr;   // largest free slot, grown when nothing fits
        for (auto& s : slots_) {
            if (s->busy) continue;
            const std::size_t cap = s->value.capacity();
            if (cap >= needed && (best_fit == nullptr || cap < best_fit->value.capacity()))
                best_fit = s.get();
            if (largest == nullptr || cap > largest->value.capacity()) largest = s.get();
        }
        slot* chosen = best_fit != nullptr ? best_fit : largest;
        if (chosen == nullptr) {
            slots_.push_back(std::make_unique<slot>());
            chosen = slots_.back().get();
        }
        chosen->value.bind(ctx);
        chosen->value.resize(shape);
        chosen->busy = true;
        peak_in_use_ = std::max(peak_in_use_, bytes_in_use());
        return lease(chosen);
    }

    /// Total capacity held, in bytes.
    [[nodiscard]] std::size_t bytes() const noexcept {
        std::size_t total = 0;
        for (const auto& s : slots_) total += s->value.capacity() * sizeof(float);
        return total;
    }
    [[nodiscard]] std::size_t tensors() const noexcept { return slots_.size(); }
    /// Bytes of the tensors currently leased (their shapes, not their capacities).
    [[nodiscard]] std::size_t bytes_in_use() const noexcept {
        std::size_t total = 0;
        for (const auto& s : slots_)
            if (s->busy) total += s->value.size() * sizeof(float);
        return total;
    }
    /// The most bytes ever leased at once (shapes, not capacities): what a perfect packing of
    /// the leases would need, against `bytes()`, what the pool holds.
    [[nodiscard]] std::size_t peak_bytes_in_use() const noexcept { return peak_in_use_; }
    /// Capacity of each pooled tensor, in elements (diagnostics).
    [[nodiscard]] std::vector<std::size_t> capacities() const {
        std::vector<std::size_t> out;
        for (const auto& s : slots_) out.push_back(s->value.capacity());
        return out;
    }

private:
    std::vector<std::unique_ptr<slot>> slots_;
    std::size_t peak_in_use_ = 0;
};

}  // namespace smile
