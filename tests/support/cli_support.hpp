#pragma once
// Helpers of the tests that run the `smile` program: a scratch folder per test process, and the
// check that a picture it drew is a real one.

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <smile/data/codec.hpp>
#include <string>

namespace smile::test {

namespace fs = std::filesystem;

struct workdir {
    fs::path path = fs::temp_directory_path() / ("smile_cli_" + std::to_string(::getpid()));
    workdir() { fs::create_directories(path); }
    ~workdir() { fs::remove_all(path); }
    std::string operator/(const std::string& f) const { return (path / f).string(); }
};

/// A PNG picture that decodes, of `width` × `height` pixels, neither blank nor filled: the
/// share of its samples darker than light grey lies between `at_least` and `at_most`.
inline void check_picture(const std::string& png, std::int64_t width, std::int64_t height,
                          double at_least = 0.01, double at_most = 0.6) {
    INFO(png);
    const auto picture = smile::data::read_image(png);
    CHECK(picture.width == width);
    CHECK(picture.height == height);
    std::int64_t drawn = 0;
    for (const auto v : picture.pixels) drawn += v < 200;
    const double fraction = double(drawn) / double(std::max<std::size_t>(1, picture.pixels.size()));
    INFO("drawn fraction ", fraction);
    CHECK(fraction > at_least);
    CHECK(fraction < at_most);
    const std::string svg = png.substr(0, png.size() - 3) + "svg";
    std::ifstream in(svg);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    CHECK(text.find("<svg") != std::string::npos);
    CHECK(text.find("viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
                    "\"") != std::string::npos);
}

}  // namespace smile::test
