// Data-parallel training over MPI, run as a user would: `mpirun -np 2 smile finetune ...`
// against one process with the same global batch.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <smile/factory_instances.hpp>
#include <smile/io/safetensors.hpp>
#include <smile/io/weights.hpp>
#include <smile/models/architecture.hpp>
#include <string>
#include <thread>

#include "backends.hpp"
#include "dataset_builder.hpp"
#include "json_lines.hpp"
#include "planted_sentiment.hpp"
#include "run_program.hpp"

namespace fs = std::filesystem;
using B = smile::default_backend;
const std::string fixtures = SMILE_TEST_FIXTURES;

namespace {

/// Two ranks on this machine, one thread each (CI's two cores), whoever runs the tests (root
/// included), over shared memory without the kernel's cross-process copy (containers forbid it).
std::string two_ranks() {
    return std::string(SMILE_MPIEXEC) +
           " --allow-run-as-root --oversubscribe --mca btl self,vader --mca "
           "btl_vader_single_copy_mechanism none"
           " -x OMP_NUM_THREADS=1 -np 2 " +
           SMILE_PROGRAM + " ";
}

struct setup {
    fs::path dir = fs::temp_directory_path() / ("smile_mpi_" + std::to_string(::getpid()));
    smile::test::temp_tree tree{"distributed"};
    std::string weights;
    setup() {
        fs::create_directories(dir);
        weights = (dir / "pretrained.safetensors").string();
        smile::test::write_small_image_folder(tree.root);
        smile::session<B> s;
        smile::rng gen(4);
        auto model = smile::make_classifier<B>(s, gen, smile::cifar_resnet(8), {5, 0});
        smile::io::save_weights<B>(model, weights);
    }
    ~setup() { fs::remove_all(dir); }
    [[nodiscard]] std::string out(const std::string& name) const { return (dir / name).string(); }
    /// A finetune command line (after the program) writing into run folder `run`.
    [[nodiscard]] std::string args(const std::string& method, std::int64_t iterations,
                                   const std::string& run, const std::string& extra = "") const {
        return "finetune --method " + method + " --arch resnet8 --weights " + weights +
               " --format imagefolder --root " + tree.root.string() +
               " --image-size 16 --resize 16 --batch-size 6 --workers 0 --log-every 0 --schedule "
               "constant --iters " +
               std::to_string(iterations) + " --output-dir " + out(run) + " " + extra;
    }
};

/// ‖a − b‖/‖b‖ for each floating-point tensor the two weight files share (at least one).
std::map<std::string, double> relative_differences(const std::string& a, const std::string& b) {
    const smile::io::safetensors_reader fa(a), fb(b);
    std::map<std::string, double> out;
    for (const auto& [name, entry] : fb.entries()) {
        if (!fa.contains(name)) continue;    // the pretrained file's fc, the student's source_fc
        if (!entry.is_floating()) continue;  // num_batches_tracked
        const auto x = fa.read_floats(name), y = fb.read_floats(name);
        double diff = 0.0, norm = 0.0;
        for (std::size_t i = 0; i < y.size(); ++i) {
            diff += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
            norm += double(y[i]) * y[i];
        }
        out[name] = std::sqrt(diff) / std::max(std::sqrt(norm), 1e-12);
    }
    REQUIRE(!out.empty());
    return out;
}

/// The largest of `relative_differences`, and the tensor it is in.
double largest_relative_difference(const std::string& a, const std::string& b, std::string& worst) {
    double largest = 0.0;
    for (const auto& [name, r] : relative_differences(a, b))
        if (r > largest) largest = r, worst = name;
    return largest;
}

/// Checks that the 2-rank run's weights in `two` equal one process's in `one`: every tensor within
/// 1e-4 relative, or within 3 times that tensor's own rounding noise when that is larger. The
/// noise is the distance from `one` of the same process at another thread count (`reordered`):
/// float sums in another order. It is large, relatively, for a tensor near zero whose gradient
/// is a cancelling sum (an early batch norm's bias).
void check_weights_match(const std::string& two, const std::string& one,
                         const std::string& reordered) {
    const auto noise = relative_differences(reordered, one);
    for (const auto& [name, d] : relative_differences(two, one)) {
        // An attention key's bias adds the same q·b to every score of a query's row, which the
        // softmax cancels: its gradient is exactly zero but for rounding, which depends on how the
        // batch is split, and AdamW turns that noise into steps of the learning rate's size.
        if (name.ends_with("attention.self.key.bias")) continue;
        CAPTURE(name);
        CAPTURE(noise.at(name));
        CHECK(d <= std::max(1e-4, 3.0 * noise.at(name)));
    }
}

/// The program at the other thread count than the tests' own (1 when they run with more).
std::string program_reordered() {
    const char* threads = std::getenv("OMP_NUM_THREADS");
    const std::string other = threads != nullptr && std::string(threads) == "1" ? "2" : "1";
    return "OMP_NUM_THREADS=" + other + " " + std::string(SMILE_PROGRAM) + " ";
}

}  // namespace

