#pragma once
// One fine-tuning run: the method from a pretrained network, an endless augmenting loader over
// the training subset, evaluation on the test split, the shared training loop.

#include <smile/data/preflight.hpp>
#include <smile/data/sampling.hpp>
#include <smile/factory_instances.hpp>
#include <smile/io/output_paths.hpp>
#include <smile/io/weights.hpp>
#include <smile/smile.hpp>

#include "smile/training_options.hpp"

namespace smile::cli {

struct finetune_job {
    std::shared_ptr<const data::dataset> data;
    std::vector<data::sample> train;  ///< the sampled training subset
    architecture arch = resnet50();
    std::filesystem::path pretrained;
    method_config method;
    training_options training;
    std::filesystem::path save_weights;  ///< where to write the fine-tuned network (empty: nowhere)
    nlohmann::json run_info = nlohmann::json::object();  ///< dataset, rate, weights, ... for the log
};

inline run_result run_finetune(const finetune_job& job, bool print_config = true) {
    using B = default_backend;
    // Everything that could fail late is checked first: the output paths, then every image of
    // the training subset and of the test split (opened and header-decoded).
    io::check_writable(job.save_weights, "--save-weights");
    io::check_writable(job.training.trainer.checkpoint_path, "--checkpoint");
    io::check_writable(job.training.trainer.log_path, "--log");
    const bool skip = job.training.skip_unreadable;
    const std::vector<data::sample> train_subset = data::require_readable(*job.data, job.train, "training subset", skip);
    const std::vector<data::sample> test_split = data::require_readable(*job.data, job.data->test, "test split", skip);
    session<B> s;
    rng gen(job.training.seed);
    auto m = make_method<B>(s, gen, job.arch, job.data->num_classes(), job.pretrained, job.method);
    const auto [train_pipe, test_pipe] = job.training.pipelines(job.data->format);
    if (print_config) {
        std::fprintf(stderr, "%s%s on %s: %zu training images in %lld classes, %zu test images\n", job.training.trainer.label.c_str(),
                     m->name().c_str(), job.data->format.c_str(), job.train.size(), static_cast<long long>(job.data->num_classes()),
                     job.data->test.size());
        std::string config;
        for (const auto& [k, v] : m->describe()) config += " " + k + "=" + v;
        std::fprintf(stderr, "%sconfig:%s lr=%g schedule=%s iters=%lld batch=%lld seed=%llu\n%strain transform: %s\n",
                     job.training.trainer.label.c_str(), config.c_str(), double(job.training.lr), job.training.schedule.c_str(),
                     static_cast<long long>(job.training.iterations), static_cast<long long>(job.training.batch_size),
                     static_cast<unsigned long long>(job.training.seed), job.training.trainer.label.c_str(),
                     train_pipe.describe().c_str());
    }
    const auto& t = job.training;
    m->prepare(job.data, train_subset, {train_pipe, test_pipe, t.workers});
    auto make_loader = [&](std::int64_t start) {
        return std::make_unique<data::loader>(job.data, train_subset, train_pipe,
                                              data::loader_options{t.batch_size, true, true, true, t.workers, 4, t.seed, skip, start});
    };
    auto evaluate_now = [&] { return evaluate(s, m->model(), job.data, test_split, test_pipe, 256, t.workers).top1; };
    trainer_options o = t.trainer;
    o.iterations = t.iterations;
    o.config = t.describe();
    for (const auto& [k, v] : job.run_info.items()) o.config[k] = v;
    o.config["arch"] = job.arch.name();
    o.config["weights"] = job.pretrained.string();
    o.config["dataset"] = job.data->format;
    o.config["training_images"] = train_subset.size();
    o.config["test_images"] = test_split.size();
    if (!job.save_weights.empty())
        o.save_outputs = [&] {
            // torchvision names, the target head under the family's name (fc, classifier.1), SMILE's or
            // Co-Tuning's source head as source_fc.
            io::save_weights<B>(m->model(), job.save_weights,
                                {{"arch", job.arch.name()}, {"method", m->name()}, {"dataset", job.data->format},
                                 {"iterations", std::to_string(t.iterations)}});
        };
    return train<B>(*m, make_loader, evaluate_now, o, gen);
}

}  // namespace smile::cli
