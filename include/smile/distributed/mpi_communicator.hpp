#pragma once
/// @file
/// `mpi_communicator`: the communicator over MPI (Open MPI from Debian), on host buffers: the
/// engine for CPU nodes with the oneDNN backend, and for the CUDA backend through host staging
/// until NCCL carries its device buffers (distributed/parallel.hpp stages).
///
/// `mpi_environment` initialises MPI once per process (MPI_THREAD_FUNNELED: only the main thread
/// calls MPI; the data loader's workers never do) and finalises it at exit. A program started
/// without an MPI launcher (no mpirun/srun environment) does not initialise MPI at all and runs
/// as a single process, so the same binary serves both.
///
/// Errors: MPI_COMM_WORLD returns error codes (MPI_ERRORS_RETURN) and every failed call throws
/// smile::error with MPI's text.
///
/// Non-blocking all-reduces (gradient buckets) go over a duplicate of MPI_COMM_WORLD, so that the
/// blocking collectives issued while they are in flight (synchronised batch norm's sums in
/// backward) are matched among themselves and never with a bucket. With Open MPI over shared
/// memory the data moves inside MPI calls on this rank's thread: `progress` (called by the
/// buckets as backward advances) and `wait`. `abort` prints the message and calls MPI_Abort, which makes the
/// launcher end every rank of the job.

#ifndef SMILE_WITH_MPI
#error "smile/distributed/mpi_communicator.hpp needs MPI: configure smile with -DSMILE_WITH_MPI=ON"
#endif

#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <smile/core/error.hpp>
#include <smile/distributed/communicator.hpp>
#include <string>
#include <vector>

namespace smile {

namespace detail {
inline void mpi_check(int code, const char* what) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    fail("MPI ", what, " failed: ", std::string(text, std::size_t(length)));
}
inline int mpi_count(std::size_t n, const char* what) {
    SMILE_CHECK(n <= std::size_t(std::numeric_limits<int>::max()), "MPI ", what, ": ", n,
                " elements exceed one message (split it)");
    return static_cast<int>(n);
}
}  // namespace detail

/// MPI's lifetime in a process: initialised by the first instance made under an MPI launcher,
/// finalised when it is destroyed (keep it in main()).
class mpi_environment {
public:
    mpi_environment() {
        if (!launched()) return;
        int provided = 0;
        detail::mpi_check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided),
                          "initialisation");
        initialised_ = true;
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    }
    ~mpi_environment() {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (initialised_ && !finalized) MPI_Finalize();
    }
    mpi_environment(const mpi_environment&) = delete;
    mpi_environment& operator=(const mpi_environment&) = delete;

    /// True when an MPI launcher started this process (Open MPI's mpirun, a PMI/PMIx launcher
    /// such as srun or MPICH's hydra).
    [[nodiscard]] static bool launched() noexcept {
        for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
            if (std::getenv(v) != nullptr) return true;
        return false;
    }
    [[nodiscard]] bool active() const noexcept { return initialised_; }

private:
    bool initialised_ = false;
};

