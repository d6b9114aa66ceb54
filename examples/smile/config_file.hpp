#pragma once
// Configuration files and the record of what a command was given: `--config run.json` reads
// options from JSON (CLI11's config mechanism with a JSON formatter; nlohmann/json parses; the
// option belongs to the program, since CLI11 2.1 reads config files of the top-level app only,
// and the subcommands let it fall through), and
// `given_options` writes the options a command line gave in the same form, so the config.json of
// a run folder reruns the run: `smile finetune --config runs/X/config.json`.
//
// Accepted: {"options": {"lr": 0.01, "no-fold": true, "method": "smile", ...}} (a run folder's
// config.json; its other keys are the record of the resolved run and are ignored) or the same
// object without the "options" wrapper. Keys are long option names without the dashes; values
// are numbers, strings, booleans (flags) or arrays. Options on the command line win.

#include <CLI/CLI.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <smile/train/trainer.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace smile::cli {

class json_config : public CLI::Config {
public:
    /// `program`: the top-level app, whose parsed subcommand the options are for.
    explicit json_config(const CLI::App* program) : program_(program) {}

    std::string to_config(const CLI::App* app, bool default_also, bool,
                          std::string) const override {
        nlohmann::json j = nlohmann::json::object();
        for (const CLI::Option* o : app->get_options()) {
            if (o->get_lnames().empty() || o->get_configurable() == false) continue;
            if (o->count() > 0) {
                j[o->get_lnames()[0]] = option_value(*o);
            } else if (default_also && !o->get_default_str().empty()) {
                j[o->get_lnames()[0]] = json_setting(o->get_default_str());
            }
        }
        return j.dump(2);
    }

    std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
        std::stringstream text;
        text << input.rdbuf();
        const auto j = nlohmann::json::parse(text.str(), nullptr, false);
        if (j.is_discarded() || !j.is_object())
            throw CLI::ConversionError("--config: the file is not a JSON object");
        const nlohmann::json& options = j.contains("options") ? j.at("options") : j;
        if (!options.is_object())
            throw CLI::ConversionError("--config: \"options\" is not a JSON object");
        const auto parsed_subcommands = program_->get_subcommands();
        if (parsed_subcommands.empty())
            throw CLI::ConversionError(
                "--config: give it after a command: smile finetune --config FILE");
        const std::string subcommand = parsed_subcommands.front()->get_name();
        if (j.contains("command") && j.at("command") != subcommand)
            throw CLI::ConversionError("--config: the file holds options of smile " +
                                       j.at("command").dump() + ", not of smile " + subcommand);
        std::vector<CLI::ConfigItem> parsed;
        for (const auto& [key, value] : options.items()) {
            CLI::ConfigItem item;
            item.parents = {subcommand};
            item.name = key;
            if (value.is_array()) {
                for (const auto& v : value) item.inputs.push_back(text_of(key, v));
            } else {
                item.inputs.push_back(text_of(key, value));
            }
            parsed.push_back(std::move(item));
        }
        return parsed;
    }

    /// An option's given value(s) as JSON: a number or boolean when the text is one.
    static nlohmann::json option_value(const CLI::Option& o) {
        const auto& results = o.results();
        if (o.get_type_size() == 0) return o.as<bool>();  // a flag
        if (results.size() == 1) return json_setting(results[0]);
        nlohmann::json list = nlohmann::json::array();
        for (const auto& r : results) list.push_back(json_setting(r));
        return list;
    }

private:
    const CLI::App* program_;

    static std::string text_of(const std::string& key, const nlohmann::json& v) {
        if (v.is_string()) return v.get<std::string>();
        if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
        if (v.is_number_integer()) return std::to_string(v.get<long long>());
        if (v.is_number()) return v.dump();
        throw CLI::ConversionError("--config: the value of \"" + key +
                                   "\" is neither a number, a string nor a boolean");
    }
};

/// Adds --config to the program: `smile <command> --config FILE` (each command lets unknown
/// options fall through to the program).
inline void add_config_option(CLI::App& program) {
    program.config_formatter(std::make_shared<json_config>(&program));
    program.set_config(
        "--config", "",
        "read a command's options from a JSON file (a run folder's config.json reruns that run); "
        "the command line wins");
    for (CLI::App* sub : program.get_subcommands({})) sub->fallthrough();
}

/// The options given to `sub` (on its command line or through --config), as JSON; --config and
/// --dry-run themselves are left out.
inline nlohmann::json given_options(const CLI::App& sub) {
    nlohmann::json j = nlohmann::json::object();
    for (const CLI::Option* o : sub.get_options()) {
        if (o->get_lnames().empty() || o->count() == 0) continue;
        const std::string& name = o->get_lnames()[0];
        if (name == "config" || name == "dry-run" || name == "help") continue;
        j[name] = json_config::option_value(*o);
    }
    return j;
}

}  // namespace smile::cli
