#pragma once
/// @file
/// torchvision's channel rounding for width-scaled families (MobileNetV2, EfficientNet).

#include <algorithm>
#include <cstdint>

namespace smile {

/// torchvision's `_make_divisible`: the nearest multiple of `divisor`, at least `divisor`, and
/// not more than 10% below `v`.
[[nodiscard]] inline std::int64_t make_divisible(double v, std::int64_t divisor) {
    std::int64_t rounded = std::max<std::int64_t>(divisor, std::int64_t(v + double(divisor) / 2) / divisor * divisor);
    if (double(rounded) < 0.9 * v) rounded += divisor;
    return rounded;
}

}  // namespace smile
