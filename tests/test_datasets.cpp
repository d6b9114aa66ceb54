// Dataset readers on miniature copies of each official layout, sampling protocols, and every
// bad-input case.
#include <doctest/doctest.h>

#include <fstream>

#include <smile/data/read_dataset.hpp>
#include <smile/data/sampling.hpp>

#include "dataset_builder.hpp"

using namespace smile::data;
using smile::test::temp_tree;
using smile::test::write_image;
using smile::test::write_text;
namespace fs = std::filesystem;

namespace {

/// CUB-200-2011: 3 classes × (3 train + 2 test), one grayscale and one PNG-as-jpg among them.
void make_cub(const fs::path& root) {
    std::string images, labels, split, boxes;
    int id = 1;
    for (int c = 0; c < 3; ++c)
        for (int i = 0; i < 5; ++i, ++id) {
            const std::string rel = "00" + std::to_string(c + 1) + ".Bird_" + std::to_string(c) + "/bird_" + std::to_string(i) + ".jpg";
            write_image(root / "images" / rel, 31 + i, 20 + c, (c == 1 && i == 0) ? 1 : 3, c, i);
            images += std::to_string(id) + " " + rel + "\n";
            labels += std::to_string(id) + " " + std::to_string(c + 1) + "\n";
            split += std::to_string(id) + " " + (i < 3 ? "1" : "0") + "\n";
            boxes += std::to_string(id) + " 2.0 3.0 10.0 8.0\n";
        }
    write_text(root / "images.txt", images);
    write_text(root / "image_class_labels.txt", labels);
    write_text(root / "train_test_split.txt", split);
    write_text(root / "bounding_boxes.txt", boxes);
    write_text(root / "classes.txt", "1 001.Bird_0\n2 002.Bird_1\n3 003.Bird_2\n");
}

}  // namespace

TEST_CASE("cub200: counts, labels, class names, splits and boxes") {
    temp_tree t("cub");
    make_cub(t.root);
    read_options boxes;
    boxes.crop_to_box = true;
    const auto d = read_dataset("cub200", t.root, boxes);
    CHECK(d.classes == std::vector<std::string>{"001.Bird_0", "002.Bird_1", "003.Bird_2"});
    CHECK(d.train.size() == 9);
    CHECK(d.test.size() == 6);
    CHECK(class_counts(d.train, 3) == std::vector<std::int64_t>{3, 3, 3});
    CHECK(d.train[3].label == 1);
    const image img = d.load(d.train[3]);  // grayscale, cropped to the 10x8 box at (x 2, y 3)
    CHECK(img.channels == 1);
    CHECK(img.width == 10);
    CHECK(img.height == 8);
    const auto uncropped = read_dataset("cub200", t.root);
    CHECK(uncropped.load(uncropped.train[0]).width == 31);
    write_text(t.root / "bounding_boxes.txt", "1 2.0 3.0 10.0 8.0\n2 1e128 3.0 10.0 8.0\n");
    CHECK_THROWS_WITH_AS(
        read_dataset("cub200", t.root, boxes),
        doctest::Contains("bounding_boxes.txt:2: x 1e128 is not a pixel position (0..1000000)"),
        smile::error);
}

TEST_CASE("cub200: bad metadata is reported with file and line") {
    temp_tree t("cub_bad");
    make_cub(t.root);
    write_text(t.root / "image_class_labels.txt", "1 1\n2 7\n");
    CHECK_THROWS_WITH_AS(read_dataset("cub200", t.root), doctest::Contains("image_class_labels.txt:2: class id 7 is outside 1..3"),
                         smile::error);
    write_text(t.root / "image_class_labels.txt", "1 one\n");
    CHECK_THROWS_WITH_AS(read_dataset("cub200", t.root), doctest::Contains("image_class_labels.txt:1: class id 'one' is not an integer"),
                         smile::error);
    fs::remove(t.root / "train_test_split.txt");
    CHECK_THROWS_WITH_AS(read_dataset("cub200", t.root), doctest::Contains("cub200: missing"), smile::error);
    CHECK_THROWS_WITH_AS(read_dataset("cub201", t.root), doctest::Contains("unknown dataset format 'cub201'"), smile::error);
}

