// smile pretrain: trains a ResNet from scratch on a source dataset (default MNIST with the
// small-image CIFAR ResNet-20) and saves it as safetensors with torchvision names; its fc is
// the source classifier that SMILE and Co-Tuning take as source head.
#include <cstdio>
#include <smile/default_backend.hpp>
#include <smile/factory_instances.hpp>
#include <smile/io/output_paths.hpp>
#include <smile/methods/finetune.hpp>

#include "smile/commands.hpp"
#include "smile/dataset_options.hpp"
#include "smile/model_options.hpp"
#include "smile/training_options.hpp"

namespace smile::cli {

/// Pretrains and saves; returns the test top-1.
inline double pretrain(const architecture& arch, const std::shared_ptr<const data::dataset>& d, training_options t,
                       const std::string& out) {
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
    auto evaluate_now = [&] { return evaluate(s, m.model(), d, d->test, test_pipe, 256, t.workers).top1; };
    trainer_options o = t.trainer;
    o.iterations = t.iterations;
    o.config = t.describe();
    o.config["method"] = "pretrain";
    o.config["arch"] = arch.name();
    o.config["dataset"] = d->format;
    o.config["out"] = out;
    o.save_outputs = [&] {
        io::save_weights<B>(m.model(), out, {{"arch", arch.name()}, {"source", d->format}, {"iterations", std::to_string(t.iterations)}});
    };
    const run_result r = train<B>(m, make_loader, evaluate_now, o, gen);
    return r.final_top1;
}

command add_pretrain(CLI::App& app) {
    struct options {
        model_options model;
        dataset_options data;
        training_options training;
        std::string out;
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
    o->model.add_to(*sub);
    o->data.add_to(*sub, false);
    o->training.add_to(*sub);
    sub->add_option("--out", o->out, "where to save the network (.safetensors)")->required();
    return [o] {
        const auto d = std::make_shared<data::dataset>(o->data.read_dataset());
        o->model.num_classes = d->num_classes();
        const double top1 = pretrain(o->model.config(), d, o->training, o->out);
        std::printf("pretrained %s on %s: test top-1 %.2f%%, saved to %s\n", o->model.arch.c_str(), d->format.c_str(),
                    100 * top1, o->out.c_str());
    };
}

}  // namespace smile::cli
