// smile finetune --arch bert: fine-tunes a Hugging Face BERT checkpoint (config.json +
// model.safetensors, its vocab.txt or tokenizer.json) on sentence classification with one of
// the text methods (methods/text/text_registry.hpp), in a run folder like the image runs:
// config.json, log.jsonl, checkpoints (resumable), weights, summary.json, curves.
//
// The data is a text dataset (text/text_dataset.hpp: sst5 trees, jsonl, tsv, csv). Model
// selection uses the dev split when the dataset has one (or --val-split of the training
// subset); the test split is measured at the end, on the final network and on the selected one.
#include <cstdio>
#include <fstream>
#include <smile/default_backend.hpp>
#include <smile/io/output_paths.hpp>
#include <smile/io/weights.hpp>
#include <smile/methods/text/text_registry.hpp>
#include <smile/text/text_dataset.hpp>
#include <smile/text/text_loader.hpp>
#include <smile/train/trainer.hpp>
#include <sstream>

#include "smile/config_file.hpp"
#include "smile/finetune_options.hpp"
#include "smile/finetune_summary.hpp"
#include "smile/plots.hpp"
#include "smile/rank_zero_state.hpp"
#include "smile/run_folder.hpp"
#include "smile/world.hpp"

namespace smile::cli {

namespace {

/// Options of the image path that mean nothing for text: given with --arch bert, they are an
/// error rather than silently unused.
void refuse_image_options(const CLI::App& sub) {
    static const char* const image_only[] = {"--subset-list",
                                             "--val-list",
                                             "--train-transform",
                                             "--test-transform",
                                             "--image-size",
                                             "--resize",
                                             "--skip-unreadable",
                                             "--crop-to-box",
                                             "--crop-banner",
                                             "--train-list",
                                             "--test-list",
                                             "--classes-file",
                                             "--head-lr-mult",
                                             "--in-channels",
                                             "--small-stem",
                                             "--teacher-update",
                                             "--teacher-decay",
                                             "--teacher-period",
                                             "--teacher-head",
                                             "--fe-distance",
                                             "--fe-features",
                                             "--fc-loss",
                                             "--include-clean-ce",
                                             "--clean-tail",
                                             "--cutmix-beta",
                                             "--cutmix-prob",
                                             "--delta-alpha",
                                             "--delta-flavour",
                                             "--delta-beta",
                                             "--delta-attention",
                                             "--delta-head-iters",
                                             "--delta-batches",
                                             "--rifle-periods",
                                             "--cotuning-lambda",
                                             "--cotuning-relationship"};
    for (const char* name : image_only) {
        const CLI::Option* o = sub.get_option_no_throw(name);
        if (o != nullptr && o->count() > 0)
            detail::fail(name, " is an option of image fine-tuning, not of --arch bert");
    }
}

text::wordpiece_tokenizer load_tokenizer(const text_options& x) {
    text::wordpiece_options w;
    w.lower_case = !x.cased;
    const std::filesystem::path vocab(x.vocab);
    return vocab.extension() == ".json" ? text::wordpiece_tokenizer::from_tokenizer_json(vocab, w)
                                        : text::wordpiece_tokenizer::from_vocab_file(vocab, w);
}

/// config.json for the fine-tuned network: the pretrained one with this run's class count, so
/// that `smile predict --arch bert --config` reads the saved weights as they are.
void write_model_config(const std::filesystem::path& pretrained_config,
                        const std::filesystem::path& out, std::int64_t classes,
                        const std::vector<std::string>& names) {
    std::ifstream in(pretrained_config);
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        detail::fail("--model-config ", pretrained_config.string(), ": not a JSON object");
    j["num_labels"] = classes;
    nlohmann::json id2label = nlohmann::json::object(), label2id = nlohmann::json::object();
    for (std::size_t c = 0; c < names.size(); ++c) {
        id2label[std::to_string(c)] = names[c];
        label2id[names[c]] = c;
    }
    j["id2label"] = id2label;
    j["label2id"] = label2id;
    run_folder::write_json(out, j);
}

}  // namespace

void finetune_bert(finetune_options& o) {
    using B = default_backend;
    if constexpr (!(BackendSequence<B> && BackendActivations<B>)) {
        detail::fail("--arch bert needs a backend with the sequence operations, which ", B::name,
                     " lacks");
    } else {
        auto& t = o.training;
        const auto& x = o.text;
        refuse_image_options(*o.sub);
        for (const auto& [value, option] :
             {std::pair{&x.config, "--model-config"}, {&x.vocab, "--vocab"}})
            if (value->empty()) detail::fail("--arch bert needs ", option);
        if (!o.methods.preset.empty() && o.methods.preset != "sst5")
            detail::fail("--preset ", o.methods.preset,
                         " is an image dataset's recipe; the text recipe is --preset sst5");
        // The paper's BERT recipe for whatever the command line left unset (--preset sst5
        // names it; it is also the default of --arch bert, since image defaults such as SGD at
        // lr 0.01 would wreck a BERT).
        t.apply_text_recipe();
        if (o.patience > 0 && t.trainer.eval_every == 0)
            detail::fail("--early-stop needs --eval-every: evaluations during training to compare");
        auto& trainer = t.trainer;
        if (trainer.resume && o.output_dir.empty() && trainer.checkpoint_path.empty())
            detail::fail(
                "--resume needs the run to continue: --output-dir of its run folder (or "
                "--checkpoint)");

        // The data: the splits, the training subset at --rate, the validation split.
        text::text_dataset_options read;
        read.format = o.data.format;
        read.root = o.data.root;
        read.classes = std::int32_t(x.num_classes);
        read.text_column = x.text_column;
        read.label_column = x.label_column;
        const text::text_dataset d = text::read_text_dataset(read);
        const std::int64_t classes = d.num_classes();
        data::sampling_options sampling;
        sampling.protocol = data::parse_protocol(o.protocol);
        std::vector<text::text_example> training =
            data::sample_subset(d.train, classes, o.rate / 100.0, t.seed, sampling);
        std::vector<text::text_example> validation = d.validation;
        std::string validation_source = d.validation_file.string();
        if (o.val_split > 0) {
            std::tie(training, validation) =
                data::split_validation(training, classes, o.val_split, t.seed);
            validation_source = "--val-split " + std::to_string(o.val_split);
        }
        const bool validating = !validation.empty();
        if (o.patience > 0 && !validating)
            detail::fail(
                "--early-stop needs a validation split (a dev split in --root, or --val-split): "
                "stopping by the test split would select the network by its test accuracy");
        t.resolve_epochs(text_loader::batches_per_epoch(training.size(), t.batch_size));

        // The method's settings.
        text_method_config c;
        c.name = o.method;
        c.training.optimizer = t.make_optimizer();
        c.training.schedule = t.make_schedule();
        c.training.max_grad_norm = x.max_grad_norm;
        c.mixup.mix = o.methods.config.mixup;
        c.mixup.mix.fold = !o.methods.no_fold;
        c.mixup.point = parse_text_mix_point(x.mix_at);
        c.l2sp = o.methods.config.l2sp;
        c.bss = o.methods.config.bss;
        c.smile.gamma_fe = o.methods.config.smile.gamma_fe;
        c.smile.gamma_fc = o.methods.config.smile.gamma_fc;
        c.strict = !o.methods.non_strict;
        c.allow_nonfinite = o.methods.config.weights.allow_nonfinite;
        c.precision = o.methods.precision_policy_given();

        // The run folder; explicit --checkpoint, --log and --save-weights go where they say.
        std::ostringstream rate_text;
        rate_text << o.rate;
        // Under mpirun every rank uses rank 0's folder (a fresh one is named after the time).
        communicator& ranks = world();
        const bool root = ranks.is_root();
        const run_folder folder{
            agree((o.output_dir.empty() && root
                       ? run_folder::fresh(o.method, d.format, rate_text.str(), t.seed)
                       : run_folder{o.output_dir})
                      .dir.string())};
        folder.route(trainer, o.dry_run);
        ranks.barrier();  // every rank has checked the folder before rank 0 writes into it
        trainer.best_checkpoint_path = validating ? folder.best_checkpoint().string() : "";
        trainer.patience = o.patience;
        trainer.progress = o.progress == "bar"     ? progress_style::bar
                           : o.progress == "lines" ? progress_style::lines
                                                   : progress_style::automatic;
        trainer.eval_split = validating ? "validation" : "test";
        trainer.unit = "sent";
        const std::filesystem::path save_weights =
            o.save_weights.empty() ? folder.last_weights() : std::filesystem::path(o.save_weights);
        const std::filesystem::path save_best =
            validating ? folder.best_weights() : std::filesystem::path{};
        const std::filesystem::path model_config = folder.dir / "model-config.json";
        if (!o.dry_run) {
            io::check_writable(folder.config(), "--output-dir");
            io::check_writable(save_weights, "--save-weights");
            io::check_writable(save_best, "best weights");
            io::check_writable(model_config, "--output-dir");
        }

        // The model, the tokenizer and the method.
        const bert_config config = bert_config::from_json_file(x.config);
        const auto tokenizer = load_tokenizer(x);
        SMILE_CHECK(std::int64_t(tokenizer.size()) <= config.vocab_size, "--vocab ", x.vocab,
                    " has ", tokenizer.size(), " tokens but --config ", x.config,
                    " a vocabulary of ", config.vocab_size, " (--model-config)");
        SMILE_CHECK(x.max_length >= 2 && x.max_length <= config.max_position_embeddings,
                    "--max-length ", x.max_length, " must be in 2..",
                    config.max_position_embeddings, " (the model's positions)");
        session<B> s;
        s.set_communicator(ranks);
        s.set_gradient_bucket_bytes(o.bucket_bytes());
        rng gen(t.seed);
        auto m = make_text_method<B>(s, gen, config, classes, o.weights, c);
        if (ranks.distributed() && !m->data_parallel_ready())
            detail::fail("--arch bert --method ", m->name(), ": data-parallel training (",
                         ranks.size(),
                         " ranks) does not support it yet, because its step couples the batch "
                         "in a way not split over ranks; run it as one process "
                         "(docs/distributed.md lists the methods)");
        start_from_rank_zero(s, *m);

        // Every sentence tokenized once, before the first step.
        const auto max_length = std::size_t(x.max_length);
        const auto train_text = std::make_shared<const encoded_text>(
            encoded_text::encode(training, tokenizer, max_length));
        const auto validation_text = encoded_text::encode(validation, tokenizer, max_length);
        const auto test_text = encoded_text::encode(d.test, tokenizer, max_length);

        trainer_options run = trainer;
        run.iterations = t.iterations;
        run.config = t.describe();
        run.config["arch"] = "bert";
        run.config["bert_config"] = x.config;
        run.config["vocab"] = x.vocab;
        run.config["cased"] = x.cased;
        run.config["max_length"] = x.max_length;
        run.config["weights"] = o.weights;
        run.config["dataset"] = d.format;
        run.config["root"] = d.root.string();
        run.config["rate"] = o.rate;
        run.config["protocol"] = o.protocol;
        run.config["classes"] = classes;
        run.config["training_sentences"] = training.size();
        run.config["validation_sentences"] = validation.size();
        run.config["validation_source"] = validating ? validation_source : "";
        run.config["test_sentences"] = d.test.size();
        run.config["early_stop"] = o.patience;
        run.config["output_dir"] = folder.dir.string();
        // Absent from one-process runs, whose settings stay as they were.
        if (ranks.distributed()) run.config["ranks"] = ranks.size();
        run.checkpoint_info = {{"arch", "bert"}, {"bert_config", x.config}};
        if (!validating) run.best_checkpoint_path.clear();
        const nlohmann::json resolved = run_settings(*m, run);
        if (root)
            std::fprintf(
                stderr,
                "%s on %s: %zu training sentences in %lld classes, %zu validation sentences, "
                "%zu test sentences; %lld steps of %lld\n",
                m->name().c_str(), d.format.c_str(), training.size(),
                static_cast<long long>(classes), validation.size(), d.test.size(),
                static_cast<long long>(t.iterations), static_cast<long long>(t.batch_size));
        if (root && ranks.distributed())
            std::fprintf(
                stderr,
                "data-parallel: %s, %lld sentences per rank of each global batch of %lld, "
                "%s\n",
                ranks.describe().c_str(), static_cast<long long>(t.batch_size / ranks.size()),
                static_cast<long long>(t.batch_size), gradient_seam_text(s.gradient_bucket_bytes()).c_str());
        const auto record = config_record("finetune", given_options(*o.sub), resolved);
        if (o.dry_run) {
            if (root) std::printf("%s\n", record.dump(2).c_str());
            return;
        }
        if (root) {
            run_folder::write_json(folder.config(), record);
            write_model_config(x.config, model_config, classes, d.classes);
        }

        auto make_loader = [&](std::int64_t start) {
            return std::make_unique<text_loader>(
                train_text,
                text_loader_options{t.batch_size, t.seed, start, ranks.rank(), ranks.size()});
        };
        auto evaluate_now = [&] { return m->evaluate(validating ? validation_text : test_text); };
        auto save = [&](const std::filesystem::path& where) {
            io::save_weights<B>(m->model(), where,
                                {{"arch", "bert"},
                                 {"method", m->name()},
                                 {"dataset", d.format},
                                 {"iterations", std::to_string(t.iterations)}});
        };
        if (root) run.save_outputs = [&] { save(save_weights); };
        if (validating && root) run.save_best_outputs = [&] { save(save_best); };
        const run_result r = train<B>(*m, make_loader, evaluate_now, run, gen);

        evaluation test_last = r.final_evaluation;
        std::optional<evaluation> test_best;
        if (validating) {
            test_last = m->evaluate(test_text);
            ranks.barrier();  // rank 0 has written the best checkpoint before any rank reads it
            if (std::filesystem::exists(run.best_checkpoint_path)) {
                // The selected network: the best checkpoint's state, loaded into the same method.
                io::checkpoint_content<B> content;
                m->add_state(content);
                rng scratch(0);
                content.load(s, run.best_checkpoint_path, scratch);
                test_best = m->evaluate(test_text);
            }
        }
        if (!root) return;
        run_folder::write_json(folder.summary(),
                               finetune_summary(o.method, d.format, t.iterations, r, test_last,
                                                test_best, validating, trainer.resume, folder));
        draw_curves(run.log_path, folder);
        print_finetune_outcome(o.method, t.iterations, r, test_last, test_best, validating, folder);
    }
}

}  // namespace smile::cli