TEST_CASE(
    "mpirun -np 2 with --sync-bn ends with the weights of one process at the same global batch, "
    "for every data-parallel method") {
    setup f;
    // Each method whose step involves the batch beyond a per-image mean: mixing partners across
    // the ranks (mixup, CutMix, SMILE and its teacher's gathered outputs), a re-initialisation
    // drawn from the run's generator (RIFLE), a penalty every rank adds (L2-SP), the singular
    // values of the global batch's features (BSS), a penalty summed over the batch and channel
    // attention computed by rank 0 (DELTA, and D-SMILE + KD mixing the global batch), a category
    // relationship computed by rank 0 (Co-Tuning).
    for (const std::string method : {"finetune", "l2sp", "rifle", "mixup", "cutmix", "smile", "bss",
                                     "delta", "dsmile-kd", "cotuning"}) {
        CAPTURE(method);
        const auto one = smile::test::run_command(std::string(SMILE_PROGRAM) + " " +
                                                  f.args(method, 4, method + "-1") + " 2>&1");
        INFO(one.output);
        REQUIRE(one.status == 0);
        const auto reordered = smile::test::run_command(
            program_reordered() + f.args(method, 4, method + "-1t") + " 2>&1");
        REQUIRE(reordered.status == 0);
        // 10 KiB gradient buckets: resnet8's 78,000 gradients go in about 30 messages, most
        // of them started while backward runs (the default 25 MiB makes one, at its end).
        const auto two = smile::test::run_command(
            two_ranks() + f.args(method, 4, method + "-2", "--sync-bn --bucket-mb 0.01") + " 2>&1");
        INFO(two.output);
        REQUIRE(two.status == 0);
        check_weights_match(f.out(method + "-2/weights-last.safetensors"),
                            f.out(method + "-1/weights-last.safetensors"),
                            f.out(method + "-1t/weights-last.safetensors"));
        std::string worst;
        // And the runs did move away from the pretrained network (the comparison is not vacuous).
        CHECK(largest_relative_difference(f.out(method + "-1/weights-last.safetensors"), f.weights,
                                          worst) > 1e-3);
        // One log, written by rank 0: the config line, 4 steps, the final evaluation; the
        // reported losses are the global batch's, equal to one process's.
        const auto log1 = smile::test::read_json_lines(f.out(method + "-1/log.jsonl"));
        const auto log2 = smile::test::read_json_lines(f.out(method + "-2/log.jsonl"));
        REQUIRE(log2.size() == 6);
        CHECK(log2[0]["config"]["ranks"] == 2);
        CHECK(log2[0]["config"]["sync_bn"] == true);
        CHECK(log2[0]["config"]["bucket_mb"].get<double>() == doctest::Approx(0.01).epsilon(1e-3));
        CHECK(!log1[0]["config"].contains("ranks"));
        for (int k = 1; k <= 4; ++k)
            CHECK(log2[std::size_t(k)]["loss"].get<double>() ==
                  doctest::Approx(log1[std::size_t(k)]["loss"].get<double>()).epsilon(1e-4));
        CHECK(log2[5]["eval_top1"].get<double>() ==
              doctest::Approx(log1[5]["eval_top1"].get<double>()));
        CHECK(two.output.find("data-parallel: MPI") != std::string::npos);
        CHECK(two.output.find("gradients averaged in buckets of 0.01 MiB during backward") != std::string::npos);
    }
}

TEST_CASE(
    "mpirun -np 2 without --sync-bn trains with each rank's batch statistics and rank 0's running "
    "statistics") {
    setup f;
    const auto one = smile::test::run_command(std::string(SMILE_PROGRAM) + " " +
                                              f.args("finetune", 3, "one") + " 2>&1");
    REQUIRE(one.status == 0);
    // And without buckets: one all-reduce per tensor after backward.
    const auto two = smile::test::run_command(two_ranks() + f.args("finetune", 3, "two", "--bucket-mb 0") + " 2>&1");
    INFO(two.output);
    REQUIRE(two.status == 0);
    CHECK(two.output.find("batch norm per rank") != std::string::npos);
    CHECK(two.output.find("gradients averaged one tensor at a time after backward (--bucket-mb 0)") !=
          std::string::npos);
    std::string worst;
    // Statistics over 3 images instead of 6: not the single-process network.
    CHECK(largest_relative_difference(f.out("two/weights-last.safetensors"),
                                      f.out("one/weights-last.safetensors"), worst) > 1e-4);
    CHECK(smile::test::read_json_lines(f.out("two/log.jsonl"))[0]["config"]["sync_bn"] == false);
}

