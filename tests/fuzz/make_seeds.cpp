// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/), each a small valid
// file in the official format made with smile's own writers and libmatio, so the fuzzers start
// from inputs that reach deep into each parser. Run by scripts/fuzz.sh seeds; the output is
// committed.
#include <cstdio>

#include <smile/core/random.hpp>
#include <smile/data/codec.hpp>
#include <smile/io/npy.hpp>
#include <smile/io/safetensors.hpp>

#include "dataset_builder.hpp"

namespace fs = std::filesystem;
using smile::test::write_text;

namespace {

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void seed(const fs::path& root, const std::string& target, const std::string& name, const std::string& bytes) {
    fs::create_directories(root / target);
    write_text(root / target / name, bytes);
}

std::string gz(const std::string& bytes) {
    const auto p = fs::temp_directory_path() / "smile-seed.gz";
    smile::test::write_gz(p, bytes);
    return read_all(p);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds <corpus folder>\n");
        return 2;
    }
    const fs::path root = argv[1];
    const fs::path tmp = fs::temp_directory_path() / "smile-seeds";
    fs::create_directories(tmp);

    // safetensors: weights with F32 and I64 tensors and metadata; a checkpoint.
    smile::io::write_safetensors(tmp / "w.safetensors",
                                 {{"conv1.weight", {2, 1, 3, 3}, std::vector<float>(18, 0.5f), false, 0},
                                  {"bn1.num_batches_tracked", {}, {}, true, 7},
                                  {"fc.bias", {3}, {1, 2, 3}, false, 0}},
                                 {{"arch", "resnet18"}});
    seed(root, "fuzz_safetensors", "weights.safetensors", read_all(tmp / "w.safetensors"));
    smile::rng generator(3);
    smile::io::write_safetensors(tmp / "c.safetensors", {{"model.fc.bias", {1, 3, 1, 1}, {1, 2, 3}, false, 0}},
                                 {{"smile.checkpoint", "1"}, {"iteration", "12"}, {"rng", generator.state()},
                                  {"info.method", "smile"}});
    seed(root, "fuzz_checkpoint", "checkpoint.safetensors", read_all(tmp / "c.safetensors"));
    seed(root, "fuzz_safetensors", "checkpoint.safetensors", read_all(tmp / "c.safetensors"));

