#pragma once
/// @file
/// BERT's tokenizer: the basic tokenizer (text cleaning, CJK and punctuation splitting,
/// lower-casing and accent stripping for uncased models) and WordPiece (greedy longest match
/// first, "##" continuations, [UNK] for a word with no match or longer than 100 characters),
/// behaving as Hugging Face's BertTokenizer does (docs/text.md lists its steps), from a
/// `vocab.txt` (one token a line, its id the line's index) or a `tokenizer.json` of the
/// WordPiece type. Special tokens are looked up by name, never by fixed ids.
///
///   auto t = smile::text::wordpiece_tokenizer::from_vocab_file("vocab.txt", {.lower_case = true});
///   auto e = t.encode("A fine film.", 128);   // [CLS] a fine film . [SEP], mask, types, padding

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <smile/core/error.hpp>
#include <smile/text/unicode.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace smile::text {

struct wordpiece_options {
    bool lower_case = true;             ///< uncased models (bert-base-uncased)
    std::optional<bool> strip_accents;  ///< unset: stripped exactly when lower-casing
    bool split_chinese_chars = true;    ///< a space around each CJK ideograph
    bool nfc_before_split =
        true;  ///< BertTokenizer (Python) does; tokenizer.json's BertNormalizer does not
    std::size_t max_word_characters = 100;
    std::string continuation = "##";
    std::string unknown = "[UNK]", classifier = "[CLS]", separator = "[SEP]", padding = "[PAD]",
                mask = "[MASK]";
};

/// What a classification model takes: ids, segment (token type) ids and the attention mask,
/// each of the same length.
struct encoding {
    std::vector<std::int32_t> ids, token_types, attention_mask;
};

class wordpiece_tokenizer {
public:
    /// `vocab`: tokens in id order.
    wordpiece_tokenizer(std::vector<std::string> vocab, wordpiece_options options,
                        std::string source = "vocabulary")
        : tokens_(std::move(vocab)), options_(std::move(options)), source_(std::move(source)) {
        SMILE_CHECK(tokens_.size() <= std::size_t(INT32_MAX), source_, ": more than 2^31 tokens");
        for (std::size_t i = 0; i < tokens_.size(); ++i)
            ids_.emplace(tokens_[i], std::int32_t(i));  // first wins
        for (const std::string* special : {&options_.unknown, &options_.classifier,
                                           &options_.separator, &options_.padding, &options_.mask})
            if (ids_.count(*special)) specials_.push_back(*special);
        SMILE_CHECK(ids_.count(options_.unknown), source_, ": no unknown token '", options_.unknown,
                    "' in the vocabulary");
    }

