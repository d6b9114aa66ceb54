#pragma once
// Helpers shared by the fuzz targets: the parsers under test read files, so each input is
// written to a scratch folder of this process first.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace smile::fuzz {

/// This process's scratch folder (created once, under $TMPDIR).
inline const std::filesystem::path& scratch() {
    static const std::filesystem::path dir = [] {
        auto d = std::filesystem::temp_directory_path() / ("smile-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        return d;
    }();
    return dir;
}

inline void write_bytes(const std::filesystem::path& path, std::string_view bytes) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Splits an input into the pieces between occurrences of `separator` (several files from one
/// input; the seeds are built the same way).
inline std::vector<std::string_view> split(std::string_view bytes, std::string_view separator) {
    std::vector<std::string_view> pieces;
    for (;;) {
        const auto at = bytes.find(separator);
        if (at == std::string_view::npos) {
            pieces.push_back(bytes);
            return pieces;
        }
        pieces.push_back(bytes.substr(0, at));
        bytes.remove_prefix(at + separator.size());
    }
}

/// A parser's clear refusal: the expected outcome for a damaged input. SMILE_FUZZ_VERBOSE=1
/// prints it (to check that the seeds are accepted).
inline void refused(const std::exception& e) {
    static const bool verbose = std::getenv("SMILE_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "refused: %s\n", e.what());
}

inline std::string_view as_view(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

}  // namespace smile::fuzz
