#pragma once
// What every PLplot picture shares (plots.cpp, plot_bars.cpp, plot_matrix.cpp): one page of
// panels written to a PNG or SVG file, the colours, and axis ranges. PLplot keeps global state,
// so each picture is one plinit ... plend pass.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

namespace smile::cli::plot_detail {

/// cmap0 indices: 0 the white background, 1 black (axes, text), 2.. line and bar colours (the
/// Okabe-Ito palette, told apart by colour-blind readers too).
inline constexpr int first_colour = 2;
inline constexpr int colour_count = 7;
[[nodiscard]] inline int colour(std::size_t k) { return first_colour + int(k % colour_count); }

/// Draws `count` panels on a grid of `columns` columns, each `width` × `height` pixels, into
/// `file` (PNG for ".png", SVG for ".svg"): `draw(k)` draws panel k on its subpage (it must start
/// with plenv or pladv). Throws naming the file when PLplot cannot write it.
void draw_pages(std::size_t count, int columns, int width, int height,
                const std::filesystem::path& file, const std::function<void(std::size_t)>& draw);

/// The character scale at which a title of `characters` fits over the plot area of a 640-pixel
/// panel (about 16 pixels a character at scale 1 across its ~500 pixels, a little more allowed
/// beyond it), between 0.5 and 1.
[[nodiscard]] inline double title_scale(std::size_t characters) {
    return std::clamp(36.0 / double(std::max<std::size_t>(characters, 1)), 0.5, 1.0);
}

/// A value range that grows with each finite value.
struct range {
    double low = std::numeric_limits<double>::infinity();
    double high = -std::numeric_limits<double>::infinity();
    void add(double v) {
        if (!std::isfinite(v)) return;
        low = std::min(low, v);
        high = std::max(high, v);
    }
    [[nodiscard]] bool empty() const { return !(low <= high); }
    /// Widened a little (and made non-degenerate) so lines do not sit on the frame.
    [[nodiscard]] range padded(double fraction) const {
        range r = *this;
        if (r.empty()) return {0.0, 1.0};
        double span = r.high - r.low;
        if (span <= 0) span = std::max(std::abs(r.high), 1.0) * 0.1;
        r.low -= fraction * span;
        r.high += fraction * span;
        return r;
    }
};

}  // namespace smile::cli::plot_detail
