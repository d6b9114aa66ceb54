#pragma once
/// @file
/// `rng`: the one seeded random number generator that drives every random choice (weight
/// initialisation, λ and permutations, sampling of subsets, crops and flips), so a run with the
/// same seed reproduces exactly.
///
/// The engine is the standard `std::mt19937_64`, whose output sequence is fixed by the C++
/// standard. The distributions are written here rather than taken from `<random>` because the
/// standard leaves their algorithms to the implementation: with these, a seed gives the same
/// λ, permutations and crops with any standard library. Streams for parallel work (one per data
/// sample, say) are derived by hashing, so their values do not depend on the thread count.

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <smile/core/error.hpp>

namespace smile {

class rng {
public:
    explicit rng(std::uint64_t seed = 0) : engine_(seed) {}

    /// An independent generator for item `index` of stream `stream` under `seed`; the same
    /// triple always gives the same generator.
    [[nodiscard]] static rng derive(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
        std::uint64_t h = mix(seed ^ 0x9e3779b97f4a7c15ULL);
        h = mix(h ^ stream);
        h = mix(h ^ index);
        return rng(h);
    }

    /// 64 uniformly random bits.
    std::uint64_t bits() { return engine_(); }

    /// Uniform double in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

    /// Uniform double in [low, high).
    double uniform(double low, double high) { return low + (high - low) * uniform(); }

    /// Uniform integer in [0, n), without modulo bias.
    std::uint64_t below(std::uint64_t n) {
        SMILE_CHECK(n > 0, "rng::below: the range must not be empty");
        const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
        for (;;) {
            const std::uint64_t r = engine_();
            if (r >= threshold) return r % n;
        }
    }

    /// Uniform integer in [low, high] (both inclusive).
    std::int64_t integer(std::int64_t low, std::int64_t high) {
        SMILE_CHECK(low <= high, "rng::integer: empty range [", low, ", ", high, "]");
        return low + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(high - low) + 1));
    }

    /// True with probability p.
    bool bernoulli(double p) { return uniform() < p; }

    /// Standard normal by Box–Muller (one draw per call; no cached second value, so the
    /// generator state alone determines the future).
    double normal() {
        const double u1 = 1.0 - uniform();  // (0, 1]
        const double u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    }

    double normal(double mean, double stddev) { return mean + stddev * normal(); }

    /// log of a Gamma(shape, 1) draw. Marsaglia–Tsang for shape ≥ 1; for shape < 1 the boost
    /// Gamma(a) = Gamma(a + 1)·U^{1/a}, kept in log space so tiny shapes (Beta(0.2, 0.2)) never
    /// underflow to 0.
    double log_gamma_draw(double shape) {
        SMILE_CHECK(shape > 0.0, "rng::gamma: shape must be positive, got ", shape);
        if (shape < 1.0) {
            const double u = 1.0 - uniform();  // (0, 1]
            return log_gamma_draw(shape + 1.0) + std::log(u) / shape;
        }
        const double d = shape - 1.0 / 3.0;
        const double c = 1.0 / std::sqrt(9.0 * d);
        for (;;) {
            double x = 0.0;
            double v = 0.0;
            do {
                x = normal();
                v = 1.0 + c * x;
            } while (v <= 0.0);
            v = v * v * v;
            const double u = 1.0 - uniform();
            if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return std::log(d * v);
        }
    }

    double gamma(double shape) { return std::exp(log_gamma_draw(shape)); }

    /// Beta(a, b) as X/(X + Y) with X ~ Gamma(a), Y ~ Gamma(b), computed in log space.
    double beta(double a, double b) {
        const double log_x = log_gamma_draw(a);
        const double log_y = log_gamma_draw(b);
        return 1.0 / (1.0 + std::exp(log_y - log_x));
    }

    /// A uniformly random permutation of 0..n−1 (Fisher–Yates).
    std::vector<std::int64_t> permutation(std::int64_t n) {
        std::vector<std::int64_t> p(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i) p[static_cast<std::size_t>(i)] = i;
        shuffle(p);
        return p;
    }

    /// Shuffles `values` uniformly (Fisher–Yates).
    template <class T>
    void shuffle(std::vector<T>& values) {
        for (std::size_t i = values.size(); i > 1; --i) {
            const auto j = static_cast<std::size_t>(below(i));
            std::swap(values[i - 1], values[j]);
        }
    }

    /// The full engine state as text (checkpoints); `restore` accepts exactly this text.
    [[nodiscard]] std::string state() const {
        std::ostringstream out;
        out << engine_;
        return out.str();
    }

    void restore(const std::string& state) {
        std::istringstream in(state);
        std::mt19937_64 engine;
        in >> engine;
        SMILE_CHECK(!in.fail(), "rng::restore: the saved generator state is malformed");
        engine_ = engine;
    }

    friend bool operator==(const rng& a, const rng& b) { return a.engine_ == b.engine_; }

private:
    /// splitmix64 finaliser: a bijective 64-bit mix.
    static std::uint64_t mix(std::uint64_t z) {
        z += 0x9e3779b97f4a7c15ULL;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

    std::mt19937_64 engine_;
};

}  // namespace smile
