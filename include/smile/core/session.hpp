#pragma once
/// @file
/// `session<B>`: the backend context plus the pool of transient tensors.
///
/// Every tensor, layer and model is used with one session, which must outlive them. A session
/// converts implicitly to the backend context, so `tensor<B>(session, shape)` works.

#include <smile/core/ops.hpp>
#include <smile/core/tensor_pool.hpp>
#include <smile/distributed/communicator.hpp>

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

    /// The ranks this session trains with (data-parallel training); one process by default.
    [[nodiscard]] communicator& comm() const noexcept { return *comm_; }
    /// Trains as one rank of `c`'s job from now on; `c` must outlive the session's use.
    void set_communicator(communicator& c) noexcept { comm_ = &c; }
    /// Batch norm in training mode normalises with the statistics of the global batch (every
    /// rank's slice) instead of the rank's own slice: PyTorch's SyncBatchNorm. Off by default,
    /// as in PyTorch DDP; it matters only with more than one rank.
    [[nodiscard]] bool sync_batch_norm() const noexcept {
        return sync_batch_norm_ && comm_->distributed();
    }
    void set_sync_batch_norm(bool on) noexcept { sync_batch_norm_ = on; }

private:
    typename B::context context_;  // declared first: destroyed after every pooled tensor
    tensor_pool<B> scratch_;
    communicator* comm_ = &single_process::instance();
    bool sync_batch_norm_ = false;
};

}  // namespace smile
