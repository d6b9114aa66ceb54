#pragma once
/// @file
/// Co-Tuning's category relationship r[t, s] = p(y_s = s | y_t = t) between target classes t
/// and the pretrained source classes s (You et al., NeurIPS 2020), computed once before
/// fine-tuning:
///
/// - direct (TLlib, default): r[t] is the average source softmax over the training images of
///   class t (evaluation transform, evaluation mode, no temperature).
/// - reverse (the original code): with calibrated source probabilities q = softmax(0.884·z),
///   fit a multinomial logistic regression p(y_t | q) = softmax(W·q) (no intercept, L2 1/C),
///   choose C ∈ {1e4, 3e3, ..., 1e-4} by accuracy on a validation split, calibrate a scale c on
///   the validation NLL, then p(y_t | y_s) = softmax_t(c·W[:, s]) and Bayes' rule with the
///   source marginal p(y_s) = mean q (over the fit and validation images) gives r[t, s] ∝ p(y_t | y_s)·p(y_s), normalised over s.
///
/// The regression is small and convex (C_t × C_s weights); it is fitted here by gradient
/// descent with backtracking rather than pulling in a machine-learning library for it.

#include <cmath>
#include <vector>

#include <Eigen/Dense>

#include <smile/core/error.hpp>

namespace smile {

/// Probability rows of a row-major matrix (n × k) of logits, softmax(temperature·z).
inline Eigen::MatrixXd softmax_rows(const Eigen::MatrixXd& z, double temperature = 1.0) {
    Eigen::MatrixXd p = z * temperature;
    for (Eigen::Index i = 0; i < p.rows(); ++i) {
        const double top = p.row(i).maxCoeff();
        p.row(i) = (p.row(i).array() - top).exp();
        p.row(i) /= p.row(i).sum();
    }
    return p;
}

/// The direct relationship: the mean of the rows of `probabilities` (n × C_s) per target label.
inline Eigen::MatrixXd direct_relationship(const Eigen::MatrixXd& probabilities, const std::vector<std::int64_t>& labels,
                                           std::int64_t target_classes) {
    Eigen::MatrixXd r = Eigen::MatrixXd::Zero(target_classes, probabilities.cols());
    std::vector<double> count(std::size_t(target_classes), 0.0);
    for (std::size_t i = 0; i < labels.size(); ++i) {
        r.row(labels[i]) += probabilities.row(Eigen::Index(i));
        count[std::size_t(labels[i])] += 1;
    }
    for (std::int64_t t = 0; t < target_classes; ++t) {
        SMILE_CHECK(count[std::size_t(t)] > 0, "Co-Tuning relationship: target class ", t, " has no training image");
        r.row(t) /= count[std::size_t(t)];
    }
    return r;
}

/// Multinomial logistic regression without intercept: argmin_W Σ_i −log softmax(W·x_i)[y_i]
/// + ‖W‖²/(2C) (scikit-learn's objective), W: classes × features.
inline Eigen::MatrixXd fit_softmax_regression(const Eigen::MatrixXd& x, const std::vector<std::int64_t>& y,
                                              std::int64_t classes, double C, int max_iterations = 500) {
    const Eigen::Index n = x.rows(), d = x.cols();
    Eigen::MatrixXd targets = Eigen::MatrixXd::Zero(n, classes);
    for (Eigen::Index i = 0; i < n; ++i) targets(i, y[std::size_t(i)]) = 1.0;
    auto objective = [&](const Eigen::MatrixXd& W, Eigen::MatrixXd* grad) {
        const Eigen::MatrixXd z = x * W.transpose();  // n × classes
        double loss = 0;
        Eigen::MatrixXd p(n, classes);
        for (Eigen::Index i = 0; i < n; ++i) {
            const double top = z.row(i).maxCoeff();
            const double lse = top + std::log((z.row(i).array() - top).exp().sum());
            loss += lse - z(i, y[std::size_t(i)]);
            p.row(i) = (z.row(i).array() - lse).exp();
        }
        loss += W.squaredNorm() / (2 * C);
        if (grad) *grad = (p - targets).transpose() * x + W / C;
        return loss;
    };
    Eigen::MatrixXd W = Eigen::MatrixXd::Zero(classes, d), g;
    double f = objective(W, &g);
    double step = 1.0;
    for (int it = 0; it < max_iterations && g.norm() > 1e-6 * std::max(1.0, f); ++it) {
        for (;;) {  // Armijo backtracking
            Eigen::MatrixXd candidate = W - step * g;
            Eigen::MatrixXd g2;
            const double f2 = objective(candidate, &g2);
            if (f2 <= f - 0.5 * step * g.squaredNorm() || step < 1e-12) {
                W = std::move(candidate);
                f = f2;
                g = std::move(g2);
                step *= 2.0;
                break;
            }
            step *= 0.5;
        }
    }
    return W;
}

/// The source marginal p(y_s): the mean source probability over the fit and the validation
/// images together (the original concatenates both splits).
[[nodiscard]] inline Eigen::VectorXd source_marginal(const Eigen::MatrixXd& fit_probs, const Eigen::MatrixXd& val_probs) {
    const double n = double(fit_probs.rows() + val_probs.rows());
    return ((fit_probs.colwise().sum() + val_probs.colwise().sum()) / std::max(1.0, n)).transpose();
}

/// The original (reverse) relationship from source probabilities of the training and validation
/// images (already calibrated) and their target labels.
inline Eigen::MatrixXd reverse_relationship(const Eigen::MatrixXd& train_probs, const std::vector<std::int64_t>& train_labels,
                                            const Eigen::MatrixXd& val_probs, const std::vector<std::int64_t>& val_labels,
                                            std::int64_t target_classes) {
    static const double grid[] = {1e4, 3e3, 1e3, 3e2, 1e2, 3e1, 1e1, 3.0, 1.0, 0.3, 0.1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4};
    auto accuracy = [&](const Eigen::MatrixXd& W) {
        const Eigen::MatrixXd z = val_probs * W.transpose();
        std::int64_t correct = 0;
        for (Eigen::Index i = 0; i < z.rows(); ++i) {
            Eigen::Index best = 0;
            z.row(i).maxCoeff(&best);
            correct += best == val_labels[std::size_t(i)];
        }
        return double(correct) / double(std::max<Eigen::Index>(1, z.rows()));
    };
    Eigen::MatrixXd best_W;
    double best_accuracy = -1;
    for (double C : grid) {
        Eigen::MatrixXd W = fit_softmax_regression(train_probs, train_labels, target_classes, C);
        const double a = accuracy(W);
        if (a > best_accuracy) {
            best_accuracy = a;
            best_W = std::move(W);
        }
    }
    // Scale calibration: golden-section search of the validation NLL over log c ∈ [−5, 5].
    auto nll = [&](double c) {
        const Eigen::MatrixXd p = softmax_rows(val_probs * best_W.transpose(), c);
        double v = 0;
        for (Eigen::Index i = 0; i < p.rows(); ++i) v -= std::log(std::max(p(i, val_labels[std::size_t(i)]), 1e-300));
        return v;
    };
    double lo = -5, hi = 5;
    const double phi = (std::sqrt(5.0) - 1) / 2;
    for (int it = 0; it < 80; ++it) {
        const double a = hi - phi * (hi - lo), b = lo + phi * (hi - lo);
        if (nll(std::exp(a)) < nll(std::exp(b))) hi = b; else lo = a;
    }
    const double scale = std::exp((lo + hi) / 2);
    // p(y_t | y_s) per source class, then Bayes with the source marginal over every image the
    // relationship saw, fit and validation alike (the original concatenates both splits).
    const Eigen::MatrixXd t_given_s = softmax_rows(best_W.transpose(), scale);  // C_s × C_t
    const Eigen::VectorXd marginal = source_marginal(train_probs, val_probs);  // C_s
    Eigen::MatrixXd r(target_classes, train_probs.cols());
    for (std::int64_t t = 0; t < target_classes; ++t) {
        for (Eigen::Index s = 0; s < train_probs.cols(); ++s) r(t, s) = t_given_s(s, t) * marginal(s);
        r.row(t) /= r.row(t).sum();
    }
    return r;
}

}  // namespace smile
