// The `smile` program, run as a user would.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <smile/data/codec.hpp>
#include <smile/factory_instances.hpp>
#include <smile/io/npy.hpp>
#include <smile/io/weights.hpp>
#include <smile/models/architecture.hpp>
#include <smile/models/bert/model.hpp>
#include <smile/text/wordpiece.hpp>
#include <sstream>

#include "backends.hpp"
#include "cli_support.hpp"
#include "compare.hpp"
#include "dataset_builder.hpp"
#include "formula_weights.hpp"
#include "json_lines.hpp"
#include "random_data.hpp"
#include "run_program.hpp"

namespace fs = std::filesystem;
using B = smile::default_backend;

using smile::test::check_picture;
using smile::test::workdir;

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

TEST_CASE("smile predict --arch bert: logits and pooled outputs of sentences equal the library's") {
    workdir dir;
    const std::string fixtures = SMILE_TEST_FIXTURES;
    {
        std::ofstream vocab(dir / "vocab.txt");
        for (const char* t :
             {"[PAD]",  "[UNK]",  "[CLS]", "[SEP]", "[MASK]", "good",  "great",  "fine",
              "superb", "lovely", "bad",   "awful", "dull",   "poor",  "boring", "the",
              "a",      "film",   "movie", "plot",  "story",  "actor", "scene",  "is",
              "was",    "it",     "this",  "that",  "very",   "quite", "and",    "but",
              "of",     "to",     "in",    "with",  "cast",   "score", "ending", "script"})
            vocab << t << "\n";
        std::ofstream(dir / "sentences.txt")
            << "The film is GOOD\nan awful, dull plot\n\nit was quite fine but the ending "
               "was very very very poor\n";
    }
    const std::string common = " --config " + fixtures + "/bert_tiny/config.json --weights " +
                               fixtures + "/bert_tiny/model.safetensors --vocab " +
                               dir / "vocab.txt";
    const auto r =
        smile::test::run_smile("predict --arch bert" + common + " --text " + dir / "sentences.txt" +
                               " --max-length 10 --batch-size 2 --output " + dir / "l.npy" +
                               " --features " + dir / "p.npy");
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto logits = smile::io::read_npy(dir / "l.npy");
    const auto pooled = smile::io::read_npy(dir / "p.npy");
    CHECK(logits.shape == std::vector<std::int64_t>{3, 5});  // the blank line is no sentence
    CHECK(pooled.shape == std::vector<std::int64_t>{3, 16});
    // The library on the same sentences, all in one batch (padding does not change the results).
    smile::session<B> s;
    smile::rng gen(1);
    smile::bert_classifier<B> model(
        s, gen, smile::bert_config::from_json_file(fixtures + "/bert_tiny/config.json"));
    smile::io::load_weights<B>(model, fixtures + "/bert_tiny/model.safetensors");
    const auto tokenizer = smile::text::wordpiece_tokenizer::from_vocab_file(dir / "vocab.txt");
    std::vector<smile::text::encoding> encodings;
    for (const char* sentence : {"The film is GOOD", "an awful, dull plot",
                                 "it was quite fine but the ending was very very very poor"})
        encodings.push_back(tokenizer.encode(sentence, 10));
    smile::tensor<B> expected;
    model.forward(s, smile::token_batch::from_encodings(encodings), expected, smile::mode::eval);
    CHECK(smile::test::relative_error(logits.values, expected.to_host()) < 1e-5);
    CHECK(smile::test::relative_error(pooled.values, model.bert().pooled().to_host()) < 1e-5);
    struct c {
        std::string args, message;
    };
    for (const auto& [args, message] :
         {c{"predict --arch bert" + common + " --output " + dir / "l.npy",
            "--arch bert needs --text"},
          c{"predict --arch bert" + common + " --text " +
                dir / "sentences.txt --max-length 13 --output " + dir / "l.npy",
            "--max-length 13 must be in 2..12"},
          c{"predict --arch bert" + common + " --text " +
                dir / "sentences.txt --max-length 10 --num-classes 3 --output " + dir / "l.npy",
            "shape mismatch for 2 tensor(s): fc.weight"},
          c{"predict --arch bert" + common + " --text " +
                dir / "none.txt --max-length 10 --output " + dir / "l.npy",
            "cannot open"},
          c{"predict --arch bert" + common + " --input " + dir / "x.npy --text " +
                dir / "sentences.txt --output " + dir / "l.npy",
            "--input is for images; --arch bert reads --text"}}) {
        const auto bad = smile::test::run_smile(args);
        INFO(args, "\n", bad.output);
        CHECK(bad.status != 0);
        CHECK(bad.output.find(message) != std::string::npos);
        CHECK(smile::test::line_count(bad.output) == 1);
    }
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
    smile::test::write_small_image_folder(tree.root);
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
    REQUIRE(first["models"].size() == 1);
    const auto& only = first["models"][0];
    CHECK(only["name"] == "w");
    for (const char* key : {"label_il_logits", "label_il_probabilities", "feature_il"}) {
        CAPTURE(key);
        CHECK(only[key]["ratios"].get<std::int64_t>() == 12 * 2);
        const double mean = only[key]["mean"].get<double>();
        CHECK(std::isfinite(mean));
        CHECK(mean > 0.0);
    }
    std::ifstream csv(dir / "a/feature_interpolation.csv");
    std::string line;
    int lines = 0;
    while (std::getline(csv, line)) ++lines;
    CHECK(lines == 1 + 2 * 5);  // header, 2 pairs × 5 values of λ
    CHECK(fs::exists(dir / "a/feature_interpolation.gp"));
    // Appendix C's picture: 2 pairs side by side; Tables 4-5 as 3 panels of bars.
    check_picture(dir / "a/feature_interpolation.png", 1280, 440);
    check_picture(dir / "a/interpolation_loss.png", 3 * 640, 440);

    // Several networks on the same images and draws: the same network twice measures the same
    // losses; another network, other losses. A row of paths per network.
    smile::rng other_gen(9);
    auto other = smile::make_classifier<B>(s, other_gen, smile::cifar_resnet(8), {3, 0});
    smile::io::save_weights<B>(other, dir / "other.safetensors");
    const auto r =
        smile::test::run_smile(common + " --arch resnet8 --weights " + dir / "w.safetensors" + " " +
                               dir / "other.safetensors" + " " + dir / "w.safetensors" +
                               " --names FT mixup again --out " + dir / "m");
    INFO(r.output);
    REQUIRE(r.status == 0);
    std::ifstream in(dir / "m/interpolation.json");
    const auto three = nlohmann::json::parse(in)["models"];
    REQUIRE(three.size() == 3);
    CHECK(three[0]["name"] == "FT");
    CHECK(three[1]["name"] == "mixup");
    CHECK(three[0]["feature_il"] == only["feature_il"]);
    CHECK(three[2]["feature_il"] == only["feature_il"]);
    CHECK(three[1]["feature_il"]["mean"] != only["feature_il"]["mean"]);
    check_picture(dir / "m/feature_interpolation.png", 2 * 640, 3 * 440);
    check_picture(dir / "m/interpolation_loss.png", 3 * 640, 440);
    const auto names =
        smile::test::run_smile(common + " --weights " + dir / "w.safetensors" + " " +
                               dir / "other.safetensors --names one --out " + dir / "n");
    CHECK(names.status != 0);
    CHECK(names.output.find("--names: 1 names for 2 --weights") != std::string::npos);

    // A model that does not fit the options is one clear line.
    const auto bad = smile::test::run_smile(common + " --arch resnet20 --weights " +
                                            dir / "w.safetensors" + " --out " + dir / "c");
    INFO(bad.output);
    CHECK(bad.status != 0);
    CHECK(bad.output.find("--weights " + dir / "w.safetensors" + ": not a complete resnet20") !=
          std::string::npos);
    CHECK(smile::test::line_count(bad.output) == 1);
}

