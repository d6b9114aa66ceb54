#pragma once
/// @file
/// Line-oriented metadata files (CUB's images.txt, Aircraft's variant lists, list files):
/// non-empty lines with their numbers, and parse errors that name file and line.

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <smile/core/error.hpp>

namespace smile::data::formats {

struct text_line {
    std::size_t number;
    std::string text;
};

/// The non-empty lines of `path` (trailing '\r' and spaces removed).
inline std::vector<text_line> read_lines(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) detail::fail("cannot open ", path.string(), ": ", std::strerror(errno));
    std::vector<text_line> lines;
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
        if (!line.empty()) lines.push_back({n, line});
    }
    return lines;
}

/// Throws "<file>:<line>: <message>".
template <class... Pieces>
[[noreturn]] void fail_at(const std::filesystem::path& path, const text_line& line, Pieces&&... pieces) {
    detail::fail(path.string(), ":", line.number, ": ", std::forward<Pieces>(pieces)..., " (line: \"", line.text, "\")");
}

/// Splits at the first space: "<head> <rest>".
inline std::pair<std::string, std::string> split_first(const std::filesystem::path& path, const text_line& line) {
    const auto space = line.text.find(' ');
    if (space == std::string::npos) fail_at(path, line, "expected two fields separated by a space");
    return {line.text.substr(0, space), line.text.substr(space + 1)};
}

/// Splits at the last space: "<rest> <tail>" (list files whose paths contain spaces).
inline std::pair<std::string, std::string> split_last(const std::filesystem::path& path, const text_line& line) {
    const auto space = line.text.rfind(' ');
    if (space == std::string::npos) fail_at(path, line, "expected a path and a label separated by a space");
    return {line.text.substr(0, space), line.text.substr(space + 1)};
}

/// A whole decimal integer, or an error naming file and line.
inline long long parse_integer(const std::filesystem::path& path, const text_line& line, const std::string& field,
                               const char* what) {
    std::size_t used = 0;
    long long v = 0;
    try {
        v = std::stoll(field, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != field.size()) fail_at(path, line, what, " '", field, "' is not an integer");
    return v;
}

/// A decimal number, or an error naming file and line.
inline double parse_number(const std::filesystem::path& path, const text_line& line, const std::string& field,
                           const char* what) {
    std::size_t used = 0;
    double v = 0;
    try {
        v = std::stod(field, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != field.size()) fail_at(path, line, what, " '", field, "' is not a number");
    return v;
}

/// A pixel coordinate or extent: a decimal number in 0..10^6, truncated to an integer (the
/// range is checked first: converting 1e128 or NaN to an integer is undefined, found by
/// fuzz_datasets), or an error naming file and line.
inline std::int64_t parse_pixels(const std::filesystem::path& path, const text_line& line,
                                 const std::string& field, const char* what) {
    const double v = parse_number(path, line, field, what);
    if (!(v >= 0 && v <= 1e6))
        fail_at(path, line, what, " ", field, " is not a pixel position (0..1000000)");
    return static_cast<std::int64_t>(v);
}

/// Requires `path` to exist, naming what it is for.
inline void require_file(const std::filesystem::path& path, const char* layout) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        detail::fail(layout, ": missing ", path.string(), " (is the dataset root right, and the layout the official one?)");
}

}  // namespace smile::data::formats
