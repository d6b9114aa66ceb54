// PLplot line charts (see plots.hpp) and a run's training curves.
#include "smile/plots.hpp"

#include <plplot/plplot.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <smile/core/error.hpp>

#include "smile/plot_page.hpp"
#include "smile/run_folder.hpp"

namespace smile::cli {

namespace {

using plot_detail::range;

void draw_panel(const plot_panel& p) {
    bool log_y = p.log_y;
    for (const auto& s : p.series)
        for (double v : s.y) log_y = log_y && v > 0;
    auto y_of = [&](double v) { return log_y ? std::log10(v) : v; };
    range xs, ys;
    for (const auto& s : p.series) {
        for (double v : s.x) xs.add(v);
        for (double v : s.y) ys.add(y_of(v));
    }
    const range x = xs.padded(p.pad_x ? 0.05 : 0.0), y = ys.padded(0.05);
    plcol0(1);
    plenv(x.low, x.high, y.low, y.high, 0,
          log_y ? 20 : 2);  // 20: log y axis; 2: linear with a grid
    pllab(p.x_label.c_str(), p.y_label.c_str(), "");
    plschr(0.0, plot_detail::title_scale(p.title.size()));
    plmtex("t", 2.0, 0.5, 0.5, p.title.c_str());
    plschr(0.0, 1.0);
    std::vector<std::string> names;
    std::vector<PLINT> options, colours, styles, symbol_numbers;
    std::vector<PLFLT> widths, symbol_scales;
    std::vector<const char*> symbols;
    for (std::size_t k = 0; k < p.series.size(); ++k) {
        const auto& s = p.series[k];
        const PLINT colour = plot_detail::colour(k);
        std::vector<PLFLT> px(s.x.begin(), s.x.end()), py;
        for (double v : s.y) py.push_back(y_of(v));
        plcol0(colour);
        plwidth(2.0);
        if (px.size() > 1) plline(PLINT(px.size()), px.data(), py.data());
        if (s.points || px.size() == 1) plstring(PLINT(px.size()), px.data(), py.data(), "#(728)");
        plwidth(1.0);
        names.push_back(s.name);
        options.push_back(PL_LEGEND_LINE | (s.points ? PL_LEGEND_SYMBOL : 0));
        colours.push_back(colour);
        styles.push_back(1);
        widths.push_back(2.0);
        symbol_numbers.push_back(1);
        symbol_scales.push_back(1.0);
        symbols.push_back("#(728)");
    }
    if (names.size() < 2) return;  // one series: the title says what it is
    std::vector<const char*> texts;
    for (const auto& n : names) texts.push_back(n.c_str());
    PLFLT width = 0, height = 0;
    plcol0(1);
    pllegend(&width, &height, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
             PL_POSITION_TOP | PL_POSITION_RIGHT | PL_POSITION_INSIDE, 0.02, 0.02, 0.08, 0, 1, 1, 0,
             0, PLINT(names.size()), options.data(), 0.8, 0.7, 1.6, 0.0, colours.data(),
             texts.data(), nullptr, nullptr, nullptr, nullptr, colours.data(), styles.data(),
             widths.data(), colours.data(), symbol_scales.data(), symbol_numbers.data(),
             symbols.data());
}

/// The running mean over `window` values (centred, shorter at the ends): per-step values are
/// noisy, a curve of their trend is what a reader wants.
std::vector<double> smoothed(const std::vector<double>& v, std::size_t window) {
    if (window <= 1) return v;
    std::vector<double> out(v.size());
    const std::size_t half = window / 2;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::size_t from = i >= half ? i - half : 0, to = std::min(v.size(), i + half + 1);
        double sum = 0;
        for (std::size_t j = from; j < to; ++j) sum += v[j];
        out[i] = sum / double(to - from);
    }
    return out;
}

}  // namespace

