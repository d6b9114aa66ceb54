#pragma once
/// @file
/// Thin singular value decomposition of a host row-major matrix with Eigen, computed in double
/// precision: A (m×n) = U·diag(S)·Vᵀ with r = min(m, n), U m×r, S descending, Vᵀ r×n.
/// Backends whose memory is host memory use it for `B::svd` (BSS, the PCA of the analysis).
///
/// A template, and so are the backends' `svd`, for compile time: Eigen's SVDs cost about ten
/// seconds of template instantiation, which a non-template inline function would pay in every
/// file that includes a backend; a template pays it only where it is called.

#include <Eigen/SVD>
#include <algorithm>
#include <cstdint>
#include <smile/core/error.hpp>

namespace smile::linalg {

enum class svd_algorithm { divide_and_conquer, jacobi };

/// Writes U (m×r), S (r) and Vᵀ (r×n), row-major, of the element type of A; r = min(m, n).
template <class Real>
void thin_svd(const Real* a, std::int64_t m, std::int64_t n, Real* u, Real* s, Real* vt,
              svd_algorithm algorithm = svd_algorithm::divide_and_conquer) {
    using matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Map<const Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> A(
        a, m, n);
    const matrix Ad = A.template cast<double>();
    const std::int64_t r = std::min(m, n);
    auto write = [&](const auto& svd) {
        SMILE_CHECK(svd.info() == Eigen::Success, "svd: Eigen's SVD did not converge on a ", m, "x", n, " matrix");
        const matrix U = svd.matrixU(), V = svd.matrixV();
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t j = 0; j < r; ++j) u[i * r + j] = static_cast<Real>(U(i, j));
        for (std::int64_t j = 0; j < r; ++j) s[j] = static_cast<Real>(svd.singularValues()(j));
        for (std::int64_t j = 0; j < r; ++j)
            for (std::int64_t k = 0; k < n; ++k) vt[j * n + k] = static_cast<Real>(V(k, j));
    };
    if (algorithm == svd_algorithm::jacobi)
        write(Eigen::JacobiSVD<matrix>(Ad, Eigen::ComputeThinU | Eigen::ComputeThinV));
    else
        write(Eigen::BDCSVD<matrix>(Ad, Eigen::ComputeThinU | Eigen::ComputeThinV));
}

}  // namespace smile::linalg