namespace {

/// An ImageFolder of 3 classes × 6 small images and a "pretrained" 3-channel ResNet-8 with a
/// 5-class fc, for fine-tuning runs of a few seconds.
struct finetune_setup {
    workdir dir;
    smile::test::temp_tree tree{"finetune"};
    std::string weights = dir / "pretrained.safetensors";
    finetune_setup() {
        smile::test::write_small_image_folder(tree.root);
        smile::session<B> s;
        smile::rng gen(4);
        auto model = smile::make_classifier<B>(s, gen, smile::cifar_resnet(8), {5, 0});
        smile::io::save_weights<B>(model, weights);
    }
    mutable int runs = 0;
    /// A finetune command line; each call gets a run folder of its own (--output-dir).
    [[nodiscard]] std::string args(const std::string& method, std::int64_t iterations, const std::string& with = "") const {
        return "finetune --method " + method + " --arch resnet8 --weights " +
               (with.empty() ? weights : with) + " --format imagefolder --root " +
               tree.root.string() +
               " --image-size 16 --resize 16 --batch-size 6 --workers 0 --log-every 0 --iters " +
               std::to_string(iterations) + " --output-dir " +
               dir / ("run" + std::to_string(++runs));
    }
};

}  // namespace

TEST_CASE("smile finetune: numeric options are checked, naming the option and the accepted range in plain numbers") {
    finetune_setup f;
    struct c {
        std::string option, message;
    };
    for (const auto& [option, message] : {
             c{"--lr -1", "--lr: -1 is outside the accepted range (0, 10]"},
             c{"--rate abc", "--rate: 'abc' is not a number (accepted: a number in (0, 100])"},
             c{"--rate 0", "--rate: 0 is outside the accepted range (0, 100]"},
             c{"--alpha 0", "--alpha: 0 is outside the accepted range (0, 100]"},
             c{"--alpha -1", "--alpha: -1 is outside the accepted range (0, 100]"},
             c{"--momentum 5", "--momentum: 5 is outside the accepted range [0, 1)"},
             c{"--image-size 0", "--image-size: 0 is outside the accepted range [8, 4096]"},
             c{"--eval-every -1", "--eval-every: -1 is outside the accepted range [0, 1000000000000]"},
             c{"--batch-size 2.5", "--batch-size: '2.5' is not an integer"},
             c{"--teacher-decay 1.5", "--teacher-decay: 1.5 is outside the accepted range [0, 1]"},
             c{"--cutmix-prob 2", "--cutmix-prob: 2 is outside the accepted range [0, 1]"},
             c{"--clean-tail 9", "--clean-tail: 9 is more than the 4 iterations (--iters)"}}) {
        const auto r = smile::test::run_smile(f.args("smile", 4) + " " + option);
        INFO(option, "\n", r.output);
        CHECK(r.status != 0);
        CHECK(r.output.find(message) != std::string::npos);
        CHECK(r.output.find("iter ") == std::string::npos);  // refused before any training
    }
}

