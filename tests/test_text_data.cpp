// Text-classification data on disk: the TSV and CSV tables, the dataset layouts (sst5 trees,
// jsonl, tsv, csv) with their label rules and errors, sampling of sentences, and the epoch
// loader's order, padding and resumption.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <smile/data/formats/delimited.hpp>
#include <smile/data/sampling.hpp>
#include <smile/text/text_dataset.hpp>
#include <smile/text/text_loader.hpp>
#include <string>

namespace fs = std::filesystem;
using smile::text::read_text_dataset;
using smile::text::text_dataset_options;

namespace {

/// A fresh directory under the temporary directory, removed at the end of the test.
struct scratch {
    fs::path dir;
    explicit scratch(const std::string& name)
        : dir(fs::temp_directory_path() / ("smile-text-data-" + name)) {
        fs::remove_all(dir);
        fs::create_directories(dir);
    }
    ~scratch() { fs::remove_all(dir); }
    fs::path write(const std::string& file, const std::string& content) const {
        const auto path = dir / file;
        fs::create_directories(path.parent_path());
        std::ofstream(path, std::ios::binary) << content;
        return path;
    }
};

std::string error_of(const text_dataset_options& o) {
    try {
        (void)read_text_dataset(o);
    } catch (const smile::error& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("delimited: TSV splits at tabs with no quoting (GLUE), CSV follows RFC 4180 via libcsv") {
    scratch s("tables");
    const auto tsv = s.write("a.tsv",
                             "sentence\tlabel\r\n"
                             "he said \"hi\" , then left\t1\r\n"
                             "\n"
                             "\"quoted\" start\t0\n");
    const auto rows = smile::data::formats::read_tsv(tsv);
    REQUIRE(rows.size() == 3);
    CHECK(rows[1].fields == std::vector<std::string>{"he said \"hi\" , then left", "1"});
    CHECK(rows[2].line == 4);  // the blank line 3 is skipped, not renumbered
    CHECK(rows[2].fields[0] == "\"quoted\" start");

    const auto csv = s.write("a.csv",
                             "text,label\n"
                             "\"a, b\",1\n"
                             "\"she said \"\"no\"\"\nand left\",0\n"
                             "plain,1\n");
    const auto records = smile::data::formats::read_csv(csv);
    REQUIRE(records.size() == 4);
    CHECK(records[1].fields == std::vector<std::string>{"a, b", "1"});
    CHECK(records[2].fields[0] == "she said \"no\"\nand left");
    CHECK(records[2].line == 3);
    CHECK(records[3].line == 5);  // after a record that spans lines 3 and 4

    const auto bad = s.write("bad.csv", "text,label\nok,1\n\"open never closed,1\n");
    CHECK_THROWS_WITH_AS((void)smile::data::formats::read_csv(bad),
                         doctest::Contains("bad.csv:3: "), smile::error);
    const auto junk = s.write("junk.csv", "text,label\n\"closed\" then more,1\n");
    CHECK_THROWS_WITH_AS((void)smile::data::formats::read_csv(junk),
                         doctest::Contains("junk.csv:2: "), smile::error);
}

TEST_CASE("text dataset: sst5 trees in trees/ or in the root, dev optional, 5 named classes") {
    scratch s("sst5");
    s.write("trees/train.txt", "(3 (2 It) (4 (2 's) (4 good)))\n(0 (0 awful))\n");
    s.write("trees/test.txt", "(1 (1 -LRB-) (1 dull) (1 -RRB-))\n");
    text_dataset_options o;
    o.root = s.dir;
    auto d = read_text_dataset(o);
    CHECK(d.num_classes() == 5);
    CHECK(d.classes[4] == "very positive");
    REQUIRE(d.train.size() == 2);
    CHECK(d.train[0].text == "It 's good");
    CHECK(d.train[0].label == 3);
    CHECK(d.validation.empty());
    CHECK(d.test[0].text == "( dull )");
    s.write("trees/dev.txt", "(2 (2 fine))\n");
    d = read_text_dataset(o);
    CHECK(d.validation.size() == 1);
    CHECK(d.validation_file == s.dir / "trees" / "dev.txt");
    fs::remove(s.dir / "trees" / "test.txt");
    CHECK(error_of(o).find("no test split of the sst5 layout (expected test.txt)") !=
          std::string::npos);
    s.write("trees/test.txt", "(7 (7 odd))\n");
    CHECK(error_of(o).find("test.txt:1: label 7 is outside 0..4") != std::string::npos);
}

TEST_CASE("text dataset: jsonl with integer or string labels, errors naming file and line") {
    scratch s("jsonl");
    s.write("train.jsonl",
            "{\"text\": \"good\", \"label\": 1}\n{\"text\": \"bad\", \"label\": 0}\n\n"
            "{\"text\": \"great\", \"label\": 2}\n");
    s.write("validation.jsonl", "{\"text\": \"ok\", \"label\": 1}\n");
    s.write("test.jsonl", "{\"text\": \"meh\", \"label\": 0}\n");
    text_dataset_options o;
    o.format = "jsonl";
    o.root = s.dir;
    auto d = read_text_dataset(o);
    CHECK(d.num_classes() == 3);  // one more than the largest label
    CHECK(d.train[2].label == 2);
    CHECK(d.validation.size() == 1);  // validation.jsonl is the dev split
    o.classes = 5;
    CHECK(read_text_dataset(o).num_classes() == 5);
    o.classes = 2;
    CHECK(error_of(o).find("train.jsonl:4: label 2 is outside 0..1 (--num-classes)") !=
          std::string::npos);
    o.classes = 0;
    s.write("test.jsonl", "{\"text\": \"meh\"}\n");
    CHECK(error_of(o).find("test.jsonl:1: no integer or string \"label\"") != std::string::npos);
    // String labels name classes, numbered in sorted order from the training split.
    s.write("train.jsonl",
            "{\"text\": \"good\", \"label\": \"pos\"}\n{\"text\": \"bad\", \"label\": \"neg\"}\n");
    s.write("validation.jsonl", "{\"text\": \"ok\", \"label\": \"pos\"}\n");
    s.write("test.jsonl", "{\"text\": \"meh\", \"label\": \"neutral\"}\n");
    CHECK(error_of(o).find("test.jsonl:1: label 'neutral' is not a class of the training split") !=
          std::string::npos);
    s.write("test.jsonl", "{\"text\": \"meh\", \"label\": \"neg\"}\n");
    d = read_text_dataset(o);
    CHECK(d.classes == std::vector<std::string>{"neg", "pos"});
    CHECK(d.train[0].label == 1);
    CHECK(d.test[0].label == 0);
}

TEST_CASE("text dataset: tsv (GLUE's sentence column) and csv with header columns") {
    scratch s("tables-dataset");
    s.write("train.tsv", "sentence\tlabel\na \"quoted\" film\t1\na dull one\t0\n");
    s.write("dev.tsv", "sentence\tlabel\nfine\t1\n");
    s.write("test.tsv", "sentence\tlabel\nbad\t0\n");
    text_dataset_options o;
    o.format = "tsv";
    o.root = s.dir;
    auto d = read_text_dataset(o);
    CHECK(d.train[0].text == "a \"quoted\" film");
    CHECK(d.num_classes() == 2);
    CHECK(d.validation.size() == 1);
    s.write("test.tsv", "index\tsentence\n0\tbad\n");  // GLUE's unlabelled test file
    CHECK(error_of(o).find("test.tsv:1: the header has no label column 'label' (it has: index, "
                           "sentence)") != std::string::npos);
    s.write("test.tsv", "sentence\tlabel\nbad\t0\textra\n");
    CHECK(error_of(o).find("test.tsv:2: 3 fields where the header has 2") != std::string::npos);

    s.write("train.csv", "id,review,stars\n1,\"good, really\",pos\n2,bad,neg\n");
    s.write("test.csv", "id,review,stars\n3,\"so \"\"so\"\"\",neg\n");
    o.format = "csv";
    o.text_column = "review";
    o.label_column = "stars";
    d = read_text_dataset(o);
    CHECK(d.train[0].text == "good, really");
    CHECK(d.test[0].text == "so \"so\"");
    CHECK(d.classes == std::vector<std::string>{"neg", "pos"});
    CHECK(d.validation.empty());
    o.format = "parquet";
    CHECK(error_of(o).find("--format 'parquet' is not a text format") != std::string::npos);
}

TEST_CASE("text sampling: the image protocols on sentences (per class and global)") {
    std::vector<smile::text::text_example> train;
    for (int i = 0; i < 40; ++i) train.push_back({"s" + std::to_string(i), i < 30 ? 0 : 1});
    const auto subset = smile::data::sample_subset(train, 2, 0.5, 7);
    const auto counts = smile::data::class_counts(subset, 2);
    CHECK(counts == std::vector<std::int64_t>{15, 5});
    CHECK(smile::data::sample_subset(train, 2, 0.5, 7)[3].text == subset[3].text);  // seeded
    smile::data::sampling_options global;
    global.protocol = smile::data::sampling_protocol::global;
    CHECK(smile::data::sample_subset(train, 2, 0.5, 7, global).size() == 21);  // 1 + int(0.5·40)
    const auto [rest, held] = smile::data::split_validation(train, 2, 0.2, 3);
    CHECK(held.size() == 8);
    CHECK(rest.size() == 32);
}

TEST_CASE(
    "text loader: each epoch visits every sentence once, padded to its longest, resumable at any "
    "batch") {
    smile::encoded_text data;
    data.padding_id = 0;
    for (int i = 0; i < 10; ++i) {
        smile::text::encoding e;
        const int length = 2 + i % 4;
        for (int k = 0; k < length; ++k) {
            e.ids.push_back(100 + i);  // the sentence's number in every token
            e.token_types.push_back(0);
            e.attention_mask.push_back(1);
        }
        data.encodings.push_back(e);
        data.labels.push_back(i % 3);
    }
    const auto shared = std::make_shared<const smile::encoded_text>(data);
    CHECK(smile::text_loader::batches_per_epoch(10, 4) == 3);
    smile::text_loader loader(shared, {4, 9, 0});
    std::vector<std::vector<std::int64_t>> seen;  // sentence numbers of each batch
    std::vector<smile::text_batch> batches;       // and the batches themselves
    for (int b = 0; b < 6; ++b) {
        const auto* batch = loader.next();
        batches.push_back(*batch);
        CHECK_FALSE(batch->is_share());
        CHECK(batch->size() == (b % 3 == 2 ? 2 : 4));  // the remainder closes each epoch
        std::vector<std::int64_t> numbers;
        std::size_t longest = 0;
        for (std::int64_t r = 0; r < batch->size(); ++r) {
            const auto n = batch->tokens.input_ids[std::size_t(r * batch->tokens.length)] - 100;
            numbers.push_back(n);
            CHECK(batch->labels[std::size_t(r)] == n % 3);
            longest = std::max(longest, std::size_t(2 + n % 4));
            // Padding: id 0 and mask 0 after the sentence's own tokens.
            const auto last = std::size_t(r * batch->tokens.length + batch->tokens.length - 1);
            CHECK((batch->tokens.attention_mask[last] == 1.0f) ==
                  (std::size_t(2 + n % 4) == std::size_t(batch->tokens.length)));
        }
        CHECK(std::size_t(batch->tokens.length) == longest);
        seen.push_back(numbers);
    }
    for (int epoch = 0; epoch < 2; ++epoch) {
        std::set<std::int64_t> all;
        for (int b = 0; b < 3; ++b)
            all.insert(seen[std::size_t(epoch * 3 + b)].begin(),
                       seen[std::size_t(epoch * 3 + b)].end());
        CHECK(all.size() == 10);
    }
    CHECK(seen[0] != seen[3]);  // another order in the second epoch
    // Starting at batch 4 gives what the fifth next() gave.
    smile::text_loader resumed(shared, {4, 9, 4});
    const auto* b = resumed.next();
    std::vector<std::int64_t> numbers;
    for (std::int64_t r = 0; r < b->size(); ++r)
        numbers.push_back(b->tokens.input_ids[std::size_t(r * b->tokens.length)] - 100);
    CHECK(numbers == seen[4]);
    // Two ranks: each batch's halves, in rank order, are the one-process batch (the remainder of
    // 2 included); a batch size whose batches do not all split evenly is refused with its numbers.
    smile::text_loader first(shared, {4, 9, 0, 0, 2}), second(shared, {4, 9, 0, 1, 2});
    for (int k = 0; k < 6; ++k) {
        CAPTURE(k);
        std::vector<std::int64_t> together;
        for (auto* l : {&first, &second}) {
            const auto* part = l->next();
            const auto& one_process = batches[std::size_t(k)];
            CHECK(part->size() == std::int64_t(seen[std::size_t(k)].size() / 2));
            // Padded as the global batch is, which rides along: the share is its rows from
            // `first` on, and mixing and dropout can be computed as one process would.
            REQUIRE(part->is_share());
            CHECK(part->tokens.length == one_process.tokens.length);
            CHECK(part->whole_tokens.input_ids == one_process.tokens.input_ids);
            CHECK(part->whole_tokens.attention_mask == one_process.tokens.attention_mask);
            CHECK(part->global_labels() == one_process.labels);
            CHECK(part->global_size() == one_process.size());
            CHECK(part->first == (l == &first ? 0 : part->size()));
            CHECK(part->share().whole == &part->whole_tokens);
            for (std::int64_t r = 0; r < part->size(); ++r)
                together.push_back(part->tokens.input_ids[std::size_t(r * part->tokens.length)] -
                                   100);
        }
        CHECK(together == seen[std::size_t(k)]);
    }
    CHECK_THROWS_WITH(
        smile::text_loader(shared, {4, 9, 0, 0, 3}),
        doctest::Contains("--batch-size 4 over 3 ranks: every batch of an epoch of 10 "
                          "sentences must split evenly (the last one holds 2)"));
    CHECK_THROWS_WITH(smile::text_loader(shared, {5, 9, 0, 0, 2}),
                      doctest::Contains("--batch-size 5 over 2 ranks"));
}
