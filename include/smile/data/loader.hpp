#pragma once
/// @file
/// `loader`: batches of transformed images as host float32 NCHW (xtensor) with their labels.
///
/// - Deterministic: batch k's content depends only on the seed and k. Each pass over the data
///   is ordered by a permutation drawn from a stream derived from (seed, pass); each image's
///   random augmentation from a stream derived from (seed, its position in the whole run). The
///   number of worker threads changes only the speed.
/// - Training: endless, reshuffled every pass, and with drop_last only full batches (the SMILE
///   authors' loop restarts its iterator each pass and never uses the partial last batch).
///   `start_batch` = k continues a resumed run at batch k.
/// - Evaluation: one pass in dataset order, the last batch possibly partial (`next()` returns
///   null at the end).
/// - Workers decode and augment ahead into a bounded ring of `prefetch` batch buffers; the
///   batch returned by `next()` stays valid until the following call.
/// - An unreadable image is an error naming the file. With `skip_unreadable` it is replaced by
///   the next readable image of the same pass (deterministically) and reported by `skipped()`.

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <smile/data/dataset.hpp>
#include <smile/data/pipeline.hpp>
#include <smile/io/xtensor_compat.hpp>

namespace smile::data {

/// A batch on the host: images [n, c, h, w] and their labels.
struct host_batch {
    xt::xtensor<float, 4> images;
    std::vector<std::int64_t> labels;
    [[nodiscard]] std::int64_t size() const { return std::int64_t(labels.size()); }
};

struct loader_options {
    std::int64_t batch_size = 48;
    bool shuffle = true;
    bool drop_last = true;
    bool endless = true;          ///< false: one pass, then next() returns null
    std::size_t workers = 2;      ///< 0: decode in the calling thread
    std::size_t prefetch = 4;     ///< batches decoded ahead (≥ 1)
    std::uint64_t seed = 0;
    bool skip_unreadable = false;
    std::int64_t start_batch = 0;  ///< the first batch to produce (resuming a run)
    /// Data-parallel ranks: produce only items [slice_begin, slice_begin + slice_size) of every
    /// batch of batch_size (0: the whole batch). Every item is the one a single process would
    /// put at that place of that batch, with the same augmentation, so the ranks' slices
    /// together are the single-process batch. Needs drop_last (every batch full).
    std::int64_t slice_begin = 0;
    std::int64_t slice_size = 0;
};

class loader {
public:
    loader(std::shared_ptr<const dataset> data, std::vector<sample> samples, pipeline transform, loader_options o)
        : data_(std::move(data)), samples_(std::move(samples)), transform_(std::move(transform)), o_(o) {
        SMILE_CHECK(data_ != nullptr, "loader: no dataset");
        SMILE_CHECK(o_.batch_size > 0, "loader: batch_size must be positive");
        SMILE_CHECK(!samples_.empty(), "loader: no samples");
        SMILE_CHECK(!o_.drop_last || std::int64_t(samples_.size()) >= o_.batch_size, "loader: ", samples_.size(),
                    " samples cannot fill one batch of ", o_.batch_size, " with drop_last");
        SMILE_CHECK(o_.slice_size >= 0 && o_.slice_begin >= 0 &&
                        o_.slice_begin + o_.slice_size <= o_.batch_size,
                    "loader: the slice [", o_.slice_begin, ", ", o_.slice_begin + o_.slice_size,
                    ") is outside a batch of ", o_.batch_size);
        SMILE_CHECK(o_.slice_size == 0 || o_.drop_last,
                    "loader: a slice of every batch needs drop_last");
        o_.prefetch = std::max<std::size_t>(1, o_.prefetch);
        const auto n = std::int64_t(samples_.size());
        per_pass_ = o_.drop_last ? n / o_.batch_size : (n + o_.batch_size - 1) / o_.batch_size;
        SMILE_CHECK(o_.start_batch >= 0 && (o_.endless || o_.start_batch <= per_pass_),
                    "loader: start_batch ", o_.start_batch, " is outside the pass");
        consumed_ = next_batch_ = o_.start_batch;
        slots_.resize(o_.prefetch);
        for (std::size_t w = 0; w < o_.workers; ++w) workers_.emplace_back([this] { work(); });
    }
    loader(const loader&) = delete;
    loader& operator=(const loader&) = delete;
    ~loader() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        work_ready_.notify_all();
        for (auto& t : workers_) t.join();
    }

    /// The next batch (valid until the next call), or null after the last batch of a finite pass.
    const host_batch* next() {
        std::unique_lock lock(mutex_);
        if (handed_out_) {
            ++consumed_;
            handed_out_ = false;
            work_ready_.notify_all();
        }
        if (!o_.endless && consumed_ >= per_pass_) return nullptr;
        slot& s = slots_[std::size_t(consumed_ % std::int64_t(o_.prefetch))];
        if (o_.workers == 0) {
            lock.unlock();
            fill_synchronously(consumed_, s);
            lock.lock();
        } else {
            batch_done_.wait(lock, [&] { return s.batch == consumed_ && s.remaining == 0; });
        }
        handed_out_ = true;
        if (s.error) std::rethrow_exception(s.error);
        return &s.data;
    }

