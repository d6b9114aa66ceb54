// smile analyze: the SMILE paper's analyses of a trained model (§5.2, Appendix C) on a dataset
// split: the interpolation loss of its logits, probabilities and pooled features, and the
// feature-interpolation paths projected by PCA, written as JSON, CSV, pictures (PLplot) and a
// gnuplot script. Several networks (FT, mixup, SMILE) are compared on the same images and draws.
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

/// One analysed network: its name, the interpolation losses and the paths.
struct model_analysis {
    std::string name, weights;
    analysis::interpolation_report losses;
    std::vector<analysis::interpolation_path> paths;
};

/// The points of every path, one line per (model, pair, λ); `model` is the model's index (the
/// gnuplot script filters on it), `name` its name.
std::string paths_csv(const std::vector<model_analysis>& models) {
    std::ostringstream out;
    out << "model,pair,lambda,pc1,pc2,explained_pc1,explained_pc2,first,second,name\n";
    for (std::size_t m = 0; m < models.size(); ++m)
        for (std::size_t k = 0; k < models[m].paths.size(); ++k) {
            const auto& p = models[m].paths[k];
            for (std::size_t i = 0; i < p.lambdas.size(); ++i)
                out << m << ',' << k << ',' << p.lambdas[i] << ','
                    << p.projection.at(std::int64_t(i), 0) << ','
                    << p.projection.at(std::int64_t(i), 1) << ','
                    << p.projection.explained_variance_ratio[0] << ','
                    << p.projection.explained_variance_ratio[1] << ",\"" << data::list_key(p.first)
                    << "\",\"" << data::list_key(p.second) << "\",\"" << models[m].name << "\"\n";
        }
    return out.str();
}

/// Appendix C's picture: a row per model, a panel per pair: the path of the mixed feature on the
/// plane of its first two principal components, from λ = lowest to 1 (drawn with PLplot). The
/// pairs are the same images for every model.
std::vector<plot_panel> paths_panels(const std::vector<model_analysis>& models) {
    std::vector<plot_panel> panels;
    for (const auto& m : models)
        for (std::size_t k = 0; k < m.paths.size(); ++k) {
            const auto& p = m.paths[k];
            plot_series line{"path", {}, {}, true};
            for (std::size_t i = 0; i < p.lambdas.size(); ++i) {
                line.x.push_back(p.projection.at(std::int64_t(i), 0));
                line.y.push_back(p.projection.at(std::int64_t(i), 1));
            }
            char lambdas[64];
            std::snprintf(lambdas, sizeof lambdas, ", lambda %.2g to %.2g", p.lambdas.front(),
                          p.lambdas.back());
            const std::string who = models.size() > 1 ? m.name + ", pair " : "pair ";
            panels.push_back({who + std::to_string(k) + ": " + data::list_key(p.first) + " / " +
                                  data::list_key(p.second) + lambdas,
                              "PC1",
                              "PC2",
                              {line},
                              false,
                              true});
        }
    return panels;
}

/// Tables 4-5 of the paper as bars: a panel per measure, a bar per model, ± one standard error.
std::vector<bar_panel> loss_panels(const std::vector<model_analysis>& models,
                                   const std::string& distance) {
    std::vector<bar_panel> panels;
    using estimate_of =
        const analysis::interpolation_estimate& (*)(const analysis::interpolation_report&);
    const std::pair<const char*, estimate_of> measures[] = {
        {"label IL on logits",
         [](const analysis::interpolation_report& l) -> const auto& {return l.logits;
}
}  // namespace
, {"label IL on probabilities",
   [](const analysis::interpolation_report& l) -> const auto& {return l.probabilities;
}  // namespace smile::cli
}
, {
    "feature IL (pooled)", [](const analysis::interpolation_report& l) -> const auto& {
        return l.features;
    }
}
}
;
for (const auto& [title, of] : measures) {
    bar_panel p{std::string(title) + ", D = " + distance + ", \xC2\xB1 s.e.",
                "interpolation loss",
                {},
                {},
                {},
                3};
    for (const auto& m : models) {
        p.labels.push_back(m.name);
        p.values.push_back(of(m.losses).mean());
        p.errors.push_back(of(m.losses).standard_error());
    }
    panels.push_back(std::move(p));
}
    return panels;
}

