#pragma once
/// @file
/// Batches of sentences for training, epoch after epoch: every epoch visits each sentence once in
/// an order drawn from the run's seed and the epoch's number (so batch k is the same whatever
/// came before it: a resumed run continues with exactly the batches an uninterrupted one would
/// see). The last batch of an epoch holds the remainder, as PyTorch's DataLoader without
/// drop_last (and Hugging Face's Trainer) do: 3 epochs of 8544 SST-5 sentences in batches of 24
/// are 3·356 = 1068 steps.

#include <cstdint>
#include <memory>
#include <smile/core/random.hpp>
#include <smile/text/text_batch.hpp>
#include <string>
#include <vector>

namespace smile {

struct text_loader_options {
    std::int64_t batch_size = 24;
    std::uint64_t seed = 0;
    std::int64_t start_batch = 0;  ///< the first batch to give (resuming at iteration k: k)
    /// Data-parallel: this rank's place among `ranks`; each batch is then the rank's equal,
    /// contiguous share of the global batch one process would take, padded as that batch is and
    /// carrying it (text_batch::is_share; docs/distributed.md).
    int rank = 0;
    int ranks = 1;
};

class text_loader {
public:
    text_loader(std::shared_ptr<const encoded_text> data, const text_loader_options& o)
        : data_(std::move(data)), o_(o) {
        SMILE_CHECK(data_ != nullptr && data_->size() > 0, "text loader: no sentences to train on");
        SMILE_CHECK(o.batch_size >= 1, "text loader: batch size must be at least 1, got ",
                    o.batch_size);
        SMILE_CHECK(o.start_batch >= 0, "text loader: negative start batch ", o.start_batch);
        SMILE_CHECK(o.ranks >= 1 && o.rank >= 0 && o.rank < o.ranks, "text loader: rank ", o.rank,
                    " of ", o.ranks);
        // Every batch of an epoch, the shorter last one included, must split evenly: each rank's
        // loss is the mean over its share, and the ranks' mean is the batch's mean only then.
        const auto remainder = std::int64_t(data_->size()) % o.batch_size;
        SMILE_CHECK(o.batch_size % o.ranks == 0 && remainder % o.ranks == 0, "--batch-size ",
                    o.batch_size, " over ", o.ranks, " ranks: every batch of an epoch of ",
                    data_->size(), " sentences must split evenly (the last one holds ",
                    remainder == 0 ? o.batch_size : remainder,
                    "); choose a batch size that makes both multiples of ", o.ranks);
        next_ = o.start_batch;
    }

    /// Steps in one epoch of `n` sentences in batches of `batch`: ⌈n / batch⌉.
    [[nodiscard]] static std::int64_t batches_per_epoch(std::size_t n, std::int64_t batch) {
        return (std::int64_t(n) + batch - 1) / batch;
    }
    [[nodiscard]] std::int64_t batches_per_epoch() const {
        return batches_per_epoch(data_->size(), o_.batch_size);
    }

    /// The next batch (valid until the next call).
    const text_batch* next() {
        const std::int64_t per_epoch = batches_per_epoch();
        const std::int64_t epoch = next_ / per_epoch, within = next_ % per_epoch;
        if (epoch != order_epoch_) {
            order_.resize(data_->size());
            for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
            rng gen = rng::derive(o_.seed, 0x74657874 /* "text" */, std::uint64_t(epoch));
            gen.shuffle(order_);
            order_epoch_ = epoch;
        }
        const auto from = std::size_t(within * o_.batch_size);
        const auto to = std::min(order_.size(), from + std::size_t(o_.batch_size));
        rows_.assign(order_.begin() + std::ptrdiff_t(from), order_.begin() + std::ptrdiff_t(to));
        ++next_;
        if (o_.ranks == 1) {
            data_->gather(rows_, batch_);
            return &batch_;
        }
        // A rank's share, padded as the global batch is, with the global batch alongside.
        data_->gather(rows_, whole_);
        const auto share = std::int64_t(rows_.size()) / o_.ranks;
        batch_.assign_share(whole_, share * o_.rank, share);
        return &batch_;
    }

    /// Text is read before training; nothing is skipped (the training loop asks).
    [[nodiscard]] std::vector<std::string> skipped_files() const { return {}; }

private:
    std::shared_ptr<const encoded_text> data_;
    text_loader_options o_;
    std::int64_t next_ = 0, order_epoch_ = -1;
    std::vector<std::size_t> order_, rows_;
    text_batch batch_, whole_;
};

}  // namespace smile
