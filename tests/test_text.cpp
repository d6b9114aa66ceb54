// BERT's WordPiece tokenizer: hand cases, and every case of a reference that follows Hugging
// Face's BertTokenizer step by step (tests/fixtures/make_text_fixtures.py), uncased and cased.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <smile/text/sst.hpp>
#include <smile/text/wordpiece.hpp>

#include "dataset_builder.hpp"

namespace fs = std::filesystem;
using smile::text::wordpiece_options;
using smile::text::wordpiece_tokenizer;

namespace {

const fs::path fixtures = fs::path(SMILE_TEST_FIXTURES) / "wordpiece";

wordpiece_tokenizer hand_made(bool lower_case = true) {
    wordpiece_options o;
    o.lower_case = lower_case;
    return {{"[PAD]",  "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff",
             "##able", "a",     "fine",  "film",  ".",      ",",  "hello",
             "world",  "!",     "Hello", "cafe",  "café",   "我", "好"},
            o};
}

using tokens = std::vector<std::string>;

}  // namespace

TEST_CASE(
    "wordpiece: greedy longest match first, [UNK] for a word with no match or over 100 "
    "characters") {
    const auto t = hand_made();
    CHECK(t.tokenize("unaffable") == tokens{"un", "##aff", "##able"});
    CHECK(t.tokenize("A fine film.") == tokens{"a", "fine", "film", "."});
    CHECK(t.tokenize("Hello, WORLD!") == tokens{"hello", ",", "world", "!"});
    CHECK(t.tokenize("unaffablex fine") ==
          tokens{"[UNK]", "fine"});  // "##x" is not there: the whole word
    CHECK(t.tokenize(std::string(101, 'a')) == tokens{"[UNK]"});
    CHECK(t.tokenize("Café") == tokens{"cafe"});      // uncased: lower-cased and accents stripped
    CHECK(t.tokenize("我好") == tokens{"我", "好"});  // CJK ideographs are words of their own
    CHECK(t.tokenize("a\u0007fine\u200b film") ==
          tokens{"[UNK]", "film"});  // controls dropped: "afine"
    CHECK(t.tokenize("[CLS]hello[SEP]") == tokens{"[CLS]", "hello", "[SEP]"});
    CHECK(t.tokenize("") == tokens{});
    const auto cased = hand_made(false);
    CHECK(cased.tokenize("Hello café") == tokens{"Hello", "café"});
    CHECK(cased.tokenize("HELLO") == tokens{"[UNK]"});
}

TEST_CASE(
    "wordpiece: classification encodings add [CLS] and [SEP], truncate the longer text first, pad "
    "with a 0 mask") {
    const auto t = hand_made();
    const auto e = t.encode("a fine film", 8);
    CHECK(e.ids == std::vector<std::int32_t>{2, 8, 9, 10, 3, 0, 0, 0});
    CHECK(e.attention_mask == std::vector<std::int32_t>{1, 1, 1, 1, 1, 0, 0, 0});
    CHECK(e.token_types == std::vector<std::int32_t>(8, 0));
    CHECK(t.encode("a fine film", 4).ids == std::vector<std::int32_t>{2, 8, 9, 3});
    // Pairs: 2 + 4 tokens into 7 - 3 = 4 places: the longer loses 2.
    const auto pair = t.encode("a fine", 7, false, std::string_view("hello world hello world"));
    CHECK(pair.ids == std::vector<std::int32_t>{2, 8, 9, 3, 13, 14, 3});
    CHECK(pair.token_types == std::vector<std::int32_t>{0, 0, 0, 0, 1, 1, 1});
    CHECK_THROWS_WITH_AS((void)t.encode("a", 1),
                         doctest::Contains("max_length 1 leaves no room for the 2 special tokens"),
                         smile::error);
}

