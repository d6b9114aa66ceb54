// The seeded generator: reproducibility, saved state, and the distributions' moments.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include <smile/core/random.hpp>

TEST_CASE("rng: the same seed gives the same draws, a saved state resumes them") {
    smile::rng a(123), b(123);
    for (int i = 0; i < 10; ++i) CHECK(a.bits() == b.bits());
    const std::string state = a.state();
    const double next = a.uniform();
    smile::rng c(999);
    c.restore(state);
    CHECK(c.uniform() == next);
    CHECK_THROWS_AS(c.restore("not a state"), smile::error);
}

TEST_CASE("rng: derived streams depend only on (seed, stream, index)") {
    auto a = smile::rng::derive(5, 1, 42);
    auto b = smile::rng::derive(5, 1, 42);
    auto c = smile::rng::derive(5, 1, 43);
    auto d = smile::rng::derive(5, 2, 42);
    const auto x = a.bits();
    CHECK(x == b.bits());
    CHECK(x != c.bits());
    CHECK(x != d.bits());
}

TEST_CASE("rng: Beta(0.2, 0.2) has mean 1/2 and variance 1/(4·1.4), folding gives λ ≥ 1/2") {
    // Beta(a, a): mean 1/2, variance 1/(4(2a + 1)) = 0.178571 for a = 0.2.
    smile::rng gen(2024);
    const int n = 200000;
    double sum = 0, sq = 0, folded_sum = 0, folded_min = 1;
    for (int i = 0; i < n; ++i) {
        const double lam = gen.beta(0.2, 0.2);
        REQUIRE(lam >= 0.0);
        REQUIRE(lam <= 1.0);
        sum += lam;
        sq += lam * lam;
        const double folded = std::max(lam, 1.0 - lam);
        folded_sum += folded;
        folded_min = std::min(folded_min, folded);
    }
    const double mean = sum / n, var = sq / n - mean * mean;
    CHECK(mean == doctest::Approx(0.5).epsilon(0.01));
    CHECK(var == doctest::Approx(1.0 / (4.0 * 1.4)).epsilon(0.01));
    CHECK(folded_min >= 0.5);
    // E[max(λ, 1 − λ)] for Beta(0.2, 0.2) ≈ 0.9 (algorithms.md §9.1, 2·10⁵ draws).
    CHECK(folded_sum / n == doctest::Approx(0.90).epsilon(0.01));
}

TEST_CASE("rng: Beta(2, 5) matches its mean and variance") {
    smile::rng gen(7);
    const int n = 100000;
    double sum = 0, sq = 0;
    for (int i = 0; i < n; ++i) {
        const double x = gen.beta(2.0, 5.0);
        sum += x;
        sq += x * x;
    }
    const double mean = sum / n, var = sq / n - mean * mean;
    CHECK(mean == doctest::Approx(2.0 / 7.0).epsilon(0.01));
    CHECK(var == doctest::Approx(10.0 / (49.0 * 8.0)).epsilon(0.02));
}

TEST_CASE("rng: normal draws have mean 0 and variance 1") {
    smile::rng gen(11);
    const int n = 200000;
    double sum = 0, sq = 0;
    for (int i = 0; i < n; ++i) {
        const double x = gen.normal();
        sum += x;
        sq += x * x;
    }
    CHECK(std::abs(sum / n) < 0.01);
    CHECK(sq / n == doctest::Approx(1.0).epsilon(0.01));
}

TEST_CASE("rng: permutations are permutations and integers stay in range") {
    smile::rng gen(3);
    auto p = gen.permutation(50);
    std::set<std::int64_t> seen(p.begin(), p.end());
    CHECK(seen.size() == 50);
    CHECK(*seen.begin() == 0);
    CHECK(*seen.rbegin() == 49);
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < 30000; ++i) {
        const auto v = gen.integer(-1, 1);
        REQUIRE(v >= -1);
        REQUIRE(v <= 1);
        ++counts[v + 1];
    }
    for (int c : counts) CHECK(c == doctest::Approx(10000).epsilon(0.05));
}
