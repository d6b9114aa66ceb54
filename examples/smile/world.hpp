#pragma once
// The ranks of this run of the program. Started by an MPI launcher (mpirun -np N smile ...) in a
// build with SMILE_WITH_MPI, the program is one rank of a data-parallel job; otherwise it is the
// only one. MPI is initialised on the first call (main makes it before anything else) and
// finalised at exit.
#include <cstdint>
#include <smile/distributed/communicator.hpp>
#include <string>
#include <vector>
#ifdef SMILE_WITH_MPI
#include <smile/distributed/mpi_communicator.hpp>
#endif
#ifdef SMILE_WITH_NCCL
#include <smile/backends/cuda/nccl_communicator.hpp>
#endif

namespace smile::cli {

inline communicator& world() {
#ifdef SMILE_WITH_MPI
    communicator& ranks = launched_ranks();
#ifdef SMILE_WITH_NCCL
    if (ranks.distributed()) {
        static cuda::nccl_communicator gpus(ranks);  // GPU buffers over NCCL, host values over MPI
        return gpus;
    }
#endif
    return ranks;
#else
    return single_process::instance();
#endif
}

/// Rank 0's `text` on every rank (a run folder named after the time, say).
inline std::string agree(const std::string& text) {
    communicator& c = world();
    if (!c.distributed()) return text;
    std::vector<std::uint8_t> bytes(text.begin(), text.end());
    broadcast_vector(c, bytes, 0);
    return {bytes.begin(), bytes.end()};
}

}  // namespace smile::cli
