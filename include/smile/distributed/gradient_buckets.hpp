#pragma once
/// @file
/// `gradient_buckets<B>`: the data-parallel gradient seam in buckets, summed while backward still
/// runs (what PyTorch DDP's reducer does).
///
/// Layout. An optimizer's parameters are laid out in reverse order (the order backward produces
/// their gradients: the heads first, the stem last) in buckets of at most
/// `session::gradient_bucket_bytes()`, the first at most 1 MiB so that summing starts early. A
/// bucket is one block of backend memory and every gradient in it lives there
/// (`tensor::aliasing`), each at a 64-byte boundary, so that a bucket is summed as one message
/// without copying gradients in or out. The padding between gradients is zero and stays zero.
///
/// A round. While a model's backward runs, the session says whenever the gradients written so far
/// are final (between layers, core/session.hpp); a bucket whose every gradient is fresh starts
/// its sum then, through the communicator's non-blocking all-reduce (MPI_Iallreduce, or NCCL on a
/// stream of its own beside the compute stream). When the outermost backward returns (or at the
/// optimizer's step, for a backward outside any model), `finish` starts what is left (only runs of
/// fresh gradients: a parameter that got no gradient this step, such as the unused source head of
/// plain fine-tuning, is left alone, on every rank alike), waits for every sum and divides by the
/// number of ranks. So, as with DDP, gradients hold the global batch's mean as soon as backward
/// returns, and what a method does with them afterwards (L2-SP's pull toward the anchor,
/// clipping) works on the mean. A gradient that a second backward writes again (SMILE's clean
/// pass) is a rank's own again and is averaged again; the mean is linear, so a sum of averaged
/// parts is the average of the sum.
///
/// Checked: a gradient written while its bucket was being summed is an error that names it. A
/// gradient that left its bucket (a layer reallocated it) is copied back in before its sum.
///
/// Every rank runs the same code, so every rank starts the same sums in the same order: which
/// gradients are fresh does not depend on the data.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <smile/core/error.hpp>
#include <smile/core/parameter.hpp>
#include <smile/core/session.hpp>
#include <smile/distributed/parallel.hpp>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace smile {

template <Backend B>
class gradient_buckets final : public backward_listener<B> {
public:
    using named_parameters = std::vector<std::pair<std::string, parameter<B>*>>;

    /// What the last round that summed anything did: how many buckets started during backward (overlapped)
    /// and at its end, and how many messages were summed in all.
    struct round_report {
        std::size_t started_in_backward = 0;
        std::size_t started_at_end = 0;
        std::size_t messages = 0;
    };

    /// Lays out `params` (the optimizer's, in its order) and moves their gradients, where they
    /// exist, into the buckets.
    gradient_buckets(session<B>& s, const named_parameters& params, std::size_t bucket_bytes) {
        SMILE_CHECK(bucket_bytes >= sizeof(float), "gradient buckets: a bucket must hold at least one value, got ",
                    bucket_bytes, " bytes");
        const std::size_t cap = bucket_bytes / sizeof(float);
        const std::size_t first_cap = std::min(cap, first_bucket_floats);
        std::size_t filled = 0;
        for (auto it = params.rbegin(); it != params.rend(); ++it) {
            const std::size_t n = it->second->value.size();
            const std::size_t limit = buckets_.size() == 1 ? first_cap : cap;
            if (buckets_.empty() || (!buckets_.back().slots.empty() && filled + n > limit)) {
                buckets_.emplace_back();
                filled = 0;
            }
            buckets_.back().slots.push_back({it->first, it->second, filled, 0});
            filled += padded(n);
        }
        for (bucket& b : buckets_) {
            const slot& last = b.slots.back();
            b.storage = tensor<B>::zeros(s.context(), {std::int64_t(last.offset + padded(last.p->value.size())), 1, 1, 1});
            b.base = std::as_const(b.storage).data();
            for (slot& sl : b.slots) place(s, b, sl, sl.p->has_grad());
        }
    }

