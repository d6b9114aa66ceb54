#pragma once
// Options shared by `smile pretrain`, `smile finetune` and `smile compare`: the optimizer,
// schedule, data pipeline and every method's hyper-parameters.

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <smile/data/pipeline.hpp>
#include <smile/methods/registry.hpp>
#include <smile/train/trainer.hpp>

#include "smile/validators.hpp"

namespace smile::cli {

struct training_options {
    std::int64_t iterations = 9000;
    std::int64_t batch_size = 48;
    float lr = 0.01f;
    std::string schedule = "step";
    std::string optimizer = "sgd";
    float momentum = 0.9f;
    float weight_decay = 1e-4f;
    bool nesterov = true;
    double beta1 = 0.9, beta2 = 0.999, adam_epsilon = 1e-8;
    std::int64_t epochs = 0;    // 0: --iters counts the steps
    double warmup_ratio = 0.0;  // linear schedule: the fraction of the steps spent warming up
    CLI::Option* iterations_option = nullptr;  // a preset sets what these did not
    CLI::Option* lr_option = nullptr;
    CLI::Option* epochs_option = nullptr;
    CLI::Option* batch_size_option = nullptr;  // the text recipe sets what these did not
    CLI::Option* schedule_option = nullptr;
    CLI::Option* optimizer_option = nullptr;
    CLI::Option* weight_decay_option = nullptr;
    CLI::Option* warmup_option = nullptr;
    CLI::Option* momentum_option = nullptr;  // to refuse SGD-only settings given with Adam
    CLI::Option* nesterov_option = nullptr;
    float head_lr_mult = 1.0f;
    std::string train_transform, test_transform;  // empty: from the dataset
    std::int64_t image_size = 0;                  // 0: 224, or 28 for the MNIST family
    std::int64_t resize_to = 256;
    std::uint64_t seed = 0;
    std::size_t workers = 2;
    bool skip_unreadable = false;
    trainer_options trainer;

