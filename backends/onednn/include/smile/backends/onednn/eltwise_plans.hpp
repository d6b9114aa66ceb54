#pragma once
/// @file
/// The context's cache of oneDNN eltwise primitives, which compute the activations built on
/// exp, tanh or erf (SiLU, sigmoid, tanh, the two GELUs) over a whole tensor. Their float loops
/// cannot vectorise (GCC keeps expf, tanhf and erff as scalar library calls unless fast-math
/// is on), and SiLU's forward and backward took 25 % of an EfficientNet-B4 training step's
/// samples that way (2026-12-08); oneDNN's JIT kernels evaluate them with vector polynomials.
/// One entry per (activation, element count): a network has a few dozen tensor sizes.

#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>
#include <smile/core/activation.hpp>
#include <smile/core/plan_cache.hpp>

namespace smile::onednn::detail {

struct eltwise_key {
    activation_kind kind;
    std::int64_t elements;  // the tensor as one flat vector: an element-wise map ignores layout
    friend bool operator==(const eltwise_key&, const eltwise_key&) = default;
};

struct eltwise_entry {
    dnnl::memory::desc data;  // float32, 1-D over the whole tensor
    dnnl::eltwise_forward::primitive_desc fwd_pd;
    dnnl::eltwise_forward fwd;
    bool has_backward = false;  // built on the first backward call
    dnnl::eltwise_backward::primitive_desc bwd_pd;
    dnnl::eltwise_backward bwd;
};

/// EfficientNet-B4 has about 40 activation sizes, doubled by an evaluation batch of another
/// size; BERT a handful. A miss only rebuilds a descriptor (oneDNN caches the kernel itself).
using eltwise_plans = plan_cache<eltwise_key, eltwise_entry, 128>;

}  // namespace smile::onednn::detail
