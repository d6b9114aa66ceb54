#pragma once
/// @file
/// `tensor<B>`: an owning, move-only float32 tensor in backend memory.
///
/// Copies are explicit (`clone`), so a multi-megabyte device copy never happens by accident.
/// Storage grows but never shrinks on `resize`, so a tensor that is reused every step
/// allocates only the first time it sees its largest shape (performance.md §3: on these
/// machines a fresh page costs ~12 µs). Host access is explicit (`to_host`, `copy_from_host`).
///
/// A tensor may instead live in storage it does not own (`aliasing`): a gradient placed in a
/// data-parallel bucket (distributed/gradient_buckets.hpp), so that the bucket is all-reduced as
/// one message without copying gradients in and out. Such a tensor never frees that storage; a
/// `resize` beyond it moves the tensor to storage of its own.
///
/// Every way to write the contents goes through a non-const member (`view`, `data`, `rows`,
/// `reshaped`, `resize`, `fill`, `copy_from_host`, `assign`), and each of them gives the tensor
/// a new `generation`. Code that caches something derived from a tensor (folded inference
/// weights) compares generations to know it is still valid; reading through a const reference
/// keeps the generation, so readers that want caches to survive read through `std::as_const`.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <smile/core/backend.hpp>
#include <smile/core/error.hpp>
#include <smile/core/ops.hpp>
#include <smile/core/shape.hpp>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace smile {

namespace detail {
/// Source of tensor generations: unique across all tensors, so that a generation identifies
/// one state of one tensor's contents even across moves and reallocations.
inline std::atomic<std::uint64_t> tensor_generations{0};
inline std::uint64_t next_tensor_generation() noexcept {
    return tensor_generations.fetch_add(1, std::memory_order_relaxed) + 1;
}
}  // namespace detail

template <Backend B>
class tensor {
public:
    using context_type = typename B::context;

    tensor() = default;

    /// Uninitialised tensor of `shape`; every dimension must be positive.
    tensor(context_type& ctx, shape4 shape) : ctx_(&ctx) { resize(shape); }

    static tensor zeros(context_type& ctx, shape4 shape) { return filled(ctx, shape, 0.0f); }

    static tensor filled(context_type& ctx, shape4 shape, float value) {
        tensor t(ctx, shape);
        t.fill(value);
        return t;
    }

    /// Tensor holding `values`, given in logical NCHW order.
    static tensor from_host(context_type& ctx, shape4 shape, std::span<const float> values) {
        tensor t(ctx, shape);
        t.copy_from_host(values);
        return t;
    }

    tensor(const tensor&) = delete;
    tensor& operator=(const tensor&) = delete;
    tensor(tensor&& other) noexcept { swap(other); }
    tensor& operator=(tensor&& other) noexcept {
        if (this != &other) {
            release();
            swap(other);
        }
        return *this;
    }
    ~tensor() { release(); }

    /// A tensor of `shape` over `storage` (backend memory holding at least shape.size() floats,
    /// owned by someone else and outliving the tensor). Contents are `storage`'s.
    [[nodiscard]] static tensor aliasing(context_type& ctx, float* storage, shape4 shape) {
        check_valid_shape("tensor::aliasing", shape);
        SMILE_CHECK(storage != nullptr, "tensor::aliasing: no storage");
        tensor t;
        t.ctx_ = &ctx;
        t.data_ = storage;
        t.shape_ = shape;
        t.capacity_ = shape.size();
        t.owns_ = false;
        t.touch();
        return t;
    }
    /// False for a tensor made by `aliasing` that still lives in the other owner's storage.
    [[nodiscard]] bool owns_storage() const noexcept { return owns_; }

    /// Deep copy in backend memory.
    [[nodiscard]] tensor clone() const {
        SMILE_CHECK(ctx_ != nullptr, "tensor::clone: the tensor is empty");
        tensor copy(*ctx_, shape_);
        ops<B>::copy(*ctx_, view(), copy.view());
        return copy;
    }

    /// Binds an empty tensor to a context (a tensor that is only ever `resize`d later).
    void bind(context_type& ctx) noexcept {
        if (ctx_ == nullptr) ctx_ = &ctx;
    }

    /// Gives the tensor `shape`. Contents are unspecified afterwards unless the size is unchanged.
    void resize(shape4 shape) {
        SMILE_CHECK(ctx_ != nullptr, "tensor::resize: the tensor is not bound to a context");
        check_valid_shape("tensor::resize", shape);
        const std::size_t needed = shape.size();
        if (needed > capacity_) {
            release_storage();
            data_ = ops<B>::allocate(*ctx_, needed);
            capacity_ = needed;
        }
        shape_ = shape;
        touch();
    }

