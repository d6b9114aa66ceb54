#pragma once
// One fine-tuning run: the method from a pretrained network, an endless augmenting loader over
// the training subset, evaluation on the test split, the shared training loop.

#include <smile/smile.hpp>
#include <smile/data/sampling.hpp>
#include <smile/io/weights.hpp>

#include "smile/training_options.hpp"

namespace smile::cli {

struct finetune_job {
    std::shared_ptr<const data::dataset> data;
    std::vector<data::sample> train;  ///< the sampled training subset
    resnet_config arch;
    std::filesystem::path pretrained;
    method_config method;
    training_options training;
    std::filesystem::path save_weights;  ///< where to write the fine-tuned network (empty: nowhere)
};

inline run_result run_finetune(const finetune_job& job, bool print_config = true) {
    using B = default_backend;
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
    m->prepare(job.data, job.train, test_pipe, job.training.workers);
    const auto& t = job.training;
    auto make_loader = [&](std::int64_t start) {
        return std::make_unique<data::loader>(job.data, job.train, train_pipe,
                                              data::loader_options{t.batch_size, true, true, true, t.workers, 4, t.seed, false, start});
    };
    auto evaluate_now = [&] { return evaluate(s, m->model(), job.data, job.data->test, test_pipe, 256, t.workers).top1; };
    trainer_options o = t.trainer;
    o.iterations = t.iterations;
    const run_result r = train<B>(*m, make_loader, evaluate_now, o, gen);
    if (!job.save_weights.empty()) {
        // torchvision names with the target head as fc (and SMILE's or Co-Tuning's source head as source_fc).
        const auto where = std::filesystem::absolute(job.save_weights);
        std::filesystem::create_directories(where.parent_path());
        io::save_weights<B>(m->model(), where,
                            {{"arch", job.arch.arch}, {"method", m->name()}, {"dataset", job.data->format},
                             {"iterations", std::to_string(t.iterations)}, {"test_top1", std::to_string(r.final_top1)}});
    }
    return r;
}

}  // namespace smile::cli
