// smile pretrain: trains a ResNet from scratch on a source dataset (default MNIST with the
// small-image CIFAR ResNet-20) in a run folder, and saves it as safetensors with torchvision
// names and the metadata that lets it load without architecture flags; its fc is the source
// classifier that SMILE and Co-Tuning take as source head.
#include "smile/pretrain.hpp"

#include <cstdio>
#include <smile/default_backend.hpp>
#include <smile/factory_instances.hpp>
#include <smile/io/output_paths.hpp>
#include <smile/methods/finetune.hpp>

#include "smile/commands.hpp"
#include "smile/config_file.hpp"
#include "smile/dataset_options.hpp"
#include "smile/model_options.hpp"
#include "smile/plots.hpp"
#include "smile/run_folder.hpp"
#include "smile/training_options.hpp"

namespace smile::cli {

evaluation pretrain(const architecture& arch, const std::shared_ptr<const data::dataset>& d,
                    training_options t, const std::string& out,
                    const std::function<void(const nlohmann::json&)>& on_resolved) {
    using B = default_backend;
    io::check_writable(out, "--out");
    session<B> s;
    rng gen(t.seed);
    finetune_method<B> m(s, gen, make_classifier<B>(s, gen, arch, {d->num_classes(), 0}), t.make_optimizer(), t.make_schedule());
    m.optimizer().attach(m.model());
    const auto [train_pipe, test_pipe] = t.pipelines(d->format);
    auto make_loader = [&](std::int64_t start) {
        return std::make_unique<data::loader>(d, d->train, train_pipe,
                                              data::loader_options{t.batch_size, true, true, true, t.workers, 4, t.seed, false, start});
    };
    auto evaluate_now = [&] {
        return evaluate(s, m.model(), d, d->test, test_pipe, 256, t.workers);
    };
    trainer_options o = t.trainer;
    o.iterations = t.iterations;
    o.config = t.describe();
    o.config["method"] = "pretrain";
    o.config["arch"] = arch.name();
    o.checkpoint_info = architecture_metadata(arch);  // evaluate --checkpoint needs no flags
    o.config["dataset"] = d->format;
    o.config["out"] = out;
    o.save_outputs = [&] {
        auto metadata =
            architecture_metadata(arch);  // loads later without --arch, --in-channels, --small-stem
        metadata["source"] = d->format;
        metadata["iterations"] = std::to_string(t.iterations);
        io::save_weights<B>(m.model(), out, metadata);
    };
    if (on_resolved) on_resolved(run_settings(m, o));
    const run_result r = train<B>(m, make_loader, evaluate_now, o, gen);
    return r.final_evaluation;
}

command add_pretrain(CLI::App& app) {
    struct options {
        model_options model;
        dataset_options data;
        training_options training;
        std::string out;
        std::string output_dir;
        CLI::App* sub = nullptr;
    };
    auto o = std::make_shared<options>();
    o->model.arch = "resnet20";
    o->model.in_channels = 1;
    o->data.format = "mnist";
    o->training.iterations = 500;
    o->training.batch_size = 128;
    o->training.lr = 0.1f;
    o->training.schedule = "cosine";
    o->training.weight_decay = 5e-4f;
    auto* sub = app.add_subcommand("pretrain", "train a source network from scratch (default: ResNet-20 on MNIST)");
    o->model.add_to(*sub, false);
    o->data.add_to(*sub, false);
    o->training.add_to(*sub);
    sub->add_option(
        "--out", o->out,
        "where to save the network (.safetensors; default: <output-dir>/weights-last.safetensors)");
    sub->add_option(
        "--output-dir", o->output_dir,
        "run folder: config.json, log.jsonl, checkpoint-last, weights-last, summary.json "
        "(default: a new folder runs/pretrain-<dataset>-s<seed>-<date>-<time>)");
    o->sub = sub;
    return [o] {
        const auto d = std::make_shared<data::dataset>(o->data.read_dataset());
        o->training.resolve_epochs(std::int64_t(d->train.size()) / o->training.batch_size);
        const run_folder folder =
            o->output_dir.empty() ? run_folder::fresh("pretrain", d->format, "", o->training.seed)
                                  : run_folder{o->output_dir};
        auto& trainer = o->training.trainer;
        folder.route(trainer);
        const std::string out = o->out.empty() ? folder.last_weights().string() : o->out;
        io::check_writable(folder.config(), "--output-dir");
        const nlohmann::json given = given_options(*o->sub);
        const evaluation e =
            pretrain(o->model.config(), d, o->training, out, [&](const nlohmann::json& resolved) {
                run_folder::write_json(folder.config(), config_record("pretrain", given, resolved));
            });
        run_folder::write_json(
            folder.summary(),
            {{"dataset", d->format},
             {"arch", o->model.arch},
             {"iterations", o->training.iterations},
             {"weights", out},
             {"test", {{"top1", e.top1}, {"top5", e.top5}, {"images", e.images}}}});
        draw_curves(trainer.log_path, folder);
        std::printf("pretrained %s on %s: test top-1 %.2f%%, saved to %s\nrun folder: %s\n",
                    o->model.arch.c_str(), d->format.c_str(), 100 * e.top1, out.c_str(),
                    folder.dir.c_str());
    };
}

}  // namespace smile::cli