    gradient_buckets(const gradient_buckets&) = delete;
    gradient_buckets& operator=(const gradient_buckets&) = delete;

    /// The gradients leave the buckets, whose memory goes with them: a fresh one (not consumed
    /// by a step yet: the bucket size changed, the optimizer was re-attached) is copied into
    /// storage of its own, the others are dropped (they are written anew by the next backward).
    /// So the parameters must outlive the buckets: an optimizer is destroyed or re-attached
    /// before the parameters it was attached to.
    ~gradient_buckets() override {
        for (bucket& b : buckets_)
            for (slot& sl : b.slots) {
                if (!placed(b, sl)) continue;
                tensor<B> own;
                if (sl.p->has_fresh_grad()) {
                    try {
                        own = std::as_const(sl.p->grad).clone();
                    } catch (...) {  // out of memory while tearing down: the gradient is lost
                    }
                }
                sl.p->grad = std::move(own);
            }
    }

    /// The parameter names of each bucket, in the order the buckets are summed.
    [[nodiscard]] std::vector<std::vector<std::string>> layout() const {
        std::vector<std::vector<std::string>> names;
        for (const bucket& b : buckets_) {
            names.emplace_back();
            for (const slot& sl : b.slots) names.back().push_back(sl.name);
        }
        return names;
    }
    [[nodiscard]] const round_report& last_round() const noexcept { return last_; }

    /// Starts every bucket whose gradients are all fresh, in its bucket, and not yet averaged.
    void gradients_written(session<B>& s) override {
        if (!s.comm().distributed()) return;
        for (bucket& b : buckets_) {
            if (b.started) continue;
            const bool ready = std::all_of(b.slots.begin(), b.slots.end(),
                                           [&](const slot& sl) { return wants_sum(sl) && placed(b, sl); });
            if (!ready) continue;
            start(s, b, 0, b.slots.size());
            b.started = true;
            ++round_.started_in_backward;
        }
        s.comm().progress();
    }
    void backward_finished(session<B>& s) override { finish(s); }

    /// Starts the rest, waits for every sum and divides it by the number of ranks: every fresh
    /// gradient is the mean over the ranks afterwards, and marked averaged.
    void finish(session<B>& s) {
        communicator& c = s.comm();
        if (!c.distributed()) return;
        for (bucket& b : buckets_) {
            if (b.started) continue;
            for (slot& sl : b.slots)
                if (wants_sum(sl) && !placed(b, sl)) place(s, b, sl, true);
            const std::size_t n = b.slots.size();
            for (std::size_t i = 0; i < n;) {
                if (!wants_sum(b.slots[i])) {
                    ++i;
                    continue;
                }
                std::size_t j = i;
                while (j < n && wants_sum(b.slots[j])) ++j;
                start(s, b, i, j);
                i = j;
            }
            if (!b.runs.empty()) ++round_.started_at_end;
        }
        const float inverse = 1.0f / float(c.size());
        for (bucket& b : buckets_) {
            for (const run& r : b.runs) {
                complete(s, b, r);
                auto mean = b.storage.rows(std::int64_t(r.begin), std::int64_t(r.end));
                ops<B>::add(s.context(), inverse, mean, 0.0f, mean, mean);
                for (std::size_t k = r.first; k < r.last; ++k) {
                    slot& sl = b.slots[k];
                    SMILE_CHECK(sl.p->grad.generation() == sl.started_generation, "gradient buckets: the gradient of '",
                                sl.name, "' was written while its bucket was being summed across the ranks");
                    sl.p->mark_grad_averaged();
                }
            }
            round_.messages += b.runs.size();
            b.runs.clear();
            b.started = false;
        }
        if (round_.messages > 0) last_ = round_;  // a step's finish after backward's has nothing left
        round_ = {};
    }

private:
    /// 1 MiB: the first bucket's cap (DDP's), so that the head's sum starts at once.
    static constexpr std::size_t first_bucket_floats = (std::size_t(1) << 20) / sizeof(float);
    /// Gradients start at 64-byte boundaries (16 floats), as the backends allocate.
    static constexpr std::size_t padded(std::size_t n) noexcept { return (n + 15) / 16 * 16; }

