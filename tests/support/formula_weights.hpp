#pragma once
/// @file
/// The deterministic "random" weights of tests/fixtures/make_parity_fixtures.py, bit for bit:
/// u_i = top 24 bits of splitmix64(fnv1a64(name) + i) / 2^24, then a per-kind affine map.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace smile::test {

inline std::uint64_t fnv1a64(const std::string& text) {
    std::uint64_t h = 0xCBF29CE484222325ULL;
    for (unsigned char b : text) h = (h ^ b) * 0x100000001B3ULL;
    return h;
}

inline std::vector<float> formula_values(const std::string& name, const std::vector<std::int64_t>& shape) {
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    const std::uint64_t h = fnv1a64(name);
    auto ends = [&](const char* s) {
        const std::string suffix(s);
        return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    std::vector<float> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t x = h + i + 0x9E3779B97F4A7C15ULL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
        x ^= x >> 31;
        const double u = static_cast<double>(x >> 40) / double(1 << 24);
        double v;
        if (ends("running_mean")) v = 0.2 * (2 * u - 1);
        else if (ends("running_var")) v = 0.5 + u;
        else if (ends(".weight") && shape.size() >= 2) v = (2 * u - 1) * std::sqrt(6.0 / double(n / std::size_t(shape[0])));
        else if (ends(".weight")) v = 0.75 + 0.5 * u;
        else if (ends(".bias")) v = 0.1 * (2 * u - 1);
        else v = 2 * u - 1;
        out[i] = static_cast<float>(v);
    }
    return out;
}

}  // namespace smile::test
