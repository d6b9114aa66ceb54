#pragma once
/// @file
/// Sentences made ready for a BERT: `encoded_text` holds each sentence's token ids once
/// (tokenized a single time, unpadded), and `text_batch` is a padded batch of them with labels.

#include <algorithm>
#include <cstdint>
#include <smile/models/bert/token_batch.hpp>
#include <smile/text/sst.hpp>
#include <smile/text/wordpiece.hpp>
#include <vector>

namespace smile {

/// A batch of sentences with their labels. In a data-parallel run it is this rank's share of the
/// global batch, and the global batch rides along (`whole_tokens`, `whole_labels`, `first`):
/// padded to the global batch's longest sentence, the share is rows [first, first + size()) of
/// it, so that what couples the global batch (mixing, dropout's masks) can be computed as one
/// process would.
struct text_batch {
    token_batch tokens;
    std::vector<std::int64_t> labels;
    token_batch whole_tokens;  ///< empty (batch 0) unless this is a share
    std::vector<std::int64_t> whole_labels;
    std::int64_t first = 0;

    [[nodiscard]] std::int64_t size() const noexcept { return tokens.batch; }
    [[nodiscard]] bool is_share() const noexcept { return whole_tokens.batch > 0; }
    [[nodiscard]] std::int64_t global_size() const noexcept {
        return is_share() ? whole_tokens.batch : tokens.batch;
    }
    [[nodiscard]] const std::vector<std::int64_t>& global_labels() const noexcept {
        return is_share() ? whole_labels : labels;
    }
    /// Where the share sits, for the model (empty for a whole batch).
    [[nodiscard]] token_share share() const noexcept {
        return is_share() ? token_share{&whole_tokens, first} : token_share{};
    }
    /// Becomes the share [first, first + count) of `whole` (copied; storage reused).
    void assign_share(const text_batch& whole, std::int64_t first_row, std::int64_t count) {
        SMILE_CHECK(!whole.is_share(), "text batch: a share of a share");
        tokens.assign_rows(whole.tokens, first_row, count);
        labels.assign(whole.labels.begin() + std::ptrdiff_t(first_row),
                      whole.labels.begin() + std::ptrdiff_t(first_row + count));
        whole_tokens = whole.tokens;
        whole_labels = whole.labels;
        first = first_row;
    }
};

/// Every sentence of a split, tokenized: [CLS] tokens [SEP], at most `max_length` ids.
struct encoded_text {
    std::vector<text::encoding> encodings;
    std::vector<std::int64_t> labels;
    std::int32_t padding_id = 0;

    [[nodiscard]] std::size_t size() const noexcept { return encodings.size(); }

    static encoded_text encode(const std::vector<text::text_example>& examples,
                               const text::wordpiece_tokenizer& tokenizer, std::size_t max_length) {
        encoded_text out;
        out.padding_id = tokenizer.id(tokenizer.options().padding);
        out.encodings.reserve(examples.size());
        out.labels.reserve(examples.size());
        for (const auto& e : examples) {
            out.encodings.push_back(tokenizer.encode(e.text, max_length, false));
            out.labels.push_back(e.label);
        }
        return out;
    }

    /// The sentences `rows` as one batch, padded to the longest of them: a sentence's logits do
    /// not depend on the padding (the padding-invariance test), so a batch is never longer than
    /// it needs to be.
    void gather(const std::vector<std::size_t>& rows, text_batch& out) const {
        std::size_t length = 0;
        for (auto r : rows) length = std::max(length, encodings.at(r).ids.size());
        auto& t = out.tokens;
        t.batch = std::int64_t(rows.size());
        t.length = std::int64_t(length);
        t.input_ids.assign(rows.size() * length, padding_id);
        t.token_type_ids.assign(rows.size() * length, 0);
        t.attention_mask.assign(rows.size() * length, 0.0f);
        out.labels.clear();
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const auto& e = encodings[rows[i]];
            std::copy(e.ids.begin(), e.ids.end(), t.input_ids.begin() + std::ptrdiff_t(i * length));
            std::copy(e.token_types.begin(), e.token_types.end(),
                      t.token_type_ids.begin() + std::ptrdiff_t(i * length));
            for (std::size_t k = 0; k < e.attention_mask.size(); ++k)
                t.attention_mask[i * length + k] = float(e.attention_mask[k]);
            out.labels.push_back(labels[rows[i]]);
        }
    }
};

}  // namespace smile