TEST_CASE("smile finetune: the log holds the whole configuration with numbers as numbers, presets fill only what is not given") {
    finetune_setup f;
    const std::string log = f.dir / "log.jsonl";
    auto run = [&](const std::string& extra) {
        const auto r = smile::test::run_smile(f.args("l2sp", 3) + " --log " + log + " " + extra);
        INFO(r.output);
        REQUIRE(r.status == 0);
        return smile::test::read_json_lines(log);
    };
    auto lines = run("--preset cars --l2sp-alpha 0.5 --lr 0.02 --seed 3");
    REQUIRE(lines.size() == 1 + 3 + 1);  // config, 3 iterations, the final evaluation
    const auto& config = lines[0]["config"];
    CHECK(config["l2sp_alpha"] == 0.5);  // given on the command line: the preset does not override it
    CHECK(config["lr"].get<double>() == doctest::Approx(0.02));
    CHECK(config["iterations"] == 3);
    CHECK(config["batch_size"] == 6);
    CHECK(config["seed"] == 3);
    CHECK(config["dataset"] == "imagefolder");
    CHECK(config["arch"] == "resnet8");
    CHECK(config["weights"] == f.weights);
    CHECK(config["rate"] == 100);
    CHECK(config["nesterov"] == true);
    CHECK(lines[4].contains("eval_top1"));
    CHECK(run("--preset cars")[0]["config"]["l2sp_alpha"] == 1e-4);  // the preset's value for Cars
    const auto r = smile::test::run_smile(f.args("rifle", 4) + " --log " + log + " --preset cars");
    REQUIRE(r.status == 0);
    CHECK(smile::test::read_json_lines(log)[0]["config"]["rifle_periods"] == 4);
    // indoor67: the paper's lr 0.001 (not given here), the iterations given; the strengths stay
    // the defaults (task_config.ini has none for it).
    const auto indoor = run("--preset indoor67")[0]["config"];
    CHECK(indoor["lr"].get<double>() == doctest::Approx(0.001));
    CHECK(indoor["iterations"] == 3);
    CHECK(indoor["l2sp_alpha"] == 1e-3);  // l2sp_options{}.alpha
    // food101: its backbone (efficientnet-b4) is only a fallback: the weight file's metadata
    // names resnet8, and that is what runs.
    const auto food = run("--preset food101 --lr 0.05")[0]["config"];
    CHECK(food["arch"] == "resnet8");
    CHECK(food["lr"].get<double>() == doctest::Approx(0.05));
}

