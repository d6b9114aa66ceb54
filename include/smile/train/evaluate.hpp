#pragma once
/// @file
/// Top-1 accuracy of a classifier's target head over a dataset split, in evaluation mode.

#include <smile/data/loader.hpp>
#include <smile/models/classifier.hpp>

namespace smile {

struct evaluation {
    double top1 = 0.0;       ///< fraction of correctly classified images
    std::int64_t images = 0;
    std::int64_t correct = 0;
};

template <Backend B>
evaluation evaluate(session<B>& s, classifier<B>& model, const std::shared_ptr<const data::dataset>& d,
                    const std::vector<data::sample>& samples, const data::pipeline& transform,
                    std::int64_t batch_size = 256, std::size_t workers = 2) {
    data::loader l(d, samples, transform, {batch_size, false, false, false, workers, 2, 0, false, 0});
    evaluation e;
    tensor<B> x;
    x.bind(s.context());
    while (const data::host_batch* b = l.next()) {
        const auto& sh = b->images.shape();
        x.resize({std::int64_t(sh[0]), std::int64_t(sh[1]), std::int64_t(sh[2]), std::int64_t(sh[3])});
        x.copy_from_host(std::span<const float>(b->images.data(), b->images.size()));
        model.forward(s, x, mode::eval);
        const auto logits = model.logits().to_host();
        const std::int64_t k = model.num_classes();
        for (std::int64_t i = 0; i < b->size(); ++i) {
            const float* row = logits.data() + i * k;
            const auto best = std::max_element(row, row + k) - row;
            e.correct += best == b->labels[std::size_t(i)];
        }
        e.images += b->size();
    }
    e.top1 = e.images > 0 ? double(e.correct) / double(e.images) : 0.0;
    return e;
}

}  // namespace smile