    void add_to(CLI::App& app) {
        iterations_option = app.add_option("--iters", iterations, "training iterations (a --preset's, else 9000)")
                                ->capture_default_str()->check(integer_in(1, 1e9));
        epochs_option = app.add_option("--epochs", epochs,
                                       "train for this many passes over the training subset "
                                       "instead of --iters (images: whole batches per epoch; "
                                       "text: the last batch holds the remainder)")
                            ->check(integer_in(1, 1e6))
                            ->excludes(iterations_option);
        batch_size_option = app.add_option("--batch-size", batch_size, "examples per step")
                                ->capture_default_str()
                                ->check(integer_in(1, 65536));
        lr_option = app.add_option("--lr", lr, "initial learning rate (a --preset's, else 0.01)")->capture_default_str()
                        ->check(number_in(0, 10, ends::open_low));
        schedule_option = app.add_option("--schedule", schedule,
                                         "learning-rate schedule: step (/10 after 2/3), constant, "
                                         "cosine, linear (warm-up, then linear decay to 0)")
                              ->check(CLI::IsMember({"step", "constant", "cosine", "linear"}))
                              ->capture_default_str();
        warmup_option = app.add_option("--warmup-ratio", warmup_ratio,
                                       "linear schedule: fraction of the steps spent warming up "
                                       "from 0 (the text recipe's 0.1)")
                            ->check(number_in(0, 1, ends::open_high));
        optimizer_option =
            app.add_option("--optimizer", optimizer,
                           "sgd (torch.optim.SGD), adam or adamw (decoupled weight decay)")
                ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
                ->capture_default_str();
        momentum_option = app.add_option("--momentum", momentum, "SGD momentum")->capture_default_str()
            ->check(number_in(0, 1, ends::open_high));
        weight_decay_option =
            app.add_option(
                   "--weight-decay", weight_decay,
                   "weight decay on every parameter: L2 for sgd and adam, decoupled for adamw")
                ->capture_default_str()
                ->check(number_in(0, 1));
        nesterov_option = app.add_option("--nesterov", nesterov, "SGD: Nesterov momentum (true in the SMILE authors' code)")
            ->capture_default_str();
        app.add_option("--beta1", beta1, "adam/adamw: first-moment decay")->capture_default_str()
            ->check(number_in(0, 1, ends::open_high));
        app.add_option("--beta2", beta2, "adam/adamw: second-moment decay")->capture_default_str()
            ->check(number_in(0, 1, ends::open_high));
        app.add_option("--adam-eps", adam_epsilon, "adam/adamw: epsilon added to the root of the second moment")
            ->capture_default_str()->check(number_in(0, 1, ends::open_low));
        app.add_option("--head-lr-mult", head_lr_mult, "learning-rate multiplier of the new head fc.*")->capture_default_str()
            ->check(number_in(0, 1000));
        app.add_option("--train-transform", train_transform,
                       "training preset: smile-cub-train, smile-train, tllib-train, small (default: by dataset)");
        app.add_option("--test-transform", test_transform, "evaluation preset: smile-cub-test, smile-test, tllib-test, small");
        app.add_option("--image-size", image_size, "crop size (default 224; 28 for mnist, fashion-mnist, digits)")
            ->check(integer_in(8, 4096));
        app.add_option("--resize", resize_to, "resize before cropping (the presets' 256)")->capture_default_str()
            ->check(integer_in(8, 8192));
        app.add_option("--seed", seed, "seed of every random choice")->capture_default_str()->check(integer_in(0, 1.8e19));
        app.add_option("--workers", workers, "data-loading threads")->capture_default_str()->check(integer_in(0, 256));
        app.add_flag("--skip-unreadable", skip_unreadable,
                     "drop images that cannot be read (checked before training) instead of stopping; they are reported");
        app.add_option("--log", trainer.log_path, "JSON-lines log of every iteration's loss terms");
        app.add_option("--log-every", trainer.log_every, "progress line every N iterations (0: none)")->capture_default_str()
            ->check(integer_in(0, 1e12));
        app.add_option("--eval-every", trainer.eval_every, "evaluate on the test split every N iterations (0: at the end)")
            ->check(integer_in(0, 1e12));
        app.add_option("--checkpoint", trainer.checkpoint_path, "checkpoint file (written atomically)");
        app.add_option("--checkpoint-every", trainer.checkpoint_every, "checkpoint every N iterations (0: at the end)")
            ->check(integer_in(0, 1e12));
        auto* resume = app.add_flag(
            "--resume", trainer.resume,
            "continue from --checkpoint if it exists (refused when the run's settings differ)");
        app.add_flag("--force-resume", trainer.force_resume,
                     "with --resume: continue even when settings differ (each is reported)")
            ->needs(resume);
    }

    [[nodiscard]] static bool small_images(const std::string& format) {
        return format == "mnist" || format == "fashion-mnist" || format == "digits" || format == "idx";
    }

    /// The pipelines for a dataset format: the SMILE authors' recipe for natural images
    /// (keep-aspect resize for CUB), gray 28x28 for the MNIST family.
    [[nodiscard]] std::pair<data::pipeline, data::pipeline> pipelines(const std::string& format) const {
        const bool small = small_images(format);
        const std::int64_t size = image_size > 0 ? image_size : (small ? 28 : 224);
        const std::string train = !train_transform.empty() ? train_transform
                                  : small                  ? "small"
                                  : format == "cub200"     ? "smile-cub-train"
                                                           : "smile-train";
        const std::string test = !test_transform.empty() ? test_transform
                                 : small                 ? "small"
                                 : format == "cub200"    ? "smile-cub-test"
                                                         : "smile-test";
        return {data::pipeline::preset(train, size, resize_to), data::pipeline::preset(test, size, resize_to)};
    }

    /// The preset's iterations and learning rate, where the command line gave none.
    void apply_preset(const dataset_preset& p) {
        if (iterations_option == nullptr || iterations_option->count() == 0) iterations = p.iterations;
        if (lr_option == nullptr || lr_option->count() == 0) lr = p.lr;
    }

    [[nodiscard]] lr_schedule make_schedule() const {
        if (warmup_option != nullptr && warmup_option->count() > 0 && schedule != "linear")
            detail::fail("--warmup-ratio is a setting of --schedule linear, not of ", schedule);
        const auto warmup =
            static_cast<std::int64_t>(std::floor(warmup_ratio * double(iterations)));
        return {parse_schedule(schedule), lr, iterations, 0.1f, {}, warmup};
    }

