#pragma once
/// @file
/// `plan_leases`: where in one block of memory each lease of a recorded episode goes.
///
/// An episode is what a tensor pool sees between two moments when nothing is leased (a training
/// step's forward and backward, a teacher's forward): a sequence of acquisitions and releases.
/// A training loop repeats its episodes exactly, so once one has been seen, every lease's
/// lifetime and size are known and the leases can be packed ahead of time into one block; a
/// pool that hands out each tensor as it comes (best fit from what is free) loses memory to
/// blocks freed in sizes the next requests cannot use (docs/performance.md, "Where the extra
/// memory is").
///
/// The packing is greedy by size (Pisarchyk and Lee, "Efficient memory management for deep
/// neural net inference", 2020, and TensorFlow Lite's arena planner): the largest lease first,
/// each at the lowest offset that overlaps no already placed lease alive at the same time.
/// Optimal packing is NP-hard; on the traces of ResNet-18 and ResNet-50 training steps this
/// reaches exactly the most bytes ever leased at once (performance.md).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <vector>

#include <smile/core/error.hpp>

namespace smile {

/// One event of an episode.
struct lease_event {
    enum class kind : std::uint8_t { acquire, release };
    kind what = kind::acquire;
    /// acquire: the floats requested; release: which acquisition of the episode (0, 1, …) ends.
    std::size_t value = 0;

    [[nodiscard]] static lease_event acquire(std::size_t floats) noexcept { return {kind::acquire, floats}; }
    [[nodiscard]] static lease_event release(std::size_t acquisition) noexcept { return {kind::release, acquisition}; }
    friend bool operator==(const lease_event&, const lease_event&) = default;
};

/// Leases start at multiples of this many floats (64 bytes: a cache line, and the alignment
/// oneDNN asks of its buffers).
inline constexpr std::size_t lease_alignment_floats = 16;

[[nodiscard]] constexpr std::size_t aligned_lease_floats(std::size_t floats) noexcept {
    return (floats + lease_alignment_floats - 1) / lease_alignment_floats * lease_alignment_floats;
}

/// A recorded episode and where its leases go.
struct lease_plan {
    std::vector<lease_event> events;
    std::vector<std::size_t> offsets;  ///< per acquisition, in floats from the block's start
    std::size_t extent = 0;            ///< floats the block needs
};

/// Plans `events`, a complete episode: every acquisition is released exactly once, after it.
[[nodiscard]] inline lease_plan plan_leases(std::vector<lease_event> events) {
    struct lifetime {
        std::size_t floats, first, last;  // aligned size; event indices of acquire and release
    };
    std::vector<lifetime> leases;
    constexpr std::size_t open = ~std::size_t(0);
    for (std::size_t i = 0; i < events.size(); ++i) {
        const auto& e = events[i];
        if (e.what == lease_event::kind::acquire) {
            leases.push_back({aligned_lease_floats(e.value), i, open});
        } else {
            SMILE_CHECK(e.value < leases.size() && leases[e.value].last == open,
                        "plan_leases: event ", i, " releases acquisition ", e.value, ", which is not leased");
            leases[e.value].last = i;
        }
    }
    for (std::size_t k = 0; k < leases.size(); ++k)
        SMILE_CHECK(leases[k].last != open, "plan_leases: acquisition ", k, " is never released");

    std::vector<std::size_t> order(leases.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return leases[a].floats > leases[b].floats; });

    lease_plan plan;
    plan.offsets.assign(leases.size(), 0);
    std::vector<std::size_t> placed;  // acquisitions placed so far
    struct span {
        std::size_t begin, end;
    };
    std::vector<span> taken;  // offsets used by placed leases alive at the same time as the next one
    for (const std::size_t k : order) {
        const auto& lease = leases[k];
        taken.clear();
        for (const std::size_t j : placed) {
            const auto& other = leases[j];
            if (other.first < lease.last && lease.first < other.last)
                taken.push_back({plan.offsets[j], plan.offsets[j] + other.floats});
        }
        std::sort(taken.begin(), taken.end(), [](const span& a, const span& b) { return a.begin < b.begin; });
        std::size_t offset = 0;  // lowest gap that fits
        for (const auto& t : taken) {
            if (t.begin >= offset + lease.floats) break;
            offset = std::max(offset, t.end);
        }
        plan.offsets[k] = offset;
        plan.extent = std::max(plan.extent, offset + lease.floats);
        placed.push_back(k);
    }
    plan.events = std::move(events);
    return plan;
}

}  // namespace smile
