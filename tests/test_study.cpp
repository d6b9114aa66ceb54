// The reproduction study (`smile compare --study`): its paired test against hand-computed values,
// and a tiny study run twice through the program: tables that agree with the runs, the lists
// written out, the analyses, and a second invocation that runs nothing again.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <numbers>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "run_program.hpp"
#include "smile/statistics.hpp"

namespace fs = std::filesystem;
using smile::test::check_picture;
using smile::test::workdir;

namespace {

/// Student's t with 4 degrees of freedom in closed form: P(|T| ≥ t) = 2 (1 − F(t)),
/// F(t) = 1/2 + (3/4) · t/√(4 + t²) · (1 − t²/(3 (4 + t²))).
double two_sided_p_nu4(double t) {
    const double f = 0.5 + 0.75 * t / std::sqrt(4 + t * t) * (1 - t * t / (3 * (4 + t * t)));
    return 2 * (1 - f);
}

/// With 1 degree of freedom T is Cauchy: P(|T| ≥ t) = 1 − (2/π) atan(t).
double two_sided_p_nu1(double t) { return 1 - 2 / std::numbers::pi * std::atan(std::fabs(t)); }

/// A CSV file as rows of cells (no quoted commas in the study's files), header first.
std::vector<std::vector<std::string>> read_csv(const fs::path& file) {
    std::ifstream in(file);
    REQUIRE(in.good());
    std::vector<std::vector<std::string>> rows;
    std::string line;
    while (std::getline(in, line)) {
        std::vector<std::string> cells;
        std::stringstream s(line);
        std::string cell;
        while (std::getline(s, cell, ',')) cells.push_back(cell);
        if (!line.empty() && line.back() == ',') cells.emplace_back();
        rows.push_back(cells);
    }
    return rows;
}

std::string read_text(const fs::path& file) {
    std::ifstream in(file);
    return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("paired t-test: t, p and the degenerate cases by hand") {
    // d = (0.02, 0.02, -0.01, 0.04, 0.02): mean 0.018, sd √(1.28e-3 / 4) = 0.0178885,
    // t = 0.018 / (0.0178885 / √5) = 2.25 with 4 degrees of freedom.
    const auto r =
        smile::cli::paired_t_test({0.80, 0.82, 0.79, 0.85, 0.81}, {0.78, 0.80, 0.80, 0.81, 0.79});
    CHECK(r.pairs == 5);
    CHECK(r.mean_difference == doctest::Approx(0.018).epsilon(1e-12));
    CHECK(r.sd_difference == doctest::Approx(std::sqrt(1.28e-3 / 4)).epsilon(1e-12));
    CHECK(r.t == doctest::Approx(2.25).epsilon(1e-12));
    CHECK(r.p_two_sided == doctest::Approx(two_sided_p_nu4(2.25)).epsilon(1e-10));
    CHECK(r.p_two_sided == doctest::Approx(0.08765).epsilon(1e-3));
    // The sign of the difference does not change p; swapping the arguments flips t.
    const auto swapped =
        smile::cli::paired_t_test({0.78, 0.80, 0.80, 0.81, 0.79}, {0.80, 0.82, 0.79, 0.85, 0.81});
    CHECK(swapped.t == doctest::Approx(-2.25).epsilon(1e-12));
    CHECK(swapped.p_two_sided == doctest::Approx(r.p_two_sided).epsilon(1e-12));
    // Identical differences: no spread, so either no difference at all (p 1) or a certain one.
    CHECK(smile::cli::paired_t_test({0.5, 0.6}, {0.5, 0.6}).p_two_sided == 1.0);
    const auto constant = smile::cli::paired_t_test({0.6, 0.7}, {0.5, 0.6});
    CHECK(constant.p_two_sided == 0.0);
    CHECK(std::isinf(constant.t));
    CHECK_THROWS_WITH((void)smile::cli::paired_t_test({0.5, 0.6}, {0.5}),
                      doctest::Contains("2 values against 1"));
    CHECK_THROWS_WITH((void)smile::cli::paired_t_test({0.5}, {0.5}),
                      doctest::Contains("at least 2 pairs"));
    CHECK(smile::cli::percent_mean_std({0.5, 0.6}) == "55.00 ± 7.07");
}

TEST_CASE(
    "smile compare --study: tables from the runs, lists written, analyses, and a rerun runs "
    "nothing") {
    workdir dir;
    const std::string study =
        "compare --study --targets digits --rates 50 --seeds 2 --iters 3 --pretrain-iters 3 "
        "--methods smile --ablations smile-m-fe --workers 0 --cache " +
        dir / "cache" + " --out " + dir / "study";
    const auto first = smile::test::run_smile(study);
    INFO(first.output);
    REQUIRE(first.status == 0);
    CHECK(first.output.find("10 runs, 0 already done, 10 to run") != std::string::npos);

    // runs.csv: 2 seeds × (finetune, smile, scratch at lr 0.1 and 0.01, smile-m-fe), each run's
    // selected and final top-1 and best validation top-1.
    const auto runs = read_csv(dir.path / "study/runs.csv");
    REQUIRE(runs.size() == 11);
    CHECK(runs[0][0] == "table");
    CHECK(runs[0][6] == "test_top1_selected");
    CHECK(runs[0][8] == "validation_top1_best");
    std::map<std::string, std::map<std::string, double>> selected;  // method -> seed -> top-1
    std::map<std::string, std::int64_t> images;                     // seed -> training images
    std::map<std::string, double> scratch_validation;               // seed -> best so far
    for (std::size_t i = 1; i < runs.size(); ++i) {
        const std::string& seed = runs[i][4];
        selected[runs[i][3]][seed] = std::stod(runs[i][6]);
        images[seed] = std::stoll(runs[i][5]);
        // The random start's learning rate is chosen per seed on validation (the first on a tie).
        const double validation = std::stod(runs[i][8]);
        if (runs[i][0] == "scratch" &&
            (scratch_validation.count(seed) == 0 || validation > scratch_validation[seed])) {
            scratch_validation[seed] = validation;
            selected["scratch"][seed] = std::stod(runs[i][6]);
        }
    }
    CHECK(selected.size() == 6);
    for (const auto& [method, seeds] : selected) CHECK(seeds.size() == 2);
    CHECK(selected.count("scratch-lr0.1") == 1);
    CHECK(selected.count("scratch-lr0.01") == 1);

    // table1.csv: smile's mean and sample std, and its paired difference to finetune, from the
    // runs.
    const auto table1 = read_csv(dir.path / "study/table1.csv");
    REQUIRE(table1.size() == 3);
    CHECK(table1[0] == std::vector<std::string>{"method", "dataset", "rate", "mean", "std", "n",
                                                "final_mean", "final_std", "final_n",
                                                "difference_mean", "difference_std", "t", "p"});
    const auto& smile_row = table1[2];
    REQUIRE(smile_row.size() == 13);
    CHECK(smile_row[0] == "smile");
    const double a = selected["smile"]["0"], b = selected["smile"]["1"];
    CHECK(std::stod(smile_row[3]) == doctest::Approx((a + b) / 2).epsilon(1e-5));
    CHECK(std::stod(smile_row[4]) ==
          doctest::Approx(std::fabs(a - b) / std::sqrt(2.0)).epsilon(1e-5));
    const double d0 = a - selected["finetune"]["0"], d1 = b - selected["finetune"]["1"];
    CHECK(std::stod(smile_row[9]) == doctest::Approx((d0 + d1) / 2).epsilon(1e-5));

    // pretraining.csv: finetune against scratch, paired; with 2 seeds t has 1 degree of freedom.
    const auto pre = read_csv(dir.path / "study/pretraining.csv");
    REQUIRE(pre.size() == 2);
    const double s0 = selected["finetune"]["0"] - selected["scratch"]["0"];
    const double s1 = selected["finetune"]["1"] - selected["scratch"]["1"];
    CHECK(std::stod(pre[1][9]) == doctest::Approx((s0 + s1) / 2).epsilon(1e-5));
    if (s0 != s1) {
        const double t = (s0 + s1) / 2 / (std::fabs(s0 - s1) / std::sqrt(2.0) / std::sqrt(2.0));
        CHECK(std::stod(pre[1][11]) == doctest::Approx(t).epsilon(1e-4));
        CHECK(std::stod(pre[1][12]) == doctest::Approx(two_sided_p_nu1(t)).epsilon(1e-4));
    }

    // The lists: the validation split, the pool, and each seed's subset (drawn from the pool only).
    const auto validation = read_csv(dir.path / "study/splits/digits/validation.txt");
    const auto pool = read_csv(dir.path / "study/splits/digits/pool.txt");
    std::set<std::string> held_out;
    for (const auto& row : validation) held_out.insert(row[0].substr(0, row[0].find(' ')));
    // 50 % per class of the pool: Σ_c ⌈n_c / 2⌉ images.
    std::map<std::string, std::int64_t> per_class;
    for (const auto& row : pool) ++per_class[row[0].substr(row[0].rfind(' ') + 1)];
    CHECK(per_class.size() == 10);
    std::int64_t half_of_each_class = 0;
    for (const auto& [label, n] : per_class) half_of_each_class += (n + 1) / 2;
    CHECK(held_out.size() == validation.size());
    for (const char* seed : {"0", "1"}) {
        const std::string subset =
            read_text(dir.path / "study/splits/digits" / (std::string("r50-s") + seed + ".txt"));
        std::stringstream lines(subset);
        std::string line;
        std::int64_t count = 0;
        while (std::getline(lines, line)) {
            ++count;
            CHECK(held_out.count(line.substr(0, line.find(' '))) == 0);
        }
        CHECK(count == images[seed]);
        CHECK(count == half_of_each_class);
    }

    // The report: Table 3's ablation row, the analyses of finetune and smile on train and test.
    const std::string md = read_text(dir.path / "study/study.md");
    CHECK(md.find("## Table 3 analogue") != std::string::npos);
    CHECK(md.find("| smile-m-fe |") != std::string::npos);
    const auto losses = read_csv(dir.path / "study/interpolation.csv");
    CHECK(losses.size() == 1 + 2 * 2 * 2);
    check_picture(dir / "study/table1.png", 640, 440);
    CHECK(fs::exists(dir.path / "study/analysis/test-s0/feature_interpolation.png"));
    CHECK_FALSE(
        fs::exists(dir.path / "study/runs/digits-r50/finetune-s0/checkpoint-best.safetensors"));
    CHECK(fs::exists(dir.path / "study/runs/digits-r50/finetune-s0/weights-best.safetensors"));

    // Again: every run is done, the runs are read back, the tables are the same.
    const std::string runs_before = read_text(dir.path / "study/runs.csv");
    const auto again = smile::test::run_smile(study);
    INFO(again.output);
    REQUIRE(again.status == 0);
    CHECK(again.output.find("10 runs, 10 already done, 0 to run") != std::string::npos);
    CHECK(read_text(dir.path / "study/runs.csv") == runs_before);
}

TEST_CASE(
    "smile compare: the study's options are refused without --study, and one seed cannot be "
    "paired") {
    for (const char* args :
         {"compare --rates 5", "compare --targets digits", "compare --ablations smile-m-fe"}) {
        const auto r = smile::test::run_smile(args);
        INFO(args, r.output);
        CHECK(r.status != 0);
        CHECK(r.output.find("--study") != std::string::npos);
    }
    const auto one = smile::test::run_smile("compare --study --seeds 1 --out /nonexistent-dir/x");
    INFO(one.output);
    CHECK(one.status != 0);
    CHECK(one.output.find("at least 2 seeds") != std::string::npos);
    const auto unknown = smile::test::run_smile("compare --study --ablations smile-m-xx");
    CHECK(unknown.status != 0);
    CHECK(unknown.output.find("--ablations: unknown method 'smile-m-xx'") != std::string::npos);
}
