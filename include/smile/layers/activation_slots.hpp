#pragma once
/// @file
/// `activation_slots<B>`: where a container puts the intermediate results of one forward.
///
/// Every intermediate result lives in a tensor leased from the session's pool:
/// - when the pass keeps activations (training), the container holds the lease until its
///   backward no longer needs that result, then releases it, so the memory of the deepest
///   layers' activations serves the gradients of the shallower ones, as PyTorch's autograd
///   frees saved tensors during backward. Consequently one training forward allows exactly one
///   backward (PyTorch's default, retain_graph = False);
/// - in evaluation only the last two results are held: each operation reads only the previous
///   one, so a network of any depth runs its evaluation forward in two transient buffers.

#include <smile/layers/layer.hpp>

namespace smile {

template <Backend B>
using activation_lease = typename tensor_pool<B>::lease;

template <Backend B>
class activation_slots {
public:
    activation_slots(session<B>& s, mode m) : session_(s), keep_(keeps_activations(m)) {}

    /// The tensor for the next intermediate result of `shape`. When keeping, `kept` holds it
    /// (any result it held from an earlier forward is released first).
    tensor<B>& operator()(activation_lease<B>& kept, const shape4& shape) {
        if (keep_) {
            kept = {};
            kept = session_.borrow(shape);
            return *kept;
        }
        older_ = std::move(newer_);  // releases the result from two requests ago
        newer_ = session_.borrow(shape);
        return *newer_;
    }

private:
    session<B>& session_;
    bool keep_;
    activation_lease<B> older_, newer_;
};

}  // namespace smile