    /// A `vocab.txt`: one token a line (a trailing "\r" removed), its id the line's index.
    static wordpiece_tokenizer from_vocab_file(const std::filesystem::path& path,
                                               wordpiece_options options = {}) {
        std::ifstream in(path, std::ios::binary);
        if (!in) detail::fail("cannot open the vocabulary ", path.string());
        std::vector<std::string> vocab;
        std::string line;
        while (std::getline(in, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            vocab.push_back(line);
        }
        if (vocab.empty()) detail::fail(path.string(), ": an empty vocabulary");
        return {std::move(vocab), std::move(options), path.string()};
    }

    /// A Hugging Face `tokenizer.json` whose model is WordPiece and whose normalizer is
    /// BertNormalizer (its settings replace `options`'); other kinds are refused by name.
    static wordpiece_tokenizer from_tokenizer_json(const std::filesystem::path& path,
                                                   wordpiece_options options = {}) {
        std::ifstream in(path, std::ios::binary);
        if (!in) detail::fail("cannot open ", path.string());
        const auto j = nlohmann::json::parse(in, nullptr, false);
        if (j.is_discarded() || !j.is_object()) detail::fail(path.string(), ": not a JSON object");
        // Typed lookups: a field of the wrong type is an error naming it (nlohmann's own
        // exceptions would name neither the file nor the field).
        auto object_at = [&](const nlohmann::json& parent, const char* key,
                             const char* where) -> const nlohmann::json* {
            if (!parent.contains(key) || parent.at(key).is_null()) return nullptr;
            if (!parent.at(key).is_object())
                detail::fail(path.string(), ": ", where, " is not an object");
            return &parent.at(key);
        };
        auto string_at = [&](const nlohmann::json& parent, const char* key, const char* where,
                             std::string fallback) {
            if (!parent.contains(key) || parent.at(key).is_null()) return fallback;
            if (!parent.at(key).is_string())
                detail::fail(path.string(), ": ", where, " is not a string");
            return parent.at(key).get<std::string>();
        };
        auto bool_at = [&](const nlohmann::json& parent, const char* key, const char* where,
                           bool fallback) {
            if (!parent.contains(key) || parent.at(key).is_null()) return fallback;
            if (!parent.at(key).is_boolean())
                detail::fail(path.string(), ": ", where, " is not true or false");
            return parent.at(key).get<bool>();
        };
        const nlohmann::json* model = object_at(j, "model", "model");
        const std::string type =
            model == nullptr ? "(none)" : string_at(*model, "type", "model.type", "(none)");
        if (type != "WordPiece")
            detail::fail(path.string(), ": model type '", type,
                         "', not WordPiece (a BERT tokenizer)");
        const nlohmann::json* vocab = object_at(*model, "vocab", "model.vocab");
        if (vocab == nullptr || vocab->empty())
            detail::fail(path.string(), ": model.vocab is not a token -> id map");
        if (vocab->size() > std::size_t(INT32_MAX))
            detail::fail(path.string(), ": more than 2^31 tokens");
        std::vector<std::string> tokens(vocab->size());
        std::vector<bool> seen(vocab->size(), false);
        for (const auto& [token, id] : vocab->items()) {
            if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
                id.get<std::int64_t>() >= std::int64_t(tokens.size()))
                detail::fail(path.string(), ": token '", token, "' has id ", id.dump(),
                             ", not in 0..", tokens.size() - 1);
            const auto k = std::size_t(id.get<std::int64_t>());
            if (seen[k]) detail::fail(path.string(), ": two tokens have id ", k);
            seen[k] = true;
            tokens[k] = token;
        }
        options.unknown = string_at(*model, "unk_token", "model.unk_token", options.unknown);
        options.continuation = string_at(*model, "continuing_subword_prefix",
                                         "model.continuing_subword_prefix", options.continuation);
        if (model->contains("max_input_chars_per_word") &&
            !model->at("max_input_chars_per_word").is_null()) {
            if (!model->at("max_input_chars_per_word").is_number_unsigned())
                detail::fail(path.string(), ": model.max_input_chars_per_word is not a count");
            options.max_word_characters = model->at("max_input_chars_per_word").get<std::size_t>();
        }
        if (const nlohmann::json* normalizer = object_at(j, "normalizer", "normalizer")) {
            const std::string kind = string_at(*normalizer, "type", "normalizer.type", "(none)");
            if (kind != "BertNormalizer")
                detail::fail(path.string(), ": normalizer type '", kind, "', not BertNormalizer");
            options.lower_case = bool_at(*normalizer, "lowercase", "normalizer.lowercase", true);
            options.split_chinese_chars = bool_at(*normalizer, "handle_chinese_chars",
                                                  "normalizer.handle_chinese_chars", true);
            if (normalizer->contains("strip_accents") && !normalizer->at("strip_accents").is_null())
                options.strip_accents =
                    bool_at(*normalizer, "strip_accents", "normalizer.strip_accents", true);
            options.nfc_before_split = false;  // BertNormalizer does not compose
        }
        return {std::move(tokens), std::move(options), path.string()};
    }

