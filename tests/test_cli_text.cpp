// `smile finetune --arch bert`, run as a user would: SST-format trees written to disk, a
// vocab.txt that fits the tiny BERT of tests/fixtures/bert_tiny, a sentiment word planted in
// every sentence. The run folder, the learned rule, exact resumption, and the errors.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <smile/core/random.hpp>
#include <smile/io/safetensors.hpp>
#include <string>
#include <vector>

#include "json_lines.hpp"
#include "planted_sentiment.hpp"
#include "run_program.hpp"

namespace fs = std::filesystem;

namespace {

const std::string fixtures = SMILE_TEST_FIXTURES;
/// A dataset root with trees/{train,dev,test}.txt (labels 0 negative, 1 positive) and a
/// vocab.txt of the 40 tokens the tiny BERT has.
struct text_setup {
    fs::path dir = fs::temp_directory_path() / ("smile_cli_text_" + std::to_string(::getpid()));

    text_setup() {
        fs::remove_all(dir);
        fs::create_directories(dir / "sst" / "trees");
        smile::test::planted::write_trees(dir / "sst" / "trees" / "train.txt", 240, 1);
        smile::test::planted::write_trees(dir / "sst" / "trees" / "dev.txt", 48, 2);
        smile::test::planted::write_trees(dir / "sst" / "trees" / "test.txt", 96, 3);
        std::ofstream vocab(dir / "vocab.txt");
        for (const auto& token : smile::test::planted::vocabulary()) vocab << token << "\n";
    }
    ~text_setup() { fs::remove_all(dir); }

    /// The command line of a run in `folder` (under the setup's directory).
    [[nodiscard]] std::string args(const std::string& method, const std::string& folder) const {
        return "finetune --arch bert --model-config " + fixtures +
               "/bert_tiny/config.json --weights " + fixtures +
               "/bert_tiny/model.safetensors --vocab " + (dir / "vocab.txt").string() +
               " --format sst5 --root " + (dir / "sst").string() +
               " --num-classes 2 --max-length 12 --method " + method +
               " --lr 5e-3 --seed 4 --progress lines --log-every 0 --output-dir " +
               (dir / folder).string();
    }
};

}  // namespace

TEST_CASE(
    "smile finetune --arch bert: FT, mixup and SMILE learn a planted rule from SST trees, in a run "
    "folder") {
    text_setup f;
    for (const std::string method : {"finetune", "mixup", "smile"}) {
        INFO(method);
        const auto r = smile::test::run_smile(f.args(method, method) + " --epochs 10");
        INFO(r.output);
        REQUIRE(r.status == 0);
        const fs::path run = f.dir / method;
        const auto summary = smile::test::read_json(run / "summary.json");
        MESSAGE(method, ": test top-1 ", summary["test"]["top1"], ", of the best by dev ",
                summary["test_of_best"]["top1"]);
        CHECK(summary["iterations"] == 100);  // 10 epochs of ⌈240 / 24⌉ batches
        CHECK(summary["test"]["images"] == 96);
        CHECK(summary["test"]["top1"].get<double>() >= 0.85);
        CHECK(summary["validation"]["best_top1"].get<double>() >= 0.85);  // the dev split
        const auto config = smile::test::read_json(run / "config.json")["resolved"];
        CHECK(config["arch"] == "bert");
        CHECK(config["batch_size"] == 24);  // the text recipe's, not the image default 48
        CHECK(config["optimizer"] == "adamw");
        CHECK(config["schedule"] == "linear");
        CHECK(config["warmup_ratio"] == 0.1);
        CHECK(config["validation_sentences"] == 48);
        CHECK(config["max_grad_norm"] == 1);
        if (method == "smile") {
            // The tiny file has no next-sentence head: L_FC is off, and the configuration says why.
            CHECK(config["gamma_fc"].get<std::string>().find("no pretraining head") !=
                  std::string::npos);
            CHECK(config["mix_point"] == "embeddings");
        }
        const auto log = smile::test::read_json_lines(run / "log.jsonl");
        CHECK(log[1]["lr"] == 0.0);  // the warm-up's first step
        CHECK(log[1].contains("grad_norm"));
        // The fine-tuned network and the configuration that reads it: smile predict takes both.
        const auto model_config = smile::test::read_json(run / "model-config.json");
        CHECK(model_config["num_labels"] == 2);
        CHECK(fs::exists(run / "weights-last.safetensors"));
        CHECK(fs::exists(run / "weights-best.safetensors"));
    }
    std::ofstream(f.dir / "sentences.txt") << "the film is superb\nthe plot was awful\n";
    const auto p = smile::test::run_smile(
        "predict --arch bert --model-config " +
        (f.dir / "finetune" / "model-config.json").string() + " --weights " +
        (f.dir / "finetune" / "weights-last.safetensors").string() + " --vocab " +
        (f.dir / "vocab.txt").string() + " --text " + (f.dir / "sentences.txt").string() +
        " --max-length 12 --output " + (f.dir / "logits.npy").string());
    INFO(p.output);
    CHECK(p.status == 0);
}

