#pragma once
/// @file
/// Food-101 in its official layout:
///   root/meta/classes.txt            one class name per line (101)
///   root/meta/train.txt, test.txt    "<class>/<image id>" per line (no extension)
///   root/images/<class>/<image id>.jpg
/// 75,750 training and 25,250 test images.

#include <map>

#include <smile/data/dataset.hpp>
#include <smile/data/formats/text_lines.hpp>

namespace smile::data::formats {

inline dataset read_food101(const std::filesystem::path& root) {
    const auto meta = root / "meta";
    require_file(meta / "classes.txt", "food101");
    dataset d;
    d.format = "food101";
    d.root = root / "images";
    std::map<std::string, std::int32_t> index;
    for (const auto& line : read_lines(meta / "classes.txt")) {
        index[line.text] = static_cast<std::int32_t>(d.classes.size());
        d.classes.push_back(line.text);
    }
    auto read_split = [&](const char* file, std::vector<sample>& out) {
        const auto path = meta / file;
        require_file(path, "food101");
        for (const auto& line : read_lines(path)) {
            const auto slash = line.text.find('/');
            if (slash == std::string::npos) fail_at(path, line, "expected <class>/<image id>");
            const auto it = index.find(line.text.substr(0, slash));
            if (it == index.end()) fail_at(path, line, "class '", line.text.substr(0, slash), "' is not in classes.txt");
            out.push_back({line.text + ".jpg", it->second, std::nullopt, -1, 0});
        }
    };
    read_split("train.txt", d.train);
    read_split("test.txt", d.test);
    d.validate();
    return d;
}

}  // namespace smile::data::formats
