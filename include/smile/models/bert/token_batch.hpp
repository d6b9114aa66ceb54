#pragma once
/// @file
/// `token_batch`: what a BERT reads, on the host: `batch` sequences of `length` tokens each
/// (row-major), their segment (token type) ids and the attention mask (1 for a token, 0 for
/// padding). Built from the tokenizer's encodings (text/wordpiece.hpp) or by hand.

#include <cstdint>
#include <smile/core/error.hpp>
#include <string>
#include <vector>

namespace smile {

struct token_batch {
    std::int64_t batch = 0;
    std::int64_t length = 0;
    std::vector<std::int64_t> input_ids;       ///< batch·length
    std::vector<std::int64_t> token_type_ids;  ///< batch·length (all 0 for one segment)
    std::vector<float> attention_mask;         ///< batch·length, 1 or 0

    /// From encodings of equal length (anything with `ids`, `token_types` and `attention_mask`).
    template <class Encodings>
    [[nodiscard]] static token_batch from_encodings(const Encodings& encodings) {
        token_batch b;
        for (const auto& e : encodings) {
            if (b.batch == 0) b.length = static_cast<std::int64_t>(e.ids.size());
            SMILE_CHECK(static_cast<std::int64_t>(e.ids.size()) == b.length &&
                            e.token_types.size() == e.ids.size() &&
                            e.attention_mask.size() == e.ids.size(),
                        "token_batch: encoding ", b.batch, " has ", e.ids.size(), " ids, ",
                        e.token_types.size(), " token types and ", e.attention_mask.size(),
                        " mask entries; the batch has length ", b.length,
                        " (pad the encodings to one length)");
            b.input_ids.insert(b.input_ids.end(), e.ids.begin(), e.ids.end());
            b.token_type_ids.insert(b.token_type_ids.end(), e.token_types.begin(),
                                    e.token_types.end());
            for (auto m : e.attention_mask) b.attention_mask.push_back(static_cast<float>(m));
            ++b.batch;
        }
        return b;
    }

    /// Throws, naming the sequence and position, unless the batch fits a model with these
    /// vocabulary, type vocabulary and position table sizes.
    void validate(std::int64_t vocab_size, std::int64_t type_vocab_size,
                  std::int64_t max_positions) const {
        SMILE_CHECK(batch > 0 && length > 0, "token_batch: empty batch (", batch, " sequences of ",
                    length, " tokens)");
        const auto n = static_cast<std::size_t>(batch * length);
        SMILE_CHECK(
            input_ids.size() == n && token_type_ids.size() == n && attention_mask.size() == n,
            "token_batch: ", batch, "x", length, " tokens but ", input_ids.size(), " ids, ",
            token_type_ids.size(), " token types and ", attention_mask.size(), " mask entries");
        SMILE_CHECK(length <= max_positions, "token_batch: sequences of ", length,
                    " tokens are longer than the model's ", max_positions,
                    " positions (truncate them)");
        for (std::int64_t b = 0; b < batch; ++b) {
            bool any = false;
            for (std::int64_t t = 0; t < length; ++t) {
                const auto i = static_cast<std::size_t>(b * length + t);
                SMILE_CHECK(0 <= input_ids[i] && input_ids[i] < vocab_size,
                            "token_batch: sequence ", b, " token ", t, " has id ", input_ids[i],
                            ", outside the vocabulary of ", vocab_size);
                SMILE_CHECK(0 <= token_type_ids[i] && token_type_ids[i] < type_vocab_size,
                            "token_batch: sequence ", b, " token ", t, " has token type ",
                            token_type_ids[i], ", outside 0..", type_vocab_size - 1);
                SMILE_CHECK(attention_mask[i] == 0.0f || attention_mask[i] == 1.0f,
                            "token_batch: sequence ", b, " token ", t, " has attention mask ",
                            attention_mask[i], ", not 0 or 1");
                any = any || attention_mask[i] == 1.0f;
            }
            SMILE_CHECK(any, "token_batch: sequence ", b, " has no token its attention mask keeps");
        }
    }

    /// Becomes sequences [first, first + count) of `from`, same length (reusing its storage).
    void assign_rows(const token_batch& from, std::int64_t first, std::int64_t count) {
        SMILE_CHECK(first >= 0 && count >= 0 && first + count <= from.batch,
                    "token_batch: sequences [", first, ", ", first + count, ") of a batch of ",
                    from.batch);
        batch = count;
        length = from.length;
        const auto begin = std::ptrdiff_t(first * length), end = std::ptrdiff_t((first + count) * length);
        input_ids.assign(from.input_ids.begin() + begin, from.input_ids.begin() + end);
        token_type_ids.assign(from.token_type_ids.begin() + begin, from.token_type_ids.begin() + end);
        attention_mask.assign(from.attention_mask.begin() + begin, from.attention_mask.begin() + end);
    }
};

/// A data-parallel rank's share of a global batch: the rank's batch holds sequences
/// [first, first + its batch) of `whole`, padded to the same length. `whole` null: the batch is
/// the whole (one process). What needs the global batch reads `whole`: mixing after the
/// embeddings (a partner may be another rank's) and dropout's masks (drawn per global element).
struct token_share {
    const token_batch* whole = nullptr;
    std::int64_t first = 0;
};

}  // namespace smile
