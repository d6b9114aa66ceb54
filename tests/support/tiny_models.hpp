#pragma once
/// @file
/// The tiny transfer setting of the method tests: a 1-channel CIFAR ResNet-8 "pretrained" on 5
/// source classes (random weights and BN statistics, saved as a weight file), a synthetic
/// 3-class target of 8×8 images, and its pipeline.

#include <filesystem>
#include <memory>
#include <string>

#include <smile/data/synthetic.hpp>
#include <smile/io/weights.hpp>
#include <smile/models/architecture.hpp>

#include "random_data.hpp"

namespace smile::test {

inline resnet_config tiny_arch() {
    auto a = cifar_resnet(8);
    a.in_channels = 1;
    return a;
}

/// A tiny pretrained source network file, `tag` naming it apart from other tests' files.
template <class B>
std::filesystem::path tiny_pretrained(session<B>& s, std::uint64_t seed, const std::string& tag) {
    rng gen(seed);
    auto source = make_classifier<B>(s, gen, tiny_arch(), {5, 0});
    rng stats(seed + 1);
    source.visit_buffers("", [&](const std::string& n, tensor<B>& t) {
        if (n.find("running_var") != std::string::npos) t.copy_from_host(uniform_values(stats, t.size(), 0.5, 1.5));
    });
    const auto p = std::filesystem::temp_directory_path() / ("smile_" + tag + "_source_" + std::to_string(seed) + ".safetensors");
    io::save_weights<B>(source, p);
    return p;
}

inline std::shared_ptr<data::dataset> tiny_target(std::uint64_t seed = 5) {
    return std::make_shared<data::dataset>(data::make_synthetic({3, 16, 8, 8, 1, 40.0, 7, 0, 0.5}, seed));
}

inline data::pipeline tiny_pipeline() {
    data::pipeline p;
    return p.gray().resize(8, 8).normalize({{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}});
}

}  // namespace smile::test
