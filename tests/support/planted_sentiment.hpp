#pragma once
/// @file
/// Sentences with a planted sentiment rule, for the text tests: each holds one word from a
/// positive or a negative list among neutral words, as SST's PTB trees (root label 1 positive, 0
/// negative). The 40-token vocabulary (special tokens first) fits the tiny BERT of
/// tests/fixtures/bert_tiny.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <smile/core/random.hpp>
#include <string>
#include <vector>

namespace smile::test::planted {

inline const std::vector<std::string> positive{"good", "great", "fine", "superb", "lovely"};
inline const std::vector<std::string> negative{"bad", "awful", "dull", "poor", "boring"};
inline const std::vector<std::string> neutral{
    "the", "a",  "film", "movie", "plot",  "story",  "actor", "scene", "is",
    "was", "it", "this", "that",  "very",  "quite",  "and",   "but",   "of",
    "to",  "in", "with", "cast",  "score", "ending", "script"};

/// The vocabulary in id order: [PAD] [UNK] [CLS] [SEP] [MASK], then every word.
inline std::vector<std::string> vocabulary() {
    std::vector<std::string> v{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (const auto* list : {&positive, &negative, &neutral})
        v.insert(v.end(), list->begin(), list->end());
    return v;
}

/// Writes `count` trees of 4 to 8 words with one sentiment word to `path`.
inline void write_trees(const std::filesystem::path& path, int count, std::uint64_t seed) {
    smile::rng gen(seed);
    std::ofstream out(path);
    for (int i = 0; i < count; ++i) {
        const int label = static_cast<int>(gen.below(2));
        const auto words = static_cast<std::size_t>(gen.integer(3, 7));
        const auto at = gen.below(words + 1);
        out << "(" << label;
        for (std::size_t w = 0; w <= words; ++w) {
            const auto& list = w == at ? (label == 1 ? positive : negative) : neutral;
            out << " (" << label << " " << list[gen.below(list.size())] << ")";
        }
        out << ")\n";
    }
}

}  // namespace smile::test::planted
