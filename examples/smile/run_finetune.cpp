// One fine-tuning run (run_finetune.hpp).

#include "smile/run_finetune.hpp"

#include <smile/data/preflight.hpp>
#include <smile/factory_instances.hpp>
#include <smile/io/output_paths.hpp>
#include <smile/io/weights.hpp>

#include "smile/rank_zero_state.hpp"

namespace smile::cli {

finetune_outcome run_finetune(const finetune_job& job, bool print_config) {
    using B = default_backend;
    const bool validating = !job.validation.empty();
    // Everything that could fail late is checked first: the output paths, then every image of
    // the training subset, the validation split and the test split (opened and header-decoded).
    // (A dry run writes nothing, not even the probe files, and makes no folder.)
    if (!job.dry_run) {
        io::check_writable(job.save_weights, "--save-weights");
        io::check_writable(job.save_best_weights, "best weights");
        io::check_writable(job.training.trainer.checkpoint_path, "--checkpoint");
        io::check_writable(job.training.trainer.best_checkpoint_path, "best checkpoint");
        io::check_writable(job.training.trainer.log_path, "--log");
    }
    const bool skip = job.training.skip_unreadable;
    const std::vector<data::sample> train_subset = data::require_readable(*job.data, job.train, "training subset", skip);
    const std::vector<data::sample> validation =
        validating ? data::require_readable(*job.data, job.validation, "validation split", skip)
                   : std::vector<data::sample>{};
    const std::vector<data::sample> test_split = data::require_readable(*job.data, job.data->test, "test split", skip);
    session<B> s;
    // Data-parallel (under mpirun): every rank trains on its equal slice of each global batch of
    // --batch-size; rank 0 writes and prints (docs/distributed.md).
    communicator& ranks = world();
    s.set_communicator(ranks);
    s.set_sync_batch_norm(job.sync_bn);
    s.set_gradient_bucket_bytes(job.bucket_bytes);
    const auto& t = job.training;
    SMILE_CHECK(t.batch_size % ranks.size() == 0, "--batch-size ", t.batch_size,
                " does not split evenly over ", ranks.size(), " ranks: give a multiple of ",
                ranks.size(), " (the batch size is the global batch)");
    const std::int64_t rank_batch = t.batch_size / ranks.size();
    rng gen(job.training.seed);
    auto m = make_method<B>(s, gen, job.arch, job.data->num_classes(), job.pretrained, job.method);
    if (ranks.distributed() && !m->data_parallel_ready())
        detail::fail("--method ", m->name(), ": data-parallel training (", ranks.size(),
                     " ranks) does not support it yet, because its step uses batch statistics that "
                     "are not yet "
                     "reduced over the ranks; run it as one process (docs/distributed.md lists the "
                     "methods)");
    start_from_rank_zero(s, *m);  // every rank trains rank 0's network
    const auto [train_pipe, test_pipe] = job.training.pipelines(job.data->format);
    trainer_options o = t.trainer;
    o.iterations = t.iterations;
    o.config = t.describe();
    for (const auto& [k, v] : job.run_info.items()) o.config[k] = v;
    o.config["arch"] = job.arch.name();
    o.checkpoint_info = architecture_metadata(job.arch);  // evaluate --checkpoint needs no flags
    o.config["weights"] = job.pretrained.string();
    o.config["dataset"] = job.data->format;
    o.config["training_images"] = train_subset.size();
    o.config["validation_images"] = validation.size();
    o.config["test_images"] = test_split.size();
    if (ranks.distributed()) {  // absent from one-process runs, whose settings stay as they were
        o.config["ranks"] = ranks.size();
        o.config["sync_bn"] = job.sync_bn;
        o.config["bucket_mb"] = double(s.gradient_bucket_bytes()) / double(1 << 20);
    }
    finetune_outcome outcome;
    outcome.resolved = run_settings(*m, o);
    if (print_config && ranks.is_root()) {
        std::fprintf(stderr,
                     "%s%s on %s: %zu training images in %lld classes, %zu validation images, %zu "
                     "test images\n",
                     t.trainer.label.c_str(), m->name().c_str(), job.data->format.c_str(),
                     train_subset.size(), static_cast<long long>(job.data->num_classes()),
                     validation.size(), test_split.size());
        std::string config;
        for (const auto& [k, v] : m->describe()) config += " " + k + "=" + v;
        std::fprintf(stderr,
                     "%sconfig:%s lr=%g schedule=%s iters=%lld batch=%lld seed=%llu\n%strain "
                     "transform: %s\n",
                     t.trainer.label.c_str(), config.c_str(), double(t.lr), t.schedule.c_str(),
                     static_cast<long long>(t.iterations), static_cast<long long>(t.batch_size),
                     static_cast<unsigned long long>(t.seed), t.trainer.label.c_str(),
                     train_pipe.describe().c_str());
        if (ranks.distributed())
            std::fprintf(stderr,
                         "%sdata-parallel: %s, %lld images per rank of each global batch of %lld, "
                         "batch norm %s, %s\n",
                         t.trainer.label.c_str(), ranks.describe().c_str(),
                         static_cast<long long>(rank_batch), static_cast<long long>(t.batch_size),
                         job.sync_bn ? "synchronised (--sync-bn)" : "per rank",
                         gradient_seam_text(s.gradient_bucket_bytes()).c_str());
    }
    if (job.on_resolved) job.on_resolved(outcome.resolved);
    if (job.dry_run) return outcome;
    m->prepare(job.data, train_subset, {train_pipe, test_pipe, t.workers});
    auto make_loader = [&](std::int64_t start) {
        return std::make_unique<data::loader>(
            job.data, train_subset, train_pipe,
            data::loader_options{t.batch_size, true, true, true, t.workers, 4, t.seed, skip, start,
                                 rank_batch * ranks.rank(), ranks.distributed() ? rank_batch : 0});
    };
    // Model selection looks at the validation split only; the test split is measured once, at
    // the end, on the final network and on the selected one.
    auto evaluate_on = [&](const std::vector<data::sample>& split, bool confusion = false) {
        return evaluate(s, m->model(), job.data, split, test_pipe, 256, t.workers, confusion);
    };
    auto evaluate_now = [&] { return evaluate_on(validating ? validation : test_split); };
    o.eval_split = validating ? "validation" : "test";
    if (!validating) o.best_checkpoint_path.clear();  // selecting by the test split would leak it
    auto save = [&](const std::filesystem::path& where) {
        // torchvision names, the target head under the family's name (fc, classifier.1), SMILE's or
        // Co-Tuning's source head as source_fc.
        auto metadata = architecture_metadata(job.arch);  // loads later without architecture flags
        metadata["method"] = m->name();
        metadata["dataset"] = job.data->format;
        metadata["iterations"] = std::to_string(t.iterations);
        io::save_weights<B>(m->model(), where, metadata);
    };
    if (!job.save_weights.empty() && ranks.is_root())
        o.save_outputs = [&] { save(job.save_weights); };
    if (validating && !job.save_best_weights.empty() && ranks.is_root())
        o.save_best_outputs = [&] { save(job.save_best_weights); };
    static_cast<run_result&>(outcome) = train<B>(*m, make_loader, evaluate_now, o, gen);
    outcome.trained = true;
    if (!validating) {
        outcome.test_last = outcome.final_evaluation;
        return outcome;
    }
    outcome.test_last = evaluate_on(test_split);
    ranks.barrier();  // rank 0 has written the best checkpoint before any rank reads it
    if (!o.best_checkpoint_path.empty() && std::filesystem::exists(o.best_checkpoint_path)) {
        // The selected network: the best checkpoint's state, loaded into the same method.
        io::checkpoint_content<B> c;
        m->add_state(c);
        rng scratch(0);
        c.load(s, o.best_checkpoint_path, scratch);
        outcome.test_best = evaluate_on(test_split);
    }
    return outcome;
}

}  // namespace smile::cli
