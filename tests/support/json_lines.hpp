#pragma once
/// @file
/// Reading a JSON-lines file (the trainer's log) as one JSON value per line, and a JSON file
/// (a run folder's config.json, summary.json).

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace smile::test {

inline std::vector<nlohmann::json> read_json_lines(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::vector<nlohmann::json> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
    return lines;
}

inline nlohmann::json read_json(const std::filesystem::path& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

}  // namespace smile::test
