// The parallel loader: deterministic whatever the thread count, reshuffled each pass,
// drop-last, finite evaluation passes, resuming, and unreadable images.
#include <doctest/doctest.h>

#include <smile/data/loader.hpp>
#include <smile/data/preflight.hpp>
#include <smile/data/read_dataset.hpp>

#include "dataset_builder.hpp"

using namespace smile::data;
using smile::test::temp_tree;
namespace fs = std::filesystem;

namespace {

/// An ImageFolder of `per_class` images in 3 classes, of varied sizes.
std::shared_ptr<const dataset> make_folder(const fs::path& root, int per_class) {
    for (int c = 0; c < 3; ++c)
        for (int i = 0; i < per_class; ++i)
            for (const std::string split : {"train", "test"})
                smile::test::write_image(root / split / ("class" + std::to_string(c)) / (std::to_string(i) + ".jpg"),
                                         40 + i % 5, 30 + c, i % 4 == 0 ? 1 : 3, c, i);
    return std::make_shared<const dataset>(read_dataset("imagefolder", root));
}

pipeline augmenting() {
    pipeline p;
    return p.rgb().resize_shorter(20).flip().random_crop(16).normalize(imagenet_normalization);
}

std::vector<std::vector<float>> take(loader& l, int batches, std::vector<std::vector<std::int64_t>>* labels = nullptr) {
    std::vector<std::vector<float>> out;
    for (int b = 0; b < batches; ++b) {
        const host_batch* batch = l.next();
        REQUIRE(batch != nullptr);
        out.emplace_back(batch->images.begin(), batch->images.end());
        if (labels) labels->push_back(batch->labels);
    }
    return out;
}

}  // namespace

TEST_CASE("loader: the same seed gives the same batches with 0, 1 or 3 workers") {
    temp_tree t("loader");
    const auto d = make_folder(t.root, 7);  // 21 training images
    std::vector<std::vector<float>> reference;
    std::vector<std::vector<std::int64_t>> reference_labels;
    for (std::size_t workers : {0, 1, 3}) {
        loader l(d, d->train, augmenting(), {5, true, true, true, workers, 3, 11, false, 0});
        std::vector<std::vector<std::int64_t>> labels;
        auto batches = take(l, 10, &labels);  // 10 batches: two and a half passes of 4
        if (reference.empty()) {
            reference = batches;
            reference_labels = labels;
            continue;
        }
        INFO(workers, " workers");
        CHECK(batches == reference);
        CHECK(labels == reference_labels);
    }
    loader other(d, d->train, augmenting(), {5, true, true, true, 2, 3, 12, false, 0});
    CHECK(take(other, 1)[0] != reference[0]);  // another seed, other batches
}

TEST_CASE(
    "loader: the slices of data-parallel ranks are, side by side, the single-process batches") {
    temp_tree t("loader_slices");
    const auto d = make_folder(t.root, 7);  // 21 training images: 3 batches of 6 per pass
    loader whole(d, d->train, augmenting(), {6, true, true, true, 0, 2, 11, false, 2});
    std::vector<std::vector<std::int64_t>> whole_labels;
    const auto batches = take(whole, 5, &whole_labels);  // from batch 2 on, across a pass boundary
    const std::size_t image = 3 * 16 * 16;
    for (const std::int64_t ranks : {2, 3}) {
        CAPTURE(ranks);
        const std::int64_t share = 6 / ranks;
        std::vector<std::vector<float>> joined(batches.size());
        std::vector<std::vector<std::int64_t>> joined_labels(batches.size());
        for (std::int64_t r = 0; r < ranks; ++r) {
            loader slice(d, d->train, augmenting(),
                         {6, true, true, true, 1, 2, 11, false, 2, r * share, share});
            std::vector<std::vector<std::int64_t>> labels;
            const auto part = take(slice, 5, &labels);
            for (std::size_t b = 0; b < part.size(); ++b) {
                REQUIRE(part[b].size() == std::size_t(share) * image);
                joined[b].insert(joined[b].end(), part[b].begin(), part[b].end());
                joined_labels[b].insert(joined_labels[b].end(), labels[b].begin(), labels[b].end());
            }
        }
        CHECK(joined == batches);
        CHECK(joined_labels == whole_labels);
    }
    CHECK_THROWS_WITH_AS(
        loader(d, d->train, augmenting(), {6, true, true, true, 0, 2, 11, false, 0, 4, 3}),
        "loader: the slice [4, 7) is outside a batch of 6", smile::error);
}

