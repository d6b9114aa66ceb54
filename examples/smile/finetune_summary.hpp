#pragma once
// A fine-tuning run's summary.json and its closing lines, for images and text alike.

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <smile/train/trainer.hpp>
#include <string>

#include "smile/run_folder.hpp"

namespace smile::cli {

inline nlohmann::json evaluation_json(const evaluation& e) {
    return {{"top1", e.top1},
            {"top5", e.top5},
            {"mean_class_accuracy", e.mean_class_accuracy()},
            {"images", e.images}};
}

/// The results of a run of `iterations` steps: the test split's numbers for the final network
/// (and the one selected by validation), timings. A resumed run's steps and seconds add to the
/// earlier sessions' (resuming a finished run adds none): the summary describes the run, not the
/// last session.
inline nlohmann::json finetune_summary(const std::string& method, const std::string& dataset,
                                       std::int64_t iterations, const run_result& r,
                                       const evaluation& test_last,
                                       const std::optional<evaluation>& test_best, bool validating,
                                       bool resumed, const run_folder& folder) {
    nlohmann::json summary{{"method", method},
                           {"dataset", dataset},
                           {"iterations", iterations},
                           {"iterations_run", r.iterations},
                           {"seconds", r.seconds},
                           {"seconds_per_step", r.seconds_per_step},
                           {"evaluation_seconds", r.evaluation_seconds},
                           {"test", evaluation_json(test_last)},
                           {"skipped", r.skipped}};
    if (resumed) {
        std::ifstream earlier_file(folder.summary());
        const auto earlier = nlohmann::json::parse(earlier_file, nullptr, false);
        if (!earlier.is_discarded() && earlier.is_object() &&
            earlier.value("iterations_run", 0) > 0 && earlier.value("seconds", 0.0) >= 0) {
            const std::int64_t steps =
                earlier.at("iterations_run").get<std::int64_t>() + r.iterations;
            const double training_seconds =
                earlier.value("seconds_per_step", 0.0) *
                    double(earlier.at("iterations_run").get<std::int64_t>()) +
                r.seconds_per_step * double(r.iterations);
            summary["iterations_run"] = steps;
            summary["seconds"] = earlier.value("seconds", 0.0) + r.seconds;
            summary["seconds_per_step"] = training_seconds / double(steps);
            summary["sessions"] = earlier.value("sessions", 1) + 1;
        }
    }
    if (r.stopped_early_at > 0) summary["stopped_early_at"] = r.stopped_early_at;
    if (validating) {
        summary["validation"] = {{"final_top1", r.final_top1},
                                 {"best_top1", r.best_top1},
                                 {"best_iteration", r.best_iteration}};
        if (test_best) summary["test_of_best"] = evaluation_json(*test_best);
    }
    return summary;
}

/// The run's closing lines on standard output.
inline void print_finetune_outcome(const std::string& method, std::int64_t iterations,
                                   const run_result& r, const evaluation& test_last,
                                   const std::optional<evaluation>& test_best, bool validating,
                                   const run_folder& folder) {
    std::printf("%s: test top-1 %.2f%%, top-5 %.2f%% after %lld iterations, %.3f s/step",
                method.c_str(), 100 * test_last.top1, 100 * test_last.top5,
                static_cast<long long>(r.stopped_early_at > 0 ? r.stopped_early_at : iterations),
                r.seconds_per_step);
    if (validating && test_best)
        std::printf("; best validation top-1 %.2f%% at iteration %lld, its test top-1 %.2f%%",
                    100 * r.best_top1, static_cast<long long>(r.best_iteration),
                    100 * test_best->top1);
    std::printf("\nrun folder: %s\n", folder.dir.c_str());
}

}  // namespace smile::cli