TEST_CASE("wordpiece: every reference case, uncased and cased, from vocab.txt") {
    std::ifstream in(fixtures / "cases.json");
    REQUIRE(in);
    const auto cases = nlohmann::json::parse(in);
    REQUIRE(cases.size() >= 15);
    for (const bool lower : {true, false}) {
        wordpiece_options o;
        o.lower_case = lower;
        const auto t = wordpiece_tokenizer::from_vocab_file(fixtures / "vocab.txt", o);
        for (const auto& c : cases) {
            const auto& expected = c.at(lower ? "uncased" : "cased");
            const std::string text = c.at("text").get<std::string>();
            INFO((lower ? "uncased: " : "cased: "), text);
            CHECK(t.tokenize(text) == expected.at("tokens").get<tokens>());
            const auto e = t.encode(text, 16);
            CHECK(e.ids == expected.at("encoding").at("ids").get<std::vector<std::int32_t>>());
            CHECK(e.attention_mask ==
                  expected.at("encoding").at("attention_mask").get<std::vector<std::int32_t>>());
        }
    }
}

TEST_CASE(
    "wordpiece: tokenizer.json of the WordPiece type gives the same tokens, and other files are "
    "named") {
    smile::test::temp_tree t("tokenizer_json");
    std::ifstream vocab_file(fixtures / "vocab.txt");
    nlohmann::json vocab = nlohmann::json::object();
    std::string line;
    for (std::int64_t id = 0; std::getline(vocab_file, line); ++id) vocab[line] = id;
    nlohmann::json j{{"model",
                      {{"type", "WordPiece"},
                       {"unk_token", "[UNK]"},
                       {"continuing_subword_prefix", "##"},
                       {"max_input_chars_per_word", 100},
                       {"vocab", vocab}}},
                     {"normalizer",
                      {{"type", "BertNormalizer"},
                       {"clean_text", true},
                       {"handle_chinese_chars", true},
                       {"strip_accents", nullptr},
                       {"lowercase", true}}}};
    const auto path = t.root / "tokenizer.json";
    fs::create_directories(t.root);
    std::ofstream(path) << j.dump();
    const auto from_json = wordpiece_tokenizer::from_tokenizer_json(path);
    const auto from_txt = wordpiece_tokenizer::from_vocab_file(fixtures / "vocab.txt");
    CHECK(from_json.size() == from_txt.size());
    for (const char* text : {"Hello, World! It's $100", "Héllo Wörld, naïve café; ÉCOLE",
                             "我喜欢这部电影。", "unaffableness"})
        CHECK(from_json.tokenize(text) == from_txt.tokenize(text));
    CHECK_FALSE(
        from_json.options().nfc_before_split);  // the fast tokenizer's normalizer does not compose

    j["model"]["type"] = "BPE";
    std::ofstream(path) << j.dump();
    CHECK_THROWS_WITH_AS(wordpiece_tokenizer::from_tokenizer_json(path),
                         doctest::Contains("model type 'BPE', not WordPiece"), smile::error);
    j["model"]["type"] =
        5;  // a field of the wrong type is named, not an exception of the JSON library
    std::ofstream(path) << j.dump();
    CHECK_THROWS_WITH_AS(wordpiece_tokenizer::from_tokenizer_json(path),
                         doctest::Contains("model.type is not a string"), smile::error);
    j["model"]["type"] = "WordPiece";
    j["normalizer"]["lowercase"] = "yes";
    std::ofstream(path) << j.dump();
    CHECK_THROWS_WITH_AS(wordpiece_tokenizer::from_tokenizer_json(path),
                         doctest::Contains("normalizer.lowercase is not true or false"),
                         smile::error);
    j["normalizer"]["lowercase"] = true;
    j["model"]["vocab"]["[UNK]"] = 999999;
    std::ofstream(path) << j.dump();
    CHECK_THROWS_WITH_AS(wordpiece_tokenizer::from_tokenizer_json(path),
                         doctest::Contains("token '[UNK]' has id 999999"), smile::error);
    CHECK_THROWS_WITH_AS(wordpiece_tokenizer({"a", "b"}, {}, "tiny.txt"),
                         doctest::Contains("tiny.txt: no unknown token '[UNK]' in the vocabulary"),
                         smile::error);
}

