#pragma once
/// @file
/// The training loop shared by every method and by `smile pretrain` / `smile finetune`:
/// batches from an endless loader, one method step per iteration, a JSON-lines log of every
/// term, progress with an ETA, evaluation every N iterations and at the end (the reported
/// number is the last evaluation, as the SMILE authors report; the best is kept too), atomic
/// checkpoints, exact resumption, and a clear error naming the term when a loss stops being
/// finite.
///
/// No run is lost to a late failure:
/// - the checkpoint and log paths are checked for writing before the first step;
/// - after the last step the checkpoint and `save_outputs` (the fine-tuned weights) are written
///   before the final evaluation, so an unreadable test image cannot cost the trained network;
/// - on SIGINT/SIGTERM (see stop_signal.hpp) the step in flight finishes, a checkpoint is
///   written and `smile::interrupted` is thrown (`--resume` continues from it);
/// - a non-finite loss stops the run without overwriting the last good checkpoint;
/// - the log is flushed line by line: one `config` line with the whole resolved configuration
///   (numbers as numbers), then one line per iteration and per evaluation.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <smile/io/output_paths.hpp>
#include <smile/methods/method.hpp>
#include <smile/train/evaluate.hpp>
#include <smile/train/stop_signal.hpp>
#include <string>
#include <vector>

