#pragma once
// Options shared by the subcommands that build a classifier: the architecture (from --arch or
// from the weight file's metadata), its head and its input.

#include <CLI/CLI.hpp>
#include <optional>
#include <smile/io/weights.hpp>
#include <smile/models/architecture.hpp>
#include <string>
#include <vector>

#include "smile/validators.hpp"

namespace smile::cli {

struct model_options {
    std::string arch = "resnet50";
    std::int64_t num_classes = 1000;
    std::int64_t in_channels = 3;
    bool small_stem = false;
    CLI::Option* arch_option = nullptr;
    CLI::Option* in_channels_option = nullptr;
    CLI::Option* small_stem_option = nullptr;
    CLI::Option* num_classes_option = nullptr;

    /// `with_num_classes`: whether the head's size is an option (predict, analyze, evaluate of a
    /// bare network); fine-tuning and pretraining take it from the dataset.
    void add_to(CLI::App& app, bool with_num_classes = true) {
        arch_option = app.add_option("--arch", arch,
                                     "architecture: " + architecture_names() +
                                         " (default: the weight file's metadata, else resnet50)")
                          ->capture_default_str();
        if (with_num_classes)
            num_classes_option =
                app.add_option("--num-classes", num_classes,
                               "classes of the head (default: the weight file's head)")
                    ->capture_default_str()
                    ->check(integer_in(1, 1e7));
        in_channels_option =
            app.add_option("--in-channels", in_channels,
                           "input channels (default: the weight file's metadata, else 3)")
                ->capture_default_str()
                ->check(integer_in(1, 64));
        small_stem_option = app.add_flag("--small-stem", small_stem,
                                         "ResNets: 3x3 stride-1 stem without max pooling (28x28, "
                                         "32x32 inputs; default: the weight "
                                         "file's metadata)");
    }

    [[nodiscard]] bool arch_given() const { return arch_option != nullptr && arch_option->count() > 0; }

    /// The architecture when neither --arch nor the weight file names one (a preset's).
    void fallback_arch(const std::string& name) {
        if (!arch_given()) arch = name;
    }

    /// The architecture for a run that reads `weights` (empty: none). A weight file that
    /// declares its architecture (metadata, or efficientnet_pytorch's names:
    /// architecture_declared_by) decides it; an --arch that contradicts it is an error naming both. Throws naming the option when the architecture is unknown.
    [[nodiscard]] architecture config(const std::string& weights = {}) {
        if (!weights.empty()) {
            if (const auto declared = architecture_declared_by(weights)) {
                if (arch_given() && declared->name != arch)
                    detail::fail("--arch ", arch, " contradicts --weights ", weights, ", ", declared->because, " ",
                                 declared->name, " (leave --arch out, or give ", declared->name, ")");
                arch = declared->name;
                // The file's metadata decides what the flags leave open, so that smile's own
                // networks load without flags.
                if (declared->in_channels &&
                    (in_channels_option == nullptr || in_channels_option->count() == 0))
                    in_channels = *declared->in_channels;
                if (declared->small_stem &&
                    (small_stem_option == nullptr || small_stem_option->count() == 0))
                    small_stem = *declared->small_stem;
            }
        }
        std::optional<architecture> a;
        try {
            a = architecture_by_name(arch);
        } catch (const error& e) {
            detail::fail("--arch: ", e.what());
        }
        a->set_in_channels(in_channels);
        if (small_stem) {
            auto* resnet = std::get_if<resnet_config>(&a->config);
            if (resnet == nullptr) detail::fail("--small-stem: only ResNets have a small stem, not ", arch);
            resnet->stem = stem_kind::small;
        }
        return *a;
    }

    /// The head's classes for a run that reads `weights` as architecture `a`: --num-classes when
    /// given, else the rows of the file's head (fc.weight, classifier.1.weight, ...), else 1000.
    std::int64_t classes_for(const std::string& weights, const architecture& a) {
        if (num_classes_given() || weights.empty()) return num_classes;
        if (const auto rows =
                head_rows(weights, {a.head_name() + ".weight", "_fc.weight", "head.fc.weight"}))
            num_classes = *rows;
        return num_classes;
    }

    [[nodiscard]] bool num_classes_given() const {
        return num_classes_option != nullptr && num_classes_option->count() > 0;
    }

    /// The rows of the first of `heads` that `file` holds (a head's classes), if any holds one.
    static std::optional<std::int64_t> head_rows(const std::string& file,
                                                 const std::vector<std::string>& heads) {
        const io::detail_weights::weight_source source(file);
        for (const std::string& head : heads)
            if (source.contains(head)) {
                const auto shape = source.shape(head);
                if (shape.empty()) return std::nullopt;
                return shape[0];
            }
        return std::nullopt;
    }
};

/// Loads a fine-tuned or pretrained network for inference (analyze, evaluate): every tensor of
/// `model` must be in `weights`; the only extra tensors accepted are a source head (source_fc.*,
/// written by SMILE and Co-Tuning runs). Errors name the file and the tensors.
template <Backend B, class Model>
void load_complete_network(Model& model, const std::string& weights, const architecture& arch,
                           std::int64_t classes, bool allow_nonfinite) {
    const auto report =
        io::load_weights<B>(model, weights, {false, std::nullopt, "", allow_nonfinite});
    SMILE_CHECK(report.missing.empty() && report.skipped.empty(), "--weights ", weights,
                ": not a complete ", arch.name(), " with a ", classes,
                "-class head: ", report.summary());
    for (const auto& n : report.unexpected)
        SMILE_CHECK(n.rfind("source_fc.", 0) == 0, "--weights ", weights, ": tensor '", n,
                    "' is not part of ", arch.name(), ": ", report.summary());
}

}  // namespace smile::cli
