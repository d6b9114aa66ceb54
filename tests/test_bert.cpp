// smile's BERT against a BERT written in plain PyTorch with Hugging Face's module names
// (tests/fixtures/make_bert_fixtures.py): a tiny configuration loaded from its committed
// config.json and model.safetensors (logits, pooled output, last hidden states, loss and every
// parameter's gradient), a BERT-base-sized forward with formula weights, padding invariance,
// dropout's gradients by finite differences, and the configuration reader's errors.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <smile/io/safetensors.hpp>
#include <smile/io/weights.hpp>
#include <smile/models/bert/model.hpp>
#include <string>
#include <vector>

#include "backends.hpp"
#include "compare.hpp"
#include "directional_gradcheck.hpp"
#include "fixture_pass.hpp"
#include "formula_weights.hpp"

using smile::test::device;

namespace {

const std::filesystem::path fixtures = SMILE_TEST_FIXTURES;

smile::token_batch batch_of(const smile::io::safetensors_reader& f) {
    smile::token_batch b;
    const auto shape = f.entry("input_ids").shape;
    b.batch = shape[0];
    b.length = shape[1];
    b.input_ids = f.read_integers("input_ids");
    b.token_type_ids = f.read_integers("token_type_ids");
    for (auto m : f.read_integers("attention_mask"))
        b.attention_mask.push_back(static_cast<float>(m));
    return b;
}

/// One-hot rows for `labels` among `classes`.
std::vector<float> one_hot(const std::vector<std::int64_t>& labels, std::int64_t classes) {
    std::vector<float> t(labels.size() * static_cast<std::size_t>(classes), 0.0f);
    for (std::size_t i = 0; i < labels.size(); ++i)
        t[i * std::size_t(classes) + std::size_t(labels[i])] = 1.0f;
    return t;
}

/// The file name of a smile parameter (the head is `classifier` in files).
std::string file_name(const std::string& name) {
    return name.rfind("fc.", 0) == 0 ? "classifier" + name.substr(2) : name;
}

/// Mean cross-entropy of the classifier on `b` and its backward; returns the loss.
template <class B>
double loss_and_backward(smile::session<B>& s, smile::bert_classifier<B>& model,
                         const smile::token_batch& b, const std::vector<std::int64_t>& labels,
                         smile::mode m, smile::tensor<B>& logits, bool backward = true) {
    model.forward(s, b, logits, m);
    const auto classes = logits.shape().c;
    auto targets = smile::tensor<B>::from_host(s, logits.shape(), one_hot(labels, classes));
    smile::tensor<B> d_logits(s, logits.shape());
    const double loss = smile::ops<B>::softmax_cross_entropy(
        s.context(), logits.view(), targets.view(), 1.0f / float(b.batch), d_logits.view());
    if (backward) model.backward(s, d_logits);
    return loss / double(b.batch);
}

}  // namespace

TEST_CASE(
    "bert: a tiny BERT from config.json and model.safetensors equals the PyTorch reference, "
    "gradients too") {
    const smile::io::safetensors_reader f(fixtures / "bert_tiny_parity.safetensors");
    const auto b = batch_of(f);
    const auto labels = f.read_integers("labels");
    auto config = smile::bert_config::from_json_file(fixtures / "bert_tiny" / "config.json");
    CHECK(config.hidden_size == 16);
    CHECK(config.num_labels == 5);
    CHECK(config.hidden_act == smile::activation_kind::gelu_erf);
    // eval_grad: dropout off (the reference's), activations kept; train with the dropout
    // probabilities at 0 runs the training path and must agree.
    for (const auto m : {smile::mode::eval_grad, smile::mode::train}) {
        CAPTURE(static_cast<int>(m));
        if (m == smile::mode::train)
            config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0.0f;
        smile::session<device> s;
        smile::rng gen(1);
        smile::bert_classifier<device> model(s, gen, config);
        const auto report =
            smile::io::load_weights<device>(model, fixtures / "bert_tiny" / "model.safetensors");
        CHECK(report.loaded.size() == 41);
        smile::tensor<device> logits;
        const double loss = loss_and_backward(s, model, b, labels, m, logits);
        smile::test::check_fixture_close(f, "logits", logits.to_host());
        smile::test::check_fixture_close(f, "pooled", model.bert().pooled().to_host());
        smile::test::check_fixture_close(f, "last_hidden", model.bert().last_hidden().to_host());
        CHECK(loss == doctest::Approx(f.read_floats("loss")[0]).epsilon(1e-5));
        std::size_t compared = 0;
        for (auto& [name, p] : smile::parameters_of<device>(model)) {
            const std::string key = "grad." + file_name(name);
            REQUIRE(f.contains(key));
            REQUIRE(p->has_fresh_grad());
            const auto want = f.read_floats(key);
            const auto got = p->grad.to_host();
            double largest = 0.0;
            for (float v : want) largest = std::max(largest, double(std::abs(v)));
            INFO(name);
            if (largest < 1e-10) {
                // The key bias: softmax is invariant to a per-query constant, so its gradient is
                // exactly zero; float32 leaves rounding noise only.
                for (float v : got) CHECK(std::abs(v) < 1e-5);
            } else {
                CHECK(smile::test::relative_error(got, want) < 1e-4);
            }
            ++compared;
        }
        CHECK(compared == 41);
    }
}

