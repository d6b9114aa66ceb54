#pragma once
// The reproduction study (`smile compare --study`, docs/reproduction.md): a converged source
// network, the margin pretraining buys over a random start, Table 1 (every baseline and SMILE at
// several sampling rates, 5 seeds, paired tests against FT), Table 3 (SMILE's ablations), Tables
// 4-5 (interpolation loss of FT, mixup, SMILE on train and test) and Appendix C's picture.
// Defined in study.cpp (running) and study_report.cpp (tables and pictures).

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "smile/study_plan.hpp"

namespace smile::cli {

/// The study as docs/reproduction.md describes and reports it.
[[nodiscard]] study_plan default_study_plan();

struct study_options {
    study_plan plan;
    std::filesystem::path out = "results/study";
    std::filesystem::path cache;  ///< the source network's folder (empty: <data>/models)
    std::size_t workers = 2;
    std::string precision = "f32";
};

/// Runs every run of `o.plan` that has no result yet, then writes the report. Returns the
/// number of runs done now.
std::size_t run_study(study_options o);

/// What one finished run measured (its result.json).
struct study_result {
    study_run run;
    double test_selected = 0;  ///< test top-1 of the network selected on the validation split
    double test_final = 0;     ///< test top-1 of the final network
    double validation_best = 0;
    std::int64_t best_iteration = 0;
    double seconds = 0, seconds_per_step = 0;
    std::int64_t training_images = 0;
};

/// One analysed network's interpolation losses on one split, per seed: measure → value.
struct analysed_losses {
    std::string method, split;
    std::uint64_t seed = 0;
    double logits = 0, probabilities = 0, features = 0;
};

/// Facts of the study the report states (source network, splits, timings).
struct study_facts {
    double source_top1 = 0;
    std::string source_file;
    std::map<std::string, std::int64_t> validation_images;  ///< per target format
    std::map<std::string, std::int64_t> pool_images;
    double minutes = 0;
};

/// Writes study.md, the tables as CSV (pretraining.csv, table1.csv, table3.csv,
/// interpolation.csv, runs.csv) and table1.png/.svg into `out`.
void write_study_report(const study_plan& plan, const std::vector<study_result>& results,
                        const std::vector<analysed_losses>& losses, const study_facts& facts,
                        const std::filesystem::path& out);

}  // namespace smile::cli
