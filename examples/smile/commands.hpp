#pragma once
// The subcommands of the `smile` program. Each registers its options on the application and
// returns the function that runs it.

#include <functional>

#include <CLI/CLI.hpp>

namespace smile::cli {

using command = std::function<void()>;

command add_predict(CLI::App& app);
command add_split(CLI::App& app);
command add_pretrain(CLI::App& app);
command add_finetune(CLI::App& app);
command add_compare(CLI::App& app);
command add_analyze(CLI::App& app);
command add_evaluate(CLI::App& app);

}  // namespace smile::cli
