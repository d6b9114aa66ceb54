#pragma once
// The SMILE paper's analyses of trained networks (§5.2, Tables 4-5, Appendix C) on one set of
// images: measured by `smile analyze` and by the study (`smile compare --study`), written the
// same way by both. Defined in analysis_report.cpp.

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <smile/analysis/feature_interpolation.hpp>
#include <smile/analysis/interpolation_loss.hpp>
#include <smile/data/dataset.hpp>
#include <smile/data/pipeline.hpp>
#include <string>
#include <vector>

#include "smile/model_options.hpp"

namespace smile::cli {

/// One analysed network: its name, the interpolation losses and the feature-interpolation paths.
struct model_analysis {
    std::string name, weights;
    analysis::interpolation_report losses;
    std::vector<analysis::interpolation_path> paths;
};

/// What to measure: networks (weight files, each loaded as its own metadata says unless the
/// flags in `model` say otherwise) on `samples` of `data`, prepared by `pipe`.
struct analysis_request {
    std::vector<std::string> weights;
    std::vector<std::string> names;  ///< empty: each file's name without .safetensors
    model_options model;
    std::shared_ptr<const data::dataset> data;
    std::vector<data::sample> samples;
    data::pipeline pipe;
    std::uint64_t seed = 0;
    analysis::interpolation_options losses;
    analysis::feature_interpolation_options paths;  ///< pairs 0: no paths
};

/// Every network of `r` measured on the same images, pairs and λ (a generator per network from
/// `r.seed`), so their numbers differ by the networks alone.
[[nodiscard]] std::vector<model_analysis> analyse_networks(const analysis_request& r);

/// An interpolation estimate as JSON: mean, standard error, number of ratios.
[[nodiscard]] nlohmann::json estimate_json(const analysis::interpolation_estimate& e);

/// Writes `out`/interpolation.json (`about` plus a `models` entry per network),
/// interpolation_loss.png/.svg (Tables 4-5 as bars), and with paths feature_interpolation.csv,
/// .png, .svg and .gp (a gnuplot script of the same picture) titled `title`.
void write_analysis(const std::vector<model_analysis>& models, nlohmann::json about,
                    const std::string& distance, const std::filesystem::path& out,
                    const std::string& title);

}  // namespace smile::cli