void draw_panels(const std::vector<plot_panel>& panels, int columns,
                 const std::filesystem::path& file) {
    // plenv in draw_panel advances to the next subpage
    plot_detail::draw_pages(panels.size(), columns, 640, 440, file,
                            [&](std::size_t k) { draw_panel(panels[k]); });
}

std::vector<std::filesystem::path> draw_training_curves(const std::filesystem::path& log,
                                                        const std::filesystem::path& folder) {
    std::ifstream in(log);
    if (!in) detail::fail("cannot read the log ", log.string());
    std::map<std::string, plot_series> terms;  // loss and each loss term, per step
    plot_series lr{"learning rate", {}, {}, false}, train{"train (batch)", {}, {}, false},
        step{"step", {}, {}, false}, data{"data wait", {}, {}, false};
    std::map<std::string, plot_series> evaluations;  // per split
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        const auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object())
            detail::fail(log.string(), ":", number, ": not a JSON object");
        if (!j.contains("iter") || !j.at("iter").is_number()) continue;  // the config line
        const double x = j.at("iter").get<double>() + 1;
        if (j.contains("eval_top1")) {
            const std::string split = j.value("eval_split", std::string("test"));
            auto& e = evaluations[split];
            e.name = split;
            e.points = true;
            e.x.push_back(x);
            e.y.push_back(100 * j.at("eval_top1").get<double>());
            continue;
        }
        if (!j.contains("loss")) continue;
        for (const auto& [key, value] : j.items()) {
            if (!value.is_number()) continue;
            if (key == "iter" || key == "lr" || key == "train_top1" || key == "step_seconds" ||
                key == "data_seconds" || key == "lambda")
                continue;
            auto& s = terms[key];
            s.name = key;
            s.x.push_back(x);
            s.y.push_back(value.get<double>());
        }
        auto add = [&](plot_series& s, const char* key, double scale) {
            if (j.contains(key) && j.at(key).is_number()) {
                s.x.push_back(x);
                s.y.push_back(scale * j.at(key).get<double>());
            }
        };
        add(lr, "lr", 1);
        add(train, "train_top1", 100);
        add(step, "step_seconds", 1);
        add(data, "data_seconds", 1);
    }
    if (terms.empty()) detail::fail(log.string(), ": no training steps to draw");
    const std::size_t steps = terms.begin()->second.x.size();
    const std::size_t window = std::max<std::size_t>(1, steps / 50);
    const std::string smoothing =
        window > 1 ? " (running mean of " + std::to_string(window) + " steps)" : "";
    plot_panel losses{"loss terms" + smoothing, "iteration", "value", {}, true};
    for (auto& [name, s] : terms) {
        s.y = smoothed(s.y, window);
        losses.series.push_back(s);
    }
    plot_panel rate{"learning rate", "iteration", "lr", {lr}, false};
    train.y = smoothed(train.y, window);
    plot_panel accuracy{"top-1 accuracy" + smoothing, "iteration", "%", {}, false};
    if (!train.x.empty()) accuracy.series.push_back(train);
    for (auto& [split, s] : evaluations) accuracy.series.push_back(s);
    step.y = smoothed(step.y, window);
    data.y = smoothed(data.y, window);
    plot_panel timing{"seconds per step" + smoothing, "iteration", "s", {}, false};
    for (auto* s : {&step, &data})
        if (!s->x.empty()) timing.series.push_back(*s);
    std::vector<plot_panel> panels{losses, rate};
    if (!accuracy.series.empty()) panels.push_back(accuracy);
    if (!timing.series.empty()) panels.push_back(timing);
    std::vector<std::filesystem::path> written;
    for (const char* extension : {"png", "svg"}) {
        const auto file = folder / (std::string("curves.") + extension);
        draw_panels(panels, 2, file);
        written.push_back(file);
    }
    return written;
}

void draw_curves(const std::filesystem::path& log, const run_folder& folder) {
    try {
        draw_training_curves(log, folder.dir);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "smile: warning: no training curves: %s\n", e.what());
    }
}

}  // namespace smile::cli