TEST_CASE(
    "smile finetune --arch bert: a resumed run ends with exactly the weights of an uninterrupted "
    "one") {
    text_setup f;
    // A constant rate, so that the first session's shorter run has the same rates.
    const std::string common = " --schedule constant";
    auto r = smile::test::run_smile(f.args("smile", "whole") + common + " --iters 14");
    INFO(r.output);
    REQUIRE(r.status == 0);
    r = smile::test::run_smile(f.args("smile", "parts") + common + " --iters 7");
    REQUIRE(r.status == 0);
    r = smile::test::run_smile(f.args("smile", "parts") + common +
                               " --iters 14 --resume --force-resume");
    REQUIRE(r.status == 0);
    CHECK(r.output.find("resuming from") != std::string::npos);
    smile::io::safetensors_reader whole(f.dir / "whole" / "weights-last.safetensors"),
        parts(f.dir / "parts" / "weights-last.safetensors");
    REQUIRE(whole.entries().size() == parts.entries().size());
    std::size_t same = 0;
    for (const auto& [name, entry] : whole.entries())
        same += whole.read_floats(name) == parts.read_floats(name);
    CHECK(same == whole.entries().size());
}

TEST_CASE("smile finetune --arch bert: wrong options and inputs are refused, naming them") {
    text_setup f;
    struct c {
        std::string arguments, message;
    };
    for (const auto& [arguments, message] :
         {c{f.args("smile", "b") + " --teacher-update copy",
            "--teacher-update is an option of image fine-tuning"},
          c{f.args("smile", "c") + " --preset cub", "--preset cub is an image dataset's recipe"},
          c{f.args("dance", "d"), "--method 'dance' is not a method for text"},
          c{f.args("smile", "e") + " --iters 3 --epochs 2", "--iters excludes --epochs"}}) {
        const auto r = smile::test::run_smile(arguments);
        INFO(arguments);
        INFO(r.output);
        CHECK(r.status != 0);
        CHECK(r.output.find(message) != std::string::npos);
    }
    std::ofstream(f.dir / "sst" / "trees" / "dev.txt", std::ios::app) << "(1 (1 good)\n";
    auto bad = smile::test::run_smile(f.args("smile", "a"));
    CHECK(bad.status != 0);
    CHECK(bad.output.find("dev.txt:49: unbalanced parentheses") != std::string::npos);
    const auto r = smile::test::run_smile(
        "finetune --format mnist --weights x.safetensors --max-length 12 --method finetune");
    CHECK(r.output.find("--max-length is an option of --arch bert (text), not of images") !=
          std::string::npos);
}

TEST_CASE(
    "scripts/table7.sh: every method over seeds, resumable, and the table of their test top-1") {
    text_setup f;
    const fs::path script = fs::path(fixtures) / ".." / ".." / "scripts" / "table7.sh";
    const std::string command =
        "SMILE=" + std::string(SMILE_PROGRAM) + " " + script.string() + " --model-config " +
        fixtures + "/bert_tiny/config.json --weights " + fixtures +
        "/bert_tiny/model.safetensors --vocab " + (f.dir / "vocab.txt").string() + " --root " +
        (f.dir / "sst").string() + " --methods 'finetune smile' --seeds '0 1' --out " +
        (f.dir / "table7").string() +
        " -- --num-classes 2 --max-length 12 --lr 5e-3 --epochs 2 --log-every 0";
    auto r = smile::test::run_command(command + " 2>&1");
    INFO(r.output);
    REQUIRE(r.status == 0);
    for (const char* run : {"finetune-s0", "finetune-s1", "smile-s0", "smile-s1"})
        CHECK(fs::exists(f.dir / "table7" / run / "summary.json"));
    std::ifstream csv(f.dir / "table7" / "table7.csv");
    const std::string table((std::istreambuf_iterator<char>(csv)), {});
    CHECK(table.find("method,test_top1_mean,test_top1_std") == 0);
    CHECK(table.find("\nfinetune,") != std::string::npos);
    CHECK(table.find("\nsmile,") != std::string::npos);
    // The mean is the runs' own: finetune's two summaries, averaged.
    double sum = 0;
    for (const char* run : {"finetune-s0", "finetune-s1"})
        sum += 100 * smile::test::read_json(f.dir / "table7" / run / "summary.json")["test"]["top1"]
                         .get<double>();
    const auto row = table.substr(table.find("\nfinetune,") + 10);
    CHECK(std::stod(row) == doctest::Approx(sum / 2).epsilon(1e-3));
    // A second call finds every run done and trains nothing.
    r = smile::test::run_command(command + " 2>&1");
    CHECK(r.status == 0);
    CHECK(r.output.find("finetune-s1 is done") != std::string::npos);
}
