#pragma once
/// @file
/// `communicator`: the collective operations data-parallel training needs (rank, size,
/// all-reduce, broadcast, all-gather, barrier, abort), on host buffers.
///
/// One process is one rank; every rank runs the same program on its slice of each global batch.
/// Generic code (the optimizer's gradient seam, synchronised batch norm, the methods that mix
/// across the batch, the training loop's reports) talks only to this interface, so a
/// single-process build needs no MPI at all: `single_process` is the identity. The MPI
/// implementation is distributed/mpi_communicator.hpp (configure with SMILE_WITH_MPI=ON).
///
/// Contract: every rank calls the same collectives in the same order with the same sizes (the
/// training loop guarantees it: every control-flow decision that precedes a collective depends
/// only on values that are identical on every rank). A collective that fails throws
/// smile::error; `abort` ends every rank of the job (the way out of an error on one rank while
/// the others wait in a collective).

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace smile {

class communicator {
public:
    virtual ~communicator() = default;

    [[nodiscard]] virtual int rank() const noexcept = 0;
    [[nodiscard]] virtual int size() const noexcept = 0;
    /// "single process", "MPI (Open MPI 4.1.4)", ...: logged with a run.
    [[nodiscard]] virtual std::string describe() const = 0;

    /// In place: every rank's values become the element-wise sum over all ranks.
    virtual void allreduce_sum(std::span<float> values) = 0;
    virtual void allreduce_sum(std::span<double> values) = 0;
    /// In place: every rank's values become rank `root`'s.
    virtual void broadcast(std::span<float> values, int root) = 0;
    virtual void broadcast(std::span<std::uint8_t> bytes, int root) = 0;
    /// `all` (size() × local.size() values) becomes every rank's `local`, in rank order.
    virtual void allgather(std::span<const float> local, std::span<float> all) = 0;
    virtual void barrier() = 0;

    /// Non-blocking all-reduce, for gradient buckets launched while backward still runs
    /// (distributed/gradient_buckets.hpp): starts summing `values` in place and returns a ticket
    /// for `wait`. `values` must stay untouched until `wait` returns. Every ticket of a round
    /// is waited for once (in any order) before the next round starts; a communicator without
    /// an engine of its own for this sums at once (the default) and `wait` has nothing to do. Collectives started
    /// this way do not interleave with the blocking ones above, which may run meanwhile.
    virtual std::size_t start_allreduce_sum(std::span<float> values) {
        allreduce_sum(values);
        return 0;
    }
    /// Lets started collectives advance (an engine that moves data only inside its own calls).
    virtual void progress() {}
    /// Returns once the collective of `ticket` has completed.
    virtual void wait(std::size_t /*ticket*/) {}

    /// Ends every rank of the job with `message` (printed by this rank) and exit status 1.
    [[noreturn]] virtual void abort(const std::string& message) = 0;

    /// Optional: collectives on device buffers, issued on a backend stream (an opaque handle:
    /// a cudaStream_t for NCCL). A communicator that has them (nccl_communicator) says so here,
    /// and distributed/parallel.hpp hands it a GPU backend's tensors without staging them.
    [[nodiscard]] virtual bool device_collectives() const noexcept { return false; }
    virtual void device_allreduce_sum(float* /*data*/, std::size_t /*n*/, void* /*stream*/) {
        no_device();
    }
    virtual void device_broadcast(float* /*data*/, std::size_t /*n*/, int /*root*/,
                                  void* /*stream*/) {
        no_device();
    }
    virtual void device_allgather(const float* /*local*/, float* /*all*/, std::size_t /*n*/,
                                  void* /*stream*/) {
        no_device();
    }
    /// The device form of `start_allreduce_sum`: the sum starts once the work already issued on
    /// `stream` has produced `data`, and may run beside the work issued there afterwards;
    /// `wait_device` makes the work issued on `stream` after it wait for the sum. By default the
    /// sum is issued on `stream` itself (in order, no overlap).
    virtual std::size_t start_device_allreduce_sum(float* data, std::size_t n, void* stream) {
        device_allreduce_sum(data, n, stream);
        return 0;
    }
    virtual void wait_device(std::size_t /*ticket*/, void* /*stream*/) {}

    [[nodiscard]] bool is_root() const noexcept { return rank() == 0; }
    [[nodiscard]] bool distributed() const noexcept { return size() > 1; }

private:
    [[noreturn]] void no_device() const {
        throw std::logic_error(describe() +
                               " has no device collectives (device_collectives() is false)");
    }
};

/// `values` becomes rank `root`'s on every rank, its length included: a result one rank computed
/// or read (the others may pass an empty vector).
template <class T>
    requires std::same_as<T, float> || std::same_as<T, std::uint8_t>
void broadcast_vector(communicator& c, std::vector<T>& values, int root = 0) {
    if (!c.distributed()) return;
    std::uint64_t n = values.size();
    c.broadcast(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(&n), sizeof n), root);
    values.resize(std::size_t(n));
    c.broadcast(std::span<T>(values), root);
}

/// The one-process communicator: every collective is the identity.
class single_process final : public communicator {
public:
    [[nodiscard]] int rank() const noexcept override { return 0; }
    [[nodiscard]] int size() const noexcept override { return 1; }
    [[nodiscard]] std::string describe() const override { return "single process"; }
    void allreduce_sum(std::span<float>) override {}
    void allreduce_sum(std::span<double>) override {}
    void broadcast(std::span<float>, int) override {}
    void broadcast(std::span<std::uint8_t>, int) override {}
    void allgather(std::span<const float> local, std::span<float> all) override {
        std::copy(local.begin(), local.end(), all.begin());
    }
    void barrier() override {}
    [[noreturn]] void abort(const std::string& message) override {
        std::fprintf(stderr, "%s\n", message.c_str());
        std::fflush(stderr);
        std::_Exit(1);
    }

    /// The process-wide instance a session uses until it is given another.
    static single_process& instance() {
        static single_process one;
        return one;
    }
};

}  // namespace smile