    [[nodiscard]] std::int64_t batches_per_pass() const noexcept { return per_pass_; }
    [[nodiscard]] std::int64_t batch_index() const noexcept { return consumed_; }
    [[nodiscard]] std::size_t skipped() const {
        std::lock_guard lock(mutex_);
        return skipped_files_.size();
    }
    [[nodiscard]] std::vector<std::string> skipped_files() const {
        std::lock_guard lock(mutex_);
        return {skipped_files_.begin(), skipped_files_.end()};
    }
    [[nodiscard]] const pipeline& transform() const noexcept { return transform_; }

private:
    struct slot {
        std::int64_t batch = -1;
        std::int64_t remaining = 0;
        host_batch data;
        std::exception_ptr error;
    };

    /// The sample index at `position` of pass `pass`.
    std::size_t sample_at(std::int64_t pass, std::int64_t position) {
        if (!o_.shuffle) return std::size_t(position);
        std::lock_guard lock(permutation_mutex_);
        if (permutation_pass_ != pass) {
            rng gen = rng::derive(o_.seed, 1, std::uint64_t(pass));
            permutation_ = gen.permutation(std::int64_t(samples_.size()));
            permutation_pass_ = pass;
        }
        return std::size_t(permutation_[std::size_t(position)]);
    }

    /// The items this loader produces of `batch` (its slice's, when sliced).
    [[nodiscard]] std::int64_t batch_size_of(std::int64_t batch) const {
        if (o_.slice_size > 0) return o_.slice_size;  // drop_last: every batch is full
        const std::int64_t first = (batch % per_pass_) * o_.batch_size;
        return std::min(o_.batch_size, std::int64_t(samples_.size()) - first);
    }

    void prepare(slot& s, std::int64_t batch) {
        const std::int64_t n = batch_size_of(batch);
        s.batch = batch;
        s.remaining = n;
        s.error = nullptr;
        const std::array<std::size_t, 4> shape{std::size_t(n), std::size_t(transform_.channels()),
                                               std::size_t(transform_.height()), std::size_t(transform_.width())};
        if (s.data.images.shape() != shape) s.data.images.resize(shape);
        s.data.labels.assign(std::size_t(n), 0);
    }

    /// Decodes and transforms item `i` of `batch` into `s` (may throw).
    void process(slot& s, std::int64_t batch, std::int64_t i) {
        const std::int64_t pass = batch / per_pass_;
        const std::int64_t item = o_.slice_begin + i;  // its place in the whole batch
        const std::int64_t position = (batch % per_pass_) * o_.batch_size + item;
        rng gen = rng::derive(o_.seed, 2, std::uint64_t(batch * o_.batch_size + item));
        const std::size_t plane = std::size_t(transform_.channels() * transform_.height() * transform_.width());
        float* out = s.data.images.data() + std::size_t(i) * plane;
        const auto n = std::int64_t(samples_.size());
        for (std::int64_t attempt = 0;; ++attempt) {
            const sample& smp = samples_[sample_at(pass, (position + attempt) % n)];
            try {
                transform_.apply(data_->load(smp), gen, out, data_->describe(smp));
                s.data.labels[std::size_t(i)] = smp.label;
                return;
            } catch (const error& e) {
                if (!o_.skip_unreadable || attempt + 1 >= std::min<std::int64_t>(n, 64)) throw;
                std::lock_guard lock(mutex_);
                skipped_files_.insert(e.what());
            }
        }
    }

    void fill_synchronously(std::int64_t batch, slot& s) {
        prepare(s, batch);
        for (std::int64_t i = 0; i < s.remaining; ++i) {
            try {
                process(s, batch, i);
            } catch (...) {
                if (!s.error) s.error = std::current_exception();
            }
        }
        s.remaining = 0;
    }

    void work() {
        std::unique_lock lock(mutex_);
        for (;;) {
            work_ready_.wait(lock, [&] {
                return stop_ || (next_batch_ < consumed_ + std::int64_t(o_.prefetch) &&
                                 (o_.endless || next_batch_ < per_pass_));
            });
            if (stop_) return;
            const std::int64_t batch = next_batch_, item = next_item_;
            slot& s = slots_[std::size_t(batch % std::int64_t(o_.prefetch))];
            if (item == 0) prepare(s, batch);
            if (++next_item_ == batch_size_of(batch)) {
                next_item_ = 0;
                ++next_batch_;
            }
            lock.unlock();
            std::exception_ptr failure;
            try {
                process(s, batch, item);
            } catch (...) {
                failure = std::current_exception();
            }
            lock.lock();
            if (failure && !s.error) s.error = failure;
            if (--s.remaining == 0) batch_done_.notify_all();
        }
    }

    std::shared_ptr<const dataset> data_;
    std::vector<sample> samples_;
    pipeline transform_;
    loader_options o_;
    std::int64_t per_pass_ = 0;

    mutable std::mutex mutex_;
    std::condition_variable work_ready_, batch_done_;
    std::vector<slot> slots_;
    std::vector<std::thread> workers_;
    std::int64_t consumed_ = 0;  // batches handed out and released
    bool handed_out_ = false;
    std::int64_t next_batch_ = 0, next_item_ = 0;
    bool stop_ = false;
    std::set<std::string> skipped_files_;

    std::mutex permutation_mutex_;
    std::int64_t permutation_pass_ = -1;
    std::vector<std::int64_t> permutation_;
};

}  // namespace smile::data
