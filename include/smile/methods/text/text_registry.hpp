#pragma once
/// @file
/// Text methods by name, built from a Hugging Face BERT checkpoint (config.json +
/// model.safetensors, with or without the `bert.` prefix), as `smile finetune --arch bert` needs
/// them:
///
///   finetune, mixup, l2sp, bss, smile, and SMILE's two single-term ablations smile-m-fe
///   (γ_FC = 0: FT w/ M-FE) and smile-m-fc (γ_FE = 0: FT w/ M-FC).
///
/// The student's classifier is always new (`num_classes` outputs, BERT's normal(0, 0.02)
/// initialisation): a classifier in the file, trained for another task, is not loaded. The file
/// may hold the pretraining heads (`cls.predictions.*`, `cls.seq_relationship.*`); SMILE reads
/// the next-sentence head as its source head, every other method ignores them. Any other tensor
/// the file has and BERT lacks is an error unless `strict` is off; any BERT tensor the file lacks
/// is always one.

#include <filesystem>
#include <memory>
#include <optional>
#include <smile/io/npy.hpp>
#include <smile/io/safetensors.hpp>
#include <smile/io/weights.hpp>
#include <smile/methods/text/text_methods.hpp>
#include <string>
#include <vector>

namespace smile {

struct text_method_config {
    std::string name = "smile";
    text_training_options training;
    text_mixup_options mixup;
    l2sp_options l2sp{1e-3, 0.0};
    bss_options bss;
    text_smile_options smile;
    bool strict = true;            ///< refuse unexpected tensors in the weight file
    bool allow_nonfinite = false;  ///< accept NaN/Inf values in the weight file
    precision_policy precision;    ///< the student's and the teacher's compute precision
};

[[nodiscard]] inline const std::vector<std::string>& text_method_names() {
    static const std::vector<std::string> names{"finetune", "mixup",      "l2sp",      "bss",
                                                "smile",    "smile-m-fe", "smile-m-fc"};
    return names;
}

/// The next-sentence head `cls.seq_relationship` of a weight file (a .safetensors file or a
/// directory of .npy files), or nothing when the file has none.
[[nodiscard]] inline std::optional<pretraining_head> read_pretraining_head(
    const std::filesystem::path& weights) {
    const std::string w = "cls.seq_relationship.weight", b = "cls.seq_relationship.bias";
    pretraining_head head;
    if (std::filesystem::is_directory(weights)) {
        if (!std::filesystem::exists(weights / (w + ".npy"))) return std::nullopt;
        const auto weight = io::read_npy(weights / (w + ".npy"));
        const auto bias = io::read_npy(weights / (b + ".npy"));
        head.classes = weight.shape.at(0);
        head.weight = weight.values;
        head.bias = bias.values;
        return head;
    }
    io::safetensors_reader f(weights);
    if (!f.contains(w)) return std::nullopt;
    SMILE_CHECK(f.contains(b), weights.string(), ": has ", w, " but not ", b);
    head.classes = f.entry(w).shape.at(0);
    head.weight = f.read_floats(w);
    head.bias = f.read_floats(b);
    return head;
}

/// The pretrained BERT of `weights` under a new `num_classes`-way classifier (see the file
/// comment for what is checked).
template <Backend B>
bert_classifier<B> make_text_student(session<B>& s, rng& gen, bert_config config,
                                     std::int64_t num_classes, const std::filesystem::path& weights,
                                     const text_method_config& c) {
    config.num_labels = num_classes;
    bert_classifier<B> model(s, gen, config);
    io::load_options o;
    o.strict = false;  // the new classifier and the pretraining heads: checked by hand below
    o.head_from = "";  // never the file's classifier
    o.allow_nonfinite = c.allow_nonfinite;
    const auto report = io::load_weights<B>(model, weights, o);
    std::vector<std::string> missing, unexpected;
    for (const auto& n : report.missing)
        if (n.rfind("fc.", 0) != 0) missing.push_back(n);
    for (const auto& n : report.unexpected)
        if (n.rfind("cls.", 0) != 0 && n.rfind("classifier.", 0) != 0) unexpected.push_back(n);
    auto listed = [](const std::vector<std::string>& names) {
        std::string out;
        for (std::size_t i = 0; i < names.size() && i < 8; ++i) out += (i ? ", " : "") + names[i];
        return out + (names.size() > 8 ? ", ..." : "");
    };
    SMILE_CHECK(missing.empty(), weights.string(), ": lacks ", missing.size(),
                " tensor(s) of the BERT its --config describes: ", listed(missing),
                " (another configuration?)");
    SMILE_CHECK(!c.strict || unexpected.empty(), weights.string(), ": ", unexpected.size(),
                " tensor(s) that BERT does not have: ", listed(unexpected),
                " (another architecture? --non-strict ignores them)");
    return model;
}

/// The method `c.name` fine-tuning the BERT of `config` + `weights` for `num_classes` classes.
/// As for the image methods (methods/registry.hpp), model initialisation draws from a generator
/// seeded by one draw of `gen`, so every method starts its training draws at the same point.
/// The method keeps references to `s` and `gen`: both must outlive it.
namespace detail {
template <Backend B>
std::unique_ptr<text_method<B>> build_text_method(session<B>& s, rng& gen,
                                                  const bert_config& config,
                                                  std::int64_t num_classes,
                                                  const std::filesystem::path& weights,
                                                  const text_method_config& c) {
    const std::string& n = c.name;
    rng init(gen.bits());
    auto student = [&] { return make_text_student<B>(s, init, config, num_classes, weights, c); };
    if (n == "finetune") return std::make_unique<text_finetune<B>>(s, gen, student(), c.training);
    if (n == "mixup")
        return std::make_unique<text_mixup<B>>(s, gen, student(), c.training, c.mixup);
    if (n == "l2sp") return std::make_unique<text_l2sp<B>>(s, gen, student(), c.training, c.l2sp);
    if (n == "bss") return std::make_unique<text_bss<B>>(s, gen, student(), c.training, c.bss);
    if (n == "smile" || n == "smile-m-fe" || n == "smile-m-fc") {
        text_smile_options o = c.smile;
        o.mixing = c.mixup;
        if (n == "smile-m-fe") o.gamma_fc = 0.0f;
        if (n == "smile-m-fc") o.gamma_fe = 0.0f;
        // Sequenced: both draw from `init`.
        auto learner = student();
        auto teacher = student();  // the pretrained BERT; its classifier is never used
        return std::make_unique<text_smile<B>>(s, gen, std::move(learner), std::move(teacher),
                                               read_pretraining_head(weights), c.training, o, n);
    }
    std::string names;
    for (const auto& m : text_method_names()) names += (names.empty() ? "" : ", ") + m;
    fail("--method '", n, "' is not a method for text (", names, ")");
}
}  // namespace detail

template <Backend B>
std::unique_ptr<text_method<B>> make_text_method(session<B>& s, rng& gen, const bert_config& config,
                                                 std::int64_t num_classes,
                                                 const std::filesystem::path& weights,
                                                 const text_method_config& c) {
    auto m = detail::build_text_method<B>(s, gen, config, num_classes, weights, c);
    m->set_precision(c.precision);
    return m;
}

}  // namespace smile
