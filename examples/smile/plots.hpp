#pragma once
// Pictures drawn with PLplot (its cairo drivers: pngcairo, svgcairo): panels of line charts,
// panels of bars with error bars, a confusion matrix, and the training curves of a run folder's
// log. Every picture is written as PNG or SVG by the file's extension.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace smile::cli {

struct plot_series {
    std::string name;
    std::vector<double> x, y;
    bool points =
        false;  ///< markers at each value (few values: evaluations) instead of a line only
};

struct plot_panel {
    std::string title, x_label, y_label;
    std::vector<plot_series> series;
    bool log_y = false;  ///< logarithmic y axis (drawn only when every value is positive)
    bool pad_x = false;  ///< a margin left and right (scatter-like data), not for a time axis
};

/// Draws `panels` on a grid of `columns` columns into `file`: PNG for ".png", SVG for ".svg".
/// Throws naming the file when PLplot cannot write it.
void draw_panels(const std::vector<plot_panel>& panels, int columns,
                 const std::filesystem::path& file);

/// One bar per label (each its own colour), with an error bar of ± `errors[i]` (0: none) and the
/// value written above it.
struct bar_panel {
    std::string title, y_label;
    std::vector<std::string> labels;
    std::vector<double> values, errors;  ///< as many as labels (errors may be empty)
    int decimals = 2;                    ///< of the values written above the bars
};

/// Draws bar panels on a grid of `columns` columns into `file`. The value axis starts at 0 when
/// every value is positive and 0 lies within the values' spread; otherwise it starts just below
/// the lowest bar (the bars then show differences, the axis says from where).
void draw_bar_panels(const std::vector<bar_panel>& panels, int columns,
                     const std::filesystem::path& file);

/// A confusion matrix as a heat map: rows the true class (first at the top), columns the
/// predicted class, each cell shaded by its share of the row (the true class's images), with the
/// counts written in when there are at most 20 classes and the class names on the axes when
/// there are at most 30. `counts` is k × k, row-major.
void draw_confusion_matrix(const std::vector<std::int64_t>& counts,
                           const std::vector<std::string>& classes, const std::string& title,
                           const std::filesystem::path& file);

/// The training curves of a JSON-lines log (trainer.hpp's format): every loss term, the
/// learning rate, the training and evaluation top-1, and the seconds per step, drawn to
/// `<folder>/curves.png` and `<folder>/curves.svg`. Returns the files written.
std::vector<std::filesystem::path> draw_training_curves(const std::filesystem::path& log,
                                                        const std::filesystem::path& folder);

}  // namespace smile::cli
