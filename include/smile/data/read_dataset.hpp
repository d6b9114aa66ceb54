#pragma once
/// @file
/// Reading any supported dataset by format name (the `--format` of `smile split`,
/// `smile finetune` and `smile pretrain`), and locating the packaged real datasets.

#include <cstdlib>

#include <smile/data/formats/aircraft.hpp>
#include <smile/data/formats/cub200.hpp>
#include <smile/data/formats/food101.hpp>
#include <smile/data/formats/idx.hpp>
#include <smile/data/formats/image_folder.hpp>
#include <smile/data/formats/indoor67.hpp>
#include <smile/data/formats/stanford_cars.hpp>
#include <smile/data/formats/uci_digits.hpp>

namespace smile::data {

struct read_options {
    bool crop_to_box = false;            ///< cub200, cars: crop to the annotated box
    bool crop_banner = false;            ///< aircraft: remove the 20-pixel banner
    std::string train_list, test_list;   ///< list: the list files (relative to root if relative)
    std::string classes_file;            ///< list: optional class names
};

/// The formats `read_dataset` accepts.
inline const char* dataset_formats() {
    return "cub200, cars, aircraft, indoor67, food101, imagefolder, list, mnist, fashion-mnist, idx, digits";
}

/// Reads a dataset of `format` at `root` (for `digits`, root is the digits.csv.gz file).
inline dataset read_dataset(const std::string& format, const std::filesystem::path& root, const read_options& o = {}) {
    if (format == "cub200") return formats::read_cub200(root, {o.crop_to_box});
    if (format == "cars") return formats::read_stanford_cars(root, {o.crop_to_box});
    if (format == "aircraft") return formats::read_aircraft(root, {"trainval", o.crop_banner});
    if (format == "indoor67") return formats::read_indoor67(root);
    if (format == "food101") return formats::read_food101(root);
    if (format == "imagefolder") return formats::read_image_folder(root);
    if (format == "list") {
        SMILE_CHECK(!o.train_list.empty() && !o.test_list.empty(),
                    "list format: give the train and test list files");
        auto resolve = [&](const std::string& p) { return std::filesystem::path(p).is_absolute() ? std::filesystem::path(p) : root / p; };
        return formats::read_list_dataset(root, resolve(o.train_list), resolve(o.test_list),
                                          o.classes_file.empty() ? std::filesystem::path{} : resolve(o.classes_file));
    }
    if (format == "mnist" || format == "idx") return formats::read_idx_dataset(root, format);
    if (format == "fashion-mnist")
        return formats::read_idx_dataset(root, format, {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"});
    if (format == "digits") return formats::read_uci_digits(std::filesystem::is_directory(root) ? root / "digits.csv.gz" : root);
    detail::fail("unknown dataset format '", format, "' (expected one of ", dataset_formats(), ")");
}

/// Where the packaged real datasets are (scripts/fetch-data.sh installs them): $SMILE_DATA or
/// <repository>/.data, with Fashion-MNIST also found in Debian's /usr/share/datasets.
inline std::filesystem::path packaged_data_root() {
    if (const char* env = std::getenv("SMILE_DATA"); env != nullptr && *env != '\0') return env;
    return ".data";
}

/// The packaged dataset `name` (mnist, fashion-mnist, digits): its root for `read_dataset`.
inline std::filesystem::path packaged_dataset(const std::string& name) {
    namespace fs = std::filesystem;
    const fs::path root = packaged_data_root();
    if (name == "mnist" && fs::exists(root / "mnist" / "train-images-idx3-ubyte")) return root / "mnist";
    if (name == "fashion-mnist") {
        for (const fs::path& p : {root / "fashion-mnist", fs::path("/usr/share/datasets/fashion-mnist")})
            if (fs::exists(p / "train-images-idx3-ubyte.gz") || fs::exists(p / "train-images-idx3-ubyte")) return p;
    }
    if (name == "digits" && fs::exists(root / "digits" / "digits.csv.gz")) return root / "digits" / "digits.csv.gz";
    detail::fail("packaged dataset '", name, "' not found under ", root.string(),
                 " (run scripts/fetch-data.sh, or set SMILE_DATA)");
}

}  // namespace smile::data
