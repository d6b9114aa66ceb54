#pragma once
/// @file
/// `nccl_communicator`: data-parallel collectives for the CUDA backend. Device buffers go through
/// NCCL on the backend's stream (all-reduce, broadcast, all-gather of gradients, parameters and
/// gathered activations); host values (reported losses, evaluation counts, synchronised batch
/// norm's per-channel sums) through the MPI communicator that also bootstrapped NCCL: rank 0 draws
/// the unique id, MPI broadcasts it, every rank joins with ncclCommInitRank.
///
/// Each rank uses one GPU: SMILE_CUDA_DEVICE when set, else the rank's index on its node (the
/// launcher's local rank) modulo the node's devices (cuda/device.hpp).
///
/// Gradient buckets (`start_device_allreduce_sum`) run on a second stream of the communicator's
/// own: an event recorded on the compute stream makes that stream wait until the bucket's
/// gradients exist, NCCL sums them there while backward goes on issuing kernels on the compute
/// stream, and `wait_device` makes the compute stream wait for the sum's event (PyTorch DDP's
/// arrangement). Events are made once and reused, one pair per bucket of a round.
///
/// Compiled in CI; not yet run on a GPU (docs/distributed.md).

#ifndef SMILE_WITH_NCCL
#error \
    "smile/backends/cuda/nccl_communicator.hpp needs NCCL: configure the CUDA backend with -DSMILE_WITH_MPI=ON"
#endif

#include <nccl.h>

#include <cstdint>
#include <cstdlib>
#include <smile/backends/cuda/device.hpp>
#include <smile/backends/cuda/status.hpp>
#include <smile/core/error.hpp>
#include <smile/distributed/communicator.hpp>
#include <span>
#include <string>
#include <vector>

namespace smile::cuda {

namespace detail {
inline void nccl_check(ncclResult_t code, const char* what) {
    if (code == ncclSuccess) return;
    smile::detail::fail("NCCL ", what, " failed: ", ncclGetErrorString(code));
}
}  // namespace detail

class nccl_communicator final : public communicator {
public:
    /// Joins every rank of `host` (which must outlive this) in one NCCL communicator on the
    /// rank's device.
    explicit nccl_communicator(communicator& host) : host_(host) {
        (void)select_device();  // the rank's GPU is current before NCCL binds to it
        ncclUniqueId id{};
        if (host_.is_root()) detail::nccl_check(ncclGetUniqueId(&id), "unique id");
        host_.broadcast(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(&id), sizeof id),
                        0);
        detail::nccl_check(ncclCommInitRank(&comm_, host_.size(), id, host_.rank()),
                           "initialisation");
    }
    ~nccl_communicator() override {
        if (comm_ != nullptr) (void)ncclCommDestroy(comm_);
        for (auto& e : events_) {
            (void)cudaEventDestroy(e.ready);
            (void)cudaEventDestroy(e.summed);
        }
        if (side_ != nullptr) (void)cudaStreamDestroy(side_);
    }
    nccl_communicator(const nccl_communicator&) = delete;
    nccl_communicator& operator=(const nccl_communicator&) = delete;

    [[nodiscard]] int rank() const noexcept override { return host_.rank(); }
    [[nodiscard]] int size() const noexcept override { return host_.size(); }
    [[nodiscard]] std::string describe() const override {
        int version = 0;
        (void)ncclGetVersion(&version);
        return "NCCL " + std::to_string(version / 10000) + "." +
               std::to_string(version / 100 % 100) + "." + std::to_string(version % 100) + " on " +
               host_.describe();
    }

    void allreduce_sum(std::span<float> v) override { host_.allreduce_sum(v); }
    void allreduce_sum(std::span<double> v) override { host_.allreduce_sum(v); }
    void broadcast(std::span<float> v, int root) override { host_.broadcast(v, root); }
    void broadcast(std::span<std::uint8_t> v, int root) override { host_.broadcast(v, root); }
    void allgather(std::span<const float> local, std::span<float> all) override {
        host_.allgather(local, all);
    }
    void barrier() override { host_.barrier(); }
    [[noreturn]] void abort(const std::string& message) override {
        if (comm_ != nullptr)
            (void)ncclCommAbort(comm_);  // unblocks this rank's queued collectives
        comm_ = nullptr;
        host_.abort(message);
        std::_Exit(1);  // host_.abort does not return
    }

    [[nodiscard]] bool device_collectives() const noexcept override { return true; }
    void device_allreduce_sum(float* data, std::size_t n, void* stream) override {
        detail::nccl_check(ncclAllReduce(data, data, n, ncclFloat, ncclSum, comm_,
                                         static_cast<cudaStream_t>(stream)),
                           "all-reduce");
    }
    std::size_t start_device_allreduce_sum(float* data, std::size_t n, void* stream) override {
        if (side_ == nullptr)
            detail::check(cudaStreamCreateWithFlags(&side_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        if (round_ == events_.size()) {
            bucket_events e{};
            detail::check(cudaEventCreateWithFlags(&e.ready, cudaEventDisableTiming), "cudaEventCreateWithFlags");
            detail::check(cudaEventCreateWithFlags(&e.summed, cudaEventDisableTiming), "cudaEventCreateWithFlags");
            events_.push_back(e);
        }
        const bucket_events& e = events_[round_];
        detail::check(cudaEventRecord(e.ready, static_cast<cudaStream_t>(stream)), "cudaEventRecord");
        detail::check(cudaStreamWaitEvent(side_, e.ready, 0), "cudaStreamWaitEvent");
        detail::nccl_check(ncclAllReduce(data, data, n, ncclFloat, ncclSum, comm_, side_), "bucket all-reduce");
        detail::check(cudaEventRecord(e.summed, side_), "cudaEventRecord");
        return round_++;
    }
    void wait_device(std::size_t ticket, void* stream) override {
        SMILE_CHECK(ticket < round_, "nccl_communicator::wait_device: no collective with ticket ", ticket);
        detail::check(cudaStreamWaitEvent(static_cast<cudaStream_t>(stream), events_[ticket].summed, 0),
                      "cudaStreamWaitEvent");
        if (++waited_ == round_) round_ = waited_ = 0;  // the round is over: its events are free again
    }
    void device_broadcast(float* data, std::size_t n, int root, void* stream) override {
        detail::nccl_check(
            ncclBroadcast(data, data, n, ncclFloat, root, comm_, static_cast<cudaStream_t>(stream)),
            "broadcast");
    }
    void device_allgather(const float* local, float* all, std::size_t n, void* stream) override {
        detail::nccl_check(
            ncclAllGather(local, all, n, ncclFloat, comm_, static_cast<cudaStream_t>(stream)),
            "all-gather");
    }

private:
    struct bucket_events {
        cudaEvent_t ready;   // the bucket's gradients exist (compute stream)
        cudaEvent_t summed;  // its all-reduce has finished (side stream)
    };

    communicator& host_;
    ncclComm_t comm_ = nullptr;
    cudaStream_t side_ = nullptr;  // where buckets are summed beside backward
    std::vector<bucket_events> events_;
    std::size_t round_ = 0;   // buckets started in this round
    std::size_t waited_ = 0;  // of which waited for
};

}  // namespace smile::cuda