TEST_CASE(
    "smile finetune --precision bf16: logged and checkpointed, resumes bit for bit, refused at "
    "another precision or without the CPU's bf16") {
    finetune_setup f;
    const std::string bf16 = " --precision bf16 --teacher-precision f32";
    // Where oneDNN may not use bf16 instructions, the run stops before training, saying why.
    auto r = smile::test::run_command(
        "DNNL_MAX_CPU_ISA=AVX512_CORE ONEDNN_MAX_CPU_ISA=AVX512_CORE " +
        std::string(SMILE_PROGRAM) + " " + f.args("smile", 2) + bf16 + " 2>&1");
    CHECK(r.status != 0);
    CHECK(r.output.find("resnet8 student: bf16 is not available: this CPU") != std::string::npos);
    r = smile::test::run_smile(f.args("finetune", 2) + " --teacher-precision bf16");
    CHECK(r.status != 0);
    CHECK(r.output.find(
              "finetune: has no teacher or source network, so a teacher precision (bf16)") !=
          std::string::npos);
    r = smile::test::run_smile(f.args("smile", 1) + bf16 + " --dry-run");
    if (r.output.find("bf16 is not available") != std::string::npos) {
        MESSAGE("skipped: this CPU has no bf16: ", r.output);
        return;
    }
    // 4 iterations at once, and 2 + a resume to 4 (a constant rate, so that only the count
    // differs, which --force-resume accepts): the same network, bit for bit.
    const std::string bf16_run = bf16 + " --schedule constant";
    const std::string whole = f.dir / "whole.safetensors", resumed = f.dir / "resumed.safetensors",
                      checkpoint = f.dir / "bf16-checkpoint.safetensors",
                      log = f.dir / "bf16.jsonl";
    r = smile::test::run_smile(f.args("smile", 4) + bf16_run + " --save-weights " + whole +
                               " --log " + log);
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto lines = smile::test::read_json_lines(log);
    CHECK(lines[0]["config"]["precision"] == "bf16");
    CHECK(lines[0]["config"]["teacher_precision"] == "f32");
    r = smile::test::run_smile(f.args("smile", 2) + bf16_run + " --checkpoint " + checkpoint);
    REQUIRE(r.status == 0);
    r = smile::test::run_smile(f.args("smile", 4) + bf16_run + " --checkpoint " + checkpoint +
                               " --resume --force-resume --save-weights " + resumed);
    INFO(r.output);
    REQUIRE(r.status == 0);
    smile::io::safetensors_reader a(whole), b(resumed);
    REQUIRE(a.entries().size() == b.entries().size());
    for (const auto& [name, entry] : a.entries()) {
        CAPTURE(name);
        if (entry.is_floating())
            CHECK(a.read_floats(name) == b.read_floats(name));
        else
            CHECK(a.read_integers(name) == b.read_integers(name));
    }
    // The checkpoint's settings hold the precisions: resuming at float32 is refused.
    r = smile::test::run_smile(f.args("smile", 4) + " --schedule constant --checkpoint " +
                               checkpoint + " --resume");
    INFO(r.output);
    CHECK(r.status != 0);
    CHECK(r.output.find("written by a run with other settings (precision: \"bf16\" -> \"f32\"") !=
          std::string::npos);
}

TEST_CASE("smile finetune: --optimizer adamw trains, is logged and checkpointed, and SGD-only settings are refused with it") {
    finetune_setup f;
    const std::string log = f.dir / "adamw.jsonl", checkpoint = f.dir / "adamw.safetensors";
    auto r = smile::test::run_smile(f.args("smile", 3) + " --optimizer adamw --lr 1e-3 --weight-decay 0.01 --beta2 0.99 --log " +
                                    log + " --checkpoint " + checkpoint);
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto lines = smile::test::read_json_lines(log);
    CHECK(lines[0]["config"]["optimizer"] == "adamw");
    CHECK(lines[0]["config"]["beta2"] == 0.99);
    CHECK(std::isfinite(lines[3]["loss"].get<double>()));
    smile::io::safetensors_reader saved(checkpoint);
    CHECK(saved.metadata().at("optimizer.kind") == "adamw");
    CHECK(saved.metadata().at("optimizer.step.fc.weight") == "3");
    // Resuming that checkpoint with another optimizer names both.
    r = smile::test::run_smile(f.args("smile", 4) + " --checkpoint " + checkpoint + " --resume");
    CHECK(r.status != 0);
    CHECK(r.output.find("the checkpoint holds the state of optimizer 'adamw', this run uses 'sgd'") != std::string::npos);
    r = smile::test::run_smile(f.args("smile", 4) + " --checkpoint " + checkpoint +
                               " --force-resume");
    CHECK(r.status != 0);
    CHECK(r.output.find("--force-resume requires --resume") != std::string::npos);
    r = smile::test::run_smile(f.args("finetune", 2) + " --optimizer adam --momentum 0.5");
    CHECK(r.status != 0);
    CHECK(r.output.find("--momentum is a setting of --optimizer sgd, not of adam") != std::string::npos);
}

TEST_CASE("smile finetune: unreadable images and unwritable outputs stop the run before training, or are skipped on request") {
    finetune_setup f;
    smile::test::write_text(f.tree.root / "test" / "class2" / "img3.png", "\x89PNG\r\n\x1a\n broken");
    auto r = smile::test::run_smile(f.args("finetune", 3));
    INFO(r.output);
    CHECK(r.status != 0);
    CHECK(r.output.find("test split: 1 of 18 images cannot be read (--skip-unreadable drops them)") != std::string::npos);
    CHECK(r.output.find("class2/img3.png") != std::string::npos);
    CHECK(r.output.find("iter ") == std::string::npos);
    r = smile::test::run_smile(f.args("finetune", 3) + " --skip-unreadable --save-weights " + f.dir / "out/ft.safetensors");
    CHECK(r.status == 0);
    CHECK(r.output.find("skipping 1 unreadable of 18 images") != std::string::npos);
    CHECK(fs::exists(f.dir / "out/ft.safetensors"));
    r = smile::test::run_smile(f.args("finetune", 3) + " --skip-unreadable --checkpoint /proc/smile-nowhere/c.safetensors");
    CHECK(r.status != 0);
    CHECK(r.output.find("--checkpoint /proc/smile-nowhere/c.safetensors: cannot create the folder") != std::string::npos);
    CHECK(r.output.find("iter ") == std::string::npos);
}

