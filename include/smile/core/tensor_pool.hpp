#pragma once
/// @file
/// `tensor_pool<B>`: transient tensors (activations kept for backward, gradient ping-pong
/// buffers, evaluation-mode intermediates, loss temporaries) leased for the duration of a call.
///
/// Leases return their tensor to the pool on destruction. The pool serves them from one block,
/// the arena, at offsets planned ahead (core/lease_plan.hpp):
/// - an *episode* is everything between two moments when nothing is leased: a training step's
///   forward and backward, a teacher's forward. The pool records each episode's acquisitions
///   and releases, and once an episode has ended it plans where every lease of that sequence
///   goes, packed greedily by size into the arena;
/// - when the next episode starts, the pool predicts which recorded sequence comes (the one
///   that followed the previous episode's sequence last time, else the most recent one that
///   begins with the same request) and hands out the planned offsets for as long as the
///   requests and releases match it event for event. Up to the first difference every live
///   lease is where the plan put it, so the plan's offsets overlap nothing alive;
/// - a request off the plan (a new shape, a new order) gets the smallest free gap of the arena
///   between the live leases, or, when none fits, a tensor of its own from the overflow slots
///   (best fit among those free, kept for reuse; when none fits, the free ones are freed before
///   a new one is allocated). Before the next episode starts, the arena grows to the largest
///   plan when it is too small (the overflow tensors are freed first), and overflow tensors
///   that `max_plans` episodes in a row have not needed are freed.
/// A training loop that repeats its steps therefore allocates nothing after its first steps and
/// holds about the most bytes it ever leases at once, where a pool of separate tensors held
/// 15 % more on ResNet-50 (docs/performance.md).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <smile/core/lease_plan.hpp>
#include <smile/core/tensor.hpp>

namespace smile {

template <Backend B>
class tensor_pool {
    enum class placement : std::uint8_t { arena, overflow };
    struct slot {
        tensor_pool* owner = nullptr;
        tensor<B> value;
        bool busy = false;
        placement where = placement::overflow;
        std::size_t offset = 0;       // arena leases: first float in the arena
        std::size_t floats = 0;       // floats requested (arena leases occupy them aligned)
        std::size_t acquisition = 0;  // index among the episode's acquisitions
    };
    struct recorded_plan {
        lease_plan plan;
        std::uint64_t id = 0, last_used = 0;
        std::uint64_t successor = 0;  // the plan of the episode that followed this one last time (0: none)
    };
    struct span {
        std::size_t begin, end;  // floats of the arena
    };

public:
    /// Plans kept (least recently used dropped first): a training loop's few distinct episodes
    /// (student step, teacher forward, evaluation) with room for partial last batches.
    static constexpr std::size_t max_plans = 16;
    /// An episode longer than this is not recorded, so not planned: it is served from the
    /// arena's gaps and the overflow tensors. A training step has a few hundred to a few thousand
    /// events (ResNet-50: 460, EfficientNet-B4: 1,714, ResNet-18: 180); far longer ones span many
    /// steps with some lease held throughout (a training-mode forward with no backward keeps its
    /// activations until the next forward), which would not repeat and whose planning, quadratic
    /// in the leases, would cost more than it saves.
    static constexpr std::size_t max_episode_events = std::size_t(1) << 14;

    /// A tensor borrowed from the pool until the lease is destroyed.
    class lease {
    public:
        lease() = default;
        explicit lease(slot* s) noexcept : slot_(s) {}
        lease(const lease&) = delete;
        lease& operator=(const lease&) = delete;
        lease(lease&& other) noexcept : slot_(std::exchange(other.slot_, nullptr)) {}
        lease& operator=(lease&& other) noexcept {
            if (this != &other) {
                give_back();
                slot_ = std::exchange(other.slot_, nullptr);
            }
            return *this;
        }
        ~lease() { give_back(); }

        [[nodiscard]] tensor<B>& operator*() const noexcept { return slot_->value; }
        [[nodiscard]] tensor<B>* operator->() const noexcept { return &slot_->value; }
        [[nodiscard]] tensor<B>& get() const noexcept { return slot_->value; }
        /// The leased tensor, or null when the lease holds nothing.
        [[nodiscard]] tensor<B>* get_if() const noexcept { return slot_ ? &slot_->value : nullptr; }
        explicit operator bool() const noexcept { return slot_ != nullptr; }

