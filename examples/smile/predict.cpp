// smile predict: logits (and optionally pooled features) of a float32 NCHW batch, in
// evaluation mode, with weights loaded strictly by name; with --arch bert, of one sentence per
// line of a text file (predict_bert.cpp).
#include <cstdio>
#include <smile/factory_instances.hpp>
#include <smile/io/npy.hpp>
#include <smile/io/output_paths.hpp>
#include <smile/io/weights.hpp>
#include <smile/models/architecture.hpp>
#include <smile/smile.hpp>

#include "smile/commands.hpp"
#include "smile/model_options.hpp"
#include "smile/predict_bert.hpp"

namespace smile::cli {

command add_predict(CLI::App& app) {
    struct options {
        model_options model;
        std::string weights, input, output, features;
        std::int64_t batch_size = 64;
        bool allow_nonfinite = false;
        bert_predict_options bert;
    };
    auto o = std::make_shared<options>();
    auto* sub = app.add_subcommand(
        "predict",
        "logits of a batch of images (float32 NCHW .npy, already normalised), or with "
        "--arch bert of sentences (one per line)");
    o->model.add_to(*sub);
    sub->add_option("--weights", o->weights, "model weights (.safetensors, or a directory of .npy)")->required();
    sub->add_option("--input", o->input, "input batch, float32 [N, C, H, W] .npy (images)");
    sub->add_option("--config,--model-config", o->bert.config,
                    "--arch bert: the model's config.json (Hugging Face's keys; --model-config "
                    "as in smile finetune)");
    sub->add_option("--vocab", o->bert.vocab, "--arch bert: vocab.txt or tokenizer.json");
    sub->add_option("--text", o->bert.text, "--arch bert: sentences, one per line (UTF-8)");
    sub->add_option("--max-length", o->bert.max_length,
                    "--arch bert: tokens per sentence, [CLS] and [SEP] included")
        ->capture_default_str()
        ->check(integer_in(2, 1 << 20));
    sub->add_flag("--cased", o->bert.cased,
                  "--arch bert: a cased model (no lower-casing or accent stripping)");
    sub->add_option("--output", o->output, "where to write the logits [N, classes] (.npy)")->required();
    sub->add_option("--features", o->features, "where to write the pooled features [N, D] (.npy)");
    sub->add_flag("--allow-nonfinite", o->allow_nonfinite, "accept NaN/Inf values in the weights and the input");
    sub->add_option("--batch-size", o->batch_size, "images per forward pass")->capture_default_str()->check(integer_in(1, 65536));
    return [o] {
        using B = default_backend;
        if (o->model.arch_given() && o->model.arch == "bert") {
            auto b = o->bert;
            b.weights = o->weights;
            b.output = o->output;
            b.features = o->features;
            b.batch_size = o->batch_size;
            b.allow_nonfinite = o->allow_nonfinite;
            b.num_classes = o->model.num_classes_given() ? o->model.num_classes : 0;
            if (!o->input.empty()) detail::fail("--input is for images; --arch bert reads --text");
            predict_bert(b);
            return;
        }
        if (o->input.empty()) detail::fail("--input is required (a float32 [N, C, H, W] .npy)");
        const architecture arch = o->model.config(o->weights);
        io::check_writable(o->output, "--output");
        io::check_writable(o->features, "--features");
        const io::host_array input = io::read_npy(o->input);
        if (!o->allow_nonfinite)
            if (const std::string bad = io::first_nonfinite(input.values); !bad.empty())
                detail::fail("--input ", o->input, ": ", bad, " (--allow-nonfinite accepts it)");
        if (input.shape.size() != 4)
            detail::fail("--input ", o->input, ": expected a 4-D [N, C, H, W] array, got ", shape_string(input.shape));
        const shape4 all{input.shape[0], input.shape[1], input.shape[2], input.shape[3]};
        check_valid_shape("--input " + o->input, all);
        session<B> s;
        rng gen(0);
        const std::int64_t classes = o->model.classes_for(o->weights, arch);
        auto model = make_classifier<B>(s, gen, arch, {classes, 0});
        io::load_weights<B>(model, o->weights, {true, std::nullopt, "", o->allow_nonfinite});
        std::vector<float> logits, features;
        const std::size_t per_image = all.row_size();
        for (std::int64_t begin = 0; begin < all.n; begin += o->batch_size) {
            const std::int64_t n = std::min(o->batch_size, all.n - begin);
            const auto first = input.values.begin() + static_cast<std::ptrdiff_t>(std::size_t(begin) * per_image);
            auto x = tensor<B>::from_host(s, {n, all.c, all.h, all.w},
                                          std::span<const float>(&*first, std::size_t(n) * per_image));
            model.forward(s, x, mode::eval);
            const auto l = model.logits().to_host();
            logits.insert(logits.end(), l.begin(), l.end());
            if (!o->features.empty()) {
                const auto f = model.pooled().to_host();
                features.insert(features.end(), f.begin(), f.end());
            }
        }
        io::write_npy(o->output, {all.n, classes}, logits);
        if (!o->features.empty()) io::write_npy(o->features, {all.n, model.feature_dim()}, features);
        std::printf("wrote logits of %lld images to %s\n", static_cast<long long>(all.n), o->output.c_str());
    };
}

}  // namespace smile::cli
