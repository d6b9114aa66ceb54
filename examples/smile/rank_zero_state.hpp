#pragma once
// The start of a data-parallel run: every rank takes rank 0's state (student, teacher, anchors,
// heads, optimizer), so that ranks that loaded the same files, or copies of them on other nodes,
// train one network.
#include <smile/distributed/parallel.hpp>
#include <smile/io/checkpoint.hpp>
#include <string>

namespace smile::cli {

/// Broadcasts from rank 0 every tensor of `method`'s checkpoint (nothing with one process).
template <Backend B, class Method>
void start_from_rank_zero(session<B>& s, Method& method) {
    if (!s.comm().distributed()) return;
    io::checkpoint_content<B> state;
    method.add_state(state);
    state.visit_tensors([&](const std::string&, tensor<B>& v) { broadcast(s, v, 0); });
}

}  // namespace smile::cli
