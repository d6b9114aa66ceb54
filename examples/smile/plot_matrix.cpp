// A confusion matrix as a heat map (plots.hpp): smile evaluate's confusion.png and .svg.
#include <plplot/plplot.h>

#include <algorithm>
#include <smile/core/error.hpp>
#include <string>
#include <vector>

#include "smile/plot_page.hpp"
#include "smile/plots.hpp"

namespace smile::cli {

namespace {

constexpr std::size_t max_counted = 20;  // counts written in the cells up to this many classes
constexpr std::size_t max_named = 30;    // class names on the axes up to this many classes
constexpr std::size_t name_length = 16;  // longer names are cut, with an ellipsis

std::string short_name(const std::string& name) {
    if (name.size() <= name_length) return name;
    return name.substr(0, name_length - 1) + "\xE2\x80\xA6";  // … in UTF-8
}

/// Every `step`-th class index, step a round number giving at most about 10 labels.
std::size_t label_step(std::size_t k) {
    for (std::size_t step : {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000})
        if (k / step <= 10) return step;
    return k / 10;
}

void draw_matrix(const std::vector<std::int64_t>& counts, const std::vector<std::string>& classes,
                 const std::string& title) {
    const std::size_t k = classes.size();
    const bool named = k <= max_named;
    std::size_t longest = 0;
    for (const auto& c : classes) longest = std::max(longest, short_name(c).size());
    // Room for the names (vertical below, horizontal on the left): ~0.011 of the page a character.
    const double margin = named ? 0.08 + 0.011 * double(longest) : 0.1;
    pladv(0);
    plvpor(margin + 0.03, 0.97, margin + 0.03, 0.90);
    plwind(0.0, double(k), 0.0, double(k));

    // Shares of each true class: white (0) to dark blue (1).
    PLFLT position[2] = {0.0, 1.0}, red[2] = {1.0, 0.03}, green[2] = {1.0, 0.19},
          blue[2] = {1.0, 0.42};
    plscmap1n(256);
    plscmap1l(1, 2, position, red, green, blue, nullptr);
    std::vector<std::vector<PLFLT>> share(k, std::vector<PLFLT>(k, 0.0));  // [predicted][row up]
    for (std::size_t r = 0; r < k; ++r) {
        std::int64_t total = 0;
        for (std::size_t c = 0; c < k; ++c) total += counts[r * k + c];
        for (std::size_t c = 0; c < k; ++c)
            share[c][k - 1 - r] = total > 0 ? double(counts[r * k + c]) / double(total) : 0.0;
    }
    // A filled square per non-empty cell (an empty one is the white background); mostly empty
    // for a good classifier, so this stays small in SVG even for hundreds of classes.
    for (std::size_t c = 0; c < k; ++c)
        for (std::size_t y = 0; y < k; ++y) {
            if (share[c][y] <= 0) continue;
            PLFLT xs[4] = {double(c), double(c), double(c) + 1, double(c) + 1};
            PLFLT ys[4] = {double(y), double(y) + 1, double(y) + 1, double(y)};
            plcol1(share[c][y]);
            plfill(4, xs, ys);
        }

    if (k <= max_counted) {
        plschr(0.0, k > 10 ? 0.55 : 0.8);
        for (std::size_t r = 0; r < k; ++r)
            for (std::size_t c = 0; c < k; ++c) {
                const std::int64_t n = counts[r * k + c];
                if (n == 0) continue;
                plcol0(share[c][k - 1 - r] > 0.5 ? 0 : 1);  // white on dark cells
                plptex(double(c) + 0.5, double(k - 1 - r) + 0.35, 1.0, 0.0, 0.5,
                       std::to_string(n).c_str());
            }
        plschr(0.0, 1.0);
    }
    plcol0(1);
    plbox("bc", 0.0, 0, "bc", 0.0, 0);
    plschr(0.0, 0.85);  // the title centres over the matrix, which the names push right
    plmtex("t", 1.8, 0.5, 0.5, title.c_str());
    plschr(0.0, 1.0);
    const std::size_t step = named ? 1 : label_step(k);
    if (named) plschr(0.0, k > 15 ? 0.7 : 0.9);
    for (std::size_t c = 0; c < k; c += step) {
        const std::string text = named ? short_name(classes[c]) : std::to_string(c);
        const double along = (double(c) + 0.5) / double(k);
        plmtex("bv", 0.6, along, 1.0, text.c_str());        // predicted, below
        plmtex("lv", 0.6, 1.0 - along, 1.0, text.c_str());  // true, on the left, first on top
    }
    plschr(0.0, 1.0);
    const double axis_gap = named ? 2.0 + 0.5 * double(longest) : 3.0;
    plmtex("b", axis_gap, 0.5, 0.5, "predicted class");
    plmtex("l", axis_gap, 0.5, 0.5, "true class");
}

}  // namespace

void draw_confusion_matrix(const std::vector<std::int64_t>& counts,
                           const std::vector<std::string>& classes, const std::string& title,
                           const std::filesystem::path& file) {
    const std::size_t k = classes.size();
    if (k == 0 || counts.size() != k * k)
        detail::fail(file.string(), ": a confusion matrix of ", k, " classes needs ", k * k,
                     " counts, got ", counts.size());
    const int side = int(std::clamp<std::size_t>(360 + 24 * k, 560, 1600));
    plot_detail::draw_pages(1, 1, side, side, file,
                            [&](std::size_t) { draw_matrix(counts, classes, title); });
}

}  // namespace smile::cli