TEST_CASE("sst: PTB trees give the root's label and the leaves with the escapes undone, JSON lines their fields") {
    smile::test::temp_tree t("sst");
    fs::create_directories(t.root / "trees");
    const auto trees = t.root / "trees" / "dev.txt";
    std::ofstream(trees) << "(3 (2 It) (4 (4 (2 's) (4 (3 (2 a) (4 (3 lot) (2 (2 of) (2 fun)))))) (2 .)))\n"
                         << "\n"
                         << "(1 (2 (2 -LRB-) (2 sic) (2 -RRB-)) (1 (2 -LSB-) (1 dull) (2 -RSB-)) (2 -LCB-x-RCB-))\r\n"
                         << "(4 great)\n";
    const auto d = smile::text::read_ptb_trees(trees);
    REQUIRE(d.size() == 3);
    CHECK(d[0].label == 3);
    CHECK(d[0].text == "It 's a lot of fun .");
    CHECK(d[1].label == 1);
    CHECK(d[1].text == "( sic ) [ dull ] -LCB-x-RCB-");  // only whole leaves are escapes
    CHECK(d[2].text == "great");
    CHECK(smile::text::sst5_classes().at(std::size_t(d[2].label)) == "very positive");
    struct bad {
        std::string line, message;
    };
    for (const auto& [line, message] : {bad{"(3 (2 It) (4 fun)", "dev.txt:1: unbalanced parentheses (1 not closed)"},
                                        bad{"(7 (2 It))", "dev.txt:1: label 7 is outside 0..4"},
                                        bad{"(x It)", "dev.txt:1: a node without a numeric label"},
                                        bad{"(2 It)) x", "dev.txt:1: ')' without '('"},
                                        bad{"(2 It) (3 too)", "dev.txt:1: more than one tree on the line"},
                                        bad{"It", "dev.txt:1: a tree must start with '('"},
                                        bad{"(2 (3 ))", "dev.txt:1: a tree without words"}}) {
        std::ofstream(trees) << line << "\n";
        CHECK_THROWS_WITH_AS(smile::text::read_ptb_trees(trees), doctest::Contains(message.c_str()), smile::error);
    }
    {
        std::ofstream deep(trees);  // 100,000 nested nodes: read without recursion
        for (int k = 0; k < 100000; ++k) deep << "(2 ";
        deep << "deep" << std::string(100000, ')') << "\n";
    }
    CHECK(smile::text::read_ptb_trees(trees).at(0).text == "deep");

    const auto lines = t.root / "train.jsonl";
    std::ofstream(lines) << R"({"text": "a gorgeous, witty film", "label": 4, "label_text": "very positive"})" << "\n\n"
                         << R"({"label": 0, "text": "tedious"})" << "\n";
    const auto j = smile::text::read_json_lines(lines, 5);
    REQUIRE(j.size() == 2);
    CHECK(j[0].text == "a gorgeous, witty film");
    CHECK(j[0].label == 4);
    CHECK(j[1].label == 0);
    std::ofstream(lines) << R"({"text": "x", "label": 5})" << "\n";
    CHECK_THROWS_WITH_AS(smile::text::read_json_lines(lines, 5), doctest::Contains("train.jsonl:1: label 5 is outside 0..4"),
                         smile::error);
    std::ofstream(lines) << R"({"text": "x", "label": "4"})" << "\n";
    CHECK_THROWS_WITH_AS(smile::text::read_json_lines(lines, 5), doctest::Contains("train.jsonl:1: no integer \"label\""),
                         smile::error);
    std::ofstream(lines) << "{not json\n";
    CHECK_THROWS_WITH_AS(smile::text::read_json_lines(lines, 5), doctest::Contains("train.jsonl:1: not a JSON object"),
                         smile::error);
}
