#pragma once
/// @file
/// `session<B>`: the backend context plus the pool of transient tensors.
///
/// Every tensor, layer and model is used with one session, which must outlive them. A session
/// converts implicitly to the backend context, so `tensor<B>(session, shape)` works.

#include <smile/core/ops.hpp>
#include <smile/core/tensor_pool.hpp>
#include <cstddef>
#include <smile/distributed/communicator.hpp>

namespace smile {

template <Backend B>
class session;

/// Told by the models how far their backward has come: what data-parallel gradient buckets need
/// to sum gradients while backward still runs (distributed/gradient_buckets.hpp). The calls
/// come only inside a `backward_scope`.
template <Backend B>
class backward_listener {
public:
    virtual ~backward_listener() = default;
    /// Every gradient written so far in this backward is final (no layer is half-way through
    /// its backward: only leaf layers write gradients, each once per backward).
    virtual void gradients_written(session<B>& s) = 0;
    /// The outermost model backward is returning: every fresh gradient is final.
    virtual void backward_finished(session<B>& s) = 0;
};

template <Backend B>
class backward_scope;

/// `session::set_gradient_bucket_bytes`'s default: the size follows the communicator.
inline constexpr std::size_t automatic_gradient_buckets = ~std::size_t(0);

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

    /// How large a data-parallel gradient bucket may grow, in bytes; 0: no buckets, one
    /// all-reduce per tensor after backward. Read when an optimizer first averages gradients.
    /// Unless set, it follows the communicator: PyTorch DDP's 25 MiB for one with device
    /// collectives (NCCL: buckets summed on a side stream while backward runs), 0 for host
    /// buffers over MPI, where a rank's thread moves the data only inside MPI calls and the
    /// buckets measured slower than one blocking all-reduce per tensor (docs/distributed.md).
    [[nodiscard]] std::size_t gradient_bucket_bytes() const noexcept {
        if (bucket_bytes_ != automatic_gradient_buckets) return bucket_bytes_;
        return comm_->device_collectives() ? std::size_t(25) << 20 : 0;
    }
    void set_gradient_bucket_bytes(std::size_t bytes) noexcept { bucket_bytes_ = bytes; }

    /// Who hears of backward's progress (at most one; null: nobody). The listener must
    /// outlive its registration or clear it.
    void set_backward_listener(backward_listener<B>* l) noexcept { listener_ = l; }
    [[nodiscard]] backward_listener<B>* current_backward_listener() const noexcept { return listener_; }
    /// Called by the models between layers in backward: every gradient written so far is final.
    void gradients_written() {
        if (listener_ != nullptr && backward_depth_ > 0) listener_->gradients_written(*this);
    }

private:
    friend class backward_scope<B>;

    typename B::context context_;  // declared first: destroyed after every pooled tensor
    tensor_pool<B> scratch_;
    communicator* comm_ = &single_process::instance();
    bool sync_batch_norm_ = false;
    std::size_t bucket_bytes_ = automatic_gradient_buckets;
    backward_listener<B>* listener_ = nullptr;
    int backward_depth_ = 0;  // open backward_scopes
};

/// Marks a model's whole backward (a classifier's, BERT's): opened on entry, `close`d on a
/// normal return, where the outermost scope tells the listener that backward has finished.
/// Nested scopes (a model whose backward calls another's) only count. A scope left by an
/// exception closes silently.
template <Backend B>
class backward_scope {
public:
    explicit backward_scope(session<B>& s) noexcept : s_(s) { ++s_.backward_depth_; }
    backward_scope(const backward_scope&) = delete;
    backward_scope& operator=(const backward_scope&) = delete;
    ~backward_scope() {
        if (!closed_) --s_.backward_depth_;
    }
    void close() {
        closed_ = true;
        if (--s_.backward_depth_ == 0 && s_.listener_ != nullptr) s_.listener_->backward_finished(s_);
    }

private:
    session<B>& s_;
    bool closed_ = false;
};

}  // namespace smile
