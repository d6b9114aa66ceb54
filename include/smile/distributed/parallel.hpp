#pragma once
/// @file
/// Collectives on backend tensors, over the session's communicator: what data-parallel training
/// does with them (average gradients, broadcast a model's state, gather rows of a batch).
///
/// A backend whose tensors live in host memory (`B::host_memory`, the oneDNN backend) hands its
/// buffers to the communicator in place: every rank holds the same physical layout, and the
/// collectives are element-wise or whole rows (a row is one contiguous block in every layout,
/// core/backend.hpp). A backend with a stream of its own (`B::native_stream`, CUDA) hands its
/// device buffers to a communicator with device collectives (NCCL) on that stream; with any
/// other communicator it stages through `download`/`upload`. Generic code never reads backend
/// memory itself.

#include <concepts>
#include <smile/core/parameter.hpp>
#include <smile/core/session.hpp>
#include <smile/models/named_tensors.hpp>
#include <span>
#include <string>
#include <vector>

namespace smile {

/// True for a backend whose tensor memory the host may hand to MPI (size() floats per tensor).
template <class B>
inline constexpr bool host_addressable = [] {
    if constexpr (requires { B::host_memory; })
        return bool(B::host_memory);
    else
        return false;
}();

/// True for a backend that names its stream to a device communicator (`B::native_stream(ctx)`).
template <class B>
concept has_native_stream = requires(typename B::context& ctx) {
    { B::native_stream(ctx) } -> std::convertible_to<void*>;
};

namespace detail {
/// Runs `on_device(stream)` when the communicator has device collectives and the backend a
/// stream to issue them on; returns whether it did.
template <Backend B, class F>
bool on_device(session<B>& s, F&& collective) {
    if constexpr (has_native_stream<B>) {
        if (s.comm().device_collectives()) {
            collective(B::native_stream(s.context()));
            return true;
        }
    }
    (void)s;
    (void)collective;
    return false;
}

/// Runs `collective` on `t`'s values as a host span: in place for host memory, else staged.
template <Backend B, class F>
void on_host_values(session<B>& s, tensor<B>& t, F&& collective) {
    if (t.empty()) return;
    if constexpr (host_addressable<B>) {
        s.synchronize();  // the values are complete before another process reads them
        collective(std::span<float>(t.data(), t.size()));
    } else {
        std::vector<float> staged = t.to_host();
        collective(std::span<float>(staged));
        t.copy_from_host(staged);
    }
}
}  // namespace detail

/// Every rank's `t` becomes the element-wise sum over the ranks.
template <Backend B>
void allreduce_sum(session<B>& s, tensor<B>& t) {
    if (!s.comm().distributed() || t.empty()) return;
    if (detail::on_device(
            s, [&](void* stream) { s.comm().device_allreduce_sum(t.data(), t.size(), stream); }))
        return;
    detail::on_host_values(s, t, [&](std::span<float> v) { s.comm().allreduce_sum(v); });
}

/// Every rank's `t` becomes rank `root`'s (same shape on every rank).
template <Backend B>
void broadcast(session<B>& s, tensor<B>& t, int root = 0) {
    if (!s.comm().distributed() || t.empty()) return;
    if (detail::on_device(
            s, [&](void* stream) { s.comm().device_broadcast(t.data(), t.size(), root, stream); }))
        return;
    detail::on_host_values(s, t, [&](std::span<float> v) { s.comm().broadcast(v, root); });
}

/// Every fresh gradient among `params` becomes the mean over the ranks, one all-reduce per
/// tensor, and is marked averaged (the optimizers average in buckets, gradient_buckets.hpp; this
/// is the plain form, and their reference in the tests). Each rank's loss is the mean over its slice of the global batch, so the mean of the
/// ranks' gradients is the gradient of the global batch's mean loss (with synchronised batch
/// norm, or any term that is the same on every rank, exactly; see docs/distributed.md).
template <Backend B>
void average_gradients(session<B>& s, std::span<parameter<B>* const> params) {
    communicator& c = s.comm();
    if (!c.distributed()) return;
    const float inverse = 1.0f / float(c.size());
    for (parameter<B>* p : params) {
        // Skipped alike on every rank (the same code ran): no fresh gradient, or one already
        // averaged (by the buckets, or by an earlier call this step).
        if (!p->has_fresh_grad() || p->grad_averaged()) continue;
        allreduce_sum(s, p->grad);
        ops<B>::add(s.context(), inverse, p->grad.view(), 0.0f, p->grad.view(), p->grad.view());
        p->mark_grad_averaged();
    }
}

/// Every rank's parameters and buffers of `model` become rank `root`'s: the start of a
/// data-parallel run, so that ranks that loaded different files or drew differently still train
/// one network.
template <Backend B, class Model>
void broadcast_state(session<B>& s, Model& model, int root = 0) {
    if (!s.comm().distributed()) return;
    for (const auto& t : state_of<B>(model)) broadcast(s, *t.value, root);
}

/// The buffers (batch-norm running statistics) of `model` become rank `root`'s: without
/// synchronised batch norm each rank's statistics follow its own slice, and rank 0's are the
/// network's (PyTorch DDP's broadcast_buffers).
template <Backend B, class Model>
void broadcast_buffers(session<B>& s, Model& model, int root = 0) {
    if (!s.comm().distributed()) return;
    model.visit_buffers("", [&](const std::string&, tensor<B>& t) { broadcast(s, t, root); });
}

/// Runs `work` on rank 0 only, with `s` as one process there: the collectives inside it (an
/// optimizer's gradient average, synchronised batch norm) stay on that rank. For a preparation
/// that rank 0 computes while the others wait for its result (`broadcast_vector`); the
/// communicator is restored however `work` ends.
template <Backend B, class F>
void on_rank_zero_alone(session<B>& s, F&& work) {
    if (!s.comm().is_root()) return;
    struct restore {
        session<B>& s;
        communicator& saved;
        ~restore() { s.set_communicator(saved); }
    } guard{s, s.comm()};
    s.set_communicator(single_process::instance());
    work();
}

/// This rank's `rows` rows of a global-batch tensor (every rank's rows in rank order), copied
/// into `out`; `global` itself with one rank.
template <Backend B>
const tensor<B>& own_rows(session<B>& s, const tensor<B>& global, std::int64_t rows,
                          tensor<B>& out) {
    if (!s.comm().distributed()) return global;
    shape4 sh = global.shape();
    sh.n = rows;
    out.bind(s.context());
    out.resize(sh);
    const std::int64_t begin = rows * s.comm().rank();
    ops<B>::copy(s.context(), global.rows(begin, begin + rows), out.view());
    return out;
}

/// `global` becomes every rank's `local` rows in rank order: [size·n, c, h, w] from [n, c, h, w].
template <Backend B>
void allgather_rows(session<B>& s, const tensor<B>& local, tensor<B>& global) {
    communicator& c = s.comm();
    const shape4 l = local.shape();
    global.bind(s.context());
    global.resize({l.n * c.size(), l.c, l.h, l.w});
    if (!c.distributed()) {
        global.assign(local);
        return;
    }
    if (detail::on_device(s, [&](void* stream) {
            c.device_allgather(local.data(), global.data(), local.size(), stream);
        }))
        return;
    if constexpr (host_addressable<B>) {
        s.synchronize();
        c.allgather(std::span<const float>(local.data(), local.size()),
                    std::span<float>(global.data(), global.size()));
    } else {
        const std::vector<float> mine = local.to_host();
        std::vector<float> all(global.size());
        c.allgather(mine, all);
        global.copy_from_host(all);
    }
}

}  // namespace smile