namespace smile {

struct trainer_options {
    std::int64_t iterations = 9000;
    std::int64_t log_every = 100;        ///< progress lines; 0: none
    std::int64_t eval_every = 0;         ///< evaluations during training; 0: only at the end
    std::string log_path;                ///< JSON lines, one per iteration; empty: none
    std::string checkpoint_path;         ///< empty: no checkpoints
    std::int64_t checkpoint_every = 0;   ///< 0: only at the end (when a path is given)
    bool resume = false;  ///< continue from checkpoint_path if it exists (needs a path)
    bool force_resume =
        false;  ///< resume even when the run's settings differ from the checkpoint's
    std::string label;                   ///< prefix of progress lines
    nlohmann::json config = nlohmann::json::object();  ///< the run's settings, logged with the method's
    std::function<void()> save_outputs;  ///< after the last step, before the final evaluation
};

struct run_result {
    double final_top1 = 0.0;
    double best_top1 = 0.0;
    std::vector<std::pair<std::int64_t, double>> evaluations;  ///< (iteration, top-1)
    double seconds = 0.0;           ///< the whole run
    double evaluation_seconds = 0.0;
    double seconds_per_step = 0.0;  ///< training only (loading, steps, logging, checkpoints)
    std::int64_t iterations = 0;
    std::vector<std::string> skipped;  ///< images the loader skipped (loader_options::skip_unreadable)
};

/// A described setting as JSON: a number or a boolean when the text is one, else the text.
[[nodiscard]] inline nlohmann::json json_setting(const std::string& text) {
    if (text == "true") return true;
    if (text == "false") return false;
    if (!text.empty()) {
        char* end = nullptr;
        errno = 0;
        const long long i = std::strtoll(text.c_str(), &end, 10);
        if (errno == 0 && end == text.c_str() + text.size()) return i;
        const double d = std::strtod(text.c_str(), &end);
        if (end == text.c_str() + text.size() && std::isfinite(d)) return d;
    }
    return text;
}

/// Settings a resumed run may change: where its output goes and how often, not what it computes.
[[nodiscard]] inline bool free_on_resume(const std::string& setting) {
    static const std::set<std::string> free{"workers",          "eval_every",      "checkpoint",
                                            "checkpoint_every", "skip_unreadable", "log",
                                            "log_every"};
    return free.count(setting) > 0;
}

/// The settings in which two runs differ, as "name: before -> now" (absent settings as "absent").
[[nodiscard]] inline std::vector<std::string> setting_differences(const nlohmann::json& before,
                                                                  const nlohmann::json& now) {
    std::set<std::string> names;
    for (const auto& [k, v] : before.items()) names.insert(k);
    for (const auto& [k, v] : now.items()) names.insert(k);
    std::vector<std::string> out;
    for (const auto& k : names) {
        if (free_on_resume(k)) continue;
        const auto text = [&](const nlohmann::json& j) {
            return j.contains(k) ? j.at(k).dump() : std::string("absent");
        };
        if (!before.contains(k) || !now.contains(k) || before.at(k) != now.at(k))
            out.push_back(k + ": " + text(before) + " -> " + text(now));
    }
    return out;
}

/// Runs `m` for `o.iterations` steps on batches from a loader built by `make_loader(start_batch)`;
/// `evaluate_now()` returns the current top-1 (empty function: no evaluation).
template <Backend B>
run_result train(method<B>& m, const std::function<std::unique_ptr<data::loader>(std::int64_t)>& make_loader,
                 const std::function<double()>& evaluate_now, const trainer_options& o, rng& generator) {
    using clock = std::chrono::steady_clock;
    SMILE_CHECK(o.iterations >= 1, "train: iterations must be at least 1, got ", o.iterations);
    SMILE_CHECK(o.log_every >= 0 && o.eval_every >= 0 && o.checkpoint_every >= 0,
                "train: log, evaluation and checkpoint intervals must be non-negative");
    io::check_writable(o.checkpoint_path, "checkpoint");
    io::check_writable(o.log_path, "log");
    SMILE_CHECK(!o.resume || !o.checkpoint_path.empty(),
                "--resume needs --checkpoint: the file to resume from");
    run_result result;
    std::int64_t start = 0;
    // Every setting of the run: the log's config line, and what a checkpoint records so that a
    // resume with other settings is refused rather than silently mixing two runs.
    nlohmann::json settings = o.config;
    for (const auto& [k, v] : m.describe()) settings[k] = json_setting(v);
    settings["iterations"] = o.iterations;
    auto checkpoint = [&](std::int64_t next_iteration) {
        io::checkpoint_content<B> c;
        m.add_state(c);
        io::run_state state{next_iteration, {{"method", m.name()}, {"settings", settings.dump()}}};
        c.save(o.checkpoint_path, generator, state);
    };
    if (o.resume && !std::filesystem::exists(o.checkpoint_path)) {
        std::fprintf(stderr, "%sno checkpoint at %s yet: starting from iteration 0\n",
                     o.label.c_str(), o.checkpoint_path.c_str());
    } else if (o.resume) {
        io::checkpoint_content<B> c;
        m.add_state(c);
        const auto state = c.load(m.sess(), o.checkpoint_path, generator);
        if (state.info.count("method") && state.info.at("method") != m.name())
            detail::fail(o.checkpoint_path, ": checkpoint of method '", state.info.at("method"), "', not '", m.name(), "'");
        if (const auto it = state.info.find("settings"); it != state.info.end()) {
            const auto before = nlohmann::json::parse(it->second, nullptr, false);
            if (before.is_discarded() || !before.is_object())
                detail::fail(
                    o.checkpoint_path,
                    ": checkpoint metadata is damaged: its settings are not a JSON object");
            std::string differences;
            for (const auto& d : setting_differences(before, settings))
                differences += (differences.empty() ? "" : "; ") + d;
            if (!differences.empty() && !o.force_resume)
                detail::fail(
                    o.checkpoint_path, ": written by a run with other settings (", differences,
                    "); resume with the same settings, or --force-resume to continue with these");
            if (!differences.empty())
                std::fprintf(stderr,
                             "%swarning: resuming %s with other settings (--force-resume): %s\n",
                             o.label.c_str(), o.checkpoint_path.c_str(), differences.c_str());
        }
        SMILE_CHECK(state.iteration >= 0 && state.iteration <= o.iterations, o.checkpoint_path, ": checkpoint at iteration ",
                    state.iteration, " does not fit a run of ", o.iterations, " iterations");
        start = state.iteration;
        if (start == o.iterations)
            std::fprintf(stderr,
                         "%sthe run in %s is finished (iteration %lld of %lld): nothing to train\n",
                         o.label.c_str(), o.checkpoint_path.c_str(), static_cast<long long>(start),
                         static_cast<long long>(o.iterations));
        else
            std::fprintf(stderr, "%sresuming from %s at iteration %lld\n", o.label.c_str(),
                         o.checkpoint_path.c_str(), static_cast<long long>(start));
    }
    std::ofstream log;
    auto write_log = [&](const nlohmann::json& line) {
        if (!log.is_open()) return;
        log << line.dump() << '\n';
        log.flush();  // a crash, a kill or `tail -f` sees every finished line
        if (!log) detail::fail("cannot write the log ", o.log_path, ": ", std::strerror(errno));
    };
    if (!o.log_path.empty()) {
        log.open(o.log_path, start > 0 ? std::ios::app : std::ios::trunc);
        if (!log) detail::fail("cannot write the log ", o.log_path, ": ", std::strerror(errno));
        write_log({{"config", settings}, {"start_iteration", start}});
    }
    // Evaluates the network after `iterations` steps, logged with the last step's index.
    auto evaluate_after = [&](std::int64_t iterations) {
        const auto eval_began = clock::now();
        const double top1 = evaluate_now();
        result.evaluation_seconds +=
            std::chrono::duration<double>(clock::now() - eval_began).count();
        result.evaluations.emplace_back(iterations, top1);
        write_log({{"iter", iterations - 1}, {"eval_top1", top1}});
        if (o.log_every > 0)
            std::fprintf(stderr, "%siter %lld: test top-1 %.2f%%\n", o.label.c_str(),
                         static_cast<long long>(iterations), 100 * top1);
    };
    auto loader = make_loader(start);
    const auto began = clock::now();
    for (std::int64_t k = start; k < o.iterations; ++k) {
        const data::host_batch* batch = loader->next();
        const step_report r = m.step(*batch, k);
        for (const auto& [term, value] : r.terms)
            if (!std::isfinite(value))
                detail::fail(m.name(), ": loss term '", term, "' is ", value, " at iteration ", k,
                             " (lower the learning rate, or check the data and the pretrained weights)");
        if (!std::isfinite(r.loss)) detail::fail(m.name(), ": the loss is ", r.loss, " at iteration ", k);
        {
            nlohmann::json line{{"iter", k}, {"loss", r.loss}, {"lr", r.lr}};
            for (const auto& [term, value] : r.terms) line[term] = value;
            write_log(line);
        }
        const std::int64_t done = k + 1 - start;
        const double elapsed = std::chrono::duration<double>(clock::now() - began).count() - result.evaluation_seconds;
        const bool last = k + 1 == o.iterations;
        if (o.log_every > 0 && ((k + 1) % o.log_every == 0 || last)) {
            const double eta = elapsed / double(done) * double(o.iterations - k - 1);
            std::string terms;
            for (const auto& [term, value] : r.terms) terms += " " + term + "=" + std::to_string(value).substr(0, 7);
            std::fprintf(stderr, "%siter %lld/%lld loss %.4f%s lr %.4g | %.2f s/step, ETA %.0f s\n", o.label.c_str(),
                         static_cast<long long>(k + 1), static_cast<long long>(o.iterations), r.loss, terms.c_str(), r.lr,
                         elapsed / double(done), eta);
        }
        if (stop_requested() && !last) {
            std::string where = "no --checkpoint was given, so the run is not saved";
            if (!o.checkpoint_path.empty()) {
                checkpoint(k + 1);
                where = "checkpoint written to " + o.checkpoint_path + " (--resume continues from it)";
            }
            const int sig = stop_signal();
            write_log({{"iter", k}, {"interrupted", sig}});
            throw interrupted(m.name() + ": stopped by " + (sig == SIGTERM ? std::string("SIGTERM") : sig == SIGINT ? "SIGINT" : "request") +
                                  " after iteration " + std::to_string(k + 1) + " of " + std::to_string(o.iterations) + "; " + where,
                              sig);
        }
        const bool checkpoint_now = !o.checkpoint_path.empty() && ((o.checkpoint_every > 0 && (k + 1) % o.checkpoint_every == 0) || last);
        // At the end: everything the run produced is on disk before the final evaluation.
        if (last) {
            if (checkpoint_now) checkpoint(k + 1);
            if (o.save_outputs) o.save_outputs();
        }
        if (evaluate_now && ((o.eval_every > 0 && (k + 1) % o.eval_every == 0) || last))
            evaluate_after(k + 1);
        if (checkpoint_now && !last) checkpoint(k + 1);
    }
    if (start >= o.iterations) {  // resumed a finished run: its outputs, and its final evaluation
        if (o.save_outputs) o.save_outputs();
        if (evaluate_now) evaluate_after(o.iterations);
    }
    result.skipped = loader->skipped_files();
    if (!result.skipped.empty()) {
        std::fprintf(stderr, "%sskipped %zu unreadable image(s) during training:\n", o.label.c_str(), result.skipped.size());
        for (const auto& s : result.skipped) std::fprintf(stderr, "%s  %s\n", o.label.c_str(), s.c_str());
    }
    result.seconds = std::chrono::duration<double>(clock::now() - began).count();
    result.iterations = o.iterations - start;
    result.seconds_per_step =
        result.iterations > 0 ? (result.seconds - result.evaluation_seconds) / double(result.iterations) : 0.0;
    if (!result.evaluations.empty()) {
        result.final_top1 = result.evaluations.back().second;
        for (const auto& [k, v] : result.evaluations) result.best_top1 = std::max(result.best_top1, v);
    }
    return result;
}

}  // namespace smile