    struct slot {
        std::string name;
        parameter<B>* p;
        std::size_t offset;                    // floats from the bucket's start
        std::uint64_t started_generation = 0;  // the gradient's generation when its sum started
    };
    /// Slots [first, last) summed as one message over floats [begin, end) of the bucket.
    struct run {
        std::size_t first, last, begin, end;
        std::size_t ticket = 0;
        enum class engine { host_buffers, device_stream, staged } how = engine::host_buffers;
    };
    struct bucket {
        tensor<B> storage;
        const float* base = nullptr;  // storage's memory (backend memory: never dereferenced here)
        std::vector<slot> slots;
        std::vector<run> runs;  // this round's
        bool started = false;   // this round's sums have started
    };

    static bool wants_sum(const slot& sl) noexcept { return sl.p->has_fresh_grad() && !sl.p->grad_averaged(); }
    static bool placed(const bucket& b, const slot& sl) noexcept {
        const tensor<B>& g = sl.p->grad;
        return !g.empty() && !g.owns_storage() && std::as_const(g).data() == b.base + sl.offset;
    }

    /// Makes the slot's gradient live in the bucket; `keep` copies its current values in.
    void place(session<B>& s, bucket& b, slot& sl, bool keep) {
        parameter<B>& p = *sl.p;
        auto at = b.storage.rows(std::int64_t(sl.offset), std::int64_t(sl.offset + p.value.size()));
        tensor<B> home = tensor<B>::aliasing(s.context(), at.data, p.value.shape());
        if (keep && p.has_grad() && p.grad.shape() == p.value.shape())
            ops<B>::copy(s.context(), std::as_const(p.grad).view(), home.view());
        p.grad = std::move(home);
    }

    void start(session<B>& s, bucket& b, std::size_t first, std::size_t last) {
        run r{first, last, b.slots[first].offset, b.slots[last - 1].offset + b.slots[last - 1].p->value.size()};
        for (std::size_t k = first; k < last; ++k) b.slots[k].started_generation = b.slots[k].p->grad.generation();
        float* data = b.storage.rows(std::int64_t(r.begin), std::int64_t(r.end)).data;
        const std::size_t n = r.end - r.begin;
        communicator& c = s.comm();
        if (detail::on_device(s, [&](void* stream) { r.ticket = c.start_device_allreduce_sum(data, n, stream); })) {
            r.how = run::engine::device_stream;
        } else if constexpr (host_addressable<B>) {
            s.synchronize();  // the gradients are complete before another process reads them
            r.ticket = c.start_allreduce_sum(std::span<float>(data, n));
            r.how = run::engine::host_buffers;
        } else {
            r.how = run::engine::staged;  // summed through host memory in `complete`
        }
        b.runs.push_back(r);
    }

    void complete(session<B>& s, bucket& b, const run& r) {
        communicator& c = s.comm();
        switch (r.how) {
            case run::engine::device_stream:
                (void)detail::on_device(s, [&](void* stream) { c.wait_device(r.ticket, stream); });
                break;
            case run::engine::host_buffers: c.wait(r.ticket); break;
            case run::engine::staged: {
                auto range = b.storage.rows(std::int64_t(r.begin), std::int64_t(r.end));
                std::vector<float> staged(r.end - r.begin);
                ops<B>::download(s.context(), range, staged.data());
                c.allreduce_sum(std::span<float>(staged));
                ops<B>::upload(s.context(), staged.data(), range);
                break;
            }
        }
    }

    std::vector<bucket> buckets_;
    round_report round_, last_;
};

}  // namespace smile
