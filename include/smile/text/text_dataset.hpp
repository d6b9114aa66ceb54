#pragma once
/// @file
/// A sentence-classification dataset on disk: its train, validation (dev) and test splits in one
/// of the forms such sets are distributed in. `format` says which, `root` where:
///
/// | format | files under root                                   | labels                     |
/// |--------|----------------------------------------------------|----------------------------|
/// | sst5   | trees/{train,dev,test}.txt (or those files in root) | the root node's, 0..4      |
/// | jsonl  | {train,dev,test}.jsonl (dev may be validation.jsonl) | integers                 |
/// | tsv    | {train,dev,test}.tsv with a header row (GLUE)       | integers or names          |
/// | csv    | {train,dev,test}.csv with a header row (RFC 4180)   | integers or names          |
///
/// The dev split is optional (an empty validation split); train and test are required. Columns
/// and keys are named by `text_column` and `label_column`; by default "text" (or "sentence",
/// GLUE's name, for tsv/csv) and "label". Labels that are all integers are class indices
/// (0..K−1, K = `classes` or one more than the largest label); otherwise they are class names,
/// numbered in sorted order from the training split, and a name the training split lacks is an
/// error. Every error names the file and line.

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <set>
#include <smile/core/error.hpp>
#include <smile/data/formats/delimited.hpp>
#include <smile/text/sst.hpp>
#include <string>
#include <vector>

namespace smile::text {

struct text_dataset_options {
    std::string format = "sst5";  ///< sst5, jsonl, tsv, csv
    std::filesystem::path root;
    std::int32_t classes = 0;  ///< 0: from the format (5 for sst5) or from the labels
    std::string text_column;   ///< empty: "text", or "sentence" for tsv/csv files that have it
    std::string label_column = "label";
};

struct text_dataset {
    std::string format;
    std::filesystem::path root;
    std::vector<std::string> classes;  ///< class names (the labels' text for integer labels)
    std::vector<text_example> train, validation, test;
    /// The files each split came from (messages, the run's configuration).
    std::filesystem::path train_file, validation_file, test_file;

