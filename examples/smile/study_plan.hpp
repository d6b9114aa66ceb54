#pragma once
// The reproduction study's plan (`smile compare --study`, docs/reproduction.md): which runs make
// up each table, where each run keeps its result, and the protocol they share. Pure data: the
// runs are executed by study.cpp, and a finished run is never run again (the study resumes per
// run).

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace smile::cli {

/// A target dataset of the study: the sampling rates of Table 1, the fine-tuning steps, and the
/// validation split held out of its training split (per class) before any sampling.
struct study_target {
    std::string format;
    std::vector<double> rates;  ///< percent of the pool (training split minus validation)
    std::int64_t iterations = 0;
    double validation_fraction = 0.1;
};

/// The tables' runs. `scratch` is plain fine-tuning from a randomly initialised network (the
/// margin pretraining buys); `table3` the SMILE ablations (the methods' registry names).
enum class study_table { table1, table3, scratch };

inline const char* table_name(study_table t) {
    switch (t) {
        case study_table::table1:
            return "table1";
        case study_table::table3:
            return "table3";
        case study_table::scratch:
            return "scratch";
    }
    return "?";
}

struct study_run {
    study_table table = study_table::table1;
    std::size_t target = 0;  ///< index into the plan's targets
    double rate = 0;         ///< percent
    std::string method;      ///< a registry name, or "scratch-lr<lr>"
    std::uint64_t seed = 0;
    bool keep_weights = false;  ///< its selected network is analysed (Tables 4-5, Appendix C)
    float lr = 0;               ///< scratch runs: their learning rate (0: the recipe's)
};

/// "1", "2.5": a rate as folder names and tables write it.
inline std::string rate_text(double rate) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", rate);
    return buf;
}

struct study_plan {
    std::string source_arch = "resnet32";
    std::int64_t pretrain_iterations = 2000;
    std::vector<study_target> targets;
    std::vector<std::string> methods;  ///< Table 1 (the first is the baseline of the paired tests)
    std::vector<std::string> ablations;  ///< Table 3, run at the first target's lowest rate
    std::int64_t seeds = 5;
    /// From a random start each seed trains at every one of these rates and the one with the best
    /// validation top-1 is reported: the random start gets the same model selection as the methods.
    std::vector<float> scratch_lrs{0.1f, 0.01f};
    /// Tables 4-5 and Appendix C: these methods' networks on the first target's lowest rate.
    std::vector<std::string> analysed{"finetune", "mixup", "smile"};
    std::vector<study_run> runs;

    /// Fills `runs`: per target, rate and seed, Table 1's methods, then the scratch run, then (at
    /// the first target's lowest rate) the ablations; each seed's runs share one training subset.
    /// Seeds are the outer loop within a rate so that an interrupted study already has whole seeds.
    void expand() {
        runs.clear();
        for (std::size_t t = 0; t < targets.size(); ++t) {
            const auto& target = targets[t];
            for (std::size_t r = 0; r < target.rates.size(); ++r)
                for (std::int64_t seed = 0; seed < seeds; ++seed) {
                    const double rate = target.rates[r];
                    const bool analysed_here = t == 0 && r == 0;
                    for (const auto& m : methods)
                        runs.push_back({study_table::table1, t, rate, m, std::uint64_t(seed),
                                        analysed_here && is_analysed(m)});
                    for (float lr : scratch_lrs)
                        runs.push_back({study_table::scratch, t, rate, "scratch-lr" + rate_text(lr),
                                        std::uint64_t(seed), false, lr});
                    if (t == 0 && r == 0)
                        for (const auto& m : ablations)
                            runs.push_back(
                                {study_table::table3, t, rate, m, std::uint64_t(seed), false});
                }
        }
    }

    [[nodiscard]] bool is_analysed(const std::string& method) const {
        for (const auto& a : analysed)
            if (a == method) return true;
        return false;
    }

    /// `out`/runs/<format>-r<rate>/<method>-s<seed>: the run's result.json and, when kept, its
    /// selected network.
    [[nodiscard]] std::filesystem::path folder(const std::filesystem::path& out,
                                               const study_run& r) const {
        return out / "runs" / (targets.at(r.target).format + "-r" + rate_text(r.rate)) /
               (r.method + "-s" + std::to_string(r.seed));
    }
};

}  // namespace smile::cli
