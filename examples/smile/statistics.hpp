#pragma once
// Summaries over seeds for the comparison tables: mean and sample standard deviation, and the
// paired comparison of two methods run on the same seeds (same training subset, same
// initialisation of the new head, same batch order), tested with Student's t over the seeds'
// differences. Boost.Math supplies the t distribution.

#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <cstdio>
#include <smile/core/error.hpp>
#include <string>
#include <utility>
#include <vector>

namespace smile::cli {

/// The mean and the sample standard deviation (0 for one value).
[[nodiscard]] inline std::pair<double, double> mean_and_std(const std::vector<double>& v) {
    SMILE_CHECK(!v.empty(), "mean_and_std: no values");
    double mean = 0;
    for (double x : v) mean += x;
    mean /= double(v.size());
    double var = 0;
    for (double x : v) var += (x - mean) * (x - mean);
    return {mean, v.size() > 1 ? std::sqrt(var / double(v.size() - 1)) : 0.0};
}

/// "mean ± std" of fractions, in percent with two decimals ("-" for none).
[[nodiscard]] inline std::string percent_mean_std(const std::vector<double>& v) {
    if (v.empty()) return "-";
    const auto [mean, sd] = mean_and_std(v);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f ± %.2f", 100 * mean, 100 * sd);
    return buf;
}

/// A method against a baseline over the same seeds: d_i = method_i − baseline_i,
/// t = mean(d) / (sd(d) / √n) with n − 1 degrees of freedom, and the two-sided p-value
/// P(|T| ≥ |t|). All differences equal (sd 0): t is ±∞ (p 0) unless they are all 0 (t 0, p 1).
struct paired_test {
    std::size_t pairs = 0;
    double mean_difference = 0.0;
    double sd_difference = 0.0;
    double t = 0.0;
    double p_two_sided = 1.0;
};

[[nodiscard]] inline paired_test paired_t_test(const std::vector<double>& method,
                                               const std::vector<double>& baseline) {
    SMILE_CHECK(method.size() == baseline.size(), "paired test: ", method.size(),
                " values against ", baseline.size());
    SMILE_CHECK(method.size() >= 2, "paired test: needs at least 2 pairs, got ", method.size());
    std::vector<double> d(method.size());
    for (std::size_t i = 0; i < d.size(); ++i) d[i] = method[i] - baseline[i];
    paired_test r;
    r.pairs = d.size();
    std::tie(r.mean_difference, r.sd_difference) = mean_and_std(d);
    const double n = double(d.size());
    if (r.sd_difference == 0.0) {
        r.t = r.mean_difference == 0.0 ? 0.0 : std::copysign(INFINITY, r.mean_difference);
        r.p_two_sided = r.mean_difference == 0.0 ? 1.0 : 0.0;
        return r;
    }
    r.t = r.mean_difference / (r.sd_difference / std::sqrt(n));
    const boost::math::students_t t_distribution(n - 1);
    r.p_two_sided = 2 * boost::math::cdf(boost::math::complement(t_distribution, std::fabs(r.t)));
    return r;
}

/// "+1.23 ± 0.45 (p 0.03)": the mean paired difference in percentage points, the standard
/// deviation of the differences and the two-sided p-value.
[[nodiscard]] inline std::string paired_cell(const paired_test& r) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%+.2f ± %.2f (p %.2g)", 100 * r.mean_difference,
                  100 * r.sd_difference, r.p_two_sided);
    return buf;
}

}  // namespace smile::cli
