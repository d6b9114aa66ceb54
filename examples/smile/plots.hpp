#pragma once
// Pictures drawn with PLplot (its cairo drivers: pngcairo, svgcairo): panels of line charts,
// and the training curves of a run folder's log.

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

/// The training curves of a JSON-lines log (trainer.hpp's format): every loss term, the
/// learning rate, the training and evaluation top-1, and the seconds per step, drawn to
/// `<folder>/curves.png` and `<folder>/curves.svg`. Returns the files written.
std::vector<std::filesystem::path> draw_training_curves(const std::filesystem::path& log,
                                                        const std::filesystem::path& folder);

}  // namespace smile::cli