TEST_CASE(
    "bert: a BERT-base-sized forward (768 hidden, 12 layers, 12 heads) equals the PyTorch "
    "reference") {
    const smile::io::safetensors_reader f(fixtures / "bert_base_forward.safetensors");
    const auto b = batch_of(f);
    smile::bert_config config;
    const auto meta = nlohmann::json::parse(f.metadata().at("config"));
    config.vocab_size = meta.at("vocab_size").get<std::int64_t>();
    config.num_labels = meta.at("num_labels").get<std::int64_t>();
    REQUIRE(meta.at("hidden_size") == 768);
    REQUIRE(meta.at("num_hidden_layers") == 12);
    smile::session<device> s;
    smile::rng gen(2);
    smile::bert_classifier<device> model(s, gen, config);
    for (auto& t : smile::state_of<device>(model)) {
        const auto shape = t.value->shape();
        const std::vector<std::int64_t> torch = t.torch_rank == 2
                                                    ? std::vector<std::int64_t>{shape.n, shape.c}
                                                    : std::vector<std::int64_t>{shape.n};
        t.value->copy_from_host(smile::test::formula_values(file_name(t.name), torch));
    }
    smile::tensor<device> logits;
    model.forward(s, b, logits, smile::mode::eval);
    smile::test::check_fixture_close(f, "logits", logits.to_host());
    smile::test::check_fixture_close(f, "pooled", model.bert().pooled().to_host());
    const auto hidden = model.bert().last_hidden().to_host();
    smile::test::check_fixture_close(f, "last_hidden_0",
                                     std::vector<float>(hidden.begin(), hidden.begin() + 16 * 768));
}

TEST_CASE(
    "bert: a bare BertModel file (no bert. prefix, no classifier, a position_ids buffer) loads "
    "non-strictly") {
    const smile::io::safetensors_reader tiny(fixtures / "bert_tiny" / "model.safetensors");
    std::vector<smile::io::safetensors_record> records;
    for (const auto& [name, entry] : tiny.entries()) {
        if (name.rfind("bert.", 0) != 0) continue;  // the classifier stays behind
        records.push_back({name.substr(5), entry.shape, tiny.read_floats(name), false, 0});
    }
    records.push_back({"embeddings.position_ids", {}, {}, true, 0});
    const auto bare = std::filesystem::temp_directory_path() / "smile-bert-bare.safetensors";
    smile::io::write_safetensors(bare, records);
    const auto config = smile::bert_config::from_json_file(fixtures / "bert_tiny" / "config.json");
    smile::session<device> s;
    smile::rng gen(6);
    smile::bert_classifier<device> model(s, gen, config);
    CHECK_THROWS_WITH_AS(smile::io::load_weights<device>(model, bare),
                         doctest::Contains("fc.weight"), smile::error);
    smile::io::load_options lenient;
    lenient.strict = false;
    const auto report = smile::io::load_weights<device>(model, bare, lenient);
    CHECK(report.naming == "bert (no prefix)");
    CHECK(report.loaded.size() == 39);
    CHECK(report.missing == std::vector<std::string>{"fc.weight", "fc.bias"});
    CHECK(report.unexpected.empty());
    CHECK(report.ignored == 1);
    const smile::io::safetensors_reader f(fixtures / "bert_tiny_parity.safetensors");
    smile::tensor<device> logits;
    model.forward(s, batch_of(f), logits, smile::mode::eval);
    smile::test::check_fixture_close(f, "pooled", model.bert().pooled().to_host());
    std::filesystem::remove(bare);
}

