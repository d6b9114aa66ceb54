// smile analyze: the SMILE paper's analyses of a trained model (§5.2, Appendix C) on a dataset
// split: the interpolation loss of its logits, probabilities and pooled features, and the
// feature-interpolation paths projected by PCA, written as JSON, CSV, pictures (PLplot) and a
// gnuplot script. Several networks (FT, mixup, SMILE) are compared on the same images and draws.
#include <cstdio>
#include <smile/data/sampling.hpp>
#include <smile/io/output_paths.hpp>

#include "smile/analysis_report.hpp"
#include "smile/commands.hpp"
#include "smile/dataset_options.hpp"
#include "smile/training_options.hpp"

namespace smile::cli {

command add_analyze(CLI::App& app) {
    struct options {
        model_options model;
        dataset_options data;
        std::vector<std::string> weights, names;
        std::string split = "test", distance = "l2", out = "analysis", transform;
        double rate = 100;
        std::uint64_t seed = 0;
        std::int64_t image_size = 0, resize_to = 256;
        std::size_t workers = 2;
        analysis::interpolation_options il;
        analysis::feature_interpolation_options paths;
    };
    auto o = std::make_shared<options>();
    auto* sub = app.add_subcommand("analyze", "interpolation loss and feature-interpolation PCA of a model on a dataset split");
    o->model.add_to(*sub);
    o->data.add_to(*sub);
    sub->add_option(
           "--weights", o->weights,
           "the networks to compare (.safetensors with torchvision names and their head, e.g. "
           "from finetune; several: --weights a b c, each on the same images and draws)")
        ->required()
        ->expected(1, 64);
    sub->add_option("--names", o->names,
                    "the networks' names in tables and pictures (default: each file's name without "
                    ".safetensors)")
        ->expected(1, 64);
    sub->add_option("--split", o->split, "train or test")->check(CLI::IsMember({"train", "test"}))->capture_default_str();
    sub->add_option("--rate", o->rate, "train split: percent sampled per class (the paper: 30)")
        ->capture_default_str()->check(number_in(0, 100, ends::open_low));
    sub->add_option("--images", o->il.max_images, "images used for the interpolation loss (0: all)")->capture_default_str()
        ->check(integer_in(0, 1e9));
    sub->add_option("--batch-size", o->il.batch_size, "images paired among themselves")->capture_default_str()->check(integer_in(2, 65536));
    sub->add_option("--draws", o->il.draws, "(delta1, delta2, lambda) draws per batch")->capture_default_str()->check(integer_in(1, 1e6));
    sub->add_option("--distance", o->distance, "D: l2 (ratio of norms) or squared-l2 (Eq. 1)")
        ->check(CLI::IsMember({"l2", "squared-l2"}))->capture_default_str();
    sub->add_option("--pairs", o->paths.pairs, "image pairs of the feature-interpolation picture")->capture_default_str()
        ->check(integer_in(0, 1e6));
    sub->add_option("--transform", o->transform, "evaluation preset (default: by dataset)");
    sub->add_option("--image-size", o->image_size, "crop size (default 224; 28 for mnist, fashion-mnist, digits)")
        ->check(integer_in(8, 4096));
    sub->add_option("--resize", o->resize_to, "resize before cropping")->capture_default_str()->check(integer_in(8, 8192));
    sub->add_option("--seed", o->seed, "seed of every random choice")->capture_default_str()->check(integer_in(0, 1.8e19));
    sub->add_option("--workers", o->workers, "data-loading threads")->capture_default_str()->check(integer_in(0, 256));
    sub->add_option("--out", o->out,
                    "directory for interpolation.json, interpolation_loss.png/.svg, "
                    "feature_interpolation.csv, .png, .svg and .gp")
        ->capture_default_str();
    return [o] {
        if (!o->names.empty() && o->names.size() != o->weights.size())
            detail::fail("--names: ", o->names.size(), " names for ", o->weights.size(),
                         " --weights");
        io::check_writable(std::filesystem::path(o->out) / "interpolation.json", "--out");
        auto d = std::make_shared<data::dataset>(o->data.read_dataset());
        training_options transforms;
        transforms.test_transform = o->transform;
        transforms.image_size = o->image_size;
        transforms.resize_to = o->resize_to;
        const data::pipeline pipe = transforms.pipelines(d->format).second;
        std::vector<data::sample> samples = o->split == "test" ? d->test : d->train;
        if (o->split == "train" && o->rate < 100)
            samples = data::sample_subset(d->train, d->num_classes(), o->rate / 100.0, o->seed, {});
        o->il.distance = analysis::parse_interpolation_distance(o->distance);
        o->il.workers = o->paths.workers = o->workers;

        analysis_request request;
        request.weights = o->weights;
        request.names = o->names;
        request.model = o->model;
        request.data = d;
        request.samples = samples;
        request.pipe = pipe;
        request.seed = o->seed;
        request.losses = o->il;
        request.paths = o->paths;
        const std::vector<model_analysis> models = analyse_networks(request);
        const std::filesystem::path out = o->out;
        const std::string title =
            models.size() == 1
                ? std::filesystem::path(o->weights[0]).filename().string() + " on " + d->format
                : std::to_string(models.size()) + " networks on " + d->format;
        write_analysis(
            models,
            {{"dataset", d->format}, {"split", o->split}, {"rate", o->rate}, {"seed", o->seed}},
            o->distance, out, title);
        std::printf(
            "interpolation loss, D = %s, %s split of %s (%lld ratios each; mean ± standard "
            "error):\n",
            o->distance.c_str(), o->split.c_str(), d->format.c_str(),
            static_cast<long long>(models[0].losses.features.count));
        std::printf("  %-24s %-20s %-20s %-20s\n", "network", "label IL on logits",
                    "on probabilities", "feature IL (pooled)");
        for (const auto& m : models) {
            auto cell = [](const analysis::interpolation_estimate& e) {
                char text[48];
                std::snprintf(text, sizeof text, "%.4f ± %.4f", e.mean(), e.standard_error());
                return std::string(text);
            };
            std::printf("  %-24s %-20s %-20s %-20s\n", m.name.c_str(),
                        cell(m.losses.logits).c_str(), cell(m.losses.probabilities).c_str(),
                        cell(m.losses.features).c_str());
        }
        std::printf(
            "wrote %s, interpolation_loss.png, .svg, feature_interpolation.csv, .png, .svg and .gp "
            "(a "
            "gnuplot script of the same picture)\n",
            (out / "interpolation.json").c_str());
    };
}

}  // namespace smile::cli
