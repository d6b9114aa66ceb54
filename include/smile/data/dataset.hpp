#pragma once
/// @file
/// `dataset`: a labelled image collection with its official train and test splits.
///
/// A sample names an image file relative to the dataset's root (optionally with a crop box,
/// as Stanford Cars' annotations or FGVC-Aircraft's banner), or an image held in memory
/// (IDX files and the UCI digits, which are small enough to keep decoded). Labels are 0-based
/// indices into `classes`.

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <smile/data/codec.hpp>
#include <smile/data/transforms.hpp>

namespace smile::data {

struct sample {
    std::string path;                 ///< relative to the dataset root (files)
    std::int32_t label = 0;
    std::optional<crop_box> box;      ///< crop applied after decoding
    std::int64_t memory_index = -1;   ///< index into dataset::memory (in-memory images)
    std::int32_t trim_bottom = 0;     ///< rows removed at the bottom (FGVC-Aircraft's banner)
};

/// Decoded images kept in memory, all of one size.
struct memory_images {
    std::int64_t width = 0, height = 0, channels = 0;
    std::vector<std::uint8_t> pixels;  ///< count · height · width · channels
    [[nodiscard]] std::int64_t count() const {
        return width * height * channels == 0 ? 0 : std::int64_t(pixels.size()) / (width * height * channels);
    }
    [[nodiscard]] image at(std::int64_t i) const {
        image img(width, height, channels);
        const std::size_t n = img.pixels.size();
        std::copy_n(pixels.begin() + static_cast<std::ptrdiff_t>(std::size_t(i) * n), n, img.pixels.begin());
        return img;
    }
};

struct dataset {
    std::string format;                ///< "cub200", "cars", "mnist", ...
    std::filesystem::path root;
    std::vector<std::string> classes;
    std::vector<sample> train, test;
    std::shared_ptr<const memory_images> memory;

    [[nodiscard]] std::int64_t num_classes() const { return std::int64_t(classes.size()); }

    /// Decodes (or fetches) a sample's image and applies its crop box.
    [[nodiscard]] image load(const sample& s) const {
        image img;
        if (s.memory_index >= 0) {
            SMILE_CHECK(memory && s.memory_index < memory->count(), format, ": in-memory image ", s.memory_index,
                        " does not exist");
            img = memory->at(s.memory_index);
        } else {
            img = read_image(root / s.path);
        }
        if (s.trim_bottom > 0) {
            SMILE_CHECK(img.height > s.trim_bottom, describe(s), ": image of height ", img.height,
                        " is too small to remove a ", s.trim_bottom, "-pixel banner");
            img = crop(img, 0, 0, img.height - s.trim_bottom, img.width);
        }
        if (!s.box) return img;
        // Clip the annotated box to the image (annotations may exceed it by a pixel).
        const std::int64_t top = std::clamp<std::int64_t>(s.box->top, 0, img.height - 1);
        const std::int64_t left = std::clamp<std::int64_t>(s.box->left, 0, img.width - 1);
        const std::int64_t bottom = std::clamp<std::int64_t>(s.box->top + s.box->height, top + 1, img.height);
        const std::int64_t right = std::clamp<std::int64_t>(s.box->left + s.box->width, left + 1, img.width);
        return crop(img, top, left, bottom - top, right - left);
    }

    /// Where a sample comes from, for messages.
    [[nodiscard]] std::string describe(const sample& s) const {
        if (s.memory_index >= 0) return format + " image #" + std::to_string(s.memory_index);
        return (root / s.path).string();
    }

    /// Throws when a label is outside the class list, naming the sample.
    void validate() const {
        SMILE_CHECK(!classes.empty(), format, " at ", root.string(), ": no classes");
        for (const auto* split : {&train, &test})
            for (const auto& s : *split)
                SMILE_CHECK(s.label >= 0 && s.label < num_classes(), format, ": ", describe(s), " has label ",
                            s.label, ", outside the ", num_classes(), " classes");
    }
};

/// Number of samples of each class.
template <class Example>
[[nodiscard]] std::vector<std::int64_t> class_counts(const std::vector<Example>& samples,
                                                     std::int64_t classes) {
    std::vector<std::int64_t> counts(std::size_t(classes), 0);
    for (const auto& s : samples) ++counts.at(std::size_t(s.label));
    return counts;
}

}  // namespace smile::data