    [[nodiscard]] static bool given(const CLI::Option* o) { return o != nullptr && o->count() > 0; }

    /// The paper's BERT recipe (Table 7, with BERT's own fine-tuning defaults where the paper is
    /// silent) for every setting the command line did not give: batch 24, 3 epochs, AdamW
    /// lr 2e-5 with weight decay 0.01, linear decay after a warm-up over 10 % of the steps.
    void apply_text_recipe() {
        if (!given(batch_size_option)) batch_size = 24;
        if (!given(lr_option)) lr = 2e-5f;
        if (!given(optimizer_option)) optimizer = "adamw";
        if (!given(weight_decay_option)) weight_decay = 0.01f;
        if (!given(schedule_option)) schedule = "linear";
        if (!given(warmup_option) && schedule == "linear") warmup_ratio = 0.1;
        if (!given(epochs_option) && !given(iterations_option)) epochs = 3;
    }

    /// --epochs as steps, for `steps_per_epoch` steps in one pass (--iters when no --epochs).
    void resolve_epochs(std::int64_t steps_per_epoch) {
        if (epochs > 0) iterations = epochs * std::max<std::int64_t>(1, steps_per_epoch);
    }
    /// The optimizer the options describe. SGD-only settings given with Adam are an error rather
    /// than silently unused.
    [[nodiscard]] optimizer_options make_optimizer() const {
        if (optimizer == "sgd") return sgd_options{momentum, 0.0f, weight_decay, nesterov};
        for (const CLI::Option* o : {momentum_option, nesterov_option})
            if (o != nullptr && o->count() > 0)
                detail::fail(o->get_name(), " is a setting of --optimizer sgd, not of ", optimizer);
        return optimizer_options::make_adam({beta1, beta2, adam_epsilon, weight_decay, optimizer == "adamw"});
    }

    /// The settings of this group, for the log's config line.
    [[nodiscard]] nlohmann::json describe() const {
        return {{"lr", decimal_value(lr)},
                {"schedule", schedule},
                {"iterations", iterations},
                {"epochs", epochs},
                {"warmup_ratio", warmup_ratio},
                {"batch_size", batch_size},
                {"optimizer", optimizer},
                {"momentum", decimal_value(momentum)},
                {"weight_decay", decimal_value(weight_decay)},
                {"nesterov", nesterov},
                {"beta1", beta1},
                {"beta2", beta2},
                {"adam_eps", adam_epsilon},
                {"head_lr_mult", decimal_value(head_lr_mult)},
                {"image_size", image_size},
                {"resize", resize_to},
                {"seed", seed},
                {"workers", workers},
                {"skip_unreadable", skip_unreadable},
                {"eval_every", trainer.eval_every},
                {"checkpoint", trainer.checkpoint_path},
                {"checkpoint_every", trainer.checkpoint_every}};
    }
};

/// The hyper-parameters of the methods themselves.
struct method_options {
    method_config config;
    std::string teacher_update = "ema", teacher_head = "frozen", fe_distance = "frobenius", fe_features = "map",
                fc_loss_name = "soft-ce", preset;
    bool no_fold = false, non_strict = false;
    std::string precision_text = "f32", teacher_precision_text;

