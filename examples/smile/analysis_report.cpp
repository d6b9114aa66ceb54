// The analyses' measuring and writing, shared by `smile analyze` and the study (declared in
// analysis_report.hpp).
#include "smile/analysis_report.hpp"

#include <cstdio>
#include <smile/data/sampling.hpp>
#include <smile/factory_instances.hpp>
#include <smile/io/atomic_file.hpp>
#include <smile/smile.hpp>
#include <sstream>

#include "smile/plots.hpp"

namespace smile::cli {

namespace {

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

std::vector<model_analysis> analyse_networks(const analysis_request& r) {
    using B = default_backend;
    SMILE_CHECK(r.names.empty() || r.names.size() == r.weights.size(), "--names: ", r.names.size(),
                " names for ", r.weights.size(), " --weights");
    session<B> s;
    std::vector<model_analysis> models;
    for (std::size_t m = 0; m < r.weights.size(); ++m) {
        const std::string& weights = r.weights[m];
        model_options model_flags = r.model;  // each file's metadata decides for itself
        const architecture arch = model_flags.config(weights);
        const std::int64_t classes = model_flags.classes_for(weights, arch);
        rng init(r.seed);
        auto model = make_classifier<B>(s, init, arch, {classes, 0});
        load_complete_network<B>(model, weights, arch, classes, false);
        // A fresh generator per network: every network sees the same images, pairs and λ.
        rng gen(r.seed);
        model_analysis a;
        a.weights = weights;
        a.name = !r.names.empty() ? r.names[m] : std::filesystem::path(weights).stem().string();
        a.losses = analysis::interpolation_loss(s, model, r.data, r.samples, r.pipe, gen, r.losses);
        if (r.paths.pairs > 0)
            a.paths =
                analysis::feature_interpolation(s, model, r.data, r.samples, r.pipe, gen, r.paths);
        models.push_back(std::move(a));
    }
    return models;
}

nlohmann::json estimate_json(const analysis::interpolation_estimate& e) {
    return nlohmann::json{
        {"mean", e.mean()}, {"standard_error", e.standard_error()}, {"ratios", e.count}};
}

void write_analysis(const std::vector<model_analysis>& models, nlohmann::json about,
                    const std::string& distance, const std::filesystem::path& out,
                    const std::string& title) {
    nlohmann::json per_model = nlohmann::json::array();
    for (const auto& m : models)
        per_model.push_back({{"name", m.name},
                             {"weights", m.weights},
                             {"label_il_logits", estimate_json(m.losses.logits)},
                             {"label_il_probabilities", estimate_json(m.losses.probabilities)},
                             {"feature_il", estimate_json(m.losses.features)}});
    about["distance"] = distance;
    about["models"] = per_model;
    std::filesystem::create_directories(out);
    io::write_file_atomically(out / "interpolation.json", about.dump(2) + "\n");
    const auto bars = loss_panels(models, distance);
    draw_bar_panels(bars, 3, out / "interpolation_loss.png");
    draw_bar_panels(bars, 3, out / "interpolation_loss.svg");
    const std::size_t pairs = models.empty() ? 0 : models[0].paths.size();
    if (pairs == 0) return;
    io::write_file_atomically(out / "feature_interpolation.csv", paths_csv(models));
    io::write_file_atomically(out / "feature_interpolation.gp",
                              paths_gnuplot(models.size(), pairs, title));
    const auto panels = paths_panels(models);
    const int columns = models.size() == 1 ? int(std::min<std::size_t>(pairs, 2)) : int(pairs);
    draw_panels(panels, columns, out / "feature_interpolation.png");
    draw_panels(panels, columns, out / "feature_interpolation.svg");
}

}  // namespace smile::cli
