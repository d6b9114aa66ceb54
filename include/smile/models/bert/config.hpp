#pragma once
/// @file
/// `bert_config`: the shape of a BERT, read from a Hugging Face `config.json` (the keys of
/// transformers' BertConfig) or written in code. Every field is checked when read, and an error
/// names the file and the key.

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <smile/core/activation.hpp>
#include <smile/core/error.hpp>
#include <string>

namespace smile {

struct bert_config {
    std::int64_t vocab_size = 30522;
    std::int64_t hidden_size = 768;
    std::int64_t num_hidden_layers = 12;
    std::int64_t num_attention_heads = 12;
    std::int64_t intermediate_size = 3072;
    std::int64_t max_position_embeddings = 512;
    std::int64_t type_vocab_size = 2;
    float layer_norm_eps = 1e-12f;
    float hidden_dropout_prob = 0.1f;
    float attention_probs_dropout_prob = 0.1f;
    /// "gelu" (erf), "gelu_new" / "gelu_pytorch_tanh" (tanh approximation), "relu", "tanh".
    activation_kind hidden_act = activation_kind::gelu_erf;
    std::int64_t num_labels = 2;  ///< the classifier's rows (config's num_labels or id2label)

    [[nodiscard]] std::int64_t head_size() const noexcept {
        return hidden_size / num_attention_heads;
    }

    /// Throws unless the shape is consistent; `where` names the source in the message.
    void validate(const std::string& where = "bert_config") const {
        for (const auto& [key, value] :
             {std::pair<const char*, std::int64_t>{"vocab_size", vocab_size},
              {"hidden_size", hidden_size},
              {"num_hidden_layers", num_hidden_layers},
              {"num_attention_heads", num_attention_heads},
              {"intermediate_size", intermediate_size},
              {"max_position_embeddings", max_position_embeddings},
              {"type_vocab_size", type_vocab_size},
              {"num_labels", num_labels}})
            SMILE_CHECK(value > 0, where, ": ", key, " must be positive, got ", value);
        SMILE_CHECK(hidden_size % num_attention_heads == 0, where, ": hidden_size ", hidden_size,
                    " is not a multiple of num_attention_heads ", num_attention_heads);
        SMILE_CHECK(layer_norm_eps > 0.0f && std::isfinite(layer_norm_eps), where,
                    ": layer_norm_eps must be positive, got ", layer_norm_eps);
        for (const auto& [key, p] :
             {std::pair<const char*, float>{"hidden_dropout_prob", hidden_dropout_prob},
              {"attention_probs_dropout_prob", attention_probs_dropout_prob}})
            SMILE_CHECK(p >= 0.0f && p < 1.0f, where, ": ", key, " must be in [0, 1), got ", p);
    }

    /// The activation `hidden_act` names, as transformers' ACT2FN does.
    [[nodiscard]] static activation_kind parse_hidden_act(const std::string& name,
                                                          const std::string& where) {
        if (name == "gelu") return activation_kind::gelu_erf;
        if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
            return activation_kind::gelu_tanh;
        if (name == "relu") return activation_kind::relu;
        if (name == "tanh") return activation_kind::tanh;
        detail::fail(where, ": hidden_act '", name,
                     "' is not one smile knows (gelu, gelu_new, gelu_pytorch_tanh, ",
                     "gelu_fast, relu, tanh)");
    }

    /// Reads a Hugging Face config.json; keys it lacks keep BertConfig's defaults (these).
    [[nodiscard]] static bert_config from_json_file(const std::filesystem::path& path) {
        std::ifstream in(path, std::ios::binary);
        if (!in) detail::fail("cannot open the model configuration ", path.string());
        const auto j = nlohmann::json::parse(in, nullptr, false);
        if (j.is_discarded() || !j.is_object()) detail::fail(path.string(), ": not a JSON object");
        const std::string where = path.string();
        bert_config c;
        if (j.contains("model_type") && j.at("model_type").is_string()) {
            const auto type = j.at("model_type").get<std::string>();
            SMILE_CHECK(type == "bert", where, ": model_type is '", type, "', not bert");
        }
        auto integer = [&](const char* key, std::int64_t& out) {
            if (!j.contains(key) || j.at(key).is_null()) return;
            SMILE_CHECK(j.at(key).is_number_integer(), where, ": ", key, " is not an integer (",
                        j.at(key).dump(), ")");
            out = j.at(key).get<std::int64_t>();
        };
        auto real = [&](const char* key, float& out) {
            if (!j.contains(key) || j.at(key).is_null()) return;
            SMILE_CHECK(j.at(key).is_number(), where, ": ", key, " is not a number (",
                        j.at(key).dump(), ")");
            out = j.at(key).get<float>();
        };
        integer("vocab_size", c.vocab_size);
        integer("hidden_size", c.hidden_size);
        integer("num_hidden_layers", c.num_hidden_layers);
        integer("num_attention_heads", c.num_attention_heads);
        integer("intermediate_size", c.intermediate_size);
        integer("max_position_embeddings", c.max_position_embeddings);
        integer("type_vocab_size", c.type_vocab_size);
        real("layer_norm_eps", c.layer_norm_eps);
        real("hidden_dropout_prob", c.hidden_dropout_prob);
        real("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
        if (j.contains("hidden_act")) {
            SMILE_CHECK(j.at("hidden_act").is_string(), where, ": hidden_act is not a string");
            c.hidden_act = parse_hidden_act(j.at("hidden_act").get<std::string>(), where);
        }
        if (j.contains("id2label") && j.at("id2label").is_object() && !j.at("id2label").empty())
            c.num_labels = static_cast<std::int64_t>(j.at("id2label").size());
        integer("num_labels", c.num_labels);
        if (j.contains("position_embedding_type") && j.at("position_embedding_type").is_string()) {
            const auto kind = j.at("position_embedding_type").get<std::string>();
            SMILE_CHECK(kind == "absolute", where, ": position_embedding_type '", kind,
                        "' is not supported (smile's BERT has absolute position embeddings)");
        }
        c.validate(where);
        return c;
    }
};

}  // namespace smile