TEST_CASE("stanford cars: devkit .mat files through libmatio, with boxes") {
    temp_tree t("cars");
    fs::create_directories(t.root / "devkit");
    smile::test::mat_writer(t.root / "devkit" / "cars_meta.mat").write_cell("class_names", {"AM General Hummer SUV 2000", "Acura RL Sedan 2012"});
    std::vector<smile::test::mat_writer::car> train, test;
    for (int i = 0; i < 4; ++i) {
        const std::string f = "0000" + std::to_string(i + 1) + ".jpg";
        write_image(t.root / "cars_train" / f, 40, 30, 3, i % 2, i);
        train.push_back({3, 4, 22, 19, i % 2 + 1, f});
        write_image(t.root / "cars_test" / f, 41, 29, 3, i % 2, i);
        test.push_back({1, 1, 41, 29, (i + 1) % 2 + 1, f});
    }
    smile::test::mat_writer(t.root / "devkit" / "cars_train_annos.mat", true).write_annotations(train);  // compressed, as MATLAB saves
    smile::test::mat_writer(t.root / "cars_test_annos_withlabels.mat").write_annotations(test);
    read_options boxes;
    boxes.crop_to_box = true;
    const auto d = read_dataset("cars", t.root, boxes);
    CHECK(d.classes == std::vector<std::string>{"AM General Hummer SUV 2000", "Acura RL Sedan 2012"});
    CHECK(d.train.size() == 4);
    CHECK(d.test.size() == 4);
    CHECK(d.test[0].label == 1);
    const image img = d.load(d.train[0]);  // 1-based inclusive box (3,4)-(22,19): 20x16
    CHECK(img.width == 20);
    CHECK(img.height == 16);
    CHECK(d.load(d.test[0]).width == 41);  // the box covers the whole image
    smile::test::mat_writer(t.root / "cars_test_annos_withlabels.mat").write_annotations({{1, 1, 5, 5, 9, "00001.jpg"}});
    CHECK_THROWS_WITH_AS(read_dataset("cars", t.root), doctest::Contains("annotations(1).class 9 is outside 1..2"), smile::error);
    smile::test::mat_writer(t.root / "cars_test_annos_withlabels.mat")
        .write_annotations({{1, 0, 5, 5, 1, "00001.jpg"}});
    CHECK_THROWS_WITH_AS(
        read_dataset("cars", t.root, boxes),
        doctest::Contains(
            "annotations(1).bbox_y1 0 is not a pixel coordinate (a whole number in 1..1000000)"),
        smile::error);
}

namespace {
/// `file` with the 4 bytes at `offset` replaced by the little-endian `value`.
void patch_u32(const fs::path& file, std::size_t offset, std::uint32_t value) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(std::streamoff(offset));
    f.write(reinterpret_cast<const char*>(&value), 4);
}
}  // namespace