    /// Resizes to `shape` and copies `source`'s contents (no reallocation when it fits).
    void assign(const tensor& source) {
        SMILE_CHECK(!source.empty(), "tensor::assign: the source tensor is empty");
        bind(*source.ctx_);
        resize(source.shape_);
        ops<B>::copy(*ctx_, source.view(), view());
    }

    void fill(float value) {
        SMILE_CHECK(!empty(), "tensor::fill: the tensor is empty");
        ops<B>::fill(*ctx_, view(), value);
    }

    /// Uploads `values` (logical NCHW order); their count must equal `size()`.
    void copy_from_host(std::span<const float> values) {
        SMILE_CHECK(values.size() == size(), "tensor::copy_from_host: got ", values.size(),
                    " values for shape ", shape_, " (", size(), " elements)");
        ops<B>::upload(*ctx_, values.data(), view());
    }

    /// Downloads the contents in logical NCHW order (waits for pending work).
    [[nodiscard]] std::vector<float> to_host() const {
        std::vector<float> values(size());
        if (!empty()) ops<B>::download(*ctx_, view(), values.data());
        return values;
    }

    [[nodiscard]] const shape4& shape() const noexcept { return shape_; }
    [[nodiscard]] std::size_t size() const noexcept { return data_ ? shape_.size() : 0; }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] bool empty() const noexcept { return data_ == nullptr; }
    [[nodiscard]] context_type& context() const {
        SMILE_CHECK(ctx_ != nullptr, "tensor: the tensor is not bound to a context");
        return *ctx_;
    }

    /// Backend memory. Never dereference on the host: on a GPU backend it is device memory.
    [[nodiscard]] float* data() noexcept {
        touch();
        return data_;
    }
    [[nodiscard]] const float* data() const noexcept { return data_; }

    [[nodiscard]] tensor_view<B> view() noexcept {
        touch();
        return {data_, shape_};
    }
    [[nodiscard]] const_tensor_view<B> view() const noexcept { return {data_, shape_}; }

    /// View of samples [begin, end) along n; rows are contiguous in every backend's layout.
    [[nodiscard]] tensor_view<B> rows(std::int64_t begin, std::int64_t end) {
        check_rows(begin, end);
        touch();
        return {data_ + static_cast<std::size_t>(begin) * shape_.row_size(),
                {end - begin, shape_.c, shape_.h, shape_.w}};
    }
    [[nodiscard]] const_tensor_view<B> rows(std::int64_t begin, std::int64_t end) const {
        check_rows(begin, end);
        return {data_ + static_cast<std::size_t>(begin) * shape_.row_size(),
                {end - begin, shape_.c, shape_.h, shape_.w}};
    }

    /// The same memory seen as `shape`, which must have the same number of elements and be
    /// layout-neutral (a matrix or vector shape, or this tensor's own shape).
    [[nodiscard]] const_tensor_view<B> reshaped(shape4 shape) const {
        check_reshape(shape);
        return {data_, shape};
    }
    [[nodiscard]] tensor_view<B> reshaped(shape4 shape) {
        check_reshape(shape);
        touch();
        return {data_, shape};
    }

    /// Changes whenever the contents may have been written (see the file comment).
    [[nodiscard]] std::uint64_t generation() const noexcept { return generation_; }

    void swap(tensor& other) noexcept {
        std::swap(ctx_, other.ctx_);
        std::swap(data_, other.data_);
        std::swap(shape_, other.shape_);
        std::swap(capacity_, other.capacity_);
        std::swap(generation_, other.generation_);
        std::swap(owns_, other.owns_);
    }

private:
    void touch() noexcept { generation_ = detail::next_tensor_generation(); }
    void check_rows(std::int64_t begin, std::int64_t end) const {
        SMILE_CHECK(!empty() && 0 <= begin && begin < end && end <= shape_.n,
                    "tensor::rows: range [", begin, ", ", end, ") is outside shape ", shape_);
    }
    void check_reshape(const shape4& shape) const {
        SMILE_CHECK(!empty() && shape.size() == shape_.size(), "tensor::reshaped: cannot view ",
                    shape_, " as ", shape);
        SMILE_CHECK(shape == shape_ || (shape.is_matrix() && shape_.is_matrix()),
                    "tensor::reshaped: ", shape_, " → ", shape,
                    " depends on the backend's memory layout; use flatten instead");
    }
    void release_storage() noexcept {
        if (data_ != nullptr && owns_) ops<B>::deallocate(*ctx_, data_, capacity_);
        data_ = nullptr;
        capacity_ = 0;
        owns_ = true;
    }
    void release() noexcept {
        release_storage();
        shape_ = {};
    }

    context_type* ctx_ = nullptr;
    float* data_ = nullptr;
    shape4 shape_{};
    std::size_t capacity_ = 0;
    bool owns_ = true;  // false while aliasing another owner's storage
    std::uint64_t generation_ = 0;
};

}  // namespace smile