TEST_CASE(
    "mpirun -np 2: a checkpoint resumed under 2 ranks continues bit-exactly as the uninterrupted "
    "2-rank run") {
    setup f;
    const auto whole =
        smile::test::run_command(two_ranks() + f.args("smile", 6, "whole", "--sync-bn") + " 2>&1");
    INFO(whole.output);
    REQUIRE(whole.status == 0);
    // The same run stopped after 3 steps (its checkpoint written at the end), then continued to 6.
    const auto first =
        smile::test::run_command(two_ranks() + f.args("smile", 3, "parts", "--sync-bn") + " 2>&1");
    INFO(first.output);
    REQUIRE(first.status == 0);
    const auto rest = smile::test::run_command(
        two_ranks() + f.args("smile", 6, "parts", "--sync-bn --resume --force-resume") + " 2>&1");
    INFO(rest.output);
    REQUIRE(rest.status == 0);
    CHECK(rest.output.find("resuming from") != std::string::npos);
    const smile::io::safetensors_reader a(f.out("whole/weights-last.safetensors")),
        b(f.out("parts/weights-last.safetensors"));
    for (const auto& [name, entry] : a.entries()) {
        CAPTURE(name);
        if (!entry.is_floating()) continue;
        CHECK(a.read_floats(name) == b.read_floats(name));
    }
}

TEST_CASE(
    "mpirun -np 2: bad settings stop every rank with one clear message, for images and text") {
    setup f;
    std::string odd = f.args("finetune", 2, "uneven");
    odd.replace(odd.find("--batch-size 6"), 14, "--batch-size 5");
    const auto uneven = smile::test::run_command(two_ranks() + odd + " 2>&1");
    INFO(uneven.output);
    CHECK(uneven.status != 0);
    CHECK(uneven.output.find("--batch-size 5 does not split evenly over 2 ranks") !=
          std::string::npos);
    // A text batch size that does not split over the ranks (every text method runs over ranks).
    const fs::path vocab = f.dir / "text-vocab.txt";
    {
        std::ofstream out(vocab);
        for (const auto& token : smile::test::planted::vocabulary()) out << token << "\n";
        fs::create_directories(f.dir / "sst" / "trees");
        for (const char* split : {"train", "dev", "test"})
            smile::test::planted::write_trees(
                f.dir / "sst" / "trees" / (std::string(split) + ".txt"), 16, 1);
    }
    const auto text = smile::test::run_command(
        two_ranks() + "finetune --arch bert --model-config " + fixtures +
        "/bert_tiny/config.json --weights " + fixtures + "/bert_tiny/model.safetensors --vocab " +
        vocab.string() + " --format sst5 --root " + (f.dir / "sst").string() +
        " --num-classes 2 --max-length 12 --method mixup --batch-size 5 2>&1");
    INFO(text.output);
    CHECK(text.status != 0);
    CHECK(text.output.find("--batch-size 5 over 2 ranks: every batch of an epoch of 16 sentences "
                           "must split evenly") != std::string::npos);
}

