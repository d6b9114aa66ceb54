#pragma once
/// @file
/// Checking a split's image files before a run uses them: each is opened and its header
/// decoded (a cheap pass: no pixels), so that a missing or corrupt image stops the run before
/// training instead of at its final evaluation. With `skip` the unreadable samples are dropped
/// and reported instead.

#include <string>
#include <vector>

#include <smile/data/dataset.hpp>

namespace smile::data {

struct readability {
    std::vector<sample> readable;
    std::vector<std::string> problems;  ///< one message per unreadable sample, naming its file
};

/// Opens and header-decodes every file sample of `samples` (in-memory samples always pass).
[[nodiscard]] inline readability check_readable(const dataset& d, const std::vector<sample>& samples) {
    readability r;
    r.readable.reserve(samples.size());
    for (const auto& s : samples) {
        if (s.memory_index >= 0) {
            r.readable.push_back(s);
            continue;
        }
        try {
            (void)read_image_header(d.root / s.path);
            r.readable.push_back(s);
        } catch (const error& e) {
            r.problems.emplace_back(e.what());
        }
    }
    return r;
}

/// The readable samples of `split` (named in messages, e.g. "test split"). Without `skip`, any
/// unreadable file is an error listing them; with it they are dropped and reported on stderr.
[[nodiscard]] inline std::vector<sample> require_readable(const dataset& d, const std::vector<sample>& samples,
                                                          const std::string& split, bool skip) {
    readability r = check_readable(d, samples);
    if (r.problems.empty()) return std::move(r.readable);
    std::string list;
    for (std::size_t i = 0; i < r.problems.size() && i < 5; ++i) list += "\n  " + r.problems[i];
    if (r.problems.size() > 5) list += "\n  ... and " + std::to_string(r.problems.size() - 5) + " more";
    if (!skip)
        detail::fail(d.format, " ", split, ": ", r.problems.size(), " of ", samples.size(),
                     " images cannot be read (--skip-unreadable drops them):", list);
    if (r.readable.empty()) detail::fail(d.format, " ", split, ": none of the ", samples.size(), " images can be read:", list);
    std::fprintf(stderr, "%s %s: skipping %zu unreadable of %zu images:%s\n", d.format.c_str(), split.c_str(),
                 r.problems.size(), samples.size(), list.c_str());
    return std::move(r.readable);
}

}  // namespace smile::data