TEST_CASE("loader: passes drop the last partial batch and are reshuffled") {
    temp_tree t("passes");
    const auto d = make_folder(t.root, 7);
    pipeline plain;
    plain.rgb().resize(16, 16).normalize(imagenet_normalization);
    loader l(d, d->train, plain, {5, true, true, true, 2, 2, 3, false, 0});
    CHECK(l.batches_per_pass() == 4);  // 21 images → 4 full batches of 5
    std::vector<std::vector<std::int64_t>> labels;
    take(l, 8, &labels);
    std::vector<std::int64_t> first, second;
    for (int b = 0; b < 4; ++b) first.insert(first.end(), labels[std::size_t(b)].begin(), labels[std::size_t(b)].end());
    for (int b = 4; b < 8; ++b) second.insert(second.end(), labels[std::size_t(b)].begin(), labels[std::size_t(b)].end());
    CHECK(first.size() == 20);
    CHECK(first != second);  // reshuffled
    // Resuming at batch 5 continues exactly.
    loader resumed(d, d->train, plain, {5, true, true, true, 1, 2, 3, false, 5});
    std::vector<std::vector<std::int64_t>> tail;
    take(resumed, 3, &tail);
    CHECK(tail == std::vector<std::vector<std::int64_t>>(labels.begin() + 5, labels.end()));
}

TEST_CASE("loader: a finite pass covers every sample in order with a partial last batch") {
    temp_tree t("eval");
    const auto d = make_folder(t.root, 4);  // 12 test images
    pipeline plain;
    plain.rgb().resize(16, 16).normalize(imagenet_normalization);
    loader l(d, d->test, plain, {5, false, false, false, 2, 2, 0, false, 0});
    std::vector<std::int64_t> sizes, labels;
    while (const host_batch* b = l.next()) {
        sizes.push_back(b->size());
        labels.insert(labels.end(), b->labels.begin(), b->labels.end());
        CHECK(b->images.shape()[0] == std::size_t(b->size()));
    }
    CHECK(sizes == std::vector<std::int64_t>{5, 5, 2});
    CHECK(labels == std::vector<std::int64_t>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2});
    CHECK(l.next() == nullptr);
}

TEST_CASE("loader: an unreadable image is an error naming it, or skipped and reported on request") {
    temp_tree t("corrupt");
    const auto d0 = make_folder(t.root, 4);
    smile::test::write_text(t.root / "train" / "class1" / "2.jpg", "\xff\xd8\xff garbage");
    const auto d = std::make_shared<const dataset>(read_dataset("imagefolder", t.root));
    pipeline plain;
    plain.rgb().resize(16, 16).normalize(imagenet_normalization);
    for (std::size_t workers : {0, 2}) {
        loader strict(d, d->train, plain, {12, false, true, true, workers, 2, 0, false, 0});
        CHECK_THROWS_WITH_AS(strict.next(), doctest::Contains("class1/2.jpg: cannot decode image"), smile::error);
        loader lenient(d, d->train, plain, {12, false, true, true, workers, 2, 0, true, 0});
        const host_batch* b = lenient.next();
        REQUIRE(b != nullptr);
        CHECK(b->size() == 12);
        CHECK(lenient.skipped() == 1);
        CHECK(lenient.skipped_files()[0].find("class1/2.jpg") != std::string::npos);
    }
    CHECK_THROWS_WITH_AS(loader(d, d->train, plain, {50, true, true, true, 0, 2, 0, false, 0}),
                         doctest::Contains("12 samples cannot fill one batch of 50"), smile::error);
}

TEST_CASE("preflight: every image of a split is opened and header-decoded before a run, and unreadable ones are named or dropped") {
    temp_tree t("preflight");
    make_folder(t.root, 4);
    smile::test::write_text(t.root / "test" / "class0" / "1.jpg", "\xff\xd8\xff garbage");
    fs::remove(t.root / "test" / "class1" / "0.jpg");
    smile::test::write_text(t.root / "test" / "class1" / "0.jpg", "");  // an empty file
    const auto d = read_dataset("imagefolder", t.root);
    const auto r = check_readable(d, d.test);
    CHECK(r.problems.size() == 2);
    CHECK(r.readable.size() == d.test.size() - 2);
    const std::string message = "test split: 2 of " + std::to_string(d.test.size()) + " images cannot be read";
    CHECK_THROWS_WITH_AS((void)require_readable(d, d.test, "test split", false), doctest::Contains(message.c_str()), smile::error);
    CHECK_THROWS_WITH_AS((void)require_readable(d, d.test, "test split", false), doctest::Contains("class0/1.jpg"), smile::error);
    const auto kept = require_readable(d, d.test, "test split", true);
    CHECK(kept.size() == d.test.size() - 2);
    CHECK(require_readable(d, d.train, "training subset", false).size() == d.train.size());
}
