#pragma once
/// @file
/// The context's cache of bfloat16 matrix-product primitives (matmul.hpp builds and runs them):
/// one entry per product shape, so a model's few shapes (BERT's projections, their two
/// backward products, attention's per-head products) are built once and reused every step.

#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>
#include <smile/core/plan_cache.hpp>

namespace smile::onednn::detail {

struct matmul_key {
    std::int64_t count, m, n, k;                  // count products C_i[m×n] = op(A_i)·op(B_i)
    std::int64_t a_rows, a_cols, b_rows, b_cols;  // the operands as stored (row-major)
    bool a_transposed, b_transposed;
    float alpha, beta;
    friend bool operator==(const matmul_key&, const matmul_key&) = default;
};

struct matmul_entry {
    dnnl::matmul::primitive_desc pd;
    dnnl::matmul product;
    dnnl::memory::desc a_stored, b_stored;  // float32, 1-D over the whole operand
    dnnl::memory::desc a_low, b_low;        // their bfloat16 copies, 1-D
    dnnl::memory::desc a_md, b_md, c_md;    // the product's views of A, B (bf16) and C (f32)
    dnnl::reorder a_convert, b_convert;
};

/// Enough for BERT-base's distinct shapes (about 20) with the evaluation batch's beside them.
using matmul_plans = plan_cache<matmul_key, matmul_entry, 48>;

}  // namespace smile::onednn::detail
