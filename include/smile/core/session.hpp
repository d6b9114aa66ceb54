#pragma once
/// @file
/// `session<B>`: the backend context plus the pool of transient tensors.
///
/// Every tensor, layer and model is used with one session, which must outlive them. A session
/// converts implicitly to the backend context, so `tensor<B>(session, shape)` works.

#include <smile/core/ops.hpp>
#include <smile/core/tensor_pool.hpp>

namespace smile {

template <Backend B>
class session {
public:
    session() = default;
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    [[nodiscard]] typename B::context& context() noexcept { return context_; }
    [[nodiscard]] tensor_pool<B>& scratch() noexcept { return scratch_; }

    /// Leases a transient tensor from the session's pool.
    [[nodiscard]] typename tensor_pool<B>::lease borrow(shape4 shape) {
        return scratch_.acquire(context_, shape);
    }

    operator typename B::context&() noexcept { return context_; }  // NOLINT: by design

    /// Waits until all issued work has completed.
    void synchronize() { ops<B>::synchronize(context_); }

private:
    typename B::context context_;  // declared first: destroyed after every pooled tensor
    tensor_pool<B> scratch_;
};

}  // namespace smile