TEST_CASE(
    "bert: a sentence's logits do not change when it is batched with longer ones (padding "
    "invariance)") {
    auto config = smile::bert_config::from_json_file(fixtures / "bert_tiny" / "config.json");
    smile::session<device> s;
    smile::rng gen(3);
    smile::bert_classifier<device> model(s, gen, config);
    smile::io::load_weights<device>(model, fixtures / "bert_tiny" / "model.safetensors");
    smile::token_batch alone{1, 4, {2, 17, 23, 3}, {0, 0, 0, 0}, {1, 1, 1, 1}};
    smile::token_batch padded{2,
                              7,
                              {2, 30, 11, 12, 13, 14, 3, 2, 17, 23, 3, 0, 0, 0},
                              {0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0},
                              {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}};
    smile::tensor<device> a, p;
    model.forward(s, alone, a, smile::mode::eval);
    model.forward(s, padded, p, smile::mode::eval);
    const auto mine = a.to_host(), batched = p.to_host();
    const std::vector<float> second(batched.begin() + config.num_labels, batched.end());
    CHECK(smile::test::relative_error(second, mine) < 1e-6);
    // The padding's ids do not matter either.
    padded.input_ids[11] = 39;
    model.forward(s, padded, p, smile::mode::eval);
    CHECK(p.to_host() == batched);
    // A smaller batch after a larger one reuses the larger one's buffers: same logits.
    model.forward(s, alone, a, smile::mode::eval);
    CHECK(a.to_host() == mine);
    const smile::token_batch three{3,
                                   5,
                                   {2, 17, 23, 3, 0, 2, 30, 11, 12, 3, 2, 14, 3, 0, 0},
                                   std::vector<std::int64_t>(15, 0),
                                   {1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}};
    model.forward(s, three, p, smile::mode::eval);
    const auto after = p.to_host();
    smile::bert_classifier<device> fresh(s, gen, config);
    smile::io::load_weights<device>(fresh, fixtures / "bert_tiny" / "model.safetensors");
    fresh.forward(s, three, p, smile::mode::eval);
    CHECK(smile::test::relative_error(after, p.to_host()) < 1e-6);
}

TEST_CASE(
    "bert: training with dropout everywhere reproduces under a seed and its gradients match finite "
    "differences") {
    auto config = smile::bert_config::from_json_file(fixtures / "bert_tiny" / "config.json");
    config.hidden_dropout_prob = 0.2f;
    config.attention_probs_dropout_prob = 0.3f;
    smile::session<device> s;
    smile::rng init(4);
    smile::bert_classifier<device> model(s, init, config);
    smile::io::load_weights<device>(model, fixtures / "bert_tiny" / "model.safetensors");
    const smile::io::safetensors_reader f(fixtures / "bert_tiny_parity.safetensors");
    const auto b = batch_of(f);
    const auto labels = f.read_integers("labels");
    smile::rng draws(0);
    model.set_generator(&draws);
    smile::tensor<device> logits;
    auto loss_at = [&](bool backward) {
        draws = smile::rng(99);  // the same masks at every evaluation
        return loss_and_backward(s, model, b, labels, smile::mode::train, logits, backward);
    };
    const double first = loss_at(false);
    const auto first_logits = logits.to_host();
    CHECK(loss_at(false) == first);
    smile::tensor<device> eval_logits;
    model.forward(s, b, eval_logits, smile::mode::eval);
    CHECK(smile::test::relative_error(first_logits, eval_logits.to_host()) >
          1e-2);  // dropout acted

    loss_at(true);
    std::vector<std::vector<float>> analytic;
    for (auto& [name, p] : smile::parameters_of<device>(model))
        analytic.push_back(p->grad.to_host());
    const auto r = smile::test::check_directional_gradients_against<device>(
        model, analytic, [&] { return loss_at(false); }, 5, 2);
    CHECK(r.parameters == 41);
    CHECK(r.compared >= 70);
    model.set_generator(nullptr);
    CHECK_THROWS_WITH_AS(model.forward(s, b, logits, smile::mode::train),
                         doctest::Contains("dropout in training needs a generator"), smile::error);
}

