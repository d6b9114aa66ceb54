#pragma once
/// @file
/// Loading and saving a model's weights by name, in PyTorch's naming (torchvision and timm
/// ResNet state_dict keys load without renaming).
///
/// Sources: a .safetensors file, or a directory of `<name>.npy` files (one per tensor, as
/// written by `np.save`). Loading checks every name and shape and reports what it loaded, what
/// the model has that the file lacks (missing), what the file has that the model lacks
/// (unexpected) and heads it skipped. `num_batches_tracked` and BERT's `embeddings.position_ids`
/// are accepted and ignored. A tensor
/// holding NaN or Inf is refused with its name unless `allow_nonfinite`.
///
/// - strict (default): any missing, unexpected or mismatched tensor is an error that lists them.
/// - non-strict: missing and unexpected tensors are reported, a head (`fc`, `source_fc`) whose
///   class count differs is skipped — the normal transfer-learning case — and any other shape
///   mismatch is still an error, because it means the file belongs to another architecture.
///
/// The target head `fc` loads from the file's `head_from` tensors (by default the family's own
/// name for its classifier: `fc` for torchvision's ResNets, `classifier.1` for its MobileNets);
/// the source head `source_fc` from `source_head_from` (set it to that name to initialise
/// SMILE's and Co-Tuning's source head from a pretrained classifier). Saving writes the target
/// head under the family's name too, so a fine-tuned model loads into torchvision as it is.
///
/// A family may know other libraries' names for its tensors (EfficientNet: efficientnet_pytorch's
/// and timm's, models/efficientnet_naming.hpp). The loader recognises such a file by a tensor only
/// that naming has, loads through it (the head's default source becomes that naming's head,
/// `_fc` or `classifier`) and reports it (load_report::naming). Saving always writes the
/// canonical names.

#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <smile/io/nonfinite.hpp>
#include <smile/io/npy.hpp>
#include <smile/io/safetensors.hpp>
#include <smile/io/weight_naming.hpp>
#include <smile/models/named_tensors.hpp>

namespace smile::io {

struct load_options {
    bool strict = true;
    /// File prefix for the target head; empty: never load it; unset: the model's `head_name()`
    /// (models without one: "fc").
    std::optional<std::string> head_from;
    std::string source_head_from;       ///< file prefix for the source head; empty: never load it
    bool allow_nonfinite = false;       ///< accept NaN/Inf values (refused by default, naming the tensor)
};

struct load_report {
    std::vector<std::string> loaded;      ///< model names loaded
    std::vector<std::string> missing;     ///< model names the file lacks
    std::vector<std::string> unexpected;  ///< file names no model tensor takes
    std::vector<std::string> skipped;     ///< head tensors whose shape differs (non-strict only)
    std::size_t ignored = 0;              ///< num_batches_tracked entries
    std::string naming = canonical_naming;  ///< whose tensor names the file uses (io/weight_naming.hpp)

