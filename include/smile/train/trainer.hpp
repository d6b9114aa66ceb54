#pragma once
/// @file
/// The training loop shared by every method and by `smile pretrain` / `smile finetune`:
/// batches from an endless loader, one method step per iteration, a JSON-lines log of every
/// term, progress (a live bar on a terminal, plain lines elsewhere: progress.hpp), evaluation
/// every N iterations and at the end (the reported number is the last evaluation, as the SMILE
/// authors report; the best is kept too, with its own checkpoint when asked, and early stopping
/// when it stops improving), atomic checkpoints, exact resumption, and a clear error naming the
/// term when a loss stops being finite.
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

#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <smile/distributed/communicator.hpp>
#include <smile/io/output_paths.hpp>
#include <smile/methods/method.hpp>
#include <smile/train/evaluate.hpp>
#include <smile/train/progress.hpp>
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
    std::string unit = "img";            ///< what a batch holds, in progress lines ("sent": text)
    progress_style progress = progress_style::automatic;
    nlohmann::json config = nlohmann::json::object();  ///< the run's settings, logged with the method's
    std::function<void()> save_outputs;  ///< after the last step, before the final evaluation
    std::string eval_split = "test";     ///< what evaluate_now measures on (messages and the log)
    /// Written (a whole checkpoint) after each evaluation that beats every earlier one; empty:
    /// not kept. Select by a validation split, never by the test split.
    std::string best_checkpoint_path;
    std::function<void()> save_best_outputs;  ///< after each new best (its weights, say)
    /// Early stopping: end the run after this many evaluations in a row without a new best
    /// (0: never).
    std::int64_t patience = 0;
    /// More entries of every checkpoint's run information (the program records the network's
    /// architecture there, so that a checkpoint can be evaluated without architecture flags).
    std::map<std::string, std::string> checkpoint_info;
};

struct run_result {
    double final_top1 = 0.0;
    double best_top1 = 0.0;
    std::int64_t best_iteration = 0;  ///< steps done when the best evaluation was made
    std::int64_t stopped_early_at =
        0;  ///< steps done when early stopping ended the run (0: it did not)
    std::vector<std::pair<std::int64_t, double>> evaluations;  ///< (iteration, top-1)
    evaluation final_evaluation;                               ///< the last evaluation, whole
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

/// A float setting as the double with the same shortest decimal form (0.01f logs as 0.01, not
/// 0.009999999776).
[[nodiscard]] inline double decimal_value(float v) {
    char text[32];
    const auto end = std::to_chars(text, text + sizeof text, v).ptr;
    return std::strtod(std::string(text, end).c_str(), nullptr);
}

/// Settings a resumed run may change: where its output goes and how often, not what it computes.
[[nodiscard]] inline bool free_on_resume(const std::string& setting) {
    static const std::set<std::string> free{
        "workers", "eval_every", "checkpoint", "checkpoint_every", "skip_unreadable",
        "log",     "log_every",  "output_dir", "best_checkpoint"};
    return free.count(setting) > 0;
}

/// The value a setting introduced after the first checkpoints had before it existed: a checkpoint
/// that lacks it was written with this value, so resuming one at this value is no change.
[[nodiscard]] inline const nlohmann::json* implicit_setting(const std::string& setting) {
    static const std::map<std::string, nlohmann::json> implicit{{"precision", "f32"},
                                                                {"teacher_precision", "f32"}};
    const auto it = implicit.find(setting);
    return it == implicit.end() ? nullptr : &it->second;
}

/// The settings in which two runs differ, as "name: before -> now" (absent settings as "absent";
/// a setting absent before and at its implicit value now is no difference).
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
        if (const auto* implicit = implicit_setting(k);
            implicit != nullptr && !before.contains(k) && now.contains(k) && now.at(k) == *implicit)
            continue;
        if (!before.contains(k) || !now.contains(k) || before.at(k) != now.at(k))
            out.push_back(k + ": " + text(before) + " -> " + text(now));
    }
    return out;
}

/// Every setting of a run of `m` under `o`: the run's configuration, the method's settings
/// (numbers as numbers), the iterations. The log's config line; what a checkpoint records.
/// `m` is an image method (methods/method.hpp) or a text method (methods/text/).
template <class Method>
nlohmann::json run_settings(const Method& m, const trainer_options& o) {
    nlohmann::json settings = o.config;
    for (const auto& [k, v] : m.describe()) settings[k] = json_setting(v);
    settings["iterations"] = o.iterations;
    return settings;
}