    [[nodiscard]] std::int64_t num_classes() const noexcept { return std::int64_t(classes.size()); }
};

[[nodiscard]] inline const std::vector<std::string>& text_formats() {
    static const std::vector<std::string> names{"sst5", "jsonl", "tsv", "csv"};
    return names;
}

namespace detail_text_dataset {

/// The first of `candidates` (relative to `root`) that exists; empty when none does.
inline std::filesystem::path first_existing(const std::filesystem::path& root,
                                            const std::vector<std::string>& candidates) {
    for (const auto& c : candidates)
        if (std::filesystem::is_regular_file(root / c)) return root / c;
    return {};
}

inline std::filesystem::path required(const std::filesystem::path& root, const std::string& format,
                                      const std::vector<std::string>& candidates,
                                      const char* split) {
    auto found = first_existing(root, candidates);
    if (found.empty()) {
        std::string names;
        for (const auto& c : candidates) names += (names.empty() ? "" : " or ") + c;
        detail::fail("--root ", root.string(), ": no ", split, " split of the ", format,
                     " layout (expected ", names, ")");
    }
    return found;
}

/// A labelled row before its label is resolved.
struct raw_example {
    std::string text, label;
    std::size_t line = 0;
};

inline bool is_integer(const std::string& s) {
    long long v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

/// The rows of a TSV/CSV file with a header: each row's text and label columns.
inline std::vector<raw_example> read_table(const std::filesystem::path& path, bool csv,
                                           const text_dataset_options& o) {
    const auto records = csv ? data::formats::read_csv(path) : data::formats::read_tsv(path);
    if (records.empty())
        detail::fail(path.string(), ": empty (expected a header row and examples)");
    const auto& header = records.front().fields;
    auto column = [&](const std::vector<std::string>& names, const char* what) {
        for (const auto& n : names)
            for (std::size_t i = 0; i < header.size(); ++i)
                if (header[i] == n) return i;
        std::string columns;
        for (const auto& h : header) columns += (columns.empty() ? "" : ", ") + h;
        detail::fail(path.string(), ":", records.front().line, ": the header has no ", what,
                     " column '", names.front(), "' (it has: ", columns,
                     "); --text-column and --label-column name others");
    };
    const std::size_t text_at =
        column(o.text_column.empty() ? std::vector<std::string>{"text", "sentence"}
                                     : std::vector<std::string>{o.text_column},
               "text");
    const std::size_t label_at = column({o.label_column}, "label");
    std::vector<raw_example> out;
    for (std::size_t r = 1; r < records.size(); ++r) {
        const auto& rec = records[r];
        if (rec.fields.size() != header.size())
            detail::fail(path.string(), ":", rec.line, ": ", rec.fields.size(),
                         " fields where the header has ", header.size(),
                         csv ? "" : " (a tab inside a sentence?)");
        out.push_back({rec.fields[text_at], rec.fields[label_at], rec.line});
    }
    if (out.empty()) detail::fail(path.string(), ": a header but no examples");
    return out;
}

/// The lines of a JSON-lines file, labels kept as text (integers as their decimal form).
inline std::vector<raw_example> read_jsonl(const std::filesystem::path& path,
                                           const text_dataset_options& o) {
    const std::string text_key = o.text_column.empty() ? "text" : o.text_column;
    std::vector<raw_example> out;
    for (const auto& [line, text] : detail_sst::example_lines(path, "examples")) {
        const auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded() || !j.is_object())
            detail_sst::fail_at(path, line, "not a JSON object");
        if (!j.contains(text_key) || !j.at(text_key).is_string())
            detail_sst::fail_at(path, line, "no string \"" + text_key + "\"");
        const auto it = j.find(o.label_column);
        if (it == j.end() || !(it->is_number_integer() || it->is_string()))
            detail_sst::fail_at(path, line, "no integer or string \"" + o.label_column + "\"");
        out.push_back(
            {j.at(text_key).get<std::string>(),
             it->is_string() ? it->get<std::string>() : std::to_string(it->get<std::int64_t>()),
             line});
    }
    return out;
}

}  // namespace detail_text_dataset

/// Reads the splits of `o.format` under `o.root` (see the file comment).
[[nodiscard]] inline text_dataset read_text_dataset(const text_dataset_options& o) {
    using namespace detail_text_dataset;
    const auto& formats = text_formats();
    if (std::find(formats.begin(), formats.end(), o.format) == formats.end())
        detail::fail("--format '", o.format, "' is not a text format (sst5, jsonl, tsv, csv)");
    if (!std::filesystem::is_directory(o.root))
        detail::fail("--root ", o.root.string(), " is not a directory");
    SMILE_CHECK(o.classes >= 0, "--num-classes must be positive, got ", o.classes);
    text_dataset d;
    d.format = o.format;
    d.root = o.root;
    if (o.format == "sst5") {
        const std::int32_t classes = o.classes > 0 ? o.classes : 5;
        const auto dir =
            std::filesystem::is_directory(o.root / "trees") ? o.root / "trees" : o.root;
        d.train_file = required(dir, "sst5", {"train.txt"}, "training");
        d.test_file = required(dir, "sst5", {"test.txt"}, "test");
        d.validation_file = first_existing(dir, {"dev.txt"});
        d.train = read_ptb_trees(d.train_file, classes);
        d.test = read_ptb_trees(d.test_file, classes);
        if (!d.validation_file.empty()) d.validation = read_ptb_trees(d.validation_file, classes);
        if (classes == 5) {
            d.classes = sst5_classes();
        } else {
            for (std::int32_t c = 0; c < classes; ++c) d.classes.push_back(std::to_string(c));
        }
        return d;
    }
    const std::string ext = o.format == "jsonl" ? ".jsonl" : "." + o.format;
    d.train_file = required(o.root, o.format, {"train" + ext}, "training");
    d.test_file = required(o.root, o.format, {"test" + ext}, "test");
    d.validation_file = first_existing(o.root, {"dev" + ext, "validation" + ext});
    auto read = [&](const std::filesystem::path& f) {
        return o.format == "jsonl" ? read_jsonl(f, o) : read_table(f, o.format == "csv", o);
    };
    std::vector<std::pair<std::filesystem::path, std::vector<raw_example>>> splits;
    splits.emplace_back(d.train_file, read(d.train_file));
    if (!d.validation_file.empty()) splits.emplace_back(d.validation_file, read(d.validation_file));
    splits.emplace_back(d.test_file, read(d.test_file));
    // Integer labels are indices; anything else names classes, numbered from the training split.
    bool integers = true;
    for (const auto& [file, rows] : splits)
        for (const auto& r : rows) integers = integers && is_integer(r.label);
    std::map<std::string, std::int32_t> index;
    if (integers) {
        long long largest = -1;
        for (const auto& [file, rows] : splits)
            for (const auto& r : rows) {
                const long long v = std::stoll(r.label);
                if (v < 0 || (o.classes > 0 && v >= o.classes))
                    detail::fail(file.string(), ":", r.line, ": label ", v, " is outside 0..",
                                 o.classes > 0 ? std::to_string(o.classes - 1) : std::string("∞"),
                                 o.classes > 0 ? " (--num-classes)" : "");
                largest = std::max(largest, v);
            }
        const auto k = o.classes > 0 ? o.classes : std::int32_t(largest + 1);
        for (std::int32_t c = 0; c < k; ++c) d.classes.push_back(std::to_string(c));
    } else {
        std::set<std::string> names;
        for (const auto& r : splits.front().second) names.insert(r.label);
        for (const auto& n : names) {
            index.emplace(n, std::int32_t(d.classes.size()));
            d.classes.push_back(n);
        }
        if (o.classes > 0 && std::int32_t(d.classes.size()) != o.classes)
            detail::fail(d.train_file.string(), ": ", d.classes.size(),
                         " class names but --num-classes ", o.classes);
    }
    SMILE_CHECK(d.classes.size() >= 2, d.train_file.string(), ": ", d.classes.size(),
                " class(es); classification needs two at least");
    auto resolve = [&](const std::filesystem::path& file, const std::vector<raw_example>& rows) {
        std::vector<text_example> out;
        out.reserve(rows.size());
        for (const auto& r : rows) {
            std::int32_t label = 0;
            if (integers) {
                label = std::int32_t(std::stoll(r.label));
            } else {
                const auto it = index.find(r.label);
                if (it == index.end())
                    detail::fail(file.string(), ":", r.line, ": label '", r.label,
                                 "' is not a class of the training split ", d.train_file.string());
                label = it->second;
            }
            out.push_back({r.text, label});
        }
        return out;
    };
    d.train = resolve(splits.front().first, splits.front().second);
    d.test = resolve(splits.back().first, splits.back().second);
    if (splits.size() == 3) d.validation = resolve(splits[1].first, splits[1].second);
    return d;
}

}  // namespace smile::text