    private:
        void give_back() noexcept {
            if (slot_ != nullptr) slot_->owner->give_back(*slot_);
            slot_ = nullptr;
        }
        slot* slot_ = nullptr;
    };

    tensor_pool() = default;
    tensor_pool(const tensor_pool&) = delete;
    tensor_pool& operator=(const tensor_pool&) = delete;

    /// Leases a tensor of `shape` (contents unspecified).
    [[nodiscard]] lease acquire(typename B::context& ctx, shape4 shape) {
        check_valid_shape("tensor_pool::acquire", shape);
        const std::size_t needed = shape.size();
        if (leased_ == 0) begin_episode(ctx, needed);
        const std::size_t acquisition = acquisitions_++;
        const bool on_plan = follow(lease_event::acquire(needed));

        slot* chosen = nullptr;
        try {
            chosen = place(ctx, shape, on_plan ? std::optional<std::size_t>(plan_->plan.offsets[acquisition])
                                               : free_gap(aligned_lease_floats(needed)));
        } catch (...) {
            // Out of memory: what is leased no longer matches the record, so this episode is
            // neither followed nor planned.
            following_ = false;
            stop_recording();
            throw;
        }
        chosen->busy = true;
        chosen->floats = needed;
        chosen->acquisition = acquisition;
        ++leased_;
        leased_floats_ += needed;
        peak_floats_ = std::max(peak_floats_, leased_floats_);
        return lease(chosen);
    }

    /// Bytes held: the arena and the overflow tensors.
    [[nodiscard]] std::size_t bytes() const noexcept {
        std::size_t floats = arena_.capacity();
        for (const auto& s : slots_)
            if (s->where == placement::overflow) floats += s->value.capacity();
        return floats * sizeof(float);
    }
    /// Bytes of the arena alone.
    [[nodiscard]] std::size_t arena_bytes() const noexcept { return arena_.capacity() * sizeof(float); }
    /// Leases that can be out at once without a new lease record (diagnostics).
    [[nodiscard]] std::size_t tensors() const noexcept { return slots_.size(); }
    /// Bytes of the tensors currently leased (the shapes requested, not what they occupy).
    [[nodiscard]] std::size_t bytes_in_use() const noexcept { return leased_floats_ * sizeof(float); }
    /// The most bytes ever leased at once: what a perfect packing would need, against `bytes()`.
    [[nodiscard]] std::size_t peak_bytes_in_use() const noexcept { return peak_floats_ * sizeof(float); }
    /// Episodes begun, and of those ended so far the ones served wholly by a plan.
    [[nodiscard]] std::uint64_t episodes() const noexcept { return episodes_; }
    [[nodiscard]] std::uint64_t planned_episodes() const noexcept { return planned_episodes_; }
    /// Distinct episodes recorded and planned (at most `max_plans`).
    [[nodiscard]] std::size_t plans() const noexcept { return plans_.size(); }

private:
    /// The end of the previous episode is handled here, when the next begins, rather than in
    /// the last release: planning allocates and may throw, which a lease's destructor must not.
    void begin_episode(typename B::context& ctx, std::size_t first_request) {
        conclude_episode(ctx);
        fit_arena(ctx);
        ++episodes_;
        episode_open_ = true;
        acquisitions_ = 0;
        position_ = 0;
        overflowed_ = false;
        trace_.clear();
        recording_ = true;
        plan_ = predict(lease_event::acquire(first_request));
        following_ = plan_ != nullptr;
    }

    /// Records `e` and says whether the episode still follows its plan.
    bool follow(const lease_event& e) noexcept {
        if (recording_) {
            if (trace_.size() >= max_episode_events) {
                stop_recording();
            } else {
                try {
                    trace_.push_back(e);
                } catch (...) {
                    stop_recording();
                }
            }
        }
        if (following_) {
            following_ = position_ < plan_->plan.events.size() && plan_->plan.events[position_] == e;
            ++position_;
        }
        return following_;
    }