TEST_CASE("smile finetune: a pretrained file with foreign tensors or NaN weights is refused unless allowed") {
    finetune_setup f;
    smile::io::safetensors_reader full(f.weights);
    std::vector<smile::io::safetensors_record> records;
    for (const auto& [name, e] : full.entries())
        records.push_back(e.dtype == "I64" ? smile::io::safetensors_record{name, {}, {}, true, 0}
                                           : smile::io::safetensors_record{name, e.shape, full.read_floats(name), false, 0});
    records.push_back({"head.extra.weight", {2}, {1, 2}, false, 0});
    smile::io::write_safetensors(f.dir / "extra.safetensors", records);
    const std::string extra = f.args("finetune", 2, f.dir / "extra.safetensors");
    auto r = smile::test::run_smile(extra);
    CHECK(r.status != 0);
    CHECK(r.output.find("1 tensor(s) that resnet8 does not have: head.extra.weight") != std::string::npos);
    CHECK(smile::test::run_smile(extra + " --non-strict").status == 0);
    records.pop_back();
    for (auto& rec : records)
        if (rec.name == "layer1.0.conv1.weight") rec.values[0] = std::numeric_limits<float>::infinity();
    smile::io::write_safetensors(f.dir / "inf.safetensors", records);
    const std::string inf = f.args("finetune", 2, f.dir / "inf.safetensors");
    r = smile::test::run_smile(inf);
    CHECK(r.status != 0);
    CHECK(r.output.find("tensor 'layer1.0.conv1.weight' holds a non-finite value (element 0") != std::string::npos);
    CHECK(smile::test::run_smile(inf + " --allow-nonfinite").status == 0);
}

TEST_CASE("smile finetune: SIGTERM checkpoints and exits 143, and after SIGKILL --resume completes the run") {
    finetune_setup f;
    const std::string checkpoint = f.dir / "c.safetensors", log = f.dir / "log.jsonl", out = f.dir / "out.txt";
    auto lines_written = [&] {  // counted, not parsed: the writer may be mid-line
        std::ifstream in(log);
        return smile::test::line_count(std::string((std::istreambuf_iterator<char>(in)), {}));
    };
    auto wait_for_lines = [&](std::size_t n) {
        for (int i = 0; i < 6000 && lines_written() < n; ++i) ::usleep(5000);
    };
    {
        const pid_t pid = smile::test::spawn_smile(f.args("smile", 5000) + " --checkpoint " + checkpoint + " --log " + log, out);
        wait_for_lines(4);
        ::kill(pid, SIGTERM);
        CHECK(smile::test::wait_for(pid) == 128 + SIGTERM);
        std::ifstream in(out);
        const std::string output((std::istreambuf_iterator<char>(in)), {});
        INFO(output);
        CHECK(output.find("stopped by SIGTERM after iteration") != std::string::npos);
        CHECK(output.find("checkpoint written to " + checkpoint) != std::string::npos);
        CHECK(fs::exists(checkpoint));
        CHECK(smile::test::read_json_lines(log).back().contains("interrupted"));
    }
    fs::remove(checkpoint);
    fs::remove(log);
    const std::string every = f.args("smile", 200) + " --checkpoint " + checkpoint + " --checkpoint-every 1 --log " + log;
    const pid_t pid = smile::test::spawn_smile(every, out);
    wait_for_lines(12);
    ::kill(pid, SIGKILL);
    CHECK(smile::test::wait_for(pid) == 128 + SIGKILL);
    const auto r = smile::test::run_smile(every + " --resume");
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(r.output.find("resuming from " + checkpoint + " at iteration") != std::string::npos);
    CHECK(smile::io::safetensors_reader(checkpoint).metadata().at("iteration") == "200");
}

TEST_CASE("smile predict --arch mobilenet_v2: logits and pooled features equal torchvision's") {
    workdir dir;
    smile::io::safetensors_reader f(std::string(SMILE_TEST_FIXTURES) + "/mobilenet_v2_parity.safetensors");
    {
        smile::session<B> s;
        smile::rng gen(0);
        auto model = smile::make_classifier<B>(s, gen, smile::architecture_by_name("mobilenet_v2"), {10, 0});
        for (const auto& t : smile::state_of<B>(model))
            t.value->copy_from_host(smile::test::formula_values(t.name.rfind("fc.", 0) == 0 ? "classifier.1" + t.name.substr(2) : t.name,
                                                                smile::torch_shape(t.value->shape(), t.torch_rank)));
        smile::io::save_weights<B>(model, dir / "w.safetensors");  // no metadata: --arch decides
    }
    smile::io::write_npy(dir / "x.npy", {2, 3, 64, 64}, f.read_floats("input"));
    const auto r = smile::test::run_smile("predict --arch mobilenet_v2 --num-classes 10 --weights " + dir / "w.safetensors" +
                                          " --input " + dir / "x.npy" + " --output " + dir / "l.npy" + " --features " + dir / "f.npy");
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto logits = smile::io::read_npy(dir / "l.npy");
    const auto pooled = smile::io::read_npy(dir / "f.npy");
    CHECK(pooled.shape == std::vector<std::int64_t>{2, 1280});
    CHECK(smile::test::relative_error(logits.values, f.read_floats("eval.logits")) < 1e-4);
    CHECK(smile::test::relative_error(pooled.values, f.read_floats("eval.pooled")) < 1e-4);
    // Without --arch the default (resnet50) does not fit, and says which tensors are missing.
    const auto wrong = smile::test::run_smile("predict --num-classes 10 --weights " + dir / "w.safetensors" + " --input " +
                                              dir / "x.npy" + " --output " + dir / "l.npy");
    CHECK(wrong.status != 0);
    CHECK(wrong.output.find("conv1.weight") != std::string::npos);
}

