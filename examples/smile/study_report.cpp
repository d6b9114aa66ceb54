// The study's report: its tables as Markdown (study.md) and CSV, and Table 1 as bars.
#include <cstdio>
#include <map>
#include <optional>
#include <smile/io/atomic_file.hpp>
#include <sstream>
#include <tuple>

#include "smile/plots.hpp"
#include "smile/statistics.hpp"
#include "smile/study.hpp"

namespace smile::cli {

namespace {

/// The selected networks' test top-1 of one configuration, by seed.
using by_seed = std::map<std::uint64_t, double>;

struct result_index {
    std::map<std::tuple<std::size_t, double, std::string>, by_seed> selected, final_top1,
        validation;

    /// Also indexes "scratch": per seed, the scratch run (one per learning rate) whose best
    /// validation top-1 is highest (the first in the plan on a tie), as the methods' networks are
    /// selected on validation too.
    explicit result_index(const std::vector<study_result>& results) {
        std::map<std::tuple<std::size_t, double, std::uint64_t>, const study_result*> best_scratch;
        for (const auto& r : results) {
            const auto key = std::make_tuple(r.run.target, r.run.rate, r.run.method);
            selected[key][r.run.seed] = r.test_selected;
            final_top1[key][r.run.seed] = r.test_final;
            validation[key][r.run.seed] = r.validation_best;
            if (r.run.table != study_table::scratch) continue;
            const study_result*& best = best_scratch[{r.run.target, r.run.rate, r.run.seed}];
            if (best == nullptr || r.validation_best > best->validation_best) best = &r;
        }
        for (const auto& [where, r] : best_scratch) {
            const auto key = std::make_tuple(r->run.target, r->run.rate, std::string("scratch"));
            selected[key][r->run.seed] = r->test_selected;
            final_top1[key][r->run.seed] = r->test_final;
            chosen_lr[key][r->run.seed] = r->run.lr;
        }
    }
    std::map<std::tuple<std::size_t, double, std::string>, std::map<std::uint64_t, float>>
        chosen_lr;
};

std::vector<double> values_of(const by_seed& m) {
    std::vector<double> v;
    for (const auto& [seed, x] : m) v.push_back(x);
    return v;
}

/// The seeds both configurations ran, as two aligned vectors.
std::pair<std::vector<double>, std::vector<double>> paired(const by_seed& a, const by_seed& b) {
    std::pair<std::vector<double>, std::vector<double>> out;
    for (const auto& [seed, x] : a)
        if (const auto it = b.find(seed); it != b.end()) {
            out.first.push_back(x);
            out.second.push_back(it->second);
        }
    return out;
}

std::optional<paired_test> paired_against(const by_seed& method, const by_seed& baseline) {
    const auto [m, b] = paired(method, baseline);
    if (m.size() < 2) return std::nullopt;
    return paired_t_test(m, b);
}

std::string label_of(const study_plan& p, std::size_t target, double rate) {
    const std::string& f = p.targets.at(target).format;
    const std::string name = f == "fashion-mnist" ? "Fashion-MNIST"
                             : f == "digits"      ? "UCI digits"
                                                  : f;
    return name + " " + rate_text(rate) + " %";
}

std::string csv_number(double x) {
    std::ostringstream out;
    out.precision(6);
    out << x;
    return out.str();
}

/// "mean,std,n" of fractions (empty fields for none).
std::string csv_summary(const by_seed& m) {
    if (m.empty()) return ",,0";
    const auto [mean, sd] = mean_and_std(values_of(m));
    return csv_number(mean) + ',' + csv_number(sd) + ',' + std::to_string(m.size());
}

std::string csv_test(const std::optional<paired_test>& t) {
    if (!t) return ",,,";
    return csv_number(t->mean_difference) + ',' + csv_number(t->sd_difference) + ',' +
           csv_number(t->t) + ',' + csv_number(t->p_two_sided);
}

const by_seed& lookup(const std::map<std::tuple<std::size_t, double, std::string>, by_seed>& m,
                      std::size_t target, double rate, const std::string& method) {
    static const by_seed none;
    const auto it = m.find({target, rate, method});
    return it == m.end() ? none : it->second;
}

}  // namespace

void write_study_report(const study_plan& p, const std::vector<study_result>& results,
                        const std::vector<analysed_losses>& losses, const study_facts& facts,
                        const std::filesystem::path& out) {
    const result_index index(results);
    const std::string& baseline = p.methods.front();
    std::vector<std::pair<std::size_t, double>> columns;  // (target, rate) of Table 1
    for (std::size_t t = 0; t < p.targets.size(); ++t)
        for (double r : p.targets[t].rates) columns.emplace_back(t, r);
    double run_seconds = 0;
    for (const auto& r : results) run_seconds += r.seconds;

    std::ostringstream md;
    md << "# Reproduction study (smile compare --study)\n\n"
       << "Source network: " << p.source_arch << " (3x3 stem), trained on MNIST for "
       << p.pretrain_iterations << " iterations (" << facts.source_file << "), MNIST test top-1 "
       << std::fixed;
    md.precision(2);
    md << 100 * facts.source_top1 << " %. Targets:";
    for (const auto& t : p.targets)
        md << ' ' << t.format << " (" << t.iterations << " iterations, "
           << facts.validation_images.at(t.format)
           << " validation images held out of the training split, subsets drawn per class from the "
              "other "
           << facts.pool_images.at(t.format) << ");";
    std::string scratch_lrs;
    for (float lr : p.scratch_lrs)
        scratch_lrs += (scratch_lrs.empty() ? "" : " or ") + rate_text(lr);
    md << " batch 48, SGD momentum 0.9 Nesterov, weight decay 1e-4, lr 0.01 (from a random start: "
       << scratch_lrs
       << ", chosen per seed on validation) divided by 10 after 2/3 of the steps; every method at "
          "its default "
          "strengths. Test top-1 (%) of the "
          "network selected on the validation split (evaluated every 1/5 of the run), mean ± "
          "sample std over "
       << p.seeds
       << " seeds; a seed fixes the training subset, the new head and the batch order, shared by "
          "every "
          "method, so differences are paired by seed (two-sided paired t-test over the seeds). "
          "Runs: "
       << results.size() << " of " << p.runs.size() << ", " << run_seconds / 60
       << " minutes of training and evaluation.\n\n";

    // Pretraining margin: FT from the source network against FT from a random start.
    std::ostringstream pre_csv;
    pre_csv << "dataset,rate,training_images,scratch_mean,scratch_std,scratch_n,pretrained_mean,"
               "pretrained_std,"
               "pretrained_n,difference_mean,difference_std,t,p\n";
    md << "## Pretraining margin: " << baseline
       << " from the source network vs from a random start\n\n"
       << "| target | training images | from scratch |";
    for (float lr : p.scratch_lrs) md << " scratch, lr " << rate_text(lr) << " |";
    md << " pretrained (" << baseline << ") | pretrained − scratch (pp, p) |\n|---|---|---|";
    for (std::size_t i = 0; i < p.scratch_lrs.size(); ++i) md << "---|";
    md << "---|---|\n";
    for (const auto& [t, rate] : columns) {
        const by_seed& scratch = lookup(index.selected, t, rate, "scratch");
        const by_seed& ft = lookup(index.selected, t, rate, baseline);
        const auto test = paired_against(ft, scratch);
        std::int64_t images = 0;
        for (const auto& r : results)
            if (r.run.target == t && r.run.rate == rate) images = r.training_images;
        md << "| " << label_of(p, t, rate) << " | " << images << " | "
           << percent_mean_std(values_of(scratch));
        if (const auto it = index.chosen_lr.find({t, rate, "scratch"});
            it != index.chosen_lr.end()) {
            std::map<float, int> times;
            for (const auto& [seed, lr] : it->second) ++times[lr];
            md << " (lr";
            for (const auto& [lr, n] : times) md << ' ' << rate_text(lr) << " ×" << n;
            md << ')';
        }
        md << " |";
        for (float lr : p.scratch_lrs)
            md << ' '
               << percent_mean_std(
                      values_of(lookup(index.selected, t, rate, "scratch-lr" + rate_text(lr))))
               << " |";
        md << ' ' << percent_mean_std(values_of(ft)) << " | " << (test ? paired_cell(*test) : "-")
           << " |\n";
        pre_csv << p.targets[t].format << ',' << rate << ',' << images << ','
                << csv_summary(scratch) << ',' << csv_summary(ft) << ',' << csv_test(test) << '\n';
    }

    // Table 1: every method, and its paired difference to the baseline.
    std::ostringstream t1_csv;
    t1_csv << "method,dataset,rate,mean,std,n,final_mean,final_std,final_n,difference_mean,"
              "difference_std,t,p\n";
    auto header = [&](const std::string& first) {
        md << "| " << first << " |";
        for (const auto& [t, rate] : columns) md << ' ' << label_of(p, t, rate) << " |";
        md << "\n|---|";
        for (std::size_t i = 0; i < columns.size(); ++i) md << "---|";
        md << '\n';
    };
    md << "\n## Table 1 analogue: test top-1 (%), selected on validation\n\n";
    header("method");
    for (const auto& m : p.methods) {
        md << "| " << m << " |";
        for (const auto& [t, rate] : columns) {
            const by_seed& v = lookup(index.selected, t, rate, m);
            md << ' ' << percent_mean_std(values_of(v)) << " |";
            const auto test = m == baseline
                                  ? std::optional<paired_test>{}
                                  : paired_against(v, lookup(index.selected, t, rate, baseline));
            t1_csv << m << ',' << p.targets[t].format << ',' << rate << ',' << csv_summary(v) << ','
                   << csv_summary(lookup(index.final_top1, t, rate, m)) << ',' << csv_test(test)
                   << '\n';
        }
        md << '\n';
    }
    md << "\n## Table 1 analogue: difference to " << baseline
       << " (percentage points, mean ± std of the per-seed differences, paired t-test p)\n\n";
    header("method");
    for (const auto& m : p.methods) {
        if (m == baseline) continue;
        md << "| " << m << " |";
        for (const auto& [t, rate] : columns) {
            const auto test = paired_against(lookup(index.selected, t, rate, m),
                                             lookup(index.selected, t, rate, baseline));
            md << ' ' << (test ? paired_cell(*test) : "-") << " |";
        }
        md << '\n';
    }
    md << "\n## The final networks (no model selection): test top-1 (%)\n\n";
    header("method");
    for (const auto& m : p.methods) {
        md << "| " << m << " |";
        for (const auto& [t, rate] : columns)
            md << ' ' << percent_mean_std(values_of(lookup(index.final_top1, t, rate, m))) << " |";
        md << '\n';
    }

    // Table 3: SMILE's ablations at the first target's lowest rate, against SMILE.
    std::ostringstream t3_csv;
    t3_csv
        << "method,dataset,rate,mean,std,n,difference_to_smile_mean,difference_to_smile_std,t,p\n";
    if (!p.ablations.empty()) {
        md << "\n## Table 3 analogue: SMILE's ablations (test top-1 %, and the paired difference "
              "to smile)\n\n"
           << "| method |";
        md << ' ' << label_of(p, 0, p.targets[0].rates.front()) << " | vs smile |\n|---|---|---|\n";
        std::vector<std::string> rows{baseline, "smile"};
        rows.insert(rows.end(), p.ablations.begin(), p.ablations.end());
        for (const auto& m : rows) {
            md << "| " << m << " |";
            for (std::size_t t = 0; t < 1 && !p.targets.empty(); ++t) {
                const double rate = p.targets[t].rates.front();
                const by_seed& v = lookup(index.selected, t, rate, m);
                const auto test = m == "smile"
                                      ? std::optional<paired_test>{}
                                      : paired_against(v, lookup(index.selected, t, rate, "smile"));
                md << ' ' << percent_mean_std(values_of(v)) << " | "
                   << (test ? paired_cell(*test) : "-") << " |";
                t3_csv << m << ',' << p.targets[t].format << ',' << rate << ',' << csv_summary(v)
                       << ',' << csv_test(test) << '\n';
            }
            md << '\n';
        }
    }

    // Tables 4-5: interpolation losses, mean ± std over seeds of each network's estimate.
    std::ostringstream il_csv;
    il_csv << "method,split,seed,label_il_logits,label_il_probabilities,feature_il\n";
    for (const auto& l : losses)
        il_csv << l.method << ',' << l.split << ',' << l.seed << ',' << csv_number(l.logits) << ','
               << csv_number(l.probabilities) << ',' << csv_number(l.features) << '\n';
    if (!losses.empty()) {
        md << "\n## Tables 4-5 analogue: interpolation loss (D = l2, Eqs. 6-7), "
           << label_of(p, 0, p.targets[0].rates.front())
           << ", selected networks; mean ± std over seeds (lower: more linear between training "
              "images)\n\n"
           << "| network | split | label IL on logits | label IL on probabilities | feature IL "
              "(pooled) |\n|---|---|---|---|---|\n";
        for (const std::string split : {"train", "test"})
            for (const auto& m : p.analysed) {
                std::vector<double> a, b, c;
                for (const auto& l : losses)
                    if (l.method == m && l.split == split) {
                        a.push_back(l.logits);
                        b.push_back(l.probabilities);
                        c.push_back(l.features);
                    }
                if (a.empty()) continue;
                auto cell = [](const std::vector<double>& v) {
                    const auto [mean, sd] = mean_and_std(v);
                    char buf[48];
                    std::snprintf(buf, sizeof buf, "%.4f ± %.4f", mean, sd);
                    return std::string(buf);
                };
                md << "| " << m << " | " << split << " | " << cell(a) << " | " << cell(b) << " | "
                   << cell(c) << " |\n";
            }
        md << "\nAppendix C's picture (feature-interpolation paths on the plane of their first two "
              "principal "
              "components, seed 0's networks, test images): "
              "analysis/test-s0/feature_interpolation.png.\n";
    }

    std::ostringstream runs_csv;
    runs_csv << "table,dataset,rate,method,seed,training_images,test_top1_selected,test_top1_final,"
                "validation_top1_best,best_iteration,seconds,seconds_per_step\n";
    for (const auto& r : results)
        runs_csv << table_name(r.run.table) << ',' << p.targets[r.run.target].format << ','
                 << r.run.rate << ',' << r.run.method << ',' << r.run.seed << ','
                 << r.training_images << ',' << csv_number(r.test_selected) << ','
                 << csv_number(r.test_final) << ',' << csv_number(r.validation_best) << ','
                 << r.best_iteration << ',' << csv_number(r.seconds) << ','
                 << csv_number(r.seconds_per_step) << '\n';

    std::filesystem::create_directories(out);
    io::write_file_atomically(out / "study.md", md.str());
    io::write_file_atomically(out / "pretraining.csv", pre_csv.str());
    io::write_file_atomically(out / "table1.csv", t1_csv.str());
    io::write_file_atomically(out / "table3.csv", t3_csv.str());
    io::write_file_atomically(out / "interpolation.csv", il_csv.str());
    io::write_file_atomically(out / "runs.csv", runs_csv.str());

    // Table 1 as bars: a panel per target and rate, a bar per method, ± one standard deviation.
    std::vector<bar_panel> panels;
    for (const auto& [t, rate] : columns) {
        bar_panel panel{
            label_of(p, t, rate) + ": test top-1, mean \xC2\xB1 std", "top-1 (%)", {}, {}, {}, 1};
        for (const auto& m : p.methods) {
            const auto v = values_of(lookup(index.selected, t, rate, m));
            if (v.empty()) continue;
            const auto [mean, sd] = mean_and_std(v);
            panel.labels.push_back(m);
            panel.values.push_back(100 * mean);
            panel.errors.push_back(100 * sd);
        }
        if (!panel.labels.empty()) panels.push_back(std::move(panel));
    }
    if (!panels.empty())
        for (const char* picture : {"table1.png", "table1.svg"}) {
            try {
                draw_bar_panels(panels, int(std::min<std::size_t>(panels.size(), 3)),
                                out / picture);
            } catch (const std::exception& e) {  // the tables are written; a picture is an extra
                std::fprintf(stderr, "smile: warning: %s\n", e.what());
            }
        }
    std::printf(
        "%s\n(%s: study.md, pretraining.csv, table1.csv, table3.csv, interpolation.csv, runs.csv, "
        "table1.png, "
        ".svg, analysis/)\n",
        md.str().c_str(), out.c_str());
}

}  // namespace smile::cli
