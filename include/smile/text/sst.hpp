#pragma once
/// @file
/// Sentence classification data in the forms SST-5 is distributed in:
/// - the Stanford Sentiment Treebank's PTB trees (`trees/train.txt`, `dev.txt`, `test.txt`): one
///   tree a line, `(3 (2 It) (4 (2 's) ...))`; the sentence's label is the root's (0 very negative
///   .. 4 very positive) and its text the leaves joined by spaces, with the PTB escapes undone
///   (`-LRB-` `(`, `-RRB-` `)`, `-LSB-` `[`, `-RSB-` `]`, `-LCB-` `{`, `-RCB-` `}`);
/// - JSON lines with a text and an integer label (`{"text": "...", "label": 3}`), the form of
///   SetFit/sst5 and of most exported text-classification sets.
/// Errors name the file and line.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <smile/core/error.hpp>
#include <smile/data/formats/text_lines.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace smile::text {

struct text_example {
    std::string text;
    std::int32_t label = 0;
};

/// SST-5's class names, label 0 to 4.
inline const std::vector<std::string>& sst5_classes() {
    static const std::vector<std::string> names{"very negative", "negative", "neutral", "positive", "very positive"};
    return names;
}

namespace detail_sst {

[[noreturn]] inline void fail_at(const std::filesystem::path& path, std::size_t line, const std::string& what) {
    detail::fail(path.string(), ":", line, ": ", what);
}

inline std::string unescape_ptb(std::string_view leaf) {
    static const std::pair<std::string_view, std::string_view> escapes[] = {
        {"-LRB-", "("}, {"-RRB-", ")"}, {"-LSB-", "["}, {"-RSB-", "]"}, {"-LCB-", "{"}, {"-RCB-", "}"}};
    for (const auto& [escaped, plain] : escapes)
        if (leaf == escaped) return std::string(plain);
    return std::string(leaf);
}

/// One PTB tree: its root label and its leaves. Iterative, so that a deeply nested crafted line
/// cannot exhaust the stack.
inline text_example parse_tree(std::string_view s, const std::filesystem::path& path, std::size_t line,
                               std::int32_t classes) {
    text_example out;
    std::size_t depth = 0, at = 0;
    bool root_seen = false;
    auto skip_spaces = [&] {
        while (at < s.size() && (s[at] == ' ' || s[at] == '\t' || s[at] == '\r')) ++at;
    };
    skip_spaces();
    if (at == s.size() || s[at] != '(') fail_at(path, line, "a tree must start with '('");
    while (at < s.size()) {
        skip_spaces();
        if (at == s.size()) break;
        if (s[at] == '(') {
            ++at;
            ++depth;
            if (depth == 1 && root_seen) fail_at(path, line, "more than one tree on the line");
            // The node's label: digits up to a space.
            const std::size_t from = at;
            while (at < s.size() && s[at] >= '0' && s[at] <= '9') ++at;
            if (at == from || at - from > 9) fail_at(path, line, "a node without a numeric label");
            const auto label = std::int32_t(std::stol(std::string(s.substr(from, at - from))));
            if (label >= classes) fail_at(path, line, "label " + std::to_string(label) + " is outside 0.." + std::to_string(classes - 1));
            if (depth == 1) {
                out.label = label;
                root_seen = true;
            }
            continue;
        }
        if (s[at] == ')') {
            if (depth == 0) fail_at(path, line, "')' without '('");
            --depth;
            ++at;
            continue;
        }
        if (depth == 0) fail_at(path, line, "text after the tree");
        const std::size_t from = at;  // a leaf: up to the next space or parenthesis
        while (at < s.size() && s[at] != ' ' && s[at] != '(' && s[at] != ')') ++at;
        if (!out.text.empty()) out.text += ' ';
        out.text += unescape_ptb(s.substr(from, at - from));
    }
    if (depth != 0) fail_at(path, line, "unbalanced parentheses (" + std::to_string(depth) + " not closed)");
    if (out.text.empty()) fail_at(path, line, "a tree without words");
    return out;
}

/// The non-blank lines of `path`, which must have one at least (`what` they hold, for the error).
inline std::vector<data::formats::text_line> example_lines(const std::filesystem::path& path,
                                                           const char* what) {
    auto lines = data::formats::read_lines(path);
    if (lines.empty()) detail::fail(path.string(), ": no ", what);
    return lines;
}

}  // namespace detail_sst

/// Every tree of a PTB-tree file (SST's `trees/*.txt`); blank lines are skipped.
[[nodiscard]] inline std::vector<text_example> read_ptb_trees(const std::filesystem::path& path,
                                                              std::int32_t classes = 5) {
    std::vector<text_example> out;
    for (const auto& line : detail_sst::example_lines(path, "trees"))
        out.push_back(detail_sst::parse_tree(line.text, path, line.number, classes));
    return out;
}

/// Every line of a JSON-lines file: an object with a string `text_key` and an integer
/// `label_key` in 0..classes-1; blank lines are skipped.
[[nodiscard]] inline std::vector<text_example> read_json_lines(
    const std::filesystem::path& path, std::int32_t classes, const std::string& text_key = "text",
    const std::string& label_key = "label") {
    std::vector<text_example> out;
    for (const auto& [line, text] : detail_sst::example_lines(path, "examples")) {
        const auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded() || !j.is_object()) detail_sst::fail_at(path, line, "not a JSON object");
        if (!j.contains(text_key) || !j.at(text_key).is_string())
            detail_sst::fail_at(path, line, "no string \"" + text_key + "\"");
        if (!j.contains(label_key) || !j.at(label_key).is_number_integer())
            detail_sst::fail_at(path, line, "no integer \"" + label_key + "\"");
        const auto label = j.at(label_key).get<std::int64_t>();
        if (label < 0 || label >= classes)
            detail_sst::fail_at(path, line, "label " + std::to_string(label) + " is outside 0.." + std::to_string(classes - 1));
        out.push_back({j.at(text_key).get<std::string>(), std::int32_t(label)});
    }
    return out;
}

}  // namespace smile::text
