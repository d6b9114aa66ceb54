#pragma once
/// @file
/// MIT-Indoor-67 with the official split files:
///   root/TrainImages.txt, root/TestImages.txt   "<category>/<file>.jpg" per line
///   root/Images/<category>/<file>.jpg
/// Classes are the categories in sorted order (67).

#include <set>

#include <smile/data/dataset.hpp>
#include <smile/data/formats/text_lines.hpp>

namespace smile::data::formats {

inline dataset read_indoor67(const std::filesystem::path& root) {
    const auto train_file = root / "TrainImages.txt", test_file = root / "TestImages.txt";
    require_file(train_file, "indoor67");
    require_file(test_file, "indoor67");
    const auto train_lines = read_lines(train_file), test_lines = read_lines(test_file);
    std::set<std::string> categories;
    auto category = [](const std::filesystem::path& file, const text_line& line) {
        const auto slash = line.text.find('/');
        if (slash == std::string::npos || slash == 0) fail_at(file, line, "expected <category>/<file>");
        return line.text.substr(0, slash);
    };
    for (const auto& line : train_lines) categories.insert(category(train_file, line));
    dataset d;
    d.format = "indoor67";
    d.root = root / "Images";
    d.classes.assign(categories.begin(), categories.end());
    auto add = [&](const std::filesystem::path& file, const std::vector<text_line>& lines, std::vector<sample>& out) {
        for (const auto& line : lines) {
            const auto it = std::lower_bound(d.classes.begin(), d.classes.end(), category(file, line));
            if (it == d.classes.end() || *it != category(file, line))
                fail_at(file, line, "category not present in TrainImages.txt");
            out.push_back({line.text, static_cast<std::int32_t>(it - d.classes.begin()), std::nullopt, -1, 0});
        }
    };
    add(train_file, train_lines, d.train);
    add(test_file, test_lines, d.test);
    d.validate();
    return d;
}

}  // namespace smile::data::formats
