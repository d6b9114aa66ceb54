#pragma once
/// @file
/// Matrix products at compute precision bf16: `count` products C_i = α·op(A_i)·op(B_i) + β·C_i
/// (gemm is count = 1) on oneDNN's matmul primitive, with A and B converted to bfloat16 into the
/// context's low-precision buffers and C accumulated and written in float32. The operands keep
/// their stored layouts: a transposed operand is described to the primitive by its strides, so
/// the conversion is one contiguous pass over each operand.

#include <smile/backends/onednn/compat.hpp>
#include <smile/backends/onednn/layout.hpp>
#include <smile/core/operand_checks.hpp>

namespace smile::onednn::detail {

/// The view of `count` equal row blocks of a row-major [rows × cols] operand as op(X_i), of
/// logical size [outer × inner]: strides (block, cols, 1), or (block, 1, cols) when transposed.
inline dnnl::memory::desc operand_view(std::int64_t count, std::int64_t rows, std::int64_t cols,
                                       bool transposed, std::int64_t outer, std::int64_t inner,
                                       dt type) {
    const std::int64_t block = (rows / count) * cols;
    const dnnl::memory::dims strides =
        transposed ? dnnl::memory::dims{block, 1, cols} : dnnl::memory::dims{block, cols, 1};
    return dnnl::memory::desc({count, outer, inner}, type, strides);
}

inline matmul_entry build_matmul(context& ctx, const matmul_key& k) {
    matmul_entry e{};
    e.a_stored = dnnl::memory::desc({k.a_rows * k.a_cols}, dt::f32, tag::a);
    e.b_stored = dnnl::memory::desc({k.b_rows * k.b_cols}, dt::f32, tag::a);
    e.a_low = dnnl::memory::desc({k.a_rows * k.a_cols}, dt::bf16, tag::a);
    e.b_low = dnnl::memory::desc({k.b_rows * k.b_cols}, dt::bf16, tag::a);
    e.a_md = operand_view(k.count, k.a_rows, k.a_cols, k.a_transposed, k.m, k.k, dt::bf16);
    e.b_md = operand_view(k.count, k.b_rows, k.b_cols, k.b_transposed, k.k, k.n, dt::bf16);
    e.c_md = dnnl::memory::desc({k.count, k.m, k.n}, dt::f32, tag::abc);
    auto attr = compat::user_scratchpad();
    attr.set_post_ops(compat::scale_then_sum(k.alpha, k.beta));
    e.pd = compat::matmul(ctx.engine, e.a_md, e.b_md, e.c_md, attr);
    e.product = dnnl::matmul(e.pd);
    e.a_convert =
        dnnl::reorder(dnnl::reorder::primitive_desc(ctx.engine, e.a_stored, ctx.engine, e.a_low));
    e.b_convert =
        dnnl::reorder(dnnl::reorder::primitive_desc(ctx.engine, e.b_stored, ctx.engine, e.b_low));
    ctx.low_precision_buffer(0, e.a_low.get_size());
    ctx.low_precision_buffer(1, e.b_low.get_size());
    ctx.scratchpad(e.pd.scratchpad_desc().get_size());
    return e;
}

/// C_i = α·op(A_i)·op(B_i) + β·C_i in bfloat16 with float32 accumulation; shapes as gemm's and
/// batched_gemm's (already checked by ops<B>), C row-major [count·m × n].
inline void low_precision_matmul(context& ctx, std::int64_t count, transpose ta, transpose tb,
                                 float alpha, cview a, cview b, float beta, view c) {
    const bool tra = ta == transpose::yes, trb = tb == transpose::yes;
    const auto [m, n, k] = operand_checks::batched_gemm_dimensions(count, ta, a.shape, tb, b.shape);
    const matmul_key key{count,     m,         n,   k,   a.shape.n, a.shape.c,
                         b.shape.n, b.shape.c, tra, trb, alpha,     beta};
    auto& e = ctx.matmuls.find_or_create(key, [&] { return build_matmul(ctx, key); });
    dnnl::memory a_low(e.a_low, ctx.engine, ctx.low_precision_buffer(0, e.a_low.get_size()));
    dnnl::memory b_low(e.b_low, ctx.engine, ctx.low_precision_buffer(1, e.b_low.get_size()));
    auto a_stored = wrap(ctx, e.a_stored, a.data), b_stored = wrap(ctx, e.b_stored, b.data);
    e.a_convert.execute(ctx.stream, a_stored, a_low);
    e.b_convert.execute(ctx.stream, b_stored, b_low);
    ctx.low_precision_writes += 2;
    const auto& sp = e.pd.scratchpad_desc();
    e.product.execute(
        ctx.stream,
        {{DNNL_ARG_SRC, dnnl::memory(e.a_md, ctx.engine, a_low.get_data_handle())},
         {DNNL_ARG_WEIGHTS, dnnl::memory(e.b_md, ctx.engine, b_low.get_data_handle())},
         {DNNL_ARG_DST, wrap(ctx, e.c_md, c.data)},
         {DNNL_ARG_SCRATCHPAD, dnnl::memory(sp, ctx.engine, ctx.scratchpad(sp.get_size()))}});
}

}  // namespace smile::onednn::detail
