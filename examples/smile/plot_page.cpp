// One page of PLplot panels into a file (plot_page.hpp). PLplot's errors would end the process,
// so plsexit turns them into a failure flag that draw_pages reports as an exception.
#include "smile/plot_page.hpp"

#include <plplot/plplot.h>

#include <smile/core/error.hpp>
#include <string>

namespace smile::cli::plot_detail {

namespace {

bool plplot_failed = false;
std::string plplot_message;

int on_plplot_error(PLCHAR_VECTOR message) {
    plplot_failed = true;
    plplot_message = message != nullptr ? message : "";
    return 0;  // do not exit: draw_pages reports it
}

// cmap0 from index 1: black, then the Okabe-Ito palette.
constexpr int palette[][3] = {{0, 0, 0},       {0, 114, 178}, {213, 94, 0},   {0, 158, 115},
                              {204, 121, 167}, {230, 159, 0}, {86, 180, 233}, {240, 228, 66}};
static_assert(int(sizeof palette / sizeof palette[0]) == 1 + colour_count);

}  // namespace

void draw_pages(std::size_t count, int columns, int width, int height,
                const std::filesystem::path& file, const std::function<void(std::size_t)>& draw) {
    const std::string extension = file.extension().string();
    const char* device = extension == ".png"   ? "pngcairo"
                         : extension == ".svg" ? "svgcairo"
                                               : nullptr;
    if (device == nullptr) detail::fail(file.string(), ": pictures are written as .png or .svg");
    if (count == 0) detail::fail(file.string(), ": nothing to draw");
    columns = std::max(1, std::min(columns, int(count)));
    const int rows = (int(count) + columns - 1) / columns;
    plplot_failed = false;
    plplot_message.clear();
    plsexit(on_plplot_error);
    plsdev(device);
    plsfnam(file.c_str());
    plspage(0, 0, width * columns, height * rows, 0, 0);
    plscol0(0, 255, 255, 255);  // white background
    for (int k = 0; k <= colour_count; ++k)
        plscol0(k + 1, palette[k][0], palette[k][1], palette[k][2]);
    plssub(columns, rows);
    plinit();
    for (std::size_t k = 0; k < count; ++k) draw(k);
    plend();
    if (plplot_failed || !std::filesystem::exists(file))
        detail::fail("cannot draw ", file.string(), " with PLplot",
                     plplot_message.empty() ? "" : ": " + plplot_message);
}

}  // namespace smile::cli::plot_detail
