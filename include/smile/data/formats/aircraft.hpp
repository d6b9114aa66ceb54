#pragma once
/// @file
/// FGVC-Aircraft (fgvc-aircraft-2013b) at the variant level:
///   root/data/variants.txt                    one class name per line (names contain spaces)
///   root/data/images_variant_trainval.txt     "<image id> <variant name>"
///   root/data/images_variant_test.txt
///   root/data/images/<image id>.jpg
/// 100 classes, 6,667 trainval and 3,333 test images (the SMILE paper's "6,677" is a typo).
/// `crop_banner` removes the 20-pixel copyright banner at the bottom of every image; none of the
/// reference implementations says whether they did, so it is off by default.

#include <map>

#include <smile/data/dataset.hpp>
#include <smile/data/formats/text_lines.hpp>

namespace smile::data::formats {

struct aircraft_options {
    std::string train_split = "trainval";  ///< "trainval" (the papers) or "train"
    bool crop_banner = false;
};

inline dataset read_aircraft(const std::filesystem::path& root, const aircraft_options& o = {}) {
    const auto data = root / "data";
    require_file(data / "variants.txt", "aircraft");
    dataset d;
    d.format = "aircraft";
    d.root = data / "images";
    std::map<std::string, std::int32_t> index;
    for (const auto& line : read_lines(data / "variants.txt")) {
        if (index.count(line.text)) fail_at(data / "variants.txt", line, "duplicate variant");
        index[line.text] = static_cast<std::int32_t>(d.classes.size());
        d.classes.push_back(line.text);
    }
    auto read_split = [&](const std::string& split, std::vector<sample>& out) {
        const auto path = data / ("images_variant_" + split + ".txt");
        require_file(path, "aircraft");
        for (const auto& line : read_lines(path)) {
            const auto [id, variant] = split_first(path, line);
            const auto it = index.find(variant);
            if (it == index.end()) fail_at(path, line, "variant '", variant, "' is not in variants.txt");
            out.push_back({id + ".jpg", it->second, std::nullopt, -1, o.crop_banner ? 20 : 0});
        }
    };
    SMILE_CHECK(o.train_split == "trainval" || o.train_split == "train",
                "aircraft: train_split must be trainval or train, got ", o.train_split);
    read_split(o.train_split, d.train);
    read_split("test", d.test);
    d.validate();
    return d;
}

}  // namespace smile::data::formats
