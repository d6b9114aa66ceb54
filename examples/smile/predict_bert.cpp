// smile predict --arch bert: the classifier logits and pooled outputs of a BERT for one sentence
// per line of a text file, in evaluation mode. The model is a Hugging Face checkpoint
// (config.json + model.safetensors, with or without the bert. prefix) and its vocab.txt or
// tokenizer.json.
#include "smile/predict_bert.hpp"

#include <cstdio>
#include <smile/data/formats/text_lines.hpp>
#include <smile/default_backend.hpp>
#include <smile/io/npy.hpp>
#include <smile/io/output_paths.hpp>
#include <smile/io/weights.hpp>
#include <smile/models/bert/model.hpp>
#include <smile/text/wordpiece.hpp>

namespace smile::cli {

void predict_bert(const bert_predict_options& o) {
    using B = default_backend;
    if constexpr (!(BackendSequence<B> && BackendActivations<B>)) {
        detail::fail("--arch bert needs a backend with the sequence operations, which ", B::name,
                     " lacks");
    } else {
        for (const auto& [value, option] :
             {std::pair{&o.config, "--config"}, {&o.vocab, "--vocab"}, {&o.text, "--text"}})
            if (value->empty()) detail::fail("--arch bert needs ", option);
        io::check_writable(o.output, "--output");
        io::check_writable(o.features, "--features");
        auto config = bert_config::from_json_file(o.config);
        if (o.num_classes > 0) config.num_labels = o.num_classes;
        text::wordpiece_options w;
        w.lower_case = !o.cased;
        const std::filesystem::path vocab(o.vocab);
        const auto tokenizer = vocab.extension() == ".json"
                                   ? text::wordpiece_tokenizer::from_tokenizer_json(vocab, w)
                                   : text::wordpiece_tokenizer::from_vocab_file(vocab, w);
        SMILE_CHECK(std::int64_t(tokenizer.size()) <= config.vocab_size, "--vocab ", o.vocab,
                    " has ", tokenizer.size(), " tokens but --config ", o.config,
                    " a vocabulary of ", config.vocab_size);
        SMILE_CHECK(o.max_length >= 2 && o.max_length <= config.max_position_embeddings,
                    "--max-length ", o.max_length, " must be in 2..",
                    config.max_position_embeddings, " (the model's positions)");
        const auto lines = data::formats::read_lines(o.text);
        SMILE_CHECK(!lines.empty(), "--text ", o.text, ": no sentences (one per line)");
        session<B> s;
        rng gen(0);
        bert_classifier<B> model(s, gen, config);
        const auto report =
            io::load_weights<B>(model, o.weights, {true, std::nullopt, "", o.allow_nonfinite});
        std::printf("%s: %s\n", o.weights.c_str(), report.summary().c_str());
        std::vector<float> logits, pooled;
        tensor<B> batch_logits;
        for (std::size_t first = 0; first < lines.size(); first += std::size_t(o.batch_size)) {
            std::vector<text::encoding> encodings;
            for (std::size_t i = first;
                 i < std::min(lines.size(), first + std::size_t(o.batch_size)); ++i)
                encodings.push_back(tokenizer.encode(lines[i].text, std::size_t(o.max_length)));
            model.forward(s, token_batch::from_encodings(encodings), batch_logits, mode::eval);
            const auto l = batch_logits.to_host();
            logits.insert(logits.end(), l.begin(), l.end());
            if (!o.features.empty()) {
                const auto p = model.bert().pooled().to_host();
                pooled.insert(pooled.end(), p.begin(), p.end());
            }
        }
        const auto n = std::int64_t(lines.size());
        io::write_npy(o.output, {n, config.num_labels}, logits);
        if (!o.features.empty()) io::write_npy(o.features, {n, config.hidden_size}, pooled);
        std::printf("wrote logits of %lld sentences to %s\n", static_cast<long long>(n),
                    o.output.c_str());
    }
}

}  // namespace smile::cli
