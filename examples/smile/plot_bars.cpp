// Bars with error bars (plots.hpp): smile compare's table, analyze's interpolation losses.
#include <plplot/plplot.h>

#include <cstdio>
#include <smile/core/error.hpp>

#include "smile/plot_page.hpp"
#include "smile/plots.hpp"

namespace smile::cli {

namespace {

using plot_detail::range;

std::string number(double v, int decimals) {
    char text[48];
    std::snprintf(text, sizeof text, "%.*f", decimals, v);
    return text;
}

/// `text` cut to `characters` bytes with an ellipsis (labels are ASCII names in practice).
std::string shortened(const std::string& text, std::size_t characters) {
    if (text.size() <= characters) return text;
    return text.substr(0, characters - 1) + "\xE2\x80\xA6";  // … in UTF-8
}

void draw_bar_panel(const bar_panel& p) {
    const std::size_t n = p.labels.size();
    auto error_of = [&](std::size_t i) {
        return i < p.errors.size() ? std::abs(p.errors[i]) : 0.0;
    };
    range values;
    for (std::size_t i = 0; i < n; ++i) {
        values.add(p.values[i] - error_of(i));
        values.add(p.values[i] + error_of(i));
        values.add(p.values[i]);
    }
    range y = values.padded(0.25);
    // 0 on the axis when it is near the values (a bar's length then is its value); far below
    // them, the bars would all look alike, so the axis starts below the lowest.
    if (values.low >= 0 && values.low <= values.high - values.low) y.low = 0;
    if (values.low >= 0 && y.low < 0) y.low = 0;

    // About 16 pixels a character at scale 1 (measured on the cairo drivers' output); a slot is
    // ~500/n pixels wide. Names are written across below their bars, smaller when needed; when
    // that would be too small, vertically, in at most a third of the panel's height, cut to
    // `longest_vertical` characters.
    constexpr double pixels_per_character = 16.0;
    constexpr std::size_t longest_vertical = 20;
    std::size_t longest = 0;
    for (const auto& l : p.labels) longest = std::max(longest, l.size());
    const double slot = 0.85 * 500.0 / double(n);
    const double label_width = pixels_per_character * double(std::max<std::size_t>(longest, 1));
    const bool vertical = slot / label_width < 0.6;
    const double vertical_width =
        pixels_per_character * double(std::clamp<std::size_t>(longest, 1, longest_vertical));
    const double label_scale = vertical ? std::clamp(0.33 * 440.0 / vertical_width, 0.45, 1.0)
                                        : std::min(1.0, slot / label_width);
    pladv(0);
    plvpor(0.2, 0.97, vertical ? 0.06 + label_scale * vertical_width / 440.0 : 0.14, 0.88);
    plwind(0.0, double(n), y.low, y.high);
    plcol0(1);
    plsyax(6, 0);  // plain numbers up to 6 digits, no "x10^k" above the axis (it hits the title)
    plbox("bc", 0.0, 0, "bcgnstv", 0.0, 0);
    plschr(0.0, plot_detail::title_scale(p.title.size()));
    plmtex("t", 1.5, 0.5, 0.5, p.title.c_str());
    plschr(0.0, 1.0);
    plmtex("l", 5.0, 0.5, 0.5, p.y_label.c_str());
    for (std::size_t i = 0; i < n; ++i) {
        const double v = std::clamp(p.values[i], y.low, y.high);
        PLFLT xs[4] = {double(i) + 0.15, double(i) + 0.15, double(i) + 0.85, double(i) + 0.85};
        PLFLT ys[4] = {y.low, v, v, y.low};
        plcol0(plot_detail::colour(i));
        plfill(4, xs, ys);
        plcol0(1);
        plwidth(1.0);
        plline(4, xs, ys);
        const double e = error_of(i);
        PLFLT centre = double(i) + 0.5, top = p.values[i] + e;
        if (e > 0) {
            PLFLT low = p.values[i] - e, high = top;
            plwidth(2.0);
            plerry(1, &centre, &low, &high);
            plwidth(1.0);
        }
        if (n <= 12) {  // the value above its bar (the error is the bar's whisker)
            const std::string text = number(p.values[i], p.decimals);
            plschr(0.0, n > 6 ? 0.55 : 0.7);
            plptex(centre, std::min(top, y.high) + 0.035 * (y.high - y.low), 1.0, 0.0, 0.5,
                   text.c_str());
            plschr(0.0, 1.0);
        }
        const double position = (double(i) + 0.5) / double(n);
        plschr(0.0, label_scale);
        if (vertical)
            plmtex("bv", 0.7, position, 1.0, shortened(p.labels[i], longest_vertical).c_str());
        else
            plmtex("b", 1.5, position, 0.5, p.labels[i].c_str());
        plschr(0.0, 1.0);
    }
}

}  // namespace

void draw_bar_panels(const std::vector<bar_panel>& panels, int columns,
                     const std::filesystem::path& file) {
    for (const auto& p : panels) {
        if (p.labels.empty()) detail::fail(file.string(), ": panel '", p.title, "' has no bars");
        if (p.values.size() != p.labels.size() ||
            (!p.errors.empty() && p.errors.size() != p.labels.size()))
            detail::fail(file.string(), ": panel '", p.title, "' has ", p.labels.size(),
                         " labels but ", p.values.size(), " values and ", p.errors.size(),
                         " errors");
    }
    plot_detail::draw_pages(panels.size(), columns, 640, 440, file,
                            [&](std::size_t k) { draw_bar_panel(panels[k]); });
}

}  // namespace smile::cli