TEST_CASE("MAT-files: every size a file claims is backed by its bytes before libmatio reads it") {
    using smile::data::formats::detail_mat::check_mat_structure;
    using smile::data::formats::detail_mat::mat_limits;
    temp_tree t("mat");
    const auto cell = t.root / "cell.mat", packed = t.root / "packed.mat", row = t.root / "row.mat";
    smile::test::mat_writer(cell).write_cell("class_names", {"AM General Hummer SUV 2000", "Acura RL Sedan 2012"});
    smile::test::mat_writer(packed, true).write_annotations({{1, 2, 30, 20, 1, "00001.jpg"}, {3, 4, 20, 10, 2, "00002.jpg"}});
    smile::test::mat_writer(row).write_row("values", {1, 2, 3});
    for (const auto& f : {cell, packed, row}) CHECK_NOTHROW(check_mat_structure(f));

    // Level 5 layout: 128-byte header; the variable's tag (8 bytes); array flags (8 + 8); the
    // dimensions' tag at 152 and the two dimensions at 160 and 164.
    patch_u32(cell, 164, 100000000);  // a 1 x 10^8 cell in a file of ~250 bytes
    CHECK_THROWS_WITH_AS(check_mat_structure(cell), doctest::Contains("a cell array claims 100000000 elements where"),
                         smile::error);
    CHECK_THROWS_WITH_AS(smile::data::formats::detail_mat::mat_file{cell}, doctest::Contains("cell.mat: byte"), smile::error);
    patch_u32(row, 164, 1000);  // 1000 doubles in 24 bytes
    CHECK_THROWS_WITH_AS(check_mat_structure(row), doctest::Contains("dimensions claim 1000 values where the data holds 24 bytes"),
                         smile::error);
    patch_u32(row, 164, 3);
    CHECK_NOTHROW(check_mat_structure(row));
    patch_u32(row, 184, 14);  // the values' data element typed as an array
    CHECK_THROWS_WITH_AS(
        check_mat_structure(row),
        doctest::Contains("byte 192: data of type 14 where numbers or text belong"), smile::error);
    patch_u32(row, 184, 9);
    patch_u32(row, 144, 5);  // a sparse array (libmatio was made to allocate 2.5 GB by one)
    CHECK_THROWS_WITH_AS(check_mat_structure(row),
                         doctest::Contains("array class 5 (not numeric, text, cell or struct)"),
                         smile::error);
    patch_u32(row, 144, 6);
    CHECK_NOTHROW(check_mat_structure(row));
    patch_u32(row, 132, 0);  // an empty variable: libmatio would read what follows as one
    CHECK_THROWS_WITH_AS(check_mat_structure(row), doctest::Contains("byte 128: an empty variable"),
                         smile::error);
    patch_u32(row, 128, 6);  // not a variable at all
    CHECK_THROWS_WITH_AS(
        check_mat_structure(row),
        doctest::Contains("byte 128: a top-level element of type 6, not a variable"), smile::error);
    patch_u32(row, 128, 14);
    patch_u32(row, 132, 1u << 30);  // the variable's byte count beyond the file
    CHECK_THROWS_WITH_AS(check_mat_structure(row), doctest::Contains("byte 128: an element claims 1073741824 bytes where"),
                         smile::error);
    // A compressed variable inflates within a budget (a zlib bomb is refused, not inflated).
    CHECK_THROWS_WITH_AS(check_mat_structure(packed, mat_limits{1 << 20, 100, 16}),
                         doctest::Contains("inflate to more than 100 bytes"), smile::error);
    CHECK_THROWS_WITH_AS(check_mat_structure(packed, mat_limits{1 << 20, 1 << 20, 0}),
                         doctest::Contains("nested more than 0 deep"), smile::error);
    // Other MAT levels are named.
    patch_u32(row, 124, 0x4d490200);  // version 0x0200 ("IM" kept)
    CHECK_THROWS_WITH_AS(check_mat_structure(row), doctest::Contains("version 7.3 (HDF5)"), smile::error);
    patch_u32(row, 0, 0);
    CHECK_THROWS_WITH_AS(check_mat_structure(row), doctest::Contains("level 4 files are not read"), smile::error);
}

TEST_CASE("fgvc-aircraft: variant names with spaces, trainval, banner crop") {
    temp_tree t("aircraft");
    const auto data = t.root / "data";
    write_text(data / "variants.txt", "707-320\nA300B4\nDC-9-30\n");
    std::string trainval, test;
    for (int i = 0; i < 6; ++i) {
        const std::string id = "10" + std::to_string(i);
        write_image(data / "images" / (id + ".jpg"), 50, 45, 3, i % 3, i);
        (i < 4 ? trainval : test) += id + " " + std::vector<std::string>{"707-320", "A300B4", "DC-9-30"}[std::size_t(i % 3)] + "\n";
    }
    write_text(data / "images_variant_trainval.txt", trainval);
    write_text(data / "images_variant_test.txt", test);
    read_options banner;
    banner.crop_banner = true;
    auto d = read_dataset("aircraft", t.root, banner);
    CHECK(d.classes.size() == 3);
    CHECK(d.train.size() == 4);
    CHECK(d.test.size() == 2);
    CHECK(d.train[3].label == 0);
    CHECK(d.load(d.train[0]).height == 25);  // 45 − 20-pixel banner
    write_text(data / "images_variant_test.txt", "100 Boeing 777\n");
    CHECK_THROWS_WITH_AS(read_dataset("aircraft", t.root), doctest::Contains("images_variant_test.txt:1: variant 'Boeing 777' is not in variants.txt"),
                         smile::error);
}

