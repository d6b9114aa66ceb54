#pragma once
// Options shared by the subcommands that build a classifier: the architecture (from --arch or
// from the weight file's metadata), its head and its input.

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "smile/validators.hpp"

#include <smile/io/weights.hpp>
#include <smile/models/architecture.hpp>

namespace smile::cli {

struct model_options {
    std::string arch = "resnet50";
    std::int64_t num_classes = 1000;
    std::int64_t in_channels = 3;
    bool small_stem = false;
    CLI::Option* arch_option = nullptr;

    void add_to(CLI::App& app) {
        arch_option = app.add_option("--arch", arch,
                                     "architecture: " + architecture_names() +
                                         " (default: the weight file's metadata, else resnet50)")
                          ->capture_default_str();
        app.add_option("--num-classes", num_classes, "classes of the head")->capture_default_str()->check(integer_in(1, 1e7));
        app.add_option("--in-channels", in_channels, "input channels")->capture_default_str()->check(integer_in(1, 64));
        app.add_flag("--small-stem", small_stem, "ResNets: 3x3 stride-1 stem without max pooling (28x28, 32x32 inputs)");
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
};

}  // namespace smile::cli