    void add_to(CLI::App& app) {
        auto& c = config;
        app.add_option("--precision", precision_text,
                       "f32, or bf16: the student's convolutions and matrix products in bfloat16 "
                       "with float32 "
                       "accumulation (batch norm, losses, optimizer and weights stay float32); "
                       "needs a CPU with "
                       "AVX512-BF16 or AMX")
            ->check(CLI::IsMember({"f32", "bf16"}))
            ->capture_default_str();
        app.add_option(
               "--teacher-precision", teacher_precision_text,
               "f32 or bf16 for the teacher or frozen source network (SMILE, DELTA, D-SMILE + KD); "
               "default: --precision")
            ->check(CLI::IsMember({"f32", "bf16"}));
        const auto weight = number_in(0, 1e6);
        app.add_flag("--non-strict", non_strict,
                     "accept a pretrained file with tensors the architecture does not have (reported, then ignored)");
        app.add_flag("--allow-nonfinite", c.weights.allow_nonfinite, "accept NaN/Inf values in the pretrained file");
        app.add_option("--alpha", c.mixup.alpha, "mixup Beta(alpha, alpha)")->capture_default_str()->check(number_in(0, 100, ends::open_low));
        app.add_flag("--no-fold", no_fold, "do not fold lambda to max(lambda, 1 - lambda)");
        app.add_option("--cutmix-beta", c.cutmix_beta, "CutMix Beta(beta, beta)")->capture_default_str()
            ->check(number_in(0, 100, ends::open_low));
        app.add_option("--cutmix-prob", c.cutmix_prob, "probability of a CutMix batch")->capture_default_str()->check(number_in(0, 1));
        app.add_option("--gamma-fe", c.smile.gamma_fe, "SMILE: weight of L_FE")->capture_default_str()->check(weight);
        app.add_option("--gamma-fc", c.smile.gamma_fc, "SMILE: weight of L_FC")->capture_default_str()->check(weight);
        app.add_option("--fe-distance", fe_distance, "SMILE L_FE: frobenius (||.||_F/hw, code) or squared (mean squared L2, paper)")
            ->check(CLI::IsMember({"frobenius", "squared"}))->capture_default_str();
        app.add_option("--fe-features", fe_features, "SMILE L_FE on the layer4 map (code) or pooled features (paper)")
            ->check(CLI::IsMember({"map", "pooled"}))->capture_default_str();
        app.add_option("--fc-loss", fc_loss_name, "SMILE L_FC: soft-ce (code) or squared-l2 on logits (paper)")
            ->check(CLI::IsMember({"soft-ce", "squared-l2"}))->capture_default_str();
        app.add_option("--teacher-update", teacher_update, "mean teacher: ema (code), copy (paper), fixed, latest")
            ->check(CLI::IsMember({"ema", "copy", "fixed", "latest"}))->capture_default_str();
        app.add_option("--teacher-decay", c.smile.teacher.decay, "EMA decay")->capture_default_str()->check(number_in(0, 1));
        app.add_option("--teacher-period", c.smile.teacher.period, "teacher update every P iterations")->capture_default_str()
            ->check(integer_in(1, 1e9));
        app.add_option("--teacher-head", teacher_head, "teacher classifier: frozen (pretrained, code) or student (paper)")
            ->check(CLI::IsMember({"frozen", "student"}))->capture_default_str();
        app.add_flag("--include-clean-ce", c.smile.include_clean_ce, "add Eq. 2's clean cross-entropy to L_Tri");
        app.add_option("--clean-tail", c.smile.clean_tail, "last K iterations plain cross-entropy (Paddle port: 1000)")
            ->check(integer_in(0, 1e9));
        app.add_option("--preset", preset,
                       "a dataset as the paper runs it: backbone (when neither --arch nor the "
                       "weights say), iterations, "
                       "lr, and task_config.ini's baseline strengths: cub, cars, aircraft, "
                       "indoor67, food101; "
                       "sst5 (--arch bert): batch 24, 3 epochs, AdamW lr 2e-5, max length 128")
            ->check(CLI::IsMember({"cub", "cars", "aircraft", "indoor67", "food101", "sst5"}));
        strength(app.add_option("--l2sp-alpha", c.l2sp.alpha, "L2-SP: alpha (1e-3 CUB/Aircraft, 1e-4 Cars)")->check(weight));
        app.add_option("--l2sp-beta", c.l2sp.beta, "L2-SP original form: head L2 beta (with --weight-decay 0)")->check(weight);
        strength(app.add_option("--delta-alpha", c.delta.alpha, "DELTA: alpha (1e-2 CUB, 1e-3 otherwise)")->check(weight));
        app.add_option("--delta-flavour", c.delta.flavour, "DELTA: smile (layer4, code) or original (4 conv3 hooks, c/2)")
            ->check(CLI::IsMember({"smile", "original"}));
        app.add_option("--delta-beta", c.delta.beta, "DELTA: head L2 beta (original: 0.01 with --weight-decay 0)")->check(weight);
        app.add_option("--delta-attention", c.delta.attention_path, "DELTA: channel-attention cache file (computed when missing)");
        app.add_option("--delta-head-iters", c.delta.attention.head_iterations, "DELTA attention: head training steps")
            ->check(integer_in(0, 1e9));
        app.add_option("--delta-batches", c.delta.attention.batches, "DELTA attention: batches averaged")->check(integer_in(1, 1e6));
        strength(app.add_option("--bss-eta", c.bss.eta, "BSS: eta")->check(weight));
        app.add_option("--bss-k", c.bss.k, "BSS: number of smallest singular values")->check(integer_in(1, 65536));
        strength(app.add_option("--rifle-periods", c.rifle.periods, "RIFLE: K periods (2 CUB, 4 Cars/Aircraft)")
                     ->check(integer_in(1, 1e6)));
        app.add_option("--cotuning-lambda", c.co_tuning.lambda, "Co-Tuning: lambda")->capture_default_str()->check(weight);
        app.add_option("--cotuning-relationship", c.co_tuning.relationship, "Co-Tuning: direct (TLlib) or reverse (original)")
            ->check(CLI::IsMember({"direct", "reverse"}));
    }