TEST_CASE("smile finetune --arch mobilenet_v2: trains from a torchvision-named file whose metadata names the architecture") {
    finetune_setup f;
    const std::string weights = f.dir / "mobilenet.safetensors", out = f.dir / "tuned.safetensors";
    {
        smile::session<B> s;
        smile::rng gen(4);
        smile::mobilenet_v2_config arch;
        auto model = smile::make_classifier<B>(s, gen, arch, {5, 0});
        smile::io::save_weights<B>(model, weights, {{"arch", "mobilenet_v2"}});
    }
    const std::string common = " --weights " + weights + " --format imagefolder --root " + f.tree.root.string() +
                               " --image-size 32 --resize 32 --batch-size 6 --workers 0 --log-every 0 --iters 2";
    // The file's metadata decides the architecture; SMILE's source head comes from classifier.1.
    auto r = smile::test::run_smile("finetune --method smile" + common + " --save-weights " + out);
    INFO(r.output);
    REQUIRE(r.status == 0);
    smile::io::safetensors_reader tuned(out);
    CHECK(tuned.metadata().at("arch") == "mobilenet_v2");
    CHECK(tuned.entry("classifier.1.weight").shape == std::vector<std::int64_t>{3, 1280});
    CHECK(tuned.entry("source_fc.weight").shape == std::vector<std::int64_t>{5, 1280});
    r = smile::test::run_smile("finetune --method delta --arch mobilenet_v2" + common);
    CHECK(r.status == 0);
    // An --arch that contradicts the metadata names both.
    r = smile::test::run_smile("finetune --method finetune --arch resnet50" + common);
    CHECK(r.status != 0);
    CHECK(r.output.find("--arch resnet50 contradicts --weights " + weights + ", whose metadata names the architecture mobilenet_v2") !=
          std::string::npos);
    r = smile::test::run_smile("finetune --method finetune --small-stem" + common);
    CHECK(r.status != 0);
    CHECK(r.output.find("--small-stem: only ResNets have a small stem, not mobilenet_v2") != std::string::npos);
}

namespace {
using smile::test::read_json;
}  // namespace

