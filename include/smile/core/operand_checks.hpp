#pragma once
/// @file
/// Operand checks of the backend operations, called once, by `ops<B>` (core/ops.hpp), so that a
/// wrong call is reported with the same message whichever backend would have run it.

#include <cstdint>
#include <span>

#include <smile/core/backend.hpp>
#include <smile/core/error.hpp>
#include <smile/core/shape.hpp>

namespace smile::operand_checks {

inline void same(const char* op, const shape4& a, const shape4& b) {
    SMILE_CHECK(a == b, op, ": operand shapes differ: ", a, " and ", b);
}

/// `got` must be `want`; `what` names the operand ("output", "bias gradient").
inline void expect(const char* op, const char* what, const shape4& want, const shape4& got) {
    SMILE_CHECK(want == got, op, ": ", what, " has shape ", got, ", expected ", want);
}

/// A vector of one value per channel: [c, 1, 1, 1].
inline void channel_vector(const char* op, const char* what, std::int64_t c, const shape4& s) {
    expect(op, what, vector_shape(c), s);
}

/// The output must not alias the input (the operation reads other rows while writing).
inline void distinct(const char* op, const float* in, const float* out) {
    SMILE_CHECK(in != out, op, ": the output must not alias the input");
}

inline void matrix(const char* op, const char* which, const shape4& s) {
    SMILE_CHECK(s.is_matrix(), op, ": ", which, " must be a matrix [n, c, 1, 1], got ", s);
}

inline void permutation(const char* op, std::span<const std::int64_t> perm, std::int64_t n) {
    SMILE_CHECK(static_cast<std::int64_t>(perm.size()) == n, op, ": permutation has ", perm.size(), " entries for ", n,
                " rows");
    for (auto p : perm) SMILE_CHECK(0 <= p && p < n, op, ": permutation entry ", p, " is outside [0, ", n, ")");
}

inline void box_inside(const char* op, const spatial_box& box, const shape4& s) {
    SMILE_CHECK(box.top >= 0 && box.left >= 0 && box.height >= 0 && box.width >= 0 && box.top + box.height <= s.h &&
                    box.left + box.width <= s.w,
                op, ": box (", box.top, ",", box.left, ") ", box.height, "x", box.width, " is outside the ", s.h, "x",
                s.w, " grid");
}

/// The number of x's elements one element of a checked broadcast scale s meets (backends use this).
[[nodiscard]] constexpr std::int64_t broadcast_length(const shape4& x, const shape4& s) noexcept {
    return s.c == x.c ? x.h * x.w : x.c * x.h * x.w;
}

/// A broadcast scale s of x: [n, c, 1, 1] or [n, 1, 1, 1] (each element of s then scales
/// broadcast_length(x, s) elements of x, contiguous in NCHW order).
inline void broadcast_scale(const char* op, const shape4& x, const shape4& s) {
    SMILE_CHECK(s.n == x.n && (s.c == x.c || s.c == 1) && s.h == 1 && s.w == 1, op, ": scale ", s,
                " broadcasts over neither the pixels nor the channels and pixels of ", x, " (expected [", x.n, ",", x.c,
                ",1,1] or [", x.n, ",1,1,1])");
}

/// The dimensions of row-major C[m×n] = alpha·op(A)·op(B) + beta·C.
struct gemm_dims {
    std::int64_t m, n, k;
};
/// The dimensions of a gemm whose operands `ops<B>::gemm` has checked (backends use this).
[[nodiscard]] constexpr gemm_dims gemm_dimensions(transpose ta, const shape4& a, transpose tb,
                                                  const shape4& b) noexcept {
    const bool tra = ta == transpose::yes;
    const bool trb = tb == transpose::yes;
    return {tra ? a.c : a.n, trb ? b.n : b.c, tra ? a.n : a.c};
}
inline void gemm(transpose ta, transpose tb, const shape4& a, const shape4& b, const shape4& c) {
    matrix("gemm", "A", a);
    matrix("gemm", "B", b);
    matrix("gemm", "C", c);
    const auto [m, n, k] = gemm_dimensions(ta, a, tb, b);
    const std::int64_t kb = tb == transpose::yes ? b.c : b.n;
    SMILE_CHECK(k == kb && c.n == m && c.c == n, "gemm: op(A) is ", m, "x", k, ", op(B) is ", kb, "x", n, ", C is ", c.n,
                "x", c.c);
}

/// The dimensions of one product of a batched gemm: `count` blocks of rows in each operand.
[[nodiscard]] constexpr gemm_dims batched_gemm_dimensions(std::int64_t count, transpose ta,
                                                          const shape4& a, transpose tb,
                                                          const shape4& b) noexcept {
    return gemm_dimensions(ta, matrix_shape(a.n / count, a.c), tb, matrix_shape(b.n / count, b.c));
}
inline void batched_gemm(std::int64_t count, transpose ta, transpose tb, const shape4& a,
                         const shape4& b, const shape4& c) {
    matrix("batched_gemm", "A", a);
    matrix("batched_gemm", "B", b);
    matrix("batched_gemm", "C", c);
    SMILE_CHECK(count > 0 && a.n % count == 0 && b.n % count == 0 && c.n % count == 0,
                "batched_gemm: ", count, " products do not divide the rows of A ", a, ", B ", b,
                " and C ", c);
    const auto [m, n, k] = batched_gemm_dimensions(count, ta, a, tb, b);
    const std::int64_t kb = tb == transpose::yes ? b.c : b.n / count;
    SMILE_CHECK(k == kb && c.n / count == m && c.c == n, "batched_gemm: op(A_i) is ", m, "x", k,
                ", op(B_i) is ", kb, "x", n, ", C_i is ", c.n / count, "x", c.c);
}

/// Splitting the tokens [batch·length, heads·size] of x into per-head rows
/// [batch·heads·length, size] (`split` = true), or merging them back.
inline void head_layout(const char* op, const head_split& hs, const shape4& tokens,
                        const shape4& per_head) {
    matrix(op, "token matrix", tokens);
    SMILE_CHECK(
        hs.heads > 0 && hs.length > 0 && tokens.n % hs.length == 0 && tokens.c % hs.heads == 0, op,
        ": ", tokens.n, " token rows of width ", tokens.c, " do not split into sequences of ",
        hs.length, " tokens and ", hs.heads, " heads");
    expect(op, "per-head matrix", matrix_shape(tokens.n * hs.heads, tokens.c / hs.heads), per_head);
}

/// Host ids of a row gather from a table of `rows` rows.
inline void row_ids(const char* op, std::span<const std::int64_t> ids, std::int64_t rows) {
    for (std::size_t i = 0; i < ids.size(); ++i)
        SMILE_CHECK(0 <= ids[i] && ids[i] < rows, op, ": id ", ids[i], " at position ", i,
                    " is outside the table's ", rows, " rows");
}

/// Dropout of a matrix with a probability in [0, 1).
inline void dropout(const char* op, const dropout_desc& d, const shape4& x) {
    matrix(op, "input", x);
    SMILE_CHECK(d.probability >= 0.0f && d.probability < 1.0f, op,
                ": probability must be in [0, 1), got ", d.probability);
}

/// A convolution of x by weights w [out, in/groups, kh, kw] with `d`.
inline void conv2d(const char* op, const shape4& x, const shape4& w, const conv2d_desc& d) {
    SMILE_CHECK(d.groups >= 1 && x.c == w.c * d.groups && w.n % d.groups == 0, op, ": input ", x,
                " and weights ", w, " do not match with ", d.groups, " group(s)");
    SMILE_CHECK(d.stride_h > 0 && d.stride_w > 0 && d.pad_h >= 0 && d.pad_w >= 0 &&
                    d.pad_h_extra >= 0 && d.pad_w_extra >= 0,
                op, ": strides must be positive and paddings non-negative");
    SMILE_CHECK(
        x.h + 2 * d.pad_h + d.pad_h_extra >= w.h && x.w + 2 * d.pad_w + d.pad_w_extra >= w.w, op,
        ": kernel ", w.h, "x", w.w, " is larger than the padded input ", x);
}

/// A pooling of x with `d` (PyTorch's rule: padding at most half the window).
inline void pool2d(const char* op, const shape4& x, const pool2d_desc& d) {
    SMILE_CHECK(d.window_h > 0 && d.window_w > 0 && d.stride_h > 0 && d.stride_w > 0 &&
                    d.pad_h >= 0 && d.pad_w >= 0,
                op, ": window and stride must be positive and padding non-negative");
    SMILE_CHECK(d.window_h <= x.h + 2 * d.pad_h && d.window_w <= x.w + 2 * d.pad_w, op, ": window ",
                d.window_h, "x", d.window_w, " is larger than the padded input ", x);
    SMILE_CHECK(d.pad_h * 2 <= d.window_h && d.pad_w * 2 <= d.window_w, op,
                ": padding must be at most half the window (as in PyTorch)");
}

/// The thin SVD's output shapes for A [m, n]: U [m, r], S [r], Vᵀ [r, n] with r = min(m, n).
inline void svd(const shape4& a, const shape4& u, const shape4& s, const shape4& vt) {
    matrix("svd", "A", a);
    const std::int64_t r = std::min(a.n, a.c);
    check_shape("svd U", matrix_shape(a.n, r), u);
    check_shape("svd singular values", vector_shape(r), s);
    check_shape("svd Vt", matrix_shape(r, a.c), vt);
}

}  // namespace smile::operand_checks
