#pragma once
/// @file
/// Primitive-descriptor construction for oneDNN 2.x (Debian 12 ships 2.6) and 3.x.
///
/// 2.x builds an operation descriptor and then a primitive descriptor from it; 3.x removed the
/// operation descriptors and takes the engine first. Everything else the backend uses (memory,
/// reorders, execution) is the same in both, so only these builders differ. Convolutions take
/// their padding before (top, left) and after (bottom, right) apart: TensorFlow's "same"
/// padding is asymmetric.

#include <optional>
#include <string_view>

#include <oneapi/dnnl/dnnl.hpp>

#include <smile/core/activation.hpp>

namespace smile::onednn::compat {

using dnnl::algorithm;
using dnnl::engine;
using dnnl::memory;
using dnnl::normalization_flags;
using dnnl::primitive_attr;
using dnnl::prop_kind;

inline dnnl::convolution_forward::primitive_desc conv_forward(
    const engine& eng, prop_kind prop, const memory::desc& src, const memory::desc& weights,
    const memory::desc* bias, const memory::desc& dst, const memory::dims& strides,
    const memory::dims& padding_l, const memory::dims& padding_r, const primitive_attr& attr) {
#if DNNL_VERSION_MAJOR >= 3
    if (bias != nullptr)
        return {eng, prop, algorithm::convolution_direct, src, weights, *bias, dst,
                strides, padding_l, padding_r, attr};
    return {eng, prop, algorithm::convolution_direct, src, weights, dst,
            strides, padding_l, padding_r, attr};
#else
    if (bias != nullptr) {
        dnnl::convolution_forward::desc d(prop, algorithm::convolution_direct, src, weights, *bias,
                                          dst, strides, padding_l, padding_r);
        return {d, attr, eng};
    }
    dnnl::convolution_forward::desc d(prop, algorithm::convolution_direct, src, weights, dst,
                                      strides, padding_l, padding_r);
    return {d, attr, eng};
#endif
}

inline dnnl::convolution_backward_data::primitive_desc conv_backward_data(
    const engine& eng, const memory::desc& diff_src, const memory::desc& weights,
    const memory::desc& diff_dst, const memory::dims& strides, const memory::dims& padding_l, const memory::dims& padding_r,
    const dnnl::convolution_forward::primitive_desc& hint, const primitive_attr& attr) {
#if DNNL_VERSION_MAJOR >= 3
    return {eng, algorithm::convolution_direct, diff_src, weights, diff_dst, strides,
            padding_l, padding_r, hint, attr};
#else
    dnnl::convolution_backward_data::desc d(algorithm::convolution_direct, diff_src, weights,
                                            diff_dst, strides, padding_l, padding_r);
    return {d, attr, eng, hint};
#endif
}

/// Backward weights, taking the first implementation in oneDNN's list (best first) that
/// `avoid(name)` does not reject, or the last one offered when it rejects them all (the caller
/// checks). In 2.x the list is walked through the operation descriptor, which the primitive
/// descriptor does not copy: `next_impl` works only while `d` lives, hence the choice here.
template <class Avoid>
dnnl::convolution_backward_weights::primitive_desc conv_backward_weights(
    const engine& eng, const memory::desc& src, const memory::desc& diff_weights,
    const memory::desc* diff_bias, const memory::desc& diff_dst, const memory::dims& strides,
    const memory::dims& padding_l, const memory::dims& padding_r, const dnnl::convolution_forward::primitive_desc& hint,
    const primitive_attr& attr, Avoid&& avoid) {
    using pd_t = dnnl::convolution_backward_weights::primitive_desc;
    auto pick = [&](pd_t pd) {
        while (avoid(std::string_view(pd.impl_info_str())) && pd.next_impl()) {
        }
        return pd;
    };
#if DNNL_VERSION_MAJOR >= 3
    if (diff_bias != nullptr)
        return pick(pd_t(eng, algorithm::convolution_direct, src, diff_weights, *diff_bias,
                         diff_dst, strides, padding_l, padding_r, hint, attr));
    return pick(pd_t(eng, algorithm::convolution_direct, src, diff_weights, diff_dst, strides,
                     padding_l, padding_r, hint, attr));
#else
    if (diff_bias != nullptr) {
        dnnl::convolution_backward_weights::desc d(algorithm::convolution_direct, src,
                                                   diff_weights, *diff_bias, diff_dst, strides,
                                                   padding_l, padding_r);
        return pick(pd_t(d, attr, eng, hint));
    }
    dnnl::convolution_backward_weights::desc d(algorithm::convolution_direct, src, diff_weights,
                                               diff_dst, strides, padding_l, padding_r);
    return pick(pd_t(d, attr, eng, hint));
#endif
}

/// Backward weights with oneDNN's first choice of implementation.
inline dnnl::convolution_backward_weights::primitive_desc conv_backward_weights(
    const engine& eng, const memory::desc& src, const memory::desc& diff_weights,
    const memory::desc* diff_bias, const memory::desc& diff_dst, const memory::dims& strides,
    const memory::dims& padding_l, const memory::dims& padding_r, const dnnl::convolution_forward::primitive_desc& hint,
    const primitive_attr& attr) {
    return conv_backward_weights(eng, src, diff_weights, diff_bias, diff_dst, strides, padding_l,
                                 padding_r, hint, attr, [](std::string_view) { return false; });
}

inline dnnl::pooling_forward::primitive_desc pool_forward(
    const engine& eng, prop_kind prop, algorithm alg, const memory::desc& src,
    const memory::desc& dst, const memory::dims& strides, const memory::dims& kernel,
    const memory::dims& padding, const primitive_attr& attr) {
#if DNNL_VERSION_MAJOR >= 3
    return {eng, prop, alg, src, dst, strides, kernel, memory::dims{0, 0}, padding, padding, attr};
#else
    dnnl::pooling_forward::desc d(prop, alg, src, dst, strides, kernel, padding, padding);
    return {d, attr, eng};
#endif
}

inline dnnl::pooling_backward::primitive_desc pool_backward(
    const engine& eng, algorithm alg, const memory::desc& diff_src, const memory::desc& diff_dst,
    const memory::dims& strides, const memory::dims& kernel, const memory::dims& padding,
    const dnnl::pooling_forward::primitive_desc& hint, const primitive_attr& attr) {
#if DNNL_VERSION_MAJOR >= 3
    return {eng, alg, diff_src, diff_dst, strides, kernel, memory::dims{0, 0}, padding, padding,
            hint, attr};
#else
    dnnl::pooling_backward::desc d(alg, diff_src, diff_dst, strides, kernel, padding, padding);
    return {d, attr, eng, hint};
#endif
}

inline dnnl::batch_normalization_forward::primitive_desc bn_forward(
    const engine& eng, prop_kind prop, const memory::desc& data, float epsilon,
    normalization_flags flags, const primitive_attr& attr) {
#if DNNL_VERSION_MAJOR >= 3
    return {eng, prop, data, data, epsilon, flags, attr};
#else
    dnnl::batch_normalization_forward::desc d(prop, data, epsilon, flags);
    return {d, attr, eng};
#endif
}

inline dnnl::batch_normalization_backward::primitive_desc bn_backward(
    const engine& eng, const memory::desc& data, float epsilon, normalization_flags flags,
    const dnnl::batch_normalization_forward::primitive_desc& hint, const primitive_attr& attr) {
#if DNNL_VERSION_MAJOR >= 3
    return {eng, prop_kind::backward, data, data, data, epsilon, flags, hint, attr};
#else
    dnnl::batch_normalization_backward::desc d(prop_kind::backward, data, data, epsilon, flags);
    return {d, attr, eng, hint};
#endif
}

/// The eltwise post-op computing activation `k` as core/activation.hpp defines it: algorithm,
/// alpha, beta. Not fused: HardSwish (its parameters changed meaning from 2.x to 3.x) and
/// HardSigmoid (none in 2.x).
struct eltwise_op {
    algorithm kind;
    float alpha, beta;
};
[[nodiscard]] inline std::optional<eltwise_op> eltwise_of(activation_kind k) {
    switch (k) {
    case activation_kind::relu: return eltwise_op{algorithm::eltwise_relu, 0.0f, 0.0f};
    case activation_kind::relu6: return eltwise_op{algorithm::eltwise_clip, 0.0f, 6.0f};
    case activation_kind::silu: return eltwise_op{algorithm::eltwise_swish, 1.0f, 0.0f};
    case activation_kind::sigmoid: return eltwise_op{algorithm::eltwise_logistic, 0.0f, 0.0f};
    case activation_kind::tanh: return eltwise_op{algorithm::eltwise_tanh, 0.0f, 0.0f};
    case activation_kind::gelu_erf: return eltwise_op{algorithm::eltwise_gelu_erf, 0.0f, 0.0f};
    case activation_kind::gelu_tanh: return eltwise_op{algorithm::eltwise_gelu_tanh, 0.0f, 0.0f};
    default: return std::nullopt;  // identity (nothing to do), hardswish, hardsigmoid
    }
}

/// Whether a convolution can apply activation `k` as a post-op (identity trivially).
[[nodiscard]] inline bool fusable(activation_kind k) { return k == activation_kind::identity || eltwise_of(k).has_value(); }

/// Post-ops "dst = act(conv [+ dst])" for a fusable `k` (3.x dropped the eltwise scale argument).
inline dnnl::post_ops sum_then_activation(bool sum, activation_kind k) {
    dnnl::post_ops po;
    if (sum) po.append_sum(1.0f);
    if (const auto e = eltwise_of(k)) {
#if DNNL_VERSION_MAJOR >= 3
        po.append_eltwise(e->kind, e->alpha, e->beta);
#else
        po.append_eltwise(1.0f, e->kind, e->alpha, e->beta);
#endif
    }
    return po;
}

/// Post-ops "dst = alpha·acc + beta·dst" of a matrix product (skipping the parts that are 1 and 0).
inline dnnl::post_ops scale_then_sum(float alpha, float beta) {
    dnnl::post_ops po;
    if (alpha != 1.0f) {
#if DNNL_VERSION_MAJOR >= 3
        po.append_eltwise(algorithm::eltwise_linear, alpha, 0.0f);
#else
        po.append_eltwise(1.0f, algorithm::eltwise_linear, alpha, 0.0f);
#endif
    }
    if (beta != 0.0f) po.append_sum(beta);
    return po;
}

inline dnnl::matmul::primitive_desc matmul(const engine& eng, const memory::desc& a,
                                           const memory::desc& b, const memory::desc& c,
                                           const primitive_attr& attr) {
#if DNNL_VERSION_MAJOR >= 3
    return {eng, a, b, c, attr};
#else
    dnnl::matmul::desc d(a, b, c);
    return {d, attr, eng};
#endif
}

inline dnnl::eltwise_forward::primitive_desc eltwise_forward(const engine& eng, algorithm alg,
                                                             const memory::desc& data, float alpha,
                                                             float beta, const primitive_attr& attr) {
#if DNNL_VERSION_MAJOR >= 3
    return {eng, prop_kind::forward_training, alg, data, data, alpha, beta, attr};
#else
    dnnl::eltwise_forward::desc d(prop_kind::forward_training, alg, data, alpha, beta);
    return {d, attr, eng};
#endif
}

/// The backward of an eltwise algorithm computed from its input (src), not its output.
inline dnnl::eltwise_backward::primitive_desc eltwise_backward(
    const engine& eng, algorithm alg, const memory::desc& data, float alpha, float beta,
    const dnnl::eltwise_forward::primitive_desc& hint, const primitive_attr& attr) {
#if DNNL_VERSION_MAJOR >= 3
    return {eng, alg, data, data, data, alpha, beta, hint, attr};
#else
    dnnl::eltwise_backward::desc d(alg, data, data, alpha, beta);
    return {d, attr, eng, hint};
#endif
}

/// Attributes every primitive of the backend uses: a user-managed scratchpad, so that oneDNN
/// never allocates (and faults in) temporary memory on its own during a step.
inline primitive_attr user_scratchpad() {
    primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return attr;
}

}  // namespace smile::onednn::compat