TEST_CASE("mit-indoor-67 and food-101 layouts") {
    temp_tree t("indoor");
    std::string train, test;
    for (const std::string cat : {"kitchen", "airport_inside", "bar"})
        for (int i = 0; i < 3; ++i) {
            const std::string rel = cat + "/" + cat + "_" + std::to_string(i) + ".jpg";
            write_image(t.root / "Images" / rel, 30, 30, 3, 0, i);
            (i < 2 ? train : test) += rel + "\n";
        }
    write_text(t.root / "TrainImages.txt", train);
    write_text(t.root / "TestImages.txt", test);
    const auto indoor = read_dataset("indoor67", t.root);
    CHECK(indoor.classes == std::vector<std::string>{"airport_inside", "bar", "kitchen"});
    CHECK(indoor.train.size() == 6);
    CHECK(indoor.test[0].label == 2);
    CHECK(indoor.load(indoor.test[2]).width == 30);

    temp_tree f("food");
    write_text(f.root / "meta" / "classes.txt", "apple_pie\nbaby_back_ribs\n");
    write_text(f.root / "meta" / "train.txt", "apple_pie/1\nbaby_back_ribs/2\napple_pie/3\n");
    write_text(f.root / "meta" / "test.txt", "baby_back_ribs/4\n");
    for (const auto& p : {"apple_pie/1", "baby_back_ribs/2", "apple_pie/3", "baby_back_ribs/4"})
        write_image(f.root / "images" / (std::string(p) + ".jpg"), 25, 20, 3, 1, 0);
    const auto food = read_dataset("food101", f.root);
    CHECK(food.train.size() == 3);
    CHECK(food.train[1].label == 1);
    CHECK(food.load(food.test[0]).height == 20);
    write_text(f.root / "meta" / "test.txt", "pizza/9\n");
    CHECK_THROWS_WITH_AS(read_dataset("food101", f.root), doctest::Contains("test.txt:1: class 'pizza' is not in classes.txt"), smile::error);
}

TEST_CASE("imagefolder and list files") {
    temp_tree t("folder");
    for (const std::string split : {"train", "test"})
        for (const std::string cls : {"dog", "cat"})
            for (int i = 0; i < 2; ++i) write_image(t.root / split / cls / (cls + std::to_string(i) + (i ? ".png" : ".jpg")), 16, 12, 3, 0, i);
    write_text(t.root / "train" / "cat" / "notes.txt", "not an image");
    const auto d = read_dataset("imagefolder", t.root);
    CHECK(d.classes == std::vector<std::string>{"cat", "dog"});
    CHECK(d.train.size() == 4);
    CHECK(d.train[0].path == "train/cat/cat0.jpg");
    CHECK(d.load(d.train[1]).width == 16);  // the PNG

    write_text(t.root / "lists" / "train.txt", "train/dog/dog0.jpg 1\ntrain/cat/cat1.png 0\n");
    write_text(t.root / "lists" / "test.txt", "test/dog/dog1.png 1\n");
    read_options o;
    o.train_list = "lists/train.txt";
    o.test_list = "lists/test.txt";
    const auto l = read_dataset("list", t.root, o);
    CHECK(l.classes == std::vector<std::string>{"0", "1"});
    CHECK(l.train[0].label == 1);
    write_text(t.root / "lists" / "test.txt",
               "test/dog/dog1.png 2147483647\n");  // classes by number: bounded
    CHECK_THROWS_WITH_AS(read_dataset("list", t.root, o),
                         doctest::Contains("test.txt: test/dog/dog1.png has label 2147483647, "
                                           "which makes more than 1000000 classes"),
                         smile::error);
    write_text(t.root / "lists" / "test.txt", "test/dog/dog1.png x\n");
    CHECK_THROWS_WITH_AS(read_dataset("list", t.root, o), doctest::Contains("test.txt:1: label 'x' is not an integer"), smile::error);
    fs::remove_all(t.root / "test");
    CHECK_THROWS_WITH_AS(read_dataset("imagefolder", t.root), doctest::Contains("imagefolder: missing"), smile::error);
}

