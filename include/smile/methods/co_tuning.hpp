#pragma once
/// @file
/// Co-Tuning (You et al., NeurIPS 2020): keep and train the pretrained source classifier as a
/// second head, supervised through the category relationship r = p(y_s | y_t)
/// (relationship.hpp):
///
///   L = CE(z_t(x), y) + λ·(1/n) Σ_i Σ_s −r[y_i, s]·log softmax(z_s(x_i))_s,   λ = 2.3
///
/// r is computed once before training from the training images (evaluation transform and mode)
/// and kept fixed. TLlib's learning rates: backbone and source head at 0.1× the target head's
/// (the registry sets these rules unless others are given). docs/methods.md, "cotuning".

#include <smile/methods/method.hpp>
#include <smile/methods/relationship.hpp>
#include <smile/data/sampling.hpp>
#include <smile/train/evaluate.hpp>

namespace smile {

struct co_tuning_options {
    double lambda = 2.3;
    std::string relationship = "direct";  ///< direct (TLlib) | reverse (the original code)
    double validation = 0.2;              ///< reverse: fraction of each class held out to choose C
    double temperature = 0.8840456604957581;  ///< reverse: calibration of the source logits
};

template <Backend B>
class co_tuning_method : public method<B> {
public:
    co_tuning_method(session<B>& s, rng& gen, classifier<B> student, const optimizer_options& opt, const lr_schedule& schedule,
                     const co_tuning_options& o)
        : method<B>(s, gen, std::move(student), opt, schedule), o_(o) {
        SMILE_CHECK(this->model_.has_source_head(), "cotuning: the student needs a source head");
        SMILE_CHECK(o.relationship == "direct" || o.relationship == "reverse", "cotuning: unknown relationship '",
                    o.relationship, "' (expected direct or reverse)");
    }

    [[nodiscard]] std::string name() const override { return "cotuning"; }
    /// Its terms are means over the batch's rows, and r is rank 0's (see `prepare`).
    [[nodiscard]] bool data_parallel_ready() const override { return true; }

    /// Computes r from the (still pretrained) backbone and source head.
    void prepare(const std::shared_ptr<const data::dataset>& d, const std::vector<data::sample>& train,
                 const preparation& p) override {
        const data::pipeline& eval_transform = p.eval_transform;
        const std::size_t workers = p.workers;
        auto logits_of = [&](const std::vector<data::sample>& samples, std::vector<std::int64_t>& labels) {
            data::loader l(d, samples, eval_transform, {128, false, false, false, workers, 2, 0, false, 0});
            const std::int64_t cs = this->model_.source_classes();
            Eigen::MatrixXd z(Eigen::Index(samples.size()), cs);
            Eigen::Index row = 0;
            tensor<B> x;
            x.bind(this->session_.context());
            while (const data::host_batch* b = l.next()) {
                const auto& sh = b->images.shape();
                x.resize({std::int64_t(sh[0]), std::int64_t(sh[1]), std::int64_t(sh[2]), std::int64_t(sh[3])});
                x.copy_from_host(std::span<const float>(b->images.data(), b->images.size()));
                this->model_.forward(this->session_, x, mode::eval);
                const auto v = this->model_.source_logits().to_host();
                for (std::int64_t i = 0; i < b->size(); ++i, ++row) {
                    for (std::int64_t c = 0; c < cs; ++c) z(row, c) = v[std::size_t(i * cs + c)];
                    labels.push_back(b->labels[std::size_t(i)]);
                }
            }
            return z;
        };
        const std::int64_t ct = this->model_.num_classes(), cs = this->model_.source_classes();
        // Over several ranks rank 0 alone computes r, as one process, and every rank takes it.
        relationship_.clear();
        on_rank_zero_alone(this->session_, [&] {
            Eigen::MatrixXd r;
            if (o_.relationship == "direct") {
                std::vector<std::int64_t> labels;
                r = direct_relationship(softmax_rows(logits_of(train, labels)), labels, ct);
            } else {
                const auto [fit, held_out] =
                    data::split_validation(train, ct, o_.validation, 0x636f74);
                std::vector<std::int64_t> fit_labels, val_labels;
                const auto p_fit = softmax_rows(logits_of(fit, fit_labels), o_.temperature);
                const auto p_val = softmax_rows(logits_of(held_out, val_labels), o_.temperature);
                r = reverse_relationship(p_fit, fit_labels, p_val, val_labels, ct);
            }
            relationship_.assign(std::size_t(r.size()), 0.0f);
            for (Eigen::Index t = 0; t < r.rows(); ++t)
                for (Eigen::Index k = 0; k < r.cols(); ++k)
                    relationship_[std::size_t(t * r.cols() + k)] = float(r(t, k));
        });
        broadcast_vector(this->session_.comm(), relationship_);
        SMILE_CHECK(relationship_.size() == std::size_t(ct * cs), "cotuning: the relationship has ",
                    relationship_.size(), " values, expected ", ct, " x ", cs);
        stored_ = tensor<B>::from_host(this->session_, matrix_shape(ct, cs), relationship_);
    }

    step_report step(const data::host_batch& batch, std::int64_t iter) override {
        auto& s = this->session_;
        auto& student = this->model_;
        SMILE_CHECK(!relationship_.empty(), "cotuning: the relationship was not prepared");
        student.forward(s, this->upload(batch), mode::train);
        const double ce = cross_entropy(s, student.logits(), one_hot(batch.labels, student.num_classes()), this->targets_,
                                        this->dlogits_);
        const std::int64_t cs = student.source_classes();
        std::vector<float> soft(batch.labels.size() * std::size_t(cs));
        for (std::size_t i = 0; i < batch.labels.size(); ++i)
            std::copy_n(relationship_.begin() + std::ptrdiff_t(batch.labels[i] * cs), cs, soft.begin() + std::ptrdiff_t(i * std::size_t(cs)));
        const double transfer = cross_entropy(s, student.source_logits(), soft, source_targets_, source_grad_,
                                              static_cast<float>(o_.lambda));
        student.backward(s, &this->dlogits_, &source_grad_);
        return {ce + o_.lambda * transfer, {{"ce", ce}, {"cotuning", transfer}}, this->apply_update(iter)};
    }

    void add_state(io::checkpoint_content<B>& c) override {
        method<B>::add_state(c);
        if (!stored_.empty()) c.add_tensor("relationship", stored_);
    }

    [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override {
        auto d = method<B>::describe();
        d.emplace_back("cotuning_lambda", setting_text(o_.lambda));
        d.emplace_back("relationship", o_.relationship);
        return d;
    }

    /// r[t, s], row-major C_t × C_s (after `prepare`).
    [[nodiscard]] const std::vector<float>& relationship() const noexcept { return relationship_; }

private:
    co_tuning_options o_;
    std::vector<float> relationship_;
    tensor<B> stored_, source_targets_, source_grad_;
};

}  // namespace smile
