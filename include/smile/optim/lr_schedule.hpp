#pragma once
/// @file
/// Learning-rate schedules over a run of `total` iterations (iteration k = 0 .. total − 1).
/// - constant: lr₀.
/// - step (the SMILE paper, §4.1.2): lr₀ until two thirds of the run, then lr₀·γ (γ = 0.1):
///   lr = lr₀ if k < 2·total/3 else γ·lr₀, as the authors' `set_lr_step` (6000 of 9000).
/// - multistep: lr₀·γ^(number of milestones ≤ k) (TLlib's MultiStepLR).
/// - cosine: ½·lr₀·(1 + cos(π·k/total)) (RIFLE's original schedule).
/// - linear (BERT fine-tuning; transformers' get_linear_schedule_with_warmup): lr₀·k/warmup while
///   k < warmup, then lr₀·max(0, (total − k)/(total − warmup)). As there, the first step
///   (k = 0) has lr 0 when warmup > 0.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <smile/core/error.hpp>
#include <string>
#include <vector>

namespace smile {

enum class schedule_kind { constant, step, multistep, cosine, linear };

struct lr_schedule {
    schedule_kind kind = schedule_kind::step;
    float base_lr = 0.01f;
    std::int64_t total = 1;
    float gamma = 0.1f;
    std::vector<std::int64_t> milestones;  ///< multistep only
    std::int64_t warmup = 0;               ///< linear only: iterations of linear warm-up

    [[nodiscard]] float at(std::int64_t k) const {
        switch (kind) {
            case schedule_kind::constant: return base_lr;
            case schedule_kind::step: return 3 * k < 2 * total ? base_lr : base_lr * gamma;
            case schedule_kind::multistep: {
                float lr = base_lr;
                for (auto m : milestones)
                    if (k >= m) lr *= gamma;
                return lr;
            }
            case schedule_kind::cosine:
                return static_cast<float>(0.5 * base_lr *
                                          (1.0 + std::cos(std::numbers::pi * double(k) / double(total))));
            case schedule_kind::linear:
                if (k < warmup)
                    return static_cast<float>(double(base_lr) * double(k) / double(warmup));
                return static_cast<float>(
                    double(base_lr) *
                    std::max(0.0, double(total - k) /
                                      double(std::max<std::int64_t>(1, total - warmup))));
        }
        return base_lr;
    }
};

/// Parses "constant", "step", "multistep", "cosine".
inline schedule_kind parse_schedule(const std::string& name) {
    if (name == "constant") return schedule_kind::constant;
    if (name == "step") return schedule_kind::step;
    if (name == "multistep") return schedule_kind::multistep;
    if (name == "cosine") return schedule_kind::cosine;
    if (name == "linear") return schedule_kind::linear;
    detail::fail("unknown learning-rate schedule '", name,
                 "' (expected constant, step, multistep, cosine or linear)");
}

}  // namespace smile
