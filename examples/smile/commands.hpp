#pragma once
// The subcommands of the `smile` program. Each registers its options on the application and
// returns the function that runs it.

#include <functional>

#include <CLI/CLI.hpp>

namespace smile::cli {

using command = std::function<void()>;

command add_predict(CLI::App& app);

}  // namespace smile::cli