    void strength(CLI::Option* option) { strength_options_.push_back(option); }

    /// --precision and --teacher-precision (which defaults to --precision).
    [[nodiscard]] precision_policy precision_policy_given() const {
        const precision student = parse_precision(precision_text, "--precision");
        return {student, teacher_precision_text.empty()
                             ? student
                             : parse_precision(teacher_precision_text, "--teacher-precision")};
    }

    [[nodiscard]] method_config finish(const std::string& name, const training_options& t) const {
        method_config c = config;
        c.name = name;
        c.optimizer = t.make_optimizer();
        c.schedule = t.make_schedule();
        c.mixup.fold = !no_fold;
        c.weights.strict = !non_strict;
        c.precision = precision_policy_given();
        if (c.smile.clean_tail > t.iterations)
            detail::fail("--clean-tail: ", c.smile.clean_tail, " is more than the ", t.iterations, " iterations (--iters)");
        c.smile.teacher.policy = parse_teacher_policy(teacher_update);
        c.smile.teacher.head = parse_teacher_head(teacher_head);
        c.smile.fe_distance = fe_distance == "frobenius" ? feature_distance::frobenius_over_area : feature_distance::squared_mean;
        c.smile.fe_on_pooled = fe_features == "pooled";
        c.smile.fc = fc_loss_name == "soft-ce" ? fc_loss::soft_ce : fc_loss::squared_l2;
        if (t.head_lr_mult != 1.0f) c.rules.push_back({"fc.*", t.head_lr_mult, 1.0f});
        if (!preset.empty()) {
            // A preset sets the strengths the command line did not give explicitly.
            const dataset_preset p = preset_for(preset);
            const method_config given = c;
            apply_preset(c, p);
            for (auto* o : strength_options_) {
                if (o->count() == 0) continue;
                if (o->get_name() == "--l2sp-alpha") c.l2sp.alpha = given.l2sp.alpha;
                if (o->get_name() == "--delta-alpha") c.delta.alpha = given.delta.alpha;
                if (o->get_name() == "--bss-eta") c.bss.eta = given.bss.eta;
                if (o->get_name() == "--rifle-periods") c.rifle.periods = given.rifle.periods;
            }
        }
        return c;
    }

private:
    std::vector<CLI::Option*> strength_options_;
};

/// How a data-parallel run averages its gradients (--bucket-mb, as bytes), for its first lines.
[[nodiscard]] inline std::string gradient_seam_text(std::size_t bucket_bytes) {
    if (bucket_bytes == 0) return "gradients averaged one tensor at a time after backward (--bucket-mb 0)";
    char text[96];
    std::snprintf(text, sizeof text, "gradients averaged in buckets of %.3g MiB during backward",
                  double(bucket_bytes) / double(1 << 20));
    return text;
}

}  // namespace smile::cli