    void stop_recording() noexcept {
        recording_ = false;
        trace_.clear();
        trace_.shrink_to_fit();
    }

    void give_back(slot& s) noexcept {
        (void)follow(lease_event::release(s.acquisition));
        if (s.where == placement::arena) {
            vacate(s.offset);
            s.value = tensor<B>{};  // an alias: frees nothing (unless a caller resized it past its lease)
        }
        s.busy = false;
        --leased_;
        leased_floats_ -= s.floats;
    }

    /// Plans the episode that has just ended, unless it ran on a plan or repeats a recorded one.
    void conclude_episode(typename B::context& ctx) {
        if (!episode_open_) return;
        episode_open_ = false;
        // Overflow tensors nobody has needed for a while are freed (a mispredicted step's, say).
        calm_episodes_ = overflowed_ ? 0 : calm_episodes_ + 1;
        if (calm_episodes_ == max_plans) free_overflow(ctx);
        recorded_plan* ran = nullptr;
        if (following_ && position_ == plan_->plan.events.size()) {
            ran = plan_;
            ++planned_episodes_;
        } else if (recording_) {
            const auto same = std::find_if(plans_.begin(), plans_.end(),
                                           [&](const auto& p) { return p->plan.events == trace_; });
            if (same != plans_.end()) ran = same->get();
            if (ran == nullptr) ran = &remember(plan_leases(trace_));
        }
        plan_ = nullptr;
        following_ = false;
        if (ran == nullptr) {
            previous_ = 0;
            return;
        }
        ran->last_used = ++clock_;
        if (auto* before = find(previous_)) before->successor = ran->id;
        previous_ = ran->id;
    }

    recorded_plan& remember(lease_plan plan) {
        if (plans_.size() == max_plans) {
            auto oldest = std::min_element(plans_.begin(), plans_.end(), [](const auto& a, const auto& b) {
                return a->last_used < b->last_used;
            });
            plans_.erase(oldest);
        }
        auto p = std::make_unique<recorded_plan>();
        p->plan = std::move(plan);
        p->id = ++next_id_;
        plans_.push_back(std::move(p));
        return *plans_.back();
    }

    [[nodiscard]] recorded_plan* find(std::uint64_t id) noexcept {
        if (id == 0) return nullptr;
        for (auto& p : plans_)
            if (p->id == id) return p.get();
        return nullptr;
    }

    /// The plan the episode beginning with `first` most likely follows, if any fits the arena.
    [[nodiscard]] recorded_plan* predict(const lease_event& first) noexcept {
        auto fits = [&](const recorded_plan* p) {
            return p != nullptr && !p->plan.events.empty() && p->plan.events.front() == first &&
                   p->plan.extent <= arena_.capacity();
        };
        if (auto* before = find(previous_); before != nullptr) {
            if (auto* next = find(before->successor); fits(next)) return next;
        }
        recorded_plan* best = nullptr;
        for (auto& p : plans_)
            if (fits(p.get()) && (best == nullptr || p->last_used > best->last_used)) best = p.get();
        return best;
    }

    /// Between episodes: grows the arena to the largest plan, freeing the overflow tensors first
    /// (nothing is leased, so nothing lives in either).
    void fit_arena(typename B::context& ctx) {
        std::size_t wanted = 0;
        for (const auto& p : plans_) wanted = std::max(wanted, p->plan.extent);
        if (wanted <= arena_.capacity()) return;
        arena_ = tensor<B>{};  // the old arena goes before the new one is allocated
        free_overflow(ctx);
        arena_.bind(ctx);
        arena_.resize({static_cast<std::int64_t>(wanted), 1, 1, 1});
    }

    /// A lease record holding `shape` at `offset` of the arena, or in an overflow tensor.
    slot* place(typename B::context& ctx, const shape4& shape, std::optional<std::size_t> offset) {
        const std::size_t needed = shape.size();
        if (!offset) {
            slot* chosen = overflow_slot(needed);
            chosen->value.bind(ctx);
            chosen->value.resize(shape);
            overflowed_ = true;
            return chosen;
        }
        occupy({*offset, *offset + aligned_lease_floats(needed)});
        slot* chosen = nullptr;
        try {
            chosen = idle_arena_slot();
        } catch (...) {
            vacate(*offset);
            throw;
        }
        chosen->value = tensor<B>::aliasing(ctx, arena_.data() + *offset, shape);
        chosen->offset = *offset;
        return chosen;
    }