    [[nodiscard]] std::size_t size() const { return tokens_.size(); }
    [[nodiscard]] const std::string& token(std::int32_t id) const {
        return tokens_.at(std::size_t(id));
    }
    /// The id of `token`; throws naming the vocabulary when it has none.
    [[nodiscard]] std::int32_t id(const std::string& token) const {
        const auto it = ids_.find(token);
        if (it == ids_.end()) detail::fail(source_, ": no token '", token, "'");
        return it->second;
    }
    [[nodiscard]] const wordpiece_options& options() const { return options_; }

    /// The basic tokenizer's words of `text` (before WordPiece). The vocabulary's special tokens
    /// ([CLS], [SEP], [PAD], [MASK], [UNK]) written in the text stay whole, wherever they stand,
    /// as in Hugging Face's tokenizers.
    [[nodiscard]] std::vector<std::string> words(std::string_view text) const {
        std::vector<std::string> out;
        std::size_t plain = 0;  // the start of the text not yet split
        for (std::size_t at = 0; at < text.size();) {
            const std::string* special = nullptr;
            for (const auto& s : specials_)
                if (text.compare(at, s.size(), s) == 0 &&
                    (special == nullptr || s.size() > special->size()))
                    special = &s;
            if (special == nullptr) {
                ++at;
                continue;
            }
            basic_words(text.substr(plain, at - plain), out);
            out.push_back(*special);
            at += special->size();
            plain = at;
        }
        basic_words(text.substr(plain), out);
        return out;
    }

    /// The basic tokenizer on text without special tokens: appends its words to `out`.
    void basic_words(std::string_view text, std::vector<std::string>& out) const {
        std::vector<code_point> cleaned;
        for (const code_point c : decode_utf8(text)) {
            if (c == 0 || c == 0xFFFD || is_control(c)) continue;
            if (options_.split_chinese_chars && is_chinese(c)) {
                cleaned.insert(cleaned.end(), {U' ', c, U' '});
                continue;
            }
            cleaned.push_back(is_whitespace(c) ? U' ' : c);
        }
        if (options_.nfc_before_split) cleaned = nfc(cleaned);
        const bool strip = options_.strip_accents.value_or(options_.lower_case);
        for (std::vector<code_point> word : split_on_whitespace(cleaned)) {
            if (options_.lower_case) word = to_lower(word);
            if (strip) {
                std::vector<code_point> kept;
                for (const code_point c : nfd(word))
                    if (!is_nonspacing_mark(c)) kept.push_back(c);
                word = std::move(kept);
            }
            std::vector<code_point> piece;
            for (const code_point c : word) {  // each punctuation character on its own
                if (is_punctuation(c)) {
                    if (!piece.empty()) out.push_back(encode_utf8(piece));
                    out.push_back(encode_utf8({c}));
                    piece.clear();
                } else {
                    piece.push_back(c);
                }
            }
            if (!piece.empty()) out.push_back(encode_utf8(piece));
        }
    }

    /// The WordPiece tokens of `text`.
    [[nodiscard]] std::vector<std::string> tokenize(std::string_view text) const {
        std::vector<std::string> out;
        for (const std::string& word : words(text)) {
            if (std::find(specials_.begin(), specials_.end(), word) != specials_.end())
                out.push_back(word);
            else
                append_pieces(word, out);
        }
        return out;
    }

    /// The ids of `text`'s tokens (no special tokens added).
    [[nodiscard]] std::vector<std::int32_t> ids(std::string_view text) const {
        std::vector<std::int32_t> out;
        for (const std::string& t : tokenize(text)) out.push_back(id(t));
        return out;
    }