TEST_CASE("IDX files (raw and gzip) and the UCI digits CSV") {
    temp_tree t("idx");
    auto idx_images = [](int n, int label_base) {
        std::string s = smile::test::big_endian(0x803) + smile::test::big_endian(std::uint32_t(n)) +
                        smile::test::big_endian(4) + smile::test::big_endian(3);
        for (int i = 0; i < n * 12; ++i) s.push_back(char((i + label_base) % 256));
        return s;
    };
    auto idx_labels = [](int n) {
        std::string s = smile::test::big_endian(0x801) + smile::test::big_endian(std::uint32_t(n));
        for (int i = 0; i < n; ++i) s.push_back(char(i % 10));
        return s;
    };
    smile::test::write_gz(t.root / "train-images-idx3-ubyte.gz", idx_images(12, 0));
    smile::test::write_gz(t.root / "train-labels-idx1-ubyte.gz", idx_labels(12));
    write_text(t.root / "t10k-images-idx3-ubyte", idx_images(5, 1));
    write_text(t.root / "t10k-labels-idx1-ubyte", idx_labels(5));
    const auto d = read_dataset("mnist", t.root);
    CHECK(d.train.size() == 12);
    CHECK(d.test.size() == 5);
    CHECK(d.train[11].label == 1);
    const image first_test = d.load(d.test[0]);
    CHECK(first_test.width == 3);
    CHECK(first_test.height == 4);
    CHECK(first_test.pixels[0] == 1);
    write_text(t.root / "t10k-labels-idx1-ubyte", idx_labels(4));
    CHECK_THROWS_WITH_AS(read_dataset("mnist", t.root), doctest::Contains("4 labels for 5 images"), smile::error);
    write_text(t.root / "t10k-labels-idx1-ubyte", idx_labels(5).substr(0, 9));
    CHECK_THROWS_WITH_AS(read_dataset("mnist", t.root), doctest::Contains("truncated IDX file"), smile::error);
    // Crafted headers: counts far beyond the file, a size that overflows, data after the end.
    write_text(t.root / "t10k-labels-idx1-ubyte", idx_labels(5));
    const std::string huge = smile::test::big_endian(0x803) + smile::test::big_endian(0xffffffffu) +
                             smile::test::big_endian(4) + smile::test::big_endian(3) + std::string(100, '\1');
    write_text(t.root / "t10k-images-idx3-ubyte", huge);
    CHECK_THROWS_WITH_AS(read_dataset("mnist", t.root), doctest::Contains("the header promises 51539607540 bytes, the file holds 100"),
                         smile::error);
    write_text(t.root / "t10k-images-idx3-ubyte", smile::test::big_endian(0x803) + smile::test::big_endian(5) +
                                                      smile::test::big_endian(0x10000) + smile::test::big_endian(0x10000));
    CHECK_THROWS_WITH_AS(read_dataset("mnist", t.root), doctest::Contains("-pixel limit"), smile::error);
    write_text(t.root / "t10k-images-idx3-ubyte", idx_images(5, 1) + "extra");
    CHECK_THROWS_WITH_AS(read_dataset("mnist", t.root), doctest::Contains("longer than its header says"), smile::error);
    write_text(t.root / "t10k-images-idx3-ubyte", idx_images(5, 1));

    std::string csv;
    for (int r = 0; r < 10; ++r) {
        for (int p = 0; p < 64; ++p) csv += std::to_string((p + r) % 17) + ",";
        csv += std::to_string(r % 10) + "\n";
    }
    smile::test::write_gz(t.root / "digits.csv.gz", csv);
    const auto digits = read_dataset("digits", t.root / "digits.csv.gz");
    CHECK(digits.train.size() == 8);  // rows 4 and 9 are test rows
    CHECK(digits.test.size() == 2);
    CHECK(digits.test[0].label == 4);
    const image g = digits.load(digits.train[0]);
    CHECK(g.width == 8);
    CHECK(g.pixels[16] == 255);  // value 16 → 255
    CHECK(g.pixels[8] == (8 * 255 + 8) / 16);
    smile::test::write_gz(t.root / "digits.csv.gz", "1,2,3\n");
    CHECK_THROWS_WITH_AS(read_dataset("digits", t.root / "digits.csv.gz"), doctest::Contains("digits.csv.gz:1: expected 65"),
                         smile::error);
}

