#pragma once
/// @file
/// torchvision's ImageFolder layout, which the SMILE, DELTA and RIFLE runners expect:
///   root/train/<class>/<image>, root/test/<class>/<image>
/// Classes are the sorted folder names of train/; files with an image extension, sorted.

#include <algorithm>
#include <map>

#include <smile/data/dataset.hpp>
#include <smile/data/formats/text_lines.hpp>

namespace smile::data::formats {

inline bool has_image_extension(const std::filesystem::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

inline dataset read_image_folder(const std::filesystem::path& root) {
    namespace fs = std::filesystem;
    for (const char* split : {"train", "test"})
        if (!fs::is_directory(root / split))
            detail::fail("imagefolder: missing ", (root / split).string(), " (expected root/train/<class>/* and root/test/<class>/*)");
    dataset d;
    d.format = "imagefolder";
    d.root = root;
    for (const auto& e : fs::directory_iterator(root / "train"))
        if (e.is_directory()) d.classes.push_back(e.path().filename().string());
    std::sort(d.classes.begin(), d.classes.end());
    if (d.classes.empty()) detail::fail("imagefolder: ", (root / "train").string(), " has no class folders");
    for (const auto& [split, out] : {std::pair{"train", &d.train}, std::pair{"test", &d.test}}) {
        for (const auto& e : fs::directory_iterator(root / split)) {
            if (!e.is_directory()) continue;
            const auto name = e.path().filename().string();
            const auto it = std::lower_bound(d.classes.begin(), d.classes.end(), name);
            if (it == d.classes.end() || *it != name)
                detail::fail("imagefolder: ", e.path().string(), " is a class that ", (root / "train").string(), " lacks");
        }
        for (std::size_t c = 0; c < d.classes.size(); ++c) {
            const auto dir = root / split / d.classes[c];
            if (!fs::is_directory(dir)) continue;
            std::vector<std::string> files;
            for (const auto& e : fs::directory_iterator(dir))
                if (e.is_regular_file() && has_image_extension(e.path())) files.push_back(e.path().filename().string());
            std::sort(files.begin(), files.end());
            for (const auto& f : files)
                out->push_back({std::string(split) + "/" + d.classes[c] + "/" + f, static_cast<std::int32_t>(c), std::nullopt, -1, 0});
        }
    }
    d.validate();
    return d;
}

/// Reads "relative/path label" lines (the last token is the 0-based label; paths may contain
/// spaces), the format of TLlib's image lists and of `smile split`'s output.
inline std::vector<sample> read_list_file(const std::filesystem::path& list, std::int64_t num_classes) {
    std::vector<sample> out;
    for (const auto& line : read_lines(list)) {
        const auto [path, label] = split_last(list, line);
        const long long l = parse_integer(list, line, label, "label");
        if (l < 0 || (num_classes > 0 && l >= num_classes))
            fail_at(list, line, "label ", l, " is outside 0..", num_classes - 1);
        out.push_back({path, static_cast<std::int32_t>(l), std::nullopt, -1, 0});
    }
    return out;
}

/// A dataset given by list files relative to `root`; class names from `classes_file` (one per
/// line) when given, else "0", "1", ... up to the largest label.
inline dataset read_list_dataset(const std::filesystem::path& root, const std::filesystem::path& train_list,
                                 const std::filesystem::path& test_list, const std::filesystem::path& classes_file = {}) {
    dataset d;
    d.format = "list";
    d.root = root;
    if (!classes_file.empty())
        for (const auto& line : read_lines(classes_file)) d.classes.push_back(line.text);
    const std::int64_t known = std::int64_t(d.classes.size());
    d.train = read_list_file(train_list, known);
    d.test = read_list_file(test_list, known);
    if (d.classes.empty()) {
        // Classes named by number up to the largest label: bounded, so that one mistyped label
        // cannot ask for billions of names (found by fuzz_datasets: 2 GB for a label of 2^31 - 1).
        constexpr std::int32_t max_numbered_classes = 1000000;
        std::int32_t top = -1;
        for (const auto& [split, list] :
             {std::pair{&d.train, &train_list}, std::pair{&d.test, &test_list}})
            for (const auto& s : *split) {
                if (s.label >= max_numbered_classes)
                    detail::fail(
                        list->string(), ": ", s.path, " has label ", s.label,
                        ", which makes more than ", max_numbered_classes,
                        " classes; name them in a classes file (one per line) if they are real");
                top = std::max(top, s.label);
            }
        for (std::int32_t c = 0; c <= top; ++c) d.classes.push_back(std::to_string(c));
    }
    d.validate();
    return d;
}

}  // namespace smile::data::formats
