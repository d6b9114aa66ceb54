// smile compare: the main job. Pretrains a source network on MNIST (cached), fine-tunes it on
// Fashion-MNIST and on the UCI digits at low sampling rates with several methods and seeds, and
// prints a Table-1-style comparison (top-1, mean ± std over seeds), also written as Markdown
// and CSV, and drawn as bars with error bars (PNG, SVG). `--full` runs every method at 15/30/50/100
// % with 5 seeds.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <smile/data/read_dataset.hpp>
#include <sstream>

#include "smile/commands.hpp"
#include "smile/plots.hpp"
#include "smile/pretrain.hpp"
#include "smile/run_finetune.hpp"
#include "smile/statistics.hpp"
#include "smile/study.hpp"

namespace smile::cli {

namespace {

struct target {
    std::string format;
    double rate;  // percent
    std::int64_t iterations;
};

std::string label_of(const target& t) {
    std::ostringstream out;
    out << (t.format == "fashion-mnist" ? "Fashion-MNIST" : t.format == "digits" ? "UCI digits" : t.format) << " " << t.rate << "%";
    return out.str();
}

void check_method_name(const std::string& m, const char* option) {
    if (std::find(method_names().begin(), method_names().end(), m) == method_names().end())
        detail::fail(option, ": unknown method '", m, "'");
}

}  // namespace

command add_compare(CLI::App& app) {
    struct options {
        bool full = false;
        std::vector<std::string> methods;
        std::int64_t seeds = 0;
        std::int64_t pretrain_iterations = 300;
        std::int64_t iterations = 0;  // 0: per dataset default
        std::string out = "results";
        std::string cache;
        std::size_t workers = 2;
        std::string precision = "f32";
        bool study = false;
        std::vector<std::string> targets, ablations;
        std::vector<double> rates;
    };
    auto o = std::make_shared<options>();
    auto* sub = app.add_subcommand("compare", "the main job: MNIST -> Fashion-MNIST and UCI digits, methods x seeds, a Table-1-style comparison");
    sub->add_flag("--full", o->full, "every method at 15/30/50/100% with 5 seeds (hours on a CPU)");
    sub->add_option("--methods", o->methods, "methods to compare (default: finetune, mixup, smile; --full: all)")->delimiter(',');
    sub->add_option("--seeds", o->seeds, "seeds per configuration (default 3; --full: 5)")->check(integer_in(1, 1000));
    sub->add_option("--pretrain-iters", o->pretrain_iterations, "MNIST pretraining iterations (batch 128)")->capture_default_str()
        ->check(integer_in(1, 1e9));
    sub->add_option("--iters", o->iterations, "fine-tuning iterations per run (default: 300 Fashion-MNIST, 200 digits)")
        ->check(integer_in(1, 1e9));
    sub->add_option("--out", o->out,
                    "directory for compare.md, compare.csv, compare.png and compare.svg")
        ->capture_default_str();
    sub->add_option("--cache", o->cache, "directory of the cached pretrained network (default: <data>/models)");
    sub->add_option("--workers", o->workers, "data-loading threads")->capture_default_str()->check(integer_in(0, 256));
    sub->add_option("--precision", o->precision,
                    "f32, or bf16: every network's convolutions and matrix products in bfloat16 "
                    "(students and teachers)")
        ->check(CLI::IsMember({"f32", "bf16"}))
        ->capture_default_str();
    auto* study = sub->add_flag(
        "--study", o->study,
        "the reproduction study (docs/reproduction.md): a converged ResNet-32 source, "
        "the pretraining margin, Table 1 with paired tests, Table 3, Tables 4-5 and "
        "Appendix C; resumes per run (default --out results/study)");
    sub->get_option("--full")->excludes(study);
    auto* targets_option = sub->add_option("--targets", o->targets,
                                           "--study: the targets to run (fashion-mnist, digits)")
                               ->delimiter(',')
                               ->check(CLI::IsMember({"fashion-mnist", "digits"}));
    auto* rates_option = sub->add_option("--rates", o->rates,
                                         "--study: the sampling rates (percent) of every target")
                             ->delimiter(',')
                             ->check(number_in(0, 100, ends::open_low));
    auto* ablations_option =
        sub->add_option("--ablations", o->ablations,
                        "--study: Table 3's methods (default: every SMILE ablation)")
            ->delimiter(',');
    for (auto* only_study : {targets_option, rates_option, ablations_option})
        only_study->needs(study);
    return [o, sub] {
        if (o->study) {
            study_options s;
            s.plan = default_study_plan();
            if (!o->methods.empty()) {  // the first method is the paired tests' baseline: plain
                                        // fine-tuning
                s.plan.methods = o->methods;
                std::erase(s.plan.methods, std::string("finetune"));
                s.plan.methods.insert(s.plan.methods.begin(), "finetune");
            }
            if (sub->get_option("--ablations")->count() > 0) s.plan.ablations = o->ablations;
            for (const auto& m : s.plan.methods) check_method_name(m, "--methods");
            for (const auto& m : s.plan.ablations) check_method_name(m, "--ablations");
            if (o->seeds > 0) s.plan.seeds = o->seeds;
            if (s.plan.seeds < 2)
                detail::fail("--seeds: the study's paired tests need at least 2 seeds, got ",
                             s.plan.seeds);
            if (sub->get_option("--pretrain-iters")->count() > 0)
                s.plan.pretrain_iterations = o->pretrain_iterations;
            if (!o->targets.empty())
                std::erase_if(s.plan.targets, [&](const study_target& t) {
                    return std::find(o->targets.begin(), o->targets.end(), t.format) ==
                           o->targets.end();
                });
            for (auto& t : s.plan.targets) {
                if (!o->rates.empty()) t.rates = o->rates;
                if (o->iterations > 0) t.iterations = o->iterations;
            }
            s.out = sub->get_option("--out")->count() > 0 ? o->out : "results/study";
            s.cache = o->cache;
            s.workers = o->workers;
            s.precision = o->precision;
            run_study(s);
            return;
        }
        const auto methods = !o->methods.empty() ? o->methods
                             : o->full ? method_names()
                                       : std::vector<std::string>{"finetune", "mixup", "smile"};
        for (const auto& m : methods) check_method_name(m, "--methods");
        io::check_writable(std::filesystem::path(o->out) / "compare.md", "--out");
        const std::int64_t seeds = o->seeds > 0 ? o->seeds : (o->full ? 5 : 3);
        std::vector<target> targets;
        if (o->full) {
            for (double r : {15.0, 30.0, 50.0, 100.0})
                targets.push_back({"fashion-mnist", r, 1500});
            for (double r : {15.0, 30.0, 50.0, 100.0}) targets.push_back({"digits", r, 1000});
        } else {
            targets = {{"fashion-mnist", 1.0, 300}, {"digits", 10.0, 200}};
        }
        if (o->iterations > 0)
            for (auto& t : targets) t.iterations = o->iterations;

        // 1. The source network: ResNet-20 (3x3 small-image stem) on MNIST, cached.
        auto arch = *resnet_by_name("resnet20");
        arch.in_channels = 1;
        const std::filesystem::path cache = o->cache.empty() ? data::packaged_data_root() / "models" : std::filesystem::path(o->cache);
        const auto source = cache / ("mnist-resnet20-" + std::to_string(o->pretrain_iterations) + ".safetensors");
        const auto began = std::chrono::steady_clock::now();
        io::check_writable(source, "--cache");
        if (std::filesystem::exists(source)) {
            std::fprintf(stderr, "compare: using the cached source network %s\n", source.c_str());
        } else {
            std::fprintf(stderr, "compare: pretraining ResNet-20 on MNIST for %lld iterations -> %s\n",
                         static_cast<long long>(o->pretrain_iterations), source.c_str());
            const auto mnist = std::make_shared<data::dataset>(data::read_dataset("mnist", data::packaged_dataset("mnist")));
            training_options t;
            t.iterations = o->pretrain_iterations;
            t.batch_size = 128;
            t.lr = 0.1f;
            t.schedule = "cosine";
            t.weight_decay = 5e-4f;
            t.workers = o->workers;
            t.trainer.log_every = 100;
            t.trainer.label = "  [pretrain] ";
            const double top1 = pretrain(arch, mnist, t, source.string()).top1;
            std::fprintf(stderr, "compare: source network: MNIST test top-1 %.2f%%\n", 100 * top1);
        }

        // 2. Fine-tuning runs.
        std::map<std::pair<std::string, std::string>, std::vector<double>> results;  // (method, target) -> top-1 per seed
        std::map<std::string, double> seconds_per_step;
        std::vector<std::tuple<std::string, std::string, std::int64_t, double, double>> rows;
        const std::size_t total = targets.size() * methods.size() * std::size_t(seeds);
        std::size_t done = 0;
        const auto runs_began = std::chrono::steady_clock::now();
        for (const auto& t : targets) {
            auto d = std::make_shared<data::dataset>(data::read_dataset(t.format, data::packaged_dataset(t.format)));
            for (std::int64_t seed = 0; seed < seeds; ++seed) {
                const auto subset = data::sample_subset(d->train, d->num_classes(), t.rate / 100.0, std::uint64_t(seed));
                for (const auto& name : methods) {
                    finetune_job job;
                    job.data = d;
                    job.train = subset;
                    job.arch = arch;
                    job.pretrained = source;
                    job.training.iterations = t.iterations;
                    job.training.seed = std::uint64_t(seed);
                    job.training.workers = o->workers;
                    job.training.trainer.log_every = 0;
                    method_options defaults;
                    defaults.precision_text = o->precision;
                    job.method = defaults.finish(name, job.training);
                    const run_result r = run_finetune(job, false);
                    results[{name, label_of(t)}].push_back(r.final_top1);
                    seconds_per_step[name] += r.seconds_per_step;
                    rows.emplace_back(name, label_of(t), seed, r.final_top1, r.seconds_per_step);
                    ++done;
                    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - runs_began).count();
                    std::fprintf(stderr, "compare: [%zu/%zu] %-20s %-22s seed %lld: top-1 %6.2f%%  (%.3f s/step; ETA %.0f s)\n",
                                 done, total, name.c_str(), label_of(t).c_str(), static_cast<long long>(seed), 100 * r.final_top1,
                                 r.seconds_per_step, elapsed / double(done) * double(total - done));
                }
            }
        }

        // 3. The table.
        std::ostringstream md;
        md << "| method |";
        for (const auto& t : targets) md << ' ' << label_of(t) << " |";
        md << " s/step |\n|---|";
        for (std::size_t i = 0; i < targets.size(); ++i) md << "---|";
        md << "---|\n";
        for (const auto& name : methods) {
            md << "| " << name << " |";
            for (const auto& t : targets)
                md << ' ' << percent_mean_std(results[{name, label_of(t)}]) << " |";
            char sps[32];
            std::snprintf(sps, sizeof sps, " %.3f |", seconds_per_step[name] / double(targets.size() * std::size_t(seeds)));
            md << sps << "\n";
        }
        std::filesystem::create_directories(o->out);
        const auto md_path = std::filesystem::path(o->out) / "compare.md";
        const auto csv_path = std::filesystem::path(o->out) / "compare.csv";
        std::ostringstream doc;
        doc << "Top-1 accuracy (%) on the test split, mean ± std over " << seeds
            << " seeds; ResNet-20 pretrained on MNIST (" << source.filename().string()
            << "), per-class sampling, SMILE-authors recipe (SGD 0.9 Nesterov, wd 1e-4, lr 0.01 "
               "/10 at 2/3), "
            << (o->precision == "bf16" ? "bf16 compute (convolutions and matrix products)"
                                       : "float32")
            << ".\n\n"
            << md.str();
        io::write_file_atomically(md_path, doc.str());
        std::ostringstream csv;
        csv << "method,target,seed,top1,seconds_per_step\n";
        for (const auto& [m, target_label, seed, top1, sps] : rows)
            csv << m << ',' << target_label << ',' << seed << ',' << top1 << ',' << sps << '\n';
        io::write_file_atomically(csv_path, csv.str());
        // The table as bars: a panel per target, a bar per method, ± one standard deviation.
        std::vector<bar_panel> panels;
        for (const auto& t : targets) {
            bar_panel p{
                label_of(t) + ": top-1, mean \xC2\xB1 std over " + std::to_string(seeds) + " seeds",
                "top-1 (%)",
                methods,
                {},
                {},
                2};
            for (const auto& name : methods) {
                const auto [mean, sd] = mean_and_std(results[{name, label_of(t)}]);
                p.values.push_back(100 * mean);
                p.errors.push_back(100 * sd);
            }
            panels.push_back(std::move(p));
        }
        for (const char* picture : {"compare.png", "compare.svg"}) {
            try {
                draw_bar_panels(panels, 2, std::filesystem::path(o->out) / picture);
            } catch (const std::exception& e) {  // the table is written; a picture is an extra
                std::fprintf(stderr, "smile: warning: %s\n", e.what());
            }
        }
        const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count() / 60;
        std::printf("\n%s\n(%s, %s and compare.png, .svg written; %.1f minutes)\n",
                    doc.str().c_str(), md_path.c_str(), csv_path.c_str(), minutes);
    };
}

}  // namespace smile::cli
