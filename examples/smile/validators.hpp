#pragma once
// Range checks for the numeric options of the smile program. CLI11 runs a validator on the
// option's text before converting it, and prefixes its message with the option's name, so a
// bad value reads "--lr: -1 is outside the accepted range (0, 10]" and "--rate: 'abc' is not
// a number" rather than a conversion error or a range ending in a 309-digit number.

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

namespace smile::cli {

/// Which ends of a range are included.
enum class ends { closed, open_low, open_high, open };

namespace detail_validators {
inline std::string plain(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.15g", v);
    return buf;
}
}  // namespace detail_validators

/// A number (an integer when `integer`) in [low, high], with the ends given by `e`.
inline CLI::Validator number_in(double low, double high, ends e = ends::closed, bool integer = false) {
    using detail_validators::plain;
    const bool open_low = e == ends::open_low || e == ends::open, open_high = e == ends::open_high || e == ends::open;
    const std::string range = std::string(open_low ? "(" : "[") + plain(low) + ", " + plain(high) + (open_high ? ")" : "]");
    const std::string kind = integer ? "an integer" : "a number";
    return CLI::Validator(
        [=](std::string& text) -> std::string {
            char* end = nullptr;
            errno = 0;
            const double v = std::strtod(text.c_str(), &end);
            if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE || std::isnan(v))
                return "'" + text + "' is not " + kind + " (accepted: " + kind + " in " + range + ")";
            if (integer && v != std::floor(v)) return "'" + text + "' is not an integer (accepted: an integer in " + range + ")";
            const bool below = open_low ? !(v > low) : v < low, above = open_high ? !(v < high) : v > high;
            if (below || above) return text + " is outside the accepted range " + range;
            return {};
        },
        kind + " in " + range, "number_in");
}

/// An integer in [low, high].
inline CLI::Validator integer_in(double low, double high) { return number_in(low, high, ends::closed, true); }

}  // namespace smile::cli
