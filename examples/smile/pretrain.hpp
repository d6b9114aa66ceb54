#pragma once
// Pretraining a source network from scratch: shared by `smile pretrain` and `smile compare`
// (which pretrains its source network once and caches it). Defined in pretrain.cpp.

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <smile/data/dataset.hpp>
#include <smile/models/architecture.hpp>
#include <smile/train/evaluate.hpp>
#include <string>

#include "smile/training_options.hpp"

namespace smile::cli {

/// Trains `arch` on `d` with `t` and saves it to `out` (with the metadata that lets it load
/// without architecture flags); `on_resolved` sees every resolved setting before the first
/// step. Returns the test evaluation of the final network.
evaluation pretrain(const architecture& arch, const std::shared_ptr<const data::dataset>& d,
                    training_options t, const std::string& out,
                    const std::function<void(const nlohmann::json&)>& on_resolved = {});

}  // namespace smile::cli