TEST_CASE(
    "smile finetune: a run folder holds the configuration, log, checkpoints, weights and summary, "
    "and --config reruns it") {
    finetune_setup f;
    const std::string run = f.dir / "folder", again = f.dir / "again";
    const std::string common =
        " --arch resnet8 --weights " + f.weights + " --format imagefolder --root " +
        f.tree.root.string() +
        " --image-size 16 --resize 16 --batch-size 6 --workers 0 --log-every 0";
    auto r =
        smile::test::run_smile("finetune --method mixup" + common +
                               " --iters 6 --eval-every 2 --val-split 0.34 --output-dir " + run);
    INFO(r.output);
    REQUIRE(r.status == 0);
    for (const char* file :
         {"config.json", "log.jsonl", "checkpoint-last.safetensors", "checkpoint-best.safetensors",
          "weights-last.safetensors", "weights-best.safetensors", "summary.json"})
        CHECK_MESSAGE(fs::exists(fs::path(run) / file), file);
    // The training curves: 2 x 2 panels.
    check_picture(run + "/curves.png", 1280, 880, 0.01, 0.5);
    const auto config = read_json(run + "/config.json");
    CHECK(config["command"] == "finetune");
    CHECK(config["smile_version"].is_string());
    CHECK(config["options"]["iters"] == 6);  // numbers as numbers
    CHECK(config["options"]["val-split"] == 0.34);
    CHECK(config["resolved"]["validation_images"] ==
          6);  // round(0.34 * 6) = 2 of each of 3 classes
    CHECK(config["resolved"]["training_images"] == 12);
    CHECK(config["resolved"]["lr"].is_number());
    const auto log = smile::test::read_json_lines(run + "/log.jsonl");  // every line parses
    REQUIRE(log.size() == 1 + 6 + 3);
    for (const auto& line : log)
        if (line.contains("eval_top1")) CHECK(line["eval_split"] == "validation");
    const auto summary = read_json(run + "/summary.json");
    const auto best_iteration = summary["validation"]["best_iteration"].get<std::int64_t>();
    CHECK((best_iteration == 2 || best_iteration == 4 || best_iteration == 6));
    CHECK(smile::io::safetensors_reader(run + "/checkpoint-best.safetensors")
              .metadata()
              .at("iteration") == std::to_string(best_iteration));
    // The best network is the best checkpoint's: evaluate measures on the test split what the
    // run's summary says of it, and writes per-class accuracy and the confusion matrix.
    r = smile::test::run_smile("evaluate --run " + run + " --format imagefolder --root " +
                               f.tree.root.string() + " --image-size 16 --resize 16 --workers 0");
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto evaluation = read_json(run + "/evaluation-test/evaluation.json");
    CHECK(evaluation["weights"] == run + "/weights-best.safetensors");
    CHECK(evaluation["arch"] ==
          "resnet8");  // from the file's metadata: evaluate was given no --arch
    CHECK(evaluation["top1"] == summary["test_of_best"]["top1"]);
    CHECK(evaluation["top5"] == 1.0);  // 3 classes: always among the top 5
    CHECK(evaluation["images"] == 18);
    std::ifstream confusion(run + "/evaluation-test/confusion.csv");
    std::string header, row;
    std::getline(confusion, header);
    CHECK(header == "true\\predicted,class0,class1,class2");
    std::int64_t counted = 0, diagonal = 0;
    for (int k = 0; std::getline(confusion, row); ++k) {
        std::stringstream cells(row);
        std::string cell;
        std::getline(cells, cell, ',');
        for (int c = 0; std::getline(cells, cell, ','); ++c) {
            counted += std::stoll(cell);
            if (c == k) diagonal += std::stoll(cell);
        }
    }
    CHECK(counted == 18);
    CHECK(double(diagonal) / 18.0 == doctest::Approx(evaluation["top1"].get<double>()));
    check_picture(run + "/evaluation-test/confusion.png", 560, 560);
    // The same network from its checkpoint (no architecture flags: the checkpoint records them).
    r = smile::test::run_smile(
        "evaluate --checkpoint " + run +
        "/checkpoint-best.safetensors --format imagefolder --root " + f.tree.root.string() +
        " --image-size 16 --resize 16 --workers 0 --out " + f.dir / "from-checkpoint");
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto from_checkpoint = read_json(f.dir / "from-checkpoint/evaluation.json");
    CHECK(from_checkpoint["from"] == "checkpoint");
    CHECK(from_checkpoint["arch"] == "resnet8");
    CHECK(from_checkpoint["top1"] == evaluation["top1"]);
    CHECK(from_checkpoint["per_class"] == evaluation["per_class"]);
    r = smile::test::run_smile("evaluate --checkpoint " + f.weights +
                               " --format imagefolder --root " + f.tree.root.string() +
                               " --image-size 16 --resize 16 --workers 0 --out " + f.dir / "not");
    CHECK(r.status != 0);
    CHECK(r.output.find("--checkpoint " + f.weights + ": not a smile checkpoint") !=
          std::string::npos);

    // --dry-run prints the resolved configuration and trains nothing; --config takes a run
    // folder's options, and the command line wins.
    r = smile::test::run_smile("finetune --config " + run + "/config.json --output-dir " + again +
                               " --lr 0.5 --dry-run");
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(r.output.find("\"lr\": 0.5") != std::string::npos);
    CHECK(r.output.find("\"val-split\": 0.34") != std::string::npos);
    CHECK_FALSE(fs::exists(again));
    // Rerun from config.json alone: the same losses, step by step.
    r = smile::test::run_smile("finetune --config " + run + "/config.json --output-dir " + again);
    REQUIRE(r.status == 0);
    const auto rerun = smile::test::read_json_lines(again + "/log.jsonl");
    REQUIRE(rerun.size() == log.size());
    for (std::size_t k = 1; k < log.size(); ++k)
        if (log[k].contains("loss")) CHECK(rerun[k]["loss"] == log[k]["loss"]);
    // A folder that holds a run is not overwritten; --resume of a finished run says so.
    r = smile::test::run_smile("finetune --config " + run + "/config.json");
    CHECK(r.status != 0);
    CHECK(r.output.find(
              run + "/checkpoint-last.safetensors holds a run already: --resume continues it") !=
          std::string::npos);
    r = smile::test::run_smile("finetune --config " + run + "/config.json --resume");
    CHECK(r.status == 0);
    CHECK(r.output.find("is finished (iteration 6 of 6): nothing to train") != std::string::npos);
    // The summary still describes the whole run: its 6 steps and their time, now two sessions.
    const auto resumed = read_json(run + "/summary.json");
    CHECK(resumed["iterations_run"] == 6);
    CHECK(resumed["seconds_per_step"].get<double>() ==
          doctest::Approx(summary["seconds_per_step"].get<double>()));
    CHECK(resumed["seconds"].get<double>() >= summary["seconds"].get<double>());
    CHECK(resumed["sessions"] == 2);
    CHECK(resumed["test_of_best"]["top1"] == summary["test_of_best"]["top1"]);
}