TEST_CASE(
    "mpirun -np 2 smile finetune --arch bert ends with the weights of one process at the same "
    "global batch, for FT, L2-SP, BSS, mixup and SMILE, with dropout on") {
    setup f;
    // SST trees with a planted sentiment word, the tiny BERT with its dropout (0.1): the masks are
    // drawn per element of the global batch, so the ranks draw together one process's masks.
    const fs::path sst = f.dir / "sst";
    fs::create_directories(sst / "trees");
    smile::test::planted::write_trees(sst / "trees" / "train.txt", 48, 1);
    smile::test::planted::write_trees(sst / "trees" / "dev.txt", 16, 2);
    smile::test::planted::write_trees(sst / "trees" / "test.txt", 16, 3);
    {
        std::ofstream vocab(f.dir / "vocab.txt");
        for (const auto& token : smile::test::planted::vocabulary()) vocab << token << "\n";
    }
    auto args = [&](const std::string& method, const std::string& run) {
        return "finetune --arch bert --model-config " + fixtures + "/bert_tiny/config.json --weights " +
               fixtures + "/bert_tiny/model.safetensors --vocab " + f.out("vocab.txt") +
               " --format sst5 --root " + sst.string() +
               " --num-classes 2 --max-length 12 --method " + method +
               " --lr 5e-3 --seed 4 --batch-size 8 --iters 5 --log-every 0 --output-dir " +
               f.out(run);
    };
    // Mixup and SMILE mix after the embeddings (their default): partners on the other rank.
    for (const std::string method : {"finetune", "l2sp", "bss", "mixup", "smile"}) {
        CAPTURE(method);
        const auto one = smile::test::run_command(std::string(SMILE_PROGRAM) + " " +
                                                  args(method, "text-" + method + "-1") + " 2>&1");
        INFO(one.output);
        REQUIRE(one.status == 0);
        const auto reordered = smile::test::run_command(
            program_reordered() + args(method, "text-" + method + "-1t") + " 2>&1");
        REQUIRE(reordered.status == 0);
        // 64 KiB buckets: a few messages over the tiny BERT's layers.
        const auto two = smile::test::run_command(two_ranks() + args(method, "text-" + method + "-2") +
                                                  " --bucket-mb 0.0625 2>&1");
        INFO(two.output);
        REQUIRE(two.status == 0);
        CHECK(two.output.find("data-parallel: MPI") != std::string::npos);
        check_weights_match(f.out("text-" + method + "-2/weights-last.safetensors"),
                            f.out("text-" + method + "-1/weights-last.safetensors"),
                            f.out("text-" + method + "-1t/weights-last.safetensors"));
        std::string worst;
        CHECK(largest_relative_difference(f.out("text-" + method + "-1/weights-last.safetensors"),
                                          fixtures + "/bert_tiny/model.safetensors", worst) > 1e-3);
        // The logged losses and gradient norms (clipping sees the averaged gradients) are one
        // process's; the evaluations, sharded over the ranks, count every sentence once.
        const auto log1 = smile::test::read_json_lines(f.out("text-" + method + "-1/log.jsonl"));
        const auto log2 = smile::test::read_json_lines(f.out("text-" + method + "-2/log.jsonl"));
        REQUIRE(log1.size() == log2.size());
        CHECK(log2[0]["config"]["ranks"] == 2);
        for (std::size_t k = 1; k + 1 < log1.size(); ++k) {
            CAPTURE(k);
            if (!log1[k].contains("loss")) continue;
            CHECK(log2[k]["loss"].get<double>() ==
                  doctest::Approx(log1[k]["loss"].get<double>()).epsilon(1e-4));
            CHECK(log2[k]["grad_norm"].get<double>() ==
                  doctest::Approx(log1[k]["grad_norm"].get<double>()).epsilon(1e-4));
        }
        CHECK(log2.back()["eval_top1"].get<double>() ==
              doctest::Approx(log1.back()["eval_top1"].get<double>()));
    }
}

TEST_CASE(
    "mpirun -np 2: a rank killed mid-run ends the job with a non-zero status and a message, never "
    "a hang") {
    setup f;
    const std::string output = f.out("killed.txt");
    std::string args = f.args("finetune", 100000, "killed", "--progress lines");
    args.replace(args.find("--log-every 0"), 13, "--log-every 1");
    const std::string command = "exec " + two_ranks() + args + " > " + output + " 2>&1";
    const pid_t launcher = ::fork();
    if (launcher == 0) {
        ::setpgid(0, 0);
        ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    // Wait until training runs (rank 0 prints progress lines), then kill one rank's process.
    auto text = [&] {
        std::ifstream in(output);
        return std::string((std::istreambuf_iterator<char>(in)), {});
    };
    for (int i = 0; i < 6000 && text().find("iter 3/") == std::string::npos; ++i) ::usleep(10000);
    REQUIRE(text().find("iter 3/") != std::string::npos);
    const auto ranks =
        smile::test::run_command("pgrep -P " + std::to_string(launcher) + " -f 'smile finetune'");
    const pid_t victim = std::atoi(ranks.output.c_str());
    REQUIRE(victim > 0);
    const auto killed_at = std::chrono::steady_clock::now();
    ::kill(victim, SIGKILL);
    int status = 0;
    pid_t done = 0;
    while ((done = ::waitpid(launcher, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() - killed_at < std::chrono::seconds(60))
        ::usleep(20000);
    if (done == 0) ::kill(-launcher, SIGKILL), ::waitpid(launcher, &status, 0);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
    INFO(text());
    CHECK(done == launcher);  // ended by itself, within the bound
    CHECK(seconds < 30);
    CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
    CHECK(text().find("signal 9") != std::string::npos);
    MESSAGE("the job ended ", seconds, " s after a rank was killed");
}