/// A gnuplot script that draws a row of panels per model, a panel per pair, from the CSV
/// (`gnuplot feature_interpolation.gp` writes feature_interpolation.svg).
std::string paths_gnuplot(std::size_t models, std::size_t pairs, const std::string& title) {
    std::ostringstream out;
    out << "# Feature interpolation (SMILE paper, Appendix C): " << title << "\n"
        << "set terminal svg size " << 320 * pairs << "," << 340 * models << " dynamic\n"
        << "set output 'feature_interpolation.svg'\n"
        << "set datafile separator ','\n"
        << "set multiplot layout " << models << "," << pairs << " title '" << title << "'\n"
        << "set key off\nset xlabel 'PC1'\nset ylabel 'PC2'\n";
    for (std::size_t m = 0; m < models; ++m)
        for (std::size_t k = 0; k < pairs; ++k) {
            const std::string row =
                "($1==" + std::to_string(m) + " && $2==" + std::to_string(k) + "?$4:1/0)";
            out << "set title 'model " << m << ", pair " << k << "'\n"
                << "plot 'feature_interpolation.csv' every ::1 using " << row
                << ":5 with linespoints pt 7, \\\n"
                << "     '' every ::1 using " << row
                << ":5:(sprintf('%.1f',$3)) with labels offset 0,1\n";
        }
    out << "unset multiplot\n";
    return out.str();
}

}  // namespace

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
        using B = default_backend;
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

        session<B> s;
        std::vector<model_analysis> models;
        for (std::size_t m = 0; m < o->weights.size(); ++m) {
            const std::string& weights = o->weights[m];
            model_options model_flags = o->model;  // each file's metadata decides for itself
            const architecture arch = model_flags.config(weights);
            const std::int64_t classes = model_flags.classes_for(weights, arch);
            rng init(o->seed);
            auto model = make_classifier<B>(s, init, arch, {classes, 0});
            load_complete_network<B>(model, weights, arch, classes, false);
            // A fresh generator per network: every network sees the same images, pairs and λ,
            // so their losses differ by the networks alone.
            rng gen(o->seed);
            model_analysis a;
            a.weights = weights;
            a.name =
                !o->names.empty() ? o->names[m] : std::filesystem::path(weights).stem().string();
            a.losses = analysis::interpolation_loss(s, model, d, samples, pipe, gen, o->il);
            a.paths = analysis::feature_interpolation(s, model, d, samples, pipe, gen, o->paths);
            models.push_back(std::move(a));
        }

        auto estimate = [](const analysis::interpolation_estimate& e) {
            return nlohmann::json{{"mean", e.mean()}, {"standard_error", e.standard_error()}, {"ratios", e.count}};
        };
        nlohmann::json per_model = nlohmann::json::array();
        for (const auto& m : models)
            per_model.push_back({{"name", m.name},
                                 {"weights", m.weights},
                                 {"label_il_logits", estimate(m.losses.logits)},
                                 {"label_il_probabilities", estimate(m.losses.probabilities)},
                                 {"feature_il", estimate(m.losses.features)}});
        const nlohmann::json result{{"dataset", d->format}, {"split", o->split},
                                    {"rate", o->rate},      {"distance", o->distance},
                                    {"seed", o->seed},      {"models", per_model}};
        const std::filesystem::path out = o->out;
        std::filesystem::create_directories(out);
        io::write_file_atomically(out / "interpolation.json", result.dump(2) + "\n");
        io::write_file_atomically(out / "feature_interpolation.csv", paths_csv(models));
        const std::string title =
            models.size() == 1
                ? std::filesystem::path(o->weights[0]).filename().string() + " on " + d->format
                : std::to_string(models.size()) + " networks on " + d->format;
        io::write_file_atomically(out / "feature_interpolation.gp",
                                  paths_gnuplot(models.size(), models[0].paths.size(), title));
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
        const auto bars = loss_panels(models, o->distance);
        draw_bar_panels(bars, 3, out / "interpolation_loss.png");
        draw_bar_panels(bars, 3, out / "interpolation_loss.svg");
        const std::size_t pairs = models[0].paths.size();
        if (pairs > 0) {
            const auto panels = paths_panels(models);
            const int columns =
                models.size() == 1 ? int(std::min<std::size_t>(pairs, 2)) : int(pairs);
            draw_panels(panels, columns, out / "feature_interpolation.png");
            draw_panels(panels, columns, out / "feature_interpolation.svg");
        }
        std::printf(
            "wrote %s, interpolation_loss.png, .svg, feature_interpolation.csv, .png, .svg and .gp "
            "(a "
            "gnuplot script of the same picture)\n",
            (out / "interpolation.json").c_str());
    };
}

}  // namespace smile::cli
