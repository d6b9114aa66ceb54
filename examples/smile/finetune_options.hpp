#pragma once
// The options of `smile finetune`, shared by the image path (finetune.cpp) and the BERT path
// (finetune_bert.cpp).

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstddef>
#include <memory>
#include <smile/core/session.hpp>
#include <string>

#include "smile/dataset_options.hpp"
#include "smile/model_options.hpp"
#include "smile/training_options.hpp"

namespace smile::cli {

/// What only --arch bert reads: the model's configuration and vocabulary, the tokenizer's
/// settings, the text files' columns, the mixing point.
struct text_options {
    std::string config, vocab, mix_at = "embeddings", text_column, label_column = "label";
    std::int64_t max_length = 128;
    std::int64_t num_classes = 0;
    double max_grad_norm = 1.0;
    bool cased = false;
    std::vector<CLI::Option*> given;  // refused without --arch bert

    void add_to(CLI::App& app) {
        given = {
            // Not --config: that reruns a run folder's config.json (config_file.hpp).
            app.add_option("--model-config", config,
                           "--arch bert: the model's config.json (Hugging Face's keys)"),
            app.add_option("--vocab", vocab, "--arch bert: vocab.txt or tokenizer.json"),
            app.add_flag("--cased", cased,
                         "--arch bert: a cased model (no lower-casing or accent stripping)"),
            app.add_option("--max-length", max_length,
                           "--arch bert: tokens per sentence, [CLS] and [SEP] included (128)")
                ->check(integer_in(2, 1 << 20)),
            app.add_option(
                   "--mix-at", mix_at,
                   "--arch bert, mixup and SMILE: mix the token embeddings (default) or the "
                   "pooled output")
                ->check(CLI::IsMember({"embeddings", "pooled"})),
            app.add_option("--max-grad-norm", max_grad_norm,
                           "--arch bert: clip gradients to this global norm (0: no clipping)")
                ->check(number_in(0, 1e9)),
            app.add_option("--text-column", text_column,
                           "--arch bert, jsonl/tsv/csv: the text's key or column (text, or GLUE's "
                           "sentence)"),
            app.add_option("--label-column", label_column,
                           "--arch bert, jsonl/tsv/csv: the label's key or column"),
            app.add_option("--num-classes", num_classes,
                           "--arch bert: classes (default: 5 for sst5, else from the labels)")
                ->check(integer_in(2, 1e6)),
        };
    }

    void refuse_for_images() const {
        for (const CLI::Option* o : given)
            if (o->count() > 0)
                detail::fail(o->get_name(), " is an option of --arch bert (text), not of images");
    }
};

struct finetune_options {
    std::string method = "smile";
    std::string weights;
    model_options model;
    dataset_options data;
    double rate = 100;
    std::string protocol = "per-class";
    std::string train_list;
    std::string save_weights;
    std::string output_dir;
    double val_split = 0;
    std::string val_list;
    std::int64_t patience = 0;
    std::string progress = "auto";
    bool dry_run = false;
    bool sync_bn = false;  ///< data-parallel runs: batch norm over the global batch
    double bucket_mb = -1.0;  ///< data-parallel runs: the gradient buckets' size cap, MiB (< 0: automatic)
    /// --bucket-mb in bytes (0: no buckets, else at least one float); not given: the session's
    /// automatic choice (automatic_gradient_buckets).
    [[nodiscard]] std::size_t bucket_bytes() const {
        if (bucket_mb < 0.0) return automatic_gradient_buckets;
        if (bucket_mb == 0.0) return 0;
        return std::max<std::size_t>(sizeof(float), std::size_t(bucket_mb * double(1 << 20)));
    }
    training_options training;
    method_options methods;
    text_options text;
    CLI::App* sub = nullptr;
};

/// `smile finetune --arch bert` (finetune_bert.cpp).
void finetune_bert(finetune_options& o);

}  // namespace smile::cli
