#pragma once
/// @file
/// `setting_text`: a hyper-parameter as text for `describe()` lists (methods, optimizers).

#include <cstdio>
#include <string>
#include <type_traits>

namespace smile {

/// Integers exactly, floating-point values with nine significant digits (std::to_string would
/// print 1e-7 as "0.000000").
template <class T>
[[nodiscard]] std::string setting_text(T value) {
    if constexpr (std::is_integral_v<T>) {
        return std::to_string(value);
    } else {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(value));
        return buf;
    }
}

}  // namespace smile
