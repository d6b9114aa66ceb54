#pragma once
/// @file
/// Principal component analysis of a few rows (the paper's Appendix C projects five 2048-d
/// feature vectors to the plane), through Eigen's SVD of the centred matrix in double:
///
///   X_c = X − mean(X) = U·Σ·Vᵀ,   coordinates = U_k·Σ_k,   explained variance_i = σ_i²/(n − 1)
///
/// Signs follow scikit-learn's `svd_flip`: in each column of U the entry of largest magnitude
/// is positive, so the same data always gives the same picture.

#include <Eigen/SVD>

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include <smile/core/error.hpp>

namespace smile::analysis {

struct pca_result {
    std::int64_t rows = 0, components = 0;
    std::vector<double> coordinates;               ///< rows × components, row-major
    std::vector<double> explained_variance;        ///< per component, σ²/(n − 1)
    std::vector<double> explained_variance_ratio;  ///< per component, share of the total variance
    [[nodiscard]] double at(std::int64_t row, std::int64_t component) const {
        return coordinates[std::size_t(row * components + component)];
    }
};

/// PCA of `n` rows of `dim` values onto `components` axes (at most min(n, dim)).
[[nodiscard]] inline pca_result pca(std::span<const float> rows, std::int64_t n, std::int64_t dim,
                                    std::int64_t components = 2) {
    SMILE_CHECK(n >= 2 && dim >= 1 && rows.size() == std::size_t(n * dim), "pca: ", rows.size(),
                " values are not ", n, " rows of ", dim, " (at least 2 rows)");
    SMILE_CHECK(components >= 1 && components <= std::min(n, dim), "pca: ", components,
                " components asked of ", n, " rows of ", dim, " values");
    using matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    matrix x = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(rows.data(), n, dim)
                   .cast<double>();
    x.rowwise() -= x.colwise().mean();
    const Eigen::BDCSVD<matrix> svd(x, Eigen::ComputeThinU);
    SMILE_CHECK(svd.info() == Eigen::Success, "pca: Eigen's SVD did not converge on a ", n, "x", dim, " matrix");
    matrix u = svd.matrixU();
    const auto& sigma = svd.singularValues();
    pca_result r;
    r.rows = n;
    r.components = components;
    double total = 0.0;
    for (Eigen::Index i = 0; i < sigma.size(); ++i) total += sigma(i) * sigma(i);
    for (std::int64_t c = 0; c < components; ++c) {
        Eigen::Index largest = 0;
        u.col(c).cwiseAbs().maxCoeff(&largest);
        if (u(largest, c) < 0) u.col(c) *= -1.0;
        r.explained_variance.push_back(sigma(c) * sigma(c) / double(n - 1));
        r.explained_variance_ratio.push_back(total > 0.0 ? sigma(c) * sigma(c) / total : 0.0);
    }
    r.coordinates.resize(std::size_t(n * components));
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t c = 0; c < components; ++c) r.coordinates[std::size_t(i * components + c)] = u(i, c) * sigma(c);
    return r;
}

}  // namespace smile::analysis
