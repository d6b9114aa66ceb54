#pragma once
/// @file
/// Mixing a global batch whose rows are spread over data-parallel ranks: a plan permutes the
/// global batch, so a row's partner may live on another rank. Used where a method mixes what the
/// network computed (a teacher's outputs, BERT's pooled features) rather than its inputs.

#include <smile/distributed/parallel.hpp>
#include <smile/mixup/mixup.hpp>

namespace smile {

/// This rank's rows of Mix_plan(global batch), in `own`. `local` holds this rank's rows of a
/// global-batch tensor (every rank the same number, in rank order, as the loaders give them);
/// they are all-gathered into `gathered`, mixed into `mixed`, and this rank's rows of that kept.
/// With one rank, `own` is the mix of `local` itself and nothing moves.
template <Backend B>
const tensor<B>& mix_over_ranks(session<B>& s, const mixup_plan& plan, const tensor<B>& local,
                                tensor<B>& gathered, tensor<B>& mixed, tensor<B>& own) {
    if (!s.comm().distributed()) {
        mix(s, plan, local, own);
        return own;
    }
    allgather_rows(s, local, gathered);
    mix(s, plan, gathered, mixed);
    return own_rows(s, mixed, local.shape().n, own);
}

}  // namespace smile
