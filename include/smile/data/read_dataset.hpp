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

/// Where the packaged real datasets may be, in the order they are looked for:
/// 1. $SMILE_DATA (then nothing else);
/// 2. .data in the working directory;
/// 3. .data in a folder above the running program (a build folder inside the repository finds
///    the repository's .data, from any working directory);
/// 4. $XDG_CACHE_HOME/smile, else ~/.cache/smile (SMILE_DATA=~/.cache/smile scripts/fetch-data.sh
///    installs there).
inline std::vector<std::filesystem::path> packaged_data_candidates() {
    namespace fs = std::filesystem;
    if (const char* env = std::getenv("SMILE_DATA"); env != nullptr && *env != '\0') return {env};
    std::vector<fs::path> out{".data"};
    std::error_code ec;
    const fs::path program = fs::read_symlink("/proc/self/exe", ec);
    if (!ec)
        for (fs::path dir = program.parent_path(); !dir.empty() && dir != dir.root_path();
             dir = dir.parent_path())
            out.push_back(dir / ".data");
    if (const char* cache = std::getenv("XDG_CACHE_HOME"); cache != nullptr && *cache != '\0')
        out.push_back(fs::path(cache) / "smile");
    else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
        out.push_back(fs::path(home) / ".cache" / "smile");
    return out;
}

/// The first of `packaged_data_candidates()` that exists (the first candidate when none does).
inline std::filesystem::path packaged_data_root() {
    const auto candidates = packaged_data_candidates();
    for (const auto& c : candidates) {
        std::error_code ec;
        if (std::filesystem::is_directory(c, ec)) return c;
    }
    return candidates.front();
}

/// The packaged dataset `name` (mnist, fashion-mnist, digits): its root for `read_dataset`, from
/// the first candidate folder that holds it (Fashion-MNIST also from Debian's
/// /usr/share/datasets/fashion-mnist).
inline std::filesystem::path packaged_dataset(const std::string& name) {
    namespace fs = std::filesystem;
    const auto candidates = packaged_data_candidates();
    for (const fs::path& root : candidates) {
        if (name == "mnist" && fs::exists(root / "mnist" / "train-images-idx3-ubyte"))
            return root / "mnist";
        if (name == "fashion-mnist" &&
            (fs::exists(root / "fashion-mnist" / "train-images-idx3-ubyte.gz") ||
             fs::exists(root / "fashion-mnist" / "train-images-idx3-ubyte")))
            return root / "fashion-mnist";
        if (name == "digits" && fs::exists(root / "digits" / "digits.csv.gz"))
            return root / "digits" / "digits.csv.gz";
    }
    if (name == "fashion-mnist" &&
        fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
        return "/usr/share/datasets/fashion-mnist";
    std::string looked;
    for (const auto& c : candidates) looked += (looked.empty() ? "" : ", ") + c.string();
    detail::fail("packaged dataset '", name, "' not found (looked in ", looked,
                 "; run scripts/fetch-data.sh, or set SMILE_DATA)");
}

}  // namespace smile::data
