#pragma once
/// @file
/// `shape4`: the logical shape of every tensor, in PyTorch's NCHW order.
///
/// The order is logical only: how a backend lays the elements out in memory is its own business
/// (the oneDNN backend stores NHWC). Matrices and vectors are shapes with h = w = 1, which is the
/// same in every layout, so linear layers and heads need no separate rank logic.

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>

#include <smile/core/error.hpp>

namespace smile {

/// Logical shape [n, c, h, w] of a tensor.
struct shape4 {
    std::int64_t n = 0;
    std::int64_t c = 0;
    std::int64_t h = 0;
    std::int64_t w = 0;

    /// Number of elements.
    [[nodiscard]] constexpr std::size_t size() const noexcept {
        return static_cast<std::size_t>(n * c * h * w);
    }
    /// Elements in one sample (one "row" along n).
    [[nodiscard]] constexpr std::size_t row_size() const noexcept {
        return static_cast<std::size_t>(c * h * w);
    }
    /// True for [n, c, 1, 1]: a row-major n×c matrix in every backend's layout.
    [[nodiscard]] constexpr bool is_matrix() const noexcept { return h == 1 && w == 1; }
    /// True when no dimension is zero or negative.
    [[nodiscard]] constexpr bool is_valid() const noexcept {
        return n > 0 && c > 0 && h > 0 && w > 0;
    }
    friend constexpr bool operator==(const shape4&, const shape4&) = default;

    [[nodiscard]] std::string str() const {
        std::ostringstream out;
        out << '[' << n << ',' << c << ',' << h << ',' << w << ']';
        return out.str();
    }
};

inline std::ostream& operator<<(std::ostream& out, const shape4& s) { return out << s.str(); }

/// A matrix shape [rows, cols, 1, 1].
[[nodiscard]] constexpr shape4 matrix_shape(std::int64_t rows, std::int64_t cols) noexcept {
    return {rows, cols, 1, 1};
}

/// A vector shape [size, 1, 1, 1], used for per-channel parameters such as BN's γ and β.
[[nodiscard]] constexpr shape4 vector_shape(std::int64_t size) noexcept { return {size, 1, 1, 1}; }

/// Throws unless `actual == expected`; the message names `what` and both shapes.
inline void check_shape(std::string_view what, const shape4& expected, const shape4& actual) {
    SMILE_CHECK(expected == actual, what, ": expected shape ", expected, " but got ", actual);
}

/// Throws unless every dimension of `s` is positive; the message names `what`.
inline void check_valid_shape(std::string_view what, const shape4& s) {
    SMILE_CHECK(s.is_valid(), what, ": every dimension must be positive, got shape ", s);
}

}  // namespace smile
