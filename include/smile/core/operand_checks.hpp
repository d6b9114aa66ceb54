#pragma once
/// @file
/// Argument checks shared by every backend's operations, so that a wrong call is reported with
/// the same message whichever backend runs it.

#include <cstdint>
#include <span>

#include <smile/core/backend.hpp>
#include <smile/core/error.hpp>
#include <smile/core/shape.hpp>

namespace smile::operand_checks {

inline void same(const char* op, const shape4& a, const shape4& b) {
    SMILE_CHECK(a == b, op, ": operand shapes differ: ", a, " and ", b);
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

/// A broadcast scale s of x: [n, c, 1, 1] or [n, 1, 1, 1]. Returns the number of x's elements
/// each element of s scales (h·w, or c·h·w): in NCHW order they are contiguous.
inline std::int64_t broadcast_scale(const char* op, const shape4& x, const shape4& s) {
    SMILE_CHECK(s.n == x.n && (s.c == x.c || s.c == 1) && s.h == 1 && s.w == 1, op, ": scale ", s,
                " broadcasts over neither the pixels nor the channels and pixels of ", x, " (expected [", x.n, ",", x.c,
                ",1,1] or [", x.n, ",1,1,1])");
    return s.c == x.c ? x.h * x.w : x.c * x.h * x.w;
}

/// The dimensions of row-major C[m×n] = alpha·op(A)·op(B) + beta·C, checked.
struct gemm_dims {
    std::int64_t m, n, k;
};
inline gemm_dims gemm(transpose ta, transpose tb, const shape4& a, const shape4& b, const shape4& c) {
    matrix("gemm", "A", a);
    matrix("gemm", "B", b);
    matrix("gemm", "C", c);
    const bool tra = ta == transpose::yes;
    const bool trb = tb == transpose::yes;
    const std::int64_t m = tra ? a.c : a.n;
    const std::int64_t k = tra ? a.n : a.c;
    const std::int64_t kb = trb ? b.c : b.n;
    const std::int64_t n = trb ? b.n : b.c;
    SMILE_CHECK(k == kb && c.n == m && c.c == n, "gemm: op(A) is ", m, "x", k, ", op(B) is ", kb, "x", n, ", C is ", c.n,
                "x", c.c);
    return {m, n, k};
}

/// A convolution of x by weights w [out, in/groups, kh, kw] with `d`.
inline void conv2d(const shape4& x, const shape4& w, const conv2d_desc& d) {
    SMILE_CHECK(d.groups >= 1 && x.c == w.c * d.groups && w.n % d.groups == 0, "conv2d: input ", x, " and weights ", w,
                " do not match with ", d.groups, " group(s)");
    SMILE_CHECK(d.stride_h > 0 && d.stride_w > 0 && d.pad_h >= 0 && d.pad_w >= 0 && d.pad_h_extra >= 0 &&
                    d.pad_w_extra >= 0,
                "conv2d: strides must be positive and paddings non-negative");
    SMILE_CHECK(x.h + 2 * d.pad_h + d.pad_h_extra >= w.h && x.w + 2 * d.pad_w + d.pad_w_extra >= w.w, "conv2d: kernel ", w.h, "x", w.w,
                " is larger than the padded input ", x);
}

/// A pooling of x with `d` (PyTorch's rule: padding at most half the window).
inline void pool2d(const shape4& x, const pool2d_desc& d) {
    SMILE_CHECK(d.window_h > 0 && d.window_w > 0 && d.stride_h > 0 && d.stride_w > 0 && d.pad_h >= 0 && d.pad_w >= 0,
                "pool2d: window and stride must be positive and padding non-negative");
    SMILE_CHECK(d.window_h <= x.h + 2 * d.pad_h && d.window_w <= x.w + 2 * d.pad_w, "pool2d: window ", d.window_h, "x",
                d.window_w, " is larger than the padded input ", x);
    SMILE_CHECK(d.pad_h * 2 <= d.window_h && d.pad_w * 2 <= d.window_w,
                "pool2d: padding must be at most half the window (as in PyTorch)");
}

/// The thin SVD's output shapes for A [m, n]: U [m, r], S [r], Vᵀ [r, n] with r = min(m, n).
inline std::int64_t svd(const shape4& a, const shape4& u, const shape4& s, const shape4& vt) {
    matrix("svd", "A", a);
    const std::int64_t r = std::min(a.n, a.c);
    check_shape("svd U", matrix_shape(a.n, r), u);
    check_shape("svd singular values", vector_shape(r), s);
    check_shape("svd Vt", matrix_shape(r, a.c), vt);
    return r;
}

}  // namespace smile::operand_checks
