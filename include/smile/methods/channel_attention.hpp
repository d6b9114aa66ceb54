#pragma once
/// @file
/// DELTA's channel attention (Li et al., ICLR 2019; the original `channel_eval.py`):
///
/// 1. train a new classifier head on the frozen pretrained backbone;
/// 2. for the first few batches of a shuffled pass over the training set, zero each output
///    filter k of each hooked convolution in turn and record ΔL_k = L(filter k zeroed) −
///    L(intact), averaged over the batches;
/// 3. per layer, z-normalise ΔL and take W = softmax(z/5), so that W sums to 1.
///
/// As the original, both phases see the training transform with the network in training mode
/// (batch statistics), and the batches are drawn in a shuffled order from the run's seed: an
/// unshuffled pass over a class-ordered list would measure the filters on the first few
/// classes only.
///
/// The cost is one forward per channel and batch, so the result is meant to be computed once
/// and cached to a file (`save_attention` / `load_attention`).

#include <cmath>
#include <map>
#include <optional>
#include <smile/core/ops.hpp>
#include <smile/io/safetensors.hpp>
#include <smile/methods/method.hpp>
#include <smile/train/evaluate.hpp>

namespace smile {

struct attention_options {
    std::int64_t head_iterations = 200;  ///< head training steps on the frozen backbone
    std::int64_t batches = 4;            ///< batches the filter-zeroing losses are averaged over
    std::int64_t batch_size = 32;
    float head_lr = 0.01f;
    std::optional<std::uint64_t> seed;  ///< shuffling and augmentation; unset: drawn from the run's generator
    std::size_t workers = 2;
};

/// z-normalisation and softmax(z/5) of the per-channel loss increases of one layer.
[[nodiscard]] inline std::vector<float> attention_from_losses(const std::vector<double>& increase) {
    const double n = double(increase.size());
    double mean = 0, var = 0;
    for (double v : increase) mean += v;
    mean /= n;
    for (double v : increase) var += (v - mean) * (v - mean);
    const double sd = std::sqrt(var / n);
    std::vector<double> z(increase.size());
    double top = -1e300;
    for (std::size_t i = 0; i < z.size(); ++i) {
        z[i] = (sd > 0 ? (increase[i] - mean) / sd : 0.0) / 5.0;
        top = std::max(top, z[i]);
    }
    double total = 0;
    for (double& v : z) total += (v = std::exp(v - top));
    std::vector<float> w(z.size());
    for (std::size_t i = 0; i < z.size(); ++i) w[i] = static_cast<float>(z[i] / total);
    return w;
}

/// The batches the filter-zeroing losses are measured on: one shuffled pass (drop_last, so
/// each batch is full) of the training samples under the training transform.
[[nodiscard]] inline data::loader attention_batches(const std::shared_ptr<const data::dataset>& d,
                                                    const std::vector<data::sample>& samples, const data::pipeline& transform,
                                                    std::int64_t batch, std::size_t workers, std::uint64_t seed) {
    return data::loader(d, samples, transform, {batch, true, true, false, workers, 2, seed ^ 0x64656c7461ULL, false, 0});
}

/// Computes the attention of each convolution in `convs` (names like "layer4.2.conv3") for
/// `model` (the pretrained backbone with a new target head), from the training `samples`
/// under the training `transform`, with `seed` for the order and the augmentation.
template <Backend B>
std::map<std::string, std::vector<float>> compute_channel_attention(
    session<B>& s, classifier<B>& model, const std::vector<std::string>& convs, const std::shared_ptr<const data::dataset>& d,
    const std::vector<data::sample>& samples, const data::pipeline& transform, const attention_options& o,
    std::uint64_t seed) {
    // 1. The head on frozen features: pooled features in evaluation mode, head in training mode.
    linear<B>& head = model.head();
    sgd<B> opt({0.9f, 0.0f, 1e-4f, false});
    std::vector<std::pair<std::string, parameter<B>*>> head_parameters;
    head.visit_parameters("fc", [&](const std::string& n, parameter<B>& p) { head_parameters.emplace_back(n, &p); });
    opt.attach_parameters(head_parameters);
    tensor<B> x, logits, targets, dlogits, pooled;
    auto upload = [&](const data::host_batch& b) {
        const auto& sh = b.images.shape();
        x.bind(s.context());
        x.resize({std::int64_t(sh[0]), std::int64_t(sh[1]), std::int64_t(sh[2]), std::int64_t(sh[3])});
        x.copy_from_host(std::span<const float>(b.images.data(), b.images.size()));
    };
    const std::int64_t batch = std::min<std::int64_t>(o.batch_size, std::int64_t(samples.size()));
    {
        data::loader l(d, samples, transform, {batch, true, true, true, o.workers, 2, seed, false, 0});
        for (std::int64_t k = 0; k < o.head_iterations; ++k) {
            const data::host_batch* b = l.next();
            upload(*b);
            model.forward(s, x, mode::train);
            pooled.assign(model.pooled());
            head.forward(s, pooled, logits, mode::train);
            cross_entropy(s, logits, one_hot(b->labels, model.num_classes()), targets, dlogits);
            head.backward(s, dlogits, nullptr);
            opt.step(s, o.head_lr);
        }
    }
    // 2. Loss increase of each zeroed filter, averaged over the first batches.
    std::map<std::string, parameter<B>*> params;
    for (auto& [name, p] : parameters_of<B>(model)) params[name] = p;
    std::map<std::string, std::vector<double>> increase;
    for (const auto& c : convs) {
        SMILE_CHECK(params.count(c + ".weight"), "channel attention: the model has no convolution '", c, "'");
        increase[c].assign(std::size_t(params[c + ".weight"]->shape().n), 0.0);
    }
    data::loader l = attention_batches(d, samples, transform, batch, o.workers, seed);
    auto loss = [&](const data::host_batch& b) {
        model.forward(s, x, mode::train);
        return cross_entropy(s, model.logits(), one_hot(b.labels, model.num_classes()), targets, dlogits);
    };
    std::int64_t used = 0;
    for (; used < o.batches; ++used) {
        const data::host_batch* b = l.next();
        if (b == nullptr) break;
        upload(*b);
        const double intact = loss(*b);
        for (const auto& c : convs) {
            tensor<B>& w = params[c + ".weight"]->value;
            for (std::int64_t k = 0; k < w.shape().n; ++k) {
                tensor<B> saved(s, {1, w.shape().c, w.shape().h, w.shape().w});
                ops<B>::copy(s.context(), w.rows(k, k + 1), saved.view());
                ops<B>::fill(s.context(), w.rows(k, k + 1), 0.0f);
                increase[c][std::size_t(k)] += loss(*b) - intact;
                ops<B>::copy(s.context(), saved.view(), w.rows(k, k + 1));
            }
        }
    }
    SMILE_CHECK(used > 0, "channel attention: no batches");
    std::map<std::string, std::vector<float>> out;
    for (auto& [c, v] : increase) {
        for (double& x_ : v) x_ /= double(used);
        out[c] = attention_from_losses(v);
    }
    return out;
}

/// Saves attention vectors (atomically) with a description of what they were computed from.
inline void save_attention(const std::filesystem::path& path, const std::map<std::string, std::vector<float>>& attention,
                           const std::map<std::string, std::string>& provenance) {
    std::vector<io::safetensors_record> records;
    for (const auto& [name, w] : attention) records.push_back({"attention." + name, {std::int64_t(w.size())}, w, false, 0});
    auto meta = provenance;
    meta["smile.delta_attention"] = "1";
    io::write_safetensors(path, records, meta);
}

/// Loads cached attention for `convs`, checking that it was computed from the same source.
inline std::map<std::string, std::vector<float>> load_attention(const std::filesystem::path& path,
                                                                const std::vector<std::string>& convs,
                                                                const std::map<std::string, std::string>& provenance) {
    io::safetensors_reader f(path);
    SMILE_CHECK(f.metadata().count("smile.delta_attention"), path.string(), ": not a DELTA attention file");
    for (const auto& [k, v] : provenance)
        if (f.metadata().count(k) && f.metadata().at(k) != v)
            detail::fail(path.string(), ": attention computed for ", k, " = ", f.metadata().at(k), ", not ", v,
                         " (delete the file to recompute)");
    std::map<std::string, std::vector<float>> out;
    for (const auto& c : convs) out[c] = f.read_floats("attention." + c);
    return out;
}

}  // namespace smile
