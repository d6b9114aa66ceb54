#pragma once
/// @file
/// `activation_slots<B>`: where a container puts the intermediate results of one forward.
///
/// When the pass keeps activations they go into the container's own tensors (backward needs
/// them). In evaluation they go into tensors leased from the session's pool, of which only the
/// last two are held: each operation reads only the previous result, so a network of any depth
/// runs its evaluation forward in two transient buffers.

#include <smile/layers/layer.hpp>

namespace smile {

template <Backend B>
class activation_slots {
public:
    activation_slots(session<B>& s, mode m) : session_(s), keep_(keeps_activations(m)) {}

    /// The tensor for the next intermediate result of `shape`; `kept` is used when keeping.
    tensor<B>& operator()(tensor<B>& kept, const shape4& shape) {
        if (keep_) {
            kept.bind(session_.context());
            return kept;
        }
        older_ = std::move(newer_);  // releases the result from two requests ago
        newer_ = session_.borrow(shape);
        return *newer_;
    }

private:
    session<B>& session_;
    bool keep_;
    typename tensor_pool<B>::lease older_, newer_;
};

}  // namespace smile
