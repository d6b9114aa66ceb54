#pragma once
/// @file
/// Deterministic synthetic image datasets held in memory, for tests and examples that must run
/// without any download: every class has a random prototype image, and each sample is its
/// class prototype plus pixel noise. Two datasets with different `domain` seeds but the same
/// `shared` fraction of prototype content are related tasks (a source and a target).

#include <smile/core/random.hpp>
#include <smile/data/dataset.hpp>

namespace smile::data {

struct synthetic_options {
    std::int64_t classes = 4;
    std::int64_t train_per_class = 16;
    std::int64_t test_per_class = 8;
    std::int64_t size = 8;         ///< images are size × size
    std::int64_t channels = 1;
    double noise = 40.0;           ///< pixel noise standard deviation (0..255 scale)
    std::uint64_t domain = 0;      ///< seed of this dataset's prototypes
    std::uint64_t shared = 0;      ///< seed of the prototype content shared across domains
    double shared_weight = 0.5;    ///< how much of each prototype is the shared content
};

[[nodiscard]] inline dataset make_synthetic(const synthetic_options& o, std::uint64_t seed) {
    auto images = std::make_shared<memory_images>();
    images->width = images->height = o.size;
    images->channels = o.channels;
    const auto pixels = std::size_t(o.size * o.size * o.channels);
    std::vector<std::vector<double>> prototypes(std::size_t(o.classes), std::vector<double>(pixels));
    for (std::int64_t c = 0; c < o.classes; ++c) {
        rng own = rng::derive(o.domain, 1, std::uint64_t(c));
        rng common = rng::derive(o.shared, 2, std::uint64_t(c));
        for (auto& v : prototypes[std::size_t(c)])
            v = 128.0 + 90.0 * ((1.0 - o.shared_weight) * (own.uniform() * 2 - 1) + o.shared_weight * (common.uniform() * 2 - 1));
    }
    dataset d;
    d.format = "synthetic";
    for (std::int64_t c = 0; c < o.classes; ++c) d.classes.push_back("class" + std::to_string(c));
    rng noise(seed);
    std::int64_t index = 0;
    for (auto [split, per_class] : {std::pair{&d.train, o.train_per_class}, std::pair{&d.test, o.test_per_class}})
        for (std::int64_t i = 0; i < per_class; ++i)
            for (std::int64_t c = 0; c < o.classes; ++c) {
                for (double p : prototypes[std::size_t(c)])
                    images->pixels.push_back(static_cast<std::uint8_t>(std::clamp(p + noise.normal(0.0, o.noise), 0.0, 255.0)));
                split->push_back({{}, std::int32_t(c), std::nullopt, index++, 0});
            }
    d.memory = images;
    return d;
}

}  // namespace smile::data