TEST_CASE("sampling: per-class ceil(r·n_c), global 1 + int(r·N), nesting, validation split") {
    std::vector<sample> train;
    const std::vector<int> per_class{60, 7, 31, 1};  // unequal classes, one singleton
    for (std::size_t c = 0; c < per_class.size(); ++c)
        for (int i = 0; i < per_class[c]; ++i)
            train.push_back({"c" + std::to_string(c) + "/" + std::to_string(i), std::int32_t(c), std::nullopt, -1, 0});
    for (double rate : {0.15, 0.30, 0.50, 1.0}) {
        const auto s = sample_subset(train, 4, rate, 42);
        const auto counts = class_counts(s, 4);
        for (std::size_t c = 0; c < 4; ++c) {
            INFO("rate ", rate, " class ", c);
            CHECK(counts[c] == std::int64_t(std::ceil(rate * per_class[c] - 1e-9)));
        }
    }
    CHECK(per_class_count(0.15, 60) == 9);  // 0.15·60 is 9.000000000000002 in binary
    CHECK(sample_subset(train, 4, 0.3, 42).size() == sample_subset(train, 4, 0.3, 42).size());
    CHECK(sample_subset(train, 4, 0.3, 42)[0].path == sample_subset(train, 4, 0.3, 42)[0].path);  // seeded
    // Nested: 15 % ⊂ 30 % ⊂ 50 %.
    sampling_options nested;
    nested.nested = true;
    auto paths = [&](double r, const sampling_options& o) {
        std::set<std::string> p;
        for (const auto& s : sample_subset(train, 4, r, 7, o)) p.insert(s.path);
        return p;
    };
    const auto p15 = paths(0.15, nested), p30 = paths(0.30, nested), p50 = paths(0.5, nested);
    CHECK(std::includes(p30.begin(), p30.end(), p15.begin(), p15.end()));
    CHECK(std::includes(p50.begin(), p50.end(), p30.begin(), p30.end()));
    const auto independent15 = paths(0.15, {}), independent30 = paths(0.3, {});
    CHECK(!std::includes(independent30.begin(), independent30.end(), independent15.begin(), independent15.end()));
    // Global protocol: 1 + int(r·N) images.
    sampling_options global;
    global.protocol = sampling_protocol::global;
    global.allow_empty_classes = true;
    CHECK(sample_subset(train, 4, 0.15, 1, global).size() == 1 + std::size_t(0.15 * 99));
    CHECK(sample_subset(train, 4, 1.0, 1, global).size() == 99);
    global.allow_empty_classes = false;
    CHECK_THROWS_WITH_AS(sample_subset(train, 4, 0.01, 1, global),
                         doctest::Contains("has no training examples"), smile::error);
    CHECK_THROWS_WITH_AS(sample_subset(train, 4, 1.5, 1), doctest::Contains("rate must be in (0, 1]"), smile::error);
    // Validation: a stratified hold-out, disjoint from the rest.
    const auto [rest, val] = split_validation(train, 4, 0.2, 3);
    CHECK(rest.size() + val.size() == train.size());
    CHECK(class_counts(val, 4) == std::vector<std::int64_t>{12, 1, 6, 0});
}

TEST_CASE("list round trip: smile split's lists select the same samples") {
    temp_tree t("lists");
    make_cub(t.root);
    const auto d = read_dataset("cub200", t.root);
    const auto subset = sample_subset(d.train, d.num_classes(), 0.5, 9);
    write_list(t.root / "train_50.txt", subset);
    const auto back = read_subset_list(d, t.root / "train_50.txt");
    REQUIRE(back.size() == subset.size());
    for (std::size_t i = 0; i < back.size(); ++i) CHECK(back[i].path == subset[i].path);
    write_text(t.root / "bad.txt", "nowhere.jpg 0\n");
    CHECK_THROWS_WITH_AS(read_subset_list(d, t.root / "bad.txt"), doctest::Contains("bad.txt:1: 'nowhere.jpg' is not a training image"),
                         smile::error);
}
