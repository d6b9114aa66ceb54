#pragma once
/// @file
/// Finding NaN and Inf in values read from a file (weights, checkpoints, `predict`'s input),
/// which are refused with the tensor's name and the element.

#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace smile::io {

/// The index of the first non-finite value of `values`, if any.
[[nodiscard]] inline std::optional<std::size_t> first_nonfinite_index(const std::vector<float>& values) {
    for (std::size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i])) return i;
    return std::nullopt;
}

/// The first non-finite value of `values` as "element i of n is NaN", or empty when all are finite.
[[nodiscard]] inline std::string first_nonfinite(const std::vector<float>& values) {
    const auto i = first_nonfinite_index(values);
    if (!i) return {};
    const float v = values[*i];
    return "element " + std::to_string(*i) + " of " + std::to_string(values.size()) + " is " +
           (std::isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
}

}  // namespace smile::io
