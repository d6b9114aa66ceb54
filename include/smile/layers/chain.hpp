#pragma once
/// @file
/// The forward/backward bookkeeping shared by `sequential` (a tuple of layers) and `stack`
/// (a vector of layers of one type).
///
/// Training keeps one activation per inner boundary (each child's backward needs its input),
/// leased from the session's pool and released as soon as backward has passed it
/// (activation_slots.hpp). Evaluation and backward hold only two transient tensors at a time.

#include <cstddef>
#include <vector>

#include <smile/layers/activation_slots.hpp>

namespace smile::detail {

/// `apply(i, f)` calls `f(child_i)`; the container supplies it.
template <Backend B, class Apply>
shape4 chain_output_shape(std::size_t count, shape4 shape, Apply&& apply) {
    for (std::size_t i = 0; i < count; ++i)
        apply(i, [&](auto& layer) { shape = layer.output_shape(shape); });
    return shape;
}

template <Backend B, class Apply>
void chain_forward(session<B>& s, const tensor<B>& x, tensor<B>& y, mode m,
                   std::vector<activation_lease<B>>& activations, std::size_t count, Apply&& apply) {
    SMILE_CHECK(count > 0, "sequential: forward through an empty container");
    activations.clear();
    if (keeps_activations(m)) {
        activations.resize(count - 1);
        const tensor<B>* in = &x;
        for (std::size_t i = 0; i < count; ++i) {
            if (i + 1 == count) {
                apply(i, [&](auto& layer) { layer.forward(s, *in, y, m); });
                break;
            }
            apply(i, [&](auto& layer) {
                activations[i] = s.borrow(layer.output_shape(in->shape()));
                layer.forward(s, *in, *activations[i], m);
            });
            in = &*activations[i];
        }
        return;
    }
    typename tensor_pool<B>::lease previous;
    const tensor<B>* in = &x;
    for (std::size_t i = 0; i < count; ++i) {
        if (i + 1 == count) {
            apply(i, [&](auto& layer) { layer.forward(s, *in, y, m); });
            break;
        }
        apply(i, [&](auto& layer) {
            auto out = s.borrow(layer.output_shape(in->shape()));
            layer.forward(s, *in, *out, m);
            previous = std::move(out);  // releases child i's input
        });
        in = &*previous;
    }
}

/// Child k's output (activation k) is released once child k's backward has run: both child k
/// (its output) and child k + 1 (its input) are then done with it.
template <Backend B, class Apply>
void chain_backward(session<B>& s, const tensor<B>& dy, tensor<B>* dx,
                    std::vector<activation_lease<B>>& activations, std::size_t count, Apply&& apply) {
    typename tensor_pool<B>::lease previous;
    const tensor<B>* g = &dy;
    for (std::size_t k = count; k-- > 0;) {
        if (k == 0) {
            apply(k, [&](auto& layer) { layer.backward(s, *g, dx); });
            s.gradients_written();
            break;
        }
        auto out = s.borrow(activations[k - 1]->shape());
        apply(k, [&](auto& layer) { layer.backward(s, *g, &*out); });
        s.gradients_written();  // child k's gradients are final: a data-parallel bucket may start
        if (k < activations.size()) activations[k] = {};
        previous = std::move(out);  // releases child k's output gradient
        g = &*previous;
    }
    activations.clear();
}

}  // namespace smile::detail
