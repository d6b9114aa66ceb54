// smile finetune: fine-tunes a pretrained network on a target dataset (optionally a sampled
// subset) with one of the methods, in a run folder (run_folder.hpp): configuration, log,
// checkpoints, weights, summary. With a validation split, evaluation during training and the
// choice of the best network look only at it; the test split is measured at the end.
#include <cstdio>
#include <set>
#include <sstream>

#include "smile/commands.hpp"
#include "smile/config_file.hpp"
#include "smile/dataset_options.hpp"
#include "smile/finetune_options.hpp"
#include "smile/finetune_summary.hpp"
#include "smile/model_options.hpp"
#include "smile/plots.hpp"
#include "smile/run_finetune.hpp"
#include "smile/run_folder.hpp"
#include "smile/world.hpp"

namespace smile::cli {

namespace {

/// The validation split and what is left to train on: --val-list's images (which must not be
/// training images of the run), or --val-split's per-class fraction of the subset.
std::pair<std::vector<data::sample>, std::vector<data::sample>> hold_out(
    const data::dataset& d, std::vector<data::sample> train, double fraction,
    const std::string& list, std::uint64_t seed) {
    if (!list.empty()) {
        auto validation = data::read_subset_list(d, list);
        std::set<std::string> held;
        for (const auto& s : validation) held.insert(data::list_key(s));
        std::vector<data::sample> rest;
        for (auto& s : train)
            if (held.count(data::list_key(s)) == 0) rest.push_back(std::move(s));
        if (rest.empty())
            detail::fail("--val-list ", list, ": every training image of the run is in it");
        return {std::move(rest), std::move(validation)};
    }
    if (fraction > 0) return data::split_validation(train, d.num_classes(), fraction, seed);
    return {std::move(train), {}};
}

}  // namespace

command add_finetune(CLI::App& app) {
    auto o = std::make_shared<finetune_options>();
    auto* sub = app.add_subcommand("finetune", "fine-tune a pretrained network with SMILE or a baseline");
    o->sub = sub;
    std::string names;
    for (const auto& n : method_names()) names += (names.empty() ? "" : ", ") + n;
    sub->add_option("--method", o->method, "one of: " + names)->capture_default_str();
    sub->add_option("--weights", o->weights, "pretrained network (.safetensors with torchvision names; fc = source head)")->required();
    o->model.add_to(*sub, false);
    o->data.add_to(*sub);
    sub->add_option("--rate", o->rate, "percent of the training set to sample")->capture_default_str()->check(number_in(0, 100, ends::open_low));
    sub->add_option("--protocol", o->protocol, "sampling: per-class or global")->check(CLI::IsMember({"per-class", "global"}))
        ->capture_default_str();
    sub->add_option(
        "--output-dir", o->output_dir,
        "run folder: config.json, log.jsonl, checkpoint-last/-best, weights-last/-best, "
        "summary.json "
        "(default: a new folder runs/<method>-<dataset>-r<rate>-s<seed>-<date>-<time>)");
    sub->add_option(
        "--save-weights", o->save_weights,
        "write the fine-tuned network here instead of <output-dir>/weights-last.safetensors");
    sub->add_option("--subset-list", o->train_list, "train on the images of this list file (from smile split) instead of --rate");
    auto* split =
        sub->add_option(
               "--val-split", o->val_split,
               "hold out this fraction of every class of the training subset as a validation "
               "split: "
               "evaluations, the best checkpoint and early stopping use it, never the test split")
            ->check(number_in(0, 1, ends::open));
    sub->add_option("--val-list", o->val_list,
                    "the validation split as a list file (smile split --validation)")
        ->excludes(split);
    sub->add_option("--early-stop", o->patience,
                    "stop after this many evaluations (--eval-every) without a better validation "
                    "top-1 (0: never)")
        ->check(integer_in(0, 1e9));
    sub->add_option("--progress", o->progress,
                    "auto (a live bar on a terminal, else lines), bar, lines")
        ->check(CLI::IsMember({"auto", "bar", "lines"}))
        ->capture_default_str();
    sub->add_flag("--dry-run", o->dry_run,
                  "check the data, the weights and every option, print the resolved configuration, "
                  "train nothing");
    sub->add_flag(
        "--sync-bn", o->sync_bn,
        "under mpirun: batch norm normalises with the statistics of the whole global batch "
        "(every rank's slice), as one process would; default: each rank's own slice, as "
        "PyTorch DDP");
    sub->add_option("--bucket-mb", o->bucket_mb,
                    "under mpirun: gradients are averaged across the ranks in buckets of at most "
                    "this many MiB, each summed as soon as backward has produced it (PyTorch "
                    "DDP's bucket_cap_mb); 0: one all-reduce per tensor after backward, no buckets. "
                    "Default: 25 with NCCL (GPUs), 0 with MPI on host memory, where it measured "
                    "faster (docs/distributed.md)")
        ->check(CLI::Range(0.0, 65536.0));
    o->training.add_to(*sub);
    o->methods.add_to(*sub);
    o->text.add_to(*sub);
    return [o] {
        if (o->model.arch_given() && o->model.arch == "bert") {
            finetune_bert(*o);
            return;
        }
        o->text.refuse_for_images();
        if (o->methods.preset == "sst5")
            detail::fail("--preset sst5 is the paper's BERT recipe: it needs --arch bert");
        if (!o->methods.preset.empty()) {
            const dataset_preset preset = preset_for(o->methods.preset);
            o->training.apply_preset(preset);
            o->model.fallback_arch(preset.arch);
        }
        const bool validating = o->val_split > 0 || !o->val_list.empty();
        if (o->patience > 0 && !validating)
            detail::fail(
                "--early-stop needs a validation split (--val-split or --val-list): stopping by "
                "the test split "
                "would select the network by its test accuracy");
        if (o->patience > 0 && o->training.trainer.eval_every == 0)
            detail::fail("--early-stop needs --eval-every: evaluations during training to compare");
        auto& trainer = o->training.trainer;
        if (trainer.resume && o->output_dir.empty() && trainer.checkpoint_path.empty())
            detail::fail(
                "--resume needs the run to continue: --output-dir of its run folder (or "
                "--checkpoint)");

        finetune_job job;
        job.arch = o->model.config(o->weights);
        job.pretrained = o->weights;
        auto d = std::make_shared<data::dataset>(o->data.read_dataset());
        std::vector<data::sample> train;
        if (!o->train_list.empty()) {
            train = data::read_subset_list(*d, o->train_list);
        } else {
            data::sampling_options sampling;
            sampling.protocol = data::parse_protocol(o->protocol);
            train = data::sample_subset(d->train, d->num_classes(), o->rate / 100.0,
                                        o->training.seed, sampling);
        }
        std::tie(job.train, job.validation) =
            hold_out(*d, std::move(train), o->val_split, o->val_list, o->training.seed);
        // Epochs of whole batches (the image loader drops the remainder).
        o->training.resolve_epochs(std::int64_t(job.train.size()) / o->training.batch_size);
        job.method = o->methods.finish(o->method, o->training);
        job.data = d;
        job.run_info = {{"method", o->method}, {"root", d->root.string()}, {"protocol", o->protocol}};
        if (o->train_list.empty()) {
            job.run_info["rate"] = o->rate;
        } else {
            job.run_info["subset_list"] = o->train_list;
        }
        if (o->val_split > 0) job.run_info["val_split"] = o->val_split;
        if (!o->val_list.empty()) job.run_info["val_list"] = o->val_list;
        job.run_info["early_stop"] = o->patience;

        // The run folder; explicit --checkpoint, --log and --save-weights go where they say.
        std::ostringstream rate_text;
        rate_text << o->rate;
        // Under mpirun every rank uses rank 0's folder (a fresh one is named after the time).
        const bool root = world().is_root();
        const run_folder folder{
            agree((o->output_dir.empty() && root
                       ? run_folder::fresh(o->method, d->format,
                                           o->train_list.empty() ? rate_text.str() : "list",
                                           o->training.seed)
                       : run_folder{o->output_dir})
                      .dir.string())};
        folder.route(trainer, o->dry_run);
        world().barrier();  // every rank has checked the folder before rank 0 writes into it
        trainer.best_checkpoint_path = validating ? folder.best_checkpoint().string() : "";
        trainer.patience = o->patience;
        trainer.progress = o->progress == "bar"     ? progress_style::bar
                           : o->progress == "lines" ? progress_style::lines
                                                    : progress_style::automatic;
        job.save_weights = o->save_weights.empty() ? folder.last_weights()
                                                   : std::filesystem::path(o->save_weights);
        job.save_best_weights = validating ? folder.best_weights() : std::filesystem::path{};
        job.training = o->training;
        job.run_info["output_dir"] = folder.dir.string();
        job.dry_run = o->dry_run;
        job.sync_bn = o->sync_bn;
        job.bucket_bytes = o->bucket_bytes();
        const nlohmann::json given = given_options(*o->sub);
        if (!o->dry_run) io::check_writable(folder.config(), "--output-dir");
        // The configuration is on disk (or printed, for --dry-run) before the first step.
        job.on_resolved = [&](const nlohmann::json& resolved) {
            const auto record = config_record("finetune", given, resolved);
            if (!root) return;
            if (o->dry_run)
                std::printf("%s\n", record.dump(2).c_str());
            else
                run_folder::write_json(folder.config(), record);
        };
        const finetune_outcome r = run_finetune(job);
        if (o->dry_run || !root) return;
        const nlohmann::json summary =
            finetune_summary(o->method, d->format, o->training.iterations, r, r.test_last,
                             r.test_best, validating, trainer.resume, folder);
        run_folder::write_json(folder.summary(), summary);
        draw_curves(trainer.log_path, folder);
        print_finetune_outcome(o->method, o->training.iterations, r, r.test_last, r.test_best,
                               validating, folder);
    };
}

}  // namespace smile::cli
