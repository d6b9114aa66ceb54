// The `smile` program, run as a user would.
#include <doctest/doctest.h>

#include <unistd.h>

#include <smile/io/npy.hpp>
#include <smile/io/weights.hpp>
#include <smile/models/classifier.hpp>

#include <nlohmann/json.hpp>

#include "backends.hpp"
#include "compare.hpp"
#include "dataset_builder.hpp"
#include "random_data.hpp"
#include "run_program.hpp"

namespace fs = std::filesystem;
using B = smile::default_backend;

namespace {
struct workdir {
    fs::path path = fs::temp_directory_path() / ("smile_cli_" + std::to_string(::getpid()));
    workdir() { fs::create_directories(path); }
    ~workdir() { fs::remove_all(path); }
    std::string operator/(const std::string& f) const { return (path / f).string(); }
};
}  // namespace

TEST_CASE("smile predict: logits and features equal the library's evaluation forward") {
    workdir dir;
    smile::session<B> s;
    smile::rng gen(4);
    auto model = smile::make_classifier<B>(s, gen, smile::cifar_resnet(8), {5, 0});
    smile::io::save_weights<B>(model, dir / "w.safetensors");
    smile::rng data(5);
    const auto images = smile::test::uniform_values(data, 7 * 3 * 16 * 16);
    smile::io::write_npy(dir / "x.npy", {7, 3, 16, 16}, images);
    const auto r = smile::test::run_smile("predict --arch resnet8 --num-classes 5 --weights " + dir / "w.safetensors" +
                                          " --input " + dir / "x.npy" + " --output " + dir / "l.npy" +
                                          " --features " + dir / "f.npy --batch-size 3");
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto logits = smile::io::read_npy(dir / "l.npy");
    const auto features = smile::io::read_npy(dir / "f.npy");
    CHECK(logits.shape == std::vector<std::int64_t>{7, 5});
    CHECK(features.shape == std::vector<std::int64_t>{7, 64});
    auto x = smile::tensor<B>::from_host(s, {7, 3, 16, 16}, images);
    model.forward(s, x, smile::mode::eval);
    CHECK(smile::test::relative_error(logits.values, model.logits().to_host()) < 1e-6);
    CHECK(smile::test::relative_error(features.values, model.pooled().to_host()) < 1e-6);
}

TEST_CASE("smile predict: bad input is one clear line and a non-zero exit") {
    workdir dir;
    smile::session<B> s;
    smile::rng gen(4);
    auto model = smile::make_classifier<B>(s, gen, smile::cifar_resnet(8), {5, 0});
    smile::io::save_weights<B>(model, dir / "w.safetensors");
    smile::io::write_npy(dir / "x.npy", {2, 3, 16, 16}, std::vector<float>(2 * 3 * 256, 0.1f));
    smile::io::write_npy(dir / "flat.npy", {6}, std::vector<float>(6, 0.0f));
    const std::string common = " --weights " + dir / "w.safetensors" + " --output " + dir / "l.npy";
    struct c {
        std::string args, message;
    };
    for (const auto& [args, message] : {
             c{"predict --arch resnet8 --num-classes 5 --input " + dir / "flat.npy" + common, "expected a 4-D [N, C, H, W] array, got [6]"},
             c{"predict --arch resnet9 --num-classes 5 --input " + dir / "x.npy" + common, "--arch: unknown architecture 'resnet9'"},
             c{"predict --arch resnet8 --num-classes 7 --input " + dir / "x.npy" + common, "shape mismatch for 2 tensor(s): fc.weight"},
             c{"predict --arch resnet20 --num-classes 5 --input " + dir / "x.npy" + common, "missing: layer1.1.conv1.weight"},
             c{"predict --arch resnet8 --num-classes 5 --input " + dir / "none.npy" + common, "cannot open"},
             c{"predict --arch resnet8 --num-classes 5 --in-channels 1 --input " + dir / "x.npy" + common, "conv1.weight"}}) {
        const auto r = smile::test::run_smile(args);
        INFO(args, "\n", r.output);
        CHECK(r.status != 0);
        CHECK(r.output.find(message) != std::string::npos);
        CHECK(r.output.rfind("smile: error: ", 0) == 0);
        CHECK(smile::test::line_count(r.output) == 1);
    }
}

TEST_CASE("smile analyze: interpolation loss and PCA paths of a model on an image folder, reproducibly") {
    workdir dir;
    smile::test::temp_tree tree("analyze");
    for (const char* split : {"train", "test"})
        for (int cls = 0; cls < 3; ++cls)
            for (int i = 0; i < 6; ++i)
                smile::test::write_image(tree.root / split / ("class" + std::to_string(cls)) / ("img" + std::to_string(i) + ".png"),
                                         20, 18, 3, cls, i);
    smile::session<B> s;
    smile::rng gen(4);
    auto model = smile::make_classifier<B>(s, gen, smile::cifar_resnet(8), {3, 0});
    smile::io::save_weights<B>(model, dir / "w.safetensors");
    const std::string common = "analyze --num-classes 3 --format imagefolder --root " + tree.root.string() +
                               " --image-size 16 --resize 16 --images 12 --batch-size 6 --draws 2 --pairs 2 --workers 0";
    auto run = [&](const std::string& out) {
        const auto r = smile::test::run_smile(common + " --arch resnet8 --weights " + dir / "w.safetensors" + " --out " + dir / out);
        INFO(r.output);
        REQUIRE(r.status == 0);
        CHECK(r.output.find("feature IL (pooled)") != std::string::npos);
        std::ifstream in(dir / (out + "/interpolation.json"));
        return nlohmann::json::parse(in);
    };
    const auto first = run("a"), second = run("b");
    CHECK(first == second);  // one seed drives every choice
    for (const char* key : {"label_il_logits", "label_il_probabilities", "feature_il"}) {
        CAPTURE(key);
        CHECK(first[key]["ratios"].get<std::int64_t>() == 12 * 2);
        const double mean = first[key]["mean"].get<double>();
        CHECK(std::isfinite(mean));
        CHECK(mean > 0.0);
    }
    std::ifstream csv(dir / "a/feature_interpolation.csv");
    std::string line;
    int lines = 0;
    while (std::getline(csv, line)) ++lines;
    CHECK(lines == 1 + 2 * 5);  // header, 2 pairs × 5 values of λ
    CHECK(fs::exists(dir / "a/feature_interpolation.gp"));

    // A model that does not fit the options is one clear line.
    const auto r = smile::test::run_smile(common + " --arch resnet20 --weights " + dir / "w.safetensors" + " --out " + dir / "c");
    INFO(r.output);
    CHECK(r.status != 0);
    CHECK(r.output.find("--weights " + dir / "w.safetensors" + ": not a complete resnet20") != std::string::npos);
    CHECK(smile::test::line_count(r.output) == 1);
}
