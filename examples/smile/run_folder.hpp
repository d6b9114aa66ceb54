#pragma once
// A run's folder: everything `smile finetune` or `smile pretrain` produced, in one place.
//
//   config.json                    the options given ("options": rerun with --config) and the whole
//                                  resolved configuration ("resolved"), smile's version
//   log.jsonl                      the JSON-lines log (config line, one line per step and
//   evaluation) checkpoint-last.safetensors    the resumable checkpoint (--resume --output-dir DIR)
//   checkpoint-best.safetensors    the checkpoint of the best validation evaluation (with a
//                                  validation split)
//   weights-last.safetensors       the fine-tuned network (torchvision names)
//   weights-best.safetensors       the network of the best validation evaluation
//   summary.json                   the results: validation and test accuracies, timings, skipped
//   files curves.png, curves.svg         the training curves (when smile was built with PLplot)

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <smile/core/error.hpp>
#include <smile/io/atomic_file.hpp>
#include <smile/train/trainer.hpp>
#include <smile/version.hpp>
#include <string>

namespace smile::cli {

struct run_folder {
    std::filesystem::path dir;

    [[nodiscard]] std::filesystem::path config() const { return dir / "config.json"; }
    [[nodiscard]] std::filesystem::path log() const { return dir / "log.jsonl"; }
    [[nodiscard]] std::filesystem::path last_checkpoint() const {
        return dir / "checkpoint-last.safetensors";
    }
    [[nodiscard]] std::filesystem::path best_checkpoint() const {
        return dir / "checkpoint-best.safetensors";
    }
    [[nodiscard]] std::filesystem::path last_weights() const {
        return dir / "weights-last.safetensors";
    }
    [[nodiscard]] std::filesystem::path best_weights() const {
        return dir / "weights-best.safetensors";
    }
    [[nodiscard]] std::filesystem::path summary() const { return dir / "summary.json"; }
    [[nodiscard]] std::filesystem::path curves(const std::string& extension) const {
        return dir / ("curves." + extension);
    }

    /// runs/<method>-<dataset>[-r<rate>]-s<seed>-<local date>-<time>, made unique with a suffix
    /// when two runs start in the same second.
    static run_folder fresh(const std::string& method, const std::string& dataset,
                            const std::string& rate, std::uint64_t seed) {
        const std::time_t now =
            std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
        std::tm local{};
        ::localtime_r(&now, &local);
        char stamp[32];
        std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
        std::string name = method + "-" + dataset + (rate.empty() ? "" : "-r" + rate) + "-s" +
                           std::to_string(seed) + "-" + stamp;
        std::filesystem::path dir = std::filesystem::path("runs") / name;
        for (int k = 2; std::filesystem::exists(dir); ++k)
            dir = std::filesystem::path("runs") / (name + "-" + std::to_string(k));
        return {dir};
    }

    /// Sends the run's checkpoint and log here unless --checkpoint or --log said otherwise, and
    /// refuses a folder that holds a run already (unless resuming it, or `dry_run`).
    void route(trainer_options& t, bool dry_run = false) const {
        if (t.checkpoint_path.empty()) t.checkpoint_path = last_checkpoint().string();
        if (t.log_path.empty()) t.log_path = log().string();
        if (!t.resume && !dry_run && std::filesystem::exists(t.checkpoint_path))
            detail::fail(
                t.checkpoint_path,
                " holds a run already: --resume continues it, or choose another --output-dir");
    }

    /// Writes `value` to `file` in the folder atomically (a kill leaves the old file or the new).
    static void write_json(const std::filesystem::path& file, const nlohmann::json& value) {
        io::write_file_atomically(file, value.dump(2) + "\n");
    }
};

/// The training curves of a finished run into its folder. The run's results are on disk by now,
/// so a picture that cannot be drawn is a warning, not a failure.
void draw_curves(const std::filesystem::path& log, const run_folder& folder);

/// The common part of config.json: what was given, smile's version, the command.
inline nlohmann::json config_record(const std::string& subcommand, const nlohmann::json& given,
                                    const nlohmann::json& resolved) {
    return {{"smile_version", SMILE_VERSION_STRING},
            {"command", subcommand},
            {"options", given},
            {"resolved", resolved}};
}

}  // namespace smile::cli
