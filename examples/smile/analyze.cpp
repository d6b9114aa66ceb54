// smile analyze: the SMILE paper's analyses of a trained model (§5.2, Appendix C) on a dataset
// split: the interpolation loss of its logits, probabilities and pooled features, and the
// feature-interpolation paths projected by PCA, written as JSON, CSV and a gnuplot script.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <smile/analysis/feature_interpolation.hpp>
#include <smile/analysis/interpolation_loss.hpp>
#include <smile/data/sampling.hpp>
#include <smile/factory_instances.hpp>
#include <smile/io/atomic_file.hpp>
#include <smile/io/output_paths.hpp>
#include <smile/io/weights.hpp>
#include <smile/smile.hpp>
#include <sstream>

#include "smile/commands.hpp"
#include "smile/dataset_options.hpp"
#include "smile/model_options.hpp"
#include "smile/plots.hpp"
#include "smile/training_options.hpp"

namespace smile::cli {

namespace {

/// A sample's file, or its index for in-memory datasets (MNIST, digits).
std::string image_name(const data::sample& s) {
    return s.path.empty() ? "#" + std::to_string(s.memory_index) : s.path;
}

/// The points of every path, one line per (pair, λ).
std::string paths_csv(const std::vector<analysis::interpolation_path>& paths) {
    std::ostringstream out;
    out << "pair,lambda,pc1,pc2,explained_pc1,explained_pc2,first,second\n";
    for (std::size_t k = 0; k < paths.size(); ++k) {
        const auto& p = paths[k];
        for (std::size_t i = 0; i < p.lambdas.size(); ++i)
            out << k << ',' << p.lambdas[i] << ',' << p.projection.at(std::int64_t(i), 0) << ','
                << p.projection.at(std::int64_t(i), 1) << ',' << p.projection.explained_variance_ratio[0] << ','
                << p.projection.explained_variance_ratio[1] << ",\"" << image_name(p.first) << "\",\""
                << image_name(p.second) << "\"\n";
    }
    return out.str();
}

/// Appendix C's picture: one panel per pair, the path of the mixed feature on the plane of its
/// first two principal components, from λ = lowest to 1 (drawn with PLplot).
std::vector<plot_panel> paths_panels(const std::vector<analysis::interpolation_path>& paths) {
    std::vector<plot_panel> panels;
    for (std::size_t k = 0; k < paths.size(); ++k) {
        const auto& p = paths[k];
        plot_series line{"path", {}, {}, true};
        for (std::size_t i = 0; i < p.lambdas.size(); ++i) {
            line.x.push_back(p.projection.at(std::int64_t(i), 0));
            line.y.push_back(p.projection.at(std::int64_t(i), 1));
        }
        char lambdas[64];
        std::snprintf(lambdas, sizeof lambdas, ", lambda %.2g to %.2g", p.lambdas.front(),
                      p.lambdas.back());
        panels.push_back({"pair " + std::to_string(k) + ": " + image_name(p.first) + " / " +
                              image_name(p.second) + lambdas,
                          "PC1",
                          "PC2",
                          {line},
                          false,
                          true});
    }
    return panels;
}

/// A gnuplot script that draws one panel per pair from the CSV (`gnuplot feature_interpolation.gp`
/// writes feature_interpolation.svg).
std::string paths_gnuplot(std::size_t pairs, const std::string& title) {
    std::ostringstream out;
    out << "# Feature interpolation (SMILE paper, Appendix C): " << title << "\n"
        << "set terminal svg size " << 320 * pairs << ",340 dynamic\n"
        << "set output 'feature_interpolation.svg'\n"
        << "set datafile separator ','\n"
        << "set multiplot layout 1," << pairs << " title '" << title << "'\n"
        << "set key off\nset xlabel 'PC1'\nset ylabel 'PC2'\n";
    for (std::size_t k = 0; k < pairs; ++k)
        out << "set title 'pair " << k << "'\n"
            << "plot 'feature_interpolation.csv' every ::1 using ($1==" << k << "?$3:1/0):4 with linespoints pt 7, \\\n"
            << "     '' every ::1 using ($1==" << k << "?$3:1/0):4:(sprintf('%.1f',$2)) with labels offset 0,1\n";
    out << "unset multiplot\n";
    return out.str();
}

}  // namespace

command add_analyze(CLI::App& app) {
    struct options {
        model_options model;
        dataset_options data;
        std::string weights, split = "test", distance = "l2", out = "analysis", transform;
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
    sub->add_option("--weights", o->weights, "the model (.safetensors with torchvision names and its fc, e.g. from finetune --save-weights)")
        ->required();
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
    sub->add_option("--out", o->out, "directory for interpolation.json, feature_interpolation.csv and .gp")->capture_default_str();
    return [o] {
        using B = default_backend;
        io::check_writable(std::filesystem::path(o->out) / "interpolation.json", "--out");
        auto d = std::make_shared<data::dataset>(o->data.read_dataset());
        training_options transforms;
        transforms.test_transform = o->transform;
        transforms.image_size = o->image_size;
        transforms.resize_to = o->resize_to;
        const data::pipeline pipe = transforms.pipelines(d->format).second;
        rng gen(o->seed);
        std::vector<data::sample> samples = o->split == "test" ? d->test : d->train;
        if (o->split == "train" && o->rate < 100)
            samples = data::sample_subset(d->train, d->num_classes(), o->rate / 100.0, o->seed, {});

        session<B> s;
        const architecture arch = o->model.config(o->weights);
        const std::int64_t classes = o->model.classes_for(o->weights, arch);
        auto model = make_classifier<B>(s, gen, arch, {classes, 0});
        load_complete_network<B>(model, o->weights, arch, classes, false);

        o->il.distance = analysis::parse_interpolation_distance(o->distance);
        o->il.workers = o->paths.workers = o->workers;
        const auto il = analysis::interpolation_loss(s, model, d, samples, pipe, gen, o->il);
        const auto paths = analysis::feature_interpolation(s, model, d, samples, pipe, gen, o->paths);

        auto estimate = [](const analysis::interpolation_estimate& e) {
            return nlohmann::json{{"mean", e.mean()}, {"standard_error", e.standard_error()}, {"ratios", e.count}};
        };
        nlohmann::json result{{"weights", o->weights},
                              {"dataset", d->format},
                              {"split", o->split},
                              {"rate", o->rate},
                              {"distance", o->distance},
                              {"seed", o->seed},
                              {"label_il_logits", estimate(il.logits)},
                              {"label_il_probabilities", estimate(il.probabilities)},
                              {"feature_il", estimate(il.features)}};
        const std::filesystem::path out = o->out;
        std::filesystem::create_directories(out);
        io::write_file_atomically(out / "interpolation.json", result.dump(2) + "\n");
        io::write_file_atomically(out / "feature_interpolation.csv", paths_csv(paths));
        io::write_file_atomically(out / "feature_interpolation.gp",
                   paths_gnuplot(paths.size(), std::filesystem::path(o->weights).filename().string() + " on " + d->format));
        std::printf("interpolation loss, D = %s, %s split of %s (%lld ratios each):\n", o->distance.c_str(),
                    o->split.c_str(), d->format.c_str(), static_cast<long long>(il.features.count));
        std::printf("  label IL on logits         %.4f ± %.4f\n", il.logits.mean(), il.logits.standard_error());
        std::printf("  label IL on probabilities  %.4f ± %.4f\n", il.probabilities.mean(), il.probabilities.standard_error());
        std::printf("  feature IL (pooled)        %.4f ± %.4f\n", il.features.mean(), il.features.standard_error());
        if (!paths.empty()) {
            const auto panels = paths_panels(paths);
            const int columns = int(std::min<std::size_t>(panels.size(), 2));
            draw_panels(panels, columns, out / "feature_interpolation.png");
            draw_panels(panels, columns, out / "feature_interpolation.svg");
        }
        std::printf(
            "wrote %s, feature_interpolation.csv, .png, .svg and .gp (a gnuplot script of the same "
            "picture)\n",
            (out / "interpolation.json").c_str());
    };
}

}  // namespace smile::cli
