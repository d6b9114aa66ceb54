#pragma once
/// @file
/// Training subsets at a sampling rate r (the papers' 15/30/50/100 %), derived from the
/// dataset's own metadata and a seed, never from downloaded lists (algorithms.md §2.3):
///
/// - per-class (default): ceil(r·n_c) images of every class c, chosen uniformly at random.
///   This is the protocol of the BSS and TLlib lists that Table 1's baselines were run on
///   (checked on all their CUB, Cars and Aircraft lists).
/// - global: shuffle the whole training set and keep the first 1 + int(r·N) images (capped
///   at N), as the SMILE authors' `AdvancedImageFolder`; classes may then be empty.
/// - nested (an option for either): the same shuffle at every rate, so 15 % ⊂ 30 % ⊂ 50 %.
///   Without it every rate draws independently (the BSS Aircraft lists are not nested).
///
/// A validation split can be carved from the training set (per class) for model selection.

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <smile/core/random.hpp>
#include <smile/data/dataset.hpp>
#include <smile/data/formats/text_lines.hpp>
#include <smile/io/atomic_file.hpp>

namespace smile::data {

enum class sampling_protocol { per_class, global };

inline sampling_protocol parse_protocol(const std::string& name) {
    if (name == "per-class") return sampling_protocol::per_class;
    if (name == "global") return sampling_protocol::global;
    detail::fail("unknown sampling protocol '", name, "' (expected per-class or global)");
}

struct sampling_options {
    sampling_protocol protocol = sampling_protocol::per_class;
    bool nested = false;
    bool allow_empty_classes = false;  ///< the global protocol can empty a class; by default that is an error
};

/// ceil(rate·n) without floating-point surprises at exact multiples (0.15·60 = 9, not 10).
[[nodiscard]] inline std::int64_t per_class_count(double rate, std::int64_t n) {
    return std::min<std::int64_t>(n, static_cast<std::int64_t>(std::ceil(rate * double(n) - 1e-9)));
}

/// The training subset at `rate` ∈ (0, 1] (see the file comment). Samples keep their order
/// within the original list. `Example` is anything with an integer `label`: an image sample, a
/// sentence (text/text_dataset.hpp).
template <class Example>
[[nodiscard]] std::vector<Example> sample_subset(const std::vector<Example>& train,
                                                 std::int64_t num_classes, double rate,
                                                 std::uint64_t seed,
                                                 const sampling_options& o = {}) {
    SMILE_CHECK(rate > 0.0 && rate <= 1.0, "sampling: the rate must be in (0, 1], got ", rate);
    // The shuffle stream: one per rate unless nested (then one for all rates).
    const std::uint64_t stream = o.nested ? 0 : static_cast<std::uint64_t>(std::llround(rate * 1e6));
    std::vector<char> keep(train.size(), 0);
    if (o.protocol == sampling_protocol::per_class) {
        std::vector<std::vector<std::size_t>> by_class(static_cast<std::size_t>(num_classes));
        for (std::size_t i = 0; i < train.size(); ++i) by_class.at(std::size_t(train[i].label)).push_back(i);
        for (std::size_t c = 0; c < by_class.size(); ++c) {
            rng gen = rng::derive(seed, stream, c);
            auto& members = by_class[c];
            gen.shuffle(members);
            const std::int64_t k = per_class_count(rate, std::int64_t(members.size()));
            for (std::int64_t j = 0; j < k; ++j) keep[members[std::size_t(j)]] = 1;
        }
    } else {
        std::vector<std::size_t> order(train.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        rng gen = rng::derive(seed, stream, 0x676c6f62);
        gen.shuffle(order);
        const auto k = std::min<std::size_t>(order.size(), 1 + static_cast<std::size_t>(rate * double(train.size())));
        for (std::size_t j = 0; j < k; ++j) keep[order[j]] = 1;
    }
    std::vector<Example> out;
    for (std::size_t i = 0; i < train.size(); ++i)
        if (keep[i]) out.push_back(train[i]);
    if (!o.allow_empty_classes) {
        const auto counts = class_counts(out, num_classes);
        for (std::size_t c = 0; c < counts.size(); ++c)
            if (counts[c] == 0)
                detail::fail("sampling at ", rate * 100, "%: class ", c,
                             " has no training examples",
                             o.protocol == sampling_protocol::global
                                 ? " (the global protocol can empty a class; use per-class)"
                                 : "");
    }
    return out;
}

/// Splits off round(fraction·n_c) images of every class (at least one when n_c ≥ 2) as a
/// validation set: returns {train, validation}.
template <class Example>
[[nodiscard]] std::pair<std::vector<Example>, std::vector<Example>> split_validation(
    const std::vector<Example>& train, std::int64_t num_classes, double fraction,
    std::uint64_t seed) {
    SMILE_CHECK(fraction > 0.0 && fraction < 1.0, "validation split: the fraction must be in (0, 1), got ", fraction);
    std::vector<std::vector<std::size_t>> by_class(static_cast<std::size_t>(num_classes));
    for (std::size_t i = 0; i < train.size(); ++i) by_class.at(std::size_t(train[i].label)).push_back(i);
    std::vector<char> held_out(train.size(), 0);
    for (std::size_t c = 0; c < by_class.size(); ++c) {
        auto& members = by_class[c];
        if (members.size() < 2) continue;
        rng gen = rng::derive(seed, 0x76616c, c);
        gen.shuffle(members);
        const auto k = std::clamp<std::int64_t>(std::llround(fraction * double(members.size())), 1,
                                                std::int64_t(members.size()) - 1);
        for (std::int64_t j = 0; j < k; ++j) held_out[members[std::size_t(j)]] = 1;
    }
    std::pair<std::vector<Example>, std::vector<Example>> out;
    for (std::size_t i = 0; i < train.size(); ++i) (held_out[i] ? out.second : out.first).push_back(train[i]);
    return out;
}

/// A sample's name in list files: its path, or "#<index>" for in-memory images (MNIST, digits).
[[nodiscard]] inline std::string list_key(const sample& s) {
    return s.memory_index >= 0 ? "#" + std::to_string(s.memory_index) : s.path;
}

/// Writes "relative/path label" lines (atomically); in-memory samples are written as
/// "#<index> label".
inline void write_list(const std::filesystem::path& path, const std::vector<sample>& samples) {
    std::string text;
    for (const auto& s : samples) text += list_key(s) + " " + std::to_string(s.label) + "\n";
    io::write_file_atomically(path, text);
}

}  // namespace smile::data

namespace smile::data {

/// The training samples a list file names ("path label" lines as `write_list` writes them),
/// matched against the dataset's training split; a path that is not in it, or a label that
/// differs from the dataset's, is an error naming the file and line.
[[nodiscard]] inline std::vector<sample> read_subset_list(const dataset& d, const std::filesystem::path& list) {
    std::map<std::string, const sample*> by_key;
    for (const auto& s : d.train) by_key[list_key(s)] = &s;
    std::vector<sample> out;
    for (const auto& line : formats::read_lines(list)) {
        const auto [key, label] = formats::split_last(list, line);
        const auto it = by_key.find(key);
        if (it == by_key.end()) formats::fail_at(list, line, "'", key, "' is not a training image of the ", d.format, " dataset");
        if (formats::parse_integer(list, line, label, "label") != it->second->label)
            formats::fail_at(list, line, "label ", label, " differs from the dataset's label ", it->second->label);
        out.push_back(*it->second);
    }
    return out;
}

}  // namespace smile::data
