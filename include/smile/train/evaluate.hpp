#pragma once
/// @file
/// Accuracy of a classifier's target head over a dataset split, in evaluation mode: top-1,
/// top-5, per class, and (on request) the confusion matrix.

#include <algorithm>
#include <optional>
#include <smile/data/loader.hpp>
#include <smile/distributed/communicator.hpp>
#include <smile/models/classifier.hpp>
#include <vector>

namespace smile {

struct evaluation {
    double top1 = 0.0;       ///< fraction of correctly classified images
    double top5 =
        0.0;  ///< fraction whose label is among the 5 highest logits (all when < 5 classes)
    std::int64_t images = 0;
    std::int64_t correct = 0;
    std::int64_t correct_top5 = 0;
    std::vector<std::int64_t> class_images;   ///< images of each class
    std::vector<std::int64_t> class_correct;  ///< of which correctly classified
    /// confusion[label * classes + predicted]; empty unless asked for.
    std::vector<std::int64_t> confusion;

    /// Accuracy of class c (0 when the split has no image of it).
    [[nodiscard]] double class_accuracy(std::size_t c) const {
        return class_images.at(c) > 0 ? double(class_correct.at(c)) / double(class_images.at(c))
                                      : 0.0;
    }
    /// The mean of the per-class accuracies over the classes present (Aircraft's and Cars' usual
    /// "mean class accuracy").
    [[nodiscard]] double mean_class_accuracy() const {
        double sum = 0;
        std::int64_t present = 0;
        for (std::size_t c = 0; c < class_images.size(); ++c)
            if (class_images[c] > 0) {
                sum += class_accuracy(c);
                ++present;
            }
        return present > 0 ? sum / double(present) : 0.0;
    }
};

/// Counts one image whose logits are `row[0..k)` and whose label is `label` into `e`. Equal
/// logits rank the lower class first (so top-1 is std::max_element's first maximum).
inline void count_prediction(evaluation& e, const float* row, std::int64_t k, std::int64_t label) {
    const std::int64_t predicted = std::max_element(row, row + k) - row;
    // The label is in the top 5 when fewer than 5 classes score strictly higher (or equal and
    // come first).
    std::int64_t ahead = 0;
    for (std::int64_t j = 0; j < k && ahead < 5; ++j)
        ahead += row[j] > row[label] || (row[j] == row[label] && j < label);
    e.correct += predicted == label;
    e.correct_top5 += ahead < 5;
    e.class_images[std::size_t(label)] += 1;
    e.class_correct[std::size_t(label)] += predicted == label;
    if (!e.confusion.empty()) e.confusion[std::size_t(label * k + predicted)] += 1;
    e.images += 1;
}

/// Sums every rank's counts into `e` and recomputes its rates: the evaluation of the whole split
/// from the ranks' disjoint shards.
inline void reduce_evaluation(communicator& c, evaluation& e) {
    std::vector<double> counts{double(e.images), double(e.correct), double(e.correct_top5)};
    for (const auto* v : {&e.class_images, &e.class_correct, &e.confusion})
        counts.insert(counts.end(), v->begin(), v->end());
    c.allreduce_sum(counts);
    std::size_t at = 0;
    e.images = std::int64_t(counts[at++]);
    e.correct = std::int64_t(counts[at++]);
    e.correct_top5 = std::int64_t(counts[at++]);
    for (auto* v : {&e.class_images, &e.class_correct, &e.confusion})
        for (auto& x : *v) x = std::int64_t(counts[at++]);
    e.top1 = e.images > 0 ? double(e.correct) / double(e.images) : 0.0;
    e.top5 = e.images > 0 ? double(e.correct_top5) / double(e.images) : 0.0;
}

/// The accuracy of `model` on `samples`. In a data-parallel session every rank must call it: each
/// evaluates its contiguous share of the samples and the counts are summed, so every rank gets
/// the numbers one process would.
template <Backend B>
evaluation evaluate(session<B>& s, classifier<B>& model,
                    const std::shared_ptr<const data::dataset>& d,
                    const std::vector<data::sample>& samples, const data::pipeline& transform,
                    std::int64_t batch_size = 256, std::size_t workers = 2,
                    bool with_confusion = false) {
    communicator& c = s.comm();
    const auto n = std::int64_t(samples.size());
    const auto first = n * c.rank() / c.size(), last = n * (c.rank() + 1) / c.size();
    const std::vector<data::sample> share(samples.begin() + first, samples.begin() + last);
    const std::int64_t k = model.num_classes();
    evaluation e;
    e.class_images.assign(std::size_t(k), 0);
    e.class_correct.assign(std::size_t(k), 0);
    if (with_confusion) e.confusion.assign(std::size_t(k * k), 0);
    tensor<B> x;
    x.bind(s.context());
    std::optional<data::loader> l;
    if (!share.empty())
        l.emplace(d, share, transform,
                  data::loader_options{batch_size, false, false, false, workers, 2, 0, false, 0});
    while (const data::host_batch* b = l ? l->next() : nullptr) {
        const auto& sh = b->images.shape();
        x.resize({std::int64_t(sh[0]), std::int64_t(sh[1]), std::int64_t(sh[2]), std::int64_t(sh[3])});
        x.copy_from_host(std::span<const float>(b->images.data(), b->images.size()));
        model.forward(s, x, mode::eval);
        const auto logits = model.logits().to_host();
        for (std::int64_t i = 0; i < b->size(); ++i) {
            const std::int64_t label = b->labels[std::size_t(i)];
            SMILE_CHECK(label >= 0 && label < k, "evaluate: label ", label, " of a ", k,
                        "-class head");
            count_prediction(e, logits.data() + i * k, k, label);
        }
    }
    if (c.distributed()) {
        reduce_evaluation(c, e);
        return e;
    }
    e.top1 = e.images > 0 ? double(e.correct) / double(e.images) : 0.0;
    e.top5 = e.images > 0 ? double(e.correct_top5) / double(e.images) : 0.0;
    return e;
}

}  // namespace smile
