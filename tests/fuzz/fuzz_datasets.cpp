// Fuzz target: the text metadata of every dataset layout (CUB-200-2011, FGVC-Aircraft,
// MIT-Indoor-67, Food-101, list files) and the UCI digits CSV. The first byte chooses the
// layout; the rest is split at "\n=====\n" into that layout's files, in the order below.
#include <smile/data/read_dataset.hpp>

#include "fuzz_input.hpp"

namespace {
struct layout {
    const char* format;
    std::vector<const char*> files;
};
const std::vector<layout>& layouts() {
    static const std::vector<layout> all{
        {"cub200", {"images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt", "bounding_boxes.txt"}},
        {"aircraft", {"data/variants.txt", "data/images_variant_trainval.txt", "data/images_variant_test.txt"}},
        {"indoor67", {"TrainImages.txt", "TestImages.txt"}},
        {"food101", {"meta/classes.txt", "meta/train.txt", "meta/test.txt"}},
        {"list", {"train.txt", "test.txt", "classes.txt"}},
        {"digits", {"digits.csv.gz"}},
    };
    return all;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const layout& l = layouts()[data[0] % layouts().size()];
    const auto root = smile::fuzz::scratch() / "dataset";
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
    const auto pieces = smile::fuzz::split(smile::fuzz::as_view(data + 1, size - 1), "\n=====\n");
    for (std::size_t i = 0; i < l.files.size() && i < pieces.size(); ++i) smile::fuzz::write_bytes(root / l.files[i], pieces[i]);
    try {
        smile::data::read_options o;
        o.crop_to_box = (data[0] / layouts().size()) & 1;
        o.train_list = "train.txt";
        o.test_list = "test.txt";
        if (pieces.size() > 2) o.classes_file = "classes.txt";
        const auto d = smile::data::read_dataset(l.format, std::string(l.format) == "digits" ? root / "digits.csv.gz" : root, o);
        for (const auto* split : {&d.train, &d.test})
            for (const auto& s : *split)
                if (s.label < 0 || s.label >= d.num_classes()) __builtin_trap();
    } catch (const smile::error& e) {
        smile::fuzz::refused(e);
    }
    return 0;
}
