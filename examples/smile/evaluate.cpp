// smile evaluate: the accuracy of a network on a dataset split: top-1, top-5, mean class
// accuracy, per-class accuracy and the confusion matrix (JSON, CSV and a picture), from a weight
// file, a checkpoint, or a run folder (its best network when it has one, else its last).
#include <cstdio>
#include <smile/default_backend.hpp>
#include <smile/factory_instances.hpp>
#include <smile/io/atomic_file.hpp>
#include <smile/io/checkpoint.hpp>
#include <smile/io/output_paths.hpp>
#include <smile/train/evaluate.hpp>
#include <sstream>

#include "smile/commands.hpp"
#include "smile/dataset_options.hpp"
#include "smile/model_options.hpp"
#include "smile/plots.hpp"
#include "smile/run_folder.hpp"
#include "smile/training_options.hpp"

namespace smile::cli {

namespace {

/// A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
    std::string out = "\"";
    for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string per_class_csv(const evaluation& e, const std::vector<std::string>& classes) {
    std::ostringstream out;
    out << "class,name,images,correct,accuracy\n";
    for (std::size_t c = 0; c < e.class_images.size(); ++c)
        out << c << ',' << csv_field(c < classes.size() ? classes[c] : std::to_string(c)) << ','
            << e.class_images[c] << ',' << e.class_correct[c] << ',' << e.class_accuracy(c) << '\n';
    return out.str();
}

/// Rows: true class; columns: predicted class; a header row and column of class names.
std::string confusion_csv(const evaluation& e, const std::vector<std::string>& classes) {
    const std::size_t k = e.class_images.size();
    auto name = [&](std::size_t c) {
        return csv_field(c < classes.size() ? classes[c] : std::to_string(c));
    };
    std::ostringstream out;
    out << "true\\predicted";
    for (std::size_t c = 0; c < k; ++c) out << ',' << name(c);
    out << '\n';
    for (std::size_t r = 0; r < k; ++r) {
        out << name(r);
        for (std::size_t c = 0; c < k; ++c) out << ',' << e.confusion[r * k + c];
        out << '\n';
    }
    return out.str();
}

/// The network of a checkpoint: its "model." tensors (smile's layout; the optimizer, a teacher
/// and other method state are not read). Every tensor of `model` must be there.
template <Backend B, class Model>
void load_checkpoint_network(session<B>& s, Model& model, const std::string& checkpoint) {
    io::checkpoint_content<B> content;
    content.add_model("model", model);
    rng unused(0);
    (void)content.load(s, checkpoint, unused);
}

/// The head's classes of a checkpoint's network: --num-classes when given, else the rows of its
/// "model.<head>.weight".
std::int64_t checkpoint_classes(const model_options& m, const std::string& checkpoint,
                                const architecture& a) {
    if (m.num_classes_given()) return m.num_classes;
    if (io::safetensors_reader(checkpoint).metadata().count("smile.checkpoint") == 0)
        detail::fail("--checkpoint ", checkpoint,
                     ": not a smile checkpoint (give a network as --weights)");
    const std::string head = "model." + a.head_name() + ".weight";
    const auto rows = model_options::head_rows(checkpoint, {head});
    if (!rows)
        detail::fail("--checkpoint ", checkpoint, ": no ", head, ": not a checkpoint of a ",
                     a.name(), " classifier (give --arch)");
    return *rows;
}

}  // namespace

command add_evaluate(CLI::App& app) {
    struct options {
        model_options model;
        dataset_options data;
        std::string weights, checkpoint, run, split = "test", list, out, transform;
        std::int64_t image_size = 0, resize_to = 256, batch_size = 256;
        std::size_t workers = 2;
        bool allow_nonfinite = false;
    };
    auto o = std::make_shared<options>();
    auto* sub = app.add_subcommand(
        "evaluate",
        "top-1, top-5, per-class accuracy and confusion matrix of a network on a split");
    o->model.add_to(*sub);
    o->data.add_to(*sub);
    auto* weights_option =
        sub->add_option("--weights", o->weights,
                        "the network (.safetensors, e.g. a run folder's weights-best.safetensors)");
    auto* checkpoint_option =
        sub->add_option("--checkpoint", o->checkpoint,
                        "the network of a checkpoint (checkpoint-last.safetensors, an "
                        "interrupted run's)")
            ->excludes(weights_option);
    sub->add_option("--run", o->run,
                    "a run folder of smile finetune or pretrain: its best network, else its last "
                    "(weights, else checkpoint)")
        ->excludes(weights_option)
        ->excludes(checkpoint_option);
    sub->add_option("--split", o->split, "test, train (the whole training set) or list (--list)")
        ->check(CLI::IsMember({"test", "train", "list"}))
        ->capture_default_str();
    sub->add_option("--list", o->list,
                    "--split list: the images of this list file (smile split's format)");
    sub->add_option("--out", o->out,
                    "directory for evaluation.json, per_class.csv, confusion.csv "
                    "(default: <run>/evaluation-<split>, or evaluation-<split>)");
    sub->add_option("--transform", o->transform, "evaluation preset (default: by dataset)");
    sub->add_option("--image-size", o->image_size,
                    "crop size (default 224; 28 for mnist, fashion-mnist, digits)")
        ->check(integer_in(8, 4096));
    sub->add_option("--resize", o->resize_to, "resize before cropping")
        ->capture_default_str()
        ->check(integer_in(8, 8192));
    sub->add_option("--batch-size", o->batch_size, "images per forward pass")
        ->capture_default_str()
        ->check(integer_in(1, 65536));
    sub->add_option("--workers", o->workers, "data-loading threads")
        ->capture_default_str()
        ->check(integer_in(0, 256));
    sub->add_flag("--allow-nonfinite", o->allow_nonfinite,
                  "accept NaN/Inf values in --weights (a checkpoint's never are)");
    return [o] {
        using B = default_backend;
        if (o->weights.empty() && o->checkpoint.empty() && o->run.empty())
            detail::fail("give the network: --weights FILE, --checkpoint FILE or --run FOLDER");
        // The network's file, and whether it is a checkpoint.
        std::string weights = !o->weights.empty() ? o->weights : o->checkpoint;
        bool from_checkpoint = !o->checkpoint.empty();
        if (!o->run.empty()) {
            const run_folder folder{o->run};
            // An interrupted run has checkpoints but no weights yet.
            for (const auto& [file, is_checkpoint] :
                 {std::pair{folder.best_weights(), false}, std::pair{folder.last_weights(), false},
                  std::pair{folder.best_checkpoint(), true},
                  std::pair{folder.last_checkpoint(), true}})
                if (std::filesystem::exists(file)) {
                    weights = file.string();
                    from_checkpoint = is_checkpoint;
                    break;
                }
            if (weights.empty())
                detail::fail("--run ", o->run,
                             ": no weights-best, weights-last, checkpoint-best or checkpoint-last "
                             ".safetensors in it (not a run folder of smile finetune or pretrain)");
        }
        if (o->split == "list" && o->list.empty()) detail::fail("--split list needs --list FILE");
        if (o->split != "list" && !o->list.empty())
            detail::fail("--list is read with --split list, not --split ", o->split);
        const std::filesystem::path out =
            !o->out.empty()   ? std::filesystem::path(o->out)
            : !o->run.empty() ? std::filesystem::path(o->run) / ("evaluation-" + o->split)
                              : std::filesystem::path("evaluation-" + o->split);
        io::check_writable(out / "evaluation.json", "--out");
        auto d = std::make_shared<data::dataset>(o->data.read_dataset());
        const std::vector<data::sample> samples = o->split == "test" ? d->test
                                                  : o->split == "train"
                                                      ? d->train
                                                      : data::read_subset_list(*d, o->list);
        if (samples.empty())
            detail::fail("the ", o->split, " split of ", d->format, " has no images");
        training_options transforms;
        transforms.test_transform = o->transform;
        transforms.image_size = o->image_size;
        transforms.resize_to = o->resize_to;
        const data::pipeline pipe = transforms.pipelines(d->format).second;

        session<B> s;
        rng gen(0);
        const architecture arch = o->model.config(weights);
        const std::int64_t classes = from_checkpoint ? checkpoint_classes(o->model, weights, arch)
                                                     : o->model.classes_for(weights, arch);
        if (classes != d->num_classes())
            detail::fail(from_checkpoint ? "--checkpoint " : "--weights ", weights, ": a ", classes,
                         "-class head, but ", d->format, " has ", d->num_classes(), " classes");
        auto model = make_classifier<B>(s, gen, arch, {classes, 0});
        if (from_checkpoint)
            load_checkpoint_network<B>(s, model, weights);
        else
            load_complete_network<B>(model, weights, arch, classes, o->allow_nonfinite);

        const evaluation e = evaluate(s, model, d, samples, pipe, o->batch_size, o->workers, true);
        nlohmann::json per_class = nlohmann::json::array();
        for (std::size_t c = 0; c < e.class_images.size(); ++c)
            per_class.push_back(
                {{"class", c},
                 {"name", c < d->classes.size() ? d->classes[c] : std::to_string(c)},
                 {"images", e.class_images[c]},
                 {"accuracy", e.class_accuracy(c)}});
        const nlohmann::json result{{"weights", weights},
                                    {"from", from_checkpoint ? "checkpoint" : "weights"},
                                    {"arch", arch.name()},
                                    {"dataset", d->format},
                                    {"split", o->split},
                                    {"images", e.images},
                                    {"top1", e.top1},
                                    {"top5", e.top5},
                                    {"mean_class_accuracy", e.mean_class_accuracy()},
                                    {"per_class", per_class}};
        std::filesystem::create_directories(out);
        io::write_file_atomically(out / "evaluation.json", result.dump(2) + "\n");
        io::write_file_atomically(out / "per_class.csv", per_class_csv(e, d->classes));
        io::write_file_atomically(out / "confusion.csv", confusion_csv(e, d->classes));
        std::vector<std::string> names = d->classes;
        for (std::size_t c = names.size(); c < e.class_images.size(); ++c)
            names.push_back(std::to_string(c));
        char title[96];
        std::snprintf(title, sizeof title, ": top-1 %.2f%%", 100 * e.top1);
        const std::string heading = std::filesystem::path(weights).filename().string() + " on " +
                                    d->format + " " + o->split + title;
        for (const char* picture : {"confusion.png", "confusion.svg"})
            draw_confusion_matrix(e.confusion, names, heading, out / picture);
        std::printf(
            "%s on the %s split of %s (%lld images): top-1 %.2f%%, top-5 %.2f%%, mean class "
            "accuracy %.2f%%\n",
            weights.c_str(), o->split.c_str(), d->format.c_str(), static_cast<long long>(e.images),
            100 * e.top1, 100 * e.top5, 100 * e.mean_class_accuracy());
        std::printf("wrote %s, per_class.csv, confusion.csv, .png and .svg\n",
                    (out / "evaluation.json").c_str());
    };
}

}  // namespace smile::cli
