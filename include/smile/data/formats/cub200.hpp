#pragma once
/// @file
/// CUB-200-2011 in its official layout:
///   root/images.txt              "<id> <relative path under images/>"
///   root/image_class_labels.txt  "<id> <class id, 1-based>"
///   root/train_test_split.txt    "<id> <1 = train, 0 = test>"
///   root/classes.txt             "<class id> <name>"
///   root/bounding_boxes.txt      "<id> <x> <y> <width> <height>" (optional, for cropping)
///   root/images/<class folder>/<file>.jpg
/// 200 classes, 5,994 training and 5,794 test images.

#include <map>

#include <smile/data/dataset.hpp>
#include <smile/data/formats/text_lines.hpp>

namespace smile::data::formats {

struct cub200_options {
    bool crop_to_box = false;  ///< crop each image to its annotated bounding box
};

inline dataset read_cub200(const std::filesystem::path& root, const cub200_options& o = {}) {
    for (const char* f : {"images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt"})
        require_file(root / f, "cub200");
    dataset d;
    d.format = "cub200";
    d.root = root / "images";
    std::map<long long, std::string> paths;
    std::map<long long, long long> labels, is_train;
    std::map<long long, crop_box> boxes;
    const auto classes_file = root / "classes.txt";
    std::map<long long, std::string> class_names;
    for (const auto& line : read_lines(classes_file)) {
        const auto [id, name] = split_first(classes_file, line);
        class_names[parse_integer(classes_file, line, id, "class id")] = name;
    }
    long long expected = 1;
    for (const auto& [id, name] : class_names) {
        if (id != expected) detail::fail(classes_file.string(), ": class ids must run 1..N without gaps, missing ", expected);
        d.classes.push_back(name);
        ++expected;
    }
    auto read_map = [&](const char* file, auto&& store) {
        const auto path = root / file;
        for (const auto& line : read_lines(path)) {
            const auto [id, value] = split_first(path, line);
            store(path, line, parse_integer(path, line, id, "image id"), value);
        }
    };
    read_map("images.txt", [&](auto&, auto&, long long id, const std::string& v) { paths[id] = v; });
    read_map("image_class_labels.txt", [&](auto& path, auto& line, long long id, const std::string& v) {
        const long long label = parse_integer(path, line, v, "class id");
        if (label < 1 || label > d.num_classes())
            fail_at(path, line, "class id ", label, " is outside 1..", d.num_classes());
        labels[id] = label - 1;
    });
    read_map("train_test_split.txt", [&](auto& path, auto& line, long long id, const std::string& v) {
        const long long flag = parse_integer(path, line, v, "split flag");
        if (flag != 0 && flag != 1) fail_at(path, line, "split flag must be 0 or 1");
        is_train[id] = flag;
    });
    if (o.crop_to_box) {
        require_file(root / "bounding_boxes.txt", "cub200 (crop_to_box)");
        const auto path = root / "bounding_boxes.txt";
        for (const auto& line : read_lines(path)) {
            std::istringstream in(line.text);
            std::string id, x, y, w, h, extra;
            if (!(in >> id >> x >> y >> w >> h) || (in >> extra)) fail_at(path, line, "expected <id> <x> <y> <width> <height>");
            boxes[parse_integer(path, line, id, "image id")] = {
                parse_pixels(path, line, y, "y"), parse_pixels(path, line, x, "x"),
                parse_pixels(path, line, h, "height"), parse_pixels(path, line, w, "width")};
        }
    }
    for (const auto& [id, path] : paths) {
        if (!labels.count(id)) detail::fail((root / "image_class_labels.txt").string(), ": no label for image ", id, " (", path, ")");
        if (!is_train.count(id)) detail::fail((root / "train_test_split.txt").string(), ": no split for image ", id, " (", path, ")");
        sample s{path, static_cast<std::int32_t>(labels[id]), std::nullopt, -1};
        if (o.crop_to_box) {
            if (!boxes.count(id)) detail::fail((root / "bounding_boxes.txt").string(), ": no box for image ", id);
            s.box = boxes[id];
        }
        (is_train[id] ? d.train : d.test).push_back(std::move(s));
    }
    d.validate();
    return d;
}

}  // namespace smile::data::formats