/// The communicator of every rank of MPI_COMM_WORLD.
class mpi_communicator final : public communicator {
public:
    mpi_communicator() {
        int initialised = 0;
        MPI_Initialized(&initialised);
        SMILE_CHECK(initialised,
                    "mpi_communicator: MPI is not initialised (make an mpi_environment first)");
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
        detail::mpi_check(MPI_Comm_dup(MPI_COMM_WORLD, &buckets_), "communicator duplication");
        MPI_Comm_set_errhandler(buckets_, MPI_ERRORS_RETURN);
    }
    ~mpi_communicator() override {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized && buckets_ != MPI_COMM_NULL) MPI_Comm_free(&buckets_);
    }
    mpi_communicator(const mpi_communicator&) = delete;
    mpi_communicator& operator=(const mpi_communicator&) = delete;

    [[nodiscard]] int rank() const noexcept override { return rank_; }
    [[nodiscard]] int size() const noexcept override { return size_; }
    [[nodiscard]] std::string describe() const override {
        char version[MPI_MAX_LIBRARY_VERSION_STRING];
        int length = 0;
        MPI_Get_library_version(version, &length);
        std::string v(version, std::size_t(length));
        if (const auto comma = v.find(','); comma != std::string::npos) v.resize(comma);
        return "MPI (" + v + "), " + std::to_string(size_) + " ranks";
    }

    void allreduce_sum(std::span<float> values) override {
        sum_in_place(values.data(), values.size(), MPI_FLOAT);
    }
    void allreduce_sum(std::span<double> values) override {
        sum_in_place(values.data(), values.size(), MPI_DOUBLE);
    }
    void broadcast(std::span<float> values, int root) override {
        if (values.empty()) return;
        detail::mpi_check(MPI_Bcast(values.data(), detail::mpi_count(values.size(), "broadcast"),
                                    MPI_FLOAT, root, MPI_COMM_WORLD),
                          "broadcast");
    }
    void broadcast(std::span<std::uint8_t> bytes, int root) override {
        if (bytes.empty()) return;
        detail::mpi_check(MPI_Bcast(bytes.data(), detail::mpi_count(bytes.size(), "broadcast"),
                                    MPI_BYTE, root, MPI_COMM_WORLD),
                          "broadcast");
    }
    void allgather(std::span<const float> local, std::span<float> all) override {
        SMILE_CHECK(all.size() == local.size() * std::size_t(size_), "allgather: ", all.size(),
                    " values cannot hold ", size_, " ranks x ", local.size());
        const int n = detail::mpi_count(local.size(), "allgather");
        detail::mpi_check(
            MPI_Allgather(local.data(), n, MPI_FLOAT, all.data(), n, MPI_FLOAT, MPI_COMM_WORLD),
            "allgather");
    }
    void barrier() override { detail::mpi_check(MPI_Barrier(MPI_COMM_WORLD), "barrier"); }

    std::size_t start_allreduce_sum(std::span<float> values) override {
        if (pending_.empty()) finished_ = 0;  // a new round: tickets count from 0 again
        MPI_Request request = MPI_REQUEST_NULL;
        if (!values.empty())
            detail::mpi_check(MPI_Iallreduce(MPI_IN_PLACE, values.data(),
                                             detail::mpi_count(values.size(), "allreduce"), MPI_FLOAT,
                                             MPI_SUM, buckets_, &request),
                              "non-blocking allreduce");
        pending_.push_back(request);
        return pending_.size() - 1;
    }
    void progress() override {
        if (pending_.empty()) return;
        int done = 0;
        detail::mpi_check(MPI_Testall(int(pending_.size()), pending_.data(), &done, MPI_STATUSES_IGNORE),
                          "allreduce progress");
    }
    void wait(std::size_t ticket) override {
        SMILE_CHECK(ticket < pending_.size(), "mpi_communicator::wait: no collective with ticket ", ticket);
        detail::mpi_check(MPI_Wait(&pending_[ticket], MPI_STATUS_IGNORE), "non-blocking allreduce");
        if (++finished_ == pending_.size()) pending_.clear();  // the round is over
    }

    [[noreturn]] void abort(const std::string& message) override {
        std::fprintf(stderr, "rank %d of %d: %s\n", rank_, size_, message.c_str());
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 1);
        std::_Exit(1);  // MPI_Abort does not return; this is for a broken MPI
    }

private:
    void sum_in_place(void* values, std::size_t n, MPI_Datatype type) {
        if (n == 0) return;
        detail::mpi_check(MPI_Allreduce(MPI_IN_PLACE, values, detail::mpi_count(n, "allreduce"),
                                        type, MPI_SUM, MPI_COMM_WORLD),
                          "allreduce");
    }

    int rank_ = 0;
    int size_ = 1;
    MPI_Comm buckets_ = MPI_COMM_NULL;   // the non-blocking all-reduces' own communicator
    std::vector<MPI_Request> pending_;   // this round's, by ticket (MPI_REQUEST_NULL once done)
    std::size_t finished_ = 0;           // how many of them `wait` has seen
};

/// The ranks of this process's job over MPI: the launcher's (mpirun, srun) when one started the
/// process, MPI initialised on the first call and finalised at exit; otherwise one process.
inline communicator& launched_ranks() {
    static mpi_environment environment;
    if (environment.active()) {
        static mpi_communicator ranks;
        return ranks;
    }
    return single_process::instance();
}

}  // namespace smile
