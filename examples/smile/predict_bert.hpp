#pragma once
// smile predict --arch bert (predict_bert.cpp).
#include <cstdint>
#include <string>

namespace smile::cli {

struct bert_predict_options {
    std::string config, weights, vocab, text, output, features;
    std::int64_t num_classes = 0;  ///< 0: the config's num_labels
    std::int64_t max_length = 128;
    std::int64_t batch_size = 64;
    bool cased = false;
    bool allow_nonfinite = false;
};

void predict_bert(const bert_predict_options& o);

}  // namespace smile::cli
