// Fuzz target: the text path's parsers. The input is split at "\nSMILE-TEXT-SPLIT\n" into a
// vocabulary (a vocab.txt, or a tokenizer.json when it starts with '{') and a text (any bytes,
// UTF-8 or not), which is tokenized uncased and cased and encoded alone and as a pair, and read
// as an SST tree file, as a JSON-lines file, and as the train and test splits of a TSV and of a
// CSV text dataset (whose every label must then name a class); a vocabulary that starts with '{'
// is also read as a BERT config.json, whose every accepted field must then be in range.
#include <smile/models/bert/config.hpp>
#include <smile/text/sst.hpp>
#include <smile/text/text_dataset.hpp>
#include <smile/text/wordpiece.hpp>

#include "fuzz_input.hpp"

namespace {

void check(const smile::text::wordpiece_tokenizer& t, std::string_view text) {
    for (const auto& token : t.tokenize(text))
        (void)t.id(token);  // every token is in the vocabulary
    for (const std::size_t length : {std::size_t(3), std::size_t(64)}) {
        const auto e = t.encode(text, length, true, text.substr(text.size() / 2));
        if (e.ids.size() != length || e.token_types.size() != length ||
            e.attention_mask.size() != length)
            __builtin_trap();
        for (const auto id : e.ids)
            if (id < 0 || std::size_t(id) >= t.size()) __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto pieces =
        smile::fuzz::split(smile::fuzz::as_view(data, size), "\nSMILE-TEXT-SPLIT\n");
    const std::string_view vocabulary = pieces[0], text = pieces.size() > 1 ? pieces[1] : pieces[0];
    try {
        for (const bool lower : {true, false}) {
            smile::text::wordpiece_options o;
            o.lower_case = lower;
            if (!vocabulary.empty() && vocabulary.front() == '{') {
                const auto path = smile::fuzz::scratch() / "tokenizer.json";
                smile::fuzz::write_bytes(path, vocabulary);
                check(smile::text::wordpiece_tokenizer::from_tokenizer_json(path, o), text);
            } else {
                // Always with the special tokens, so that the text, not the vocabulary, is what
                // is mostly explored.
                std::vector<std::string> tokens{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
                for (const auto line : smile::fuzz::split(vocabulary, "\n"))
                    tokens.emplace_back(line);
                check(smile::text::wordpiece_tokenizer(std::move(tokens), o, "vocab.txt"), text);
            }
        }
    } catch (const smile::error& e) {
        smile::fuzz::refused(e);
    }
    if (!vocabulary.empty() && vocabulary.front() == '{') {
        const auto path = smile::fuzz::scratch() / "config.json";
        smile::fuzz::write_bytes(path, vocabulary);
        try {
            const auto c = smile::bert_config::from_json_file(path);
            if (c.hidden_size <= 0 || c.hidden_size % c.num_attention_heads != 0 ||
                !(c.layer_norm_eps > 0.0f) ||
                !(c.hidden_dropout_prob >= 0.0f && c.hidden_dropout_prob < 1.0f) ||
                c.vocab_size <= 0)
                __builtin_trap();
        } catch (const smile::error& e) {
            smile::fuzz::refused(e);
        }
    }
    const auto file = smile::fuzz::scratch() / "examples.txt";
    smile::fuzz::write_bytes(file, text);
    for (const bool trees : {true, false}) {
        try {
            const auto examples = trees ? smile::text::read_ptb_trees(file) : smile::text::read_json_lines(file, 5);
            for (const auto& e : examples)
                if (e.label < 0 || e.label >= 5) __builtin_trap();
        } catch (const smile::error& e) {
            smile::fuzz::refused(e);
        }
    }
    const auto root = smile::fuzz::scratch() / "text-dataset";
    std::filesystem::create_directories(root);
    for (const std::string format : {"tsv", "csv"}) {
        for (const char* split : {"train.", "test."})
            smile::fuzz::write_bytes(root / (split + format), text);
        try {
            smile::text::text_dataset_options o;
            o.format = format;
            o.root = root;
            const auto d = smile::text::read_text_dataset(o);
            if (d.classes.size() < 2 || d.train.empty() || d.test.empty()) __builtin_trap();
            for (const auto* split : {&d.train, &d.test})
                for (const auto& e : *split)
                    if (e.label < 0 || std::size_t(e.label) >= d.classes.size()) __builtin_trap();
        } catch (const smile::error& e) {
            smile::fuzz::refused(e);
        }
    }
    return 0;
}
