// The reproduction study: runs the plan's runs (each once: a run with a result.json is done),
// measures the analysed networks, and writes the report (study_report.cpp).
#include "smile/study.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <smile/data/read_dataset.hpp>
#include <smile/data/sampling.hpp>
#include <smile/io/atomic_file.hpp>

#include "smile/analysis_report.hpp"
#include "smile/pretrain.hpp"
#include "smile/run_finetune.hpp"

namespace smile::cli {

namespace fs = std::filesystem;

study_plan default_study_plan() {
    study_plan p;
    p.source_arch = "resnet32";
    p.pretrain_iterations = 2000;
    // The digits first: pretraining on MNIST matters most there (the analyses and the ablations
    // run on its lowest rate); Fashion-MNIST at one rate, where it matters less.
    p.targets = {{"digits", {5, 10, 30}, 200, 0.1},
                 {"fashion-mnist", {1}, 300, 1.0 / 60}};  // 1,000 validation images
    p.methods = {"finetune", "l2sp",  "delta",  "bss",  "rifle",
                 "cotuning", "mixup", "cutmix", "smile"};
    p.ablations = {"smile-m-fe", "smile-m-fc", "smile-no-s-teacher", "smile-no-t-teacher",
                   "dsmile-kd"};
    p.seeds = 5;
    return p;
}

namespace {

using B = default_backend;

/// A target read once: its dataset, the validation split held out of the training split, and the
/// pool the training subsets are sampled from.
struct prepared_target {
    std::shared_ptr<data::dataset> data;
    std::vector<data::sample> pool, validation;
};

architecture source_architecture(const study_plan& p) {
    auto arch = resnet_by_name(p.source_arch);
    SMILE_CHECK(arch.has_value(), "study: the source architecture '", p.source_arch,
                "' is not a ResNet");
    arch->in_channels = 1;  // MNIST
    return *arch;
}

/// The test top-1 of the network in `weights` on `d`'s test split.
double test_top1(const fs::path& weights, const architecture& arch,
                 const std::shared_ptr<const data::dataset>& d, std::size_t workers) {
    session<B> s;
    rng init(0);
    auto model = make_classifier<B>(s, init, arch, {d->num_classes(), 0});
    load_complete_network<B>(model, weights.string(), arch, d->num_classes(), false);
    training_options t;
    return evaluate(s, model, d, d->test, t.pipelines(d->format).second, 256, workers).top1;
}

/// The source network: `arch` trained on MNIST (batch 128, SGD lr 0.1 cosine, weight decay 5e-4),
/// cached by architecture and steps, its MNIST test top-1 beside it (<file>.json). Returns both.
std::pair<fs::path, double> source_network(const study_plan& p, const fs::path& cache,
                                           std::size_t workers) {
    const architecture arch = source_architecture(p);
    const fs::path file = cache / ("mnist-" + p.source_arch + "-" +
                                   std::to_string(p.pretrain_iterations) + ".safetensors");
    const fs::path measured = fs::path(file.string() + ".json");
    io::check_writable(file, "--cache");
    auto remember = [&](double top1) {
        io::write_file_atomically(measured,
                                  nlohmann::json{{"mnist_test_top1", top1}}.dump() + "\n");
        return std::pair{file, top1};
    };
    if (fs::exists(file)) {
        std::fprintf(stderr, "study: using the cached source network %s\n", file.c_str());
        if (fs::exists(measured)) {
            std::ifstream in(measured);
            const auto j = nlohmann::json::parse(in, nullptr, false);
            if (!j.is_discarded() && j.contains("mnist_test_top1") &&
                j["mnist_test_top1"].is_number())
                return {file, j["mnist_test_top1"].get<double>()};
        }
        const auto mnist = std::make_shared<data::dataset>(
            data::read_dataset("mnist", data::packaged_dataset("mnist")));
        return remember(test_top1(file, arch, mnist, workers));
    }
    std::fprintf(stderr, "study: pretraining %s on MNIST for %lld iterations -> %s\n",
                 p.source_arch.c_str(), static_cast<long long>(p.pretrain_iterations),
                 file.c_str());
    const auto mnist = std::make_shared<data::dataset>(
        data::read_dataset("mnist", data::packaged_dataset("mnist")));
    training_options t;
    t.iterations = p.pretrain_iterations;
    t.batch_size = 128;
    t.lr = 0.1f;
    t.schedule = "cosine";
    t.weight_decay = 5e-4f;
    t.workers = workers;
    t.trainer.log_every = 200;
    t.trainer.label = "  [pretrain] ";
    return remember(pretrain(arch, mnist, t, file.string()).top1);
}

/// A randomly initialised network of the source's architecture (torchvision's initialisation,
/// drawn from `seed`), for the scratch runs; written once per seed.
fs::path random_start(const study_plan& p, const fs::path& out, std::uint64_t seed) {
    const fs::path file =
        out / "scratch" / (p.source_arch + "-random-s" + std::to_string(seed) + ".safetensors");
    if (fs::exists(file)) return file;
    fs::create_directories(file.parent_path());
    const architecture arch = source_architecture(p);
    session<B> s;
    rng gen(rng::derive(seed, 0x73637261, 0).bits());
    auto model = make_classifier<B>(s, gen, arch, {10, 0});
    io::save_weights<B>(model, file, architecture_metadata(arch));
    return file;
}

prepared_target prepare_target(const study_target& t, const fs::path& out) {
    prepared_target p;
    p.data = std::make_shared<data::dataset>(
        data::read_dataset(t.format, data::packaged_dataset(t.format)));
    // One validation split per target (seed 0), held out before any sampling, so that every run
    // on the target selects its network on the same images, none of which it trains on.
    std::tie(p.pool, p.validation) =
        data::split_validation(p.data->train, p.data->num_classes(), t.validation_fraction, 0);
    const fs::path lists = out / "splits" / t.format;
    fs::create_directories(lists);
    data::write_list(lists / "validation.txt", p.validation);
    data::write_list(lists / "pool.txt", p.pool);
    return p;
}

/// A seed's training subset at `rate` percent of the pool (every run and the analyses draw it
/// here).
std::vector<data::sample> draw_subset(const prepared_target& t, double rate, std::uint64_t seed) {
    return data::sample_subset(t.pool, t.data->num_classes(), rate / 100.0, seed);
}

std::vector<data::sample> training_subset(const prepared_target& t, const study_target& target,
                                          double rate, std::uint64_t seed, const fs::path& out) {
    auto subset = draw_subset(t, rate, seed);
    data::write_list(out / "splits" / target.format /
                         ("r" + rate_text(rate) + "-s" + std::to_string(seed) + ".txt"),
                     subset);
    return subset;
}

nlohmann::json result_json(const study_result& r, const study_plan& p) {
    return {{"table", table_name(r.run.table)},
            {"dataset", p.targets.at(r.run.target).format},
            {"rate", r.run.rate},
            {"method", r.run.method},
            {"seed", r.run.seed},
            {"test_top1_selected", r.test_selected},
            {"test_top1_final", r.test_final},
            {"validation_top1_best", r.validation_best},
            {"best_iteration", r.best_iteration},
            {"training_images", r.training_images},
            {"seconds", r.seconds},
            {"seconds_per_step", r.seconds_per_step}};
}

std::optional<study_result> read_result(const fs::path& file, const study_run& run) {
    if (!fs::exists(file)) return std::nullopt;
    std::ifstream in(file);
    const auto j = nlohmann::json::parse(in, nullptr, false);
    SMILE_CHECK(!j.is_discarded() && j.is_object(), file.string(),
                ": not a study result (remove it to run it again)");
    study_result r;
    r.run = run;
    try {
        r.test_selected = j.at("test_top1_selected").get<double>();
        r.test_final = j.at("test_top1_final").get<double>();
        r.validation_best = j.at("validation_top1_best").get<double>();
        r.best_iteration = j.at("best_iteration").get<std::int64_t>();
        r.training_images = j.at("training_images").get<std::int64_t>();
        r.seconds = j.at("seconds").get<double>();
        r.seconds_per_step = j.at("seconds_per_step").get<double>();
    } catch (const nlohmann::json::exception& e) {
        detail::fail(file.string(), ": ", e.what(), " (remove it to run it again)");
    }
    return r;
}

study_result run_one(const study_plan& p, const study_run& run, const prepared_target& t,
                     const std::vector<data::sample>& subset, const fs::path& pretrained,
                     const fs::path& folder, const study_options& o) {
    // An interrupted run left at most partial files: it starts over.
    fs::remove_all(folder);
    fs::create_directories(folder);
    const study_target& target = p.targets.at(run.target);
    finetune_job job;
    job.data = t.data;
    job.train = subset;
    job.validation = t.validation;
    job.arch = source_architecture(p);
    job.pretrained = pretrained;
    job.training.iterations = target.iterations;
    job.training.seed = run.seed;
    job.training.workers = o.workers;
    if (run.table == study_table::scratch) job.training.lr = run.lr;
    job.training.trainer.log_every = 0;
    job.training.trainer.eval_every = std::max<std::int64_t>(1, target.iterations / 5);
    job.training.trainer.best_checkpoint_path = (folder / "checkpoint-best.safetensors").string();
    if (run.keep_weights) job.save_best_weights = folder / "weights-best.safetensors";
    method_options defaults;
    defaults.precision_text = o.precision;
    job.method =
        defaults.finish(run.table == study_table::scratch ? "finetune" : run.method, job.training);
    const finetune_outcome outcome = run_finetune(job, false);
    fs::remove(folder / "checkpoint-best.safetensors");  // the selected network is measured; its
                                                         // state is not needed
    study_result r;
    r.run = run;
    r.test_final = outcome.test_last.top1;
    r.test_selected = outcome.test_best ? outcome.test_best->top1 : outcome.test_last.top1;
    r.validation_best = outcome.best_top1;
    r.best_iteration = outcome.best_iteration;
    r.seconds = outcome.seconds;
    r.seconds_per_step = outcome.seconds_per_step;
    r.training_images = std::int64_t(subset.size());
    io::write_file_atomically(folder / "result.json", result_json(r, p).dump(2) + "\n");
    return r;
}

/// Tables 4-5 and Appendix C: the analysed methods' selected networks of every seed, on the
/// seed's training subset and on the test split (the same images, pairs and λ for each network);
/// the paths picture for seed 0's networks on the test split.
std::vector<analysed_losses> analyse(const study_plan& p, const prepared_target& t,
                                     const fs::path& out, const study_options& o) {
    std::vector<analysed_losses> losses;
    const study_target& target = p.targets.front();
    const double rate = target.rates.front();
    std::vector<std::string> analysed;  // those of FT, mixup, SMILE that the study runs
    for (const auto& m : p.analysed)
        if (std::find(p.methods.begin(), p.methods.end(), m) != p.methods.end())
            analysed.push_back(m);
    for (std::int64_t seed = 0; seed < p.seeds && !analysed.empty(); ++seed) {
        std::vector<std::string> weights, names;
        for (const auto& m : analysed) {
            const fs::path w =
                p.folder(out, {study_table::table1, 0, rate, m, std::uint64_t(seed), true}) /
                "weights-best.safetensors";
            if (!fs::exists(w)) break;
            weights.push_back(w.string());
            names.push_back(m);
        }
        if (weights.size() != analysed.size()) continue;  // a seed not finished: not analysed
        for (const std::string split : {"train", "test"}) {
            analysis_request request;
            request.weights = weights;
            request.names = names;
            request.data = t.data;
            request.samples =
                split == "test" ? t.data->test : draw_subset(t, rate, std::uint64_t(seed));
            training_options transforms;
            request.pipe = transforms.pipelines(t.data->format).second;
            request.seed = std::uint64_t(seed);
            request.losses.workers = request.paths.workers = o.workers;
            request.paths.pairs = seed == 0 && split == "test" ? 3 : 0;
            const auto models = analyse_networks(request);
            for (const auto& m : models)
                losses.push_back({m.name, split, std::uint64_t(seed), m.losses.logits.mean(),
                                  m.losses.probabilities.mean(), m.losses.features.mean()});
            write_analysis(
                models,
                {{"dataset", target.format}, {"split", split}, {"rate", rate}, {"seed", seed}},
                "l2", out / "analysis" / (split + "-s" + std::to_string(seed)),
                "FT, mixup and SMILE on " + target.format + " " + rate_text(rate) + " %, seed " +
                    std::to_string(seed));
        }
    }
    return losses;
}

}  // namespace

std::size_t run_study(study_options o) {
    study_plan& p = o.plan;
    p.expand();
    const auto began = std::chrono::steady_clock::now();
    io::check_writable(o.out / "study.md", "--out");
    const fs::path cache = o.cache.empty() ? data::packaged_data_root() / "models" : o.cache;
    const auto [source, source_top1] = source_network(p, cache, o.workers);
    study_facts facts;
    facts.source_file = source.filename().string();
    facts.source_top1 = source_top1;
    std::fprintf(stderr, "study: source network %s, MNIST test top-1 %.2f%%\n", source.c_str(),
                 100 * source_top1);

    std::vector<prepared_target> targets;
    for (const auto& t : p.targets) {
        targets.push_back(prepare_target(t, o.out));
        facts.validation_images[t.format] = std::int64_t(targets.back().validation.size());
        facts.pool_images[t.format] = std::int64_t(targets.back().pool.size());
    }
    std::vector<study_result> results;
    std::size_t pending = 0, done_now = 0;
    for (const auto& run : p.runs)
        if (!fs::exists(p.folder(o.out, run) / "result.json")) ++pending;
    std::fprintf(stderr, "study: %zu runs, %zu already done, %zu to run\n", p.runs.size(),
                 p.runs.size() - pending, pending);
    const auto runs_began = std::chrono::steady_clock::now();
    for (const auto& run : p.runs) {
        const fs::path folder = p.folder(o.out, run);
        if (auto r = read_result(folder / "result.json", run)) {
            results.push_back(*r);
            continue;
        }
        const auto& t = targets.at(run.target);
        const auto subset = training_subset(t, p.targets.at(run.target), run.rate, run.seed, o.out);
        const fs::path pretrained =
            run.table == study_table::scratch ? random_start(p, o.out, run.seed) : source;
        results.push_back(run_one(p, run, t, subset, pretrained, folder, o));
        ++done_now;
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - runs_began).count();
        std::fprintf(stderr,
                     "study: [%zu/%zu] %-8s %-14s %5s%% %-20s seed %llu: test top-1 %6.2f%% "
                     "(selected at %lld), final %6.2f%%  (%.0f s; ETA %.0f min)\n",
                     done_now, pending, table_name(run.table), p.targets[run.target].format.c_str(),
                     rate_text(run.rate).c_str(), run.method.c_str(),
                     static_cast<unsigned long long>(run.seed), 100 * results.back().test_selected,
                     static_cast<long long>(results.back().best_iteration),
                     100 * results.back().test_final, results.back().seconds,
                     elapsed / double(done_now) * double(pending - done_now) / 60);
    }
    const auto losses =
        p.targets.empty() ? std::vector<analysed_losses>{} : analyse(p, targets.front(), o.out, o);
    facts.minutes =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count() / 60;
    write_study_report(p, results, losses, facts, o.out);
    return done_now;
}

}  // namespace smile::cli
