#pragma once
/// @file
/// What a checkpoint holds besides tensors, and reading it back from the file's metadata:
/// "smile.checkpoint" = "1", "iteration" (a non-negative decimal integer), "rng" (the
/// generator's state) and free-form "info.*" entries. Any damage is an error naming the file.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include <smile/core/error.hpp>
#include <smile/core/random.hpp>

namespace smile::io {

/// What a checkpoint holds besides tensors.
struct run_state {
    std::int64_t iteration = 0;
    std::map<std::string, std::string> info;  ///< method name, configuration, ...
};

/// The run state of checkpoint metadata `meta` of `path`; restores `generator` from it.
inline run_state parse_run_state(const std::map<std::string, std::string>& meta, const std::filesystem::path& path,
                                 rng& generator) {
    if (meta.count("smile.checkpoint") == 0)
        detail::fail(path.string(), ": not a smile checkpoint (no smile.checkpoint metadata)");
    if (meta.at("smile.checkpoint") != "1")
        detail::fail(path.string(), ": checkpoint format version '", meta.at("smile.checkpoint"), "' is not 1");
    const auto field = [&](const char* key) -> const std::string& {
        const auto it = meta.find(key);
        if (it == meta.end()) detail::fail(path.string(), ": checkpoint metadata is damaged: no '", key, "'");
        return it->second;
    };
    run_state state;
    const std::string& iteration = field("iteration");
    std::size_t used = 0;
    try {
        state.iteration = std::stoll(iteration, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != iteration.size() || state.iteration < 0)
        detail::fail(path.string(), ": checkpoint metadata is damaged: iteration '", iteration, "' is not a count");
    try {
        generator.restore(field("rng"));
    } catch (const std::exception& e) {
        detail::fail(path.string(), ": checkpoint metadata is damaged (rng): ", e.what());
    }
    for (const auto& [k, v] : meta)
        if (k.rfind("info.", 0) == 0) state.info[k.substr(5)] = v;
    return state;
}

}  // namespace smile::io
