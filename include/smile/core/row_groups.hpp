#pragma once
/// @file
/// `row_groups`: the positions of a list of row ids grouped by id, stably (each group in position
/// order). The backward of a row gather (core/backend.hpp, gather_rows_backward) sums each group's
/// gradient rows into its id's row; with the groups, one worker owns one row, no atomics are needed
/// and the sums run in position order on every backend.

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

namespace smile {

struct row_groups {
    std::vector<std::int64_t> order;   ///< positions sorted by id, stably
    std::vector<std::int64_t> starts;  ///< group g is order[starts[g] .. starts[g + 1])
    std::vector<std::int64_t> ids;     ///< the id of group g

    /// Regroups for `row_ids`, reusing the vectors' storage.
    void build(std::span<const std::int64_t> row_ids) {
        order.resize(row_ids.size());
        std::iota(order.begin(), order.end(), std::int64_t{0});
        std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
            return row_ids[static_cast<std::size_t>(a)] < row_ids[static_cast<std::size_t>(b)];
        });
        starts.clear();
        ids.clear();
        for (std::size_t i = 0; i < order.size(); ++i) {
            const std::int64_t id = row_ids[static_cast<std::size_t>(order[i])];
            if (i == 0 || id != ids.back()) {
                starts.push_back(static_cast<std::int64_t>(i));
                ids.push_back(id);
            }
        }
        starts.push_back(static_cast<std::int64_t>(order.size()));
    }
    [[nodiscard]] std::size_t size() const noexcept { return ids.size(); }
};

}  // namespace smile
