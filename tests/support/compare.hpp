#pragma once
/// @file
/// Numeric comparison helpers for tests.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace smile::test {

/// ‖actual − expected‖₂ / ‖expected‖₂ (absolute when expected is all zero).
inline double relative_error(std::span<const float> actual, std::span<const float> expected) {
    if (actual.size() != expected.size()) return INFINITY;
    double diff = 0.0, norm = 0.0;
    for (std::size_t i = 0; i < actual.size(); ++i) {
        const double d = double(actual[i]) - double(expected[i]);
        diff += d * d;
        norm += double(expected[i]) * double(expected[i]);
    }
    return norm > 0.0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

inline double relative_error(std::span<const double> actual, std::span<const double> expected) {
    if (actual.size() != expected.size()) return INFINITY;
    double diff = 0.0, norm = 0.0;
    for (std::size_t i = 0; i < actual.size(); ++i) {
        diff += (actual[i] - expected[i]) * (actual[i] - expected[i]);
        norm += expected[i] * expected[i];
    }
    return norm > 0.0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

/// Largest |actual − expected|.
inline double max_abs_diff(std::span<const float> actual, std::span<const float> expected) {
    double m = actual.size() == expected.size() ? 0.0 : INFINITY;
    for (std::size_t i = 0; i < std::min(actual.size(), expected.size()); ++i)
        m = std::max(m, std::abs(double(actual[i]) - double(expected[i])));
    return m;
}

/// True when every element satisfies |a − e| ≤ atol + rtol·|e|.
inline bool all_close(std::span<const float> actual, std::span<const float> expected, double rtol,
                      double atol) {
    if (actual.size() != expected.size()) return false;
    for (std::size_t i = 0; i < actual.size(); ++i)
        if (std::abs(double(actual[i]) - double(expected[i])) > atol + rtol * std::abs(double(expected[i])))
            return false;
    return true;
}

}  // namespace smile::test
