#pragma once
/// @file
/// IEEE binary16 and bfloat16 to float32, for reading half-precision checkpoints, and float32 to
/// bfloat16. (Bit
/// manipulation of two fixed formats; no library is needed for it.)

#include <bit>
#include <cstdint>

namespace smile::io {

/// bfloat16 is the top half of a float32.
[[nodiscard]] inline float bf16_to_float(std::uint16_t v) noexcept {
    return std::bit_cast<float>(static_cast<std::uint32_t>(v) << 16);
}

/// float32 → bfloat16 rounded to nearest, ties to even (NaN stays a quiet NaN): what oneDNN's
/// and PyTorch's conversions do. Tests use it to build the exact inputs of a bf16 computation.
[[nodiscard]] inline std::uint16_t float_to_bf16(float f) noexcept {
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x40u);
    const std::uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
    return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

/// f rounded to the nearest bfloat16, as a float32.
[[nodiscard]] inline float round_to_bf16(float f) noexcept {
    return bf16_to_float(float_to_bf16(f));
}

/// IEEE 754 binary16 (1 sign, 5 exponent, 10 mantissa bits), including subnormals, ±inf, NaN.
[[nodiscard]] inline float f16_to_float(std::uint16_t h) noexcept {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    std::uint32_t exponent = (h >> 10) & 0x1fu;
    std::uint32_t mantissa = h & 0x3ffu;
    std::uint32_t bits = 0;
    if (exponent == 0) {
        if (mantissa == 0) {
            bits = sign;  // ±0
        } else {          // subnormal: normalise
            exponent = 127 - 15 + 1;
            while ((mantissa & 0x400u) == 0) {
                mantissa <<= 1;
                --exponent;
            }
            mantissa &= 0x3ffu;
            bits = sign | (exponent << 23) | (mantissa << 13);
        }
    } else if (exponent == 0x1f) {
        bits = sign | 0x7f800000u | (mantissa << 13);  // ±inf or NaN
    } else {
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    }
    return std::bit_cast<float>(bits);
}

}  // namespace smile::io