    /// [CLS] text [SEP] (and text_pair [SEP]) for a classifier: at most `max_length` ids,
    /// the longer text shortened a token at a time when both do not fit (Hugging Face's
    /// "longest_first"), token types 0 for the first text and its [SEP] and 1 for the pair's,
    /// and with `pad` [PAD] up to `max_length` with a 0 attention mask.
    [[nodiscard]] encoding encode(std::string_view text, std::size_t max_length, bool pad = true,
                                  std::optional<std::string_view> text_pair = std::nullopt) const {
        const std::size_t specials = text_pair ? 3 : 2;
        SMILE_CHECK(max_length >= specials, "encode: max_length ", max_length,
                    " leaves no room for the ", specials, " special tokens");
        std::vector<std::int32_t> first = ids(text), second = text_pair
                                                                  ? ids(*text_pair)
                                                                  : std::vector<std::int32_t>{};
        while (first.size() + second.size() + specials > max_length)
            (first.size() > second.size() ? first : second).pop_back();
        encoding e;
        auto add = [&](std::int32_t token, std::int32_t type) {
            e.ids.push_back(token);
            e.token_types.push_back(type);
            e.attention_mask.push_back(1);
        };
        add(id(options_.classifier), 0);
        for (const auto t : first) add(t, 0);
        add(id(options_.separator), 0);
        if (text_pair) {
            for (const auto t : second) add(t, 1);
            add(id(options_.separator), 1);
        }
        if (pad) {
            const std::int32_t padding = id(options_.padding);
            while (e.ids.size() < max_length) {
                e.ids.push_back(padding);
                e.token_types.push_back(0);
                e.attention_mask.push_back(0);
            }
        }
        return e;
    }

    // The basic tokenizer's character classes (each as BERT's reference defines it).
    static bool is_whitespace(code_point c) {
        return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || is_space_separator(c);
    }
    static bool is_control(code_point c) {
        if (c == U'\t' || c == U'\n' || c == U'\r') return false;  // whitespace, not control
        return category_class(c) == 'C';
    }
    /// ASCII non-alphanumerics ("$", "^", "`" are symbols in Unicode but split here too) and
    /// every category P* character.
    static bool is_punctuation(code_point c) {
        if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
            (c >= 123 && c <= 126))
            return true;
        return category_class(c) == 'P';
    }
    /// The CJK Unified Ideographs blocks (not Hangul, Hiragana or Katakana).
    static bool is_chinese(code_point c) {
        return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
               (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
               (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
               (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
    }

private:
    std::vector<std::string> tokens_;
    std::unordered_map<std::string, std::int32_t> ids_;
    std::vector<std::string> specials_;  ///< the special tokens the vocabulary has
    wordpiece_options options_;
    std::string source_;

    static std::vector<std::vector<code_point>> split_on_whitespace(
        const std::vector<code_point>& text) {
        std::vector<std::vector<code_point>> out;
        std::vector<code_point> word;
        for (const code_point c : text) {
            if (is_whitespace(c)) {
                if (!word.empty()) out.push_back(std::move(word));
                word.clear();
            } else {
                word.push_back(c);
            }
        }
        if (!word.empty()) out.push_back(std::move(word));
        return out;
    }

    /// Greedy longest-match-first: the longest vocabulary entry at each position ("##" before
    /// all but the first); a word with a position no entry matches is one [UNK].
    void append_pieces(const std::string& word, std::vector<std::string>& out) const {
        const std::vector<code_point> chars = decode_utf8(word);
        if (chars.size() > options_.max_word_characters) {
            out.push_back(options_.unknown);
            return;
        }
        std::vector<std::string> pieces;
        for (std::size_t start = 0; start < chars.size();) {
            std::size_t end = chars.size();
            std::string match;
            for (; end > start; --end) {
                std::string candidate = encode_utf8(
                    {chars.begin() + std::ptrdiff_t(start), chars.begin() + std::ptrdiff_t(end)});
                if (start > 0) candidate = options_.continuation + candidate;
                if (ids_.count(candidate)) {
                    match = std::move(candidate);
                    break;
                }
            }
            if (end == start) {
                out.push_back(options_.unknown);
                return;
            }
            pieces.push_back(std::move(match));
            start = end;
        }
        out.insert(out.end(), pieces.begin(), pieces.end());
    }
};

}  // namespace smile::text