    // .npy: float32 C order, a 4-D batch; float64 and Fortran order written by hand.
    smile::io::write_npy(tmp / "a.npy", {2, 1, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
    seed(root, "fuzz_npy", "f4-4d.npy", read_all(tmp / "a.npy"));
    {
        std::string header = "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }";
        header.append(128 - 10 - header.size() - 1, ' ').push_back('\n');
        std::string f8 = std::string("\x93NUMPY\x01\x00", 8) + char(header.size()) + '\0' + header;
        for (int i = 0; i < 6; ++i) {
            const double v = i * 0.5;
            f8.append(reinterpret_cast<const char*>(&v), 8);
        }
        seed(root, "fuzz_npy", "f8-fortran.npy", f8);
    }

    // IDX: images (first byte odd) and labels (even), raw and gzip-compressed.
    using smile::test::big_endian;
    const std::string images = big_endian(0x803) + big_endian(2) + big_endian(3) + big_endian(2) + std::string(12, '\x40');
    const std::string labels = big_endian(0x801) + big_endian(2) + std::string("\x01\x07", 2);
    seed(root, "fuzz_idx", "images.idx", "\x01" + images);
    seed(root, "fuzz_idx", "images.idx.gz", "\x01" + gz(images));
    seed(root, "fuzz_idx", "labels.idx", std::string(1, '\0') + labels);
    seed(root, "fuzz_idx", "labels.idx.gz", std::string(1, '\0') + gz(labels));

    // Images: JPEG gray and RGB, PNG gray and RGB.
    for (int c : {1, 3}) {
        const auto img = smile::test::pattern_image(11, 7, c, 1, 2);
        seed(root, "fuzz_image", "c" + std::to_string(c) + ".jpg", smile::data::encode_jpeg(img, 80));
        seed(root, "fuzz_image", "c" + std::to_string(c) + ".png", smile::data::encode_png(img));
    }

    // Dataset metadata: the first byte picks the layout (fuzz_datasets.cpp), files split by a marker.
    const std::string sep = "\n=====\n";
    seed(root, "fuzz_datasets", "cub200.txt",
         std::string(1, '\x06') + "1 001.A/a.jpg\n2 002.B/b.jpg\n" + sep + "1 1\n2 2\n" + sep + "1 1\n2 0\n" + sep +
             "1 001.A\n2 002.B\n" + sep + "1 1 1 5 5\n2 0 0 3 4\n");
    seed(root, "fuzz_datasets", "aircraft.txt",
         std::string(1, '\x01') + "707-320\nA300B4\n" + sep + "0034309 707-320\n0034958 A300B4\n" + sep + "0056978 A300B4\n");
    seed(root, "fuzz_datasets", "indoor67.txt", std::string(1, '\x02') + "airport_inside/a.jpg\nbar/b.jpg\n" + sep + "bar/c.jpg\n");
    seed(root, "fuzz_datasets", "food101.txt", std::string(1, '\x03') + "apple_pie\nbaby_back_ribs\n" + sep +
                                                   "apple_pie/1005649\nbaby_back_ribs/1006\n" + sep + "apple_pie/1011328\n");
    seed(root, "fuzz_datasets", "list.txt", std::string(1, '\x04') + "a b/1.jpg 0\nc.jpg 1\n" + sep + "d.jpg 1\n" + sep + "cat\ndog\n");
    {
        std::string csv;
        for (int row = 0; row < 5; ++row) {
            for (int i = 0; i < 64; ++i) csv += std::to_string((i + row) % 17) + ",";
            csv += std::to_string(row % 10) + "\n";
        }
        seed(root, "fuzz_datasets", "digits.txt", std::string(1, '\x05') + gz(csv));
    }

    // Stanford Cars: the three .mat files joined by the target's separator.
    smile::test::mat_writer(tmp / "meta.mat").write_cell("class_names", {"AM General Hummer SUV 2000", "Acura RL Sedan 2012"});
    smile::test::mat_writer(tmp / "train.mat").write_annotations({{1, 2, 30, 20, 1, "00001.jpg"}, {3, 4, 20, 10, 2, "00002.jpg"}});
    smile::test::mat_writer(tmp / "test.mat").write_annotations({{1, 1, 5, 5, 2, "00001.jpg"}});
    const std::string mat_sep = "\nSMILE-MAT-SPLIT\n";
    seed(root, "fuzz_cars_mat", "devkit.mat",
         read_all(tmp / "meta.mat") + mat_sep + read_all(tmp / "train.mat") + mat_sep + read_all(tmp / "test.mat"));
    // The same compressed, as MATLAB's -v7 save writes (the devkit's files).
    smile::test::mat_writer(tmp / "meta7.mat", true).write_cell("class_names", {"AM General Hummer SUV 2000", "Acura RL Sedan 2012"});
    smile::test::mat_writer(tmp / "train7.mat", true).write_annotations({{1, 2, 30, 20, 1, "00001.jpg"}, {3, 4, 20, 10, 2, "00002.jpg"}});
    smile::test::mat_writer(tmp / "test7.mat", true).write_annotations({{1, 1, 5, 5, 2, "00001.jpg"}});
    seed(root, "fuzz_cars_mat", "devkit-v7.mat",
         read_all(tmp / "meta7.mat") + mat_sep + read_all(tmp / "train7.mat") + mat_sep + read_all(tmp / "test7.mat"));
    // BERT's tokenizer: a vocab.txt and a tokenizer.json, each with texts in several scripts.
    {
        const std::string vocab =
            "un\n##aff\n##able\na\nfine\nfilm\n.\n,\nhello\nworld\n!\ncafe\n我\n好\n##s\ns";
        const std::string text_sep = "\nSMILE-TEXT-SPLIT\n";
        seed(root, "fuzz_text", "latin.txt",
             vocab + text_sep + "Hello, World! A fine film: unaffable cafés.");
        seed(root, "fuzz_text", "mixed.txt",
             vocab + text_sep +
                 "Héllo ΣΊΣΥΦΟΣ 我好 カタカナ 한국어 \t\u00a0zero\u200bwidth [CLS]x[SEP] \xff\xfe "
                 "bad utf-8");
        std::string json =
            R"({"model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##",)"
            R"("max_input_chars_per_word":100,"vocab":{"[PAD]":0,"[UNK]":1,"[CLS]":2,"[SEP]":3,"un":4,"##aff":5,"##able":6}},)"
            R"("normalizer":{"type":"BertNormalizer","lowercase":true,"handle_chinese_chars":true,"strip_accents":null}})";
        seed(root, "fuzz_text", "tokenizer.json", json + text_sep + "Unaffable, UNAFFABLE!");
        seed(root, "fuzz_text", "trees.txt",
             vocab + text_sep + "(3 (2 It) (4 (2 's) (3 (2 a) (4 fun))))\n(1 (2 -LRB-) (1 dull) (2 -RRB-))\n");
        seed(root, "fuzz_text", "lines.jsonl",
             vocab + text_sep + "{\"text\": \"a witty film\", \"label\": 4}\n{\"label\": 0, \"text\": \"dull\"}\n");
    }
    fs::remove_all(tmp);
    std::printf("seeds written to %s\n", root.c_str());
    return 0;
}