TEST_CASE("smile finetune: model selection never looks at the test split") {
    finetune_setup f;
    auto r = smile::test::run_smile(f.args("finetune", 4) + " --eval-every 2 --early-stop 1");
    CHECK(r.status != 0);
    CHECK(r.output.find("--early-stop needs a validation split (--val-split or --val-list)") !=
          std::string::npos);
    r = smile::test::run_smile(f.args("finetune", 4) + " --val-split 0.5 --early-stop 1");
    CHECK(r.status != 0);
    CHECK(r.output.find("--early-stop needs --eval-every") != std::string::npos);
    // Without a validation split the evaluations are the test split's and no best is kept.
    r = smile::test::run_smile(f.args("finetune", 4) + " --eval-every 2");
    const std::string plain = f.dir / ("run" + std::to_string(f.runs));  // args' run folder
    REQUIRE(r.status == 0);
    CHECK_FALSE(fs::exists(plain + "/checkpoint-best.safetensors"));
    CHECK(read_json(plain + "/summary.json").contains("test"));
    CHECK_FALSE(read_json(plain + "/summary.json").contains("test_of_best"));
    // --resume needs to know which run.
    r = smile::test::run_smile("finetune --weights " + f.weights + " --format imagefolder --root " +
                               f.tree.root.string() + " --resume");
    CHECK(r.status != 0);
    CHECK(r.output.find("--resume needs the run to continue: --output-dir of its run folder (or "
                        "--checkpoint)") != std::string::npos);
}

TEST_CASE(
    "smile: packaged data and a smile-written network's architecture are found from any working "
    "directory") {
    workdir dir;
    {
        // A one-channel small-stem ResNet-8 with the metadata smile writes.
        smile::session<B> s;
        smile::rng gen(4);
        auto arch = smile::architecture_by_name("resnet8");
        arch.set_in_channels(1);
        auto model = smile::make_classifier<B>(s, gen, arch, {10, 0});
        smile::io::save_weights<B>(model, dir / "digits.safetensors",
                                   smile::architecture_metadata(arch));
    }
    // No --arch, --in-channels or --root; SMILE_DATA unset; the working directory elsewhere:
    // the data is found beside the program, the architecture in the file.
    const auto r =
        smile::test::run_smile("finetune --dry-run --weights " + dir / "digits.safetensors" +
                               " --format digits --rate 10");
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(r.output.find("\"arch\": \"resnet8\"") != std::string::npos);
    const std::string moved = "cd " + dir.path.string() + " && env -u SMILE_DATA " + SMILE_PROGRAM;
    const auto elsewhere = smile::test::run_command(
        moved + " finetune --dry-run --weights digits.safetensors --format digits --rate 10 2>&1");
    INFO(elsewhere.output);
    CHECK(elsewhere.status == 0);
    CHECK(elsewhere.output.find("\"training_images\"") != std::string::npos);
    CHECK_FALSE(fs::exists(dir.path / "runs"));  // a dry run makes no folder
}

TEST_CASE(
    "smile compare: the table's mean and standard deviation are its runs', and it is drawn as "
    "bars") {
    workdir dir;
    const auto r = smile::test::run_smile(
        "compare --methods finetune,mixup --seeds 2 --iters 2 --pretrain-iters 2 --workers 0 "
        "--cache " +
        dir / "cache" + " --out " + dir / "cmp");
    INFO(r.output);
    REQUIRE(r.status == 0);
    // compare.csv: a row per (method, target, seed).
    std::ifstream csv(dir / "cmp/compare.csv");
    std::string line;
    std::getline(csv, line);
    CHECK(line == "method,target,seed,top1,seconds_per_step");
    std::map<std::string, std::vector<double>> top1;  // "method|target" -> per seed
    while (std::getline(csv, line)) {
        std::stringstream cells(line);
        std::string method, target, seed, value;
        std::getline(cells, method, ',');
        std::getline(cells, target, ',');
        std::getline(cells, seed, ',');
        std::getline(cells, value, ',');
        top1[method + "|" + target].push_back(std::stod(value));
    }
    REQUIRE(top1.size() == 4);
    // compare.md's cell for mixup on the digits: mean ± sample standard deviation, in percent.
    const auto& v = top1.at("mixup|UCI digits 10%");
    REQUIRE(v.size() == 2);
    const double mean = (v[0] + v[1]) / 2, sd = std::abs(v[0] - v[1]) / std::sqrt(2.0);
    char cell[64];
    std::snprintf(cell, sizeof cell, "%.2f ± %.2f", 100 * mean, 100 * sd);
    std::ifstream md(dir / "cmp/compare.md");
    const std::string table((std::istreambuf_iterator<char>(md)), {});
    std::string mixup_row = table.substr(table.find("| mixup |"));
    mixup_row = mixup_row.substr(0, mixup_row.find('\n'));
    CHECK(mixup_row.find(cell) != std::string::npos);
    check_picture(dir / "cmp/compare.png", 2 * 640, 440);
}