/// The images of `labels` that `logits` (rows of `classes` scores) classifies correctly; -1 when
/// the rows are not one per label (a method whose last forward was not the batch).
template <Backend B>
std::int64_t count_correct(const tensor<B>& logits, const std::vector<std::int64_t>& labels) {
    const shape4& shape = logits.shape();
    const auto classes = std::int64_t(shape.row_size());
    if (shape.n != std::int64_t(labels.size()) || classes < 1) return -1;
    const auto host = logits.to_host();
    std::int64_t correct = 0;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const float* row = host.data() + std::int64_t(i) * classes;
        correct += std::max_element(row, row + classes) - row == labels[i];
    }
    return correct;
}

/// Runs `m` for `o.iterations` steps on batches from a loader built by `make_loader(start_batch)`;
/// `evaluate_now()` measures the current network on `o.eval_split` (empty function: no
/// evaluation).
///
/// The same loop trains image and text methods. What it asks of them:
/// - `m`: `name()`, `describe()`, `step(batch, k)` returning a step_report, `add_state(c)` for
///   checkpoints, `sess()`, and `logits()` (the last training forward's, for the training
///   accuracy);
/// - the loader `make_loader(start)` returns (a pointer to): `next()` giving a pointer to a batch
///   with `labels` and `size()`, and `skipped_files()`.
template <Backend B, class Method, class MakeLoader>
run_result train(Method& m, const MakeLoader& make_loader,
                 const std::function<evaluation()>& evaluate_now, const trainer_options& o,
                 rng& generator) {
    using clock = std::chrono::steady_clock;
    SMILE_CHECK(o.iterations >= 1, "train: iterations must be at least 1, got ", o.iterations);
    SMILE_CHECK(
        o.log_every >= 0 && o.eval_every >= 0 && o.checkpoint_every >= 0 && o.patience >= 0,
        "train: log, evaluation and checkpoint intervals and the patience must be non-negative");
    // Data-parallel: rank 0 writes the log, the checkpoints and the outputs and prints; every rank
    // trains, resumes from the same checkpoint and takes every decision from reduced numbers.
    communicator& comm = m.sess().comm();
    const bool root = comm.is_root();
    if (root) {
        io::check_writable(o.checkpoint_path, "checkpoint");
        io::check_writable(o.best_checkpoint_path, "best checkpoint");
        io::check_writable(o.log_path, "log");
    }
    SMILE_CHECK(!o.resume || !o.checkpoint_path.empty(),
                "--resume needs --checkpoint: the file to resume from");
    SMILE_CHECK(o.patience == 0 || evaluate_now, "train: early stopping (patience ", o.patience,
                ") needs an evaluation");
    run_result result;
    std::int64_t start = 0;
    // The best evaluation so far and how many evaluations since; a checkpoint carries them so
    // that a resumed run neither overwrites a better best nor restarts its patience.
    double best_top1 = -1.0;
    std::int64_t best_iteration = 0, since_best = 0;
    bool stopped_early = false;
    // Every setting of the run: the log's config line, and what a checkpoint records so that a
    // resume with other settings is refused rather than silently mixing two runs.
    const nlohmann::json settings = run_settings(m, o);
    auto checkpoint_to = [&](const std::string& path, std::int64_t next_iteration) {
        if (!root) return;
        io::checkpoint_content<B> c;
        m.add_state(c);
        const nlohmann::json best{
            {"top1", best_top1}, {"iteration", best_iteration}, {"since", since_best}};
        io::run_state state{
            next_iteration,
            {{"method", m.name()}, {"settings", settings.dump()}, {"best", best.dump()}}};
        if (stopped_early) state.info["stopped_early"] = std::to_string(next_iteration);
        for (const auto& [key, value] : o.checkpoint_info) state.info.emplace(key, value);
        c.save(path, generator, state);
    };
    auto checkpoint = [&](std::int64_t next_iteration) {
        checkpoint_to(o.checkpoint_path, next_iteration);
    };
    progress_printer progress(o.label, o.iterations, o.log_every, o.progress, o.unit);
    progress.set_world(comm.size(), root);
    if (o.resume && !std::filesystem::exists(o.checkpoint_path)) {
        progress.message("no checkpoint at %s yet: starting from iteration 0",
                         o.checkpoint_path.c_str());
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
                progress.message("warning: resuming %s with other settings (--force-resume): %s",
                                 o.checkpoint_path.c_str(), differences.c_str());
        }
        if (const auto it = state.info.find("best"); it != state.info.end()) {
            const nlohmann::json best = nlohmann::json::parse(it->second, nullptr, false);
            if (best.is_discarded() || !best.is_object() ||
                !best.value("top1", nlohmann::json()).is_number() ||
                !best.value("iteration", nlohmann::json()).is_number_integer() ||
                !best.value("since", nlohmann::json()).is_number_integer())
                detail::fail(o.checkpoint_path,
                             ": checkpoint metadata is damaged: its best evaluation is not "
                             "{\"top1\": number, \"iteration\": integer, \"since\": integer}");
            best_top1 = best.at("top1").get<double>();
            best_iteration = best.at("iteration").get<std::int64_t>();
            since_best = best.at("since").get<std::int64_t>();
        }
        SMILE_CHECK(state.iteration >= 0 && state.iteration <= o.iterations, o.checkpoint_path, ": checkpoint at iteration ",
                    state.iteration, " does not fit a run of ", o.iterations, " iterations");
        start = state.iteration;
        stopped_early = state.info.count("stopped_early") > 0;
        if (stopped_early)
            progress.message(
                "the run in %s stopped early at iteration %lld (patience %lld): nothing to train",
                o.checkpoint_path.c_str(), static_cast<long long>(start),
                static_cast<long long>(o.patience));
        else if (start == o.iterations)
            progress.message("the run in %s is finished (iteration %lld of %lld): nothing to train",
                             o.checkpoint_path.c_str(), static_cast<long long>(start),
                             static_cast<long long>(o.iterations));
        else
            progress.message("resuming from %s at iteration %lld", o.checkpoint_path.c_str(),
                             static_cast<long long>(start));
    }
    std::ofstream log;
    auto write_log = [&](const nlohmann::json& line) {
        if (!log.is_open()) return;
        log << line.dump() << '\n';
        log.flush();  // a crash, a kill or `tail -f` sees every finished line
        if (!log) detail::fail("cannot write the log ", o.log_path, ": ", std::strerror(errno));
    };
    if (!o.log_path.empty() && root) {
        log.open(o.log_path, start > 0 ? std::ios::app : std::ios::trunc);
        if (!log) detail::fail("cannot write the log ", o.log_path, ": ", std::strerror(errno));
        write_log({{"config", settings}, {"start_iteration", start}});
    }
    // Evaluates the network after `iterations` steps, logged with the last step's index; keeps
    // the best (its checkpoint and outputs when asked). Returns whether it is a new best.
    auto evaluate_after = [&](std::int64_t iterations) {
        const auto eval_began = clock::now();
        const evaluation e = evaluate_now();
        result.evaluation_seconds +=
            std::chrono::duration<double>(clock::now() - eval_began).count();
        result.evaluations.emplace_back(iterations, e.top1);
        result.final_evaluation = e;
        const bool better = e.top1 > best_top1;
        if (better) {
            best_top1 = e.top1;
            best_iteration = iterations;
            since_best = 0;
        } else {
            ++since_best;
        }
        write_log({{"iter", iterations - 1},
                   {"eval_split", o.eval_split},
                   {"eval_top1", e.top1},
                   {"eval_top5", e.top5},
                   {"eval_images", e.images},
                   {"best", better}});
        if (o.log_every > 0)
            progress.message("iter %lld: %s top-1 %.2f%%, top-5 %.2f%%%s",
                             static_cast<long long>(iterations), o.eval_split.c_str(), 100 * e.top1,
                             100 * e.top5, better ? " (best so far)" : "");
        if (better && !o.best_checkpoint_path.empty())
            checkpoint_to(o.best_checkpoint_path, iterations);
        if (better && o.save_best_outputs) o.save_best_outputs();
    };
    const bool finished_before = stopped_early || start >= o.iterations;
    auto loader = make_loader(start);
    const auto began = clock::now();
    std::vector<double> reduced;  // a step's numbers, summed over the ranks
    for (std::int64_t k = start; k < o.iterations && !finished_before; ++k) {
        const auto step_began = clock::now();
        const auto* batch = loader->next();
        const double data_seconds =
            std::chrono::duration<double>(clock::now() - step_began).count();
        step_report r = m.step(*batch, k);
        // Training accuracy against the batch's labels (for the mixing methods, the label of the
        // image that has the larger share, with lambda folded).
        std::int64_t correct = count_correct(m.logits(), batch->labels);
        std::int64_t images = batch->size();
        bool stop = stop_requested();
        if (comm.distributed()) {
            // The global batch's numbers: every rank's losses are means over its equal slice, so
            // their mean is the single-process loss; a stop asked of any rank stops them all.
            reduced.assign({r.loss, double(correct), stop ? 1.0 : 0.0});
            for (const auto& [term, value] : r.terms) reduced.push_back(value);
            comm.allreduce_sum(reduced);
            const double ranks = comm.size();
            r.loss = reduced[0] / ranks;
            correct = correct < 0 ? -1 : std::int64_t(reduced[1]);
            stop = reduced[2] > 0;
            for (std::size_t t = 0; t < r.terms.size(); ++t)
                r.terms[t].second = reduced[3 + t] / ranks;
            images *= comm.size();
        }
        for (const auto& [term, value] : r.terms)
            if (!std::isfinite(value))
                detail::fail(m.name(), ": loss term '", term, "' is ", value, " at iteration ", k,
                             " (lower the learning rate, or check the data and the pretrained weights)");
        if (!std::isfinite(r.loss))
            detail::fail(m.name(), ": the loss is ", r.loss, " at iteration ", k);
        const double step_seconds =
            std::chrono::duration<double>(clock::now() - step_began).count();
        {
            nlohmann::json line{{"iter", k}, {"loss", r.loss}, {"lr", r.lr}};
            for (const auto& [term, value] : r.terms) line[term] = value;
            if (correct >= 0) line["train_top1"] = double(correct) / double(images);
            line["step_seconds"] = step_seconds;
            line["data_seconds"] = data_seconds;
            write_log(line);
        }
        const std::int64_t done = k + 1 - start;
        const double elapsed = std::chrono::duration<double>(clock::now() - began).count() - result.evaluation_seconds;
        const bool last = k + 1 == o.iterations;
        progress.step({k + 1, r.loss, &r.terms, r.lr, images, std::max<std::int64_t>(correct, 0),
                       step_seconds, data_seconds},
                      elapsed, done);
        if (stop && !last) {
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
        if (evaluate_now && ((o.eval_every > 0 && (k + 1) % o.eval_every == 0) || last)) {
            evaluate_after(k + 1);
            if (!last && o.patience > 0 && since_best >= o.patience) {
                // Early stop: this is the run's end, saved as such (a resume trains no further).
                stopped_early = true;
                result.stopped_early_at = k + 1;
                write_log({{"iter", k}, {"early_stop", k + 1}, {"best_iteration", best_iteration}});
                progress.message(
                    "early stop after iteration %lld: %lld evaluations without a better %s top-1 "
                    "than "
                    "%.2f%% (iteration %lld)",
                    static_cast<long long>(k + 1), static_cast<long long>(since_best),
                    o.eval_split.c_str(), 100 * best_top1, static_cast<long long>(best_iteration));
                if (!o.checkpoint_path.empty()) checkpoint(k + 1);
                if (o.save_outputs) o.save_outputs();
                result.iterations = k + 1 - start;
                break;
            }
        }
        if (checkpoint_now && !last) checkpoint(k + 1);
    }
    if (finished_before) {  // resumed a finished run: its outputs, and its final evaluation
        if (o.save_outputs) o.save_outputs();
        if (evaluate_now) evaluate_after(start);
        if (stopped_early) result.stopped_early_at = start;
    }
    result.skipped = loader->skipped_files();
    if (!result.skipped.empty()) {
        progress.message("skipped %zu unreadable image(s) during training:", result.skipped.size());
        for (const auto& s : result.skipped) progress.message("  %s", s.c_str());
    }
    result.seconds = std::chrono::duration<double>(clock::now() - began).count();
    if (result.stopped_early_at == 0 || finished_before)
        result.iterations = finished_before ? 0 : o.iterations - start;
    result.seconds_per_step =
        result.iterations > 0 ? (result.seconds - result.evaluation_seconds) / double(result.iterations) : 0.0;
    if (!result.evaluations.empty()) result.final_top1 = result.evaluations.back().second;
    result.best_top1 = std::max(best_top1, 0.0);
    result.best_iteration = best_iteration;
    return result;
}

}  // namespace smile
