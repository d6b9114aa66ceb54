#pragma once
/// @file
/// Physical layout of the oneDNN backend: every tensor is stored channels-last.
///
/// Activations are NHWC and convolution weights OHWI (the same "channels innermost" order).
/// Measured on this project's 2-core AVX-512 machine (docs/performance.md), oneDNN 2.6 runs the
/// ResNet-50 convolutions within 7% of its private blocked layouts in NHWC and 44% slower in
/// NCHW, and batch norm 4× slower in NCHW. NHWC keeps any channel count unpadded, makes a
/// [n, c, 1, 1] tensor an ordinary row-major matrix, and needs no reorders between layers.

#include <cstdint>
#include <cstring>

#include <oneapi/dnnl/dnnl.hpp>

#include <smile/backends/onednn/context.hpp>
#include <smile/core/backend.hpp>

namespace smile::onednn::detail {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

/// Descriptor of an activation tensor (NHWC), float32 as stored or `type` for a converted copy.
inline memory::desc activation_md(const shape4& s, dt type = dt::f32) {
    return memory::desc({s.n, s.c, s.h, s.w}, type, tag::nhwc);
}

/// The data type operands of convolutions and matrix products take at compute precision `p`.
inline dt operand_type(precision p) { return p == precision::bf16 ? dt::bf16 : dt::f32; }

/// Descriptor of convolution weights [out, in/groups, kh, kw] as stored (OHWI), grouped when
/// `groups` > 1.
inline memory::desc weights_md(const shape4& w, std::int64_t groups) {
    if (groups == 1) return memory::desc({w.n, w.c, w.h, w.w}, dt::f32, tag::ohwi);
    return memory::desc({groups, w.n / groups, w.c, w.h, w.w}, dt::f32, tag::gohwi);
}

/// The same dims with layout left to the primitive (`any`), of type `type`.
inline memory::desc any_weights_md(const shape4& w, std::int64_t groups, dt type = dt::f32) {
    if (groups == 1) return memory::desc({w.n, w.c, w.h, w.w}, type, tag::any);
    return memory::desc({groups, w.n / groups, w.c, w.h, w.w}, type, tag::any);
}

inline memory::desc vector_md(std::int64_t n) { return memory::desc({n}, dt::f32, tag::x); }

/// Wraps backend memory without copying.
inline memory wrap(context& ctx, const memory::desc& md, const float* p) {
    return memory(md, ctx.engine, const_cast<float*>(p));  // oneDNN takes void*; inputs stay const
}

/// Host NCHW → backend NHWC.
inline void nchw_to_nhwc(const float* src, const shape4& s, float* dst) {
    const std::int64_t hw = s.h * s.w;
    if (hw == 1 || s.c == 1) {
        std::memcpy(dst, src, s.size() * sizeof(float));
        return;
    }
    parallel_for(s.n, [&](std::int64_t n) {
        const float* in = src + n * s.c * hw;
        float* out = dst + n * s.c * hw;
        for (std::int64_t c = 0; c < s.c; ++c)
            for (std::int64_t p = 0; p < hw; ++p) out[p * s.c + c] = in[c * hw + p];
    });
}

/// Backend NHWC → host NCHW.
inline void nhwc_to_nchw(const float* src, const shape4& s, float* dst) {
    const std::int64_t hw = s.h * s.w;
    if (hw == 1 || s.c == 1) {
        std::memcpy(dst, src, s.size() * sizeof(float));
        return;
    }
    parallel_for(s.n, [&](std::int64_t n) {
        const float* in = src + n * s.c * hw;
        float* out = dst + n * s.c * hw;
        for (std::int64_t p = 0; p < hw; ++p)
            for (std::int64_t c = 0; c < s.c; ++c) out[c * hw + p] = in[p * s.c + c];
    });
}

}  // namespace smile::onednn::detail

namespace smile::onednn {
struct backend;
using view = tensor_view<backend>;
using cview = const_tensor_view<backend>;
}  // namespace smile::onednn
