#pragma once
// One fine-tuning run: the method from a pretrained network, an endless augmenting loader over
// the training subset, evaluation on the test split, the shared training loop.

#include <smile/data/sampling.hpp>
#include <smile/smile.hpp>

#include "smile/training_options.hpp"
#include "smile/world.hpp"

namespace smile::cli {

struct finetune_job {
    std::shared_ptr<const data::dataset> data;
    std::vector<data::sample> train;  ///< the sampled training subset
    std::vector<data::sample>
        validation;  ///< held out for model selection (empty: evaluate on the test split)
    architecture arch = resnet50();
    std::filesystem::path pretrained;
    method_config method;
    training_options training;
    std::filesystem::path save_weights;  ///< where to write the fine-tuned network (empty: nowhere)
    std::filesystem::path
        save_best_weights;  ///< the network of the best validation evaluation (empty: nowhere)
    nlohmann::json run_info = nlohmann::json::object();  ///< dataset, rate, weights, ... for the log
    bool dry_run = false;  ///< build everything, resolve the configuration, train nothing
    /// Called with every resolved setting once the method is built, before any training.
    std::function<void(const nlohmann::json&)> on_resolved;
    /// Data-parallel runs: batch norm with the global batch's statistics (--sync-bn).
    bool sync_bn = false;
    /// Data-parallel runs: the gradient buckets' size cap (--bucket-mb).
    std::size_t bucket_bytes = automatic_gradient_buckets;
};


/// What a fine-tuning run produced: the training loop's result and the test split's numbers.
struct finetune_outcome : run_result {
    nlohmann::json resolved;  ///< every setting of the run (the log's config line)
    evaluation test_last;     ///< the test split, final network
    std::optional<evaluation>
        test_best;         ///< the test split, best network by validation (with a validation split)
    bool trained = false;  ///< false for a dry run
};

/// Runs one fine-tuning job (every rank of a data-parallel run calls it). Compiled once, in
/// run_finetune.cpp: it instantiates the training loop, evaluation and weight saving, which every
/// file that calls it (finetune, compare, study) would otherwise compile again.
[[nodiscard]] finetune_outcome run_finetune(const finetune_job& job, bool print_config = true);

}  // namespace smile::cli
