#pragma once
// Options shared by the subcommands that build a ResNet classifier.

#include <string>

#include <CLI/CLI.hpp>

#include "smile/validators.hpp"

#include <smile/models/resnet_config.hpp>

namespace smile::cli {

struct model_options {
    std::string arch = "resnet50";
    std::int64_t num_classes = 1000;
    std::int64_t in_channels = 3;
    bool small_stem = false;

    void add_to(CLI::App& app) {
        app.add_option("--arch", arch, std::string("architecture: ") + resnet_names())->capture_default_str();
        app.add_option("--num-classes", num_classes, "classes of the head")->capture_default_str()->check(integer_in(1, 1e7));
        app.add_option("--in-channels", in_channels, "input channels")->capture_default_str()->check(integer_in(1, 64));
        app.add_flag("--small-stem", small_stem, "3x3 stride-1 stem without max pooling (28x28, 32x32 inputs)");
    }

    /// The ResNet configuration; throws naming the option when the architecture is unknown.
    [[nodiscard]] resnet_config config() const {
        auto c = resnet_by_name(arch);
        if (!c) detail::fail("--arch: unknown architecture '", arch, "' (expected one of ", resnet_names(), ")");
        c->in_channels = in_channels;
        if (small_stem) c->stem = stem_kind::small;
        return *c;
    }
};

}  // namespace smile::cli