    [[nodiscard]] std::string summary() const {
        std::ostringstream out;
        out << loaded.size() << " tensors loaded";
        if (naming != canonical_naming) out << " (" << naming << " names)";
        auto list = [&](const char* what, const std::vector<std::string>& names) {
            if (names.empty()) return;
            out << "; " << names.size() << ' ' << what << ": ";
            for (std::size_t i = 0; i < names.size() && i < 8; ++i) out << (i ? ", " : "") << names[i];
            if (names.size() > 8) out << ", ...";
        };
        list("missing", missing);
        list("unexpected", unexpected);
        list("skipped (shape differs)", skipped);
        return out.str();
    }
};

namespace detail_weights {

/// A tensor source: safetensors file or .npy directory.
class weight_source {
public:
    explicit weight_source(const std::filesystem::path& path) : path_(path) {
        namespace fs = std::filesystem;
        std::error_code ec;
        if (fs::is_directory(path, ec)) {
            for (const auto& item : fs::directory_iterator(path))
                if (item.path().extension() == ".npy") npy_[item.path().stem().string()] = item.path();
            if (npy_.empty()) smile::detail::fail(path.string(), ": directory holds no .npy files");
        } else if (fs::exists(path, ec)) {
            safetensors_.emplace(path);
        } else {
            smile::detail::fail("cannot open ", path.string(), ": no such file or directory");
        }
    }
    [[nodiscard]] std::vector<std::string> names() const {
        std::vector<std::string> out;
        if (safetensors_)
            for (const auto& [n, e] : safetensors_->entries()) out.push_back(n);
        for (const auto& [n, p] : npy_) out.push_back(n);
        return out;
    }
    [[nodiscard]] bool contains(const std::string& n) const {
        return safetensors_ ? safetensors_->contains(n) : npy_.count(n) > 0;
    }
    [[nodiscard]] std::vector<std::int64_t> shape(const std::string& n) const {
        if (safetensors_) return safetensors_->entry(n).shape;
        return read_npy_shape(npy_.at(n));
    }
    [[nodiscard]] std::vector<float> values(const std::string& n) const {
        if (safetensors_) return safetensors_->read_floats(n);
        return read_npy(npy_.at(n)).values;
    }

private:
    std::filesystem::path path_;
    std::optional<safetensors_reader> safetensors_;
    std::map<std::string, std::filesystem::path> npy_;
};

inline bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// What the model's family calls its target head in weight files ("fc" unless it says).
template <class Model>
std::string family_head_name(const Model& model) {
    if constexpr (requires { model.head_name(); }) {
        return model.head_name();
    } else {
        return "fc";
    }
}

/// The other namings the model's family knows (none unless it says).
template <class Model>
std::vector<weight_naming> family_namings(const Model& model) {
    if constexpr (requires { model.weight_namings(); }) {
        return model.weight_namings();
    } else {
        return {};
    }
}

}  // namespace detail_weights

/// What the file at `path` calls the target head of a family whose canonical head is
/// `canonical_head` and whose other namings are `namings`.
[[nodiscard]] inline std::string head_in(const std::filesystem::path& path, const std::string& canonical_head,
                                         const std::vector<weight_naming>& namings) {
    if (namings.empty()) return canonical_head;
    const detail_weights::weight_source source(path);
    auto contains = [&](const std::string& n) { return source.contains(n); };
    const auto naming = detect_naming(namings, contains);
    return naming ? head_of(*naming, contains) : canonical_head;
}

/// The metadata of a weight file (a .npy directory has none).
[[nodiscard]] inline std::map<std::string, std::string> metadata_of(const std::filesystem::path& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return {};
    return safetensors_reader(path).metadata();
}

/// The architecture a weight file names in its metadata ("arch", as smile writes it), if any.
[[nodiscard]] inline std::optional<std::string> architecture_of(const std::filesystem::path& path) {
    const auto m = metadata_of(path);
    if (auto it = m.find("arch"); it != m.end()) return it->second;
    return std::nullopt;
}

/// Loads `path` into `model` by name (see the file comment).
template <Backend B, class Model>
load_report load_weights(Model& model, const std::filesystem::path& path, const load_options& options = {}) {
    detail_weights::weight_source source(path);
    load_report report;
    std::map<std::string, bool> used;
    for (const auto& n : source.names()) used[n] = false;

    // The file's naming (the family's canonical one unless a marker tensor says otherwise).
    auto contains = [&](const std::string& n) { return source.contains(n); };
    const auto naming = detect_naming(detail_weights::family_namings(model), contains);
    if (naming) report.naming = naming->name;

    // Model name → file name (heads may be routed; empty: not loaded from the file).
    const std::string head_from =
        options.head_from.value_or(naming ? head_of(*naming, contains) : detail_weights::family_head_name(model));
    auto file_name = [&](const std::string& name) -> std::string {
        for (auto [head, from] : {std::pair{std::string("fc."), head_from},
                                  std::pair{std::string("source_fc."), options.source_head_from}})
            if (name.rfind(head, 0) == 0) return from.empty() ? std::string() : from + "." + name.substr(head.size());
        return naming ? naming->rename(name) : name;
    };
    auto is_head = [](const std::string& name) {
        return name.rfind("fc.", 0) == 0 || name.rfind("source_fc.", 0) == 0;
    };

    std::vector<std::string> mismatched;
    for (const auto& t : state_of<B>(model)) {
        const std::string from = file_name(t.name);
        if (from.empty()) continue;  // this head is not taken from the file
        if (!source.contains(from)) {
            report.missing.push_back(t.name);
            continue;
        }
        used[from] = true;
        const auto file_shape = source.shape(from);
        const auto model_shape = torch_shape(t.value->shape(), t.torch_rank);
        if (!same_torch_shape(file_shape, model_shape)) {
            const std::string what = t.name + " (file " + from + " " + shape_string(file_shape) + ", model " +
                                     shape_string(model_shape) + ")";
            if (!options.strict && is_head(t.name)) {
                report.skipped.push_back(what);
            } else {
                mismatched.push_back(what);
            }
            continue;
        }
        const std::vector<float> values = source.values(from);
        if (!options.allow_nonfinite)
            if (const std::string bad = first_nonfinite(values); !bad.empty())
                smile::detail::fail(path.string(), ": tensor '", from, "' holds a non-finite value (", bad,
                                    "); the file is damaged or the training that wrote it diverged "
                                    "(--allow-nonfinite loads it anyway)");
        t.value->copy_from_host(values);
        report.loaded.push_back(t.name);
    }
    for (const auto& [name, was_used] : used) {
        if (was_used) continue;
        // BN's step counter, and the position-index buffer older transformers versions save
        // with BERT (`embeddings.position_ids`, always 0..max_positions − 1): neither is a weight.
        if (detail_weights::ends_with(name, ".num_batches_tracked") ||
            detail_weights::ends_with(name, "embeddings.position_ids")) {
            ++report.ignored;
        } else {
            report.unexpected.push_back(name);
        }
    }
    if (!mismatched.empty()) {
        std::ostringstream out;
        out << path.string() << ": shape mismatch for " << mismatched.size() << " tensor(s): ";
        for (std::size_t i = 0; i < mismatched.size() && i < 8; ++i) out << (i ? "; " : "") << mismatched[i];
        if (mismatched.size() > 8) out << "; ...";
        throw error(out.str());
    }
    if (options.strict && (!report.missing.empty() || !report.unexpected.empty()))
        smile::detail::fail(path.string(), ": weights do not match the model (strict loading): ", report.summary());
    return report;
}

/// Saves `model`'s parameters and buffers to a safetensors file (atomically) with PyTorch's
/// names and shapes (the target head under the family's name), plus a zero
/// `num_batches_tracked` per BN so torchvision loads it strictly.
template <Backend B, class Model>
void save_weights(Model& model, const std::filesystem::path& path,
                  const std::map<std::string, std::string>& metadata = {}) {
    std::vector<safetensors_record> records;
    const std::string head = detail_weights::family_head_name(model);
    for (const auto& t : state_of<B>(model)) {
        const std::string name = t.name.rfind("fc.", 0) == 0 ? head + t.name.substr(2) : t.name;
        records.push_back({name, torch_shape(t.value->shape(), t.torch_rank), t.value->to_host(), false, 0});
        if (detail_weights::ends_with(t.name, ".running_var")) {
            const std::string bn = t.name.substr(0, t.name.size() - std::string(".running_var").size());
            records.push_back({bn + ".num_batches_tracked", {}, {}, true, 0});
        }
    }
    write_safetensors(path, records, metadata);
}

}  // namespace smile::io