TEST_CASE(
    "bert: mixing sequences after the embeddings or at the pooled output: values and gradients") {
    const auto config = smile::bert_config::from_json_file(fixtures / "bert_tiny" / "config.json");
    const smile::io::safetensors_reader f(fixtures / "bert_tiny_parity.safetensors");
    const auto b = batch_of(f);
    const auto labels = f.read_integers("labels");
    smile::mixup_plan plan;
    plan.lambda = 0.7;
    plan.perm = {2, 0, 1};
    for (const auto point : {smile::text_mix_point::pooled, smile::text_mix_point::embeddings}) {
        CAPTURE(static_cast<int>(point));
        smile::session<device> s;
        smile::rng gen(7);
        smile::bert_classifier<device> model(s, gen, config);
        smile::io::load_weights<device>(model, fixtures / "bert_tiny" / "model.safetensors");
        smile::tensor<device> logits;
        if (point == smile::text_mix_point::pooled) {
            model.forward(s, b, logits, smile::mode::eval, &plan, point);
            const auto mixed = model.features().to_host(), pooled = model.bert().pooled().to_host();
            const std::size_t h = 16;
            for (std::size_t i = 0; i < 3; ++i)
                for (std::size_t j = 0; j < h; ++j)
                    CHECK(mixed[i * h + j] ==
                          doctest::Approx(0.7 * pooled[i * h + j] +
                                          0.3 * pooled[std::size_t(plan.perm[i]) * h + j]));
        }
        auto loss_at = [&](bool backward) {
            model.forward(s, b, logits, smile::mode::eval_grad, &plan, point);
            auto targets = smile::tensor<device>::from_host(s, logits.shape(),
                                                            one_hot(labels, logits.shape().c));
            smile::tensor<device> d_logits(s, logits.shape());
            const double loss = smile::ops<device>::softmax_cross_entropy(
                s.context(), logits.view(), targets.view(), 1.0f / 3.0f, d_logits.view());
            if (backward) model.backward(s, d_logits);
            return loss / 3.0;
        };
        loss_at(true);
        std::vector<std::vector<float>> analytic;
        for (auto& [name, p] : smile::parameters_of<device>(model))
            analytic.push_back(p->grad.to_host());
        const auto r = smile::test::check_directional_gradients_against<device>(
            model, analytic, [&] { return loss_at(false); }, 8, 2);
        CHECK(r.compared >= 70);
    }
}

TEST_CASE("bert: bad configurations, batches and weight files are reported by name") {
    const auto dir = std::filesystem::temp_directory_path() / "smile-bert-config";
    std::filesystem::create_directories(dir);
    auto write = [&](const std::string& text) {
        std::ofstream(dir / "config.json") << text;
        return dir / "config.json";
    };
    CHECK_THROWS_WITH_AS(
        (void)smile::bert_config::from_json_file(
            write(R"({"hidden_size": 10, "num_attention_heads": 3})")),
        doctest::Contains("hidden_size 10 is not a multiple of num_attention_heads 3"),
        smile::error);
    CHECK_THROWS_WITH_AS(
        (void)smile::bert_config::from_json_file(write(R"({"hidden_act": "swish"})")),
        doctest::Contains("hidden_act 'swish' is not one smile knows"), smile::error);
    CHECK_THROWS_WITH_AS(
        (void)smile::bert_config::from_json_file(write(R"({"num_hidden_layers": "12"})")),
        doctest::Contains("num_hidden_layers is not an integer"), smile::error);
    CHECK_THROWS_WITH_AS(
        (void)smile::bert_config::from_json_file(write(R"({"model_type": "roberta"})")),
        doctest::Contains("model_type is 'roberta', not bert"), smile::error);
    CHECK_THROWS_WITH_AS((void)smile::bert_config::from_json_file(write("[1, 2")),
                         doctest::Contains("not a JSON object"), smile::error);
    const auto tiny = smile::bert_config::from_json_file(fixtures / "bert_tiny" / "config.json");
    smile::session<device> s;
    smile::rng gen(5);
    smile::bert_classifier<device> model(s, gen, tiny);
    smile::tensor<device> logits;
    const auto fails = [&](smile::token_batch b, const char* text) {
        CHECK_THROWS_WITH_AS(model.forward(s, b, logits, smile::mode::eval),
                             doctest::Contains(text), smile::error);
    };
    fails({1, 3, {2, 40, 3}, {0, 0, 0}, {1, 1, 1}},
          "sequence 0 token 1 has id 40, outside the vocabulary of 40");
    fails({1, 3, {2, 4, 3}, {0, 2, 0}, {1, 1, 1}}, "token 1 has token type 2, outside 0..1");
    fails({1, 3, {2, 4, 3}, {0, 0, 0}, {0, 0, 0}},
          "sequence 0 has no token its attention mask keeps");
    fails({1, 13, std::vector<std::int64_t>(13, 5), std::vector<std::int64_t>(13, 0),
           std::vector<float>(13, 1.0f)},
          "sequences of 13 tokens are longer than the model's 12 positions");
    // A file with another hidden size is another architecture: refused with the tensor named.
    auto other = tiny;
    other.hidden_size = 8;
    other.num_attention_heads = 2;
    smile::bert_classifier<device> small(s, gen, other);
    CHECK_THROWS_WITH_AS(
        smile::io::load_weights<device>(small, fixtures / "bert_tiny" / "model.safetensors"),
        doctest::Contains("bert.embeddings.word_embeddings.weight"), smile::error);
}
