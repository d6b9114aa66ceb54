// smile finetune: fine-tunes a pretrained network on a target dataset (optionally a sampled
// subset) with one of the methods, and reports the top-1 accuracy on the test split.
#include <cstdio>

#include "smile/commands.hpp"
#include "smile/dataset_options.hpp"
#include "smile/model_options.hpp"
#include "smile/run_finetune.hpp"

namespace smile::cli {

command add_finetune(CLI::App& app) {
    struct options {
        std::string method = "smile";
        std::string weights;
        model_options model;
        dataset_options data;
        double rate = 100;
        std::string protocol = "per-class";
        std::string train_list;
        std::string save_weights;
        training_options training;
        method_options methods;
    };
    auto o = std::make_shared<options>();
    auto* sub = app.add_subcommand("finetune", "fine-tune a pretrained network with SMILE or a baseline");
    std::string names;
    for (const auto& n : method_names()) names += (names.empty() ? "" : ", ") + n;
    sub->add_option("--method", o->method, "one of: " + names)->capture_default_str();
    sub->add_option("--weights", o->weights, "pretrained network (.safetensors with torchvision names; fc = source head)")->required();
    o->model.add_to(*sub);
    o->data.add_to(*sub);
    sub->add_option("--rate", o->rate, "percent of the training set to sample")->capture_default_str()->check(number_in(0, 100, ends::open_low));
    sub->add_option("--protocol", o->protocol, "sampling: per-class or global")->check(CLI::IsMember({"per-class", "global"}))
        ->capture_default_str();
    sub->add_option("--save-weights", o->save_weights, "write the fine-tuned network here (.safetensors, torchvision names)");
    sub->add_option("--subset-list", o->train_list, "train on the images of this list file (from smile split) instead of --rate");
    o->training.add_to(*sub);
    o->methods.add_to(*sub);
    return [o] {
        if (!o->methods.preset.empty()) {
            const dataset_preset preset = preset_for(o->methods.preset);
            o->training.apply_preset(preset);
            o->model.fallback_arch(preset.arch);
        }
        finetune_job job;
        job.arch = o->model.config(o->weights);
        job.pretrained = o->weights;
        job.method = o->methods.finish(o->method, o->training);
        job.training = o->training;
        job.save_weights = o->save_weights;
        auto d = std::make_shared<data::dataset>(o->data.read_dataset());
        if (!o->train_list.empty()) {
            job.train = data::read_subset_list(*d, o->train_list);
        } else {
            data::sampling_options sampling;
            sampling.protocol = data::parse_protocol(o->protocol);
            job.train = data::sample_subset(d->train, d->num_classes(), o->rate / 100.0, o->training.seed, sampling);
        }
        job.data = d;
        job.run_info = {{"method", o->method}, {"root", d->root.string()}, {"protocol", o->protocol}};
        if (o->train_list.empty()) {
            job.run_info["rate"] = o->rate;
        } else {
            job.run_info["subset_list"] = o->train_list;
        }
        const run_result r = run_finetune(job);
        std::printf("%s: top-1 %.2f%% (best %.2f%%) after %lld iterations, %.3f s/step\n", o->method.c_str(), 100 * r.final_top1,
                    100 * r.best_top1, static_cast<long long>(o->training.iterations), r.seconds_per_step);
    };
}

}  // namespace smile::cli