    /// Frees every overflow tensor (none is leased between episodes), and has a caching backend
    /// give the blocks back to the device rather than keep them beside the arena.
    void free_overflow(typename B::context& ctx) {
        bool freed = false;
        for (auto& s : slots_)
            if (s->where == placement::overflow && s->value.capacity() > 0) {
                s->value = tensor<B>{};
                freed = true;
            }
        if (freed) ops<B>::release_cached_memory(ctx);
    }

    /// The smallest gap of the arena between live leases that holds `floats`.
    [[nodiscard]] std::optional<std::size_t> free_gap(std::size_t floats) const noexcept {
        std::optional<std::size_t> best;
        std::size_t best_size = 0, from = 0;
        auto consider = [&](std::size_t until) {
            if (until >= from + floats && (!best || until - from < best_size)) {
                best = from;
                best_size = until - from;
            }
        };
        for (const auto& l : live_) {
            consider(l.begin);
            from = l.end;
        }
        consider(arena_.capacity());
        return best;
    }

    void occupy(span s) {
        const auto at = std::lower_bound(live_.begin(), live_.end(), s.begin,
                                         [](const span& l, std::size_t b) { return l.begin < b; });
        live_.insert(at, s);
    }
    void vacate(std::size_t begin) noexcept {
        const auto at = std::lower_bound(live_.begin(), live_.end(), begin,
                                         [](const span& l, std::size_t b) { return l.begin < b; });
        if (at != live_.end() && at->begin == begin) live_.erase(at);
    }

    /// A free lease record for the arena (its tensor was emptied on release), made when none is free.
    slot* idle_arena_slot() {
        for (auto& s : slots_)
            if (!s->busy && s->where == placement::arena) return s.get();
        return new_slot(placement::arena);
    }

    /// The free overflow tensor that fits `needed` most tightly. When none fits, every free
    /// overflow tensor is smaller than `needed` and is freed before a new one is allocated: the
    /// pool never holds idle memory while it allocates, so an episode with no plan yet (a
    /// training loop's first step, which the process's peak memory counts) holds about what it
    /// has leased, not that plus the blocks its earlier requests freed.
    slot* overflow_slot(std::size_t needed) {
        slot* best_fit = nullptr;
        slot* empty = nullptr;
        for (auto& s : slots_) {
            if (s->busy || s->where != placement::overflow) continue;
            const std::size_t cap = s->value.capacity();
            if (cap >= needed && (best_fit == nullptr || cap < best_fit->value.capacity())) best_fit = s.get();
            if (empty == nullptr && cap == 0) empty = s.get();
        }
        if (best_fit != nullptr) return best_fit;
        for (auto& s : slots_)
            if (!s->busy && s->where == placement::overflow && s->value.capacity() > 0) {
                s->value = tensor<B>{};
                if (empty == nullptr) empty = s.get();
            }
        return empty != nullptr ? empty : new_slot(placement::overflow);
    }

    slot* new_slot(placement where) {
        auto s = std::make_unique<slot>();
        s->owner = this;
        s->where = where;
        slots_.push_back(std::move(s));
        return slots_.back().get();
    }

    tensor<B> arena_;
    std::vector<std::unique_ptr<slot>> slots_;
    std::vector<span> live_;  // arena leases out now, by offset
    std::vector<std::unique_ptr<recorded_plan>> plans_;
    std::vector<lease_event> trace_;  // the current episode, while recorded
    recorded_plan* plan_ = nullptr;   // the plan the current episode was predicted to follow
    bool following_ = false, recording_ = false, episode_open_ = false, overflowed_ = false;
    std::size_t position_ = 0, acquisitions_ = 0, calm_episodes_ = 0;
    std::size_t leased_ = 0, leased_floats_ = 0, peak_floats_ = 0;
    std::uint64_t previous_ = 0, clock_ = 0, next_id_ = 0;
    std::uint64_t episodes_ = 0, planned_episodes_ = 0;
};

}  // namespace smile
