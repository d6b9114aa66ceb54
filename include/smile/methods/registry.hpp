#pragma once
/// @file
/// Building a training method by name, from a pretrained network, with one configuration that
/// holds every method's hyper-parameters (`smile finetune --method ...`).
///
/// The student is the pretrained backbone with a new target head `fc` (PyTorch's default
/// initialisation) and, for the methods that need one, a source head `source_fc` initialised
/// from the pretrained `fc`. Defaults are the SMILE authors' runner (algorithms.md §1.2):
/// SGD (Adam and AdamW on request), momentum 0.9, Nesterov, weight decay 1e-4 on every parameter, lr 0.01 divided by 10
/// after two thirds of the iterations.

#include <filesystem>
#include <memory>
#include <optional>

#include <smile/io/weights.hpp>
#include <smile/models/architecture.hpp>
#include <smile/methods/bss.hpp>
#include <smile/methods/co_tuning.hpp>
#include <smile/methods/delta.hpp>
#include <smile/methods/finetune.hpp>
#include <smile/methods/l2sp.hpp>
#include <smile/methods/mixup_methods.hpp>
#include <smile/methods/rifle.hpp>
#include <smile/methods/smile.hpp>

namespace smile {

/// How the pretrained network is read (`smile finetune --non-strict --allow-nonfinite`).
struct weight_loading {
    /// Refuse file tensors the student does not take (the pretrained classifier `fc` aside,
    /// which a new target head replaces); false reports them and goes on.
    bool strict = true;
    bool allow_nonfinite = false;  ///< accept NaN/Inf weights (refused by default, naming the tensor)
};

/// Every method's hyper-parameters. Each setting lives in one place: `mixup` is the mixup of
/// every method that mixes (mixup, SMILE and its ablations, D-SMILE + KD, D-SMILE + RIFLE);
/// whether DELTA and RIFLE mix is decided by the name ("dsmile-kd", "dsmile-rifle").
struct method_config {
    std::string name = "smile";
    weight_loading weights;
    optimizer_options optimizer{sgd_options{0.9f, 0.0f, 1e-4f, true}};  /// SGD by default; Adam and AdamW by `kind`
    lr_schedule schedule{schedule_kind::step, 0.01f, 9000, 0.1f, {}};
    std::vector<parameter_rule> rules;  ///< per-parameter multipliers by name
    mixup_options mixup{0.2, true};
    double cutmix_beta = 0.2;
    double cutmix_prob = 0.5;
    smile_options smile;
    l2sp_options l2sp;
    delta_options delta;
    bss_options bss;
    rifle_options rifle;
    co_tuning_options co_tuning;
    precision_policy precision;  ///< the student's and the teacher's compute precision
};

/// The baselines' per-dataset strengths in the SMILE authors' task_config.ini (algorithms.md §1.2).
struct baseline_strengths {
    double l2sp_alpha, delta_alpha;
    std::int64_t rifle_periods;
    double bss_eta;
};

/// A dataset as the paper runs it (§4.1, Tables 1-2): the backbone and what it is pretrained on,
/// the iterations and the initial learning rate (÷10 after two thirds; SGD, batch 48 as every
/// run), and the baselines' strengths where task_config.ini has them.
struct dataset_preset {
    std::string arch = "resnet50";
    std::string source = "ImageNet";
    std::int64_t iterations = 9000;
    float lr = 0.01f;
    std::optional<baseline_strengths> strengths;  ///< none for indoor67 and food101 (not in task_config.ini)
};

/// The presets' names.
inline constexpr const char* preset_names = "cub, cars, aircraft, indoor67, food101";

inline dataset_preset preset_for(const std::string& dataset) {
    if (dataset == "cub" || dataset == "cub200") return {"resnet50", "ImageNet", 9000, 0.01f, baseline_strengths{1e-3, 1e-2, 2, 1e-3}};
    if (dataset == "cars") return {"resnet50", "ImageNet", 9000, 0.01f, baseline_strengths{1e-4, 1e-3, 4, 1e-3}};
    if (dataset == "aircraft") return {"resnet50", "ImageNet", 9000, 0.01f, baseline_strengths{1e-3, 1e-3, 4, 1e-3}};
    // MIT-Indoor-67: lr 0.001 "due to its high similarity with the pre-trained dataset Places365".
    if (dataset == "indoor67") return {"resnet50", "Places365", 9000, 0.001f, std::nullopt};
    // Food-101: 16,000 iterations "considering its large scale", the authors' efficientnet_pytorch B4.
    if (dataset == "food101") return {"efficientnet-b4", "ImageNet", 16000, 0.01f, std::nullopt};
    detail::fail("unknown preset '", dataset, "' (expected ", preset_names, ")");
}

/// Sets the preset's baseline strengths (if it has any) in `c`.
inline void apply_preset(method_config& c, const dataset_preset& p) {
    if (!p.strengths) return;
    c.l2sp.alpha = p.strengths->l2sp_alpha;
    c.delta.alpha = p.strengths->delta_alpha;
    c.rifle.periods = p.strengths->rifle_periods;
    c.bss.eta = p.strengths->bss_eta;
}

/// The method names `make_method` accepts.
inline const std::vector<std::string>& method_names() {
    static const std::vector<std::string> names{"finetune",   "l2sp",       "delta",    "bss",
                                                "rifle",      "cotuning",   "mixup",    "cutmix",
                                                "dsmile-kd",  "dsmile-rifle", "smile",  "smile-m-fe",
                                                "smile-m-fc", "smile-no-s-teacher", "smile-no-t-teacher"};
    return names;
}

namespace detail {
/// Classes of the pretrained classifier `head` ("fc", "classifier.1") in a weight file.
inline std::int64_t source_classes_of(const std::filesystem::path& weights, const std::string& head) {
    const std::string tensor = head + ".weight";
    if (std::filesystem::is_directory(weights)) {
        const auto file = weights / (tensor + ".npy");
        if (!std::filesystem::exists(file))
            fail(weights.string(), ": has no ", tensor, ".npy, so it cannot provide a source classifier");
        return io::read_npy(file).shape.at(0);
    }
    io::safetensors_reader f(weights);
    if (!f.contains(tensor)) fail(weights.string(), ": has no ", tensor, ", so it cannot provide a source classifier");
    return f.entry(tensor).shape.at(0);
}
}  // namespace detail

/// A student for `arch` with `num_classes` target classes, backbone (and source head when
/// `with_source_head`) loaded from `pretrained`.
template <Backend B>
classifier<B> make_student(session<B>& s, rng& gen, const architecture& arch, std::int64_t num_classes,
                           const std::filesystem::path& pretrained, bool with_source_head,
                           const weight_loading& w = {}) {
    const std::string head = io::head_in(pretrained, arch.head_name(), arch.weight_namings());
    const std::int64_t source = with_source_head ? detail::source_classes_of(pretrained, head) : 0;
    auto student = make_classifier<B>(s, gen, arch, {num_classes, source});
    io::load_options o;
    o.strict = false;  // the target head is new: its shape never matches, so check by hand below
    o.head_from = "";
    o.source_head_from = with_source_head ? head : "";
    o.allow_nonfinite = w.allow_nonfinite;
    const auto report = io::load_weights<B>(student, pretrained, o);
    SMILE_CHECK(report.missing.empty(), pretrained.string(), ": the pretrained network lacks tensors of ", arch.name(),
                ": ", report.summary());
    if (w.strict) {
        std::vector<std::string> unexpected;
        for (const auto& n : report.unexpected)
            if (n.rfind(head + ".", 0) != 0) unexpected.push_back(n);  // the pretrained classifier, replaced
        if (!unexpected.empty()) {
            std::string names;
            for (std::size_t i = 0; i < unexpected.size() && i < 8; ++i) names += (i ? ", " : "") + unexpected[i];
            detail::fail(pretrained.string(), ": ", unexpected.size(), " tensor(s) that ", arch.name(), " does not have: ",
                         names, unexpected.size() > 8 ? ", ..." : "",
                         " (another architecture? --non-strict ignores them)");
        }
    }
    return student;
}

/// The pretrained network itself (its fc as classifier), loaded strictly: a mean teacher or a
/// frozen source network.
template <Backend B>
classifier<B> make_pretrained(session<B>& s, rng& gen, const architecture& arch, const std::filesystem::path& pretrained,
                              const weight_loading& w = {}) {
    const std::string head = io::head_in(pretrained, arch.head_name(), arch.weight_namings());
    auto model = make_classifier<B>(s, gen, arch, {detail::source_classes_of(pretrained, head), 0});
    io::load_options o{w.strict, head, "", w.allow_nonfinite};
    io::load_weights<B>(model, pretrained, o);
    return model;
}

/// The method `c.name` for a student of `arch` with `num_classes` classes fine-tuned from
/// `pretrained`. `gen` drives the method's training-time draws (λ, permutations, boxes,
/// re-initialisations); model initialisation uses a generator seeded by one draw from it, so
/// every method starts its training draws at the same point whatever models it builds (SMILE
/// with γ_FE = γ_FC = 0 then reproduces mixup bit for bit). The method keeps references to
/// `s` and `gen`: both must outlive it.
template <Backend B>
std::unique_ptr<method<B>> make_method(session<B>& s, rng& gen, const architecture& arch, std::int64_t num_classes,
                                       const std::filesystem::path& pretrained, const method_config& c) {
    const std::string& n = c.name;
    std::unique_ptr<method<B>> m;
    rng init(gen.bits());
    auto student = [&](bool source_head) {
        return make_student<B>(s, init, arch, num_classes, pretrained, source_head, c.weights);
    };
    auto pretrained_network = [&] { return make_pretrained<B>(s, init, arch, pretrained, c.weights); };
    if (n == "finetune") {
        m = std::make_unique<finetune_method<B>>(s, gen, student(false), c.optimizer, c.schedule);
    } else if (n == "mixup") {
        m = std::make_unique<mixup_method<B>>(s, gen, student(false), c.optimizer, c.schedule, c.mixup);
    } else if (n == "cutmix") {
        m = std::make_unique<cutmix_method<B>>(s, gen, student(false), c.optimizer, c.schedule, c.cutmix_beta, c.cutmix_prob);
    } else if (n == "smile" || n == "smile-m-fe" || n == "smile-m-fc" || n == "smile-no-s-teacher" ||
               n == "smile-no-t-teacher") {
        smile_options o = c.smile;
        if (n == "smile-m-fe") o.gamma_fc = 0.0f;  // FT w/ M-FE
        if (n == "smile-m-fc") o.gamma_fe = 0.0f;  // FT w/ M-FC
        if (n == "smile-no-s-teacher") o.teacher.policy = teacher_policy::latest;
        if (n == "smile-no-t-teacher") o.teacher.policy = teacher_policy::fixed;
        // Sequenced: both draw from `init`, and argument order is unspecified.
        auto learner = student(true);
        auto teacher = pretrained_network();
        m = std::make_unique<smile_method<B>>(s, gen, std::move(learner), std::move(teacher), c.optimizer, c.schedule, o, c.mixup, n);
    } else if (n == "l2sp") {
        m = std::make_unique<l2sp_method<B>>(s, gen, student(false), c.optimizer, c.schedule, c.l2sp);
    } else if (n == "delta" || n == "dsmile-kd") {
        delta_options o = c.delta;
        const std::uint64_t attention_seed = init.bits();  // drawn always, so the stream is the same either way
        if (!o.attention.seed) o.attention.seed = attention_seed;
        auto learner = student(false);
        auto source = pretrained_network();
        auto attention_model = [&s, arch, num_classes, pretrained, seed = init.bits(), w = c.weights] {
            rng g(seed);
            return make_student<B>(s, g, arch, num_classes, pretrained, false, w);
        };
        std::optional<mixup_options> mix;
        if (n == "dsmile-kd") mix = c.mixup;
        m = std::make_unique<delta_method<B>>(s, gen, std::move(learner), std::move(source), c.optimizer, c.schedule, o,
                                              attention_model, pretrained.string(), mix);
    } else if (n == "bss") {
        m = std::make_unique<bss_method<B>>(s, gen, student(false), c.optimizer, c.schedule, c.bss);
    } else if (n == "rifle" || n == "dsmile-rifle") {
        std::optional<mixup_options> mix;
        if (n == "dsmile-rifle") mix = c.mixup;
        m = std::make_unique<rifle_method<B>>(s, gen, student(false), c.optimizer, c.schedule, c.rifle, mix);
    } else if (n == "cotuning") {
        m = std::make_unique<co_tuning_method<B>>(s, gen, student(true), c.optimizer, c.schedule, c.co_tuning);
        // TLlib's groups: backbone and source head at 0.1x the new head. The configuration's
        // rules come after and win where they match (--head-lr-mult scales only fc.*).
        m->optimizer().add_rule({"*", 0.1f, 1.0f});
        m->optimizer().add_rule({"fc.*", 1.0f, 1.0f});
    }
    if (!m) {
        std::string known;
        for (const auto& name : method_names()) known += (known.empty() ? "" : ", ") + name;
        detail::fail("unknown method '", n, "' (expected one of ", known, ")");
    }
    for (const auto& r : c.rules) m->optimizer().add_rule(r);
    m->optimizer().attach(m->model());
    m->set_precision(c.precision);
    return m;
}

}  // namespace smile
